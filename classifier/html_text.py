"""HTML mail bodies turned into plain text that keeps the quote structure.

Owns the conversion used before reply extraction. It must be given the HTML as it was
sent: the quote structure lives in the class, id and style attributes that a sanitiser
removes. Block elements become line breaks, and two kinds of structure mark a quote:

- quote elements, whose content is prefixed with '>' as a plain-text client would quote
  it: `<blockquote>` with any attributes, any element with `type="cite"` or a `cite`
  attribute, GMX's `name="quote"`, and any element drawn with a left border but no right
  one (the bar that Gmail, Yahoo, Outlook, Apple Mail, Zimbra, Roundcube and others draw
  beside a quote), however the inline style spells it;
- quote containers, the elements that clients wrap around the quoted or forwarded
  message (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg` and its border-top
  separator, Apple's `AppleOriginalContents`, Thunderbird's `moz-forward-container`, Yahoo's
  `yahoo_quoted`, ...): where the first one starts, a line holding `HTML_CUT_MARK` is
  written, and everything after it is quoted, because some of them (Outlook's
  separator, Zimbra's divider, Hotmail's `stopSpelling` rule) only head the message
  that follows them. Thunderbird's `moz-cite-prefix` attribution is quoted as an element
  instead: Thunderbird writes its reply below the quote by default.

The stdlib tokenizer reads the document once, and the open elements are kept on a stack
with a count per tag, so that an end tag closes what it closes in a browser in constant
amortised time: the cost is linear in the size of the document.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from typing import NamedTuple

from classifier.quote_markers import HTML_CUT_MARK

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "center",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_SKIPPED_TAGS = frozenset({"head", "script", "style", "title", "template", "xml"})
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip

# Words in the class, id, name or data-marker value of an element that holds (or heads)
# the quoted or forwarded message, by client. Matched inside the value, because clients
# that quote an HTML mail again prefix the names they find ("x_divRplyFwdMsg" by Outlook
# on the web, "ecxstopSpelling" by Hotmail, "ydp3f2a9yahoo_quoted" by Yahoo).
_CONTAINER_WORDS = (
    # Gmail, and clients that copy its markup (Superhuman, Spark)
    "gmail_quote",
    "gmail_attr",
    "gmail_extra",
    # Outlook desktop, Outlook on the web, Outlook for iOS, Android and Mac
    "divrplyfwdmsg",
    "appendonsend",
    "olk_src_body_section",
    "outlookmessageheader",
    "mail-editor-reference-message-container",
    "ms-outlook-mobile-reference-message",
    "mac_outlook_attribution_blockquote",
    # Apple Mail
    "appleoriginalcontents",
    # Thunderbird, SeaMonkey (its "moz-cite-prefix" attribution is a quote element below)
    "moz-forward-container",
    "moz-email-headers-table",
    # Yahoo, AOL
    "yahoo_quoted",
    "aolmsgpart",
    # Proton, Tutanota, Zoho, Skiff, Spark
    "protonmail_quote",
    "tutanota_quote",
    "zmail_extra",
    "skiff_quote",
    "messagereplysection",
    # Zimbra: `<hr id="zwchr" data-marker="__DIVIDER__">`, then headers and quoted text
    "zwchr",
    "__divider__",
    "__headers__",
    "__quoted_text__",
    # Hotmail and Windows Live Mail: `<hr id="stopSpelling">`
    "stopspelling",
    # Chinese webmail (QQ, 139, NetEase) and others that Proton Mail recognises
    "replysplit",
    "isforwardcontent",
    "isreplycontent",
    "origbody",
    "reply139content",
    "orimsghtmlseperator",
    "mail-quote-collapse",
)
_CONTAINER = re.compile("|".join(re.escape(word) for word in _CONTAINER_WORDS))
# Samsung Email and other mobile clients mark the quoted message with an HTML comment.
_CONTAINER_COMMENT = re.compile(r"original\s*message", re.IGNORECASE)
# GMX and Web.de give the quote element a name instead of a class; other clients and
# ticket systems a plain class.
_QUOTE_NAMES = frozenset({"quote", "quoted-content"})
_QUOTE_CLASSES = frozenset(
    {"quote", "quoted", "quotation", "mail-quote", "email-quote", "reply-quote", "replyquote",
     # Thunderbird's attribution line above its quote: quoted like the quote itself, not
     # a cut, since Thunderbird posts below the quote by default.
     "moz-cite-prefix"}
)  # fmt: skip
_ATTRIBUTES_WITH_NAMES = ("class", "id", "name", "data-marker")
# Gmail's signature block; its text part writes "-- " above the signature, and so do we.
_SIGNATURE_CLASS = "gmail_signature"
# A paragraph right below another stands apart from it by a blank line, as a browser
# draws it, except Word's (Outlook's) "MsoNormal" paragraphs, which have no margins: Outlook writes
# each line as one and a blank line as a paragraph holding only a no-break space.
_WORD_PARAGRAPH = "msonormal"

_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")
# A line is quoted at any depth; writing at most this many marks keeps the output linear
# in the input however deep the quotes nest.
MAX_MARKS = 8
# Class, id and name values that clients write are short; a longer one is cut before it
# is searched, which bounds the work per tag.
MAX_NAME_CHARS = 200


# -- inline style --------------------------------------------------------------------

_SIDES = ("top", "right", "bottom", "left")
_BORDER_STYLES = frozenset(
    {"none", "hidden", "solid", "dotted", "dashed", "double", "groove", "ridge", "inset",
     "outset"}
)  # fmt: skip
_ZERO_WIDTH = re.compile(r"0+(?:\.0*)?(?:[a-z]+|%)?")
_WIDTH = re.compile(r"(?:\d*\.?\d+)(?:[a-z]+|%)?|thin|medium|thick")
# Which of the 1-4 values of a box shorthand ("border-width: 0 0 0 2px") sets each side.
_BOX_INDEX = {
    1: (0, 0, 0, 0),
    2: (0, 1, 0, 1),
    3: (0, 1, 2, 1),
    4: (0, 1, 2, 3),
}


def _declarations(style: str) -> list[tuple[str, str]]:
    """The (property, value) pairs of an inline style, in order, lower case."""
    pairs = []
    for declaration in style.lower().split(";"):
        name, colon, value = declaration.partition(":")
        if colon:
            pairs.append((name.strip(), value.replace("!important", "").strip()))
    return pairs


def drawn_borders(style: str) -> frozenset[str]:
    """The sides ("top", "right", "bottom", "left") on which an inline style draws a
    border. Later declarations win, as in CSS; a shorthand without a style draws none
    (CSS resets it), and a width given alone is taken as drawn, since a quote bar is what
    it is meant for. Logical `border-inline-start` is taken as the left side."""
    sides: dict[str, dict[str, str | None]] = {
        side: {"style": None, "width": None} for side in _SIDES
    }
    for name, value in _declarations(style):
        name = name.replace("inline-start", "left").replace("inline-end", "right")
        parts = name.split("-")
        if parts[0] != "border" or len(parts) > 3:
            continue
        tokens = value.split()
        if len(parts) == 1:  # border: 1px solid #ccc
            for side in _SIDES:
                sides[side] = _shorthand(tokens)
        elif parts[1] in _SIDES and len(parts) == 2:  # border-left: 1px solid #ccc
            sides[parts[1]] = _shorthand(tokens)
        elif parts[1] in _SIDES and parts[2] in ("style", "width"):  # border-left-style
            sides[parts[1]][parts[2]] = tokens[0] if tokens else None
        elif parts[1] in ("style", "width") and len(parts) == 2 and 1 <= len(tokens) <= 4:
            for side, index in zip(_SIDES, _BOX_INDEX[len(tokens)], strict=True):
                sides[side][parts[1]] = tokens[index]
    return frozenset(side for side, box in sides.items() if _is_drawn(box["style"], box["width"]))


def _shorthand(tokens: list[str]) -> dict[str, str | None]:
    style = next((token for token in tokens if token in _BORDER_STYLES), "none")
    width = next((token for token in tokens if _WIDTH.fullmatch(token)), None)
    return {"style": style, "width": width}


def _is_drawn(style: str | None, width: str | None) -> bool:
    if style in ("none", "hidden"):
        return False
    if width is not None and _ZERO_WIDTH.fullmatch(width):
        return False
    return style is not None or width is not None


def _is_quote_bar(borders: frozenset[str]) -> bool:
    """A border on the left and none on the right: the bar drawn beside a quote (a box
    drawn all round is a frame, not a quote)."""
    return "left" in borders and "right" not in borders


# Outlook heads the quoted message with its "From:/Sent:" block in a div whose only
# border is a thin line on top ("border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt
# 0cm 0cm 0cm"): Word writes every length in points, and Outlook's two colours for it are
# #E1E1E1 and #B5C4DF.
_OUTLOOK_TOP_BORDER = re.compile(r"border-top[^;]*(?:\d\s*pt|#(?:e1e1e1|b5c4df))", re.IGNORECASE)


def _is_outlook_separator(style: str, borders: frozenset[str]) -> bool:
    return borders == {"top"} and bool(_OUTLOOK_TOP_BORDER.search(style))


# -- the converter -------------------------------------------------------------------


class HtmlText(NamedTuple):
    """The text of an HTML body, and the dashed ids of the quote structure it had:
    "html-quote-element" (a blockquote, cite or left-border bar, written as '>' lines)
    and "html-quote-container" (a client's container, written as `HTML_CUT_MARK`)."""

    text: str
    markers: tuple[str, ...]


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.markers: dict[str, None] = {}  # an ordered set
        self._cut_written = False
        self._line: list[str] = []
        # Whether the open line holds a no-break space and nothing else visible: a block
        # holding only "&nbsp;" is a blank line in a browser (GMX, Web.de, Outlook).
        self._line_spaced = False
        self._line_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0
        # Where the open paragraph began (index into `lines`) and whether it has margins;
        # and the line count when the last paragraph with margins ended.
        self._paragraph: tuple[int, bool] | None = None
        self._paragraph_end = -1
        # Open elements: tag and whether it opened a quote; and how many of each tag.
        self._open: list[tuple[str, bool]] = []
        self._open_count: Counter[str] = Counter()

    def _break(self, force: bool = False) -> None:
        """End the current line; `force` (a `<br>`) keeps an empty line, one at most."""
        text = "".join(self._line).strip()
        prefix = "> " * min(self._line_depth, MAX_MARKS)
        if text:
            self.lines.append(prefix + text)
        elif (force or self._line_spaced) and self.lines and self.lines[-1].strip("> "):
            self.lines.append(prefix.rstrip())
        self._line = []
        self._line_spaced = False
        self._line_depth = self._quote_depth

    def _gap(self) -> None:
        """A blank line, unless the text so far ends with one (or nothing is written)."""
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append(("> " * min(self._quote_depth, MAX_MARKS)).rstrip())

    def _cut(self) -> None:
        self.markers["html-quote-container"] = None
        if self._cut_written:
            return
        self._break()
        self.lines.append(HTML_CUT_MARK)
        self._cut_written = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += tag not in _VOID_TAGS
            return
        attributes = {name: (value or "") for name, value in attrs}
        style = attributes.get("style", "")
        # Most elements have no border: the style is read only when it names one.
        borders = drawn_borders(style) if "border" in style.lower() else frozenset()
        if _is_container(attributes) or (tag == "div" and _is_outlook_separator(style, borders)):
            self._cut()
        if tag == "br":
            self._break(force=True)
        elif tag in _BLOCK_TAGS:
            self._break()
        if tag == "p":
            margins = _WORD_PARAGRAPH not in attributes.get("class", "").lower()
            if margins and self._paragraph_end == len(self.lines):
                self._gap()
            self._paragraph = (len(self.lines), margins)
        if (
            _SIGNATURE_CLASS in attributes.get("class", "")[:MAX_NAME_CHARS]
            and not self._quote_depth
        ):
            self._break()
            self.lines.append("-- ")
        if tag in _VOID_TAGS:
            return
        opens_quote = _is_quote_element(tag, attributes, borders)
        self._open.append((tag, opens_quote))
        self._open_count[tag] += 1
        if opens_quote:
            if tag not in _BLOCK_TAGS:
                self._break()  # a quote never shares a line with the text before it
            self.markers["html-quote-element"] = None
            self._quote_depth += 1
            self._line_depth = self._quote_depth
        if tag == "pre":
            self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS and tag not in _SKIPPED_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag in _BLOCK_TAGS and tag != "br":
            self._break()
        if tag == "p" and self._paragraph is not None:
            start, margins = self._paragraph
            self._paragraph = None
            if margins:
                self._paragraph_end = len(self.lines)
            elif len(self.lines) == start:
                # An empty Word paragraph ("<o:p>&nbsp;</o:p>") is Outlook's blank line.
                self._break(force=True)
                self._gap()
        if not self._open_count[tag]:
            return  # a stray end tag closes nothing
        # Close the elements left open inside this one, as a browser does.
        while self._open:
            open_tag, opened_quote = self._open.pop()
            self._open_count[open_tag] -= 1
            if opened_quote:
                self._break()  # nor with the text after it
                self._quote_depth -= 1
            if open_tag == "pre":
                self._pre_depth -= 1
            if open_tag == tag:
                break
        if not self._line:
            self._line_depth = self._quote_depth

    def handle_comment(self, data: str) -> None:
        if _CONTAINER_COMMENT.search(data):
            self._cut()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._pre_depth:
            first, *rest = data.split("\n")
            self._line.append(first)
            for line in rest:
                self._break()
                self._line.append(line)
            return
        if not self._line:
            self._line_depth = self._quote_depth
        if "\u00a0" in data:
            self._line_spaced = True
        self._line.append(_SPACES.sub(" ", data))

    def result(self) -> str:
        self._break()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines)


def _is_container(attributes: dict[str, str]) -> bool:
    names = " ".join(attributes.get(name, "")[:MAX_NAME_CHARS] for name in _ATTRIBUTES_WITH_NAMES)
    return bool(names.strip()) and bool(_CONTAINER.search(names.lower()))


def _is_quote_element(tag: str, attributes: dict[str, str], borders: frozenset[str]) -> bool:
    return (
        tag == "blockquote"
        or attributes.get("type", "").lower() == "cite"
        or "cite" in attributes
        or attributes.get("name", "").lower() in _QUOTE_NAMES
        or not _QUOTE_CLASSES.isdisjoint(
            attributes.get("class", "")[:MAX_NAME_CHARS].lower().split()
        )
        or _is_quote_bar(borders)
    )


def html_to_text(html: str) -> HtmlText:
    """Plain text of an HTML body, and what in its structure marked a quote."""
    builder = _TextBuilder()
    builder.feed(html)
    builder.close()
    return HtmlText(builder.result(), tuple(builder.markers))
