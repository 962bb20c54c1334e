"""The outbox: the only way mail leaves Service-Siegel.

`enqueue()` turns an `OutgoingMail` into one stored row in the caller's unit of work,
so that the mail is committed together with the change that caused it (one
transaction, one door out). The row is written with the unit of work's other new rows,
one statement for all of them (`storage.insert_later`), before anything reads the
outbox and at the latest at the commit. The row keeps the mail as written (`payload`) and a
Message-ID; `message()` renders the full RFC 5322 message from them when the relay
(`mailflow.relay`) sends it, outside the worker's transaction, the same bytes every
time: a resend after a crash carries the same Message-ID.

Loop safety lives here too (RFC 3834 §2): nothing automatic is answered
automatically, automatic replies to one address are capped per day (exactly, on
PostgreSQL too: the count runs under a lock per recipient held until commit), mail to
our own service addresses is never sent, and no automatic answer goes to any address
at our own domain. Such rows are stored with status `suppressed` and the rule that fired, so
"why was nothing sent?" has an answer.

Header hygiene lives in `render()`, the one place where headers are built: subjects
and display names pass `mediation.outgoing.header_text` (no bidi or control
characters), and the recipient `wire_address` (IDNA for the domain of an ASCII local
part). A message to a non-ASCII local part is rendered with UTF-8 headers (RFC 6532)
and needs a relay with SMTPUTF8 (RFC 6531); every other message stays 7-bit. A
recipient that cannot be written at all is stored `failed` with the reason.

A mail that carries a received mail's attachments (the forward of a complaint) keeps
only which ones (`OutgoingMail.attachments`, chosen by `mediation.outgoing.enclose`);
`message()` reads the stored complaint and `render()` takes their bytes from it through
the parser (`parsing.ParsedMail.attachment_parts`), so no attachment is stored twice.
They go out in base64 under their original names and content types, a non-ASCII name
encoded both ways clients read (RFC 2231 ``filename*`` in Content-Disposition, RFC 2047
words in the Content-Type ``name``), and the text says what is attached.

Threading lives in `enqueue()`: a mail about a case continues its recipient's thread
of the case (`mediation.outgoing.in_thread`): it answers (`In-Reply-To`) our last mail
to that recipient in the case, unless it answers a received mail, and its `References`
name our first and latest ones there, so that mail clients show one conversation per
case and party. The thread is decided when the row is written and kept in its payload,
so the row renders the same bytes every time; our Message-IDs per case and recipient
are read once per case and transaction (`_Threads`) and counted on as rows are added.

`record_bounce()` connects a delivery status notification that came back to a
row's VERP envelope sender with that row (or the row a bounce names otherwise:
`mailflow.delivery_reports`; the relay marks a case's row `bounced` itself when the
receiving side refuses the recipient for good, `Answer.recipient_refused`). A row that
bounced keeps further mail of its case from its address: each is stored `suppressed`
(`recipient-bounced`), so that reminders do not go on bouncing, until the forward of
the complaint goes there again
(`RESUMES_AFTER_BOUNCE`: only the operator's correction of the shop's address sends it).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import re
import urllib.parse
import uuid
from base64 import encodebytes
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from email.charset import BASE64, QP, Charset
from email.header import Header
from email.headerregistry import Address
from email.message import Message
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import SMTPUTF8, compat32
from email.utils import format_datetime, formataddr
from typing import TypeVar

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session

from classifier.machine import LOOP_HEADER
from mailflow import parsing
from mailflow.config import Config
from mailflow.models import OutboxAttempt, OutboxMail, OutboxStatus, StoredMail
from mediation import addresses, lifecycle_notices, mediator_store, storage
from mediation.incoming import Attachment
from mediation.outgoing import OutgoingMail, ascii_domain, header_text, in_thread, wire_address

log = logging.getLogger("mailflow.outbox")

SENDER_NAME = "Service-Siegel"
SENDER_LOCAL = "service"
# Exchange's per-message request not to answer automatically (MS-OXCMAIL
# 2.1.3.2.20). Not "All": that value also asks Exchange to suppress non-delivery
# reports, and the VERP bounce path depends on getting those back.
AUTO_RESPONSE_SUPPRESS = "DR, RN, NRN, OOF, AutoReply"
AUTOREPLY_WINDOW = timedelta(hours=24)
_RESPONSE_LIMIT = 2000
# Advisory lock class of the daily cap (pg_advisory_xact_lock(int, int)); the second
# key is the hash of the lower-cased recipient.
AUTOREPLY_CAP_LOCK = 7420002
_SMTP_CODE = re.compile(r"\b([245]\d\d)\b")
_QP_UTF8 = Charset("utf-8")
_QP_UTF8.body_encoding = QP
# Encoded words in base64 only: the stdlib's default ("shortest") computes both
# encodings character by character, the slowest step of rendering a mail.
_B_UTF8 = Charset("utf-8")
_B_UTF8.header_encoding = BASE64
_WIRE = compat32.clone(linesep="\r\n")
# Only for a recipient with a non-ASCII local part: raw UTF-8 headers (RFC 6532 §3).
_WIRE_UTF8 = SMTPUTF8.clone(linesep="\r\n")
# What str.splitlines() ends a line at: none of it may be in an address or a msg-id.
_LINE_BREAK = re.compile("[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


class Suppression(enum.StrEnum):
    """The loop-safety rules that keep a row from being sent."""

    ANSWERS_MACHINE_MAIL = "answers-machine-mail"
    AUTOREPLY_DAILY_CAP = "autoreply-daily-cap"
    OWN_SERVICE_ADDRESS = "own-service-address"
    AUTOREPLY_TO_OWN_DOMAIN = "autoreply-to-own-domain"
    RECIPIENT_BOUNCED = "recipient-bounced"


class AttemptOutcome(enum.StrEnum):
    """What an `OutboxAttempt` row records: a relay answer or a delivery report."""

    SENT = "sent"
    DEFERRED = "deferred"  # 4xx or no connection: tried again later
    FAILED = "failed"  # 5xx, or the last allowed attempt failed
    INTERRUPTED = "interrupted"  # the relay stopped mid-send; the row was queued again
    BOUNCED = "bounced"  # a DSN reporting permanent failure (RFC 3464 action=failed)
    DELAYED = "delayed"  # a DSN reporting a delay: recorded only
    REPORTED = "reported"  # any other report to the VERP address: recorded only


_RECIPIENT_REFUSED = re.compile(r"5\.[12]\.\d{1,3}\b")


@dataclasses.dataclass(frozen=True)
class Answer:
    """The relay's answer to one message; `code` is None when there was no answer."""

    code: int | None
    response: str
    relay_problem: bool = False  # the relay, not this message, is the trouble
    unsendable: bool = False  # this message cannot go out this way: no retry helps

    @property
    def recipient_refused(self) -> bool:
        """A 5xx that refuses this recipient for good (RFC 3463 5.1.x addressing, 5.2.x
        mailbox): the receiving side's verdict, as a bounce would report it, not a
        trouble of ours (a relay that refuses us, a message we cannot send)."""
        if self.code is None or not 500 <= self.code < 600:
            return False
        if self.relay_problem or self.unsendable:
            return False
        return _RECIPIENT_REFUSED.match(self.response) is not None

    @property
    def outcome(self) -> AttemptOutcome:
        if self.unsendable:
            return AttemptOutcome.FAILED
        if self.code is not None and 200 <= self.code < 300:
            return AttemptOutcome.SENT
        if self.code is not None and 500 <= self.code < 600 and not self.relay_problem:
            return AttemptOutcome.FAILED
        return AttemptOutcome.DEFERRED


