"""The embeddable badge: `/siegel/SLUG/badge.svg`, and the HTML snippet that links it.

The badge shows the seal as it is today, never an old tier: the tier held while the
certification is valid, otherwise the state (expired, withdrawn, trial, pre-check).
Its state is read from the stored seal and `scoring.seal_status` alone (no figures),
so it is cheap; it is cached briefly (`MAX_AGE`) and revalidated by ETag. Shown on a
page whose host is none of the shop's registered domains (the Referer a browser sends
with the image), it says "not valid on this site" whatever the seal: a copied badge
does not look valid elsewhere (without a Referer nothing can be compared).

The snippet links to the certificate page with the domain-bound token of
`mediation.badges`, one per registered shop domain.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailflow import sealwork
from mailflow.config import Config
from mailflow.web import i18n, pages
from mediation import badges, certificate_store, storage
from mediation.seal import Seal
from scoring import TIER_NAMES, SealPhase, SealRecord, Tier, seal_status

MAX_AGE = 300
WIDTH, HEIGHT = 220, 64
SVG_TYPE = "image/svg+xml; charset=utf-8"

_COLOURS = {
    "gold": ("#8a6d00", "#d4a514"),
    "silber": ("#4d5660", "#9aa4ad"),
    "bronze": ("#6b3e1f", "#b87333"),
    "none": ("#3d4650", "#8a939c"),
    "warning": ("#8b1a1a", "#c0392b"),
}


def state(
    session: Session,
    config: Config,
    slug: str,
    language: str,
    at: datetime,
    shown_on: str | None = None,
) -> dict[str, Any]:
    """What the badge of `slug` shows at `at` on a page of host `shown_on` (None: not
    known, or ours): a headline, a detail line, its colours."""
    t = i18n.texts(language)
    merchant = storage.merchant_by_slug(session, slug)
    if merchant is None or merchant.id is None:
        return _shown("unknown", t["badge_unknown"], "", "warning", known=False)
    domains = merchant.domains
    if shown_on and domains and not any(badges.host_matches(shown_on, d) for d in domains):
        return _shown("elsewhere", t["badge_elsewhere"], _fitting(shown_on), "warning")
    public = certificate_store.public_seal(session, merchant.id)
    if public.withdrawn:
        return _shown("withdrawn", t["badge_withdrawn"], "", "warning")
    row = session.get(Seal, merchant.id)
    record = row.record() if row is not None else SealRecord()
    status = seal_status(record, sealwork.scoring_day(config, at), config.scoring.policy)
    if status.phase is SealPhase.RECHECK_DUE:
        day = i18n.day(status.valid_until, language) if status.valid_until else ""
        return _shown("expired", t["badge_expired"], day, "warning")
    if status.phase is SealPhase.TRIAL:
        return _shown("trial", t["badge_trial"], "", "none")
    if status.phase is SealPhase.PRECHECK_MISSING:
        return _shown("precheck", t["badge_precheck"], "", "none")
    tier = Tier(public.tier)
    until = ""
    if status.last_valid_day is not None and tier is not Tier.NONE:
        until = t["badge_valid_until"].format(day=i18n.day(status.last_valid_day, language))
    # Certified but below Bronze: the page says "without a tier", so does the badge.
    headline = t["badge_no_tier"] if tier is Tier.NONE else TIER_NAMES[language][tier]
    return _shown("active", headline, until, tier.value)


def _shown(
    kind: str, headline: str, detail: str, colours: str, known: bool = True
) -> dict[str, Any]:
    text, medal = _COLOURS[colours]
    # A tick only for a seal held: "no seal", a trial or an expired one must not look
    # like a pass at a glance.
    ticked = kind == "active" and colours != "none"
    return {"kind": kind, "headline": headline, "detail": detail, "text": text,
            "medal": medal, "known": known, "ticked": ticked}  # fmt: skip


MAX_HOST_CHARS = 26
"""What the badge's line of small print holds; a longer host keeps its end, the part
that names the site ("…shop.copycat.example")."""


def _fitting(host: str) -> str:
    return host if len(host) <= MAX_HOST_CHARS else "…" + host[-(MAX_HOST_CHARS - 1) :]


def badge_svg(request: Request) -> Response:
    slug = request.path_params["slug"]
    language = pages.language(request)
    config = pages.config(request)
    host = pages.referring_host(request)
    ours = {request.url.hostname, urlsplit(config.web.public_url).hostname}
    shown_on = (
        None
        if host is None or any(own and badges.host_matches(host, own) for own in ours)
        else host
    )
    with Session(pages.engine(request)) as session:
        shown = state(session, config, slug, language, pages.now(request), shown_on)
    t = i18n.texts(language)
    detail = f" – {shown['detail']}" if shown["detail"] else ""
    label = f"{t['badge_seal']}: {shown['headline']}{detail}"
    body = (
        pages.environment()
        .get_template("badge.svg")
        .render(t=t, shown=shown, label=label, width=WIDTH, height=HEIGHT)
        .encode()
    )
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        # Not `public`: the image differs by the page it is shown on (Referer), and
        # shared caches that ignore `Vary: Referer` would serve one page's to another.
        "Cache-Control": f"private, max-age={MAX_AGE}",
        "ETag": etag,
        "Vary": "Accept-Language, Referer",
        "Content-Language": language,
    }
    status_code = 200 if shown["known"] else 404
    if status_code == 200 and etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    return Response(body, status_code=status_code, media_type=SVG_TYPE, headers=headers)


def _etags(header: str) -> set[str]:
    return {part.strip().removeprefix("W/") for part in header.split(",") if part.strip()}


def snippet(config: Config, slug: str, name: str, domain: str, language: str) -> str:
    """The HTML a shop pastes: the badge image, linked to the certificate page with the
    token that binds it to `domain`."""
    t = i18n.texts(language)
    base = config.web.public_url
    token = badges.token(config.badge_secret_bytes, slug, domain)
    link = f"{base}/siegel/{slug}?{urlencode({'d': badges.normalise_domain(domain), 'v': token})}"
    image = f"{base}/siegel/{slug}/badge.svg?{urlencode({'lang': language})}"
    alt = t["badge_alt"].format(tier="", name=name).replace("  ", " ")
    return (
        f'<a href="{escape(link)}" rel="noopener">'
        f'<img src="{escape(image)}" width="{WIDTH}" height="{HEIGHT}" alt="{escape(alt)}">'
        "</a>"
    )


ROUTES = [Route("/siegel/{slug}/badge.svg", badge_svg, name="badge")]
