"""Machine mail: recognise bounces, delay warnings, receipts, auto-replies, lists and loops.

Owns `detect(message, envelope_from, loop_domain) -> MachineVerdict | None`, a pure
function over a stdlib `email.message.Message` (as `mailflow.parsing` leaves it) and the
SMTP envelope sender. `RULES` is an ordered table of small named rules; every rule is
evaluated and recorded in `rules_fired`, the first one that fired decides the kind.

The order is by specificity. Our own loop header comes first. Then the standard
reports, whose structure names what they are: RFC 3464 delivery status notifications,
RFC 8098 read receipts and RFC 5965 abuse feedback. Then `bounce-heuristic`, the
non-standard bounces (sender MAILER-DAEMON, subjects such as "Undeliverable:"), placed
before the generic auto-reply headers because many MTAs put `Auto-Submitted` on their
bounces too and a bounce must be known as a bounce. Then the RFC 3834 and vendor
auto-reply headers, bulk and list markers (a newsletter's `List-Unsubscribe` among
them), an empty return path, and finally a sender whose address says that nobody reads
it (`noreply-sender`).

A `noreply@`, `no-reply@`, `donotreply@` sender is a shop's or a ticket system's
notification (order, shipping, invoice) far more often than a person, and nobody can answer
it; but some helpdesks send their agents' answers from such an address too, with a
Reply-To to the team (the table in `tests/test_auto_reply_table.py` has two). So the sender
settles the mail as machine mail unless its own text carries a person's answer by the text
rules of `classifier.autoreply` (an action taken or promised, a helpdesk's wrapper of an
agent's answer): decisive, not merely evidence, because the model reads a shipping notice
("Ihre Sendung ist unterwegs") as a person's mail, and the sender is what says otherwise.

`X-Auto-Response-Suppress` (MS-OXCMAIL 2.1.3.2.20) is a request not to answer, not a
statement that the mail is automatic: helpdesks, CRMs and Exchange distribution lists
put `OOF`, `AutoReply`, `DR`, `RN`, `NRN` on mail that people wrote (Jitbit lost real
tickets filtering on it; GLPI issue #2170 saw Exchange add it on distribution-list
mail). Ordinary Outlook mail carries none. Only `All`, which Exchange stamps on its own
out-of-office notes and reports, counts, and even it only as `Precedence: bulk` does:
helpdesks put either on their agents' answers to keep out-of-office notes away, so a
mail whose own text carries a person's answer by the text rules (an action taken or
promised) is a person's despite them. Exchange's own notes carry its other headers
too (`exchange-generated`, `Auto-Submitted`), which stay decisive.

Some helpdesks stamp `Auto-Submitted: auto-generated` and `X-Auto-Response-Suppress: All`
on every mail they send, their agents' answers included: Zendesk documents the pair among
the headers of all its outbound mail, and real agent answers carry it. On such mail the
two headers say nothing about whether a person wrote it, so they do not count; the text
rules and the model (`classifier.autoreply`, `classifier.classify`) tell its ticket
acknowledgements from its agents' answers. Otherwise a merchant answering from Zendesk
could never stop its clock.

Kinds: `loop`, `bounce` (the MTA gave up), `delay` (it is still retrying), `read_receipt`,
`feedback_report`, `auto_reply`, `bulk`, `list`, and `delivery_report` for an RFC 3464
report that only says delivered/relayed (a success notice: machine mail, but no
failure to record against an outbox row).

`envelope_from` must be None when the intake does not know the envelope sender (a
file piped in without one, an IMAP mail without Return-Path): "" means the null
sender, which `null-sender` counts as automatic.

Patterns are plain substrings or regular expressions without nested repetition, run on
bounded slices, so the time is linear in the size of the mail.
"""

from __future__ import annotations

import email.policy
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from functools import cached_property
from typing import Any

LOOP_HEADER = "X-Siegel-Loop"

KINDS = (
    "loop", "bounce", "delay", "delivery_report", "read_receipt", "feedback_report",
    "auto_reply", "bulk", "list",
)  # fmt: skip

_MAX_WALK_PARTS = 200
_MAX_BODY_CHARS = 64 * 1024
_MAX_BODY_LINES = 150
_MAX_RECIPIENTS = 50
_MAX_VALUE_CHARS = 300
_MAX_TEXT_PARTS = 3

