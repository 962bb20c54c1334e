"""The work queue over stored mails: new → processing → done, or quarantined.

A worker claims a mail by a conditional update, so two workers never hold the same
one. A claim names its holder (`host:pid:thread`); a holder that died leaves its claim
behind, and `recover()` gives such mails back to the queue at the next start. Each
claim counts as an attempt: a mail that failed, or whose worker died, `max_attempts`
times is quarantined with the reason instead of being tried forever.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from mailflow.db import is_postgres, session_scope
from mailflow.models import MailStatus, StoredMail

log = logging.getLogger("mailflow.queue")

_ERROR_LIMIT = 2000


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def claim_next(engine: Engine, now: datetime, holder: str | None = None) -> StoredMail | None:
    """Claim the oldest new mail for `holder`, or return None when there is none."""
    claimed = claim_batch(engine, now, 1, holder)
    return claimed[0] if claimed else None


def claim_batch(
    engine: Engine, now: datetime, size: int, holder: str | None = None
) -> list[StoredMail]:
    """Claim up to `size` of the oldest new mails for `holder`, oldest first.

    A mail tried before (its worker failed or died with it) is claimed alone: if it
    kills its worker again, the mails that happened to share its batch are not
    charged an attempt for it. On PostgreSQL rows another worker is claiming are
    skipped, so that workers never wait for each other here.
    """
    holder = holder or worker_id()
    with session_scope(engine) as session:
        query = (
            select(StoredMail.id, StoredMail.attempts)
            .where(StoredMail.status == MailStatus.NEW)
            .order_by(StoredMail.id)
            .limit(max(1, size))
        )
        if is_postgres(engine):
            query = query.with_for_update(skip_locked=True)
        candidates = session.execute(query).all()
        if not candidates:
            return []
        if candidates[0].attempts:
            chosen = [candidates[0].id]
        else:
            chosen = []
            for candidate in candidates:
                if candidate.attempts:
                    break
                chosen.append(candidate.id)
        claimed = session.scalars(
            update(StoredMail)
            .where(StoredMail.id.in_(chosen), StoredMail.status == MailStatus.NEW)  # type: ignore[union-attr]
            .values(
                status=MailStatus.PROCESSING,
                claimed_by=holder,
                claimed_at=now,
                attempts=StoredMail.attempts + 1,
            )
            .returning(StoredMail)
        ).all()
        return sorted(claimed, key=lambda mail: mail.id or 0)


def still_claimed(session: Session, mail_ids: Sequence[int], holder: str) -> set[int]:
    """Which of `mail_ids` are still claimed by `holder` (not given back by a `recover`
    that took the holder for dead); on PostgreSQL they stay locked until commit, so no
    recover can give them away while they are processed."""
    query = select(StoredMail.id).where(
        StoredMail.id.in_(mail_ids),  # type: ignore[union-attr]
        StoredMail.status == MailStatus.PROCESSING,
        StoredMail.claimed_by == holder,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return set(session.scalars(query))


def load_claimed(session: Session, mail_id: int, holder: str) -> StoredMail | None:
    """The mail `mail_id` if `holder` still holds its claim (locked until commit on
    PostgreSQL, so that no `recover` gives it away meanwhile); else None."""
    query = select(StoredMail).where(
        StoredMail.id == mail_id,
        StoredMail.status == MailStatus.PROCESSING,
        StoredMail.claimed_by == holder,
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query).first()


def fail(
    engine: Engine, mail_id: int, error: str, max_attempts: int, holder: str | None = None
) -> str:
    """Record a failed attempt; quarantine after `max_attempts`. Returns the new status.
    With `holder`, only while that holder's claim stands: a mail given back and taken
    by another worker meanwhile is that worker's now."""
    with session_scope(engine) as session:
        mail = session.get(StoredMail, mail_id, with_for_update=True)
        if mail is None:
            return "missing"
        if holder is not None and (mail.status, mail.claimed_by) != (
            MailStatus.PROCESSING,
            holder,
        ):
            log.warning("mail %s failed but was given back meanwhile: %s", mail_id, error)
            return mail.status
        mail.last_error = error[-_ERROR_LIMIT:]
        mail.claimed_by = None
        mail.claimed_at = None
        if mail.attempts >= max_attempts:
            mail.status = MailStatus.QUARANTINED
            mail.quarantine_reason = f"failed {mail.attempts} times; last error: {mail.last_error}"
            log.error("mail %s quarantined: %s", mail_id, mail.last_error)
        else:
            mail.status = MailStatus.NEW
            log.warning("mail %s failed (attempt %s): %s", mail_id, mail.attempts, error)
        session.add(mail)
        return mail.status


