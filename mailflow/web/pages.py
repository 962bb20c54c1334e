"""What every page module shares: the templates, the request's language, rendering.

Templates are Jinja2 with autoescape on for every template (HTML and SVG alike), loaded
from the package; a page module renders through `render`, which adds the language, its
texts and the language switch to the context. A page opened by a one-time link from a
mail (`mailed_in`) speaks that mail's language unless ``?lang`` says otherwise.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mailflow.config import Config
from mailflow.web import i18n


@cache
def environment() -> Environment:
    return Environment(
        loader=PackageLoader("mailflow.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def config(request: Request) -> Config:
    return request.app.state.config


def engine(request: Request) -> Engine:
    return request.app.state.engine


def now(request: Request) -> datetime:
    return request.app.state.clock()


def language(request: Request) -> str:
    return i18n.negotiate(
        request.query_params.get("lang"),
        request.headers.get("accept-language"),
        config(request).siegel.default_language,
        getattr(request.state, "mailed_language", None),
    )


def referring_host(request: Request) -> str | None:
    """The host of the page the request came from (its Referer), or None: none sent, or
    one that is no URL (anybody may send anything there)."""
    referer = request.headers.get("referer")
    try:
        return urlsplit(referer).hostname if referer else None
    except ValueError:
        return None


def mailed_in(request: Request, language: str) -> None:
    """This page was opened by a one-time link from a mail written in `language`: without
    ``?lang`` it is in that language (`i18n.negotiate`)."""
    request.state.mailed_language = language


def switch_url(request: Request, target: str) -> str:
    """This page in language `target`, keeping its other query parameters. The path is
    the request's, quoted and with one leading slash: "//evil.example/x" (or "/\\evil...",
    which browsers read alike) must not become a link to another site."""
    query = [(key, value) for key, value in request.query_params.multi_items() if key != "lang"]
    path = "/" + quote(request.url.path).lstrip("/")
    return f"{path}?{urlencode([*query, ('lang', target)])}"


def render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    lang = language(request)
    other = "en" if lang == "de" else "de"
    full = {
        "lang": lang,
        "other": other,
        "t": i18n.texts(lang),
        "switch_url": switch_url(request, other),
        "static": lambda name: f"/static/{name}",
        **context,
    }
    body = environment().get_template(template).render(full)
    # The language depends on the query and on Accept-Language.
    headers = {"Content-Language": lang, "Vary": "Accept-Language"}
    return HTMLResponse(body, status_code=status_code, headers=headers)
