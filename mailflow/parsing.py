"""Parsing: the stored raw bytes of a mail turned into one normalised `ParsedMail`.

Owns `parse(raw) -> ParsedMail` and the size limits that keep it bounded. mail-parser
reads the top-level header: addresses (display names with encoded words and commas)
and the address, date and trace-header defects. The stdlib `email` package supplies the
MIME tree and what mail-parser loses: raw 8-bit header bytes (decoded as UTF-8, else
Windows-1252), the `Date` zone (`CET` is +01:00, not UTC), a missing Message-ID (None,
not ''), the text body, the attachment list and the structural defects.

`parse` never raises. A mail that mail-parser cannot handle is read with the stdlib
alone, and one the stdlib cannot handle is kept as decoded raw text; each step down is
recorded in `defects`. Attachments are described, never written anywhere or opened.
The time is bounded for hostile input: the stdlib parser costs O(lines x nesting depth)
and recurses once per level, so nesting declarations beyond `MAX_NESTED_TYPES` are
neutralised before parsing, and the parsed tree is cut to `MAX_PARTS` parts.
"""

from __future__ import annotations

import codecs
import email
import email.policy
import email.utils
import logging
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import Message
from typing import Any

import mailparser
import nh3

from classifier.html_text import bounded_html, readable_text
from mailflow.models import MAX_MESSAGE_ID_CHARS
from mediation.outgoing import header_text

log = logging.getLogger("mailflow.parsing")

MAX_PARSE_BYTES = 32 * 1024 * 1024
MAX_TEXT_CHARS = 1024 * 1024
MAX_HTML_CHARS = 512 * 1024  # html5ever reads about a megabyte a second
MAX_HEADER_CHARS = 8 * 1024
MAX_SUBJECT_CHARS = 998  # RFC 5322 2.1.1: the longest line a header may have
MAX_HEADER_FIELDS = 500
MAX_ADDRESSES = 200
MAX_REFERENCES = 100
MAX_ATTACHMENTS = 200
MAX_FILENAME_CHARS = 255
MAX_DEFECTS = 100
MAX_DEFECT_CHARS = 300
MAX_PARTS = 300
MAX_DEPTH = 20
MAX_NESTED_TYPES = 100

# A multipart or message/* declaration (folded or not) and a boundary parameter, both
# searched in a lower-cased copy of the mail.
_NESTED_TYPE = re.compile(rb"(content-type:\s*)(multipart|message)/")
_BOUNDARY = re.compile(rb'boundary\s*=\s*"?([^"\s;]{1,200})')
_MESSAGE_ID = re.compile(r"<[^<>]{1,998}>")
_LANGUAGE_TAG = re.compile(r"[a-z]{1,8}(?:-[a-z0-9]{1,8})*")
# Elements that the sanitised HTML drops with their content.
_UNSHOWN_TAGS = {"script", "style", "title", "template", "noscript"}
# Zone names outside RFC 5322's list that German and European mailers still write.
# RFC 5322 4.3 reads any other alphabetic zone as -0000, i.e. UTC.
_ZONE_HOURS = {"CET": 1, "MEZ": 1, "CEST": 2, "MESZ": 2, "WET": 0, "WEST": 1, "EET": 2,
               "EEST": 3, "BST": 1}  # fmt: skip
# RFC 5322 4.3 obsolete zones that parsedate_tz knows.
_RFC5322_ZONES = frozenset({"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT",
                            "PST", "PDT"})  # fmt: skip
_ADDRESS_HEADERS = {"from": "from_", "to": "to", "cc": "cc", "reply-to": "reply_to"}
_LOOSE_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})+")
_BODY_TYPES = ("text/plain", "text/html")


