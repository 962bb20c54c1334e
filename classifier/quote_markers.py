"""Line patterns that mark where quoted mail, forwarded mail and signatures begin.

Owns the knowledge of how mail clients (German and English first, a few other European
languages because shops forward them) introduce a quoted message. Every pattern is matched
against one line, or a few joined lines of bounded length, so the cost per line is bounded
and reply extraction stays linear in the size of the mail (no pattern can backtrack over the
whole text).
"""

from __future__ import annotations

import re

# A header that a client wraps over several lines is joined back from at most this many lines
# and this many characters; both bounds keep the work per line constant.
MAX_HEADER_LINES = 5
MAX_HEADER_CHARS = 400

# Private-use character the HTML converter puts on its own line where an explicit reply
# container (gmail_quote, divRplyFwdMsg, moz-cite-prefix, ...) starts.
HTML_CUT_MARK = "\ue000"

_DATE_OR_ADDRESS = re.compile(r"@|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}:\d{2}|\b(19|20)\d{2}\b")

# "On <date>, <name> wrote:" and its translations, where the verb ends the header.
WROTE_VERBS = (
    "wrote",
    "sent",
    "schrieb",
    "geschrieben",
    "a écrit",
    "a ecrit",
    "escribió",
    "escribio",
    "ha scritto",
    "schreef",
    "geschreven",
    "napisał",
    "napisal",
    "skrev",
    "đã viết",
    "napsal(a)",
    "написал",
    "написала",
    "писал",
)
_WROTE_AT_END = re.compile(
    rf"(?:{'|'.join(map(re.escape, WROTE_VERBS))})\s*:?[\s\-]*$", re.IGNORECASE
)
# German, Dutch and Polish put the verb before the name: "Am 12.03.2026 um 14:22 schrieb X <x@y>:".
_VERB_BEFORE_NAME = re.compile(
    r"^[\s\-*>]*(?:am|op|w dniu)\s.*\s(?:schrieb|schreef|napisał)\s.*:\s*$", re.IGNORECASE
)
# Android: "---- John Smith wrote ----" carries no date.
_DASHED_WROTE = re.compile(r"^\s*-{2,}\s*\S.{0,80}\s(?:wrote|schrieb)\s*-{2,}\s*$", re.IGNORECASE)

_ORIGINAL_MESSAGE = re.compile(
    r"^\s*[-_=]{2,}\s*(?:original message|ursprüngliche nachricht|ursprungliche nachricht"
    r"|originalnachricht|original-nachricht|reply message|antwort nachricht"
    r"|oprindelig meddelelse|message d'origine|mensaje original|messaggio originale)"
    r"\s*[-_=]{2,}\s*$",
    re.IGNORECASE,
)
_FORWARDED = re.compile(
    r"^\s*(?:[-_=]{2,}\s*(?:forwarded message|weitergeleitete nachricht|weitergeleitete e-mail"
    r"|message transféré|mensaje reenviado|messaggio inoltrato)\s*[-_=]{2,}"
    r"|begin forwarded message\s*:|anfang der weitergeleiteten (?:nachricht|e-mail)\s*:)\s*$",
    re.IGNORECASE,
)
_SEPARATOR = re.compile(r"^\s*[-_]{5,}\s*$")

# Outlook-style header lines: "From: ...", "*Von:* ...", "De : ...". Two of them in a row
# (different keys) make a quoted header block.
_HEADER_KEYS = (
    "from|sent|to|subject|date|cc|bcc|reply-to"
    "|von|gesendet|an|betreff|datum|kopie|antwort an"
    "|de|envoyé|à|a|objet|fra|sendt|til|emne|från|skickat|till|ämne"
    "|от|отправлено|кому|тема|дата"
)
_HEADER_LINE = re.compile(rf"^\s*[*_]*({_HEADER_KEYS})[*_]*\s?:[*_]*(?:\s|$)", re.IGNORECASE)

# Mobile and webmail footers that end the new text ("Sent from my iPhone"); a sentence that
# merely starts like one ("Sent from my desk, is much easier...") is not a footer.
_MOBILE_FOOTER = re.compile(
    r"^\s*(?:sent from my|sent from|sent with|sent via|gesendet von meinem|gesendet von"
    r"|gesendet mit|gesendet vom|von meinem|get outlook for|holen sie sich outlook für"
    r"|outlook für (?:ios|android) beziehen|diese (?:e-mail|nachricht) wurde von meinem)"
    r"(?P<rest>[^,;!?]{0,60})$",
    re.IGNORECASE,
)
_FOOTER_WORDS = re.compile(
    r"phone|ipad|android|samsung|galaxy|blackberry|mobile|handy|smartphone|outlook|mail"
    r"|yahoo|gerät|device|huawei|xiaomi|pixel|sparrow|windows|tablet",
    re.IGNORECASE,
)


