"""A received mail as the case service reads it, and what its reading says.

`IncomingMail` is built by the shell from its stored, parsed mail
(`mailflow.casework`); `Classify` is the classifier, called with the context the case
is in. The helpers here read a mail the same way for every room: whether it is
automatic, what a party said, whether a merchant's words answer (`substantive`), and
the one-line summary the event log keeps.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from classifier.autoreply import only_a_promise, only_an_absence

if TYPE_CHECKING:
    from classifier import Classification

Classify = Callable[[str | None], "Classification"]
"""Classifies the mail being handled; the argument is the reply context the case is in
(``solved_question``, ``proposal`` or None)."""


@dataclass(frozen=True)
class Attachment:
    """One attachment of a received mail, as the parser lists it (`mailflow.parsing`):
    `index` is its place in that list, which parsing the stored raw mail again gives
    alike, so that the outbox finds its bytes there when it forwards it."""

    index: int
    filename: str | None
    content_type: str
    size: int
    """Decoded bytes."""
    disposition: str | None = None
    """Its Content-Disposition (``attachment``, ``inline`` or None)."""

    def to_json(self) -> dict[str, object]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Attachment:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in fields})


@dataclass(frozen=True)
class RepliedTo:
    """Our own mail that a received mail names as its direct parent (In-Reply-To)."""

    kind: str
    """Its template (``customer.proposal``)."""
    later_kinds: tuple[str, ...] = ()
    """The templates of our mails to the same recipient about the same case written
    after it: what has superseded it (a newer proposal)."""


@dataclass(frozen=True)
class IncomingMail:
    """A received mail as the case service reads it (from the shell's stored, parsed mail)."""

    id: int
    received_at: datetime
    envelope_to: tuple[str, ...]
    sender: str | None
    sender_name: str = ""
    subject: str = ""
    text: str = ""
    message_id: str | None = None
    references: tuple[str, ...] = ()
    """The message ids it answers: References, then In-Reply-To (RFC 5322 §3.6.4)."""
    thread_refs: tuple[str, ...] = ()
    """Case references of our own mails that `references` names (found in the outbox)."""
    answered_kinds: tuple[str, ...] = ()
    """The templates (``customer.case_resolved``, ...) of our own mails it answers."""
    replied_to: RepliedTo | None = None
    """Our own mail its In-Reply-To names, if any: what it answers directly."""
    machine: str | None = None
    """The kind of machine mail, when the header rules recognised one."""
    machine_rule: str | None = None
    authentication_results: tuple[str, ...] = ()
    """Its Authentication-Results header values, top first (RFC 8601)."""
    attachments: tuple[Attachment, ...] = ()


def automatic(mail: IncomingMail, classify: Classify) -> str | None:
    """Why `mail` is automatic (header rules first, then the text), or None for a person."""
    if mail.machine:
        return f"{mail.machine} by {mail.machine_rule}"
    reading = classify(None)
    return f"{reading.auto_reply_kind} by its text" if reading.auto_reply else None


def said(reading: Classification) -> str:
    """What a party wrote: the new part of its mail (the classifier's reading)."""
    return reading.new_text.strip()


_TOKEN = re.compile(r"\w+")

COURTESY_WORDS = frozenset(
    word.casefold()
    for word in (
        # German: thanks, greetings, acknowledgements
        "danke", "dank", "dankeschön", "dankeschoen", "vielen", "herzlichen", "herzlich",
        "besten", "lieben", "schön", "schoen", "sehr", "hallo", "moin", "servus", "guten",
        "tag", "gruß", "grüße", "gruesse", "mfg", "lg", "vg", "viele", "freundliche",
        "freundlichen", "liebe", "lieber", "geehrte", "geehrter", "alles", "klar", "gut",
        "super", "prima", "bitte", "gerne", "gern", "ja", "jo",
        # English
        "thanks", "thank", "thx", "ty", "you", "very", "much", "so", "many", "hello", "hi",
        "hey", "dear", "regards", "best", "kind", "kindest", "cheers", "greetings",
        "good", "morning", "afternoon", "evening", "great", "fine", "sure", "noted",
        "please", "yes", "yep",
        # both
        "ok", "okay", "okey", "oki",
        # the pleasantries around them: "und einen schönen Tag", "and have a nice day"
        "und", "einen", "schönen", "schoenen", "wochenende", "wünschen", "wünsche",
        "and", "have", "nice", "day", "weekend", "wish", "wishes",
    )
)  # fmt: skip
"""Words of thanks, greeting and acknowledgement: a reply of only these answers nothing."""

# A line that ends what its writer says: "Mit freundlichen Grüßen", "Beste Grüße",
# "LG", "Kind regards", "Best,", "Cheers", "Sincerely", "Danke und viele Grüße".
# What follows it is the signature: names, roles, telephone numbers.
_SIGN_OFF = re.compile(
    r"^\W*(?:.{0,40}\bgr(?:ü|ue)(?:ß|ss)(?:e|en)?\b.{0,40}|(?:mfg|lg|vg|bg)\b.{0,40}"
    r"|(?:(?:kind|best|warm|warmest|kindest|with best)\s+)?regards\b.{0,40}"
    r"|(?:best|cheers|sincerely|yours(?: truly| sincerely)?|many thanks|thanks|thank you"
    r"|danke(?: schön| sehr)?|vielen dank)\W*)$",
    re.IGNORECASE,
)
# A line of a company's footer: three or more items set apart by "|", "·" or "•"
# ("Thomas Fuchs | Möbel Fuchs GmbH | Amtsgericht Hannover HRB 12345"), a contact line
# ("Tel.: 0511 ...", "www.shop.example"), or a line naming the register entry or the
# managing director that is no sentence (a sentence ends in ".", "!" or "?": "We refund
# the price including VAT." answers).
_FOOTER_SEPARATORS = "|·•"
_CONTACT_LINE = re.compile(
    r"^\W*(?:tel|telefon|phone|fon|fax|mobil|mobile|e-?mail|web|www|internet)\b\.?\s*[:.]",
    re.IGNORECASE,
)
_REGISTER_WORDS = re.compile(
    r"\b(?:amtsgericht|registergericht|handelsregister|hrb|hra|ust-?id(?:nr)?|ust-?idnr"
    r"|steuer-?nr|steuernummer|geschäftsführer(?:in)?|sitz der gesellschaft|vat (?:id|no|number)"
    r"|registered office|company (?:number|registration)|managing director)\b",
    re.IGNORECASE,
)


def _footer_line(line: str) -> bool:
    """Whether `line` (stripped) is a line of a company's footer."""
    if sum(line.count(mark) for mark in _FOOTER_SEPARATORS) >= 2:
        return True
    if _CONTACT_LINE.match(line):
        return True
    return not line.endswith((".", "!", "?")) and _REGISTER_WORDS.search(line) is not None


# A line that only names who wrote, closing the text: "Gartenwelt Schneider", "Maple &
# Finch Customer Care", "Ihr Team von Möbel Fuchs", "Hauptstraße 5", "12345 Berlin" (each
# word capitalised or a number, but the few that join names), no sentence.
_NAME_LINE = re.compile(
    r"^\W*[A-ZÄÖÜ0-9][\w.'’-]*(?:\s+(?:[&+–-]|und|and|von|vom|der|die|das|the|of|at|bei|im"
    r"|[A-ZÄÖÜ0-9][\w.'’-]*)){0,6}\W*$"
)
MAX_NAME_LINES = 4
# A line that only addresses the reader: "Hallo Frau Muster,", "Dear Mr Smith,", "Hi,".
_SALUTATION = re.compile(
    r"^\W*(?:hallo|hi|hello|hey|dear|guten tag|guten morgen|sehr geehrte[rs]?|liebe[rs]?"
    r"|moin|servus|good (?:morning|afternoon|evening))\b[^.!?\n]{0,60}[,!]?\s*$",
    re.IGNORECASE,
)


def words(text: str) -> list[str]:
    """The words of `text`, case-folded: its tokens with at least two letters ("x",
    "88123" and "." are none)."""
    return [
        token
        for token in (found.casefold() for found in _TOKEN.findall(text))
        if sum(character.isalpha() for character in token) >= 2
    ]


def substantive(text: str, min_words: int) -> bool:
    """Whether a merchant's own `text` answers the complaint: at least `min_words` words
    besides thanks and greetings (`COURTESY_WORDS`), between its salutation and its
    sign-off (the signature after that says nothing), outside a company footer's lines
    (`_footer_line`) and the names that close it (`_NAME_LINE`), and more than a promise
    to answer or a note of absence (`classifier.autoreply.only_a_promise`,
    `only_an_absence`). "Danke", "ok", "Vielen Dank!", "asdfgh", "Wir kümmern uns darum.",
    "In der Mittagspause." and "Hallo Frau Muster, / Mit freundlichen Grüßen / Thomas
    Meier" do not; "Wir erstatten den Kaufpreis." does."""
    said = []
    for line in (line.strip() for line in text.splitlines()):
        if _SIGN_OFF.match(line):
            break
        if not _SALUTATION.match(line) and not _footer_line(line):
            said.append(line)
    # Blank lines at the end, and up to MAX_NAME_LINES lines of the writer's or the
    # shop's name under the text (never the only line left).
    names = 0
    while said and (
        not said[-1] or (names < MAX_NAME_LINES and len(said) > 1 and _NAME_LINE.match(said[-1]))
    ):
        names += bool(said.pop())
    own = "\n".join(said)
    if sum(1 for word in words(own) if word not in COURTESY_WORDS) < min_words:
        return False
    return not (only_a_promise(own) or only_an_absence(own))


def reading_summary(reading: Classification) -> str:
    """The classifier's reading in one line, for the reason of an event."""
    rules = ", ".join(rule["rule"] for rule in reading.rules)
    intent = f", intent {reading.intent}" if reading.intent else ""
    return (
        f"classifier: {reading.category} {reading.confidence:.2f}{intent}, "
        f"{reading.auto_reply_kind}, {reading.language} [{rules}]"
    )
