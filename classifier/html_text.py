"""HTML mail bodies turned into plain text: the one HTML-to-text converter.

Owns `html_to_text(html) -> HtmlText`, the text that the reply reader reads, and
`readable_text(html) -> str`, the text that a person reads (`ParsedMail.text` of a mail
without a text part), and `bounded_html`, which cuts hostile markup to what it can read
quickly. Both texts come from the same pass over the markup and agree on what is text:

- blocks become lines; a paragraph stands apart from the one before it by a blank line,
  except Word's (Outlook's) margin-less "MsoNormal" paragraphs, where an empty one is
  Outlook's blank line; a `<br>` is a line break; `<pre>` keeps its line breaks;
- text that a mail client does not show is no text (`html_style`: hidden by inline style,
  a `<style>` sheet, attributes or its colour, and the content of `<head>`, `<script>`,
  `<style>`, `<title>`, `<template>`): `HtmlText.hidden` keeps it, with the lines where it
  stood, for the reply reader's cut "html-hidden". Text that only takes no place
  (`display:none`) joins its neighbours as in a browser; text that takes its place unseen
  (white, `visibility:hidden`) leaves a space;
- the quote structure (`html_quotes`): in `html_to_text` the lines of a quote element are
  prefixed with '>' as a plain-text client would quote them, and where the first quote
  container starts a line holding `HTML_CUT_MARK` is written; the markers found are
  returned. It must be given the HTML as it was sent: the quote structure lives in the
  class, id and style attributes that a sanitiser removes.

Both write a link as "text (url)" (http, https, mailto and tel: `LINK_SCHEMES`; once when
the text is the address): `readable_text` in its text, `html_to_text` in
`HtmlText.with_links`, the same lines as its `text` with the target after the text of
each link, and only after text: its `text` stays without them, for finding quotes and
comparing with the text part, and the reply reader takes the lines the sender wrote from
`with_links` (what it forwards keeps what the sender linked to).

They differ in what only a person needs: `readable_text` writes a link without text as
its bare url (an image's link, a link around blocks), list items with a
dash, image alt texts, blank lines around headings, lists, tables, quotes and preformatted
blocks, and the indentation of preformatted text; it writes no quote marks and no cut
mark (a reader of the text sees the quote as the mail shows it, indented, not marked).

The stdlib tokenizer reads the document once, and the open elements are kept on a stack
with a count per tag, so that an end tag closes what it closes in a browser in constant
amortised time, and a start tag closes what it implies as a browser does (a `<p>` the open
`<p>`, an `<li>` the open `<li>`, a cell the open cell), so that nothing hidden runs on
over visible text: the cost is linear in the size of the document. The tokenizer itself is
quadratic where a construct stays open to the end (it looks for its end from each "<!--"
again), and slow on a flood of "<": `bounded_html` cuts those off first, where no browser
shows anything anyway.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from typing import NamedTuple

from classifier.html_quotes import (
    is_container,
    is_container_comment,
    is_outlook_separator,
    is_quote_element,
)
from classifier.html_style import (
    MAX_NAME_CHARS,
    ROOT_VIEW,
    Sheet,
    View,
    declarations,
    drawn_borders,
    view_of,
)
from classifier.quote_markers import HTML_CUT_MARK

# Markup is read up to this many '<' (tags, or text that looks like one) and this depth of
# open elements: real mail reaches neither, and html5ever (the sanitiser's parser) takes
# time in the square of the depth.
MAX_TAGS = 50_000
MAX_DEPTH = 1_000

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "center",
        "dd",
        "details",
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
        "summary",
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
# Elements whose content no client shows (an <iframe>'s is only its fallback source).
_SKIPPED_TAGS = frozenset(
    {"head", "script", "style", "title", "template", "xml", "iframe", "noembed", "noframes"}
)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)  # fmt: skip

# Elements that stand apart from their neighbours by a blank line in `readable_text`.
_PARAGRAPH_TAGS = frozenset(
    {"blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul"}
)
# Elements that never nest, or that HTML closes by itself when the next one starts: they
# do not count towards MAX_DEPTH.
_FLAT_TAGS = frozenset(
    {"area", "base", "br", "col", "dd", "dt", "embed", "hr", "img", "input", "li", "link",
     "meta", "option", "p", "param", "source", "td", "th", "tr", "track", "wbr"}
)  # fmt: skip
# The link targets written as text: the ones a reader can follow (no "javascript:"); the
# reply reader leaves them out to compare the parts (`classifier.replies`).
LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")

# Gmail's signature block; its text part writes "-- " above the signature, and so does
# `html_to_text`, for the reader's signature rule.
_SIGNATURE_CLASS = "gmail_signature"
# A paragraph right below another stands apart from it by a blank line, as a browser
# draws it, except Word's (Outlook's) "MsoNormal" paragraphs, which have no margins: Outlook writes
# each line as one and a blank line as a paragraph holding only a no-break space.
_WORD_PARAGRAPH = "msonormal"

_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")
# A line is quoted at any depth; writing at most this many marks keeps the output linear
# in the input however deep the quotes nest.
MAX_MARKS = 8

# Every '<', with the name of the tag it opens or closes, if any.
_ANY_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,30})?")
# What the tokenizer reads as a tag, a comment or a declaration, once it has its end.
_TAG_OPEN = re.compile(r"<[A-Za-z/!?]")


def bounded_html(markup: str) -> str:
    """`markup` cut so that it is read in linear time: before the '<' that would pass
    MAX_TAGS or the tag that would nest deeper than MAX_DEPTH, at a comment that is never
    closed (a browser hides the rest in it) and at a tag that is never finished (a browser
    drops it at the end of the document)."""
    depth = 0
    for count, match in enumerate(_ANY_TAG.finditer(markup), start=1):
        closing, name = match.group(1), (match.group(2) or "").lower()
        if name and closing:
            depth = max(0, depth - 1)
        elif name and name not in _FLAT_TAGS:
            depth += 1
        if count > MAX_TAGS or depth > MAX_DEPTH:
            markup = markup[: match.start()]
            break
    comment = markup.find("<!--", markup.rfind("-->") + 1)
    if comment >= 0:
        markup = markup[:comment]
    unfinished = _TAG_OPEN.search(markup, markup.rfind(">") + 1)
    if unfinished:
        markup = markup[: unfinished.start()]
    return markup


class HtmlText(NamedTuple):
    """The text of an HTML body, and the dashed ids of the quote structure it had:
    "html-quote-element" (a blockquote, cite or left-border bar, written as '>' lines)
    and "html-quote-container" (a client's container, written as `HTML_CUT_MARK`); the
    text that a mail client does not show (`hidden`, one line per block) and the 1-based
    lines of `text` where it stood (`hidden_at`); and `text` line for line with the
    target of each link after its text, "text (url)" (`with_links`)."""

    text: str
    markers: tuple[str, ...]
    hidden: str = ""
    hidden_at: tuple[int, ...] = ()
    with_links: str = ""


class _Target(str):
    """A link's target written after its text by `html_to_text`: in `HtmlText.with_links`,
    not in `HtmlText.text`."""


# Start tags that close an open <p> (HTML's tree construction, "in body").
_CLOSES_P = frozenset(
    {"address", "article", "aside", "blockquote", "center", "details", "dialog", "dir",
     "div", "dl", "dd", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1",
     "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "li", "listing", "main",
     "menu", "nav", "ol", "p", "plaintext", "pre", "search", "section", "summary", "table",
     "ul", "xmp"}
)  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# Elements that an implied end stops at, by what is closed (HTML's "scopes"): a <p> is
# closed in button scope, an <li>, <dd> or <dt> up to a special element other than
# address, div and p, a cell or row in table scope, a link up to a cell or object.
_BUTTON_SCOPE = frozenset(
    {"applet", "caption", "html", "table", "td", "th", "marquee", "object", "template",
     "button"}
)  # fmt: skip
_LIST_SCOPE = frozenset(
    {"applet", "area", "article", "aside", "base", "blockquote", "body", "button",
     "caption", "center", "col", "colgroup", "details", "dir", "dl", "embed", "fieldset",
     "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "head",
     "header", "hgroup", "html", "iframe", "listing", "main", "marquee", "menu", "nav",
     "object", "ol", "pre", "section", "select", "summary", "table", "tbody", "td",
     "template", "textarea", "tfoot", "th", "thead", "tr", "ul", "xmp"}
)  # fmt: skip
_TABLE_SCOPE = frozenset({"html", "table", "template"})
_LINK_SCOPE = frozenset({"applet", "caption", "marquee", "object", "td", "th", "template"})
_TABLE_SECTIONS = frozenset({"tr", "tbody", "thead", "tfoot"})
# What an implied end closes: (the tags of the kind, the tags it stops at, the start tags
# that close it). Each open element keeps, per kind, the stack index of the nearest open
# element of that kind that an implied end would reach (-1: none), so that a start tag
# finds what it closes in constant time.
_IMPLIED_ENDS = (
    (frozenset({"p"}), _BUTTON_SCOPE, _CLOSES_P),
    (frozenset({"li"}), _LIST_SCOPE, frozenset({"li"})),
    (frozenset({"dd", "dt"}), _LIST_SCOPE, frozenset({"dd", "dt"})),
    (frozenset({"td", "th"}), _TABLE_SCOPE, frozenset({"td", "th"}) | _TABLE_SECTIONS),
    (frozenset({"tr"}), _TABLE_SCOPE, _TABLE_SECTIONS),
    (frozenset({"a"}), _LINK_SCOPE, frozenset({"a"})),
)  # fmt: skip
_NO_IMPLIED = (-1,) * len(_IMPLIED_ENDS)
# What may stand in <head>; any other start tag, or text, ends it (and begins the body).
_HEAD_CONTENT = frozenset(
    {"base", "basefont", "bgsound", "link", "meta", "noscript", "script", "style",
     "template", "title", "xml"}
)  # fmt: skip
_SKIPPED_TAGS_IN_BODY = _SKIPPED_TAGS - {"head"}


class _Open(NamedTuple):
    """An open element: its tag, whether it opened a quote, how its content is drawn, and
    per kind of implied end the stack index it would close (`_IMPLIED_ENDS`)."""

    tag: str
    opened_quote: bool
    view: View
    implied: tuple[int, ...]
    # A link's target, the line it opened on and where in that line.
    link: tuple[str, int, int] | None = None


class _TextBuilder(HTMLParser):
    """The converter; `readable`: write `readable_text` instead of `html_to_text`."""

    def __init__(self, readable: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._readable = readable
        self.lines: list[str] = []
        self.markers: dict[str, None] = {}  # an ordered set
        self._cut_written = False
        self._line: list[str] = []
        # `html_to_text`: the lines of `lines` (by index) written with their links' targets,
        # and whether the open line holds one.
        self.linked: dict[int, str] = {}
        self._line_linked = False
        # Whether the open line holds a no-break space and nothing else visible: a block
        # holding only "&nbsp;" is a blank line in a browser (GMX, Web.de, Outlook).
        self._line_spaced = False
        self._line_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._head_open = False
        self._pre_depth = 0
        # Where the open paragraph began (index into `lines`) and whether it has margins;
        # and the line count when the last paragraph with margins ended.
        self._paragraph: tuple[int, bool] | None = None
        self._paragraph_end = -1
        # Open elements, and how many of each tag.
        self._open: list[_Open] = []
        self._open_count: Counter[str] = Counter()
        # Text no client shows: its lines, the line being collected, where it stood.
        self.hidden: list[str] = []
        self._hidden_line: list[str] = []
        self.hidden_at: dict[int, None] = {}
        # The rules of the <style> sheets read so far, and the one being read.
        self._sheet = Sheet()
        self._style: list[str] | None = None
        self._quirks = True  # until a doctype says otherwise

    @property
    def _view(self) -> View:
        return self._open[-1].view if self._open else ROOT_VIEW

    def _marks(self, depth: int) -> str:
        """The quote marks of a line at this quote depth (none in `readable_text`)."""
        return "" if self._readable else "> " * min(depth, MAX_MARKS)

    def _ends_with_text(self) -> bool:
        """Whether the last line written holds text (not blank, not only quote marks)."""
        if not self.lines:
            return False
        return bool(self.lines[-1] if self._readable else self.lines[-1].strip("> "))

    def _break(self, force: bool = False) -> None:
        """End the current line; `force` (a `<br>`) keeps an empty line, one at most."""
        self._end_hidden_line()
        line = "".join(self._line)
        if self._line_linked:
            linked = line.strip()
            line = "".join(piece for piece in self._line if type(piece) is not _Target)
        # A reader sees the indentation of preformatted text.
        text = line.rstrip() if self._readable and self._pre_depth else line.strip()
        prefix = self._marks(self._line_depth)
        if text:
            if self._line_linked:
                self.linked[len(self.lines)] = prefix + linked
            self.lines.append(prefix + text)
        elif (force or self._line_spaced) and self._ends_with_text():
            self.lines.append(prefix.rstrip())
        self._line = []
        self._line_linked = False
        self._line_spaced = False
        self._line_depth = self._quote_depth

    def _gap(self) -> None:
        """A blank line, unless the text so far ends with one (or nothing is written)."""
        if self._ends_with_text():
            self.lines.append(self._marks(self._quote_depth).rstrip())

    def _cut(self) -> None:
        self.markers["html-quote-container"] = None
        if self._cut_written or self._readable:
            return
        self._break()
        self.lines.append(HTML_CUT_MARK)
        self._cut_written = True

    def _end_hidden_line(self) -> None:
        if self._hidden_line:
            text = " ".join("".join(self._hidden_line).split())
            if text:
                self.hidden.append(text)
            self._hidden_line = []

    def handle_decl(self, decl: str) -> None:
        """A doctype: "<!DOCTYPE html>" and the XHTML and HTML 4.01 ones with a system
        identifier end quirks mode, in which a <table> does not close an open <p>."""
        words = decl.lower()
        self._quirks = not words.startswith("doctype") or not (
            words.split() == ["doctype", "html"]
            or "xhtml" in words
            or "http://www.w3.org/tr/" in words
        )

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        """Open an element; whether it is drawn at all (not gone)."""
        if self._head_open and tag not in _HEAD_CONTENT:
            self._end_head()
        if tag == "head":
            # A <head> after the body has begun is ignored, as in a browser.
            self._head_open = not (self._open_count["body"] or self.lines or self._line)
            return False
        if tag in _SKIPPED_TAGS_IN_BODY:
            self._skip_depth += tag not in _VOID_TAGS
            if tag == "style":
                self._style = []
            return False
        if tag in ("html", "body") and self._open_count[tag]:
            return True  # a second <html> or <body> adds to the first
        attributes = {name: (value or "") for name, value in attrs}
        self._close_implied(tag)
        parent = self._view
        view = parent
        if not parent.gone:
            style = attributes.get("style", "")
            declared = declarations(style) if style else []
            if self._sheet.rules:
                normal, important = self._sheet.declarations(tag, attributes)
                declared = normal + declared + important
            view = view_of(parent, tag, attributes, declared)
        if tag in _BLOCK_TAGS or tag == "br":
            self._end_hidden_line()
        if view.gone:
            self._open_element(tag, attributes, False, view)
            return False
        style = attributes.get("style", "")
        # Most elements have no border: the style is read only when it names one.
        borders = drawn_borders(style) if "border" in style.lower() else frozenset()
        # Most elements have no attributes, and then nothing but a blockquote marks a quote.
        if attributes and (
            is_container(attributes) or (tag == "div" and is_outlook_separator(style, borders))
        ):
            self._cut()
        if tag == "br":
            self._break(force=True)
        elif tag in _BLOCK_TAGS:
            self._break()
        margins = tag in _PARAGRAPH_TAGS
        if tag == "p":
            margins = _WORD_PARAGRAPH not in attributes.get("class", "").lower()
            if margins and self._paragraph_end == len(self.lines):
                self._gap()
            self._paragraph = (len(self.lines), margins)
        if self._readable:
            self._start_readable(tag, attributes, view, margins)
        if (
            not self._readable
            and _SIGNATURE_CLASS in attributes.get("class", "")[:MAX_NAME_CHARS]
            and not self._quote_depth
        ):
            self._break()
            self.lines.append("-- ")
        opens_quote = (
            is_quote_element(tag, attributes, borders) if attributes else tag == "blockquote"
        )
        link = None
        if tag == "a" and attributes.get("href", "").strip():
            link = (_target(attributes["href"]), len(self.lines), len(self._line))
        self._open_element(tag, attributes, opens_quote, view, link)
        if opens_quote and tag not in _VOID_TAGS:
            if tag not in _BLOCK_TAGS:
                self._break()  # a quote never shares a line with the text before it
            self.markers["html-quote-element"] = None
            self._quote_depth += 1
            self._line_depth = self._quote_depth
        return True

    def _start_readable(
        self, tag: str, attributes: dict[str, str], view: View, margins: bool
    ) -> None:
        """What `readable_text` writes at a start tag: a blank line above a paragraph, a
        dash before a list item, an image's alt text."""
        if margins:
            self._gap()
        if not view.shows_text:
            return
        if tag == "li":
            self._line.append("- ")
        elif tag == "img" and attributes.get("alt", "").strip():
            self._line.append(attributes["alt"].strip())

    def _end_links(self, closing: _Open | None) -> None:
        """Write the target of each link that closes with `closing` (all open ones for
        None) after its text on its last line: "text (url)"; in `readable_text` the url
        alone for a link without text there; not again when its text is the address. In
        `html_to_text` as a `_Target`: only in `HtmlText.with_links`."""
        for element in reversed(self._open):
            if element.link is not None:
                href, line, start = element.link
                pieces = self._line[start:] if line == len(self.lines) else self._line
                label = "".join(piece for piece in pieces if type(piece) is not _Target).strip()
                if href.lower().startswith(LINK_SCHEMES) and _bare(href) != _bare(label):
                    if self._readable:
                        self._line.append(f" ({href})" if label else href)
                    elif label:
                        self._line.append(_Target(f" ({href})"))
                        self._line_linked = True
            if element is closing:
                return

    def _open_element(
        self,
        tag: str,
        attributes: dict[str, str],
        opens_quote: bool,
        view: View,
        link: tuple[str, int, int] | None = None,
    ) -> None:
        if tag in _VOID_TAGS:
            return
        above = self._open[-1].implied if self._open else _NO_IMPLIED
        index = len(self._open)
        implied = tuple(
            index if tag in kind else -1 if tag in scope else nearest
            for (kind, scope, _), nearest in zip(_IMPLIED_ENDS, above, strict=True)
        )
        self._open.append(_Open(tag, opens_quote, view, implied, link))
        self._open_count[tag] += 1
        if tag == "pre":
            self._pre_depth += 1

    def _close_implied(self, tag: str) -> None:
        """Close what this start tag implies the end of, as a browser does: an open <p>
        at a block, the open <li> at the next, the open cell at the next cell or row, the
        open link at the next link, an open heading at a heading."""
        if self._open and tag in _HEADINGS and self._open[-1].tag in _HEADINGS:
            self.handle_endtag(self._open[-1].tag)
        for position, (_, _, closers) in enumerate(_IMPLIED_ENDS):
            if tag not in closers or not self._open:
                continue
            if tag == "table" and self._quirks and position == 0:
                continue  # in quirks mode a table goes inside the open <p>
            index = self._open[-1].implied[position]
            if index >= 0:
                self.handle_endtag(self._open[index].tag)

    def _end_head(self) -> None:
        self._head_open = False

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        drawn = self._start(tag, attrs)
        # "<div/>" is read as XHTML writes it, a closed element. To a browser it is an open
        # <div>: an element that hides its content ("<span style='display:none'/>",
        # "<style/>", "<template/>") stays open, so that nothing it hides ever shows.
        if drawn and tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._end_head()
            return
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            if tag == "style" and self._style is not None:
                self._sheet.add("".join(self._style))
                self._style = None
            return
        if tag in ("html", "body"):
            return  # text after </body> still goes into the open elements
        closing = self._closing(tag)
        drawn = not (closing.view.gone if closing is not None else self._view.gone)
        if closing is not None and self._open_count.get("a"):
            self._end_links(closing)
        if tag in _BLOCK_TAGS and tag != "br":
            self._end_hidden_line()
            if drawn:
                self._break()
        margins = tag in _PARAGRAPH_TAGS
        if drawn and tag == "p" and self._paragraph is not None:
            start, margins = self._paragraph
            self._paragraph = None
            if margins:
                self._paragraph_end = len(self.lines)
            elif len(self.lines) == start:
                # An empty Word paragraph ("<o:p>&nbsp;</o:p>") is Outlook's blank line.
                self._break(force=True)
                self._gap()
        if self._readable and drawn and margins:
            self._gap()
        if closing is None:
            return  # a stray end tag closes nothing
        # Close the elements left open inside this one, as a browser does.
        while self._open:
            element = self._open.pop()
            self._open_count[element.tag] -= 1
            if element.opened_quote:
                self._break()  # nor with the text after it
                self._quote_depth -= 1
            if element.tag == "pre":
                self._pre_depth -= 1
            if element.tag == tag:
                break
        if not self._line:
            self._line_depth = self._quote_depth

    def _closing(self, tag: str) -> _Open | None:
        """The open element that an end tag closes (the nearest of its tag), or None."""
        if not self._open_count[tag]:
            return None
        for element in reversed(self._open):
            if element.tag == tag:
                return element
        return None  # pragma: no cover - the count says there is one

    def handle_comment(self, data: str) -> None:
        if is_container_comment(data) and not self._view.gone:
            self._cut()

    def handle_data(self, data: str) -> None:
        if self._style is not None:
            self._style.append(data)
            return
        if self._skip_depth:
            return
        if self._head_open:
            if not data.strip():
                return
            self._end_head()  # text ends the head: a browser shows it in the body
        view = self._view
        if not view.shows_text:
            if data.strip():
                self.hidden_at[len(self.lines) + 1] = None
                self._hidden_line.append(data)
                if not view.gone:
                    self._line.append(" ")  # unseen, but it takes its place
            return
        if self._pre_depth:
            first, *rest = data.split("\n")
            self._line.append(first)
            for line in rest:
                self._break(force=self._readable)  # a reader sees its blank lines too
                self._line.append(line)
            return
        if not self._line:
            self._line_depth = self._quote_depth
        if "\u00a0" in data:
            self._line_spaced = True
        text = _SPACES.sub(" ", data)
        if self._readable and text[:1] == " " and self._line and self._line[-1][-1:] == " ":
            text = text[1:]  # white space runs on across tags as one space, as drawn
        if text:
            self._line.append(text)

    def result(self) -> str:
        if self._open_count.get("a"):
            self._end_links(None)
        self._break()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines)