_STATUS_CODE = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}")
_TAG = re.compile(r"<[^<>]{0,2000}>")
_HTML_TAG = re.compile(r"<[^<>]{0,2000}>")
_HEADER_LINE = re.compile(r"(?:received|return-path|message-id|x-[a-z-]{1,40}):\s", re.I)
# An SMTP reply code where a bounce text quotes the receiving server ("said: 550 ...").
_SMTP_REPLY = re.compile(r"(?:^|[\s:(])([45]\d\d)[ -](?!\d)")
# A Message-ID header line of the returned mail as a bounce quotes it in its text.
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t]{0,8}message-id:[ \t]{0,8}(<[^<>\s]{1,250}>)", re.I | re.M)

# Subjects of non-standard bounces, lower-cased, matched at the start (RFC 3464 reports
# are recognised by their structure instead). German Exchange and Notes write
# "Unzustellbar:" / "Nicht zustellbar:"; without the colon these are words a customer
# uses about a parcel, so the colon is required.
_BOUNCE_SUBJECTS = (
    "undelivered mail", "undeliverable", "unzustellbar:", "nicht zustellbar:",
    "delivery status notification", "delivery notification:", "failure notice",
    "returned mail", "mail delivery failed", "mail delivery failure", "mail delivery problem",
    "mail system error", "failed mail", "mail not delivered", "mail failed",
    "message delivery failure", "non-delivery", "nondeliverable", "permanent delivery failure",
    "delivery failure notification", "automatically rejected mail",
    "warning: could not send message", "mail delivery warning", "delayed mail",
    "message delayed", "warning: message", "mail could not be delivered",
    "message could not be delivered",
)  # fmt: skip
# Weaker evidence, enough only together: a subject that speaks of failed delivery
# anywhere, and a text that speaks of failed recipients like an MTA does. The phrases
# name a message or recipients, never a parcel ("konnte nicht zugestellt werden" alone
# is what customers write about deliveries).
_FAILURE_SUBJECT_WORDS = (
    "delivery failure", "delivery failed", "not delivered", "could not be delivered",
    "undeliverable", "nicht zugestellt", "zustellung fehlgeschlagen",
)  # fmt: skip
_FAILURE_TEXT_PHRASES = (
    "following recipient", "failed recipient", "could not deliver message",
    "your message could not be delivered", "permanent fatal error", "delivery to the following",
    "message could not be delivered to", "nachricht konnte nicht zugestellt",
    "nachricht konnte nicht an", "folgenden empfänger",
)  # fmt: skip
# Subjects that say the mail is still being retried: a delay warning, not a bounce.
_DELAY_SUBJECTS = (
    "(delay)", "delayed", "warning: could not send", "mail delivery warning",
    "not yet been delivered",
)  # fmt: skip
_DELAY_PHRASES = (
    "will continue to", "attempts will continue", "will keep trying", "still being retried",
    "will be retried", "not yet been delivered", "will retry", "wird weiterhin versucht",
)  # fmt: skip
# Lines after which a bounce quotes the returned mail: addresses there are not failures.
_COPY_MARKERS = (
    "copy of the message", "original message follows",
    "original message --", "-- original message", "returned message", "message header follows",
    "message headers follow", "below this line", "unsent message below", "the header and top",
    "headers of the original", "kopie der nachricht", "ursprüngliche nachricht",
)  # fmt: skip
_MAILER_LOCAL_PARTS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "mdaemon"})
_NOT_FAILED_LOCAL_PARTS = _MAILER_LOCAL_PARTS | {"postmaster"}
_MAILER_NAMES = frozenset(
    {"mail delivery system", "mail delivery subsystem", "mail delivery service",
     "mailer-daemon", "mailer daemon", "delivery subsystem", "mail administrator"}
)  # fmt: skip
_AUTOREPLY_HEADERS = (
    "X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autoresponse", "X-Auto-Reply",
    "X-AutoReply-From", "X-Mail-Autoreply", "X-Autogenerated", "X-Vacation", "X-Cron-Env",
)  # fmt: skip
_FALSE_VALUES = frozenset({"no", "false", "0", "off"})
# Local parts (lower case) of mailboxes that nobody reads, also with a prefix or suffix
# ("shop-noreply", "noreply+orders", "no_reply.versand"): "no reply" and "do not reply" in
# English, German and French, and the autoresponders' own names; the forms with a
# separator only as words of their own ("bruno.reply" is a person).
_NOREPLY_LOCAL_PART = re.compile(
    r"noreply|donotreply|dontreply|keineantwort|nichtantworten|nepasrepondre"
    r"|(?:^|[._+-])(?:no|do[._-]not|dont|keine|nicht|ne[._-]pas)[._-](?:reply|antwort|antworten"
    r"|repondre)(?:$|[._+-])|(?:^|[._+-])auto[._-]?(?:reply|responder|response|mailer)(?:$|[._+-])"
)
# Headers (and a lower-case part of their value, "" for any) by which a helpdesk that
# stamps its agents' answers as automatic is known (see the module docstring).
_STAMPING_HELPDESKS = (("X-Zendesk-From-Account-Id", ""), ("X-Mailer", "zendesk mailer"))
# Headers Exchange puts only on mail it generated itself (not its transport stamps
# X-MS-Exchange-Organization-*, which ride on every mail through Exchange).
_EXCHANGE_HEADERS = (
    ("X-MS-Exchange-Message-Is-Ndr", "bounce"),
    ("X-MS-Exchange-Generated-Message-Source", "auto_reply"),
)
_PRECEDENCE_KINDS = {"bulk": "bulk", "junk": "bulk", "list": "list", "auto_reply": "auto_reply"}
_DELIVERED_ACTIONS = frozenset({"delivered", "relayed", "expanded"})
# RFC 8098 3.2.6.2 "deleted", and the "denied"/"failed" of its predecessor RFC 3798.
_REJECTING_DISPOSITIONS = frozenset({"deleted", "denied", "failed"})