@dataclass(frozen=True)
class ParsedMail:
    """One mail, normalised: what the classifier, router and operators read."""

    message_id: str | None
    from_address: str | None
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    subject: str
    date: datetime | None
    in_reply_to: str | None
    references: list[str]
    text: str
    """The text parts; without one, the text that the HTML shows to a reader
    (`classifier.html_text.readable_text`: links as "text (url)", hidden text left out)."""
    html: str | None
    """The HTML body sanitised, safe to show (no scripts, and no classes, ids or styles)."""
    attachments: list[dict[str, Any]]
    defects: list[str]
    headers: dict[str, list[str]]
    language_hint: str | None
    message: Message = field(repr=False, compare=False)
    html_source: str | None = field(default=None, repr=False, compare=False)
    """The HTML body as sent, cut to the same bounds as `html`, for the reply reader
    only: the quote structure (Gmail's `gmail_quote`, Outlook's `divRplyFwdMsg`, a
    left-border bar) lives in the class, id and style attributes that sanitising
    removes. Never shown; the stored raw mail holds it anyway, so it is not in to_json."""
    body_forwarded: bool = False
    """The body is the text of an attached message (a forward as attachment, a bounce):
    what its sender wrote is none of it, so the reply reader gets it as a quote."""
    attachment_parts: list[Message] = field(default_factory=list, repr=False, compare=False)
    """The MIME part of each entry of `attachments`, in the same order (the outbox
    forwards their bytes); not in to_json."""

    def to_json(self) -> dict[str, Any]:
        """Everything but `message`, `html_source` and `attachment_parts`, as JSON-ready
        values (the date in ISO 8601)."""
        return {
            "message_id": self.message_id,
            "from_address": self.from_address,
            "from_name": self.from_name,
            "to": list(self.to),
            "cc": list(self.cc),
            "reply_to": list(self.reply_to),
            "subject": self.subject,
            "date": self.date.isoformat() if self.date else None,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "text": self.text,
            "html": self.html,
            "attachments": [dict(a) for a in self.attachments],
            "defects": list(self.defects),
            "headers": {name: list(values) for name, values in self.headers.items()},
            "language_hint": self.language_hint,
            "body_forwarded": self.body_forwarded,
        }


def parse(raw: bytes) -> ParsedMail:
    """The normalised mail of `raw`; never raises, records every problem in `defects`."""
    defects: list[str] = []
    if len(raw) > MAX_PARSE_BYTES:
        defects.append(f"input-truncated: only the first {MAX_PARSE_BYTES} bytes were parsed")
        raw = raw[:MAX_PARSE_BYTES]
    try:
        message = _read_tree(raw, defects)
    except Exception as exc:  # the stdlib parser gave up: keep the bytes as text
        defects.append(_describe("stdlib-parser-failed", exc))
        return _raw_text_mail(raw, defects)
    readers: list[Any] = [None]
    try:
        readers.insert(0, mailparser.MailParser(_header_only(message)))
    except Exception as exc:  # mail-parser gave up: the stdlib tree is still good
        defects.append(_describe("mail-parser-failed", exc))
    for reader in readers:  # with mail-parser's addresses, then with the stdlib's alone
        try:
            return _assemble(message, reader, defects)
        except Exception as exc:
            defects.append(_describe("assembly-failed", exc))
    return _raw_text_mail(raw, defects)


def _read_tree(raw: bytes, defects: list[str]) -> Message:
    """The stdlib message tree, with nesting and part count bounded."""
    message = email.message_from_bytes(_bounded_input(raw, defects))
    _prune(message, defects)
    return message


def _bounded_input(raw: bytes, defects: list[str]) -> bytes:
    """`raw` with nesting past MAX_NESTED_TYPES made opaque and cut after MAX_PARTS parts.

    Both scans run on a lower-cased copy (bytes.lower keeps every offset) at C speed,
    so a mail without excess pays a few milliseconds per megabyte.
    """
    lowered = raw.lower()
    declarations = [m.span(2) for m in _NESTED_TYPE.finditer(lowered)]
    if len(declarations) > MAX_NESTED_TYPES:
        defects.append(
            f"structure-truncated: {len(declarations)} multipart/message declarations, "
            f"those past the first {MAX_NESTED_TYPES} read as opaque parts"
        )
        pieces, previous = [], 0
        for start, end in declarations[MAX_NESTED_TYPES:]:
            pieces += [raw[previous:start], b"x-capped"]  # "x-capped/mixed": one opaque leaf
            previous = end
        raw = b"".join([*pieces, raw[previous:]])
    if lowered.count(b"\n--") <= MAX_PARTS:
        return raw
    delimiters: list[int] = []
    for boundary in {raw[m.start(1) : m.end(1)] for m in _BOUNDARY.finditer(lowered)}:
        delimiter, position = b"\n--" + boundary, 0
        while len(delimiters) <= 2 * MAX_PARTS:
            position = raw.find(delimiter, position) + 1
            if not position:
                break
            delimiters.append(position)
    delimiters.sort()
    if len(delimiters) > MAX_PARTS:
        defects.append(f"structure-truncated: more than {MAX_PARTS} MIME parts, the rest dropped")
        raw = raw[: delimiters[MAX_PARTS]]
    return raw


