"""The measured figures of every merchant, aggregated in SQL: the input of scoring.

`aggregates` runs three grouped queries over the rolling window (cases opened in it,
ratings given in it) and returns one `scoring.MerchantAggregate` per merchant:

1. cases per merchant: counts by SUM over CASE expressions (due, replied, within the
   deadline, closed, resolved, mediated);
2. the first-reply histogram: GROUP BY merchant and `scoring.reply_hours_bucket_sql`
   over the business seconds of each first reply;
3. ratings per merchant: scored ratings, and per dimension COUNT and SUM.

So the database reads the cases once per query and Python sees one small row per
merchant (and one per merchant and bucket), never a case. The same SQL runs on SQLite
and PostgreSQL. Figures are as of `at`: what happened after it is left out where the
case stores when it happened (first reply, closing, entering mediation, a rating);
a missed deadline counts as it is stored now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, and_, case, cast, func, literal_column, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from mediation.machine import Deadline, State
from mediation.ratings import DIMENSIONS, Rating
from mediation.storage import Case, CaseDeadline, Merchant
from scoring import MerchantAggregate, RatingTotals, add_months, reply_hours_bucket_sql

RESOLVED = (State.CLOSED_RESOLVED.value, State.CLOSED_SETTLED.value)


def window_start(at: datetime, months: int) -> datetime:
    """The start of the rolling window of `months` calendar months that ends at `at`."""
    return datetime.combine(add_months(at.date(), -months), at.timetz())


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def aggregates(
    session: Session,
    at: datetime,
    window_months: int,
    merchant_ids: Sequence[int] | None = None,
) -> list[MerchantAggregate]:
    """One aggregate per merchant (all, or `merchant_ids`), ordered by slug; a merchant
    without cases or ratings in the window gets zeros."""
    start = window_start(at, window_months)
    query = select(Merchant.id, Merchant.slug).order_by(Merchant.slug)
    if merchant_ids is not None:
        query = query.where(Merchant.id.in_(list(merchant_ids)))  # type: ignore[union-attr]
    slugs = dict(session.execute(query).all())
    counts = _case_counts(session, start, at, merchant_ids)
    histograms = _reply_histograms(session, start, at, merchant_ids)
    ratings = _rating_totals(session, start, at, merchant_ids)
    found = []
    for merchant_id, slug in slugs.items():
        found.append(
            MerchantAggregate(
                slug,
                **counts.get(merchant_id, {}),
                reply_hours=histograms.get(merchant_id, ()),
                **ratings.get(merchant_id, {}),
            )
        )
    return found


def _in_window(start: datetime, at: datetime, merchant_ids: Sequence[int] | None) -> list:
    conditions = [Case.merchant_id.is_not(None), Case.opened_at >= start, Case.opened_at <= at]  # type: ignore[union-attr,operator]
    if merchant_ids is not None:
        conditions.append(Case.merchant_id.in_(list(merchant_ids)))  # type: ignore[union-attr]
    return conditions


def _replied_by(at: datetime) -> ColumnElement[bool]:
    """A first substantive reply came by `at` (its business time is measured with it)."""
    return and_(
        Case.first_reply_at <= at,  # type: ignore[operator]
        Case.first_reply_business_hours.is_not(None),  # type: ignore[union-attr]
    )


def _case_counts(
    session: Session, start: datetime, at: datetime, merchant_ids: Sequence[int] | None
) -> dict[int, dict[str, int]]:
    replied = _replied_by(at)
    closed = and_(Case.closed_at <= at, Case.state != State.CLOSED_WITHDRAWN.value)  # type: ignore[operator]
    # A case whose first-reply deadline passed by `at` is due even when the sweep has not
    # fired it yet (or `at` lies ahead): the deadline row still says when it falls due.
    pending = CaseDeadline.__table__.alias("reply_deadline")  # type: ignore[attr-defined]
    due = or_(replied, Case.merchant_missed_deadline, pending.c.due_at <= at)
    query = (
        select(
            Case.merchant_id,
            func.count(),
            _count(due),
            _count(replied),
            _count(and_(replied, Case.first_reply_within_deadline)),
            _count(closed),
            _count(and_(closed, Case.state.in_(RESOLVED))),  # type: ignore[attr-defined]
            _count(Case.mediation_started_at <= at),  # type: ignore[operator]
        )
        .select_from(Case)
        .outerjoin(
            pending,
            and_(pending.c.case_id == Case.id, pending.c.kind == Deadline.MERCHANT_REPLY.value),
        )
        .where(*_in_window(start, at, merchant_ids))
        .group_by(Case.merchant_id)
    )
    names = ("cases", "cases_due", "first_replies", "replies_within_deadline")
    names += ("closed", "resolved", "mediated")
    return {
        merchant_id: dict(zip(names, map(int, values), strict=True))
        for merchant_id, *values in session.execute(query)
    }


def _reply_histograms(
    session: Session, start: datetime, at: datetime, merchant_ids: Sequence[int] | None
) -> dict[int, tuple[int, ...]]:
    # Business time as whole seconds; the bucket expression is scoring's, so that SQL
    # and Python agree on every edge (tests/test_scoring_sql.py).
    seconds = cast(func.round(Case.first_reply_business_hours * 3600), Integer)
    replies = (
        select(Case.merchant_id.label("merchant_id"), seconds.label("s"))  # type: ignore[union-attr]
        .where(*_in_window(start, at, merchant_ids), _replied_by(at))
        .subquery("replies")
    )
    bucket = literal_column(reply_hours_bucket_sql("replies.s"), Integer).label("bucket")
    bucketed = select(replies.c.merchant_id, bucket).subquery("bucketed")
    query = select(bucketed.c.merchant_id, bucketed.c.bucket, func.count()).group_by(
        bucketed.c.merchant_id, bucketed.c.bucket
    )
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


def _rating_totals(
    session: Session, start: datetime, at: datetime, merchant_ids: Sequence[int] | None
) -> dict[int, dict[str, object]]:
    scores = [getattr(Rating, name) for name in DIMENSIONS]
    # A rating of text alone is kept, but counts as no rating: the minimum number of
    # ratings is about scores.
    scored = or_(*(score.is_not(None) for score in scores))
    columns = [_count(scored)]
    for score in scores:
        columns += [func.count(score), func.coalesce(func.sum(score), 0)]
    query = (
        select(Rating.merchant_id, *columns)
        .where(Rating.received_at >= start, Rating.received_at <= at)  # type: ignore[operator]
        .group_by(Rating.merchant_id)
    )
    if merchant_ids is not None:
        query = query.where(Rating.merchant_id.in_(list(merchant_ids)))  # type: ignore[attr-defined]
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
    start = window_start(at, window_months)
    distribution = {name: [0] * 5 for name in DIMENSIONS}
    for name in DIMENSIONS:
        score = getattr(Rating, name)
        query = (
            select(score, func.count())
            .where(
                Rating.merchant_id == merchant_id,
                Rating.received_at >= start,  # type: ignore[operator]
                Rating.received_at <= at,  # type: ignore[operator]
                score.is_not(None),
            )
            .group_by(score)
        )
        for value, count in session.execute(query):
            distribution[name][int(value) - 1] = int(count)
    return distribution
