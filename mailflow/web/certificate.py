"""The certificate page of a merchant: `/siegel/SLUG`.

Unknown and withdrawn merchants get the not-found page (404); every other merchant,
expired or in its trial included, gets its page with its state. Opened from a badge
(`?d=DOMAIN&v=TOKEN`), the page says whether the badge is valid on the page that
linked to it (`mediation.badges.judge`, against the Referer's host).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from mailflow.web import badge, certificate_data, certificate_view, i18n, pages
from mediation import badges


def certificate(request: Request) -> Response:
    slug = request.path_params["slug"]
    config = pages.config(request)
    language = pages.language(request)
    with Session(pages.engine(request)) as session:
        merchant = certificate_data.find_merchant(session, slug)
        if merchant is None:
            raise HTTPException(404)
        found = certificate_data.load(session, config, merchant, pages.now(request))
    if found.seal.withdrawn:
        raise HTTPException(404)
    content = certificate_view.page(found, language, config.siegel.timezone)
    content["verdict"] = _verdict(request, found.merchant.domains, language)
    content["snippets"] = [
        {
            "domain": domain,
            "html": badge.snippet(config, slug, found.merchant.name, domain, language),
        }
        for domain in found.merchant.domains
    ]
    return pages.render(request, "certificate.html", {"page": content})


def _verdict(request: Request, domains: list[str], language: str) -> dict[str, str] | None:
    """What to say about the badge link the page was opened from (None: not from one)."""
    config = pages.config(request)
    domain = request.query_params.get("d")
    given = request.query_params.get("v")
    host = pages.referring_host(request)
    own = urlsplit(config.web.public_url).hostname
    verdict = badges.judge(
        config.badge_secret_bytes,
        request.path_params["slug"],
        domains,
        domain,
        given,
        host,
        own_host=request.url.hostname or own,
    )
    if verdict is badges.Verdict.NONE:
        return None
    text = i18n.texts(language)[f"verdict_{verdict.value.replace('-', '_')}"]
    return {"kind": verdict.value, "text": text.format(domain=domain or "", host=host or "")}


ROUTES = [Route("/siegel/{slug}", certificate, name="certificate")]