def quarantine(engine: Engine, mail_id: int, reason: str) -> None:
    with session_scope(engine) as session:
        mail = session.get(StoredMail, mail_id)
        if mail is not None:
            mail.status = MailStatus.QUARANTINED
            mail.quarantine_reason = reason[:_ERROR_LIMIT]
            mail.claimed_by = mail.claimed_at = None
            session.add(mail)


def holder_is_gone(holder: str | None, this_host: str) -> bool:
    """Whether the process of claim holder `holder` (`worker_id()`) provably died: on
    `this_host` and its pid no longer alive. A holder on another host, or this process,
    is alive as far as we know (its claims wait for the lease); no holder counts as gone.
    Shared with the relay's recovery (`Relay.recover`)."""
    if not holder:
        return True
    host, _, rest = holder.partition(":")
    if host != this_host:
        return False
    pid = int(rest.partition(":")[0] or 0)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def recover(engine: Engine, now: datetime, lease_seconds: float, max_attempts: int) -> int:
    """Give back claims of workers that died: on this host by pid, elsewhere by lease."""
    this_host = socket.gethostname()
    expired = now - timedelta(seconds=lease_seconds)
    recovered = 0
    with session_scope(engine) as session:
        query = select(StoredMail).where(StoredMail.status == MailStatus.PROCESSING)
        if is_postgres(engine):
            # Several worker processes recover every minute: a row is read locked, as
            # it is now, so that a claim made since another's recover is not undone.
            query = query.with_for_update(skip_locked=True)
        claimed = session.scalars(query).all()
        for mail in claimed:
            lease_over = mail.claimed_at is None or mail.claimed_at < expired
            if not (lease_over or holder_is_gone(mail.claimed_by, this_host)):
                continue
            note = f"interrupted while held by {mail.claimed_by}"
            mail.last_error = note
            mail.claimed_by = mail.claimed_at = None
            if mail.attempts >= max_attempts:
                mail.status = MailStatus.QUARANTINED
                mail.quarantine_reason = f"interrupted {mail.attempts} times; {note}"
            else:
                mail.status = MailStatus.NEW
            session.add(mail)
            recovered += 1
    if recovered:
        log.warning("recovered %d interrupted mails", recovered)
    return recovered


class NotRequeueable(Exception):
    """The stored row is not a whole mail and cannot be processed."""


def quarantined_ids(engine: Engine) -> list[int]:
    """The quarantined mails, oldest first."""
    with session_scope(engine) as session:
        return list(
            session.scalars(
                select(StoredMail.id)
                .where(StoredMail.status == MailStatus.QUARANTINED)
                .order_by(StoredMail.id)
            )
        )


def requeue(engine: Engine, mail_id: int) -> StoredMail | None:
    """Put a quarantined mail back into the queue with a fresh attempt count. Any other
    is refused: a done mail processed again would act twice (a second acknowledgement,
    a reply counted again), and a new or claimed one is in the queue already."""
    with session_scope(engine) as session:
        mail = session.get(StoredMail, mail_id)
        if mail is None:
            return None
        if mail.status != MailStatus.QUARANTINED:
            raise NotRequeueable(f"mail {mail_id} is {mail.status}, not quarantined")
        if mail.size != len(mail.raw):
            # An IMAP mail too large to store, or without a body: only its headers
            # were kept; the mail itself waits in the IMAP quarantine folder.
            raise NotRequeueable(
                f"mail {mail_id} holds only the headers of a {mail.size}-byte mail "
                f"({mail.quarantine_reason}); fetch it from the mailbox instead"
            )
        mail.status = MailStatus.NEW
        mail.attempts = 0
        mail.quarantine_reason = None
        mail.claimed_by = mail.claimed_at = None
        session.add(mail)
        return mail