def _prune(message: Message, defects: list[str]) -> None:
    """Cut the tree breadth-first to MAX_PARTS parts and MAX_DEPTH levels, and every
    part's header to MAX_HEADER_FIELDS fields of at most MAX_HEADER_CHARS each (mail-parser
    decodes each header whole, at about a second per megabyte)."""
    budget = MAX_PARTS - 1
    queue: deque[tuple[Message, int]] = deque([(message, 0)])
    cut_depth = cut_count = False
    while queue:
        part, depth = queue.popleft()
        _cap_header(part, defects)
        children = part.get_payload()
        if not isinstance(children, list):
            continue
        if depth >= MAX_DEPTH:
            part.set_payload([])
            cut_depth = True
            continue
        if len(children) > budget:
            children = children[:budget]
            part.set_payload(children)
            cut_count = True
        budget -= len(children)
        queue.extend((child, depth + 1) for child in children if isinstance(child, Message))
    if cut_depth:
        defects.append(f"structure-truncated: parts nested deeper than {MAX_DEPTH} dropped")
    if cut_count:
        defects.append(f"structure-truncated: parts beyond the first {MAX_PARTS} dropped")


def _header_only(message: Message) -> Message:
    """The top-level header without the body: all that mail-parser is asked about.
    Its body walk decodes every part, images included, as text; that is most of its
    time, and the body is read here from the stdlib tree instead."""
    header = Message()
    for name, value in message.raw_items():
        if not name.lower().startswith("content-"):  # they describe the body left out
            header[name] = value
    header.set_payload("")
    return header


def _cap_header(part: Message, defects: list[str]) -> None:
    fields = list(part.raw_items())
    if len(fields) <= MAX_HEADER_FIELDS and all(len(v) <= MAX_HEADER_CHARS for _, v in fields):
        return
    if len(fields) > MAX_HEADER_FIELDS:
        defects.append(f"header-truncated: {len(fields)} fields, kept {MAX_HEADER_FIELDS}")
    kept = fields[:MAX_HEADER_FIELDS]
    for name, value in kept:
        if len(value) > MAX_HEADER_CHARS:
            defects.append(f"header-truncated: {name.lower()} longer than {MAX_HEADER_CHARS}")
    # Rebuilt in place: deleting field by field through the public API costs
    # O(fields x names), over a minute for 10,000 distinct names.
    part._headers = [(name, value[:MAX_HEADER_CHARS]) for name, value in kept]


def _assemble(message: Message, reader: Any, defects: list[str]) -> ParsedMail:
    defects = list(defects)
    headers = _decoded_headers(message, defects)
    body = _Body.of(message, defects)
    defects.extend(_stdlib_defects(message))
    if reader is not None:
        defects.extend(_mail_parser_defects(reader))
    from_pairs = _address_pairs(message, "from", reader)
    from_name, from_address = from_pairs[0] if from_pairs else ("", None)
    from_fields = sum(1 for name, _ in message.raw_items() if name.lower() == "from")
    if from_fields > 1 or len({address.lower() for _, address in from_pairs}) > 1:
        # Several authors: none of them is the one person who may act for a role.
        defects.append(f"from-several: {max(len(from_pairs), from_fields)} mailboxes")
        from_name, from_address = "", None
    return ParsedMail(
        message_id=_message_id(_first(headers, "message-id")),
        from_address=from_address,
        from_name=_one_line(from_name),
        to=[address for _, address in _address_pairs(message, "to", reader)],
        cc=[address for _, address in _address_pairs(message, "cc", reader)],
        reply_to=[address for _, address in _address_pairs(message, "reply-to", reader)],
        subject=_one_line(_first(headers, "subject"))[:MAX_SUBJECT_CHARS],
        date=_parse_date(_first(headers, "date"), defects),
        in_reply_to=_in_reply_to(_first(headers, "in-reply-to")),
        references=_references(_first(headers, "references")),
        text=body.text,
        html=body.html,
        attachments=body.attachments,
        defects=_bounded_defects(defects),
        headers=headers,
        language_hint=_language(_first(headers, "content-language")),
        message=message,
        html_source=body.html_source,
        body_forwarded=body.forwarded,
        attachment_parts=body.parts,
    )


