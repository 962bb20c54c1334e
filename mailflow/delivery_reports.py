"""Delivery reports: which of our outbox rows a received mail reports on, and what follows.

A report names its row in one of three ways, tried in this order:

1. it was delivered to the row's VERP address (``bounce+ID.TOKEN@``, the envelope
   sender the relay gave it: `outbox.envelope_sender`), any mail there;
2. it is a report (a DSN, a bounce, a delay warning) whose ``To`` or ``Cc`` names a VERP
   address: an IMAP mailbox that gets the bounces of several addresses often keeps no
   ``Delivered-To`` (an APPENDed mail has none), so the envelope shows only the
   mailbox. A header is anybody's to write, so only an address whose token checks
   counts: it names a row of ours, and whoever can forge it received that mail;
3. it is a report whose returned mail (a ``message/rfc822`` or
   ``text/rfc822-headers`` part, or the copy quoted in its text: qmail, Exim) carries
   one of our Message-IDs: a bounce sent to the mail's From or Reply-To (a case
   address, ``service@``) instead of its envelope sender. Our Message-IDs are random, so
   only a recipient of the mail knows one.

`rows_named` (1, 2) and `returned_message_id` (3) read the mail alone, before the
worker's transaction; `record` runs inside it: it records the report on each row
(`outbox.record_bounce`; a permanent failure marks it `bounced`, once) and, for a row of
a case that bounced now, hands it to the case service (`case_service.mail_bounced`: the
case's timeline, the operator's notice, the merchant's clock), enqueueing what that
sends. A mail recorded as a report acts in no case.
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from mailflow import casework, outbox
from mailflow.config import Config
from mailflow.models import OutboxMail, OutboxStatus, StoredMail
from mediation import addresses, case_service

if TYPE_CHECKING:
    from classifier.machine import MachineVerdict
    from mailflow.parsing import ParsedMail

log = logging.getLogger("mailflow.delivery_reports")

REPORT_KINDS = {"bounce": "failed", "delay": "delayed", "delivery_report": "delivered"}
"""Machine-mail kinds that report on a delivery, with the RFC 3464 action each means:
a bounce is the MTA giving up, whatever the status code says."""
_REASON_CHARS = 300


def rows_named(
    envelope_to: Sequence[str],
    parsed: ParsedMail,
    verdict: MachineVerdict | None,
    config: Config,
) -> list[int]:
    """The outbox rows whose VERP address a mail was delivered to (`envelope_to`), or
    else, for a report, whose VERP address (with a valid token) its To or Cc header names."""
    rows = _bounce_rows(envelope_to, config)
    if rows or verdict is None or verdict.kind not in REPORT_KINDS:
        return rows
    written = parsed.message.get_all("To", []) + parsed.message.get_all("Cc", [])
    named = [address for _, address in email.utils.getaddresses([str(v) for v in written])]
    return _bounce_rows(named, config)


def _bounce_rows(recipients: Sequence[str], config: Config) -> list[int]:
    rows = []
    for rcpt in recipients:
        try:
            recipient = addresses.parse_recipient(config.secret_bytes, config.siegel.domain, rcpt)
        except addresses.AddressError:
            continue
        if recipient.kind is addresses.Kind.BOUNCE and recipient.outbox_id not in (None, *rows):
            rows.append(recipient.outbox_id)  # type: ignore[arg-type]
    return rows


def returned_message_id(verdict: MachineVerdict | None, config: Config) -> str | None:
    """The Message-ID of a mail of ours that this report returns, or None (no report,
    or the returned mail was not ours)."""
    if verdict is None or verdict.kind not in REPORT_KINDS:
        return None
    message_id = str(verdict.detail.get("original_message_id") or "")
    if not message_id.lower().endswith(f"@{config.siegel.domain.lower()}>"):
        return None
    return message_id


def record(
    session: Session,
    mail: StoredMail,
    verdict: MachineVerdict | None,
    rows: Sequence[int],
    returned: str | None,
    config: Config,
    now: datetime,
) -> tuple[int, ...]:
    """Record `mail` as the report on `rows`, or else on the row that sent `returned`;
    returns the rows it reported on (none: it is no report of ours)."""
    if not rows and returned:
        rows = outbox.rows_with_message_id(session, returned)
    if not rows:
        return ()
    detail = report_detail(verdict)
    for outbox_id in rows:
        row = outbox.record_bounce(session, outbox_id, mail.id, detail, now)  # type: ignore[arg-type]
        if row is None or row.status != OutboxStatus.BOUNCED or row.bounce_mail != mail.id:
            continue  # no such row, no permanent failure, or bounced by an earlier report
        if row.case_ref:
            tell_the_case(session, row, reason(detail), mail.received_at, config, now, mail.id)
    return tuple(rows)


def tell_the_case(
    session: Session,
    row: OutboxMail,
    why: str,
    at: datetime,
    config: Config,
    now: datetime,
    report_mail: int | None = None,
) -> None:
    """Hand a case's mail that will never arrive (`row`: bounced, or failed at the relay)
    to the case service, as of `at`, and enqueue what that sends."""
    assert row.id is not None and row.case_ref is not None
    bounced = case_service.BouncedMail(
        case_ref=row.case_ref,
        kind=row.kind,
        to=row.recipient,
        subject=str((row.payload or {}).get("subject") or ""),
        outbox_id=row.id,
        reason=why,
        written_at=row.created_at,
        at=at,
        report_mail=report_mail,
    )
    outcome = case_service.mail_bounced(session, bounced, casework.settings(config))
    if not outcome.report_believed:
        outbox.report_not_believed(session, row)
    for outgoing in outcome.outgoing:
        outbox.enqueue(session, outgoing, config, now)


def report_detail(verdict: MachineVerdict | None) -> dict[str, Any]:
    """What `outbox.record_bounce` stores of a report: the machine rules' detail, with
    the RFC 3464 action its kind means (a bounce in no standard format says none) and
    the reason in one line as ``diagnostic_code``."""
    if verdict is None:
        return {}
    detail = dict(verdict.detail)
    action = REPORT_KINDS.get(verdict.kind)
    if action and not detail.get("action"):
        detail["action"] = action
    found = reason(detail)
    if found and not detail.get("diagnostic_code"):
        detail["diagnostic_code"] = found
    return detail


def reason(detail: dict[str, Any]) -> str:
    """Why the mail was not delivered, in one line: the first recipient's
    Diagnostic-Code (without its ``smtp;`` type), the line of a bounce text that says
    why, the status code, or the report's subject."""
    recipients = [r for r in detail.get("recipients") or () if isinstance(r, dict)]
    candidates = [r.get("diagnostic") for r in recipients]
    candidates += [detail.get(key) for key in ("diagnostic_code", "diagnostic", "status")]
    candidates += [r.get("status") for r in recipients]
    candidates += [detail.get("disposition"), detail.get("subject")]
    for candidate in candidates:
        text = " ".join(str(candidate or "").split())
        kind, separator, rest = text.partition(";")
        if separator and kind.strip().lower() in ("smtp", "x-postfix", "x-unix", "x-local"):
            text = rest.strip()
        if text:
            return text[:_REASON_CHARS]
    return ""
