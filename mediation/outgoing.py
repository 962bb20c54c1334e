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
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LANGUAGES = ("de", "en")

# Unicode bidirectional formatting characters (UAX #9 §2): embeddings and overrides
# U+202A-U+202E, isolates U+2066-U+2069, marks U+200E, U+200F and U+061C.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
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