def _raw_text_mail(raw: bytes, defects: list[str]) -> ParsedMail:
    text, _ = _decode_bytes(raw[: MAX_TEXT_CHARS * 4], None)
    return ParsedMail(
        message_id=None,
        from_address=None,
        from_name="",
        to=[],
        cc=[],
        reply_to=[],
        subject="",
        date=None,
        in_reply_to=None,
        references=[],
        text=_clean(text)[:MAX_TEXT_CHARS],
        html=None,
        attachments=[],
        defects=_bounded_defects(defects),
        headers={},
        language_hint=None,
        message=Message(),
    )


# -- headers ---------------------------------------------------------------------------


def _decoded_headers(message: Message, defects: list[str]) -> dict[str, list[str]]:
    """Every header field as text (encoded words and 8-bit bytes decoded)."""
    headers: dict[str, list[str]] = {}
    eight_bit: set[str] = set()
    for name, value in message.raw_items():
        key = _clean(str(name)).strip().lower()[:200]
        text, charset = _unfold_and_decode_8bit(str(value))
        if charset:
            eight_bit.add(f"{key} ({charset})")
        headers.setdefault(key, []).append(_clean(_decode_words(text)))
    if eight_bit:
        defects.append("header-8bit: raw bytes decoded in " + ", ".join(sorted(eight_bit)))
    return headers


def _unfold_and_decode_8bit(value: str) -> tuple[str, str | None]:
    """RFC 5322 2.2.3 unfolding, then raw 8-bit bytes (kept by the stdlib as surrogate
    escapes) decoded; returns the text and the charset used for 8-bit bytes, if any."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value).replace("\r", "").replace("\n", "")
    if not _has_surrogates(unfolded):
        return unfolded, None
    data = unfolded.encode("utf-8", "surrogateescape")
    text, charset = _decode_bytes(data, None)
    return text, charset


def _decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded leniently (unknown charsets become U+FFFD)."""
    if "=?" not in value:
        return value
    try:
        return str(email.policy.default.header_factory("x-unstructured", value))
    except Exception:  # a header the modern parser chokes on stays as it was written
        return value


def _first(headers: dict[str, list[str]], name: str) -> str:
    values = headers.get(name)
    return values[0] if values else ""


def _message_id(value: str) -> str | None:
    normalised = " ".join(value.split())[:MAX_MESSAGE_ID_CHARS]
    return normalised or None


def _in_reply_to(value: str) -> str | None:
    match = _MESSAGE_ID.search(value)
    if match:
        return "".join(match.group(0).split())
    return _message_id(value)


def _references(value: str) -> list[str]:
    ids = ["".join(m.split()) for m in _MESSAGE_ID.findall(value)]
    if len(ids) > MAX_REFERENCES:
        # RFC 5322 3.6.4: the first names the thread's start, the last ones its parents.
        ids = ids[:1] + ids[-(MAX_REFERENCES - 1) :]
    return ids


def _language(value: str) -> str | None:
    tag = value.split(",")[0].strip().lower()
    return tag if _LANGUAGE_TAG.fullmatch(tag) else None


def _parse_date(value: str, defects: list[str]) -> datetime | None:
    if not value.strip():
        return None
    try:
        fields = email.utils.parsedate_tz(value)
    except Exception:
        fields = None
    if fields is None:
        defects.append(f"date-unreadable: {value[:80]!r}")
        return None
    offset = fields[9] or 0
    zone = _zone_name(value)
    if zone in _ZONE_HOURS:
        offset = _ZONE_HOURS[zone] * 3600
    elif zone not in _RFC5322_ZONES and not zone.lstrip("+-").isdigit():
        # parsedate_tz reads an unknown zone as +0000 without saying so.
        defects.append(f"date-zone-unknown: {zone or 'none'!r} read as UTC (RFC 5322 4.3)")
    try:
        return datetime(*fields[:6], tzinfo=timezone(timedelta(seconds=offset)))
    except (ValueError, OverflowError):
        defects.append(f"date-invalid: {value[:80]!r}")
        return None


