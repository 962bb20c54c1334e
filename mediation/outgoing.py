"""What the case domain wants to send: one outgoing mail to one recipient, as a value.

The domain decides *what* to say and to whom; the outbox (`mailflow.outbox`) turns an
`OutgoingMail` into a stored RFC 5322 message and the relay sends it. Keeping this a
plain value lets the case domain produce mail without importing the I/O shell.

Two pure rules about what may appear in the headers we write live here too, so that
they can be tested on their own; the outbox applies them in one place, `render()`:

- `header_text()`: subjects and display names carry customers' words (their subject,
  their name). Unicode bidi controls in them reorder what the reader sees ("Rechnung",
  U+202E, "fdp.exe" reads "Rechnungexe.pdf"), and control characters break or fold
  headers, so both are removed.
- `wire_address()`: an internationalised address as it goes into the envelope and the
  To header: NFC (RFC 6532 §3.1); with an ASCII local part the domain becomes A-labels
  (IDNA, RFC 5890), so the mail needs nothing of the relay; only a non-ASCII local
  part needs SMTPUTF8 (RFC 6531).

Every mail about a case continues its recipient's thread of the case (`in_thread`):
it names our earlier mails to that recipient in `References` (RFC 5322 §3.6.4), so that
mail clients show the case as one conversation, not one per notice.

A forwarded complaint carries the customer's attachments (`enclose`): not their bytes,
which stay in the stored mail, but which of them it attaches; the outbox takes the
bytes from the stored mail when it renders the message. Programs and scripts, which
mail providers refuse (a forward carrying one would bounce), and what exceeds the
limits of one mail are withheld, and the text says so.

A mail of a case that came back undelivered is a `BouncedMail`: what the shell knows of
it (its outbox row and the delivery report) as the case domain reads it.
"""

from __future__ import annotations

import dataclasses
import enum
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from mediation.incoming import Attachment

LANGUAGES = ("de", "en")

# Unicode bidirectional formatting characters (UAX #9 §2): embeddings and overrides
# U+202A-U+202E, isolates U+2066-U+2069, marks U+200E, U+200F and U+061C.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
CONTROLS_BUT_LINE_BREAK = "\x00-\x08\x0b-\x1f\x7f-\x9f"
"""A regular expression character range: the control characters but line feed and tab
(C0: escape sequences, backspace, a lone carriage return that writes over a line; DEL;
C1). No text a person wrote needs them; a terminal or a page would obey them."""
UNSHOWN_IN_TEXT = re.compile(f"[{CONTROLS_BUT_LINE_BREAK}{''.join(sorted(BIDI_CONTROLS))}]")
"""Dropped from a person's text before another reads it (a form's field, a quoted
message): control characters but line feed and tab, and the bidi controls, which turn
the text around on the reader's screen ("gpj.exe" shown as "exe.jpg")."""
# What str.splitlines() and mail folding treat as a line end, and tabs: a space.
_BREAKS = re.compile("[ \t]*[\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029]+[ \t]*")
# C0 and C1 controls and DEL (none belongs in a header's text), and the bidi controls.
_REMOVED = re.compile("[\x00-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS)) + "]")
# Label separators that IDNA maps to "." (UTS 46: ideographic and full-width stops).
_LABEL_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_MAX_LABEL = 63
_MAX_DOMAIN = 253


def header_text(text: str) -> str:
    """`text` fit for a subject or a display name: line breaks and tabs become one
    space, bidi controls and other control characters are removed, ends are trimmed."""
    return _REMOVED.sub("", _BREAKS.sub(" ", text)).strip()


def wire_address(address: str) -> str:
    """`address` (local@domain) as it is sent; raises ValueError when it cannot be.

    An ASCII address is returned as given. Otherwise it is NFC-normalised, and when
    its local part is ASCII the domain is IDNA-encoded (each non-ASCII label as
    ``xn--`` and Punycode of its lower-case NFKC form, as UTS 46 non-transitional
    processing does: "ß" stays "ß", "straße.de" is not "strasse.de"). A non-ASCII local
    part keeps its domain as written: such an address goes out with SMTPUTF8 or not
    at all.
    """
    stripped = address.strip()
    local, at, domain = stripped.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not a mail address: {address!r}")
    if stripped.isascii():
        return stripped
    local = unicodedata.normalize("NFC", local)
    domain = unicodedata.normalize("NFC", domain)
    if local.isascii():
        domain = ascii_domain(domain)
    return f"{local}@{domain}"