@dataclasses.dataclass(frozen=True)
class Enqueued:
    """What `enqueue` decided for a mail: its row, found by `message_id` once written,
    has this `status`, and `reason` says why when that is `suppressed` or `failed`."""

    message_id: str
    status: OutboxStatus
    reason: str | None


def enqueue(
    session: Session,
    mail: OutgoingMail,
    config: Config,
    now: datetime,
    send_at: datetime | None = None,
) -> Enqueued:
    """Store `mail` as an outbox row in the caller's unit of work; the caller commits.

    The row is `queued` (due at `send_at`, by default `now`, the time it is dated)
    or, when a loop-safety rule fires, `suppressed` with the rule in
    `suppressed_reason`: it is then never sent. A
    recipient that cannot be written (a domain that IDNA cannot encode) gives a
    `failed` row with the reason in `last_error`, rather than an exception that would
    undo the caller's whole unit of work. A mail about a case continues its recipient's
    thread of the case (`in_thread`), as stored in the row. The row's recipient is the
    address as sent (`wire_address`): the daily cap counts "user@bücher.example" and
    "user@xn--bcher-kva.example" as one address.
    """
    domain = config.siegel.domain
    if not config.secret_bytes:
        raise ValueError("[siegel] secret is empty: call config.ensure_secret() first")
    check_header_values(mail)
    message_id = f"<siegel.{uuid.uuid4().hex}@{domain}>"
    undeliverable = None
    try:
        mail = dataclasses.replace(mail, to=wire_address(mail.to))
    except ValueError as error:
        undeliverable = f"undeliverable address: {error}"
    reason = _suppression(session, mail, config, now)
    status = OutboxStatus.QUEUED
    if reason:
        status = OutboxStatus.SUPPRESSED
    elif undeliverable:
        status = OutboxStatus.FAILED
    if mail.case_ref:
        threads = _cache(session, _Threads)
        mail = in_thread(mail, threads.earlier(mail.case_ref, mail.to))
        if status == OutboxStatus.QUEUED:
            threads.add(mail.case_ref, mail.to, message_id, mail.kind)
    # A Core insert with the unit of work's other new rows: an ORM object per mail
    # costs more to build and flush than the rest of enqueueing it.
    values = {
        "message_id": message_id,
        "recipient": mail.to,
        "payload": _payload(mail),
        "kind": mail.kind,
        "auto_reply": mail.auto_reply,
        "case_ref": mail.case_ref,
        "in_reply_to_mail": mail.in_reply_to_mail,
        "status": status,
        "suppressed_reason": reason,
        "last_error": None if reason else undeliverable,
        "created_at": now,
        "next_attempt_at": send_at or now,
    }
    storage.insert_later(session, OutboxMail, values)
    if reason:
        log.warning("outbox %s to %s suppressed: %s", mail.kind, addresses.redact(mail.to), reason)
    elif undeliverable:
        log.warning("outbox %s failed: %s", mail.kind, addresses.redact(undeliverable))
    return Enqueued(message_id, status, reason or undeliverable)