def _zone_name(value: str) -> str:
    """The token after the time of day: '+0100' or 'CET' in '... 10:00:00 CET'."""
    tokens = value.replace("(", " ").replace(")", " ").split()
    for index, token in enumerate(tokens):
        if ":" in token:
            following = tokens[index + 1 : index + 2]
            return following[0].upper() if following else ""
    return ""


# -- addresses -------------------------------------------------------------------------


def _address_pairs(message: Message, header: str, reader: Any) -> list[tuple[str, str]]:
    """(display name, address) pairs of the first `header` field, addresses normalised."""
    raw_text = next((v for n, v in message.raw_items() if n.lower() == header), None)
    if raw_text is None:
        return []
    if reader is not None and not _has_surrogates(raw_text):
        pairs = list(getattr(reader, _ADDRESS_HEADERS[header]) or [])
    else:
        # mail-parser drops raw 8-bit bytes; decode them first, then split.
        text, _ = _unfold_and_decode_8bit(raw_text)
        pairs = [(_decode_words(name), address) for name, address in _getaddresses(text)]
    result: list[tuple[str, str]] = []
    for name, address in pairs[:MAX_ADDRESSES]:
        normalised = normalise_address(str(address))
        if normalised:
            result.append((_clean(" ".join(str(name).split()))[:200], normalised))
    return result or _lenient_pair(raw_text)


def _lenient_pair(raw_text: str) -> list[tuple[str, str]]:
    """The one address of a field the parsers gave up on (an unclosed ``<`` or comment,
    a missing ``<>``), as clients and lists in the wild write them; nothing when the
    field holds no address or several, which would be a guess."""
    text, _ = _unfold_and_decode_8bit(raw_text)
    found = [match.group(0) for match in _LOOSE_ADDRESS.finditer(text)]
    if len({address.lower() for address in found}) != 1:
        return []
    normalised = normalise_address(found[0])
    if normalised is None:
        return []
    name = text.partition("<")[0] if "<" in text else ""
    return [(_clean(" ".join(_decode_words(name).strip().strip('"').split()))[:200], normalised)]


def _getaddresses(text: str) -> list[tuple[str, str]]:
    try:
        return email.utils.getaddresses([text])
    except Exception:
        return []


def normalise_address(address: str) -> str | None:
    """`local@domain` with the domain lower-cased (RFC 5321 2.4: only the local part
    may be case-sensitive); None for an empty or malformed address."""
    address = _clean(address).strip().strip("<>").strip()
    if not address or len(address) > 320 or any(c.isspace() for c in address):
        return None
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    if not local or not domain:
        return None
    return f"{local}@{domain.lower()}"


# -- body and attachments --------------------------------------------------------------


@dataclass
class _Body:
    text: str
    html: str | None
    attachments: list[dict[str, Any]]
    html_source: str | None = None
    forwarded: bool = False
    parts: list[Message] = field(default_factory=list)

    @classmethod
    def of(cls, message: Message, defects: list[str]) -> _Body:
        """Walk the tree: body text outside attached messages, everything else listed."""
        plain: list[str] = []
        html: list[str] = []
        nested_plain: list[str] = []
        nested_html: list[str] = []
        attachments: list[dict[str, Any]] = []
        parts: list[Message] = []
        dropped = 0
        # Each entry: part, and the attachment entry of the message/* part it is inside.
        recovered = _epilogue_parts(message, defects)
        stack: list[tuple[Message, dict[str, Any] | None]] = [(message, None)]
        stack[:0] = [(part, None) for part in reversed(recovered)]
        while stack:
            part, owner = stack.pop()
            content_type = part.get_content_type()
            children = part.get_payload()
            is_container = isinstance(children, list)
            if not is_container and part.get_content_maintype() == "multipart":
                content_type = "text/plain"  # no boundary to split by: its body is one text
            if owner is None and _is_attachment(part, content_type, is_root=part is message):
                entry = _attachment_entry(part, content_type, is_container)
                if len(attachments) < MAX_ATTACHMENTS:
                    attachments.append(entry)
                    parts.append(part)
                else:
                    dropped += 1
                if not is_container:
                    continue
                owner = entry
            if is_container:
                stack.extend((child, owner) for child in reversed(children))
                continue
            if owner is not None:
                owner["size"] += len(_payload_bytes(part))
            nested_attachment = owner is not None and _is_attachment(part, content_type, False)
            if content_type in _BODY_TYPES and not nested_attachment:
                target = (plain, html) if owner is None else (nested_plain, nested_html)
                text = _part_text(part, defects)
                target[content_type == "text/html"].append(text)
        if dropped:
            defects.append(f"attachments-truncated: {dropped} more than {MAX_ATTACHMENTS}")
        forwarded = False
        if not any(t.strip() for t in plain + html):
            # Only an attached message carries text (a forward as attachment, a bounce).
            plain, html = nested_plain, nested_html
            forwarded = any(t.strip() for t in plain + html)
        source = _bounded_html_source(html, defects)
        text = "\n\n".join(t.strip("\r\n") for t in plain if t.strip())
        if not text and source is not None:
            text = readable_text(source)
        return cls(
            _capped_text(text, defects),
            _sanitised_html(source) if source is not None else None,
            attachments,
            _clean(source) if source is not None else None,
            forwarded,
            parts,
        )


