"""The mail path's tables: stored mails (the work queue), the outbox and IMAP checkpoints.

Every datetime is timezone-aware UTC (sqlmodel >= 0.0.45 rejects naive ones).
The raw bytes of every mail, in and out, are kept exactly as they were.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from mediation.columns import UTCDateTime


def utc_column(**kwargs: Any) -> Column:
    return Column(UTCDateTime(), **kwargs)


class MailStatus(enum.StrEnum):
    NEW = "new"
    PROCESSING = "processing"
    DONE = "done"
    QUARANTINED = "quarantined"


MAX_MESSAGE_ID_CHARS = 900
"""Where a Message-ID is cut, alike by the spool (`spool.identify`) and the parser, so
that both name a mail alike."""


class StoredMail(SQLModel, table=True):
    """One received mail: committed before the sender hears yes, then worked as a queue."""

    __tablename__ = "mail"
    __table_args__ = (UniqueConstraint("fingerprint", name="uq_mail_fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(index=True, max_length=998)
    message_id_derived: bool = False
    # sha256 of the raw bytes as received; `fingerprint` identifies the same mail
    # arriving twice (by SMTP and IMAP, or resent): see spool.fingerprint().
    sha256: str = Field(max_length=64)
    fingerprint: str = Field(max_length=64)
    size: int
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # "" is the null sender (<>) of bounces and other reports (RFC 5321 §4.5.5);
    # None means the intake did not learn the envelope sender (a pipe without -f,
    # an IMAP mail without Return-Path).
    envelope_from: str | None = Field(default=None, max_length=998, nullable=True)
    envelope_to: list[str] = Field(default=[], sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=200)
    received_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    arrivals: int = 1

    status: str = Field(default=MailStatus.NEW, max_length=20, index=True)
    attempts: int = 0
    last_error: str | None = None
    claimed_by: str | None = Field(default=None, max_length=200)
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    processed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    quarantine_reason: str | None = None

    # Filled by processing, from the stored raw bytes.
    subject: str | None = None
    from_address: str | None = Field(default=None, max_length=998)
    machine: str | None = Field(default=None, max_length=40)
    machine_rule: str | None = Field(default=None, max_length=80)
    parsed: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    classification: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    CLAIMED = "claimed"  # taken by a relay, which has not begun to send it
    SENDING = "sending"  # in the relay's hands: it may have been delivered
    SENT = "sent"
    FAILED = "failed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"


class OutboxMail(SQLModel, table=True):
    """One outgoing mail to one recipient; the relay is the only code that sends it."""

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=998, index=True, sa_column_kwargs={"insert_sentinel": True})
    recipient: str = Field(max_length=998, index=True)
    envelope_from: str = Field(default="", max_length=998)
    # The message, rendered when it is sent (`outbox.message`) from `payload`: the
    # `OutgoingMail` as written, with the recipient's address as sent. Rows written
    # before payloads existed hold their rendered bytes in `raw` instead.
    raw: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False, default=b""))
    payload: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    kind: str = Field(max_length=60)
    auto_reply: bool = False
    case_ref: str | None = Field(default=None, max_length=40, index=True)
    in_reply_to_mail: int | None = Field(default=None, foreign_key="mail.id")
    status: str = Field(default=OutboxStatus.QUEUED, max_length=20, index=True)
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(sa_column=utc_column(nullable=False))
    next_attempt_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    claimed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The relay holding a `claimed` or `sending` row (`queue.worker_id()`: host, pid,
    # thread), so that `Relay.recover` requeues a dead relay's rows without the lease.
    claimed_by: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    bounce_mail: int | None = Field(default=None, foreign_key="mail.id")
    # Which loop-safety rule kept this row from being sent (status `suppressed`).
    suppressed_reason: str | None = Field(default=None, max_length=400)


class OutboxAttempt(SQLModel, table=True):
    """Every delivery attempt of an outbox row, with the relay's answer."""

    __tablename__ = "outbox_attempt"

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)
    at: datetime = Field(sa_column=utc_column(nullable=False))
    code: int | None = None
    response: str = ""
    outcome: str = Field(max_length=20)


class ImapCheckpoint(SQLModel, table=True):
    """How far one IMAP folder has been read: UIDVALIDITY and the last stored UID."""

    __tablename__ = "imap_checkpoint"
    __table_args__ = (UniqueConstraint("account", "folder", name="uq_imap_checkpoint"),)

    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=400)
    folder: str = Field(max_length=400)
    uidvalidity: int
    last_uid: int = 0
    updated_at: datetime = Field(sa_column=utc_column(nullable=False))


class ScheduledRun(SQLModel, table=True):
    """When a daily job last ran to its end (or, before its first run, when the service
    first started with it): a start after a missed run catches it up (`mailflow.nightly`)."""

    __tablename__ = "scheduled_run"

    job: str = Field(primary_key=True, max_length=40)
    ran_at: datetime = Field(sa_column=utc_column(nullable=False))