def render(
    mail: OutgoingMail,
    message_id: str,
    domain: str,
    now: datetime,
    source: bytes | None = None,
) -> bytes:
    """The complete RFC 5322 message with CRLF line endings; 7-bit clean unless the
    recipient's local part is non-ASCII (then its headers are UTF-8, RFC 6532).

    Every header is built here, and only here: the subject and the recipient's
    display name pass `header_text` (bidi and control characters removed, line
    breaks made spaces), the recipient `wire_address`. Built with the `email.mime`
    classes: the stdlib's policy-based `EmailMessage` costs about ten times as much
    per mail. `source` is the raw stored mail whose attachments `mail` carries
    (`mail.attachments_from`); the text and HTML then travel in a multipart/mixed
    with them.
    """
    check_header_values(mail)
    try:
        to = wire_address(mail.to)
    except ValueError:
        to = mail.to.strip()  # enqueue stores such a row failed: it is never sent
    international = not to.isascii()
    subject = header_text(mail.subject)
    text = MIMEText(mail.text, "plain", _charset=_QP_UTF8)
    if mail.html is None:
        message: Message = text
    else:
        # The boundary from the Message-ID: rendering the row again gives the same bytes.
        boundary = "=_siegel_" + hashlib.sha256(message_id.encode()).hexdigest()[:32]
        message = MIMEMultipart("alternative", boundary=boundary)
        for part in (text, MIMEText(mail.html, "html", _charset=_QP_UTF8)):
            del part["MIME-Version"]  # belongs to the top level only (RFC 2045 §4)
            message.attach(part)
    enclosed = _enclosures(mail, source)
    if enclosed:
        digest = hashlib.sha256(message_id.encode()).hexdigest()[:32]
        body, message = message, MIMEMultipart("mixed", boundary=f"=_siegel_mixed_{digest}")
        del body["MIME-Version"]
        for part in (body, *enclosed):
            message.attach(part)
    message["From"] = formataddr((SENDER_NAME, f"{SENDER_LOCAL}@{domain}"))
    message["To"] = _mailbox(header_text(mail.to_name or ""), to, international)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    # Non-ASCII becomes RFC 2047 encoded words; in a UTF-8 message it stays UTF-8.
    message["Subject"] = (
        Header(subject, _B_UTF8) if not (subject.isascii() or international) else subject
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
    # Quoted-printable keeps the body 7-bit, so no relay needs 8BITMIME for it.
    return message.as_bytes(policy=_WIRE_UTF8 if international else _WIRE)


def _enclosures(mail: OutgoingMail, source: bytes | None) -> list[Message]:
    """The parts of `mail.attachments`, their bytes taken from `source` (the stored mail
    they belong to) as the parser finds them there; one the parser no longer finds at
    its place (another size), or that cannot be written, is left out and logged: the
    forward itself must go out."""
    if not mail.attachments:
        return []
    if source is None:
        raise ValueError(f"the attachments of mail {mail.attachments_from} are needed")
    parsed = parsing.parse(source)
    parts = []
    for attachment in mail.attachments:
        index = attachment.index
        if index >= len(parsed.attachment_parts) or (
            parsed.attachments[index].get("size") != attachment.size
        ):
            log.warning(
                "attachment %s of mail %s not found as listed: left out",
                index,
                mail.attachments_from,
            )
            continue
        try:
            parts.append(_enclosure(attachment, parsed.attachment_parts[index]))
        except Exception:
            why = "attachment %s of mail %s cannot be written: left out"
            log.exception(why, index, mail.attachments_from)
    return parts


def _enclosure(attachment: Attachment, original: Message) -> Message:
    """One attachment as sent: its bytes from `original` in base64 (an attached mail
    that is 7-bit as message/rfc822, RFC 2046 §5.2.1, else as an .eml file), under its
    name and type (a text type keeps its charset), always ``attachment``."""
    content_type, name = attachment.content_type, attachment.filename
    inner = original.get_payload()
    if content_type == "message/rfc822" and isinstance(inner, list) and inner:
        data = inner[0].as_bytes(policy=_WIRE)
        if data.isascii():
            part = MIMEMessage(inner[0])
            del part["MIME-Version"]
            part["Content-Disposition"] = _disposition(name)
            return part
        content_type = "application/octet-stream"
        name = name if (name or "").lower().endswith(".eml") else f"{name or 'message'}.eml"
    else:
        payload = original.get_payload(decode=True)  # as the parser measured it
        data = payload if isinstance(payload, bytes) else b""
    part = Message()
    charset = original.get_content_charset() if content_type.startswith("text/") else None
    params = f"; charset={charset}" if charset and _TOKEN.fullmatch(charset) else ""
    if name:
        params += ";\n\t" + _rfc2047_param("name", name)
    part["Content-Type"] = content_type + params
    part["Content-Transfer-Encoding"] = "base64"
    part["Content-Disposition"] = _disposition(name)
    part.set_payload(encodebytes(data).decode("ascii"))
    return part


_TOKEN = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}")
# RFC 2231 attribute-char: a token character other than "*", "'" and "%".
_ATTRIBUTE_CHARS = "!#$&+-.^_`|~"
# Characters of a parameter's value per header line: with "\tfilename*NN*=" and ";"
# no line grows past 78 (RFC 5322 §2.1.1); the first also holds "utf-8''".
_PIECE_CHARS = (50, 60)


