"""The outbox: the only way mail leaves Service-Siegel.

`enqueue()` turns an `OutgoingMail` into one stored row in the caller's session, so
that the mail is committed together with the change that caused it (one
transaction, one door out). The full RFC 5322 message is rendered once, here, with
a Message-ID that is kept in the row: a resend after a crash carries the same one.
The relay (`mailflow.relay`) later sends the stored bytes unchanged.

Loop safety lives here too (RFC 3834 §2): nothing automatic is answered
automatically, automatic replies to one address are capped per day, and mail to
our own service addresses is never sent. Such rows are stored with status
`suppressed` and the rule that fired, so "why was nothing sent?" has an answer.

`record_bounce()` connects a delivery status notification that came back to a
row's VERP envelope sender with that row.
"""

from __future__ import annotations

import enum
import json
import logging
import re
import uuid
from datetime import datetime, timedelta
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import compat32
from email.utils import format_datetime, formataddr

from sqlalchemy import func, select
from sqlmodel import Session

from mailflow.config import Config
from mailflow.models import OutboxAttempt, OutboxMail, OutboxStatus
from mediation import addresses
from mediation.outgoing import OutgoingMail

log = logging.getLogger("mailflow.outbox")

SENDER_NAME = "Service-Siegel"
SENDER_LOCAL = "service"
LOOP_HEADER = "X-Siegel-Loop"
# Exchange's per-message request not to answer automatically (MS-OXCMAIL
# 2.1.3.2.20). Not "All": that value also asks Exchange to suppress non-delivery
# reports, and the VERP bounce path depends on getting those back.
AUTO_RESPONSE_SUPPRESS = "DR, RN, NRN, OOF, AutoReply"
AUTOREPLY_WINDOW = timedelta(hours=24)
_RESPONSE_LIMIT = 2000
_SMTP_CODE = re.compile(r"\b([245]\d\d)\b")
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
# Encoded words in base64 only: the stdlib's default ("shortest") computes both
# encodings character by character, the slowest step of rendering a mail.
_B_UTF8 = Charset("utf-8")
_B_UTF8.header_encoding = BASE64
_WIRE = compat32.clone(linesep="\r\n")


class Suppression(enum.StrEnum):
    """The loop-safety rules that keep a row from being sent."""

    ANSWERS_MACHINE_MAIL = "answers-machine-mail"
    AUTOREPLY_DAILY_CAP = "autoreply-daily-cap"
    OWN_SERVICE_ADDRESS = "own-service-address"


class AttemptOutcome(enum.StrEnum):
    """What an `OutboxAttempt` row records: a relay answer or a delivery report."""

    SENT = "sent"
    DEFERRED = "deferred"  # 4xx or no connection: tried again later
    FAILED = "failed"  # 5xx, or the last allowed attempt failed
    INTERRUPTED = "interrupted"  # the relay stopped mid-send; the row was queued again
    BOUNCED = "bounced"  # a DSN reporting permanent failure (RFC 3464 action=failed)
    DELAYED = "delayed"  # a DSN reporting a delay: recorded only
    REPORTED = "reported"  # any other report to the VERP address: recorded only


