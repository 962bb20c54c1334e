"""Line patterns that mark where quoted mail, forwarded mail and signatures begin.

Owns the knowledge of how mail clients introduce a quoted or forwarded message and how
mail apps sign off, in German and English first and in the other European languages that
customers and shops write (docs/replies.md lists them). Every pattern is matched against
one line, or a few joined lines of bounded length, so the cost per line is bounded and
reply extraction stays linear in the size of the mail (no pattern can backtrack over the
whole text).
"""

from __future__ import annotations

import re
import unicodedata

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
    "napisał(a)",
    "napisal(a)",
    "napisał",
    "napisal",
    "escreveu",
    "kirjoitti",
    "skrev",
    "đã viết",
    "napsal(a)",
    "napsal",
    "napsala",
    "napísal",
    "napisao",
    "napisala",
    "pisze",
    "writes",
    "schreibt",
    "írta",
    "yazdı",
    "a scris",
    "έγραψε",
    "написал(а)",
    "написал",
    "написала",
    "написав",
    "писал",
    "写道",
    "寫道",
)
_WROTE_AT_END = re.compile(
    rf"(?:{'|'.join(map(re.escape, WROTE_VERBS))})\s*[:：]?[\s\-]*$", re.IGNORECASE
)
# German, Dutch, Polish and the Scandinavian languages put the verb before the name:
# "Am 12.03.2026 um 14:22 schrieb X <x@y>:", "Den 12 mars 2026 kl. 14:22 skrev X <x@y>:";
# Apple Mail leaves out the opening word ("12. mar. 2026 kl. 14:22 skrev X <x@y>:") but
# always names the address; its Polish header names the writer first.
_VERBS_BEFORE_NAME = r"(?:schrieb|schreef|napisał|napisal|skrev)"
_VERB_BEFORE_NAME = re.compile(
    rf"^[\s\-*>]*(?:am|op|w dniu|den)\s.*\s{_VERBS_BEFORE_NAME}\s.*:\s*$"
    rf"|^[\s\-*>]*\S.*?\d[:.]\d\d\s+{_VERBS_BEFORE_NAME}\s[^@]*@[^@]*>\s*:\s*$"
    r"|^[\s\-*>]*wiadomo(?:ść|sc) napisana przez\s.*:\s*$",
    re.IGNORECASE,
)
# Lotus Notes and some webmailers put the date after the verb: "Mia Muster/ACME wrote on
# 03/12/2026 02:22:08 PM:", "Service-Siegel <fall@x.example> schrieb am 12.03.2026 14:22:".
_VERBS_BEFORE_DATE = (
    r"(?:wrote|schrieb|a écrit|escribió|ha scritto|schreef|skrev|napisał(?:\(a\))?"
    r"|kirjoitti|escreveu)"
)
_DATE_OPENERS = r"(?:on|am|le|el|il|op|den|w dniu|dnia|em|på)"
_VERB_BEFORE_DATE = re.compile(
    rf"\s{_VERBS_BEFORE_DATE}\s+{_DATE_OPENERS}\s[^\n]{{0,120}}\d[^\n]{{0,40}}:\s*$",
    re.IGNORECASE,
)
# The start of such a header, which Gmail's apps wrap before the time ("X <x@y> schrieb am
# Di., 16. Aug. 2016" / "um 12:52 Uhr:"): a line ending in it (at most a date after the
# opener) may continue on the next.
_VERB_THEN_DATE = re.compile(
    rf"[^\S\n]{_VERBS_BEFORE_DATE}[^\S\n]+{_DATE_OPENERS}[^\S\n][^\n]{{0,40}}$",
    re.IGNORECASE | re.MULTILINE,
)
# Gmail's older attribution leads with an ISO date and its zone: "2016-03-03 17:21
# GMT+01:00 Some One <some@one.example>:", wrapped anywhere after the zone; with the zone
# it needs neither address nor colon, without it it needs both ("... <x@y>:").
_ISO_ATTRIBUTION = re.compile(
    r"^[\s>*]*(?:19|20)\d\d[-/.]\d{1,2}[-/.]\d{1,2},?\s+\d{1,2}:\d\d(?::\d\d)?"
    r"(?:\s*(?P<zone>(?:GMT|UTC)\s?[+-]\d{1,2}(?::?\d\d)?)|\s*[AP]M)?\s+\S[^\n]{0,200}$",
    re.IGNORECASE,
)
# Android: "---- John Smith wrote ----" carries no date.
_DASHED_WROTE = re.compile(r"^\s*-{2,}\s*\S.{0,80}\s(?:wrote|schrieb)\s*-{2,}\s*$", re.IGNORECASE)