@dataclass(frozen=True)
class MachineVerdict:
    """What kind of machine mail this is, which rule decided and which rules fired."""

    kind: str
    rule: str
    rules_fired: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict, hash=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rule": self.rule,
            "rules_fired": list(self.rules_fired),
            "detail": dict(self.detail),
        }


@dataclass(frozen=True)
class Hit:
    """One rule's finding: the kind it implies and what it saw."""

    kind: str
    detail: dict[str, Any] = field(default_factory=dict, hash=False)


class Facts:
    """The parts of a mail the rules read, computed once per mail."""

    def __init__(self, message: Message, envelope_from: str | None, loop_domain: str) -> None:
        self.message = message
        self.envelope_from = envelope_from
        self.loop_domain = loop_domain.strip().lower()
        self.report_type = str(_safe(lambda: message.get_param("report-type"), "") or "")
        self.subject = " ".join(_decoded(self.first("Subject")).split())
        name, address = _first_address(self.first("From"))
        self.from_name = " ".join(_decoded(name).split()).strip("\"' ").lower()
        self.from_address = address.strip().lower()
        self.parts: list[Message] = _safe(lambda: list(_walk(message, False)), [message])
        self._deep_parts: list[Message] | None = None

    def values(self, name: str) -> list[str]:
        """All values of header `name`, unfolded, 8-bit bytes shown as U+FFFD."""
        found = _safe(lambda: self.message.get_all(name), None) or []
        return [" ".join(str(value).split())[:_MAX_VALUE_CHARS] for value in found]

    def first(self, name: str) -> str:
        values = self.values(name)
        return values[0] if values else ""

    @cached_property
    def answers_as_a_person(self) -> bool:
        """The text rules' reading (`_answers_as_a_person`), asked by several rules."""
        return _answers_as_a_person(self)

    def part(self, *content_types: str, deep: bool = False) -> Message | None:
        """The first part of one of `content_types`; `deep` looks into attached messages."""
        parts = self.parts
        if deep:
            if self._deep_parts is None:
                self._deep_parts = _safe(lambda: list(_walk(self.message, True)), self.parts)
            parts = self._deep_parts
        return next((p for p in parts if p.get_content_type() in content_types), None)


Rule = Callable[[Facts], Hit | None]


