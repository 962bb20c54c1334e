"""What happens to one stored mail: parse, recognise machine mail, route.

Runs inside one unit of work opened by the worker: everything it decides (the
parsed form, the machine verdict, outbox rows, case changes) commits together with
the mail's `done` status, or not at all. Work from the stored raw bytes only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from classifier import machine
from mailflow import casework, outbox, parsing
from mailflow.config import Config
from mailflow.models import MailStatus, StoredMail
from mediation import addresses

log = logging.getLogger("mailflow.processing")


@dataclass(frozen=True)
class Context:
    config: Config
    now: datetime


def bounce_targets(mail: StoredMail, config: Config) -> list[int]:
    """Outbox rows named by the VERP addresses this mail was delivered to."""
    rows = []
    for rcpt in mail.envelope_to:
        try:
            recipient = addresses.parse_recipient(config.secret_bytes, config.siegel.domain, rcpt)
        except addresses.AddressError:
            continue
        if recipient.kind is addresses.Kind.BOUNCE and recipient.outbox_id is not None:
            rows.append(recipient.outbox_id)
    return rows


def process_mail(session: Session, mail: StoredMail, context: Context) -> None:
    parsed = parsing.parse(mail.raw)
    mail.parsed = parsed.to_json()
    mail.subject = parsed.subject
    mail.from_address = parsed.from_address
    verdict = machine.detect(parsed.message, mail.envelope_from, context.config.siegel.domain)
    mail.machine = verdict.kind if verdict else None
    mail.machine_rule = verdict.rule if verdict else None
    bounced = bounce_targets(mail, context.config)
    for outbox_id in bounced:
        detail = verdict.detail if verdict else {}
        outbox.record_bounce(session, outbox_id, mail.id, dict(detail), context.now)  # type: ignore[arg-type]
    if not bounced:
        # Route to a case and decide; the case change and its outgoing mails are part
        # of this unit of work.
        casework.handle(session, mail, parsed, verdict, context.config, context.now)
    mail.status = MailStatus.DONE
    mail.processed_at = context.now
    mail.claimed_by = mail.claimed_at = None
    session.add(mail)