def is_quoted(line: str) -> bool:
    """A line that a client prefixed with '>' (RFC 3676 §4.5 quote marks)."""
    return line.lstrip().startswith(">")


def is_blank(line: str) -> bool:
    return not line.strip()


def is_separator(line: str) -> bool:
    """A rule of dashes or underscores that clients put above a quoted header block."""
    return bool(_SEPARATOR.match(line))


def splitter_kind(line: str) -> str | None:
    """If everything after this line is an earlier (or forwarded) message, the marker id."""
    if line.strip() == HTML_CUT_MARK:
        return "html-quote-container"
    if _ORIGINAL_MESSAGE.match(line):
        return "original-message"
    if _FORWARDED.match(line):
        return "forwarded-message"
    if _DASHED_WROTE.match(line):
        return "quote-header"
    return None


def header_key(line: str) -> str | None:
    match = _HEADER_LINE.match(line)
    return match.group(1).lower() if match else None


# Words that open a wrapped "On <date> ... wrote:" header in the languages we see.
_OPENING_WORDS = r"on|am|le|el|il|op|w dniu|den|på|vào|dne|em|в|el día"
_HEADER_OPENING = re.compile(rf"^[\s\-*_>]*(?:{_OPENING_WORDS})\s", re.IGNORECASE)


def opens_header(line: str) -> bool:
    """Whether a line can be the first of a header wrapped over several lines."""
    return bool(_HEADER_OPENING.match(line))


def is_wrote_header(joined: str) -> bool:
    """Whether joined lines form an "On ... wrote:" / "Am ... schrieb ...:" header."""
    if len(joined) > MAX_HEADER_CHARS or not _DATE_OR_ADDRESS.search(joined):
        return False
    return bool(_WROTE_AT_END.search(joined) or _VERB_BEFORE_NAME.match(joined))


def is_attribution(joined: str) -> bool:
    """A short line that introduces a '>' quote below it: "2011/4/7 Nathan <a@b.c>", "... <x@y>:".

    Only used on the lines right above a block of '>' lines, where it can only be a header.
    """
    text = joined.strip()
    if not text or len(text) > MAX_HEADER_CHARS:
        return False
    ends_like_header = text.endswith(":") or (text.endswith(">") and "@" in text)
    return ends_like_header and bool(_DATE_OR_ADDRESS.search(text))


def is_mobile_footer(line: str) -> bool:
    match = _MOBILE_FOOTER.match(line)
    if not match:
        return False
    rest = match.group("rest")
    words = rest.split()
    # "Sent from my iPhone", "Von meinem Samsung Galaxy gesendet": few words, a device word.
    return len(words) <= 6 and bool(_FOOTER_WORDS.search(line))


def is_signature_dashes(line: str) -> bool:
    """The "-- " signature separator (RFC 3676 §4.3); clients often drop the trailing space."""
    return line.rstrip() == "--"


# Every line on which any check above can fire matches one of two patterns (looser than
# all the checks together, and a test holds them to that): its start is a quote mark, a
# rule of dashes, underscores or stars, a header key, a header's opening word, a
# forwarding or footer opening or the cut mark; or its end is a "wrote" verb. The second
# is searched in the reversed text, so that both patterns are anchored at a line start:
# an unanchored pattern would be tried at every character. Most mails have no such line
# at all, and in the others only these lines need the exact checks.
_STARTS_LIKE_MARKER = re.compile(
    rf"^[^\S\n]*(?:[>\-_=*{HTML_CUT_MARK}]|(?:{_HEADER_KEYS})[*_]*[^\S\n]?:"
    rf"|(?:{_OPENING_WORDS})[^\S\n]|begin forwarded|anfang der weitergeleiteten"
    r"|sent |gesendet |von meinem|get outlook|holen sie|outlook für|diese )",
    re.IGNORECASE | re.MULTILINE,
)
_ENDS_WITH_VERB_REVERSED = re.compile(
    r"^(?:[^\S\n]|-)*:?[^\S\n]*(?:" + "|".join(re.escape(verb[::-1]) for verb in WROTE_VERBS) + ")",
    re.IGNORECASE | re.MULTILINE,
)


def candidate_lines(text: str) -> list[int]:
    """Indices (in `text.split("\n")`) of the lines that may mark a quote, a forwarded
    message or a signature, in ascending order."""
    positions = [match.start() for match in _STARTS_LIKE_MARKER.finditer(text)]
    last = len(text) - 1
    positions += [last - match.start() for match in _ENDS_WITH_VERB_REVERSED.finditer(text[::-1])]
    if not positions:
        return []
    positions.sort()
    indices: list[int] = []
    line, previous = 0, 0
    for position in positions:
        line += text.count("\n", previous, position)
        previous = position
        if not indices or indices[-1] != line:
            indices.append(line)
    return indices
