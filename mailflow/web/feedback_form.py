"""The Lob & Tadel form of a merchant, linked from its certificate page, with double
opt-in.

`/siegel/SLUG/lob-tadel`: the shopper gives an address, Lob and/or Tadel and whether
it may be published. The entry is kept as a request (`mediation.form_store`) and a mail
with a confirmation link goes to the address, through the outbox in the same unit of
work. Only `/lob-tadel/bestaetigen/TOKEN` (GET shows a button, POST confirms: a mail
scanner that opens links confirms nothing) turns it into a Lob & Tadel entry
(`mediation.feedback_store`, source ``web-form``), which then counts on the barometer
and waits for the operator's release before anything is shown. Requests are limited
per address and day and per client and hour (`[web] feedback_per_*`).
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailflow import outbox
from mailflow.db import session_scope
from mailflow.web import certificate_data, csrf, forms, pages
from mediation import (
    certificate_store,
    feedback_store,
    form_mails,
    form_store,
    rating_links,
    routing,
    storage,
)
from mediation.form_store import FeedbackRequest
from mediation.storage import Merchant

CONFIRM_PATH = "/lob-tadel/bestaetigen/"
_ADDRESS = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[^@\s<>()\[\],;:\"]+\.[^@\s<>()\[\],;:\"]+")


def address_key(address: str) -> str:
    """The mailbox an address reaches, for the per-address limit: lower case and without
    a +tag (RFC 5233), so that name+1@, name+2@ ... count as one."""
    local, _, domain = address.strip().lower().rpartition("@")
    return f"{local.partition('+')[0]}@{domain}"


def _merchant(session: Session, slug: str) -> Merchant:
    merchant = certificate_data.find_merchant(session, slug)
    if merchant is None or certificate_store.public_seal(session, merchant.id).withdrawn:  # type: ignore[arg-type]
        raise HTTPException(404)
    return merchant


def show(request: Request) -> Response:
    slug = request.path_params["slug"]
    with Session(pages.engine(request)) as session:
        merchant = _merchant(session, slug)
    return _form(request, merchant, {}, [])


def _form(
    request: Request,
    merchant: Merchant,
    values: dict[str, Any],
    errors: list[str],
    status: int = 200,
) -> Response:
    context = {
        "merchant": {"name": merchant.name, "slug": merchant.slug},
        "values": values,
        "errors": errors,
        "csrf_field": csrf.FIELD,
        "csrf": forms.token(request, "feedback", merchant.slug),
        "max_text": forms.MAX_TEXT_CHARS,
    }
    return pages.render(request, "feedback_form.html", context, status_code=status)


def read(fields: dict[str, str]) -> list[str]:
    """The errors of a submission (texts `error_NAME`); none: it may be taken."""
    errors = []
    address = fields.get("address", "")
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        errors.append("address")
    praise, criticism = fields.get("praise", ""), fields.get("criticism", "")
    if not praise and not criticism:
        errors.append("feedback_empty")
    for name, text in (("praise", praise), ("criticism", criticism)):
        if len(text) > forms.MAX_TEXT_CHARS:
            errors.append(f"too_long_{name}")
    return errors


async def submit(request: Request) -> Response:
    return await forms.handle(request, _submit)


def _submit(request: Request, fields: dict[str, str]) -> Response:
    slug = request.path_params["slug"]
    with Session(pages.engine(request)) as session:
        _merchant(session, slug)  # no such shop: 404, whatever the form says
    check = forms.form_check(request, fields, "feedback", slug)
    if check is csrf.Verdict.EXPIRED:  # open too long: shown again, nothing entered lost
        with Session(pages.engine(request)) as session:
            return _form(request, _merchant(session, slug), fields, ["form_expired"], status=400)
    if check is not csrf.Verdict.VALID:
        return forms.message(request, "form_stale", 403)
    config, now, language = pages.config(request), pages.now(request), pages.language(request)
    web = config.web
    with session_scope(forms.writer(request)) as session:
        merchant = _merchant(session, slug)
        errors = read(fields)
        if not errors and storage.is_own(merchant, fields["address"]):
            errors = ["own_shop"]  # the shop's praise of itself counts for nothing
        if not errors and routing.at_domain(fields["address"], [config.siegel.domain]):
            errors = ["address_ours"]  # the confirmation would go to ourselves
        if errors:
            return _form(request, merchant, fields, errors, status=400)
        address = fields["address"]
        key = address_key(address)
        praise, criticism = fields.get("praise", ""), fields.get("criticism", "")
        if form_store.pending_same(
            session,
            merchant.id,
            key,
            praise,
            criticism,
            now,  # type: ignore[arg-type]
        ):
            # The same form again (a double click, back and send): its mail is on its way.
            return forms.message(request, "feedback_sent", 200, hours=web.feedback_confirm_hours)
        client = forms.client_key(request)
        by_address = form_store.requests_since(session, now - timedelta(days=1), address_key=key)
        by_client = form_store.requests_since(session, now - timedelta(hours=1), client_key=client)
        limited = by_address >= web.feedback_per_address_per_day
        if limited or by_client >= web.feedback_per_ip_per_hour:
            return forms.message(request, "rate_limited", 429)
        token = secrets.token_urlsafe(24)
        form_store.add_request(
            session,
            FeedbackRequest(
                merchant_id=merchant.id,  # type: ignore[arg-type]
                address=address,
                address_key=key,
                client_key=client,
                language=language,
                praise=praise,
                criticism=criticism,
                publish_consent=fields.get("consent") == "yes",
                confirm_digest=rating_links.digest(token),
                created_at=now,
                expires_at=now + timedelta(hours=web.feedback_confirm_hours),
            ),
        )
        url = f"{web.public_url}{CONFIRM_PATH}{token}"
        mail = form_mails.feedback_confirmation(
            address, language, merchant.name, url, web.feedback_confirm_hours
        )
        outbox.enqueue(session, mail, config, now)
    return forms.message(request, "feedback_sent", 200, hours=web.feedback_confirm_hours)


def _pending(
    session: Session, request: Request, token: str
) -> tuple[str | None, int, FeedbackRequest | None]:
    """The request a confirmation link names (locked in a writing unit of work), or the
    refusal page's name and status."""
    digest = rating_links.digest(token)
    found = form_store.request_by_digest(session, digest) if len(token) < 100 else None
    if found is None:
        return "confirm_invalid", 404, None
    pages.mailed_in(request, found.language)  # the confirmation mail's
    if found.confirmed_at is not None:
        return "confirm_done", 200, found
    if pages.now(request) >= found.expires_at:
        return "confirm_expired", 410, found
    return None, 200, found