def _disposition(name: str | None) -> str:
    """``attachment`` with `name` as RFC 2231 ``filename``: a quoted string when it is
    short ASCII, else percent-encoded UTF-8 (``filename*=utf-8''...``), in numbered
    continuations (``filename*0*=...``) when long, each ending on a whole character."""
    if not name:
        return "attachment"
    if name.isascii() and len(name) <= _PIECE_CHARS[0]:
        return "attachment;\n\tfilename=" + _quoted(name)
    pieces = [""]
    for character in name:
        encoded = urllib.parse.quote(character.encode("utf-8"), safe=_ATTRIBUTE_CHARS)
        if len(pieces[-1]) + len(encoded) > _PIECE_CHARS[len(pieces) > 1]:
            pieces.append("")
        pieces[-1] += encoded
    if len(pieces) == 1:
        return f"attachment;\n\tfilename*=utf-8''{pieces[0]}"
    pieces[0] = "utf-8''" + pieces[0]
    values = [f"filename*{number}*={piece}" for number, piece in enumerate(pieces)]
    return "attachment;\n\t" + ";\n\t".join(values)


def _rfc2047_param(attribute: str, value: str) -> str:
    """``name="..."`` for the Content-Type: the value quoted, as RFC 2047 encoded words
    when it is not ASCII (what clients that read no RFC 2231 show)."""
    if value.isascii():
        return f"{attribute}={_quoted(value)}"
    words = Header(value, _B_UTF8, maxlinelen=72, header_name=attribute).encode(linesep="\n")
    return f'{attribute}="{words}"'


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def check_header_values(mail: OutgoingMail) -> None:
    """Refuse header values that would break the message (checked at `enqueue`, so that
    a mail that could never be rendered fails the unit of work that wrote it)."""
    for value in (mail.to, mail.reply_to or "", mail.in_reply_to or "", *mail.references):
        if _LINE_BREAK.search(value):
            raise ValueError("header values must not contain line breaks")


