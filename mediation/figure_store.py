"""The measured figures of every merchant, aggregated in SQL: the input of scoring.

`aggregates` runs four grouped queries over the rolling window (cases opened in it,
ratings given in it) and returns one `scoring.MerchantAggregate` per merchant:

1. cases per merchant: counts by SUM over CASE expressions (due, replied, within the
   deadline, closed, resolved, mediated);
2. open cases whose first-reply deadline has passed but not been fired yet: due too;
3. the first-reply histogram: GROUP BY merchant and `scoring.reply_hours_bucket_sql`
   over the business seconds of each first reply;
4. ratings per merchant: scored ratings, and per dimension COUNT and SUM;
5. the time-to-resolution histogram: GROUP BY merchant and
   `scoring.resolution_days_bucket_sql` over the seconds from opening to closing of
   each resolved case (the seconds computed per dialect: `_seconds_open`).

A case whose customer is its merchant itself (`own_cases`: one of the shop's registered
addresses, or an address at one of its domains) counts for nothing, nor does its
rating: every query here selects through the one `_Window`, which leaves such cases
out. Their complaint is held at the door (`mediation.complaints`); this is the second
line, for cases from before an address or domain was registered to the shop.

The database reads the covering indexes `ix_cases_scoring` and `ix_rating_scoring` in
merchant order, and Python sees one small row per merchant (and one per merchant and
bucket), never a case. The same SQL runs on SQLite and PostgreSQL. Figures are as of
`at`: what happened after it is left out where the case stores when it happened (first
reply, closing, entering mediation, a rating); a missed deadline counts as stored now.
The window is the `window_months` before `at`, or from a given `start` (a monthly
report: the cases of one calendar month, as of its end or of now while it runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, and_, func, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from mediation import routing
from mediation.rating_store import DIMENSIONS, Rating
from mediation.storage import Case, CaseDeadline, Customer, Merchant
from mediation.workflow import Deadline, State
from scoring import (
    MerchantAggregate,
    RatingTotals,
    add_months,
    reply_hours_bucket_sql,
    resolution_days_bucket_sql,
)

RESOLVED = (State.CLOSED_RESOLVED.value, State.CLOSED_SETTLED.value)
_CASE_COUNTS = (
    "cases", "cases_due", "first_replies", "replies_within_deadline", "closed", "resolved",
    "mediated",
)  # fmt: skip


def window_start(at: datetime, months: int) -> datetime:
    """The start of the rolling window of `months` calendar months that ends at `at`."""
    return datetime.combine(add_months(at.date(), -months), at.timetz())


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


def own_cases(session: Session, merchant_ids: Sequence[int] | None = None) -> frozenset[int]:
    """The cases (of `merchant_ids`, or of every merchant) whose customer is the case's
    merchant itself by `routing.of_merchant`: one of its registered addresses, or an
    address at one of its registered domains or their subdomains, as registered now.
    They count for nothing (`_Window`).

    Found from the customers' side, never by reading cases: the customers with a
    registered address (by the unique index) and those whose mail domain lies under a
    registered domain (the distinct domains are read once and looked up here, the few
    that fit then fetched); each hit is confirmed by the one rule, and only the cases
    of the few customers found are read. Without `merchant_ids` every customer is
    looked at (the nightly recompute); with them, the customers of their cases."""
    query = select(Merchant.id, Merchant.support_addresses, Merchant.domains)
    if merchant_ids is not None:
        query = query.where(Merchant.id.in_(list(merchant_ids)))  # type: ignore[union-attr]
    merchants: dict[int, tuple[list[str], list[str]]] = {
        merchant_id: (list(addresses or ()), list(domains or ()))
        for merchant_id, addresses, domains in session.execute(query)
    }
    addresses = {a.strip().lower() for found, _ in merchants.values() for a in found}
    domains = {d.strip().lower().rstrip(".") for _, found in merchants.values() for d in found}
    if not addresses and not domains:
        return frozenset()
    scope = []
    if merchant_ids is not None:
        theirs = select(Case.customer_id).where(Case.merchant_id.in_(list(merchant_ids)))  # type: ignore[union-attr]
        scope.append(Customer.id.in_(theirs))  # type: ignore[union-attr]
    candidates: dict[int, str] = {}
    for chunk in _chunks(sorted(addresses)):
        query = select(Customer.id, Customer.address).where(Customer.address.in_(chunk), *scope)  # type: ignore[attr-defined]
        candidates.update((i, a) for i, a in session.execute(query))
    if domains:
        after_at = _after_at(session)
        written = session.scalars(select(after_at).where(*scope).distinct())
        wanted = sorted(d for d in written if d and _under(d.rpartition("@")[2], domains))
        for chunk in _chunks(wanted):
            query = select(Customer.id, Customer.address).where(after_at.in_(chunk), *scope)
            candidates.update((i, a) for i, a in session.execute(query))
    owners: dict[int, set[int]] = {}
    for customer_id, address in candidates.items():
        found = {m for m, (a, d) in merchants.items() if routing.of_merchant(address, a, d)}
        if found:
            owners[customer_id] = found
    own: set[int] = set()
    for chunk in _chunks(sorted(owners)):
        query = select(Case.id, Case.customer_id, Case.merchant_id)
        rows = session.execute(query.where(Case.customer_id.in_(chunk)))  # type: ignore[attr-defined]
        own.update(case_id for case_id, customer, merchant in rows if merchant in owners[customer])
    return frozenset(own)


def _after_at(session: Session) -> ColumnElement[str]:
    """What follows the first "@" of a customer's address, lower-cased, as SQL of the
    dialect: its mail domain (a quoted local part with an "@" of its own keeps more;
    `own_cases` reads the domain after the last "@" of it)."""
    address = Customer.address
    at = func.instr(address, "@") if _sqlite(session) else func.strpos(address, "@")
    return func.lower(func.substr(address, at + 1))


def _under(domain: str, domains: set[str]) -> bool:
    """Whether `domain` is one of `domains` or a subdomain of one."""
    while domain:
        if domain in domains:
            return True
        domain = domain.partition(".")[2]
    return False


def _chunks(values: Sequence[Any], size: int = 5000) -> Iterator[Sequence[Any]]:
    """`values` in slices of `size`: an IN list within every database's parameter limit."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


