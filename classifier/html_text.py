"""HTML mail bodies turned into plain text that keeps the quote structure.

Owns the conversion used before reply extraction: block elements become line breaks,
`<blockquote>` content is prefixed with '>' as a plain-text client would quote it, and the
containers that mail clients wrap around a quoted message (Gmail's `gmail_quote`, Outlook's
`divRplyFwdMsg` and its border-top separator, Thunderbird's `moz-cite-prefix`, ...) start a
line holding `HTML_CUT_MARK`, after which everything is quoted. The stdlib tokenizer reads
the document once, so the cost is linear in its size.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

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
_VOID_TAGS = frozenset({"br", "hr", "img", "meta", "link", "input", "base", "col", "wbr"})

# Class or id values that clients give the element holding the quoted message.
_QUOTE_CONTAINERS = frozenset(
    {
        "gmail_quote",
        "gmail_quote_container",
        "gmail_attr",
        "divrplyfwdmsg",
        "x_divrplyfwdmsg",
        "moz-cite-prefix",
        "olk_src_body_section",
        "yahoo_quoted",
        "appendonsend",
        "stopspelling",
        "zwchr",
        "mail-quote-collapse",
        "protonmail_quote",
        "ms-outlook-mobile-reference-message",
    }
)
# Outlook draws a thin top border above its "From:/Sent:" block.
_OUTLOOK_BORDER = re.compile(r"border-top\s*:\s*solid\s+#(?:e1e1e1|b5c4df)", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\n\f\u00a0\u200b]+")


class _TextBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.found_container = False
        self._line: list[str] = []
        self._line_depth = 0
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0

    def _break(self, force: bool = False) -> None:
        """End the current line; `force` (a `<br>`) keeps an empty line, one at most."""
        text = "".join(self._line).strip()
        prefix = "> " * self._line_depth
        if text:
            self.lines.append(prefix + text)
        elif force and self.lines and self.lines[-1].strip("> "):
            self.lines.append(prefix.rstrip())
        self._line = []
        self._line_depth = self._quote_depth

    def _cut(self) -> None:
        self._break()
        self.lines.append(HTML_CUT_MARK)
        self.found_container = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += tag not in _VOID_TAGS
            return
        values = {(value or "").lower() for name, value in attrs if name in ("class", "id")}
        names = {part for value in values for part in value.split()}
        style = next((value or "" for name, value in attrs if name == "style"), "")
        if not self.found_container and (
            names & _QUOTE_CONTAINERS or (tag == "div" and _OUTLOOK_BORDER.search(style))
        ):
            self._cut()
        if tag == "br":
            self._break(force=True)
        elif tag in _BLOCK_TAGS:
            self._break()
        if tag == "blockquote":
            self._quote_depth += 1
            self._line_depth = self._quote_depth
        elif tag == "pre":
            self._pre_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if tag in _BLOCK_TAGS and tag != "br":
            self._break()
        if tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
            self._line_depth = self._quote_depth
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)

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
        self._line.append(_SPACES.sub(" ", data))

    def result(self) -> str:
        self._break()
        while self.lines and not self.lines[-1]:
            self.lines.pop()
        return "\n".join(self.lines)


def html_to_text(html: str) -> tuple[str, bool]:
    """Plain text of an HTML body, and whether it had an explicit quote container."""
    builder = _TextBuilder()
    builder.feed(html)
    builder.close()
    return builder.result(), builder.found_container