def _mailbox(name: str, address: str, international: bool) -> str:
    """The To header's mailbox: `address`, with `name` quoted or encoded when given."""
    if not name:
        return address
    if not international:
        return formataddr((name, address), charset=_B_UTF8)
    local, _, domain = address.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


BULK_KINDS = frozenset(
    {
        "merchant.monthly_report",
        "operator.monthly_report",
        *(f"merchant.{kind}" for kind in lifecycle_notices.Kind),
    }
)
"""Mails the nightly run writes to every shop at once: the relay sends them after every
other due mail, so that a customer's acknowledgement does not wait behind thousands."""

STAFF_KINDS = ("mediator", "operator", "merchant")
"""Templates (`kind` prefixes) of mails to our own staff and to a registered shop's
support address about its cases: capped by `[outbox] max_staff_mails_per_day`, not by
the limit for anyone who writes to us. A busy shop gets dozens a day (a busy day
silenced its notices at 10), and forged mail in its name, answered by `sender.*`
notices, must not use its cap up. Every automatic mail to a registered support address
has that cap, whatever its template: the shop's own notices ("write to your case
address") must not fall silent after the day's confirmations."""

RESUMES_AFTER_BOUNCE = ("merchant.complaint_forwarded",)
"""Templates that go to an address even though a mail of their case bounced there, and
lift that block: the forward of the complaint, which after a bounce only the operator's
correction of the shop's address sends again (`mediation.bounces.forward_again`)."""


def _suppression(session: Session, mail: OutgoingMail, config: Config, now: datetime) -> str | None:
    if mail.auto_reply and mail.answers_machine_mail:
        return f"{Suppression.ANSWERS_MACHINE_MAIL}: the mail this answers was machine mail"
    if _is_own_service_address(mail.to, config):
        return f"{Suppression.OWN_SERVICE_ADDRESS}: would loop back into our own intake"
    if mail.auto_reply and _is_at_own_domain(mail.to, config, session):
        return (
            f"{Suppression.AUTOREPLY_TO_OWN_DOMAIN}: an automatic answer to an address at "
            "our own domain would answer ourselves"
        )
    if mail.case_ref and mail.kind not in RESUMES_AFTER_BOUNCE:
        # A permanent failure there: another mail of the case would bounce again.
        bounced = _cache(session, _Threads).bounced_row(mail.case_ref, mail.to)
        if bounced is not None:
            return (
                f"{Suppression.RECIPIENT_BOUNCED}: outbox {bounced} of this case to this "
                "address bounced"
            )
    if mail.auto_reply:
        cap = config.outbox.max_autoreplies_per_day
        if mail.kind.partition(".")[0] in STAFF_KINDS or storage.is_support_address(
            session, mail.to
        ):
            cap = config.outbox.max_staff_mails_per_day
        counts = _cache(session, _AutoReplyCounts, now)
        recent = counts.sent_to(mail.to)
        if recent >= cap:
            return (
                f"{Suppression.AUTOREPLY_DAILY_CAP}: {recent} automatic replies to this "
                f"address within 24 hours (limit {cap})"
            )
        counts.add(mail.to)
    return None