# The lines that introduce an earlier message (Outlook's "-----Original Message-----",
# Thunderbird's "-------- Original-Nachricht --------") or a forwarded one (Gmail's
# "---------- Forwarded message ---------", Apple Mail's "Begin forwarded message:",
# Thunderbird's "-------- Weitergeleitete Nachricht --------"), in the languages of the
# clients that write them. A line that holds one of these phrases and nothing else but
# rules of dashes, underscores, equals signs or stars and a colon is a marker, with or
# without its decoration: clients and the people who copy them drop both.
ORIGINAL_MESSAGE_PHRASES = (
    "original message",
    "reply message",
    "ursprüngliche nachricht",
    "originalnachricht",
    "original-nachricht",
    "original nachricht",
    "antwort nachricht",
    "message d'origine",
    "message original",
    "messaggio originale",
    "mensaje original",
    "mensagem original",
    "oorspronkelijk bericht",
    "origineel bericht",
    "oryginalna wiadomość",
    "wiadomość oryginalna",
    "ursprungligt meddelande",
    "originalmeddelande",
    "oprindelig meddelelse",
    "opprinnelig melding",
    "alkuperäinen viesti",
    "původní zpráva",
    "исходное сообщение",
    "оригинальное сообщение",
)
FORWARDED_MESSAGE_PHRASES = (
    # English
    "forwarded message",
    "forwarded e-mail",
    "forwarded email",
    "forwarded mail",
    "begin forwarded message",
    "start of forwarded message",
    # German
    "weitergeleitete nachricht",
    "weitergeleitete e-mail",
    "weitergeleitete email",
    "weitergeleitete mail",
    "anfang der weitergeleiteten nachricht",
    "anfang der weitergeleiteten e-mail",
    "beginn der weitergeleiteten nachricht",
    "beginn der weitergeleiteten e-mail",
    # French
    "message transféré",
    "message réexpédié",
    "début du message réexpédié",
    "début du message transféré",
    # Italian
    "messaggio inoltrato",
    "inizio messaggio inoltrato",
    "inizio del messaggio inoltrato",
    # Spanish
    "mensaje reenviado",
    "inicio del mensaje reenviado",
    "comienzo del mensaje reenviado",
    # Portuguese
    "mensagem encaminhada",
    "mensagem reencaminhada",
    "início da mensagem encaminhada",
    "início da mensagem reencaminhada",
    # Dutch
    "doorgestuurd bericht",
    "doorgestuurde e-mail",
    "begin doorgestuurd bericht",
    # Polish
    "wiadomość przekazana dalej",
    "przekazana wiadomość",
    "przesłana wiadomość",
    "początek przekazywanej wiadomości",
    # Swedish
    "vidarebefordrat meddelande",
    "vidarebefordrat brev",
    "början på vidarebefordrat meddelande",
    "början på vidarebefordrat brev",
    # Danish
    "videresendt meddelelse",
    "videresendt besked",
    "videresendt e-mail",
    "start på videresendt besked",
    "start på videresendt meddelelse",
    # Norwegian
    "videresendt melding",
    "videresendt e-post",
    "begynnelse på videresendt melding",
    # Finnish, Czech, Russian
    "välitetty viesti",
    "välitetty viesti alkaa",
    "přeposlaná zpráva",
    "začátek přeposlané zprávy",
    "пересылаемое сообщение",
    "переадресованное сообщение",
    "начало переадресованного сообщения",
)
# Lotus Notes and Domino: "----- Forwarded by Jane Doe/ACME on 12.03.2026 14:22 -----".
_FORWARDED_BY = ("forwarded by", "weitergeleitet von", "transféré par", "inoltrato da",
                 "reenviado por", "doorgestuurd door")  # fmt: skip