def detect(message: Message, envelope_from: str | None, loop_domain: str) -> MachineVerdict | None:
    """The machine-mail verdict for `message`, or None for mail a person wrote.

    `envelope_from` is the SMTP MAIL FROM ("" or "<>" for the null sender, None when
    unknown: then the `Return-Path` header stands in). `loop_domain` is our domain.
    """
    facts = Facts(message, envelope_from, loop_domain)
    fired: list[tuple[str, Hit]] = []
    for rule_id, rule in RULES:
        # A rule that trips over broken MIME counts as not fired; the others still decide.
        hit = _safe(lambda rule=rule: rule(facts), None)
        if hit is not None:
            fired.append((rule_id, hit))
    if not fired:
        return None
    rule_id, hit = fired[0]
    return MachineVerdict(hit.kind, rule_id, tuple(r for r, _ in fired), hit.detail)


# -- rules -----------------------------------------------------------------------------


def loop_header(facts: Facts) -> Hit | None:
    """Our own mail came back: it carries our loop header with our domain."""
    for value in facts.values(LOOP_HEADER):
        if facts.loop_domain and value.strip().lower() == facts.loop_domain:
            return Hit("loop", {"header": LOOP_HEADER, "value": value})
    return None


def dsn(facts: Facts) -> Hit | None:
    """RFC 3464 delivery status notification, also when not wrapped in multipart/report
    or when a gateway forwarded it inside another report."""
    declared = facts.report_type.lower() == "delivery-status"
    status_part = facts.part("message/delivery-status", deep=declared)
    if status_part is None and not declared:
        return None
    recipients = [_recipient(f) for f in _field_blocks(status_part)]
    recipients = [r for r in recipients if r["address"] or r["status"] or r["action"]]
    if recipients and all(r["action"] in _DELIVERED_ACTIONS for r in recipients):
        return Hit("delivery_report", _delivery_detail(facts, recipients, "delivery_report"))
    failed = [r for r in recipients if r["action"] not in _DELIVERED_ACTIONS]
    kind = "delay" if failed and all(_is_delay(r) for r in failed) else "bounce"
    return Hit(kind, _delivery_detail(facts, failed, kind))


def mdn(facts: Facts) -> Hit | None:
    """RFC 8098 message disposition notification: a read receipt, or, when a filter
    deleted the mail unread (how RFC 5429 Sieve `reject` answers), a rejection."""
    part = facts.part("message/disposition-notification")
    if part is None and facts.report_type.lower() != "disposition-notification":
        return None
    fields = _merged(_field_blocks(part)) if part is not None else {}
    disposition = fields.get("disposition", "")
    mode, _, kind = disposition.lower().partition(";")
    detail = {
        "disposition": disposition,
        "original_message_id": _message_id(fields.get("original-message-id", ""))
        or _original_message_id(facts),
        "final_recipient": _address_field(fields.get("final-recipient", "")),
    }
    automatic = mode.strip().startswith("automatic-action")
    if automatic and kind.strip().split("/")[0] in _REJECTING_DISPOSITIONS:
        recipient = detail["final_recipient"]
        detail.update(failed_recipients=[recipient] if recipient else [], temporary=False)
        return Hit("bounce", detail)
    return Hit("read_receipt", detail)


def arf(facts: Facts) -> Hit | None:
    """RFC 5965 abuse feedback report (a recipient pressed "this is spam")."""
    part = facts.part("message/feedback-report")
    if part is None and facts.report_type.lower() != "feedback-report":
        return None
    fields = _merged(_field_blocks(part)) if part is not None else {}
    return Hit(
        "feedback_report",
        {
            "feedback_type": fields.get("feedback-type", ""),
            "original_message_id": _original_message_id(facts),
            "original_rcpt_to": _address_field(fields.get("original-rcpt-to", "")),
        },
    )