def _read(html: str, readable: bool) -> _TextBuilder:
    builder = _TextBuilder(readable)
    # A marked section ("<![CDATA[") is a bogus comment in HTML, which ends at the first
    # '>'; the tokenizer would look for its "]]>" from each one again.
    builder.feed(bounded_html(html).replace("<![", "<!_["))
    builder.close()
    return builder


def html_to_text(html: str) -> HtmlText:
    """Plain text of an HTML body, and what in its structure marked a quote."""
    builder = _read(html, readable=False)
    text = builder.result()
    builder._end_hidden_line()
    last = text.count("\n") + 1
    linked = builder.linked
    return HtmlText(
        text,
        tuple(builder.markers),
        "\n".join(builder.hidden),
        tuple(dict.fromkeys(min(line, last) for line in builder.hidden_at)),
        "\n".join(linked.get(index, line) for index, line in enumerate(builder.lines))
        if linked
        else text,
    )


def readable_text(html: str) -> str:
    """The text of an HTML body as a person reads it: what the mail shows, with links,
    list dashes and image alt texts, quotes unmarked."""
    return _read(html, readable=True).result()


def _target(href: str) -> str:
    """A link's target as text: without white space (a browser drops the line breaks and
    tabs in it), control and format characters (bidi overrides), so that it stays one
    word on its line."""
    return "".join(char for char in href if char.isprintable() and not char.isspace())


def _bare(url_or_label: str) -> str:
    """A link target without scheme and trailing slash, to spot labels that repeat it."""
    text = url_or_label.strip().lower()
    for scheme in LINK_SCHEMES:
        text = text.removeprefix(scheme)
    return text.rstrip("/")