def fold(text: str) -> str:
    """Lower case without accents ("Début" and "Debut", "Ursprüngliche" and
    "Ursprungliche" are one phrase): clients and users write both."""
    text = text.casefold()
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _phrases(phrases: tuple[str, ...]) -> str:
    return "|".join(re.escape(fold(phrase)) for phrase in sorted(phrases, key=len, reverse=True))


# Decoration around a phrase; the colon is optional, and the two classes around it do not
# overlap, so a failing match backtracks once over a long line, not once per character.
_DECORATION = r"[-_=*~\s]*"
_DECORATION_TO_END = rf"{_DECORATION}(?::{_DECORATION})?$"
_ORIGINAL_MESSAGE = re.compile(
    rf"^{_DECORATION}(?:{_phrases(ORIGINAL_MESSAGE_PHRASES)}){_DECORATION_TO_END}"
)
_FORWARDED = re.compile(
    rf"^{_DECORATION}(?:{_phrases(FORWARDED_MESSAGE_PHRASES)}){_DECORATION_TO_END}"
    rf"|^\s*[-_=*]{{2,}}\s*(?:{_phrases(_FORWARDED_BY)})\s[^\n]{{1,200}}?[-_=*]{{2,}}\s*$"
)
_SEPARATOR = re.compile(r"^\s*[-_]{5,}\s*$")

# Outlook-style header lines: "From: ...", "*Von:* ...", "De : ...". Two of them in a row
# (different keys) make a quoted header block.
_HEADER_KEYS = (
    "from|sent|to|subject|date|cc|bcc|reply-to"
    "|von|gesendet|an|betreff|datum|kopie|antwort an"
    "|de|envoyé|à|a|objet|date d'envoi"
    "|da|inviato|oggetto"
    "|enviado|enviada|para|asunto|fecha|assunto|data"
    "|van|verzonden|aan|onderwerp"
    "|od|wysłano|do|temat|dw"
    "|fra|sendt|til|emne|från|skickat|till|ämne|kopia"
    "|lähettäjä|lähetetty|vastaanottaja|aihe"
    "|odesláno|komu|předmět"
    "|от|отправлено|кому|тема|дата"
)
_HEADER_LINE = re.compile(rf"^\s*[*_]*({_HEADER_KEYS})[*_]*\s?:[*_]*(?:\s|$)", re.IGNORECASE)

