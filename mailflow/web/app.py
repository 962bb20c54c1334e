"""The web application: the page modules composed into one Starlette app.

Each page module exports `ROUTES` (a list of Starlette routes); `PAGES` lists the
modules in order, and a new page (the rating form, Lob & Tadel, the operator's views)
is one more module there. The app keeps the configuration, the engine and the clock in
`app.state`; pages read them through `mailflow.web.pages`, forms write through
`app.state.writer` (`mailflow.web.forms.writer`); the operator's failed logins are
counted in `app.state.login_throttle`. Static files come from the package
(`static/`), never from a CDN. Errors: 404 and 405 get the not-found page, any other
failure the error page (500), both in the request's language, both with the security
headers (`security.SecurityHeaders` wraps even Starlette's error handling).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from mailflow.config import Config
from mailflow.db import utcnow
from mailflow.web import (
    badge,
    certificate,
    feedback_form,
    forms,
    operator,
    operator_auth,
    pages,
    rating_form,
)
from mailflow.web.security import SecurityHeaders

log = logging.getLogger("mailflow.web")

PAGES = (certificate, badge, rating_form, feedback_form, operator)
"""The page modules, each with its `ROUTES`."""


def embeddable(path: str) -> bool:
    """Paths that shops may embed (the badge); every other response forbids framing."""
    return path.startswith("/siegel/") and path.endswith("/badge.svg")


PRIVATE_PREFIXES = ("/bewertung/", feedback_form.CONFIRM_PATH, "/betrieb")


def private(path: str) -> bool:
    """Paths whose pages carry a token: a link's own, a form's, or the operator's."""
    return path.startswith(PRIVATE_PREFIXES) or path.endswith("/lob-tadel")


class WebApp(Starlette):
    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack(), embeddable, private)


def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 405:
        # Not "no such seal" (a black-box run read that on a real shop's page after a
        # POST): the page exists, the method does not; Allow names the ones that do.
        response = forms.message(request, "not_allowed", 405)
        allowed = (exc.headers or {}).get("Allow") if isinstance(exc, HTTPException) else None
        if allowed:
            response.headers["Allow"] = allowed
        return response
    # Under /siegel/ a page that is not there is a seal that is not (a copied badge's
    # link); elsewhere (/, a mistyped link) it is only a page that is not there.
    seal = request.url.path.startswith("/siegel/")
    return pages.render(request, "not_found.html", {"seal": seal}, status_code=404)


def server_error(request: Request, exc: Exception) -> Response:
    log.error("web request %s failed", request.url.path, exc_info=exc)
    return pages.render(request, "error.html", {}, status_code=500)


def create_app(
    config: Config,
    engine: Engine,
    clock: Callable[[], datetime] = utcnow,
    writer: Engine | None = None,
) -> Starlette:
    """The app over `engine` (pages read through it) and `writer` (the forms write
    through it; default `engine`, which must then allow writes)."""
    if config.web.operator_user and not config.web.operator_password_hash:
        log.warning(
            "[web] operator_user is set without a password hash "
            "(SIEGEL_OPERATOR_PASSWORD_HASH): the operator views are off"
        )
    routes = [route for module in PAGES for route in module.ROUTES]
    static = StaticFiles(packages=[("mailflow.web", "static")])
    routes.append(Mount("/static", static, name="static"))
    app = WebApp(
        routes=routes,
        exception_handlers={404: not_found, 405: not_found, Exception: server_error},
    )
    # Starlette's slash redirect writes its Location from the Host header, token and all.
    app.router.redirect_slashes = False
    app.state.config = config
    app.state.engine = engine
    app.state.writer = writer or engine
    app.state.clock = clock
    app.state.login_throttle = operator_auth.Throttle(
        config.web.operator_login_failures,
        timedelta(minutes=config.web.operator_login_window_minutes),
    )
    return app
