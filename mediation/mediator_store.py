"""Mediators as records: who they are, whether they take new cases, and their load.

The table `mediator` (created by a step in `mailflow.migrations.MIGRATIONS`) and its queries;
`mediators.roster` merges it with the configured seed. Pausing a mediator stops new
assignments only: the cases it holds stay with it, and it keeps acting on them.

The records are read once per unit of work (`records`): a batch of mails that assigns
mediators, judges their mail and writes to them in their language reads the table once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, event, select
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Field, Session, SQLModel

from mediation import mediators, storage
from mediation.columns import UTCDateTime

TABLES = ("mediator",)


def _utc(nullable: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class MediatorRecord(SQLModel, table=True):
    """A registered mediator (Schlichter/in)."""

    __tablename__ = "mediator"

    id: int | None = Field(default=None, primary_key=True)
    address: str = Field(max_length=320, unique=True, index=True)
    name: str = Field(default="", max_length=200)
    paused: bool = False
    language: str | None = Field(default=None, max_length=5)
    """The language of every mail to it (``de``, ``en``); None: the operator's default
    (``[siegel] default_language``), as for a mediator only in the configured seed."""
    created_at: datetime = _utc()
    changed_at: datetime = _utc()
    changed_by: str = Field(default="", max_length=200)


def records(session: Session) -> list[MediatorRecord]:
    """Every record, oldest first: read once per unit of work; a record added in it is
    seen, and so is a change to one (the same objects)."""
    cached = session.info.get(_RECORDS)
    if cached is None:
        query = select(MediatorRecord).order_by(MediatorRecord.id)  # type: ignore[arg-type]
        cached = session.info[_RECORDS] = list(session.scalars(query))
    return list(cached)


def language(session: Session, address: str) -> str | None:
    """The language the record of the mediator `address` names; None: not registered or
    none chosen (the operator's default applies)."""
    address = address.lower()
    return next((row.language for row in records(session) if row.address == address), None)


_RECORDS = "mediation.mediator_store.records"
"""The key of this unit of work's records in `Session.info`."""


@event.listens_for(OrmSession, "transient_to_pending")
def _record_added(session: Session, instance: object) -> None:
    if isinstance(instance, MediatorRecord):
        session.info.pop(_RECORDS, None)  # read again, with the new one


@event.listens_for(OrmSession, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the whole unit of work, not a savepoint
        session.info.pop(_RECORDS, None)


def record(session: Session, address: str) -> MediatorRecord | None:
    query = select(MediatorRecord).where(MediatorRecord.address == address.lower())
    return session.scalars(query).first()


def roster(session: Session, seed: Sequence[str]) -> tuple[mediators.Mediator, ...]:
    """Every mediator, the records winning over the configured `seed`."""
    rows = [mediators.Mediator(row.address, row.paused, row.language) for row in records(session)]
    return mediators.roster(rows, seed)


def choose(
    session: Session,
    seed: Sequence[str],
    language: str | None = None,
    default_language: str | None = None,
    merchant: storage.Merchant | None = None,
) -> tuple[mediators.Mediator | None, dict[str, int], int]:
    """The free mediator with the fewest open cases (or None), preferring those who
    write in `language`, never one of `merchant`'s own addresses (`storage.is_own`: the
    shop would decide its own case); every load, and how many mediators are free."""
    everyone = roster(session, seed)
    if merchant is not None:
        everyone = tuple(m for m in everyone if not storage.is_own(merchant, m.address))
    loads = storage.open_cases_per_mediator(session, [m.address for m in everyone])
    free = sum(1 for mediator in everyone if not mediator.paused)
    chosen = mediators.choose(everyone, loads, language, default_language)
    return chosen, loads, free


def save(session: Session, row: MediatorRecord) -> MediatorRecord:
    session.add(row)
    session.flush()
    return row


def waiting_cases(session: Session) -> list[str]:
    """References of the cases in mediation that have no mediator yet, oldest first."""
    from mediation.storage import Case
    from mediation.workflow import State

    query = (
        select(Case.ref)
        .where(
            Case.mediator.is_(None),  # type: ignore[union-attr]
            Case.state.in_([State.IN_MEDIATION.value, State.PROPOSAL_PENDING.value]),  # type: ignore[attr-defined]
        )
        .order_by(Case.opened_at, Case.id)  # type: ignore[arg-type]
    )
    return list(session.scalars(query))
