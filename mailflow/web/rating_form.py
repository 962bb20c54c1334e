"""The rating form: `/bewertung/TOKEN`, the link in the mail that closes a case.

The link (`mediation.rating_links`) names the case, binds its customer and expires
`[web] rating_link_days` after the closing. GET shows the form (the three 1-5 ratings,
Lob, Tadel, consent to publish); POST rates the case through the same act as a rating
by mail (`mediation.case_ratings.rate`: one current rating per case, replaced ones in
the history, the thanks mail through the outbox), in one unit of work that also records
the link as used. The link is one-time: used, it shows a page that says so (a rating by
reply to the mail still replaces it). Altered or foreign links, expired ones, and a
case that is not closed get a clear page, never the form.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailflow import casework, outbox
from mailflow.db import session_scope
from mailflow.web import csrf, forms, pages
from mediation import case_ratings, form_store, rating_links, rating_store, storage
from mediation.rating_links import Verdict
from mediation.rating_store import DIMENSIONS, GivenRating
from mediation.storage import Case
from mediation.workflow import CLOSED

PURPOSE = "rating"


@dataclass(frozen=True)
class Found:
    """What a link leads to: a refusal page's name, or the case to rate."""

    refusal: str | None
    status: int = 200
    case: Case | None = None
    merchant_name: str = ""
    current: rating_store.Rating | None = None


def _find(session: Session, request: Request, text: str, lock: bool = False) -> Found:
    """The case a link rates, or why it cannot (`lock`: for the rating's unit of work)."""
    link = rating_links.parse(text)
    if link is None:
        return Found("link_invalid", 404)
    if lock:
        case = storage.load_case(session, link.ref)
    else:
        case = form_store.case_by_ref(session, link.ref)
    if case is None:
        return Found("link_invalid", 404)
    verdict = rating_links.judge(
        pages.config(request).secret_bytes, link, case.customer_id, pages.now(request)
    )
    if verdict is Verdict.INVALID:
        return Found("link_invalid", 404)
    pages.mailed_in(request, case.language)  # the closing mail was in the case's language
    if verdict is Verdict.EXPIRED:
        return Found("link_expired", 410)
    if form_store.link_use(session, rating_links.digest(text)) is not None:
        return Found("link_used", 410)
    if case.state not in CLOSED or case.merchant_id is None:
        return Found("link_not_closed", 409)
    merchant = storage.merchant_of(session, case)
    current = rating_store.current(session, case.id)  # type: ignore[arg-type]
    return Found(None, 200, case, merchant.name if merchant else "", current)


def show(request: Request) -> Response:
    text = request.path_params["token"]
    with Session(pages.engine(request)) as session:
        found = _find(session, request, text)
    if found.refusal is not None:
        return forms.message(request, found.refusal, found.status)
    values: dict[str, Any] = {}
    if found.current is not None:  # rated by mail before: start from that rating
        values = {name: str(getattr(found.current, name) or "") for name in DIMENSIONS}
        values |= {"praise": found.current.praise, "criticism": found.current.criticism}
    return _form(request, found, values, [])


def _form(
    request: Request, found: Found, values: dict[str, Any], errors: list[str], status: int = 200
) -> Response:
    text = request.path_params["token"]
    context = {
        "ref": found.case.ref if found.case else "",
        "merchant_name": found.merchant_name,
        "values": values,
        "errors": errors,
        "dimensions": DIMENSIONS,
        "csrf_field": csrf.FIELD,
        "csrf": forms.token(request, PURPOSE, rating_links.digest(text)),
        "max_text": forms.MAX_TEXT_CHARS,
        "rated_before": found.current is not None,
    }
    return pages.render(request, "rating_form.html", context, status_code=status)


def read(fields: dict[str, str]) -> tuple[GivenRating | None, list[str]]:
    """The rating a submission gives, or the names of its errors (texts `error_NAME`)."""
    errors, scores = [], {}
    for name in DIMENSIONS:
        value = fields.get(name, "")
        if value not in ("1", "2", "3", "4", "5"):
            errors.append(f"score_{name}")
        else:
            scores[name] = int(value)
    for name in ("praise", "criticism"):
        if len(fields.get(name, "")) > forms.MAX_TEXT_CHARS:
            errors.append(f"too_long_{name}")
    if errors:
        return None, errors
    given = GivenRating(
        **scores,
        praise=fields.get("praise", ""),
        criticism=fields.get("criticism", ""),
        publish_consent=fields.get("consent") == "yes",
    )
    return given, []


async def submit(request: Request) -> Response:
    return await forms.handle(request, _submit)


def _submit(request: Request, fields: dict[str, str]) -> Response:
    text = request.path_params["token"]
    check = forms.form_check(request, fields, PURPOSE, rating_links.digest(text))
    if check is csrf.Verdict.EXPIRED:  # open too long: shown again, nothing entered lost
        with Session(pages.engine(request)) as session:
            found = _find(session, request, text)
        if found.refusal is not None:
            return forms.message(request, found.refusal, found.status)
        return _form(request, found, fields, ["form_expired"], status=400)
    if check is not csrf.Verdict.VALID:
        return forms.message(request, "form_stale", 403)
    given, errors = read(fields)
    config, now = pages.config(request), pages.now(request)
    try:
        with session_scope(forms.writer(request)) as session:
            found = _find(session, request, text, lock=True)
            if found.refusal is not None:
                return forms.message(request, found.refusal, found.status)
            if given is None:
                return _form(request, found, fields, errors, status=400)
            assert found.case is not None and found.case.id is not None
            form_store.use_link(session, rating_links.digest(text), found.case.id, now)
            outcome = case_ratings.rate(
                session, found.case, given, now, casework.settings(config), source="rating form"
            )
            for mail in outcome.outgoing:
                outbox.enqueue(session, mail, config, now)
    except IntegrityError:  # the same link submitted twice at once: the other one counted
        return forms.message(request, "link_used", 410)
    return forms.message(request, "rating_thanks", 200, merchant=found.merchant_name)


ROUTES = [
    Route("/bewertung/{token}", show, methods=["GET"], name="rating_form"),
    Route("/bewertung/{token}", submit, methods=["POST"]),
]