# Footers that mail apps append below the new text ("Sent from my iPhone", "Envoyé de mon
# iPhone", "Von meinem iPhone gesendet", "Get Outlook for iOS"), by the words they open
# with, in the languages of `WROTE_VERBS`. A line is a footer when it opens so, is short
# and holds no sentence break, and names a device or an app (`_FOOTER_WORDS`): "Sent from my
# desk, is much easier..." and "Von meinem Konto wurde abgebucht." are not footers.
FOOTER_OPENINGS = (
    # English
    "sent from", "sent with", "sent via", "sent by", "sent using",
    "get outlook for", "download outlook for",
    # German
    "gesendet von", "gesendet mit", "gesendet vom", "gesendet über", "von meinem",
    "von meiner", "holen sie sich outlook für", "outlook für", "diese nachricht wurde",
    "diese e-mail wurde",
    # French
    "envoyé depuis", "envoyé de", "envoyé à partir", "envoyé avec", "envoyé via",
    "obtenir outlook pour", "télécharger outlook pour",
    # Italian
    "inviato da", "inviato dal", "inviato con", "ottieni outlook per", "scarica outlook per",
    # Spanish and Portuguese
    "enviado desde", "enviado con", "enviado do", "enviado de", "enviado a partir",
    "enviado via", "obtener outlook para", "obtenha o outlook para",
    "baixe o outlook para",
    # Dutch
    "verzonden met", "verzonden vanaf", "verzonden van", "verstuurd vanaf", "verstuurd met",
    "verstuurd van", "outlook voor",
    # Polish, Czech
    "wysłane z", "wysłano z", "wysłane przy", "odesláno z", "odeslano z",
    # Scandinavian, Finnish
    "sendt fra", "sendt med", "sendt från", "skickat från", "skickades från", "lähetetty",
    # Russian, Chinese, Japanese
    "отправлено с", "отправлено из", "从我的", "從我的", "发自我的", "發自我的",
)  # fmt: skip
_FOOTER_OPENING = "|".join(re.escape(opening) for opening in FOOTER_OPENINGS)
# Links that clients write into a footer ("Get Outlook for iOS<https://aka.ms/o0ukef>",
# "Sent from [Mail](https://go.microsoft.com/...) for Windows") are read as their label.
_FOOTER_LINK = re.compile(r"<[^<>\s]{1,300}>|\[([^\]\n]{0,80})\]\([^)\s]{0,300}\)")
_MOBILE_FOOTER = re.compile(
    rf"^\s*[(<\[]*(?:{_FOOTER_OPENING})(?P<rest>[^;!?\n]{{0,80}})$"
    # German and Japanese put the verb last: "Von Yahoo Mail auf dem iPhone gesendet",
    # "iPhoneから送信".
    r"|^\s*(?:von|vom|mit)\s(?P<before>[^,;!?\n]{1,60})\sgesendet\.?\s*$"
    r"|^\s*(?P<device>[^\s,;!?]{1,30})\s?から送信\s*$",
    re.IGNORECASE,
)
_FOOTER_WORDS = re.compile(
    r"phone|ipad|ipod|android|samsung|galaxy|blackberry|mobil|móvil|movil|handy|smartphone"
    r"|smartfon|telefon|téléphone|teléfono|telefono|cellulare|celular|portable|tablet"
    r"|device|gerät|appareil|dispositi|apparaat|enhet|laite|outlook|mail|yahoo|gmx|web\.de"
    r"|t-online|icloud|proton|tutanota|airmail|spark|sparrow|huawei|xiaomi|pixel|nokia"
    r"|motorola|oneplus|windows|\bapp\b|iphon|아이폰|电话|手机",
    re.IGNORECASE,
)

# Lines that end the new text below them when a short signature follows: the "-- "
# separator (RFC 3676 §4.3, the space often dropped), an em or en dash, a rule of three
# dashes or of underscores, and the tracking mark "ᐧ" that Gmail add-ons append.
_SIGNATURE_RULE = re.compile(r"^\s*(?:-{2,3}|[—–]|_{2,}|ᐧ+)\s*$")
# A signature below such a rule is at most this many non-blank lines long; a rule above a
# longer text is a divider in the text, not a signature separator.
MAX_SIGNATURE_LINES = 12

# '>' is the quote mark of RFC 3676 §4.5; some clients and users prefix quoted lines with
# '|' instead.
QUOTE_MARKS = (">", "|")


def is_quoted(line: str) -> bool:
    """A line that a client prefixed with a quote mark ('>', or '|')."""
    return line.lstrip().startswith(QUOTE_MARKS)