def bounce_heuristic(facts: Facts) -> Hit | None:
    """A bounce in no standard format. One strong sign suffices (X-Failed-Recipients, a
    mailer-daemon sender, a bounce subject); weak signs (a postmaster sender, failure
    words in the subject, an MTA's phrasing in the text) count only two together.
    Recipients are read from X-Failed-Recipients or the text above the returned mail."""
    header = ", ".join(facts.values("X-Failed-Recipients"))
    text = _report_text(facts)
    subject = facts.subject.lower()
    opening = "\n".join(text.lower().splitlines()[:60])
    strong = {
        "x-failed-recipients": bool(header),
        "mailer-daemon": _local_part(facts.from_address) in _MAILER_LOCAL_PARTS
        or facts.from_name in _MAILER_NAMES
        or _local_part(_sender(facts) or "") in _MAILER_LOCAL_PARTS
        or _from_is_empty(facts),
        "subject": subject.startswith(_BOUNCE_SUBJECTS),
    }
    weak = {
        "postmaster": _local_part(facts.from_address) == "postmaster",
        "subject-words": any(word in subject for word in _FAILURE_SUBJECT_WORDS),
        "text-phrases": any(phrase in opening for phrase in _FAILURE_TEXT_PHRASES),
    }
    if not any(strong.values()) and sum(weak.values()) < 2:
        return None
    signals = {**strong, **weak}
    recipients = _addresses(header)
    if not recipients:
        recipients = _failed_addresses_in_text(text, facts)
    temporary = any(p in subject for p in _DELAY_SUBJECTS) or any(
        p in text.lower() for p in _DELAY_PHRASES
    )
    diagnostic = _diagnostic_in_text(text, recipients)
    status = _STATUS_CODE.search(diagnostic)
    return Hit(
        "delay" if temporary else "bounce",
        {
            "signals": sorted(name for name, seen in signals.items() if seen),
            "subject": facts.subject[:_MAX_VALUE_CHARS],
            "failed_recipients": recipients[:_MAX_RECIPIENTS],
            "temporary": temporary,
            "status": status.group(0) if status else "",
            "diagnostic": diagnostic,
            "original_message_id": _original_message_id(facts),
        },
    )


def auto_submitted(facts: Facts) -> Hit | None:
    """RFC 3834 5.1: any Auto-Submitted value other than "no" is automatic mail."""
    for value in facts.values("Auto-Submitted"):
        keyword = value.split(";")[0].split("(")[0].strip().lower()
        if keyword == "auto-generated" and _stamped_by_helpdesk(facts):
            continue
        if keyword and keyword != "no":
            return Hit("auto_reply", {"header": "Auto-Submitted", "value": value})
    return None


def x_autoreply(facts: Facts) -> Hit | None:
    """Vendor auto-responder headers (vacation scripts, hosting panels, cron)."""
    for name in _AUTOREPLY_HEADERS:
        for value in facts.values(name):
            if value.strip().lower() not in _FALSE_VALUES:
                return Hit("auto_reply", {"header": name, "value": value})
    for value in facts.values("X-POST-MessageClass"):  # Deutsche Telekom's responder
        if "autoresponder" in value.lower():
            return Hit("auto_reply", {"header": "X-POST-MessageClass", "value": value})
    return None


def exchange_generated(facts: Facts) -> Hit | None:
    """Exchange marks mail that it generated itself (rules, NDRs)."""
    for header, kind in _EXCHANGE_HEADERS:
        values = facts.values(header)
        if values:
            return Hit(kind, {"header": header, "value": values[0]})
    return None


def x_auto_response_suppress(facts: Facts) -> Hit | None:
    """Exchange's own automatic mail says `X-Auto-Response-Suppress: All`, unless its
    text is a person's answer (see above)."""
    if _stamped_by_helpdesk(facts):
        return None
    for value in facts.values("X-Auto-Response-Suppress"):
        if "all" in {token.strip().lower() for token in value.split(",")}:
            if facts.answers_as_a_person:
                return None
            return Hit("auto_reply", {"header": "X-Auto-Response-Suppress", "value": value})
    return None


def precedence(facts: Facts) -> Hit | None:
    """`Precedence: bulk|junk|list` (RFC 3834 2 asks responders to honour it), and the
    `auto_reply` value some responders write there. `bulk` and `junk` give way to a
    person's answer in the text (see above); a list's mail is a list's."""
    for name in ("Precedence", "X-Precedence"):
        for value in facts.values(name):
            kind = _PRECEDENCE_KINDS.get(value.strip().lower())
            if kind == "bulk" and facts.answers_as_a_person:
                return None
            if kind:
                return Hit(kind, {"header": name, "value": value})
    return None


def list_id(facts: Facts) -> Hit | None:
    """RFC 2919 List-Id: the mail went through a mailing list."""
    value = facts.first("List-Id")
    return Hit("list", {"header": "List-Id", "value": value}) if value else None


