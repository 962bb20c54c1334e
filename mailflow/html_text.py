"""Readable plain text from an HTML mail body, for mails that carry no text part.

Owns `html_to_text`. The stdlib tokenizer reads the markup once and nothing is rendered,
fetched or executed: block elements become line breaks, list items get a dash, links are
kept as "text (url)", scripts, styles and comments are dropped and character references
are decoded. The cost is linear in the size of the input, which the caller caps.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
# fmt: on
# Content of these elements is never text a reader sees.
_HIDDEN_TAGS = frozenset({"head", "script", "style", "title", "template", "noscript", "xml"})
_LINK_SCHEMES = ("http://", "https://", "mailto:", "tel:")
_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")
_MAX_BLANK_LINES = 1


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._line: list[str] = []
        self._hidden_depth = 0
        self._pre_depth = 0
        self._links: list[tuple[str, int]] = []  # (href, length of the line when it opened)

    def _break(self, tag: str) -> None:
        line = "".join(self._line)
        text = line.rstrip() if self._pre_depth else line.strip()
        if text:
            self._lines.append(text)
        if tag in _PARAGRAPH_TAGS and self._lines and self._lines[-1]:
            self._lines.append("")
        self._line = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
            return
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
            href = next((value or "" for name, value in attrs if name == "href"), "").strip()
            self._links.append((href, len("".join(self._line))))
        elif tag == "img":
            alt = next((value or "" for name, value in attrs if name == "alt"), "").strip()
            if alt:
                self._line.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
            return
        if tag == "a" and self._links:
            href, start = self._links.pop()
            label = "".join(self._line)[start:].strip()
            if href.lower().startswith(_LINK_SCHEMES) and _bare(href) != _bare(label):
                self._line.append(f" ({href})" if label else href)
        if tag in _BLOCK_TAGS:
            self._break(tag)
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._pre_depth:
            first, *rest = data.split("\n")
            self._line.append(first)
            for line in rest:
                self._lines.append("".join(self._line).rstrip())
                self._line = [line]
            return
        self._line.append(_SPACES.sub(" ", data))

    def result(self) -> str:
        self._break("")
        return _squeeze_blank_lines(self._lines)


def _bare(url_or_label: str) -> str:
    """A link target without scheme and trailing slash, to spot labels that repeat it."""
    text = url_or_label.strip().lower()
    for scheme in _LINK_SCHEMES:
        text = text.removeprefix(scheme)
    return text.rstrip("/")


def _squeeze_blank_lines(lines: list[str]) -> str:
    kept: list[str] = []
    blanks = 0
    for line in lines:
        blanks = blanks + 1 if not line else 0
        if blanks <= _MAX_BLANK_LINES:
            kept.append(line)
    return "\n".join(kept).strip("\n")


def html_to_text(html: str) -> str:
    """The visible text of `html`: blocks on their own lines, links as "text (url)"."""
    builder = _TextBuilder()
    builder.feed(html)
    builder.close()
    return builder.result()