class _AutoReplyCounts:
    """Automatic replies per recipient within the cap's window, for one transaction.

    Each recipient is counted in the database once per transaction (under its lock on
    PostgreSQL, held until commit) and then counted on here as this transaction adds
    rows: every outbox row passes `enqueue`, so the count stays exact, while a batch
    of mails costs one query rather than one per mail (`prefetch_autoreply_counts`).
    """

    def __init__(self, session: Session, now: datetime) -> None:
        self.session = session
        self.since = now - AUTOREPLY_WINDOW
        self.counts: dict[str, int] = {}

    def load(self, recipients: Iterable[str]) -> None:
        wanted = sorted({r.lower() for r in recipients} - self.counts.keys())
        if not wanted:
            return
        _lock_recipients(self.session, wanted)
        recipient = func.lower(OutboxMail.recipient)
        rows = self.session.execute(
            select(recipient, func.count())
            .where(
                recipient.in_(wanted),
                OutboxMail.auto_reply.is_(True),  # type: ignore[attr-defined]
                OutboxMail.status != OutboxStatus.SUPPRESSED,
                OutboxMail.created_at > self.since,  # type: ignore[operator]
            )
            .group_by(recipient)
        )
        self.counts.update(dict.fromkeys(wanted, 0))
        self.counts.update({address: count for address, count in rows})

    def sent_to(self, recipient: str) -> int:
        self.load([recipient])
        return self.counts[recipient.lower()]

    def add(self, recipient: str) -> None:
        self.counts[recipient.lower()] += 1


# Message-IDs we did not, or could not, deliver: no thread continues from them.
_UNSENT = (OutboxStatus.SUPPRESSED, OutboxStatus.FAILED, OutboxStatus.BOUNCED)


class _Threads:
    """Our Message-IDs per case and recipient, oldest first, and the recipients a mail
    of the case bounced at, for one transaction.

    Each case is read once per transaction (one query on the indexed `case_ref`, for all
    its recipients) and then kept up to date here as this transaction adds rows and
    records bounces: every outbox row passes `enqueue`, every bounce `record_bounce`, so
    the second mail of a unit of work to a recipient answers the first. Rows that were
    never delivered (`_UNSENT`) are left out of the threads. A recipient is blocked by
    its latest bounced row unless a forward of the complaint (`RESUMES_AFTER_BOUNCE`)
    was written to it after that row.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sent: dict[str, dict[str, list[str]]] = {}
        self.bounced: dict[str, dict[str, int]] = {}

    def _load(self, case_ref: str) -> None:
        if case_ref in self.sent:
            return
        sent: dict[str, list[str]] = {}
        bounced: dict[str, int] = {}
        self.sent[case_ref], self.bounced[case_ref] = sent, bounced
        if storage.opened_here(self.session, case_ref):
            return  # a case opened in this unit of work has no mail before it
        # Without autoflush: this transaction's rows of the case are all counted
        # here (`add`) before any is written, and a flush per mail would write the
        # unit of work's other rows one mail at a time.
        with self.session.no_autoflush:
            rows = self.session.execute(
                select(
                    OutboxMail.id, OutboxMail.recipient, OutboxMail.message_id,
                    OutboxMail.status, OutboxMail.kind,
                )
                .where(OutboxMail.case_ref == case_ref)
                .order_by(OutboxMail.id)  # type: ignore[arg-type]
            )  # fmt: skip
        for row_id, address, message_id, status, kind in rows:
            address = address.lower()
            if status == OutboxStatus.BOUNCED:
                bounced[address] = row_id
            elif kind in RESUMES_AFTER_BOUNCE and status not in _UNSENT:
                bounced.pop(address, None)
            if status not in _UNSENT:
                sent.setdefault(address, []).append(message_id)

    def earlier(self, case_ref: str, recipient: str) -> list[str]:
        self._load(case_ref)
        return self.sent[case_ref].get(recipient.lower(), [])

    def bounced_row(self, case_ref: str, recipient: str) -> int | None:
        """The row of the case whose bounce blocks `recipient`, or None."""
        self._load(case_ref)
        return self.bounced[case_ref].get(recipient.lower())

    def add(self, case_ref: str, recipient: str, message_id: str, kind: str) -> None:
        self._load(case_ref)
        self.sent[case_ref].setdefault(recipient.lower(), []).append(message_id)
        if kind in RESUMES_AFTER_BOUNCE:
            self.bounced[case_ref].pop(recipient.lower(), None)

    def bounce(self, row: OutboxMail) -> None:
        """`row` bounced in this transaction: no thread continues from it, and its
        recipient is blocked in its case."""
        assert row.case_ref is not None and row.id is not None
        self._load(row.case_ref)
        address = row.recipient.lower()
        ours = self.sent[row.case_ref].get(address, [])
        if row.message_id in ours:
            ours.remove(row.message_id)
        self.bounced[row.case_ref][address] = row.id

    def unbounce(self, row: OutboxMail) -> None:
        """`row`'s bounce was not believed: it blocks nothing and is sent again."""
        assert row.case_ref is not None
        self._load(row.case_ref)
        address = row.recipient.lower()
        if self.bounced[row.case_ref].get(address) == row.id:
            del self.bounced[row.case_ref][address]
        self.sent[row.case_ref].setdefault(address, []).append(row.message_id)


