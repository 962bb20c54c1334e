"""Reply extraction: which part of a mail its sender wrote now, and which part is quoted.

Owns `extract_reply`. It is conservative by design: mediator commands, accept and reject
words and ratings are read only from `Reply.own_text`, the lines the sender wrote, so
anything that might be quoted is cut. `Reply.new_text` is the reply as a person reads it:
the same, except in an interleaved reply (answers typed between quoted lines), where it
also keeps the quoted lines that the answers answer, with their quote marks.

A line can be quoted because a client prefixed it with '>' (or '|'), because it sits
below an "On ... wrote:" / "Am ... schrieb ...:" header (also wrapped, also Gmail's ISO
"2016-03-03 17:21 GMT+01:00 X <x@y>:"), an Outlook "Von:/Gesendet:/An:/Betreff:" block
(in the languages of `quote_markers`), an "-----Original Message-----" line or a
forwarded-message line (with or without colon and decoration), or because the HTML marks
it as a quote (`html_text`: blockquote, cite, left-border bars, the clients' quote
containers). Text written between or below quoted blocks (inline and bottom-posted
answers) is the sender's own text; text below an unmarked header, a forwarded-message
line or an HTML quote container is not (except Gmail's inline answers inside its
container, when the text part agrees). Signatures ("-- " and other signature rules above
a short rest, mobile footers) are kept apart from the new text. Text that the HTML does
not show (`html_text`: hidden by style, a sheet, attributes or its colour) is no text at
all, and in a mail with both parts a line is the sender's only when both parts say it
(a reader sees one or the other). The HTML's quotes are found in its text without link
targets; its lines are written with them ("hier (https://...)", `HtmlText.with_links`), as
the sender's reader sees them, and the parts are compared without link addresses. Every
cut is recorded with its rule id and line (`Reply.cuts`); docs/replies.md is the table of
the rules.

One scan of the whole text finds the lines that may mark a quote or a signature
(`quote_markers.candidate_lines`); a mail without any is new text as a whole, and in the
others only those lines are examined, each once, against patterns of bounded length, so
the time is linear in the size of the mail.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from classifier import quote_markers as qm
from classifier.html_text import LINK_SCHEMES, HtmlText, html_to_text

# What one line turned out to be.
_AUTHORED = "t"
_QUOTED = "q"
# What a line of the part read is to the reply (`Reply.layout`).
_OWN = "own"  # written by the sender now, not in a signature
_QUOTE = "quote"  # a quoted line ('>' or '|', or the rest of one that a client wrapped)
_QUOTED_OTHER = "quoted"  # a quote header, an unmarked quote, a forwarded message
_ATTRIBUTION = "attribution"  # a quoted "On ... wrote:" line ("> Am ... schrieb X:")
_OFF = ""  # neither: a signature, a line that the other part quotes
# Every "On ... wrote:" header has a digit (date) or an address on its first line.
_MAYBE_HEADER = re.compile(r"[\d@]")
# Right above '>' lines, a line that opens like a "wrote" header and ends with its verb
# (or, where the verb comes first, with the writer's name) and a colon introduces them,
# even without a date, time or address: "Am 3. März schrieb Service-Siegel:", "On
# Tuesday, Bob wrote:".
_OPENS_ATTRIBUTION = re.compile(r"^[\s>*_-]*(?:on|am|le|el|il|op|den|em|dnia|w dniu)\s", re.I)
_ENDS_WITH_VERB = re.compile(
    rf"\s(?:{'|'.join(map(re.escape, qm.WROTE_VERBS))})\s*:$"
    r"|\s(?:schrieb|schreef|skrev|napisał)\s[^:\n]{1,120}:$",
    re.IGNORECASE,
)
# The verb and the name after it fit in this many characters at the end of the line.
_ATTRIBUTION_TAIL = 160


class Cut(NamedTuple):
    """Where the reader cut and why: a rule id (`docs/replies.md`), the 1-based line of the
    part's text that it fired on (0 for what holds for the whole part:
    "html-quote-element", "quoted-in-other-part"), and the part ("text", or "html" for the
    text of the HTML part)."""

    rule: str
    line: int
    part: str


@dataclass(frozen=True)
class Reply:
    """A mail body split into what the sender wrote now and what they quoted."""

    full: str
    # The reply as a person reads it (shown and forwarded): the sender's own lines and, in
    # an interleaved reply, the quoted lines they answer inline, with their quote marks;
    # for every other mail the same as `own_text`.
    new_text: str
    # Only the lines the sender wrote (no quote, no signature): all that may act.
    own_text: str
    quoted: str
    signature: str
    # Text the sender wrote, signature included (own text plus signature, in mail order).
    authored: str
    # Dashed ids of what was found, each once, in the order of `cuts`: "quote-marks",
    # "quote-header", "outlook-header", "original-message", "forwarded-message",
    # "html-quote-element", "html-quote-container", "quoted-in-other-part",
    # "signature-dashes", "signature-rule", "mobile-footer", "html-hidden",
    # "parts-disagree" (docs/replies.md).
    markers: tuple[str, ...]
    source: str  # "text" or "html"
    # Every cut, in the order of the lines it fired on.
    cuts: tuple[Cut, ...] = ()
    # Each line of the part read (`source`) with what it is to the reply ("own", "quote",
    # "attribution" for a quoted "wrote" line, "quoted" for a quote header or an unmarked
    # quote, "" for neither): what `new_text` is made of.
    layout: tuple[tuple[str, str], ...] = field(default=(), repr=False, compare=False)
    # Text of the HTML part that a mail client does not show (`html_text`: hidden by its
    # style, attributes or colour), one line per block: never new text, never acts.
    hidden: str = ""
    # The sender's lines that only one part of a multipart mail says ("parts-disagree"):
    # never new text, never acts; evidence, and more text to tell automatic mail by.
    unconfirmed: str = ""


def extract_reply(text: str, html: str | None = None) -> Reply:
    """Split a mail body into new text (and own text), quoted text and signature.

    `text` is the decoded text/plain part, `html` the text/html part as it was sent (not
    sanitised: the quote structure is in the attributes a sanitiser removes). The HTML is
    read when the text is empty or when the HTML marks a quote by its structure (more
    reliable than guessing from text, and a client's text part may have lost the marks);
    otherwise the text part is read. Text that the HTML does not show is no text at all
    (`Reply.hidden`, the cut "html-hidden"). When a mail has both parts, the other part is
    read too: a line of the own text that the other part quotes (and does not also write
    anew) is dropped, and so is one whose words the other part does not also write
    ("parts-disagree"): a line is the sender's only when both parts say it, and say it
    unquoted, since a reader sees one part or the other.
    """
    plain = _normalise(text or "")
    if not html:
        return _split(plain, "text")
    converted = html_to_text(html)
    html_body = _normalise(converted.text)
    # The text with link targets: the same text (and string) when there are none.
    with_links = converted.with_links or converted.text
    shown = html_body if with_links == converted.text else _normalise(with_links)
    from_html = _split(
        html_body, "html", converted.markers, hidden_at=converted.hidden_at, shown=shown
    )
    if not plain.strip():
        return replace(from_html, hidden=converted.hidden)
    from_text = _split(plain, "text")
    if not converted.markers:
        reply = _said_in_both(_without_lines_quoted_in(from_text, from_html), from_html)
        hidden_cuts = tuple(Cut("html-hidden", line, "html") for line in converted.hidden_at)
        if hidden_cuts:
            reply = _with_cuts(reply, (*reply.cuts, *hidden_cuts))
    else:
        from_html = _with_answers_in_container(from_html, html_body, shown, converted, from_text)
        decided = _said_in_both(_without_lines_quoted_in(from_html, from_text), from_text)
        reply = _as_the_text_part_writes_it(decided, from_text)
    return replace(reply, hidden=converted.hidden)


def _with_cuts(reply: Reply, cuts: tuple[Cut, ...]) -> Reply:
    return replace(reply, cuts=cuts, markers=tuple(dict.fromkeys(cut.rule for cut in cuts)))


def _with_answers_in_container(
    from_html: Reply, body: str, shown: str, converted: HtmlText, from_text: Reply
) -> Reply:
    """The HTML's reply with the answers typed inside a client's quote container.

    Gmail answers inline inside its `gmail_quote` container: it splits the blockquote and
    puts the answers between the pieces, below the "wrote" line. A container is cut as a
    whole (`html-quote-container`), so those answers would be lost; they are read when
    both parts agree that they are answers: in the HTML, unmarked lines below a "wrote"
    line and a blockquote in the container, and in the text part, the sender's own lines
    of an interleaved reply. A container whose lines the text part does not write as such
    answers (a forward, a quoted message without blockquote) stays cut as a whole.
    """
    if "html-quote-container" not in from_html.markers or from_text.new_text == from_text.own_text:
        return from_html
    opened = _split(
        body,
        "html",
        converted.markers,
        open_container=True,
        hidden_at=converted.hidden_at,
        shown=shown,
    )
    added = _own_keys(opened.layout) - _own_keys(from_html.layout)
    answers = {
        _line_key(line) for line, role in _interleaved_lines(from_text.layout) or [] if role == _OWN
    }
    return opened if added and added <= answers else from_html


def _own_keys(layout: tuple[tuple[str, str], ...]) -> set[str]:
    return {_line_key(line) for line, role in layout if role == _OWN} - {""}


def _split(
    body: str,
    source: str,
    structure: tuple[str, ...] = (),
    open_container: bool = False,
    hidden_at: tuple[int, ...] = (),
    shown: str | None = None,
) -> Reply:
    """One body's split; `structure` is what the HTML marked as quotes (see `html_text`);
    `open_container`: read the answers in a quote container (`_container_quote_start`);
    `hidden_at`: the lines where the HTML had text that it does not show; `shown`: the
    same lines as the HTML shows them, with the targets of links ("hier (https://...)",
    `HtmlText.with_links`): the quotes are found in `body`, without them, and the reply's
    texts are made of these lines, so that what the sender linked to stays in them."""
    lines = body.split("\n")
    shown_lines = lines if shown is None else shown.split("\n")
    if len(shown_lines) != len(lines):
        shown, shown_lines = None, lines  # pragma: no cover - `with_links` is line for line
    text = body if shown is None else shown
    full = text.replace(qm.HTML_CUT_MARK, "").strip("\n")
    candidates = qm.candidate_lines(body)
    if not candidates:
        # No line that could mark a quote or a signature: all of it is new text.
        whole = text.strip()
        cuts = tuple(Cut("html-hidden", line, source) for line in hidden_at)
        return Reply(
            full, whole, whole, "", "", whole, tuple(dict.fromkeys(cut.rule for cut in cuts)),
            source, cuts, tuple((line, _OWN) for line in shown_lines),
        )  # fmt: skip
    kinds, found, wrapped = _mark_quotes(
        lines, candidates, rewrapped=source == "text", open_container=open_container
    )
    authored_lines, signature_lines = _split_signatures(lines, kinds, found, candidates)
    authored_lines = [
        None if line is None else shown_line
        for line, shown_line in zip(authored_lines, shown_lines, strict=True)
    ]
    found += [("html-hidden", line) for line in hidden_at]
    cuts = [Cut(rule, line, source) for rule, line in sorted(found, key=lambda cut: cut[1])]
    if "html-quote-element" in structure:
        cuts.insert(0, Cut("html-quote-element", 0, source))
    # Only a reply with own text between quoted lines may be interleaved; only in one are
    # the quoted "wrote" lines told apart (each a bounded check, but not a free one).
    interleaved = _own_text_between_quotes(lines, kinds, signature_lines)
    layout = tuple(
        (shown_line, _role(line, kind, is_sig, index in wrapped, interleaved))
        for index, (line, shown_line, kind, is_sig) in enumerate(
            zip(lines, shown_lines, kinds, signature_lines, strict=True)
        )
    )
    own_text = _trimmed(_join_runs([line if role == _OWN else None for line, role in layout]))
    return Reply(
        full=full,
        new_text=_reply_text(layout, own_text),
        own_text=own_text,
        quoted=_join_runs(
            [
                line if kind == _QUOTED and line.strip() != qm.HTML_CUT_MARK else None
                for line, kind in zip(shown_lines, kinds, strict=True)
            ]
        ),
        signature=_join_runs(
            [
                line if is_sig else None
                for line, is_sig in zip(shown_lines, signature_lines, strict=True)
            ]
        ),
        authored=_join_runs(authored_lines),
        markers=tuple(dict.fromkeys(cut.rule for cut in cuts)),
        source=source,
        cuts=tuple(cuts),
        layout=layout,
    )


def _is_undated_attribution(line: str) -> bool:
    text = line.rstrip()
    if not text.endswith(":") or len(text) > qm.MAX_HEADER_CHARS:
        return False
    return bool(_OPENS_ATTRIBUTION.match(text)) and bool(
        _ENDS_WITH_VERB.search(text[-_ATTRIBUTION_TAIL:])
    )


def _own_text_between_quotes(lines: list[str], kinds: list[str], signature: list[bool]) -> bool:
    """Whether a non-blank own line has a quoted line above it and one below it."""
    quote_above = own_below_quote = False
    for line, kind, is_sig in zip(lines, kinds, signature, strict=True):
        if kind == _QUOTED:
            if own_below_quote:
                return True
            quote_above = True
        elif quote_above and not is_sig and not qm.is_blank(line):
            own_below_quote = True
    return False


def _role(line: str, kind: str, in_signature: bool, wrapped: bool, interleaved: bool) -> str:
    if kind == _AUTHORED:
        return _OFF if in_signature else _OWN
    if line.strip() == qm.HTML_CUT_MARK or not (qm.is_quoted(line) or wrapped):
        return _QUOTED_OTHER
    # A quoted attribution ("> Am ... schrieb X:", Thunderbird's quoted cite prefix) heads
    # a quote; nothing answers it.
    if interleaved and qm.is_wrote_header(line.lstrip(" \t>|").strip()):
        return _ATTRIBUTION
    return _QUOTE


def _reply_text(layout: tuple[tuple[str, str], ...], own_text: str) -> str:
    """The new text: `own_text`, or for an interleaved reply its own lines with the quoted
    lines they answer (`_interleaved_lines`)."""
    lines = _interleaved_lines(layout)
    return own_text if lines is None else _trimmed("\n".join(line for line, _ in lines))


def _interleaved_lines(layout: tuple[tuple[str, str], ...]) -> list[tuple[str, str]] | None:
    """The lines of an interleaved reply's new text with their roles, or None when the
    reply is not interleaved.

    A quoted line is answered when the next line below it that is neither blank nor
    quoted is the sender's own ('>' blocks answered inline, also a block above an answer
    at the bottom). A reply is interleaved when some own text stands between an answered
    quoted line and a quoted line below it: answers typed between quotes, as opposed to
    a reply above the quote (top posting) or below it (bottom posting), whose new text is
    only the own text. The quote headers (also a quoted "wrote" line), the empty quoted
    lines at either end of a kept block, the quote that nothing answers (usually the rest
    of the mail below the last answer) and the signature are not kept; a blank or empty
    quoted line that goes leaves a blank line, and blank lines in a row are one.
    """
    answered = [False] * len(layout)
    answer_below = quote_below = False
    for index in range(len(layout) - 1, -1, -1):
        line, role = layout[index]
        if qm.is_blank(line) or role == _ATTRIBUTION:
            continue  # inside a quote, neither ends it nor answers it
        if role != _QUOTE:
            answer_below, quote_below = role == _OWN, False
        elif _is_empty_quote(line):
            answered[index] = answer_below and quote_below
        else:
            answered[index], quote_below = answer_below, True
    quote_above = False
    for index, (line, role) in enumerate(layout):
        if qm.is_blank(line):
            continue
        if role == _QUOTE and _is_empty_quote(line):
            answered[index] = answered[index] and quote_above
        else:
            quote_above = role == _QUOTE and answered[index]
    # 0: looking for an answered quoted line, 1: for own text below it, 2: for a quote.
    state = 0
    for (line, role), is_answered in zip(layout, answered, strict=True):
        if qm.is_blank(line):
            continue
        if state == 0 and is_answered:
            state = 1
        elif state == 1 and role == _OWN:
            state = 2
        elif state == 2 and role in (_QUOTE, _ATTRIBUTION, _QUOTED_OTHER):
            break
    else:
        return None
    lines: list[tuple[str, str]] = []
    for (line, role), is_answered in zip(layout, answered, strict=True):
        if not (role == _OWN or is_answered):
            if not (qm.is_blank(line) or (role == _QUOTE and _is_empty_quote(line))):
                continue
            line = ""
        if qm.is_blank(line) and (not lines or qm.is_blank(lines[-1][0])):
            continue
        lines.append((line, role))
    return lines


def _is_empty_quote(line: str) -> bool:
    """A quoted line with nothing but its marks (">", "> >")."""
    return not line.strip(" \t>|")


def _without_lines_quoted_in(reply: Reply, other: Reply) -> Reply:
    """`reply` without the own lines that `other` (the same mail's other part) quotes and
    does not write anew; marked "quoted-in-other-part" when any went."""
    written = {_line_key(line) for line in other.authored.split("\n")}
    quoted = {_line_key(line) for line in other.quoted.split("\n")} - written - {""}
    if not quoted:
        return reply
    own_text = _keep_unquoted(reply.own_text, quoted)
    if own_text == reply.own_text:
        return reply
    layout = tuple(
        (line, _OFF if role == _OWN and _line_key(line) in quoted else role)
        for line, role in reply.layout
    )
    return replace(
        reply,
        new_text=_reply_text(layout, own_text),
        own_text=own_text,
        layout=layout,
        authored=_keep_unquoted(reply.authored, quoted),
        markers=tuple(dict.fromkeys((*reply.markers, "quoted-in-other-part"))),
        cuts=(*reply.cuts, Cut("quoted-in-other-part", 0, other.source)),
    )


# A line's words, as both parts of a mail write them (`_words`): letters and digits, a
# command's "#" kept with its word; a list marker that the text part writes for an HTML
# list ("1.", "a)", Outlook's "o" and "§" for nested bullets; "*", "-" are no words).
_SAID_WORD = re.compile(r"#?[^\W_]+")
_BARE_LINK = re.compile(r"\b(?:https?://|ftp://|mailto:|www\.)\S+", re.IGNORECASE)
_LIST_MARKER = re.compile(r"^\s*(?:\d{1,3}[.)]|[a-z][.)]|o|§)\s+(?=\S)", re.IGNORECASE)
# A line's words are looked for at this many places of its rarest word in the other
# part, which bounds the work per word; a line not found there does not act.
MAX_PLACES = 64


def _words(line: str) -> list[str]:
    """The words of a line as both parts write them: casefolded and compatibility-
    normalised letters and digits, without punctuation, markup, link addresses (the text
    part writes "Shop <https://...>", the HTML's text "Shop (https://...)"), bare links
    and soft hyphens."""
    line = _BARE_LINK.sub(" ", _without_links(line))
    line = unicodedata.normalize("NFKC", line.replace("\u00ad", "")).casefold()
    return _SAID_WORD.findall(line)


class _Said:
    """The words of one part's text (its own text and signature) in order, and where each
    word stands, to tell whether a line's words stand there in a row."""

    def __init__(self, text: str) -> None:
        self.words: list[str] = []
        self.places: dict[str, list[int]] = {}
        for line in text.split("\n"):
            for word in _words(line):
                self.places.setdefault(word, []).append(len(self.words))
                self.words.append(word)

    def says(self, line: str) -> bool:
        """Whether the words of `line` stand in a row in this text (soft line breaks,
        spacing and punctuation apart); a line without words says nothing that acts. A
        list marker that only one part writes is left out."""
        if self._has(_words(line)):
            return True
        marker = _LIST_MARKER.match(line)
        return bool(marker) and self._has(_words(line[marker.end() :]))

    def _has(self, words: list[str]) -> bool:
        if not words:
            return True
        rarest = min(range(len(words)), key=lambda index: len(self.places.get(words[index], ())))
        count = len(words)
        for place in self.places.get(words[rarest], [])[:MAX_PLACES]:
            start = place - rarest
            if start >= 0 and self.words[start : start + count] == words:
                return True
        return False


def _said_in_both(reply: Reply, other: Reply) -> Reply:
    """`reply` without the own lines whose words `other` (the same mail's other part, its
    own text and signature) does not also write in a row; each is cut as
    "parts-disagree" with its line. A client writes both parts of a mail from the same
    text, so a line only one of them holds is one that the sender may never have seen:
    text hidden from the HTML's reader in the text part, or the other way round."""
    said = _Said(other.authored)
    layout: list[tuple[str, str]] = []
    dropped: list[int] = []
    for number, (line, role) in enumerate(reply.layout, 1):
        if role == _OWN and not said.says(line):
            dropped.append(number)
            role = _OFF
        layout.append((line, role))
    if not dropped:
        return reply
    own_text = _trimmed(_join_runs([line if role == _OWN else None for line, role in layout]))
    unconfirmed = [reply.layout[number - 1][0] for number in dropped]
    gone = {_line_key(line) for line in unconfirmed}
    cuts = (*reply.cuts, *(Cut("parts-disagree", number, reply.source) for number in dropped))
    return replace(
        _with_cuts(reply, cuts),
        new_text=_reply_text(tuple(layout), own_text),
        own_text=own_text,
        authored=_keep_unquoted(reply.authored, gone),
        layout=tuple(layout),
        unconfirmed=_trimmed("\n".join(unconfirmed)),
    )


# Words as both parts write them: a text part writes a link's address ("Shop
# <https://shop.example>") and an image's name ("[image: logo.png]"), an HTML part neither;
# the HTML's text writes a link's address after its text ("Shop (https://shop.example)",
# `HtmlText.with_links`), the text part in its own way or not at all.
_WORD = re.compile(r"\w+")
_TEXT_ONLY = re.compile(r"<[^<>\s]*(?::|@)[^<>\s]*>|\[(?:image|cid|bild|grafik):[^\]\n]*\]", re.I)
_LINK_TARGET = re.compile(rf"\((?:{'|'.join(map(re.escape, LINK_SCHEMES))})\S*\)", re.IGNORECASE)


def _without_links(text: str) -> str:
    """`text` without what only one part writes: link addresses, in angle brackets or in
    parentheses after the link's text, and images' names; to compare the parts'
    words, never to show."""
    return _LINK_TARGET.sub(" ", _TEXT_ONLY.sub(" ", text))


def _as_the_text_part_writes_it(decided: Reply, from_text: Reply) -> Reply:
    """The reply that the HTML part `decided`, as the text part writes it.

    A client writes its text part for plain-text readers: its own line breaks, blank lines
    between paragraphs, link addresses. When the text part's own text holds the same words
    as the HTML's, or begins with them up to the end of a line (it lost the quote marks
    that the HTML has), or is a shorter beginning of them (it found a signature the HTML
    does not mark), its lines are the own text; never more words than the HTML's own
    text, so nothing the HTML quotes comes back. Otherwise the HTML's text stays. The new
    text of an interleaved reply is the text part's only when it holds the same words,
    each as the sender's or as quoted as in the HTML's (a text part that lost the quote
    marks would show the answered quote as the sender's).
    """
    own_text = _text_part_lines(decided.own_text, from_text.own_text)
    if own_text is None:
        own_text = decided.own_text
    new_text = own_text
    if decided.new_text != decided.own_text:  # interleaved
        same = _reply_words(from_text.layout) == _reply_words(decided.layout)
        new_text = from_text.new_text if same else decided.new_text
    if own_text == decided.own_text and new_text == decided.new_text:
        return decided
    cuts = tuple(dict.fromkeys((*decided.cuts, *from_text.cuts)))
    return replace(
        decided,
        new_text=new_text,
        own_text=own_text,
        cuts=cuts,
        markers=tuple(dict.fromkeys(cut.rule for cut in cuts)),
    )


def _text_part_lines(decided: str, written: str) -> str | None:
    """`written` (the text part's own text) cut to the words of `decided` (the HTML's), as
    `_as_the_text_part_writes_it` says, or None when it does not hold them."""
    lines = written.split("\n")
    words = [
        (word, index)
        for index, line in enumerate(lines)
        for word in _WORD.findall(_without_links(line).casefold())
    ]
    wanted = _WORD.findall(_without_links(decided).casefold())
    if [word for word, _ in words[: len(wanted)]] != wanted[: len(words)]:
        return None
    if len(wanted) >= len(words):
        return written
    if not wanted:
        return ""
    last_line = words[len(wanted) - 1][1]
    if words[len(wanted)][1] == last_line:
        return None  # the HTML's own text ends inside a line of the text part
    return _trimmed("\n".join(lines[: last_line + 1]))


def _reply_words(layout: tuple[tuple[str, str], ...]) -> list[tuple[str, bool]]:
    """The words of an interleaved reply's new text, each with whether the sender wrote it
    (False: quoted); empty when the reply is not interleaved."""
    return [
        (word, role == _OWN)
        for line, role in _interleaved_lines(layout) or []
        for word in _WORD.findall(_without_links(line).casefold())
    ]


def _trimmed(text: str) -> str:
    """Text without trailing spaces on its lines (format=flowed soft breaks, editors'
    leftovers) and without blank lines at either end."""
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _keep_unquoted(text: str, quoted: set[str]) -> str:
    return _join_runs([None if _line_key(line) in quoted else line for line in text.split("\n")])


def _line_key(line: str) -> str:
    """A line as both parts of a mail write it: without quote marks, spacing or case."""
    return " ".join(line.lstrip(" \t>|").split()).casefold()


# Zero-width characters that clients and trackers leave in otherwise blank lines, and the
# soft hyphen, which a reader sees only where a line breaks.
_INVISIBLE = str.maketrans(
    {"\u200b": None, "\u2060": None, "\ufeff": None, "\u00ad": None, "\u00a0": " "}
)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_INVISIBLE)


# A cut found in one part's lines: rule id and 1-based line.
_Found = tuple[str, int]


def _mark_quotes(
    lines: list[str], candidates: list[int], rewrapped: bool, open_container: bool = False
) -> tuple[list[str], list[_Found], set[int]]:
    """Mark every line authored or quoted; return the marks, what fired and the unmarked
    lines that continue a quoted line. Only the candidate lines can start a quote: every
    other line stays as it is. `rewrapped`: the text may hold quoted lines that a client
    wrapped without repeating the mark (plain text may; text made from HTML, where a quote
    is an element, may not). `open_container`: an HTML quote container that holds a "wrote"
    line and '>' lines quotes only them (`_container_quote_start`)."""
    count = len(lines)
    kinds = [_AUTHORED] * count
    cuts: list[_Found] = []
    index = 0
    for candidate in candidates:
        if candidate < index:
            continue
        index = candidate
        line = lines[index]
        if qm.is_quoted(line):
            start = _attribution_start(lines, kinds, index)
            if start < index or index == 0 or kinds[index - 1] != _QUOTED:
                # One cut per block of quoted lines, where it starts.
                cuts.append(("quote-marks" if start == index else "quote-header", start + 1))
            kinds[start : index + 1] = [_QUOTED] * (index + 1 - start)
            index += 1
        elif splitter := qm.splitter_kind(line):
            cuts.append((splitter, index + 1))
            following = (
                _container_quote_start(lines, index)
                if open_container and splitter == "html-quote-container"
                else None
            )
            if following is None:
                break
            kinds[index:following] = [_QUOTED] * (following - index)
            index = following
        elif _is_header_block(lines, index):
            index = _include_separator_above(lines, index)
            cuts.append(("outlook-header", index + 1))
            break
        elif (end := _wrote_header_end(lines, index)) is not None:
            index = _wrapped_start(lines, kinds, index)
            cuts.append(("quote-header", index + 1))
            following = _next_nonblank(lines, end + 1)
            if following is None or not qm.is_quoted(lines[following]):
                # Nothing marks the quoted text below this header: all of it is quoted.
                index = _include_separator_above(lines, index)
                break
            # The header only introduces '>' lines; answers below them stay new text.
            kinds[index:following] = [_QUOTED] * (following - index)
            index = following
        else:
            index += 1
    else:
        index = count
    kinds[index:] = [_QUOTED] * (count - index)
    wrapped = _mark_wrapped_quote_lines(lines, kinds, candidates) if rewrapped else set()
    return kinds, cuts, wrapped


def _container_quote_start(lines: list[str], cut: int) -> int | None:
    """The first '>' line of a quote container whose cut mark is at `cut`, when the
    container opens with a "wrote" line (or none) right above it, else None."""
    start = _next_nonblank(lines, cut + 1)
    if start is None or qm.is_quoted(lines[start]):
        return start
    end = _wrote_header_end(lines, start)
    if end is None and _is_undated_attribution(lines[start]):
        end = start
    following = None if end is None else _next_nonblank(lines, end + 1)
    if following is None or not qm.is_quoted(lines[following]):
        return None
    return following


def _is_header_block(lines: list[str], index: int) -> bool:
    """Two or more "Key: value" header lines with different keys, starting at `index`."""
    first = qm.header_key(lines[index])
    if first is None:
        return False
    keys = {first}
    # Values wrap ("*From:* bob@example.com [mailto:\n  bob@example.com]"): allow one
    # continuation line between header lines.
    position, continuation = index + 1, 0
    while position < len(lines) and position <= index + 8 and not qm.is_blank(lines[position]):
        key = qm.header_key(lines[position])
        if key is None:
            continuation += 1
            if continuation > 1:
                break
        else:
            keys.add(key)
            continuation = 0
        position += 1
    return len(keys) >= 2


def _wrote_header_end(lines: list[str], index: int) -> int | None:
    """If an "On ... wrote:" header (possibly wrapped) starts at `index`, its last line."""
    if not _MAYBE_HEADER.search(lines[index]):
        return None
    # Only a line that opens like a header may continue on the next lines; otherwise the
    # window would swallow new text above a header ("TAKE 3" + "On ... wrote:"). A header
    # that opens with its name ("X <x@y> schrieb am Di., 16. Aug. 2016" / "um 12:52 Uhr:")
    # continues on the lines right below it, unless one of them opens a header itself.
    opens = qm.opens_header(lines[index])
    window = qm.MAX_HEADER_LINES if qm.may_open_wrapped_header(lines[index]) else 1
    joined = ""
    end = index
    seen = 0
    while end < len(lines) and seen < window:
        part = lines[end].strip()
        if end > index and not opens and (not part or qm.may_open_wrapped_header(part)):
            return None
        if part.startswith(">") and end > index:
            part = part.lstrip("> ")
        joined = f"{joined} {part}".strip() if part else joined
        if len(joined) > qm.MAX_HEADER_CHARS:
            return None
        if part and qm.is_wrote_header(joined):
            return end
        seen += 1
        end += 1
    return None


def _attribution_start(lines: list[str], kinds: list[str], index: int) -> int:
    """The first line of an attribution ("2011/4/7 Nathan <a@b.c>:") above the '>' line at
    `index`, or `index` itself when there is none."""
    above = index - 1
    if above >= 0 and qm.is_blank(lines[above]):
        above -= 1
    if above < 0 or kinds[above] != _AUTHORED or qm.is_quoted(lines[above]):
        return index
    if (
        not qm.is_attribution(lines[above])
        and not _is_undated_attribution(lines[above])
        and _wrote_header_end(lines, above) != above
    ):
        return index
    start = _wrapped_start(lines, kinds, above)
    # A wrapped "On ... wrote:" whose first line starts higher up.
    for back in range(1, qm.MAX_HEADER_LINES):
        candidate = above - back
        if candidate < 0 or kinds[candidate] != _AUTHORED or qm.is_blank(lines[candidate]):
            break
        if _wrote_header_end(lines, candidate) == above:
            start = min(start, candidate)
    return start


def _wrapped_start(lines: list[str], kinds: list[str], start: int) -> int:
    """Move a header's first line up over a wrapped address: "... <" above "x@y> wrote:"."""
    for _ in range(qm.MAX_HEADER_LINES - 1):
        previous = start - 1
        if previous < 0 or qm.is_blank(lines[previous]) or kinds[previous] != _AUTHORED:
            break
        wrapped = lines[previous].rstrip().endswith(("<", "(")) or lines[start].lstrip().startswith(
            ("<", "(")
        )
        if not wrapped:
            break
        start = previous
    return start


def _mark_wrapped_quote_lines(
    lines: list[str], kinds: list[str], candidates: list[int]
) -> set[int]:
    """A single unmarked line squeezed between two quoted lines is the rest of the line
    above when a client wrapped it without repeating the mark; it stays quoted (the lines
    so marked are returned). A client wraps a line that is too long, or breaks a link; an
    answer typed below a short quoted line ("> Service (1-5):" then "4") is the sender's
    (`qm.continues_quoted_line`)."""
    quoted = {index for index in candidates if qm.is_quoted(lines[index])}
    wrapped: set[int] = set()
    for above in quoted:
        index = above + 1
        if (
            above + 2 in quoted
            and kinds[index] == _AUTHORED
            and not qm.is_blank(lines[index])
            and qm.continues_quoted_line(lines[above], lines[index])
        ):
            kinds[index] = _QUOTED
            wrapped.add(index)
    return wrapped


def _include_separator_above(lines: list[str], index: int) -> int:
    """Start the cut at a rule of dashes/underscores just above a header block."""
    above = index - 1
    while above >= 0 and index - above <= 3 and qm.is_blank(lines[above]):
        above -= 1
    if above >= 0 and qm.is_separator(lines[above]):
        return above
    return index


def _next_nonblank(lines: list[str], index: int) -> int | None:
    for position in range(index, min(len(lines), index + 6)):
        if not qm.is_blank(lines[position]):
            return position
    return None


def _split_signatures(
    lines: list[str], kinds: list[str], cuts: list[_Found], candidates: list[int]
) -> tuple[list[str | None], list[bool]]:
    """Authored lines (None where quoted) and which of them belong to a signature.

    A signature starts at a "-- " line, a mobile footer, or a signature rule above a short
    rest ("---", "______", "ᐧ"; all candidate lines) and runs to the end of that run of
    authored lines (the next quote ends it).
    """
    may_start = set(candidates)
    authored: list[str | None] = []
    signature = [False] * len(lines)
    in_signature = False
    for index, (line, kind) in enumerate(zip(lines, kinds, strict=True)):
        if kind != _AUTHORED:
            authored.append(None)
            in_signature = False
            continue
        authored.append(line)
        if not in_signature and index in may_start:
            rule = _signature_start(lines, kinds, index)
            if rule is not None:
                in_signature = True
                cuts.append((rule, index + 1))
        signature[index] = in_signature
    return authored, signature


# A mediator's command ("#frist 5") is never part of a signature: a rule above one is a
# divider in the text.
_COMMAND = re.compile(r"^\s*#[^\W\d_]")


def _signature_start(lines: list[str], kinds: list[str], index: int) -> str | None:
    """The rule id if a signature starts at authored line `index`, else None."""
    line = lines[index]
    if qm.is_signature_dashes(line):
        return "signature-dashes"
    if qm.is_mobile_footer(line):
        return "mobile-footer"
    if qm.is_signature_rule(line) and _short_rest(lines, kinds, index):
        return "signature-rule"
    return None


def _short_rest(lines: list[str], kinds: list[str], index: int) -> bool:
    """Whether the authored lines below `index`, to the next quote, are few enough for a
    signature (at most `qm.MAX_SIGNATURE_LINES` non-blank lines, no command)."""
    written = 0
    for position in range(index + 1, len(lines)):
        if kinds[position] != _AUTHORED:
            break
        line = lines[position]
        if qm.is_blank(line):
            continue
        written += 1
        if written > qm.MAX_SIGNATURE_LINES or _COMMAND.match(line):
            return False
    return True


def _join_runs(lines: list[str | None]) -> str:
    """Join the kept lines (None = dropped); runs separated by a dropped stretch are joined
    with a blank line if the earlier run ended with one, else with a line break."""
    out: list[str] = []
    gap = False
    for line in lines:
        if line is None:
            gap = bool(out)
            continue
        if gap:
            if not line.strip():
                continue
            ended_blank = bool(out) and not out[-1].strip()
            while out and not out[-1].strip():
                out.pop()
            if out and ended_blank:
                out.append("")
            gap = False
        out.append(line)
    return "\n".join(out).strip()