def ascii_domain(domain: str) -> str:
    """`domain` in A-labels, lower case, without a trailing dot; ValueError if invalid."""
    labels = _LABEL_DOTS.split(domain.strip())
    if labels and labels[-1] == "":
        labels.pop()  # an absolute name's trailing dot
    encoded = []
    for label in labels:
        if not label.isascii():
            mapped = unicodedata.normalize("NFKC", label).lower()
            try:
                punycode = unicodedata.normalize("NFC", mapped).encode("punycode")
                label = "xn--" + punycode.decode("ascii")
            except UnicodeError as error:
                raise ValueError(f"domain {domain!r} cannot be IDNA-encoded: {error}") from None
        if not 0 < len(label) <= _MAX_LABEL:
            raise ValueError(f"domain {domain!r} has an empty or too long label")
        encoded.append(label.lower())
    result = ".".join(encoded)
    if not result or len(result) > _MAX_DOMAIN:
        raise ValueError(f"not a valid domain: {domain!r}")
    return result


@dataclass(frozen=True)
class OutgoingMail:
    """One mail to one recipient, fully worded, in the recipient's language.

    `auto_reply` says the mail answers an incoming mail's sender (RFC 3834
    ``auto-replied``: acknowledgements, "you are not a party of this case"); other
    mails are ``auto-generated`` (forwards, reminders, notices). `answers_machine_mail`
    is set by the caller when the mail it answers was itself machine mail, so that
    nothing automatic is ever answered automatically. `to_name` is the recipient's
    display name in the To header, as the recipient gave it (it is cleaned there).
    """

    to: str
    subject: str
    text: str
    kind: str
    language: str
    html: str | None = None
    case_ref: str | None = None
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    auto_reply: bool = False
    in_reply_to_mail: int | None = None
    answers_machine_mail: bool = False
    to_name: str | None = None
    attachments_from: int | None = None
    """The stored mail (table ``mail``) whose `attachments` this mail carries."""
    attachments: tuple[Attachment, ...] = ()
    """The attachments of that mail it carries (`enclose`), by their place in the
    parser's list; the outbox takes their bytes from the stored mail when it renders."""

    def __post_init__(self) -> None:
        if "@" not in self.to:
            raise ValueError(f"not a mail address: {self.to!r}")
        if self.language not in LANGUAGES:
            raise ValueError(f"language must be one of {LANGUAGES}, got {self.language!r}")
        if not self.kind:
            raise ValueError("kind (the template name) is required")
        if not isinstance(self.references, tuple):
            # A list would make the value unhashable and mutable behind our back.
            object.__setattr__(self, "references", tuple(self.references))
        if not isinstance(self.attachments, tuple):
            object.__setattr__(self, "attachments", tuple(self.attachments))
        if self.attachments and self.attachments_from is None:
            raise ValueError("attachments need the stored mail they come from")


@dataclass(frozen=True)
class BouncedMail:
    """One of our mails about a case that bounced: a delivery report marked its outbox
    row `bounced` (a permanent failure)."""

    case_ref: str
    kind: str
    """The mail's template (``merchant.complaint_forwarded``): whom it went to and why."""
    to: str
    """The address it went to, as sent."""
    subject: str
    outbox_id: int
    reason: str
    """Why, in one line, as the report says (``550 5.1.1 ... User unknown``)."""
    written_at: datetime
    """When the mail was written (its outbox row): which forward of a case it was."""
    at: datetime
    """When the report arrived (our receive time): the time of the case's event."""
    report_mail: int | None = None
    """The stored delivery report."""


THREAD_REFERENCES = 4
"""How many of our earlier mails of a thread `References` names at most: the first (the
thread's root, which clients thread by) and the last three, the newest the parent."""
MAX_REFERENCES = 20
"""How many Message-IDs `References` holds at most: the first and the newest."""


def in_thread(mail: OutgoingMail, earlier: Sequence[str]) -> OutgoingMail:
    """`mail` as the next message of its recipient's thread: `earlier` are the Message-IDs
    of our mails to that recipient in the case, oldest first.

    A mail that answers a received mail keeps it as `In-Reply-To`; its `References`
    (the parent's, then the parent: RFC 5322 §3.6.4) follow ours, since the parent may
    have named none of them. Any other mail answers our last one, and its `References`
    are ours. `references` then ends with the parent, as `In-Reply-To` names it. Ours are
    trimmed to `THREAD_REFERENCES`, the whole to `MAX_REFERENCES`, each keeping the first.
    """
    if not earlier:
        return mail
    ours = _first_and_last(list(dict.fromkeys(earlier)), THREAD_REFERENCES)
    parent = mail.in_reply_to or ours[-1]
    chain = [r for r in dict.fromkeys((*ours, *mail.references)) if r != parent]
    chain = _first_and_last([*chain, parent], MAX_REFERENCES)
    return dataclasses.replace(mail, in_reply_to=parent, references=tuple(chain))