_TRANSACTION_CACHES = (_AutoReplyCounts, _Threads)
_Cache = TypeVar("_Cache", _AutoReplyCounts, _Threads)


def _cache(session: Session, kind: Callable[..., _Cache], *args: object) -> _Cache:
    """This transaction's `kind` (one of `_TRANSACTION_CACHES`), made on first use."""
    cache = session.info.get(kind)
    if cache is None:
        cache = session.info[kind] = kind(session, *args)
    return cache


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_caches(session: Session, transaction: SessionTransaction) -> None:
    """The caches hold for one transaction: the next one counts (and locks) afresh."""
    if transaction.parent is None:
        for kind in _TRANSACTION_CACHES:
            session.info.pop(kind, None)


def prefetch_autoreply_counts(session: Session, recipients: Iterable[str], now: datetime) -> None:
    """Count the recent automatic replies to all of `recipients` in one query (and, on
    PostgreSQL, take their locks in one sorted statement), for a batch of mails."""
    wire = []
    for recipient in recipients:
        try:
            wire.append(wire_address(recipient))
        except ValueError:
            continue
    _cache(session, _AutoReplyCounts, now).load(wire)


def _lock_recipients(session: Session, recipients: Sequence[str]) -> None:
    """On PostgreSQL, serialise the cap's count-then-insert per recipient until commit.

    Without it two workers enqueueing to one address at the same moment would both
    count below the cap and both insert. SQLite has one writer at a time already. A
    hash collision only makes two addresses wait for each other. The locks of a batch
    are taken in one statement in sorted order; a unit of work that needs another
    recipient later takes its lock then, so two workers can still meet in opposite
    order: PostgreSQL then aborts one, and its batch is retried mail by mail."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not recipients:
        return
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(:class_id, hashtext(recipient))"
            " FROM unnest(CAST(:recipients AS text[])) AS recipient ORDER BY recipient"
        ),
        {"class_id": AUTOREPLY_CAP_LOCK, "recipients": sorted(recipients)},
    )


def _is_own_service_address(address: str, config: Config) -> bool:
    """Complaint, case and bounce addresses are ours: mail to them would come back in."""
    try:
        recipient = addresses.parse_recipient(config.secret_bytes, config.siegel.domain, address)
    except addresses.AddressError:
        return False
    return recipient.kind is not addresses.Kind.OPERATOR


def _is_at_own_domain(address: str, config: Config, session: Session | None = None) -> bool:
    """Whether `address` is at our domain itself (any case, trailing dot, Unicode or
    A-labels); a subdomain is someone else's.

    Our own addresses (service, postmaster, abuse, complaint, case and bounce
    addresses) always count. A person configured as mediator or operator at our
    domain, or registered as a mediator record (`siegel mediator add`, read through
    `session`), under a local part of their own (not one of the address scheme) does
    not: answers to people we deliberately mail are not answers to ourselves.
    """
    try:
        local, domain = addresses.split_address(address)
        ours = ascii_domain(config.siegel.domain)
        if ascii_domain(domain) != ours:
            return False
    except (addresses.AddressError, ValueError):
        return False
    people = {a.strip().lower() for a in (*config.mediation.mediators, config.mediation.operator)}
    if session is not None and not people & {f"{local}@{domain}", f"{local}@{ours}"}:
        people |= {record.address for record in mediator_store.records(session)}
    if f"{local}@{domain}" not in people and f"{local}@{ours}" not in people:
        return True
    try:
        addresses.parse_recipient(config.secret_bytes, ours, f"{local}@{ours}")
    except addresses.AddressError:
        return False  # a configured person, not one of our scheme's addresses
    return True


def record_bounce(
    session: Session, outbox_id: int, bounce_mail_id: int, detail: dict, now: datetime
) -> OutboxMail | None:
    """Record a delivery report on row `outbox_id` (that came back to its VERP address,
    or names it otherwise: `mailflow.delivery_reports`).

    `detail` holds the per-recipient fields of the report (RFC 3464 §2.3) as far as
    they are known: `action` (failed, delayed, delivered, relayed, expanded),
    `status` (e.g. "5.1.1") and `diagnostic_code`; it is stored as given. Only a
    permanent failure (action "failed": the MTA gave up, whatever its status; or else a
    5.x.x status) marks the row `bounced`, once: `bounce_mail` is the report that did,
    a second report is recorded and changes nothing, as do a delay and anything else.
    A bounced row of a case blocks further mail of the case to its address (see
    `_Threads`). Returns the row, or None when no such row exists.
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
    if outcome is AttemptOutcome.BOUNCED and row.status not in _NOT_BOUNCING:
        row.status = OutboxStatus.BOUNCED
        row.bounce_mail = bounce_mail_id
        row.last_error = f"bounced: {diagnostic or 'permanent failure'}"[:_RESPONSE_LIMIT]
        session.add(row)
        if row.case_ref:
            _cache(session, _Threads).bounce(row)
        log.warning("outbox %s bounced (mail %s): %s", outbox_id, bounce_mail_id, diagnostic)
    return row