def list_unsubscribe(facts: Facts) -> Hit | None:
    """RFC 2369 List-Unsubscribe (and RFC 8058's one-click): a newsletter or other bulk
    mail, which bulk senders must mark so; as `Precedence: bulk`, it gives way to a
    person's answer in the text, as some senders stamp it on all their mail."""
    value = facts.first("List-Unsubscribe")
    if not value or facts.answers_as_a_person:
        return None
    return Hit("bulk", {"header": "List-Unsubscribe", "value": value})


def null_sender(facts: Facts) -> Hit | None:
    """An empty return path: RFC 5321 4.5.5 and RFC 3834 3.3 reserve it for
    notifications and automatic responses."""
    sender = _sender(facts)
    if sender is not None and sender.strip() in {"", "<>"}:
        return Hit("auto_reply", {"envelope_from": sender})
    return None


def noreply_sender(facts: Facts) -> Hit | None:
    """A `From` address that says nobody reads it (`noreply@`, `donotreply@`, ...): a
    notification, unless its own text carries a person's answer (see above)."""
    local = _local_part(facts.from_address)
    if not _NOREPLY_LOCAL_PART.search(local) or facts.answers_as_a_person:
        return None
    return Hit("auto_reply", {"from_local_part": local[:_MAX_VALUE_CHARS]})


RULES: tuple[tuple[str, Rule], ...] = (
    ("loop-header", loop_header),
    ("dsn", dsn),
    ("mdn", mdn),
    ("arf", arf),
    ("bounce-heuristic", bounce_heuristic),
    ("auto-submitted", auto_submitted),
    ("x-autoreply", x_autoreply),
    ("exchange-generated", exchange_generated),
    ("x-auto-response-suppress", x_auto_response_suppress),
    ("precedence", precedence),
    ("list-id", list_id),
    ("list-unsubscribe", list_unsubscribe),
    ("null-sender", null_sender),
    ("noreply-sender", noreply_sender),
)


# -- report parsing --------------------------------------------------------------------


def _walk(message: Message, into_messages: bool) -> Iterator[Message]:
    """The mail's parts breadth-first; attached messages (message/rfc822) are entered
    only when asked (a bounce forwarded by a person is that person's mail)."""
    queue = [message]
    for part in queue:
        if len(queue) > _MAX_WALK_PARTS:
            return
        yield part
        children = part.get_payload()
        enter = part.get_content_maintype() == "multipart" or (
            into_messages and part.get_content_type() in ("message/rfc822", "message/global")
        )
        if enter and isinstance(children, list):
            queue.extend(child for child in children if isinstance(child, Message))


def _field_blocks(part: Message | None) -> list[dict[str, str]]:
    """The `Name: value` blocks of a report part (RFC 3464 2.1: blank-line separated)."""
    if part is None:
        return []
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload[:_MAX_RECIPIENTS]:
            if isinstance(block, Message):
                fields = {str(k).lower(): " ".join(str(v).split()) for k, v in block.items()}
                blocks.append(fields)
                body = block.get_payload()
                if isinstance(body, str) and ":" in body:
                    blocks.extend(_text_blocks(body))
        return blocks
    return _text_blocks(str(payload))


