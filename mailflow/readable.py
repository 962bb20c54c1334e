"""A mail as a person reads it: decoded headers, the text part, the HTML part as text.

`siegel outbox show` prints our outgoing mails this way. The HTML part is turned into
text by the project's one converter, `classifier.html_text.html_to_text`, so that the
operator sees what a client shows (quotes as '>' lines, hidden text left out).
"""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from classifier.html_text import html_to_text
from mailflow.command_support import local_time
from mailflow.config import Config

SHOWN_HEADERS = (
    "From",
    "To",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Auto-Submitted",
    "Content-Language",
)
"""The headers shown first, in this order; the others follow as they stand."""


def readable(raw: bytes) -> dict[str, Any]:
    """`raw` parsed: every header decoded, the text and HTML parts, attachments' names."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    headers = [(name, str(value)) for name, value in message.items()]
    text = html = None
    attachments = []
    for part in message.walk():
        if part.is_multipart():
            continue
        kind, disposition = part.get_content_type(), part.get_content_disposition()
        if disposition == "attachment" or kind not in ("text/plain", "text/html"):
            attachments.append({"type": kind, "filename": part.get_filename()})
        elif kind == "text/plain" and text is None:
            text = _content(part)
        elif kind == "text/html" and html is None:
            html = _content(part)
    return {
        "headers": headers,
        "text": text,
        "html_as_text": html_to_text(html).text if html is not None else None,
        "attachments": attachments,
    }


def _content(part: Any) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # an unknown or lying charset
        return part.get_payload(decode=True).decode("utf-8", "replace")


def as_text(detail: dict[str, Any], config: Config) -> str:
    """The readable form of `readable(...)` plus the outbox fields, for a terminal."""
    lines = [
        f"outbox {detail['id']}  {detail['status']}  {detail['kind']}"
        + (f"  case {detail['case_ref']}" if detail.get("case_ref") else ""),
    ]
    why = detail.get("last_error") or detail.get("suppressed_reason")
    if why:
        lines.append(f"  {why}")
    lines.append("")
    headers = detail["headers"]
    first = [(n, v) for wanted in SHOWN_HEADERS for n, v in headers if n.lower() == wanted.lower()]
    rest = [(n, v) for n, v in headers if n.lower() not in {w.lower() for w in SHOWN_HEADERS}]
    lines += [f"{name}: {value}" for name, value in [*first, *rest]]
    parts = (("text part", detail["text"]), ("HTML part, as text", detail["html_as_text"]))
    for title, body in parts:
        if body is None:
            continue
        lines += ["", f"---- {title} " + "-" * max(0, 60 - len(title)), body.rstrip("\n")]
    for attachment in detail["attachments"]:
        lines.append(f"[attachment {attachment['type']} {attachment['filename'] or ''}]".rstrip())
    lines += ["", "---- attempts " + "-" * 50]
    for attempt in detail["attempts"] or [None]:
        if attempt is None:
            lines.append("(none yet)" + _next(detail, config))
            continue
        code = f" {attempt['code']}" if attempt["code"] is not None else ""
        at = local_time(attempt["at"], config)
        lines.append(f"{at}  {attempt['outcome']:<11}{code} {attempt['response']}")
    if detail["attempts"] and detail["status"] == "queued":
        lines.append(_next(detail, config).strip())
    return "\n".join(lines)


def _next(detail: dict[str, Any], config: Config) -> str:
    if detail["status"] != "queued":
        return ""
    return f"  next attempt at {local_time(detail['next_attempt_at'], config)}"
