"""Outbox rows as tests look at them: enqueued in a unit of work of their own, read back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mediation.outgoing import OutgoingMail


def enqueued_row(
    engine: Engine, config: Config, outgoing: OutgoingMail, now: datetime
) -> OutboxMail:
    """`outbox.enqueue` in a committed unit of work of its own; the row as stored."""
    with session_scope(engine) as session:
        enqueued = outbox.enqueue(session, outgoing, config, now)
    return stored_row(engine, enqueued)


def stored_row(engine: Engine, enqueued: outbox.Enqueued) -> OutboxMail:
    """The row `enqueue` wrote, once its unit of work is committed."""
    with Session(engine) as session:
        query = select(OutboxMail).where(OutboxMail.message_id == enqueued.message_id)
        return session.scalars(query).one()


def row_of(engine: Engine, row_id: int | None) -> OutboxMail:
    with Session(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        return row