def _text_blocks(text: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = [{}]
    name = ""
    for line in text[:_MAX_BODY_CHARS].splitlines():
        if not line.strip():
            if blocks[-1]:
                blocks.append({})
            name = ""
        elif line[:1] in " \t" and name:
            blocks[-1][name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            blocks[-1][name] = value.strip()
    return [b for b in blocks if b][:_MAX_RECIPIENTS]


def _merged(blocks: list[dict[str, str]]) -> dict[str, str]:
    merged: dict[str, str] = {}
    for block in blocks:
        for name, value in block.items():
            merged.setdefault(name, value)
    return merged


def _recipient(fields: dict[str, str]) -> dict[str, str]:
    """One per-recipient block; the address as we sent it (Original-Recipient, RFC 3464
    2.3.1) before the one the reporting MTA ended up with (Final-Recipient)."""
    status = _STATUS_CODE.search(fields.get("status", ""))
    return {
        "address": _address_field(fields.get("original-recipient", ""))
        or _address_field(fields.get("final-recipient", "")),
        "action": fields.get("action", "").strip().lower().split(" ")[0],
        "status": status.group(0) if status else "",
        "diagnostic": fields.get("diagnostic-code", "")[:_MAX_VALUE_CHARS],
    }


def _is_delay(recipient: dict[str, str]) -> bool:
    """Still being retried (RFC 3464 2.3.3 `delayed`), as opposed to given up; any
    other action (`failed`, and the `failure` or `error` some MTAs write) is a bounce."""
    if recipient["action"]:
        return recipient["action"] == "delayed"
    return recipient["status"][:1] == "4"


def _delivery_detail(facts: Facts, recipients: list[dict[str, str]], kind: str) -> dict:
    addresses = list(dict.fromkeys(r["address"] for r in recipients if r["address"]))
    if not addresses and kind != "delivery_report":
        # A report without usable recipient fields still names them in its text.
        addresses = _failed_addresses_in_text(_report_text(facts), facts)
    return {
        "failed_recipients": addresses[:_MAX_RECIPIENTS],
        "recipients": recipients[:_MAX_RECIPIENTS],
        "status": next((r["status"] for r in recipients if r["status"]), ""),
        "temporary": kind == "delay",
        "original_message_id": _original_message_id(facts),
    }


def _original_message_id(facts: Facts) -> str | None:
    """The Message-ID of the mail a report is about, from its returned copy or headers."""
    returned = facts.part("message/rfc822", "message/global")
    if returned is not None:
        inner = returned.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return _message_id(str(inner[0].get("Message-ID", "")))
    headers_part = facts.part("text/rfc822-headers", "message/rfc822-headers")
    if headers_part is not None:
        payload = headers_part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            return _message_id(str(payload[0].get("Message-ID", "")))
        text = str(payload)[:_MAX_BODY_CHARS]
        return _message_id(str(HeaderParser().parsestr(text).get("Message-ID", "")))
    return _quoted_message_id(_report_text(facts))


def _quoted_message_id(text: str) -> str | None:
    """The Message-ID of the returned mail a bounce quotes in its own text (qmail's
    "--- Below this line is a copy of the message.", Exim's copy): the first
    ``Message-ID:`` line after the copy marker, or anywhere when it has none."""
    lowered = text.lower()
    starts = [lowered.find(marker) for marker in _COPY_MARKERS if marker in lowered]
    found = _QUOTED_MESSAGE_ID.search(text, min(starts, default=0))
    return found.group(1) if found else None


def _message_id(value: str) -> str | None:
    match = _TAG.search(value)
    return "".join(match.group(0).split()) if match else None


# -- heuristic bounces -----------------------------------------------------------------


def _report_text(facts: Facts) -> str:
    """The text parts outside attached messages (the first few): the bounce's own words."""
    texts = [p for p in facts.parts if p.get_content_type() in ("text/plain", "text/html")]
    return "\n".join(_part_text(part) for part in texts[:_MAX_TEXT_PARTS])[:_MAX_BODY_CHARS]


def _part_text(part: Message) -> str:
    text = _decoded_part(part)
    if part.get_content_type() == "text/html":
        text = _HTML_TAG.sub("\n", text)
    return text


def _decoded_part(part: Message) -> str:
    """A text part's first `_MAX_BODY_CHARS` characters, decoded as its charset says."""
    data = _safe(lambda: part.get_payload(decode=True), b"") or b""
    charset = part.get_content_charset() or "utf-8"
    text = _safe(lambda: data[:_MAX_BODY_CHARS].decode(charset, "replace"), None)
    if text is None:  # an unknown or non-text charset name
        text = data[:_MAX_BODY_CHARS].decode("utf-8", "replace")
    return text


def _failed_addresses_in_text(text: str, facts: Facts) -> list[str]:
    """Addresses a bounce text names before it quotes the returned mail, except the
    bounce's own sender and recipients."""
    own = {facts.from_address, *(a for a in _addresses(facts.first("To")))}
    found: list[str] = []
    for line in text.splitlines()[:_MAX_BODY_LINES]:
        lowered = line.lower()
        if any(marker in lowered for marker in _COPY_MARKERS) or _HEADER_LINE.match(line):
            break
        for address in _ADDRESS.findall(line):
            normalised = _normalise(address)
            if (
                normalised not in own
                and _local_part(normalised) not in _NOT_FAILED_LOCAL_PARTS
                and normalised not in found
            ):
                found.append(normalised)
    return found[:_MAX_RECIPIENTS]


def _diagnostic_in_text(text: str, failed: list[str]) -> str:
    """The line of a bounce text above the returned copy that says why: the first with
    a status code (RFC 3463 ``5.1.1``, qmail's ``(#5.1.1)``) or an SMTP reply code,
    else the first line after the one naming a failed recipient; "" without either."""
    lines = []
    for line in text.splitlines()[:_MAX_BODY_LINES]:
        if any(marker in line.lower() for marker in _COPY_MARKERS) or _HEADER_LINE.match(line):
            break
        lines.append(" ".join(line.split()))
    # From the first line naming a failed recipient on: the lines above it are the
    # bounce's own preamble (a support phone number is no reply code).
    wanted = {address.lower() for address in failed}
    start = next(
        (i for i, line in enumerate(lines) if any(a in line.lower() for a in wanted)), None
    )
    after = lines[start:] if start is not None else lines
    coded = next((x for x in after if _STATUS_CODE.search(x) or _SMTP_REPLY.search(x)), "")
    if not coded and start is not None:
        coded = next((line for line in lines[start + 1 :] if line), "")
    return coded[:_MAX_VALUE_CHARS]


def _answers_as_a_person(facts: Facts) -> bool:
    """Whether the sender's own text (above any quote, as the reply reader cuts it) is a
    person's answer by the text rules: an action taken or promised, an agent's answer."""
    # Imported here: the reply reader and the text rules compile hundreds of patterns, which
    # only mail from such a sender needs (`classifier.machine` stays light to import).
    from classifier.autoreply import HUMAN, decisive_kind, match_auto_reply
    from classifier.replies import extract_reply

    shown = [part for part in facts.parts if part.get_content_disposition() != "attachment"]
    plain = next((part for part in shown if part.get_content_type() == "text/plain"), None)
    html = next((part for part in shown if part.get_content_type() == "text/html"), None)
    reply = extract_reply(
        _decoded_part(plain) if plain is not None else "",
        _decoded_part(html) if html is not None else None,
    )
    return decisive_kind(match_auto_reply(facts.subject, reply.own_text)) == HUMAN


def _stamped_by_helpdesk(facts: Facts) -> bool:
    """Whether the mail comes from a helpdesk that marks all its mail as automatic."""
    return any(
        part in value.lower()
        for header, part in _STAMPING_HELPDESKS
        for value in facts.values(header)
    )


def _sender(facts: Facts) -> str | None:
    """The envelope sender, or the Return-Path the delivering MTA wrote, or None."""
    if facts.envelope_from is not None:
        return facts.envelope_from
    return_path = facts.values("Return-Path")
    return return_path[0] if return_path else None


def _from_is_empty(facts: Facts) -> bool:
    """`From: Mail System <>`: no person writes from the null address."""
    value = facts.first("From")
    return "<>" in value.replace(" ", "")


# -- small helpers ---------------------------------------------------------------------


def _addresses(value: str) -> list[str]:
    pairs = _safe(lambda: email.utils.getaddresses([value]), []) or []
    return [a for a in (_normalise(address) for _, address in pairs) if "@" in a]


def _address_field(value: str) -> str:
    """`rfc822; <User@Example.org>` -> `User@example.org` (RFC 3464 2.3.2)."""
    return _normalise(value.rpartition(";")[2])


def _normalise(address: str) -> str:
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if at and local else address


def _local_part(address: str) -> str:
    return address.strip("<> ").partition("@")[0].lower()


def _first_address(value: str) -> tuple[str, str]:
    pairs = _safe(lambda: email.utils.getaddresses([value]), []) or []
    return pairs[0] if pairs else ("", "")


def _decoded(value: str) -> str:
    """RFC 2047 encoded words decoded; the text as it was when they cannot be."""
    if "=?" not in value:
        return value
    return _safe(lambda: str(email.policy.default.header_factory("x-text", value)), value)


def _safe(function: Callable[[], Any], default: Any) -> Any:
    """Broken MIME must not stop recognition: a failing accessor yields `default`."""
    try:
        return function()
    except Exception:
        return default