def _first_and_last(ids: list[str], most: int) -> list[str]:
    return ids if len(ids) <= most else [ids[0], *ids[len(ids) - most + 1 :]]


class Enclosure(enum.StrEnum):
    """What a forward does with one attachment of the mail it forwards."""

    ATTACHED = "attached"
    WITHHELD = "withheld"
    """A type that mail providers refuse (programs, scripts): kept with the case only."""
    OVER_LIMIT = "over-limit"
    """Past the count or size one mail may carry: kept with the case only."""


# File types that Gmail, Outlook.com and Exchange's default filters refuse to deliver
# (programs, scripts, installers, shortcuts, disk images): a forward carrying one would
# bounce or be quarantined, and the complaint with it.
WITHHELD_EXTENSIONS = (
    "ade", "adp", "apk", "appx", "appxbundle", "bat", "cab", "chm", "cmd", "com", "cpl",
    "diagcab", "diagcfg", "diagpack", "dll", "dmg", "ex", "ex_", "exe", "hta", "img",
    "ins", "iso", "isp", "jar", "jnlp", "js", "jse", "lib", "lnk", "mde", "msc", "msi",
    "msix", "msixbundle", "msp", "mst", "nsh", "pif", "ps1", "scr", "sct", "shb", "sys",
    "vb", "vbe", "vbs", "vhd", "vxd", "wsc", "wsf", "wsh", "xll",
)  # fmt: skip
# Content types of programs and scripts, withheld whatever the file is called.
EXECUTABLE_TYPES = frozenset({
    "application/hta", "application/javascript", "application/x-bat",
    "application/x-dosexec", "application/x-executable", "application/x-javascript",
    "application/x-ms-installer", "application/x-ms-shortcut", "application/x-msdos-program",
    "application/x-msdownload", "application/x-msi", "application/x-sh",
    "application/vnd.microsoft.portable-executable", "text/javascript", "text/vbscript",
})  # fmt: skip
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")


@dataclass(frozen=True)
class AttachmentPolicy:
    """How much of a complaint's attachments its forward carries (``[outbox]``)."""

    max_count: int = 10
    max_bytes: int = 7 * 1024 * 1024
    """All attached files together, decoded; base64 adds a third on the way."""
    withheld_extensions: tuple[str, ...] = WITHHELD_EXTENSIONS

    def withholds(self, attachment: Attachment) -> bool:
        """Whether `attachment` is of a type mail providers refuse (by its name's last
        extension, as Windows reads it, or by its content type)."""
        if attachment.content_type in EXECUTABLE_TYPES:
            return True
        _, dot, extension = (attachment.filename or "").rstrip(". ").lower().rpartition(".")
        return bool(dot) and extension in {e.lstrip(".").lower() for e in self.withheld_extensions}


def enclose(
    attachments: Sequence[Attachment], policy: AttachmentPolicy
) -> tuple[tuple[Attachment, Enclosure], ...]:
    """What a forward does with each real attachment of a mail, in the mail's order.

    Real attachments are those named, marked ``attachment`` or an attached mail; an
    unnamed inline part is part of the body (an image its HTML shows) and is left out.
    Each comes back with a name fit to show and to send (`attachment_name`) and the
    type as the parser read it (else ``application/octet-stream``). Withheld types never
    go out; the others are attached in order while they fit `policy`'s count and size,
    and those that do not are `Enclosure.OVER_LIMIT`.
    """
    planned: list[tuple[Attachment, Enclosure]] = []
    count = total = 0
    for attachment in attachments:
        named = attachment_name(attachment.filename)
        content_type = attachment.content_type.lower()
        if not _CONTENT_TYPE.fullmatch(content_type):
            content_type = "application/octet-stream"
        real = named or attachment.disposition == "attachment" or content_type == "message/rfc822"
        if not real:
            continue
        shown = dataclasses.replace(attachment, filename=named, content_type=content_type)
        if policy.withholds(shown):
            planned.append((shown, Enclosure.WITHHELD))
        elif count < policy.max_count and total + shown.size <= policy.max_bytes:
            count, total = count + 1, total + shown.size
            planned.append((shown, Enclosure.ATTACHED))
        else:
            planned.append((shown, Enclosure.OVER_LIMIT))
    return tuple(planned)


def attachment_name(filename: str | None) -> str | None:
    """An attachment's file name as we show and send it: without directories (a name
    like ``..\\..\\x.exe`` is ``x.exe``), bidi and control characters (`header_text`:
    ``Rechnung<U+202E>fdp.exe`` does not pose as a PDF); None when nothing is left."""
    if not filename:
        return None
    name = header_text(filename).replace("\\", "/").rsplit("/", 1)[-1].strip()
    return name or None