def confirm_page(request: Request) -> Response:
    token = request.path_params["token"]
    with Session(pages.engine(request)) as session:
        refusal, status, _ = _pending(session, request, token)
    if refusal is not None:
        return forms.message(request, refusal, status)
    context = {
        "csrf_field": csrf.FIELD,
        "csrf": forms.token(request, "confirm", rating_links.digest(token)),
    }
    return pages.render(request, "feedback_confirm.html", context)


async def confirm(request: Request) -> Response:
    return await forms.handle(request, _confirm)


def _confirm(request: Request, fields: dict[str, str]) -> Response:
    token = request.path_params["token"]
    if not forms.trusted(request, fields, "confirm", rating_links.digest(token)):
        return forms.message(request, "form_stale", 403)
    now = pages.now(request)
    with session_scope(forms.writer(request)) as session:
        refusal, status, found = _pending(session, request, token)
        if refusal is not None:
            return forms.message(request, refusal, status)
        assert found is not None
        entry = feedback_store.record(
            session,
            merchant_id=found.merchant_id,
            author=found.address,
            language=found.language,
            praise=found.praise,
            criticism=found.criticism,
            source=feedback_store.Source.WEB_FORM,
            mail_id=0,
            received_at=now,
            merchant_named_by="web-form",
        )
        feedback_store.consent(session, entry.id, found.publish_consent)  # type: ignore[arg-type]
        form_store.confirmed(session, found, entry.id, now)  # type: ignore[arg-type]
    return forms.message(request, "confirm_done", 200)


ROUTES = [
    Route("/siegel/{slug}/lob-tadel", show, methods=["GET"], name="feedback_form"),
    Route("/siegel/{slug}/lob-tadel", submit, methods=["POST"]),
    Route(CONFIRM_PATH + "{token}", confirm_page, methods=["GET"], name="feedback_confirm"),
    Route(CONFIRM_PATH + "{token}", confirm, methods=["POST"]),
]