def enqueue(session: Session, mail: OutgoingMail, config: Config, now: datetime) -> OutboxMail:
    """Store `mail` as an outbox row in the caller's session; the caller commits.

    The row is `queued` (due at `now`) or, when a loop-safety rule fires,
    `suppressed` with the rule in `suppressed_reason`: it is then never sent.
    """
    domain = config.siegel.domain
    if not config.secret_bytes:
        raise ValueError("[siegel] secret is empty: call config.ensure_secret() first")
    message_id = f"<siegel.{uuid.uuid4().hex}@{domain}>"
    reason = _suppression(session, mail, config, now)
    row = OutboxMail(
        message_id=message_id,
        recipient=mail.to,
        raw=render(mail, message_id, domain, now),
        kind=mail.kind,
        auto_reply=mail.auto_reply,
        case_ref=mail.case_ref,
        in_reply_to_mail=mail.in_reply_to_mail,
        status=OutboxStatus.SUPPRESSED if reason else OutboxStatus.QUEUED,
        suppressed_reason=reason,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(row)
    session.flush()  # the VERP address names the row, so it needs the row's id
    assert row.id is not None
    row.envelope_from = addresses.bounce_address(config.secret_bytes, domain, row.id)
    session.add(row)
    if reason:
        log.warning("outbox %s (%s) suppressed: %s", row.id, mail.kind, reason)
    return row


def render(mail: OutgoingMail, message_id: str, domain: str, now: datetime) -> bytes:
    """The complete RFC 5322 message, 7-bit clean, CRLF line endings.

    Built with the `email.mime` classes: the stdlib's policy-based `EmailMessage`
    costs about ten times as much per mail, and rendering runs inside the worker's
    transaction.
    """
    for value in (mail.to, mail.reply_to or "", mail.subject, mail.in_reply_to or ""):
        if "\r" in value or "\n" in value:
            raise ValueError("header values must not contain line breaks")
    text = MIMEText(mail.text, "plain", _charset=_QP_UTF8)
    if mail.html is None:
        message: Message = text
    else:
        message = MIMEMultipart("alternative")
        for part in (text, MIMEText(mail.html, "html", _charset=_QP_UTF8)):
            del part["MIME-Version"]  # belongs to the top level only (RFC 2045 §4)
            message.attach(part)
    message["From"] = formataddr((SENDER_NAME, f"{SENDER_LOCAL}@{domain}"))
    message["To"] = mail.to
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    # Non-ASCII becomes RFC 2047 encoded words.
    message["Subject"] = (
        Header(mail.subject, "utf-8") if not mail.subject.isascii() else mail.subject
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    # Threading (RFC 5322 §3.6.4): the parent's References followed by its Message-ID.
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    references = list(dict.fromkeys([*mail.references, *filter(None, [mail.in_reply_to])]))
    if references:
        message["References"] = " ".join(references)
    # RFC 3834 §5: tells well-behaved responders not to answer us automatically.
    message["Auto-Submitted"] = "auto-replied" if mail.auto_reply else "auto-generated"
    message["X-Auto-Response-Suppress"] = AUTO_RESPONSE_SUPPRESS
    message[LOOP_HEADER] = domain
    # No Precedence header: it is non-standard and discouraged (RFC 2076), and
    # "bulk" would file these personal, case-specific mails with mass mail.
    message["Content-Language"] = mail.language  # RFC 3282
    # Quoted-printable keeps the message 7-bit, so no relay needs 8BITMIME.
    return message.as_bytes(policy=_WIRE)


def _suppression(session: Session, mail: OutgoingMail, config: Config, now: datetime) -> str | None:
    if mail.auto_reply and mail.answers_machine_mail:
        return f"{Suppression.ANSWERS_MACHINE_MAIL}: the mail this answers was machine mail"
    if _is_own_service_address(mail.to, config):
        return f"{Suppression.OWN_SERVICE_ADDRESS}: would loop back into our own intake"
    if mail.auto_reply:
        cap = config.outbox.max_autoreplies_per_day
        # Two transactions enqueueing at the same moment may both pass: the cap is
        # a loop brake, not an exact quota.
        recent = session.scalar(
            select(func.count())
            .select_from(OutboxMail)
            .where(
                func.lower(OutboxMail.recipient) == mail.to.lower(),
                OutboxMail.auto_reply.is_(True),  # type: ignore[attr-defined]
                OutboxMail.status != OutboxStatus.SUPPRESSED,
                OutboxMail.created_at > now - AUTOREPLY_WINDOW,  # type: ignore[operator]
            )
        )
        if recent is not None and recent >= cap:
            return (
                f"{Suppression.AUTOREPLY_DAILY_CAP}: {recent} automatic replies to this "
                f"address within 24 hours (limit {cap})"
            )
    return None


def _is_own_service_address(address: str, config: Config) -> bool:
    """Complaint, case and bounce addresses are ours: mail to them would come back in."""
    try:
        recipient = addresses.parse_recipient(config.secret_bytes, config.siegel.domain, address)
    except addresses.AddressError:
        return False
    return recipient.kind is not addresses.Kind.OPERATOR


def record_bounce(
    session: Session, outbox_id: int, bounce_mail_id: int, detail: dict, now: datetime
) -> OutboxMail | None:
    """Record a delivery report that came back to row `outbox_id`'s VERP address.

    `detail` holds the per-recipient fields of the report (RFC 3464 §2.3) as far as
    they are known: `action` (failed, delayed, delivered, relayed, expanded),
    `status` (e.g. "5.1.1") and `diagnostic_code`; it is stored as given. Only a
    permanent failure (action "failed", or else a 5.x.x status) marks the row
    `bounced`; a delay or anything else is recorded and changes nothing. Returns
    the row, or None when no such row exists.
    """
    row = session.get(OutboxMail, outbox_id)
    if row is None:
        return None
    outcome = _report_outcome(detail)
    diagnostic = str(detail.get("diagnostic_code") or detail.get("status") or "")
    code = _SMTP_CODE.search(diagnostic)
    session.add(
        OutboxAttempt(
            outbox_id=outbox_id,
            at=now,
            code=int(code.group(1)) if code else None,
            response=json.dumps(detail, sort_keys=True, default=str)[:_RESPONSE_LIMIT],
            outcome=outcome,
        )
    )
    if outcome is AttemptOutcome.BOUNCED and row.status != OutboxStatus.SUPPRESSED:
        row.status = OutboxStatus.BOUNCED
        row.bounce_mail = bounce_mail_id
        row.last_error = f"bounced: {diagnostic or 'permanent failure'}"[:_RESPONSE_LIMIT]
        session.add(row)
        log.warning("outbox %s bounced (mail %s): %s", outbox_id, bounce_mail_id, diagnostic)
    return row


def _report_outcome(detail: dict) -> AttemptOutcome:
    action = str(detail.get("action") or "").strip().lower()
    status = str(detail.get("status") or "").strip()
    if action == "failed" or (not action and status.startswith("5")):
        return AttemptOutcome.BOUNCED
    if action == "delayed" or (not action and status.startswith("4")):
        return AttemptOutcome.DELAYED
    return AttemptOutcome.REPORTED


def list_rows(session: Session, status: str | None = None, limit: int = 100) -> list[OutboxMail]:
    """Outbox rows, newest first, optionally only those with `status`."""
    query = select(OutboxMail).order_by(OutboxMail.id.desc()).limit(limit)  # type: ignore[union-attr]
    if status is not None:
        query = query.where(OutboxMail.status == status)
    return list(session.scalars(query))


def list_attempts(session: Session, outbox_id: int) -> list[OutboxAttempt]:
    """Every attempt and delivery report of one row, oldest first."""
    query = select(OutboxAttempt).where(OutboxAttempt.outbox_id == outbox_id)
    return list(session.scalars(query.order_by(OutboxAttempt.id)))  # type: ignore[arg-type]
