"""The operator's views under `/betrieb`, behind HTTP Basic (`operator_auth`); off
(404) when `[web] operator_user` is empty, never public.

`/betrieb`: the merchants with tier, trial and validity; the cases needing attention
(`mediation.attention`); one list of Lob & Tadel waiting for release, the form's
entries and the rating form's texts given with consent, each with a release and a
reject button. `POST /betrieb/lob-tadel/ID` (an entry) and `/betrieb/bewertung/ID` (a
rating; CSRF token bound to the operator's login) release or reject one and return to
the overview (303). After `[web] operator_login_failures` failed logins in the window
a client gets 429 with Retry-After (`operator_auth.Throttle`).
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta
from typing import Any

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from mailflow.db import session_scope
from mailflow.sealwork import scoring_day
from mailflow.web import csrf, forms, i18n, operator_auth, pages
from mediation import (
    attention,
    certificate_store,
    feedback_store,
    rating_store,
    seal,
    storage,
    templates,
)
from scoring import TIER_NAMES, Tier, seal_status

log = logging.getLogger("mailflow.web")

REALM = 'Basic realm="Service-Siegel Betrieb", charset="UTF-8"'
STUCK_AFTER = timedelta(minutes=10)
"""A deadline due longer than this has not been fired by the sweep: overdue."""


def _operator(request: Request) -> str | Response:
    """The logged-in operator, or the answer instead: 401 with a challenge when the
    credentials are missing or wrong, 429 to a client with too many failed logins
    (before its credentials are looked at); 404 when the views are off."""
    web = pages.config(request).web
    if not web.operator_user or not web.operator_password_hash:
        raise HTTPException(404)
    throttle: operator_auth.Throttle = request.app.state.login_throttle
    client, now = forms.client_key(request), pages.now(request)
    wait = throttle.admit(client, now)
    if wait is None:
        header = request.headers.get("authorization")
        try:
            user = operator_auth.login(header, web.operator_user, web.operator_password_hash)
        except BaseException:
            throttle.released(client)  # a reservation must never outlive its request
            raise
        if user == operator_auth.BUSY:
            throttle.released(client)
            wait = 1
        elif user is not None:
            throttle.succeeded(client)
            return user
        elif header is None:  # a browser's first request carries none: no failure
            throttle.released(client)
            return _challenge(request)
        else:
            throttle.failed(client, now)
            log.warning("operator login failed (client %s)", client[:8])
            return _challenge(request)
    response = forms.message(request, "login_throttled", 429, minutes=math.ceil(wait / 60))
    response.headers["Retry-After"] = str(wait)
    return response


def _challenge(request: Request) -> Response:
    response = forms.message(request, "login_needed", 401)
    response.headers["WWW-Authenticate"] = REALM
    return response


def overview(request: Request) -> Response:
    user = _operator(request)
    if isinstance(user, Response):
        return user
    config, now = pages.config(request), pages.now(request)
    language = pages.language(request)
    day = scoring_day(config, now)
    t, zone = i18n.texts(language), config.siegel.timezone
    with Session(pages.engine(request)) as session:
        records, held = seal.records(session)
        merchants, names = [], {}
        for merchant in storage.merchants(session):
            names[merchant.id] = merchant.name
            record = records.get(merchant.slug)
            status = seal_status(record, day, config.scoring.policy) if record else None
            phase = status.phase.value if status else "precheck-missing"
            if certificate_store.public_seal(session, merchant.id).withdrawn:  # type: ignore[arg-type]
                phase = "withdrawn"
            tier = Tier(str(held.get(merchant.slug, Tier.NONE)))
            merchants.append(
                {
                    "slug": merchant.slug,
                    "name": merchant.name,
                    "tier": t["badge_no_tier"] if tier is Tier.NONE else TIER_NAMES[language][tier],
                    "phase": t[f"phase_{phase.replace('-', '_')}"],
                    "trial_ends": _day(status.trial_ends_on if status else None, language),
                    "valid_until": _day(status.last_valid_day if status else None, language),
                }
            )
        overdue = [
            row | {"due_at": templates.format_moment(row["due_at"], language, zone)}
            for row in attention.overdue_deadlines(session, now - STUCK_AFTER)
        ]
        held_mails = [
            row
            | {
                "held_at": templates.format_moment(row["held_at"], language, zone),
                "reason": templates.held_text(row["reason"], language),
            }
            for row in attention.held_mails(session)
        ]
        context: dict[str, Any] = {
            "merchants": merchants,
            "needs_merchant": attention.needs_merchant(session),
            "merchant_unreachable": attention.merchant_unreachable(session),
            "no_mediator": attention.mediation_without_mediator(session),
            "overdue": overdue,
            "held": held_mails,
            "waiting": [
                entry | {"source": t[f"source_{entry['source'].replace('-', '_')}"]}
                for entry in _waiting(session, names)
            ],
        }
    token = forms.token(request, "operator", user)
    context |= {"user": user, "csrf_field": csrf.FIELD, "csrf": token}
    return pages.render(request, "operator.html", context)


def _waiting(session: Session, names: dict[int | None, str]) -> list[dict[str, Any]]:
    """Lob & Tadel entries and rated Lob & Tadel waiting for release, oldest first."""
    entries = [
        _entry(entry, names, "lob-tadel", f"entry-{entry.id}", entry.source)
        for entry in feedback_store.waiting(session)
    ]
    entries += [
        _entry(rating, names, "bewertung", f"rating-{rating.id}", "rating-form")
        for rating in rating_store.waiting(session)
    ]
    return sorted(entries, key=lambda entry: entry["received_at"])


def _entry(
    entry: feedback_store.Feedback | rating_store.Rating,
    names: dict[int | None, str],
    path: str,
    key: str,
    source: str,
) -> dict[str, Any]:
    return {
        "key": key,
        "action": f"/betrieb/{path}/{entry.id}",
        "merchant": names.get(entry.merchant_id, "?"),
        "praise": entry.praise,
        "criticism": entry.criticism,
        "source": source,
        "received_at": entry.received_at,
    }


def _day(value: Any, language: str) -> str:
    return i18n.day(value, language) if value else ""


async def decide_entry(request: Request) -> Response:
    return await forms.handle(request, lambda request, fields: _decide(request, fields, False))


async def decide_rating(request: Request) -> Response:
    return await forms.handle(request, lambda request, fields: _decide(request, fields, True))


def _decide(request: Request, fields: dict[str, str], rating: bool) -> Response:
    user = _operator(request)
    if isinstance(user, Response):
        return user
    if not forms.trusted(request, fields, "operator", user):
        return forms.message(request, "form_stale", 403)
    action = fields.get("action")
    if action not in ("release", "reject"):
        return forms.message(request, "unknown_action", 400)
    entry_id = int(request.path_params["entry"])
    store = rating_store if rating else feedback_store
    with session_scope(forms.writer(request)) as session:
        act = store.release if action == "release" else store.reject
        if act(session, entry_id, user, pages.now(request)) is None:
            raise HTTPException(404)
    query = f"?lang={request.query_params['lang']}" if "lang" in request.query_params else ""
    return RedirectResponse(f"/betrieb{query}", status_code=303)


ROUTES = [
    Route("/betrieb", overview, methods=["GET"], name="operator"),
    Route("/betrieb/lob-tadel/{entry:int}", decide_entry, methods=["POST"]),
    Route("/betrieb/bewertung/{entry:int}", decide_rating, methods=["POST"]),
]
