"""HTML mail bodies made safe to show and turned into readable text, in one pass.

Owns `html_body(markup) -> HtmlBody(html, text)`. Nothing is rendered, fetched or
executed. nh3 (the Rust html5ever parser behind ammonia) reads the markup once and
writes it back sanitised: scripts, styles, titles and comments gone, entities decoded.
That output is well-formed, so a small tokenizer then writes its text: blocks on their
own lines, list items with a dash, links as "text (url)", image alt texts.

html5ever's time grows with the square of the nesting depth (10,000 nested `<div>` take
seconds), so `bounded_html` first cuts the markup at MAX_TAGS tags or where the nesting
passes MAX_DEPTH; a cheap scan that real mail never reaches.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import nh3

MAX_TAGS = 50_000
MAX_DEPTH = 1_000

# fmt: off
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl", "dt",
    "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "legend", "li", "main", "nav", "ol", "p", "pre", "section", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
# Elements that stand apart from their neighbours by a blank line, like paragraphs.
_PARAGRAPH_TAGS = frozenset({
    "blockquote", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "ol", "p", "pre", "table", "ul",
})
# Elements that never nest, or that HTML closes by itself when the next one starts.
_FLAT_TAGS = frozenset({
    "area", "base", "br", "col", "dd", "dt", "embed", "hr", "img", "input", "li", "link",
    "meta", "option", "p", "param", "source", "td", "th", "tr", "track", "wbr",
})
# fmt: on
_HIDDEN_TAGS = {"script", "style", "title", "template", "noscript"}
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")

_ANY_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,30})")
# nh3 writes tags in lower case with double-quoted attribute values, and escapes '<' and
# '"' everywhere else, so one linear pattern finds every tag of its output.
_CLEAN_TAG = re.compile(r'<(/?)([a-z][a-z0-9]*)((?:\s+[a-z-]+="[^"]*")*)\s*/?>')
_ATTRIBUTE = re.compile(r'([a-z-]+)="([^"]*)"')
_OUTPUT_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&nbsp;", "\u00a0"),
                    ("&amp;", "&"))  # fmt: skip
_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")


def bounded_html(markup: str) -> str:
    """`markup` cut before the tag that would pass MAX_TAGS tags or MAX_DEPTH nesting."""
    depth = 0
    for count, match in enumerate(_ANY_TAG.finditer(markup), start=1):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            depth = max(0, depth - 1)
        elif name not in _FLAT_TAGS:
            depth += 1
        if count > MAX_TAGS or depth > MAX_DEPTH:
            return markup[: match.start()]
    return markup


class HtmlBody(NamedTuple):
    """An HTML body made safe to show, and its visible text."""

    html: str
    text: str


def html_body(markup: str) -> HtmlBody:
    """`markup` sanitised (no scripts, event handlers, comments or foreign URL schemes)
    and its visible text: blocks on their own lines, links as "text (url)"."""
    cleaned = nh3.clean(bounded_html(markup), clean_content_tags=_HIDDEN_TAGS)
    builder = _TextBuilder()
    position = 0
    for match in _CLEAN_TAG.finditer(cleaned):
        builder.data(_unescape(cleaned[position : match.start()]))
        closing, tag, attributes = match.groups()
        if closing:
            builder.end(tag)
        else:
            builder.start(tag, {k: _unescape(v) for k, v in _ATTRIBUTE.findall(attributes)})
        position = match.end()
    builder.data(_unescape(cleaned[position:]))
    return HtmlBody(cleaned, builder.result())


def _unescape(text: str) -> str:
    """nh3 has decoded every reference of the input; its output holds only these five,
    which plain replacements undo at C speed (html.unescape calls Python per entity)."""
    if "&" not in text:
        return text
    for entity, character in _OUTPUT_ENTITIES:
        text = text.replace(entity, character)
    return text


class _TextBuilder:
    def __init__(self) -> None:
        self._lines: list[str] = []
        self._line: list[str] = []
        self._pre_depth = 0
        self._links: list[tuple[str, int]] = []  # (href, pieces in the line when it opened)

    def _break(self, tag: str) -> None:
        line = "".join(self._line)
        text = line.rstrip() if self._pre_depth else line.strip()
        if text:
            self._lines.append(text)
        if tag in _PARAGRAPH_TAGS and self._lines and self._lines[-1]:
            self._lines.append("")
        self._line = []

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        if tag == "br":
            self._lines.append("".join(self._line).strip())
            self._line = []
        elif tag in _BLOCK_TAGS:
            self._break(tag)
        if tag == "li":
            self._line.append("- ")
        elif tag == "pre":
            self._pre_depth += 1
        elif tag == "a":
            self._links.append((attributes.get("href", "").strip(), len(self._line)))
        elif tag == "img" and attributes.get("alt", "").strip():
            self._line.append(attributes["alt"].strip())

    def end(self, tag: str) -> None:
        if tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self._line[start:]).strip()
            if href.lower().startswith(_LINK_SCHEMES) and _bare(href) != _bare(label):
                self._line.append(f" ({href})" if label else href)
        if tag in _BLOCK_TAGS:
            self._break(tag)
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def data(self, text: str) -> None:
        if not text:
            return
        if not self._pre_depth:
            self._line.append(_SPACES.sub(" ", text))
            return
        first, *rest = text.split("\n")
        self._line.append(first)
        for line in rest:
            self._lines.append("".join(self._line).rstrip())
            self._line = [line]

    def result(self) -> str:
        self._break("")
        kept: list[str] = []
        for line in self._lines:
            if line or (kept and kept[-1]):  # at most one blank line in a row
                kept.append(line)
        return "\n".join(kept).strip("\n")


def _bare(url_or_label: str) -> str:
    """A link target without scheme and trailing slash, to spot labels that repeat it."""
    text = url_or_label.strip().lower()
    for scheme in _LINK_SCHEMES:
        text = text.removeprefix(scheme)
    return text.rstrip("/")