class _Window:
    """The conditions that select a merchant's cases and ratings in the window."""

    def __init__(
        self,
        session: Session,
        at: datetime,
        months: int,
        merchant_ids: Sequence[int] | None,
        start: datetime | None = None,
    ) -> None:
        self.at = at
        self.start = window_start(at, months) if start is None else start
        self.merchant_ids = list(merchant_ids) if merchant_ids is not None else None
        self.sqlite = _sqlite(session)
        # Cases of a merchant about itself, left out of every figure: usually none, and
        # then the queries are those the covering indexes were made for.
        self.own = sorted(own_cases(session, self.merchant_ids))

    def usually(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        # SQLite keeps no statistics of value ranges: told nothing, it reads a year-long
        # window through the index on its date, one table lookup per row (9 s for a
        # million cases). likely() says the window holds most rows, so it scans the
        # covering index in merchant order instead.
        return func.likely(condition) if self.sqlite else condition

    def between(self, column: ColumnElement[datetime]) -> list[ColumnElement[bool]]:
        return [self.usually(column >= self.start), self.usually(column <= self.at)]

    def cases(self) -> list[ColumnElement[bool]]:
        found = [Case.merchant_id.is_not(None), *self.between(Case.opened_at)]  # type: ignore[union-attr,arg-type]
        if self.merchant_ids is not None:
            found.append(Case.merchant_id.in_(self.merchant_ids))  # type: ignore[union-attr]
        if self.own:
            found.append(Case.id.not_in(self.own))  # type: ignore[union-attr]
        return found

    def ratings(self) -> list[ColumnElement[bool]]:
        """The ratings given in the window, but not those of a merchant's own cases."""
        found = self.between(Rating.received_at)  # type: ignore[arg-type]
        if self.merchant_ids is not None:
            found.append(Rating.merchant_id.in_(self.merchant_ids))  # type: ignore[attr-defined]
        if self.own:
            found.append(Rating.case_id.not_in(self.own))  # type: ignore[attr-defined]
        return found

    def replied(self) -> ColumnElement[bool]:
        """A first substantive reply came by `at` (its business time is measured with it)."""
        return and_(
            Case.first_reply_at <= self.at,  # type: ignore[operator]
            Case.first_reply_business_seconds.is_not(None),  # type: ignore[union-attr]
        )


def aggregates(
    session: Session,
    at: datetime,
    window_months: int,
    merchant_ids: Sequence[int] | None = None,
    start: datetime | None = None,
) -> list[MerchantAggregate]:
    """One aggregate per merchant (all, or `merchant_ids`), ordered by slug; a merchant
    without cases or ratings in the window gets zeros. The window ends at `at` and starts
    `window_months` before it, or at `start` when given."""
    window = _Window(session, at, window_months, merchant_ids, start)
    query = select(Merchant.id, Merchant.slug).order_by(Merchant.slug)
    if merchant_ids is not None:
        query = query.where(Merchant.id.in_(list(merchant_ids)))  # type: ignore[union-attr]
    slugs = dict(session.execute(query).all())
    counts = _case_counts(session, window)
    for merchant_id, pending in _pending_due(session, window).items():
        counts[merchant_id]["cases_due"] += pending
    histograms = _reply_histograms(session, window)
    resolutions = _resolution_histograms(session, window)
    ratings = _rating_totals(session, window)
    return [
        MerchantAggregate(
            slug,
            **counts.get(merchant_id, {}),
            reply_hours=histograms.get(merchant_id, ()),
            resolution_days=resolutions.get(merchant_id, ()),
            **ratings.get(merchant_id, {}),
        )
        for merchant_id, slug in slugs.items()
    ]


def _case_counts(session: Session, window: _Window) -> dict[int, dict[str, int]]:
    replied = window.replied()
    closed = and_(Case.closed_at <= window.at, Case.state != State.CLOSED_WITHDRAWN.value)  # type: ignore[operator]
    query = (
        select(
            Case.merchant_id,
            func.count(),
            _count(or_(replied, Case.merchant_missed_deadline)),
            _count(replied),
            _count(and_(replied, Case.first_reply_within_deadline)),
            _count(closed),
            _count(and_(closed, Case.state.in_(RESOLVED))),  # type: ignore[attr-defined]
            _count(Case.mediation_started_at <= window.at),  # type: ignore[operator]
        )
        .where(*window.cases())
        .group_by(Case.merchant_id)
    )
    return {
        merchant_id: dict(zip(_CASE_COUNTS, map(int, values), strict=True))
        for merchant_id, *values in session.execute(query)
    }


def _pending_due(session: Session, window: _Window) -> dict[int, int]:
    """Cases whose first-reply deadline passed by `at` although the sweep has not fired
    it (or `at` lies ahead): due all the same. Only open cases have deadline rows, so
    the few deadlines are read first and their cases looked up by key."""
    passed = select(CaseDeadline.case_id).where(
        CaseDeadline.kind == Deadline.MERCHANT_REPLY.value,
        CaseDeadline.due_at <= window.at,  # type: ignore[operator]
    )
    query = (
        select(Case.merchant_id, func.count())
        .where(
            Case.id.in_(passed),  # type: ignore[union-attr]
            *window.cases(),
            or_(
                Case.first_reply_at.is_(None),  # type: ignore[union-attr]
                Case.first_reply_at > window.at,  # type: ignore[operator]
                Case.first_reply_business_seconds.is_(None),  # type: ignore[union-attr]
            ),
            ~Case.merchant_missed_deadline,
        )
        .group_by(Case.merchant_id)
    )
    return {merchant_id: int(count) for merchant_id, count in session.execute(query)}


def _reply_histograms(session: Session, window: _Window) -> dict[int, tuple[int, ...]]:
    # scoring's bucket expression, the one ix_cases_scoring is ordered by: the database
    # reads each merchant's replies bucket by bucket and counts them without sorting,
    # and SQL and Python agree on every edge (tests/test_scoring_sql.py).
    bucket = literal_column(reply_hours_bucket_sql("cases.first_reply_business_seconds"), Integer)
    query = (
        select(Case.merchant_id, bucket, func.count())
        .where(*window.cases(), window.replied())
        .group_by(Case.merchant_id, bucket)
    )
    return _histograms(session, query)


def _seconds_open(window: _Window) -> str:
    """Whole seconds from a case's opening to its closing, as SQL of the dialect."""
    if window.sqlite:
        return (
            "CAST(round((julianday(cases.closed_at) - julianday(cases.opened_at)) * 86400)"
            " AS INTEGER)"
        )
    return "CAST(EXTRACT(EPOCH FROM (cases.closed_at - cases.opened_at)) AS BIGINT)"


def _resolution_histograms(session: Session, window: _Window) -> dict[int, tuple[int, ...]]:
    """Each merchant's resolved cases by days to resolution (`scoring.resolution`): the
    cases `resolved` counts (closed by `at` as resolved or settled)."""
    bucket = literal_column(resolution_days_bucket_sql(f"({_seconds_open(window)})"), Integer)
    query = (
        select(Case.merchant_id, bucket, func.count())
        .where(
            *window.cases(),
            Case.closed_at <= window.at,  # type: ignore[operator]
            Case.state.in_(RESOLVED),  # type: ignore[attr-defined]
        )
        .group_by(Case.merchant_id, bucket)
    )
    return _histograms(session, query)


def _histograms(session: Session, query: Select) -> dict[int, tuple[int, ...]]:
    """Rows (merchant, bucket, count) as one histogram per merchant."""
    buckets: dict[int, dict[int, int]] = {}
    for merchant_id, index, count in session.execute(query):
        buckets.setdefault(merchant_id, {})[int(index)] = int(count)
    histograms = {}
    for merchant_id, found in buckets.items():
        histogram = [0] * (max(found) + 1)
        for index, count in found.items():
            histogram[index] = count
        histograms[merchant_id] = tuple(histogram)
    return histograms


def _rating_totals(session: Session, window: _Window) -> dict[int, dict[str, object]]:
    scores = [getattr(Rating, name) for name in DIMENSIONS]
    # A rating of text alone is kept, but counts as no rating: the minimum number of
    # ratings is about scores.
    scored = or_(*(score.is_not(None) for score in scores))
    columns = [_count(scored)]
    for score in scores:
        columns += [func.count(score), func.coalesce(func.sum(score), 0)]
    query = select(Rating.merchant_id, *columns).where(*window.ratings())
    query = query.group_by(Rating.merchant_id)
    totals: dict[int, dict[str, object]] = {}
    for merchant_id, rated, *sums in session.execute(query):
        values: dict[str, object] = {"ratings": int(rated)}
        for index, name in enumerate(DIMENSIONS):
            values[name] = RatingTotals(int(sums[2 * index]), int(sums[2 * index + 1]))
        totals[merchant_id] = values
    return totals


def rating_distribution(
    session: Session, merchant_id: int, at: datetime, window_months: int
) -> dict[str, list[int]]:
    """How many ratings in the window gave each score, per dimension: five counts,
    for the scores 1 to 5."""
    window = _Window(session, at, window_months, [merchant_id])
    distribution = {name: [0] * 5 for name in DIMENSIONS}
    for name in DIMENSIONS:
        score = getattr(Rating, name)
        query = (
            select(score, func.count()).where(*window.ratings(), score.is_not(None)).group_by(score)
        )
        for value, count in session.execute(query):
            distribution[name][int(value) - 1] = int(count)
    return distribution