# A quoted line this long was probably wrapped by the client (lines are wrapped at 72 to
# 78 characters, the quote marks pushing a full line over); one ending a sentence or a
# field label probably was not.
_WRAPPED_LENGTH = 50
_ENDS_SENTENCE_OR_LABEL = (".", "!", "?", ":", ";")
# The last word of a line that a client broke inside a link ("http://example.com/act") or
# inside brackets that it does not close ("(see", "<bob@").
_OPEN_LINK = re.compile(r"(?:://|www\.|mailto:)\S*$|[(<\[][^\s)>\]]*$", re.IGNORECASE)


def continues_quoted_line(quoted: str, line: str) -> bool:
    """Whether `line`, unmarked below the quoted line `quoted` and above another quoted
    line, is the rest of `quoted` that a client wrapped without repeating the mark: the
    quoted line was cut inside a link, or was long and not at the end of a sentence. An
    answer typed below a short question or field label is not."""
    above = quoted.rstrip()
    if len(line.split()) == 1 and _OPEN_LINK.search(above):
        return True
    return len(above) >= _WRAPPED_LENGTH and not above.endswith(_ENDS_SENTENCE_OR_LABEL)


def is_blank(line: str) -> bool:
    return not line.strip()


def is_separator(line: str) -> bool:
    """A rule of dashes or underscores that clients put above a quoted header block."""
    return bool(_SEPARATOR.match(line))


def splitter_kind(line: str) -> str | None:
    """If everything after this line is an earlier (or forwarded) message, the marker id."""
    if line.strip() == HTML_CUT_MARK:
        return "html-quote-container"
    folded = fold(line)
    if _ORIGINAL_MESSAGE.match(folded):
        return "original-message"
    if _FORWARDED.match(folded):
        return "forwarded-message"
    if _DASHED_WROTE.match(line):
        return "quote-header"
    return None


def header_key(line: str) -> str | None:
    match = _HEADER_LINE.match(line)
    return match.group(1).lower() if match else None


# Words that open a wrapped "On <date> ... wrote:" header in the languages we see.
_OPENING_WORDS = (
    r"on|am|le|el|il|op|w dniu|dnia|den|på|vào|dne|em|в|el día|pe"
    r"|wiadomość napisana przez|wiadomosc napisana przez"
)
_HEADER_OPENING = re.compile(rf"^[\s\-*_>]*(?:{_OPENING_WORDS})\s", re.IGNORECASE)


def opens_header(line: str) -> bool:
    """Whether a line can be the first of a header wrapped over several lines."""
    return bool(_HEADER_OPENING.match(line))


def is_wrote_header(joined: str) -> bool:
    """Whether joined lines form an "On ... wrote:" / "Am ... schrieb ...:" header."""
    if len(joined) > MAX_HEADER_CHARS or not _DATE_OR_ADDRESS.search(joined):
        return False
    return bool(
        _WROTE_AT_END.search(joined)
        or _VERB_BEFORE_NAME.match(joined)
        or _VERB_BEFORE_DATE.search(joined)
        or _is_iso_attribution(joined)
    )


_ADDRESS_AND_COLON_AT_END = re.compile(r"<[^<>\s@]{1,64}@[^<>\s]{1,255}>\s*:\s*$")


def _is_iso_attribution(joined: str) -> bool:
    match = _ISO_ATTRIBUTION.match(joined)
    if not match:
        return False
    return bool(match.group("zone")) or bool(_ADDRESS_AND_COLON_AT_END.search(joined))


def may_open_wrapped_header(line: str) -> bool:
    """Whether a line can be the first of a header that a client wrapped: it opens like one
    ("On", "Am", "Le", ...), holds a "wrote" verb followed by a date ("X <x@y> schrieb am
    Di., 16. Aug. 2016"), or leads with an ISO date and time."""
    return bool(opens_header(line) or _VERB_THEN_DATE.search(line) or _ISO_ATTRIBUTION.match(line))


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
    """A mail app's footer line ("Sent from my iPhone", "Envoyé de mon iPhone")."""
    if len(line) > MAX_HEADER_CHARS:
        return False
    bare = _FOOTER_LINK.sub(lambda link: link.group(1) or "", line)
    match = _MOBILE_FOOTER.match(bare)
    if not match:
        return False
    rest = match.group("rest") or match.group("before") or match.group("device")
    words = rest.split()
    # A comma is allowed in a short footer ("Sent from my Verizon, Samsung Galaxy
    # smartphone"), not in a sentence ("Sent from my desk, which is easier than my phone").
    limit = 6 if "," in rest else 8
    return len(words) <= limit and bool(_FOOTER_WORDS.search(bare))


