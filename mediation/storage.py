"""Case storage: merchants, customers, cases, their deadlines, event log and held mails.

SQLModel tables of the case domain and every query the case service runs on them: the
rooms of the service (`complaints`, `party_replies`, `case_ratings`, `feedback`, `deadlines`,
`corrections`) and their helpers write no SQL of their own. Ratings and Lob & Tadel
keep their tables and queries in `rating_store` and `feedback_store`. The
schema is created by a step in `mailflow.migrations.MIGRATIONS`. Mails are named by the id of
their row in the shell's `mail` table (no foreign key: the domain does not depend on
the shell's schema). Every datetime is aware UTC.

Concurrency: a case is loaded `FOR UPDATE` (PostgreSQL; SQLite serialises writers with
``BEGIN IMMEDIATE``) and saved with a conditional update on its `version`, so two units
of work on one case never both win. Deadlines live in their own table, indexed by due
time, so that the sweep finds due ones without reading cases.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Index,
    Text,
    UniqueConstraint,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import (
    ORMExecuteState,
    SessionTransaction,
    make_transient_to_detached,
    object_session,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.util import find_tables
from sqlmodel import Field, Session, SQLModel

from mediation import routing
from mediation.columns import UTCDateTime
from mediation.workflow import CLOSED, Deadline, State
from scoring import reply_hours_bucket_sql

REF_PREFIX = "SSG"

TABLES = (
    "merchant",
    "customer",
    "case_sequence",
    "cases",
    "case_deadline",
    "case_event",
    "held_mail",
    "category_correction",
)
"""The tables of this module, in creation order."""


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


def _json_list() -> Any:
    # `default=[]` rather than `default_factory=list`: pydantic copies a default per
    # instance all the same, while a factory costs an `inspect.signature` per instance
    # (about 150 us: a fifth of processing a complaint).
    return Field(default=[], sa_column=Column(JSON, nullable=False))


# ------------------------------------------------------------------ parties


class Merchant(SQLModel, table=True):
    """A registered seal holder: where complaints about it go and how it is recognised."""

    __tablename__ = "merchant"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    name_aliases: list[str] = Field(
        default=[], sa_column=Column(JSON, nullable=False, server_default=text("'[]'"))
    )
    """Other names customers use for the shop ("Grüne Tasse" for "Grüne Tasse
    Teehandel"): a complaint naming one is routed to it like one naming `name`."""
    support_addresses: list[str] = _json_list()
    """Where complaints are sent (the first) and whose mail counts as the merchant's."""
    domains: list[str] = _json_list()
    """Mail domains whose senders count as the merchant, and which name it in a complaint."""
    order_pattern: str | None = Field(default=None, max_length=400)
    """A regular expression matching the merchant's order numbers in a complaint."""
    language: str = Field(default="de", max_length=5)
    calendar_region: str | None = Field(default=None, max_length=20)
    """Its own holiday region (``DE-BY``); None: the operator's default calendar."""
    timezone: str | None = Field(default=None, max_length=60)
    opening_hours: str | None = Field(default=None, max_length=20)
    """Its own business hours, ``HH:MM-HH:MM`` Monday to Friday; None: the default."""
    created_at: datetime = _utc()


class Customer(SQLModel, table=True):
    """Someone who complained, known by mail address."""

    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    language: str = Field(default="de", max_length=5)
    created_at: datetime = _utc()


# ------------------------------------------------------------------ cases


class CaseSequence(SQLModel, table=True):
    """The last case number handed out per year (``SSG-YYYY-NNNNNN``); SQLite only, since
    PostgreSQL takes numbers from a sequence (`next_ref`)."""

    __tablename__ = "case_sequence"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = 0


class Case(SQLModel, table=True):
    """One complaint's whole history: its state, parties, deadlines and measured figures."""

    __tablename__ = "cases"
    # Everything scoring reads of a case, in merchant order and, within a merchant, by
    # first-reply bucket: every merchant's figures and reply histogram are one scan of
    # this index each, without a sort (mediation.figure_store).
    __table_args__ = (
        Index(
            "ix_cases_scoring",
            "merchant_id",
            text(f"({reply_hours_bucket_sql('first_reply_business_seconds')})"),
            "opened_at",
            "first_reply_at",
            "first_reply_business_seconds",
            "first_reply_within_deadline",
            "merchant_missed_deadline",
            "closed_at",
            "state",
            "mediation_started_at",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(max_length=20, unique=True, index=True)
    state: str = Field(max_length=30, index=True)
    merchant_id: int | None = Field(default=None, foreign_key="merchant.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    mediator: str | None = Field(default=None, max_length=320, index=True)
    category: str | None = Field(default=None, max_length=40)
    category_confidence: float | None = None
    needs_triage: bool = False
    language: str = Field(default="de", max_length=5)
    """The customer's language in this case."""
    subject: str = Field(default="", max_length=998)
    complaint_mail_id: int | None = None
    opened_at: datetime = _utc(index=True)
    updated_at: datetime = _utc()
    closed_at: datetime | None = _utc(nullable=True)
    merchant_given_at: datetime | None = _utc(nullable=True)
    first_reply_at: datetime | None = _utc(nullable=True)
    first_reply_seconds: float | None = None
    first_reply_business_hours: float | None = None
    first_reply_business_seconds: int | None = None
    """The same in whole seconds: what scoring buckets (`scoring.reply_hours_bucket`)."""
    first_reply_within_deadline: bool | None = None
    merchant_missed_deadline: bool = False
    mediation_started_at: datetime | None = _utc(nullable=True)
    """When the case first entered mediation (escalated or "not solved"); it counts as
    mediated from then on, however it ends."""
    proposal_accepted_by: list[str] = _json_list()
    version: int = 0


class CaseDeadline(SQLModel, table=True):
    """One running deadline of a case; the sweep fires it when due."""

    __tablename__ = "case_deadline"
    __table_args__ = (UniqueConstraint("case_id", "kind", name="uq_case_deadline_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = Field(max_length=30)
    due_at: datetime = _utc(index=True)
    held_reason: str | None = Field(default=None, max_length=400)
    """Set when firing it fitted no transition: the operator decides, the sweep skips it."""


class CaseEvent(SQLModel, table=True):
    """One entry of a case's event log: who, when, why, which mail."""

    __tablename__ = "case_event"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    at: datetime = _utc()
    kind: str = Field(max_length=40)
    actor: str = Field(max_length=320)
    """``customer``, ``merchant``, ``mediator``, ``operator`` or ``system``."""
    actor_address: str | None = Field(default=None, max_length=320)
    reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    mail_id: int | None = Field(default=None, index=True)
    state_before: str | None = Field(default=None, max_length=30)
    state_after: str | None = Field(default=None, max_length=30)
    data: dict = Field(default={}, sa_column=Column(JSON, nullable=False))  # see _json_list


class HeldReason(enum.StrEnum):
    """Why a mail could not act; each is shown to the operator by ``siegel held``."""

    SENDER_NOT_PARTY = "sender-not-party"
    UNKNOWN_CASE = "unknown-case"
    CLOSED_CASE = "closed-case"
    UNEXPECTED_EVENT = "unexpected-event"
    COMMAND_PROBLEM = "command-problem"
    MACHINE_MAIL = "machine-mail"
    NO_SENDER = "no-sender"
    OPERATOR_ADDRESS = "operator-address"
    NO_RECIPIENT = "no-recipient"
    NOT_CASE_ADDRESS = "not-case-address"
    """Found its case by threading headers or subject, not by a signed case address:
    attached to the case as evidence, never acting."""
    UNKNOWN_MERCHANT = "unknown-merchant"
    """An answer that should name a shop, in which none registered was found."""
    OWN_ADDRESS = "own-address"
    """From one of our own addresses (complaint, case, bounce, operator): never a party."""
    UNAUTHENTICATED = "unauthenticated"
    """A merchant's or mediator's mail whose From domain the MTA did not authenticate, or
    a customer's whose From domain failed DMARC."""
    OPEN_CASE = "open-case"
    """A new complaint from the customer of an open case about the same shop and order:
    attached to that case as evidence, no second case opened."""
    SELF_COMPLAINT = "self-complaint"
    """A complaint about a shop from one of that shop's own addresses or domains: a shop
    cannot complain about itself; no case opened, nothing counted."""
    SELF_FEEDBACK = "self-feedback"
    """Lob & Tadel about a shop from one of that shop's own addresses or domains: a shop
    cannot rate itself; nothing recorded, nothing counted."""
    EMPTY_COMPLAINT = "empty-complaint"
    """A mail to the complaint address with no word in its subject or text and nothing
    attached: no case opened, the sender asked to write what happened."""
    TOO_MANY_CASES = "too-many-cases"
    """One of the cases of a mail to more case addresses than it may act at
    (`[mediation] max_cases_per_mail`): held there, its sender told which."""
    TOO_MANY_MESSAGES = "too-many-messages"
    """A party's message beyond `[mediation] max_messages_per_day` in its case: held,
    not passed on; the sender told at the first."""


class HeldMail(SQLModel, table=True):
    """A mail that could not act, kept for the operator with the reason."""

    __tablename__ = "held_mail"

    id: int | None = Field(default=None, primary_key=True)
    mail_id: int = Field(index=True)
    reason: str = Field(max_length=40)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    sender: str | None = Field(default=None, max_length=320)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    held_at: datetime = _utc(index=True)
    sender_told: bool = False


class CategoryCorrection(SQLModel, table=True):
    """An operator's correction of a case's category: training data for the classifier."""

    __tablename__ = "category_correction"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    mail_id: int | None = None
    subject: str = Field(default="", max_length=998)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str = Field(default="de", max_length=5)
    category: str = Field(max_length=40)
    previous_category: str | None = Field(default=None, max_length=40)
    corrected_at: datetime = _utc()


# ------------------------------------------------------------------ queries


class ConcurrentUpdate(Exception):
    """The case changed since it was loaded; the unit of work must be retried."""


def _dialect(session: Session) -> str:
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    return engine.dialect.name


CASE_NUMBER_SEQUENCE = "case_number_seq"
"""PostgreSQL's sequence of case numbers (created by a step in `mailflow.migrations.MIGRATIONS`)."""


def next_ref(session: Session, year: int) -> str:
    """A new case reference ``SSG-YYYY-NNNNNN``, unique even with concurrent writers.

    On PostgreSQL the number comes from one sequence, `case_number_seq`: `nextval` takes
    no row lock, so workers opening cases at once never wait for each other's commit.
    Its numbers count on across years (a new year does not start at 1 again) and a
    rolled-back opening leaves a gap. The same statement takes the case's row id from
    its own sequence, for `insert_case`. Elsewhere (SQLite, one writer at a time) each year
    counts from 1 in its `case_sequence` row: read once per unit of work, counted on
    here, and the last number written back just before the commit (the writer lock is
    held all along), so that a batch of openings costs two statements, not two each.
    """
    # Without autoflush: the sequence and the counter rows are written by Core only, so
    # nothing the unit of work has pending bears on them, and a flush per opening would
    # write the unit of work's other rows one mail at a time.
    with session.no_autoflush:
        return _next_ref(session, year)


def _next_ref(session: Session, year: int) -> str:
    if _dialect(session) == "postgresql":
        number, case_id = session.execute(_NEXT_NUMBER_AND_CASE_ID).one()
        ref = f"{REF_PREFIX}-{year}-{number:06d}"
        _transaction_cache(session).case_ids[ref] = case_id
        return ref
    counted = _transaction_cache(session).case_numbers
    if year in counted:
        counted[year] += 1
        return f"{REF_PREFIX}-{year}-{counted[year]:06d}"
    table = CaseSequence.__table__  # type: ignore[attr-defined]
    last = session.execute(select(table.c.last_number).where(table.c.year == year)).scalar()
    if last is None:  # the year's first case
        session.execute(insert(table).values(year=year, last_number=0))
        last = 0
    number = counted[year] = last + 1
    return f"{REF_PREFIX}-{year}-{number:06d}"


def _write_case_numbers(session: Session, numbers: Mapping[int, int]) -> None:
    table = CaseSequence.__table__  # type: ignore[attr-defined]
    for year, last in numbers.items():
        session.execute(update(table).where(table.c.year == year).values(last_number=last))


def load_case(session: Session, ref: str) -> Case | None:
    """The case `ref`, locked for this unit of work."""
    query = select(Case).where(Case.ref == ref.upper()).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def insert_case(session: Session, case: Case) -> Case:
    """Store a newly opened case; its id is set on return.

    Not the ORM's flush, which would also write every row the unit of work has pending
    (the previous mails' updates and outgoing mails) one mail at a time: the row waits
    with the unit of work's other new rows (`insert_later`), its id known beforehand
    (on PostgreSQL taken with its number by `next_ref`, on SQLite counted by `_new_id`).
    """
    cache = _transaction_cache(session)
    if _dialect(session) == "postgresql":
        case.id = cache.case_ids.pop(case.ref, None) or _next_case_id(session)
    else:
        case.id = _new_id(session, Case)
    values = {column: getattr(case, column) for column in _CASE_COLUMNS}
    insert_later(session, Case, {"id": case.id} | values)
    make_transient_to_detached(case)
    session.add(case)
    cache.new_case_events[case.id] = []
    if case.customer_id in cache.open_cases:
        cache.open_cases[case.customer_id].append(case)
    cache.opened.add(case.ref)
    return case


def opened_here(session: Session, ref: str) -> bool:
    """Whether case `ref` was opened in this unit of work (nothing about it is older)."""
    return ref in _transaction_cache(session).opened


def customer_of(session: Session, case: Case) -> Customer:
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    return customer


def merchant_of(session: Session, case: Case) -> Merchant | None:
    return session.get(Merchant, case.merchant_id) if case.merchant_id else None


def lock_case(session: Session, case_id: int) -> Case | None:
    query = select(Case).where(Case.id == case_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def deadlines_of(session: Session, case_id: int) -> dict[Deadline, CaseDeadline]:
    rows = session.scalars(select(CaseDeadline).where(CaseDeadline.case_id == case_id))
    return {Deadline(row.kind): row for row in rows}


def update_case(session: Session, case: Case, values: Mapping[str, Any]) -> None:
    """Write `values` to `case` if nobody else changed it since it was loaded.

    A Core update guarded by `version` (the ORM object is not modified, so no flush can
    write it unguarded); the object is expired afterwards and reloads when read.
    """
    table = Case.__table__  # type: ignore[attr-defined]
    changed = session.execute(
        update(table)
        .where(table.c.id == case.id, table.c.version == case.version)
        .values(**values, version=case.version + 1)
    ).rowcount
    if changed != 1:
        raise ConcurrentUpdate(f"case {case.ref} changed since it was loaded")
    session.expire(case)


def sync_deadlines(session: Session, case_id: int, wanted: Mapping[Deadline, datetime]) -> None:
    """Make the case's deadline rows what `wanted` says (new due times clear a hold)."""
    cache = _transaction_cache(session)
    if case_id in cache.new_case_events:
        # Opened in this unit of work: no rows yet; written with the unit of work's others.
        for kind, due_at in wanted.items():
            cache.defer(CaseDeadline, {"case_id": case_id, "kind": kind.value, "due_at": due_at})
        return
    existing = deadlines_of(session, case_id)
    table = CaseDeadline.__table__  # type: ignore[attr-defined]
    stale = [
        kind.value
        for kind, row in existing.items()
        if kind not in wanted or row.due_at != wanted[kind]
    ]
    if stale:
        session.execute(delete(table).where(table.c.case_id == case_id, table.c.kind.in_(stale)))
    for kind, due_at in wanted.items():
        row = existing.get(kind)
        if row is None or row.due_at != due_at:
            session.execute(insert(table).values(case_id=case_id, kind=kind.value, due_at=due_at))
    for row in existing.values():
        session.expunge(row)


def due_deadline_ids(
    session: Session, now: datetime, exclude: Iterable[int] = (), limit: int = 100
) -> list[int]:
    """Ids of due deadlines that are not held, oldest first."""
    query = (
        select(CaseDeadline.id)
        .where(CaseDeadline.due_at <= now, CaseDeadline.held_reason.is_(None))  # type: ignore[union-attr,operator]
        .order_by(CaseDeadline.due_at, CaseDeadline.id)  # type: ignore[arg-type]
        .limit(limit)
    )
    excluded = list(exclude)
    if excluded:
        query = query.where(CaseDeadline.id.not_in(excluded))  # type: ignore[union-attr]
    return list(session.scalars(query))


def deadline(session: Session, deadline_id: int) -> CaseDeadline | None:
    query = select(CaseDeadline).where(CaseDeadline.id == deadline_id)
    return session.scalars(query.execution_options(populate_existing=True)).first()


def claim_deadline(session: Session, deadline: CaseDeadline) -> bool:
    """Take a due deadline for firing: a conditional delete, so that it fires once."""
    table = CaseDeadline.__table__  # type: ignore[attr-defined]
    taken = session.execute(
        delete(table).where(
            table.c.id == deadline.id,
            table.c.due_at == deadline.due_at,
            table.c.held_reason.is_(None),
        )
    ).rowcount
    return taken == 1


def hold_deadline(session: Session, deadline: CaseDeadline, reason: str) -> bool:
    """Keep a deadline that fitted no transition for the operator; the sweep skips it."""
    table = CaseDeadline.__table__  # type: ignore[attr-defined]
    held = session.execute(
        update(table)
        .where(table.c.id == deadline.id, table.c.held_reason.is_(None))
        .values(held_reason=reason[:400])
    ).rowcount
    return held == 1


def open_cases_per_mediator(session: Session, mediators: Sequence[str]) -> dict[str, int]:
    """How many open cases each of `mediators` holds (zero included)."""
    counts = dict.fromkeys(mediators, 0)
    if not mediators:
        return counts
    rows = session.execute(
        select(Case.mediator, func.count())
        .where(Case.mediator.in_(list(mediators)), Case.state.not_in(list(CLOSED)))  # type: ignore[union-attr]
        .group_by(Case.mediator)
    )
    for mediator, count in rows:
        counts[mediator] = count
    return counts


def open_cases_of(session: Session, customer_id: int, merchant_id: int) -> list[Case]:
    """The customer's open cases about the merchant, newest first: without a query for
    a customer this unit of work created, or whose open cases `preload_customers` read
    (the cases as they are now, those opened since included)."""
    cache = _transaction_cache(session)
    if (known := cache.open_cases.get(customer_id)) is not None:
        cases = [c for c in known if c.merchant_id == merchant_id and c.state not in CLOSED]
        return sorted(cases, key=lambda case: case.id or 0, reverse=True)
    query = (
        select(Case)
        .where(
            Case.customer_id == customer_id,
            Case.merchant_id == merchant_id,
            Case.state.not_in(list(CLOSED)),  # type: ignore[attr-defined]
        )
        .order_by(Case.id.desc())  # type: ignore[union-attr]
    )
    return list(session.scalars(query))


def cases_without_deadline(
    session: Session, merchant_id: int, state: State, kind: Deadline
) -> list[str]:
    """The merchant's cases in `state` that have no deadline `kind`, oldest first (by
    reference): in ``awaiting_merchant`` without a first-reply deadline, the cases whose
    forward bounced (`mediation.bounces`)."""
    running = select(CaseDeadline.case_id).where(CaseDeadline.kind == kind.value)
    query = select(Case.ref).where(
        Case.merchant_id == merchant_id,
        Case.state == state.value,
        Case.id.not_in(running),  # type: ignore[union-attr]
    )
    return list(session.scalars(query.order_by(Case.id)))  # type: ignore[arg-type]


def merchants(session: Session) -> list[Merchant]:
    """Every registered merchant, by slug: read once per unit of work (a batch of mails
    reads them once); a merchant added or changed in this unit of work is seen."""
    cache = _transaction_cache(session)
    if cache.merchants is None:
        cache.merchants = list(session.scalars(select(Merchant).order_by(Merchant.slug)))
    return cache.merchants


def merchant_index(session: Session) -> routing.MerchantIndex:
    """Every registered merchant made ready for routing (`routing.MerchantIndex`): once
    per unit of work, and for the same values as before the index made before; a
    merchant added or changed in this unit of work is seen."""
    cache = _transaction_cache(session)
    if cache.merchant_index is None:
        cache.merchant_index = _index_of(_routing_rows(session))
    return cache.merchant_index


def is_support_address(session: Session, address: str) -> bool:
    """Whether `address` is a registered shop's support address (in any letter case)."""
    cache = _transaction_cache(session)
    if cache.support_addresses is None:
        rows = _routing_rows(session)
        cache.support_addresses = frozenset(a.lower() for row in rows for a in row[2])
    return address.lower() in cache.support_addresses


def _routing_rows(session: Session) -> tuple[tuple[Any, ...], ...]:
    """What routing reads of every merchant, as `routing.MerchantProfile`'s fields: read
    once per unit of work, and only that (with thousands of merchants, whole rows would
    cost more than the mails)."""
    cache = _transaction_cache(session)
    if cache.merchant_rows is None:
        rows = session.execute(
            select(
                Merchant.slug, Merchant.name, Merchant.support_addresses, Merchant.domains,
                Merchant.order_pattern, Merchant.name_aliases,
            ).order_by(Merchant.slug)  # type: ignore[arg-type]
        )  # fmt: skip
        cache.merchant_rows = tuple(
            (slug, name, tuple(addresses), tuple(domains), pattern, tuple(aliases))
            for slug, name, addresses, domains, pattern, aliases in rows
        )
    return cache.merchant_rows


@functools.lru_cache(maxsize=2)
def _index_of(rows: tuple[tuple[Any, ...], ...]) -> routing.MerchantIndex:
    return routing.MerchantIndex([routing.MerchantProfile(*row) for row in rows])


@event.listens_for(OrmSession, "transient_to_pending")
def _merchant_added(session: Session, instance: object) -> None:
    if isinstance(instance, Merchant):
        _forget_merchants(session)  # read again, with the new one


def _forget_merchants(session: Session) -> None:
    cache = session.info.get(_TransactionCache)
    if cache is not None:
        cache.merchants = cache.merchant_rows = cache.merchant_index = None
        cache.support_addresses = None
        cache.merchants_by_slug.clear()


def _merchant_changed(target: Merchant, *_: object) -> None:
    session = object_session(target)
    if session is not None:
        _forget_merchants(session)  # type: ignore[arg-type]


for _routed in ("slug", "name", "name_aliases", "support_addresses", "domains", "order_pattern"):
    event.listen(getattr(Merchant, _routed), "set", _merchant_changed)


def is_own(merchant: Merchant, address: str | None) -> bool:
    """Whether `address` is `merchant`'s own (`routing.of_merchant`: one of its registered
    addresses, or at one of its domains or their subdomains): the shop itself."""
    return routing.of_merchant(address, merchant.support_addresses, merchant.domains)


def merchant_by_slug(session: Session, slug: str) -> Merchant | None:
    """The merchant `slug`, read once per unit of work (a batch's complaints about one
    shop read it once)."""
    cache = _transaction_cache(session)
    key = slug.lower()
    if key not in cache.merchants_by_slug:
        query = select(Merchant).where(Merchant.slug == key)
        if any(isinstance(row, Merchant) for row in (*session.new, *session.dirty)):
            cache.merchants_by_slug[key] = session.scalars(query).first()
        else:  # no merchant of this unit of work to write first: the other rows wait
            with session.no_autoflush:
                cache.merchants_by_slug[key] = session.scalars(query).first()
    return cache.merchants_by_slug[key]


def ensure_customer(
    session: Session, address: str, name: str, language: str, now: datetime
) -> Customer:
    """The customer with `address`, created if new (safe with concurrent writers)."""
    address = address.lower()
    cache = _transaction_cache(session)
    values = dict(address=address, name=name[:200], language=language, created_at=now)
    if _dialect(session) == "postgresql":
        if address not in cache.customers:
            cache.customers[address] = _upsert_customer(session, values)
        return cache.customers[address]
    # SQLite: the unit of work holds the writer lock, so an address not found now is
    # not written by anybody else before the commit: the row waits with the others.
    preload_customers(session, [address])
    if address not in cache.customers:
        customer = Customer(id=_new_id(session, Customer), **values)
        insert_later(session, Customer, {"id": customer.id} | values)
        _known_without_reading(session, customer)
    return cache.customers[address]


def _upsert_customer(session: Session, values: dict[str, Any]) -> Customer:
    with session.no_autoflush:  # no row the ORM has pending bears on this one
        created_id = session.execute(_UPSERT_CUSTOMER, values).scalar()
    if created_id is None:  # there already, or written by another worker just now
        query = select(Customer).where(Customer.address == values["address"])
        return session.scalars(query).one()
    customer = Customer(id=created_id, **values)
    _known_without_reading(session, customer)
    return customer


def _known_without_reading(session: Session, customer: Customer) -> None:
    """A customer created in this unit of work: the row as written, known to the
    session without reading it back."""
    make_transient_to_detached(customer)
    session.add(customer)
    cache = _transaction_cache(session)
    cache.open_cases[customer.id] = []  # type: ignore[index]
    cache.customers[customer.address] = customer


def preload_customers(session: Session, addresses: Iterable[str]) -> None:
    """Read the customers of many mails at once (a batch), and their open cases, so that
    `ensure_customer` and `open_cases_of` find them without a query each."""
    cache = _transaction_cache(session)
    wanted = {address.lower() for address in addresses} - cache.customers_read
    if not wanted:
        return
    query = select(Customer).where(Customer.address.in_(wanted))  # type: ignore[attr-defined]
    with session.no_autoflush:  # customers are written by Core only
        found = list(session.scalars(query))
    cache.customers.update({row.address: row for row in found})
    cache.customers_read |= wanted
    ids = [row.id for row in found]
    if ids:
        cases = select(Case).where(
            Case.customer_id.in_(ids),  # type: ignore[attr-defined]
            Case.state.not_in(list(CLOSED)),  # type: ignore[attr-defined]
        )
        for customer_id in ids:
            cache.open_cases.setdefault(customer_id, [])  # type: ignore[arg-type]
        for case in session.scalars(cases):
            cache.open_cases[case.customer_id].append(case)


def _next_case_id(session: Session) -> int:
    with session.no_autoflush:
        return session.execute(select(_CASE_ID)).scalar_one()


def _new_id(session: Session, model: type[SQLModel]) -> int:
    """The id of a new row of `model` on SQLite, counted in this unit of work from the
    table's largest: the unit of work holds the writer lock from its first statement,
    so no other writer takes a number before its commit."""
    cache = _transaction_cache(session)
    name = model.__tablename__  # type: ignore[attr-defined]
    if name not in cache.last_ids:
        column = model.__table__.c.id  # type: ignore[attr-defined]
        with session.no_autoflush:  # the tables counted here are written by Core only
            cache.last_ids[name] = session.execute(select(func.max(column))).scalar() or 0
    cache.last_ids[name] += 1
    return cache.last_ids[name]


def insert_later(session: Session, model: type[SQLModel], values: dict[str, Any]) -> None:
    """Insert a row of `model` with the unit of work's other new rows of its table, one
    statement for them all, before any statement of the session may read that table,
    before any ORM flush, and at the latest before the commit. The row's columns not in
    `values` get their defaults; every row of a table deferred in one unit of work names
    the same columns."""
    _transaction_cache(session).defer(model, values)


def append_events(session: Session, events: Iterable[CaseEvent]) -> None:
    """Append `events` to their cases' logs (flushed with the unit of work)."""
    for entry in events:
        add_event(session, entry)


def add_event(session: Session, entry: CaseEvent) -> None:
    """Add one entry to its case's log. The log only grows: its rows are written
    together, one statement for the whole unit of work (`_TransactionCache.defer`),
    before anything reads them and at the latest before the commit."""
    cache = _transaction_cache(session)
    cache.defer(CaseEvent, {column: getattr(entry, column) for column in _EVENT_COLUMNS})
    new_case = cache.new_case_events.get(entry.case_id)
    if new_case is not None:
        new_case.append(entry)


def hold_mail(session: Session, held: HeldMail) -> None:
    """Keep a mail that could not act for the operator (`siegel held`)."""
    session.add(held)


def add_correction(session: Session, correction: CategoryCorrection) -> None:
    session.add(correction)


def events_of(session: Session, case_id: int) -> list[CaseEvent]:
    """A case's log, oldest first (for a case opened in this unit of work: what it added)."""
    new_case = _transaction_cache(session).new_case_events.get(case_id)
    if new_case is not None:
        return list(new_case)
    query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)  # type: ignore[arg-type]
    return list(session.scalars(query))


def corrections(session: Session) -> list[dict[str, Any]]:
    """Operator corrections as classifier training records (``subject``, ``body``, ...)."""
    rows = session.scalars(select(CategoryCorrection).order_by(CategoryCorrection.id))  # type: ignore[arg-type]
    return [
        {
            "id": f"correction-{row.id}",
            "language": row.language,
            "category": row.category,
            "subject": row.subject,
            "body": row.body,
        }
        for row in rows
    ]


# ------------------------------------------------------------------ per unit of work


class _TransactionCache:
    """What one unit of work has read, counted or is yet to write, so that a batch of
    mails in it does not read or write the same tables once per mail. Dropped when
    the transaction ends.

    New rows (log entries, outgoing mails, a new case, its customer and deadlines) wait
    in `deferred` and are written with one statement per table, referenced tables first
    (`_write_deferred`): before a statement of the session that names one of their
    tables (like the ORM's autoflush), before any ORM flush, and before the commit.
    """

    def __init__(self) -> None:
        self.merchants: list[Merchant] | None = None
        self.merchant_rows: tuple[tuple[Any, ...], ...] | None = None
        self.merchant_index: routing.MerchantIndex | None = None
        self.support_addresses: frozenset[str] | None = None
        self.merchants_by_slug: dict[str, Merchant | None] = {}
        self.customers: dict[str, Customer] = {}
        self.customers_read: set[str] = set()
        """The addresses looked up in this unit of work, found or not."""
        self.last_ids: dict[str, int] = {}
        """SQLite: the last id given to a new row, per table (`_new_id`)."""
        self.open_cases: dict[int, list[Case]] = {}
        """By customer id, the cases open when read of the customers `preload_customers`
        found, and none of those created in this unit of work; the cases opened for
        them since added (`insert_case`)."""
        self.opened: set[str] = set()
        """The references of the cases opened in this unit of work."""
        self.case_numbers: dict[int, int] = {}
        self.case_ids: dict[str, int] = {}
        """PostgreSQL: the row id taken with each case number (`next_ref`), by reference."""
        self.new_case_events: dict[int, list[CaseEvent]] = {}
        self.deferred: dict[type[SQLModel], list[dict[str, Any]]] = {}

    def defer(self, model: type[SQLModel], row: dict[str, Any]) -> None:
        self.deferred.setdefault(model, []).append(row)


_CASE_COLUMNS = tuple(c.name for c in Case.__table__.columns if c.name != "id")  # type: ignore[attr-defined]
_UPSERT_CUSTOMER = (
    postgresql.insert(Customer.__table__)  # type: ignore[attr-defined]
    .on_conflict_do_nothing()
    .returning(Customer.__table__.c.id)  # type: ignore[attr-defined]
)
"""PostgreSQL: insert a customer unless its address is known; returns the new id, or none."""
_CASE_ID = func.nextval(func.pg_get_serial_sequence(Case.__tablename__, "id"))
_NEXT_NUMBER_AND_CASE_ID = select(func.nextval(CASE_NUMBER_SEQUENCE), _CASE_ID)
"""PostgreSQL: a new case number and a new case row id, in one statement."""
_EVENT_COLUMNS = tuple(c.name for c in CaseEvent.__table__.columns if c.name != "id")  # type: ignore[attr-defined]


def _write_deferred(session: Session) -> None:
    cache = session.info.get(_TransactionCache)
    if cache is None or not cache.deferred:
        return
    deferred, cache.deferred = cache.deferred, {}
    # Referenced tables first (a new case before its log entries), whatever came first;
    # the ORM's pending changes after them all (`_before_flush`).
    with session.no_autoflush:
        for model in sorted(deferred, key=_dependency_order):
            session.execute(insert(model.__table__), deferred[model])  # type: ignore[attr-defined]


_TABLE_ORDER: dict[str, int] = {}
"""Each table's place in an order that has referenced tables first; filled when first
needed, as the mail path's tables are defined in modules that import this one."""


def _dependency_order(model: type[SQLModel]) -> int:
    name = model.__tablename__  # type: ignore[attr-defined]
    if name not in _TABLE_ORDER:
        tables = SQLModel.metadata.sorted_tables
        _TABLE_ORDER.update({table.name: place for place, table in enumerate(tables)})
    return _TABLE_ORDER[name]


def _transaction_cache(session: Session) -> _TransactionCache:
    cache = session.info.get(_TransactionCache)
    if cache is None:
        cache = session.info[_TransactionCache] = _TransactionCache()
    return cache


@event.listens_for(OrmSession, "do_orm_execute")
def _before_execute(state: ORMExecuteState) -> None:
    cache = state.session.info.get(_TransactionCache)
    if cache is not None and cache.deferred and _may_read(state.statement, cache.deferred):
        _write_deferred(state.session)  # type: ignore[arg-type]


def _may_read(statement: Any, deferred: Mapping[type[SQLModel], object]) -> bool:
    """Whether `statement` may read or change rows of a table with rows still deferred:
    any statement that names one, and text, whose tables are not known. (A statement
    naming no table, such as a sequence's `nextval`, reads none.)"""
    if isinstance(statement, TextClause):
        return True
    found = find_tables(statement, check_columns=True, include_crud=True)
    named = {table.name for table in found if table is not None}
    return any(model.__tablename__ in named for model in deferred)  # type: ignore[attr-defined]


@event.listens_for(OrmSession, "before_flush")
def _before_flush(session: Session, _context: object, _instances: object) -> None:
    # What the ORM writes may refer to deferred rows (a held mail to a case opened in
    # this unit of work) or change them (the new case's row): they go first.
    _write_deferred(session)


@event.listens_for(OrmSession, "before_commit")
def _before_commit(session: Session) -> None:
    cache = session.info.get(_TransactionCache)
    if cache is not None and cache.case_numbers:
        _write_case_numbers(session, cache.case_numbers)
        cache.case_numbers = {}
    _write_deferred(session)


@event.listens_for(OrmSession, "after_transaction_create")
def _no_savepoint_over_deferred(session: Session, transaction: SessionTransaction) -> None:
    # A savepoint rolled back would take rows deferred before it (and written inside it)
    # with it: write them first (`write_pending`), or open the savepoint before them.
    cache = session.info.get(_TransactionCache)
    if transaction.nested and cache is not None and (cache.deferred or cache.case_numbers):
        raise RuntimeError("a savepoint over deferred rows: call storage.write_pending first")


def write_pending(session: Session) -> None:
    """Write what this unit of work has deferred (new rows, case numbers)."""
    _before_commit(session)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    # Only when the whole transaction ends (commit, rollback or close): a savepoint's
    # end keeps what the transaction around it has read, counted and deferred.
    if transaction.parent is None:
        session.info.pop(_TransactionCache, None)
