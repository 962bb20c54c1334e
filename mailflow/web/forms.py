"""What the form pages share: the writer engine, the request body read with limits, the
CSRF token and origin check, the client's key for rate limits, and the message page.

Forms are plain HTML (``application/x-www-form-urlencoded``; no JavaScript). A body
larger than `MAX_BODY_BYTES` is refused (413) before it is read whole; fields are
parsed by the standard library with a bound on their number, and lose the characters
nobody types (`outgoing.UNSHOWN_IN_TEXT`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from mailflow.web import csrf, pages
from mediation.outgoing import UNSHOWN_IN_TEXT

MAX_BODY_BYTES = 64 * 1024
"""Room for every text field full of three-byte characters, each percent-encoded."""
MAX_FIELDS = 20
MAX_TEXT_CHARS = 2000
"""Lob, Tadel: what one text field may hold."""


class BodyTooLarge(Exception):
    pass


class NotAForm(Exception):
    """A body that no form of ours sends (JSON, multipart, not UTF-8)."""


def writer(request: Request) -> Engine:
    """The engine for writes (the page engine may be read-only, `server.read_engine`)."""
    return request.app.state.writer


async def read_form(request: Request) -> dict[str, str]:
    """The submitted fields (the first value of each); BodyTooLarge above the limit,
    NotAForm for a body that is no URL-encoded UTF-8 form."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise BodyTooLarge
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge
    if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        raise NotAForm
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotAForm from None
    try:
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except ValueError:  # more fields than any form of ours has
        raise BodyTooLarge from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, UNSHOWN_IN_TEXT.sub("", value.replace("\r\n", "\n")).strip())
    return fields


async def handle(request: Request, work: Callable[[Request, dict[str, str]], Response]) -> Response:
    """A POST: the body read with its limits (413 above them), then `work(request,
    fields)` in the threadpool (it reads and writes the database)."""
    try:
        fields = await read_form(request)
    except BodyTooLarge:
        return message(request, "too_large", 413)
    except NotAForm:
        return message(request, "not_a_form", 415)
    return await run_in_threadpool(work, request, fields)


def token(request: Request, purpose: str, subject: str) -> str:
    return csrf.issue(pages.config(request).secret_bytes, purpose, subject, pages.now(request))


def trusted(request: Request, fields: dict[str, str], purpose: str, subject: str) -> bool:
    """The submission comes from our form: same origin (when the browser says) and a
    valid CSRF token for this purpose and subject."""
    return form_check(request, fields, purpose, subject) is csrf.Verdict.VALID


def form_check(
    request: Request, fields: dict[str, str], purpose: str, subject: str
) -> csrf.Verdict:
    """`trusted` as a verdict: EXPIRED for a submission of our form that was open longer
    than `[web] form_minutes`, which may be shown again with what was entered."""
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        ours = {_origin(str(request.base_url)), _origin(pages.config(request).web.public_url)}
        if _origin(origin) not in ours:
            return csrf.Verdict.INVALID
    config = pages.config(request)
    max_age = timedelta(minutes=config.web.form_minutes)
    given = fields.get(csrf.FIELD)
    return csrf.check(config.secret_bytes, purpose, subject, given, pages.now(request), max_age)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def client_key(request: Request) -> str:
    """A keyed hash of the client's address (never stored in clear)."""
    host = request.client.host if request.client else "unknown"
    secret = pages.config(request).secret_bytes
    return hmac.new(secret, f"client\0{host}".encode(), hashlib.sha256).hexdigest()[:32]


def message(request: Request, name: str, status_code: int, **values: Any) -> Response:
    """A page that says one thing: texts ``NAME_title`` and ``NAME_text`` (formatted
    with `values`), e.g. a refused link or a thanks."""
    return pages.render(
        request, "message.html", {"name": name, "values": values}, status_code=status_code
    )