def is_signature_dashes(line: str) -> bool:
    """The "-- " signature separator (RFC 3676 §4.3); clients often drop the trailing space."""
    return line.rstrip() == "--"


def is_signature_rule(line: str) -> bool:
    """A line that separates a short signature from the text above it ("-- ", "---",
    "—", "______", the tracking mark "ᐧ")."""
    return bool(_SIGNATURE_RULE.match(line))


# Every line on which any check above can fire matches one of three patterns (looser than
# all the checks together, and a test holds them to that): its start is a quote mark, a
# rule of dashes, underscores, equals signs, tildes or stars, a dash, the tracking mark, a
# bracket, a year, a header key, a header's opening word, the first word of an original or
# forwarded message phrase or of a footer, or the cut mark; or its end is a "wrote" verb,
# an address and a colon ("... <x@y>:") or a time and a colon ("... 14:22:",
# "... 02:22 PM:") or a footer's closing verb ("... gesendet", "...から送信"); or it holds a
# "wrote" verb followed by a date opener ("schrieb am ").
# The second is searched in the reversed text, so that both first patterns are anchored at
# a line start (an unanchored pattern is tried at every character); the third opens with a
# space and a verb, which fails at once almost everywhere. Most mails have no such line at
# all, and in the others only these lines need the exact checks.
_PHRASE_OPENINGS = "|".join(
    sorted(
        {
            re.escape(word)
            for phrase in (*ORIGINAL_MESSAGE_PHRASES, *FORWARDED_MESSAGE_PHRASES, *FOOTER_OPENINGS)
            for word in (phrase.split()[0], fold(phrase.split()[0]))
        }
    )
)
_STARTS_LIKE_MARKER = re.compile(
    rf"^[^\S\n]*(?:[>|\-_=*~—–ᐧ(<\[{HTML_CUT_MARK}]|(?:19|20)\d\d[-/.]"
    rf"|(?:{_HEADER_KEYS})[*_]*[^\S\n]?:|(?:{_OPENING_WORDS})[^\S\n]|(?:{_PHRASE_OPENINGS})"
    r"|holen sie|outlook )",
    re.IGNORECASE | re.MULTILINE,
)
_VERBS_REVERSED = "|".join(re.escape(verb[::-1]) for verb in WROTE_VERBS)
_ENDS_WITH_VERB_REVERSED = re.compile(
    rf"^(?:[^\S\n]|-)*[:：]?[^\S\n]*(?:{_VERBS_REVERSED})"
    r"|^[^\S\n]*:[^\S\n]*>|^[^\S\n]*:[^\S\n]*(?:mp|ma|rhu)?[^\S\n]*\d"
    r"|^[^\S\n]*\.?[^\S\n]*tedneseg|^[^\S\n]*信送らか",
    re.IGNORECASE | re.MULTILINE,
)


def candidate_lines(text: str) -> list[int]:
    """Indices (in `text.split("\n")`) of the lines that may mark a quote, a forwarded
    message or a signature, in ascending order."""
    positions = [match.start() for match in _STARTS_LIKE_MARKER.finditer(text)]
    last = len(text) - 1
    positions += [last - match.start() for match in _ENDS_WITH_VERB_REVERSED.finditer(text[::-1])]
    positions += [match.start() for match in _VERB_THEN_DATE.finditer(text)]
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