def _epilogue_parts(message: Message, defects: list[str]) -> list[Message]:
    """Parts written after the closing boundary. A sender that reuses one boundary for
    nested multiparts closes the outer part early; what follows (often the attachment)
    lands in the epilogue, where mail-parser looks for it too."""
    epilogue, boundary = message.epilogue, message.get_boundary()
    if not epilogue or not boundary or f"--{boundary}" not in epilogue:
        return []
    chunks = epilogue.split(f"--{boundary}")[1 : MAX_PARTS // 2]
    parts = []
    for chunk in chunks:
        if not chunk.startswith("--") and chunk.strip():
            parts.append(email.message_from_string(chunk.lstrip("\r\n")))
    if parts:
        defects.append(f"epilogue-parts: {len(parts)} parts recovered after the close boundary")
    return parts


def _is_attachment(part: Message, content_type: str, is_root: bool) -> bool:
    if content_type.startswith("multipart/"):
        return False
    if content_type not in _BODY_TYPES:
        return True
    if is_root:
        return False
    return part.get_content_disposition() == "attachment" or _filename(part) is not None


def _filename(part: Message) -> str | None:
    """The decoded filename (RFC 2231 parameter, RFC 2047 words or raw 8-bit bytes)."""
    view = part
    mime_fields = [
        (name, value)
        for name, value in part.raw_items()
        if name.lower() in ("content-type", "content-disposition")
    ]
    if any(_has_surrogates(value) for _, value in mime_fields):
        # The stdlib turns raw 8-bit parameter bytes into U+FFFD; decode them first.
        view = Message()
        for name, value in mime_fields:
            view[name] = _unfold_and_decode_8bit(value)[0]
    try:
        filename: Any = view.get_filename() or view.get_param("name") or None
        if isinstance(filename, tuple):  # an RFC 2231 value get_param left undecoded
            filename = email.utils.collapse_rfc2231_value(filename)
    except Exception:
        return None
    if not filename:
        return None
    return _clean(" ".join(_decode_words(str(filename)).split()))[:MAX_FILENAME_CHARS] or None


def _attachment_entry(part: Message, content_type: str, is_container: bool) -> dict[str, Any]:
    filename = _filename(part)
    size = 0 if is_container else len(_payload_bytes(part))
    return {"filename": filename, "content_type": content_type, "size": size}


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return b""
    return payload if isinstance(payload, bytes) else b""


def _part_text(part: Message, defects: list[str]) -> str:
    data = _payload_bytes(part)
    declared = part.get_content_charset()
    text, used = _decode_bytes(data, declared)
    if declared and used and used != _canonical_charset(declared):
        defects.append(f"charset-fallback: {declared!r} could not decode the text, used {used}")
    return text


def _decode_bytes(data: bytes, declared: str | None) -> tuple[str, str | None]:
    """Text of `data` in the declared charset, else UTF-8, else Windows-1252, else
    Latin-1 (which decodes any byte); returns the text and the charset used. Text
    labelled with a one-byte Western charset that is valid UTF-8 is read as UTF-8: a
    program that wrote UTF-8 under the wrong label ("MÃ¶bel" otherwise), as no German
    or English text in those charsets forms UTF-8's byte sequences."""
    charset = _canonical_charset(declared)
    first = "utf-8" if charset in _ONE_BYTE_WESTERN and not data.isascii() else charset
    candidates = [c for c in (first, charset, "utf-8", "cp1252") if c]
    for charset in dict.fromkeys(candidates):
        try:
            return data.decode(charset), charset
        except (LookupError, UnicodeError, ValueError):
            continue
    return data.decode("latin-1"), "latin-1"


_READ_AS = {"iso8859-1": "cp1252"}
"""Labels read as the charset that mail with them is written in: Windows mail programs
label Windows-1252 text ("€" is 0x80) ISO-8859-1, whose 0x80-0x9F are control
characters no text uses; the WHATWG Encoding Standard reads the label so too."""


_ONE_BYTE_WESTERN = frozenset({"cp1252", "iso8859-15"})


def _canonical_charset(name: str | None) -> str | None:
    if not name:
        return None
    try:
        canonical = codecs.lookup(name.strip().strip('"').lower()).name
    except (LookupError, ValueError, TypeError):
        return None
    return _READ_AS.get(canonical, canonical)


def _bounded_html_source(html: list[str], defects: list[str]) -> str | None:
    """The HTML parts as sent, joined and cut to MAX_HTML_CHARS characters and to the
    tag and nesting bounds of `bounded_html`; None without any."""
    if not html:
        return None
    markup = "\n".join(html)
    if len(markup) > MAX_HTML_CHARS:
        defects.append(f"html-truncated: only the first {MAX_HTML_CHARS} characters were read")
        markup = markup[:MAX_HTML_CHARS]
    return bounded_html(markup)


def _sanitised_html(markup: str) -> str:
    """The HTML made safe to show: nh3 (the Rust html5ever parser behind ammonia) writes
    it back without scripts, styles, titles, comments, event handlers or foreign URL
    schemes. Nothing is rendered, fetched or executed. html5ever's time grows with the
    square of the nesting depth, which `bounded_html` has already cut."""
    return _clean(nh3.clean(markup, clean_content_tags=_UNSHOWN_TAGS))


def _capped_text(text: str, defects: list[str]) -> str:
    text = _clean(text.replace("\r\n", "\n"))
    if len(text) > MAX_TEXT_CHARS:
        defects.append(f"text-truncated: longer than {MAX_TEXT_CHARS} characters")
        text = text[:MAX_TEXT_CHARS]
    return text


# -- defects and hygiene ---------------------------------------------------------------


def _mail_parser_defects(reader: Any) -> list[str]:
    found: list[str] = []
    for entry in reader.defects or []:
        for where, items in dict(entry).items():
            found.extend(f"{where}: {item}" for item in items)
    return found


def _stdlib_defects(message: Message) -> list[str]:
    found: list[str] = []
    stack = [message]
    while stack:
        part = stack.pop()
        found.extend(
            f"{part.get_content_type()}: {type(defect).__name__}" for defect in part.defects
        )
        children = part.get_payload()
        if isinstance(children, list):
            stack.extend(child for child in children if isinstance(child, Message))
    return found


def _bounded_defects(defects: list[str]) -> list[str]:
    unique = list(dict.fromkeys(_clean(d)[:MAX_DEFECT_CHARS] for d in defects))
    if len(unique) > MAX_DEFECTS:
        unique = [*unique[: MAX_DEFECTS - 1], f"defects-truncated: {len(unique)} in all"]
    return unique


def _describe(stage: str, exc: BaseException) -> str:
    log.warning("parsing: %s: %s", stage, type(exc).__name__)
    return f"{stage}: {type(exc).__name__}: {exc}"[:MAX_DEFECT_CHARS]


def _has_surrogates(text: str) -> bool:
    return any("\udc80" <= c <= "\udcff" for c in text)


def _one_line(text: str) -> str:
    """A header's text as shown in one line: whitespace runs one space, and no control
    or bidi character (an escape sequence in a subject would reach a terminal, an
    override would turn the shop's subject line around)."""
    return " ".join(header_text(_clean(text)).split())


def _clean(text: str) -> str:
    """Text storable everywhere: no NUL (PostgreSQL rejects it), no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