def report_not_believed(session: Session, row: OutboxMail) -> None:
    """The case does not believe the report that marked `row` bounced (a forged one, by
    its evidence): the row counts as sent again and blocks no mail of its case; the
    report stays among its attempts."""
    if row.status != OutboxStatus.BOUNCED:
        return
    row.status = OutboxStatus.SENT
    row.last_error = f"report not believed: {row.last_error}"[:_RESPONSE_LIMIT]
    session.add(row)
    if row.case_ref:
        _cache(session, _Threads).unbounce(row)


# A row never sent cannot bounce; one that bounced keeps its first report.
_NOT_BOUNCING = (OutboxStatus.SUPPRESSED, OutboxStatus.BOUNCED)


def rows_with_message_id(session: Session, message_id: str) -> list[int]:
    """The rows that sent a mail with `message_id` (one, as we make them), by id."""
    query = select(OutboxMail.id).where(OutboxMail.message_id == message_id)
    return list(session.scalars(query.order_by(OutboxMail.id)))  # type: ignore[arg-type]


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


def message(row: OutboxMail, config: Config, session: Session | None = None) -> bytes:
    """The complete message of an outbox row as the relay sends it (before DKIM signing):
    rendered from the row's payload, the same bytes each time (a resend after a crash
    carries the same Message-ID, Date and MIME boundaries). A row that carries a stored
    mail's attachments reads that mail through `session`."""
    if row.payload is None:
        return row.raw
    # Fields of the mail as this version knows them: a row written by an older or newer
    # version (a field added since, or dropped) still renders.
    values = {key: value for key, value in row.payload.items() if key in _MAIL_FIELDS}
    values["references"] = tuple(values.get("references") or ())
    values["attachments"] = tuple(map(Attachment.from_json, values.get("attachments") or ()))
    mail = OutgoingMail(**values)
    source = None
    if mail.attachments:
        if session is None:
            raise ValueError(f"outbox row {row.id} carries attachments: pass a session")
        stored = session.get(StoredMail, mail.attachments_from)
        if stored is None:
            raise LookupError(f"mail {mail.attachments_from} with the attachments is gone")
        source = stored.raw
    return render(mail, row.message_id, config.siegel.domain, row.created_at, source)


_MAIL_FIELDS = tuple(field.name for field in dataclasses.fields(OutgoingMail))
"""What a row's payload keeps of an `OutgoingMail` (and all `message` reads back)."""


def _payload(mail: OutgoingMail) -> dict[str, object]:
    return {name: getattr(mail, name) for name in _MAIL_FIELDS} | {
        "references": list(mail.references),
        "attachments": [attachment.to_json() for attachment in mail.attachments],
    }


def envelope_sender(row: OutboxMail, config: Config) -> str:
    """The row's VERP envelope sender: a delivery report to it names the row (by its id,
    so it is made when the row is sent, not stored when the row is written)."""
    assert row.id is not None
    return row.envelope_from or addresses.bounce_address(
        config.secret_bytes, config.siegel.domain, row.id
    )
