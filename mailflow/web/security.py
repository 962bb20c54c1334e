"""Security headers on every response, errors and static files included.

Pages: a Content-Security-Policy without any inline script or style (`default-src
'none'`, styles and images from us only), `frame-ancestors 'none'` (and the older
X-Frame-Options) so that no page can be framed, nosniff, and no Referer sent onwards.
The badge is meant to be embedded by shops: it gets a policy without frame-ancestors.
A page that carries a token (a rating or confirmation link in its path, a form's CSRF
token, the operator's views) is neither stored by a cache nor indexed (`no-store`,
`X-Robots-Tag: noindex`).
The middleware wraps the whole application (outside Starlette's error handling), so a
500 carries the headers too.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
EMBEDDABLE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'"

_COMMON = {
    b"x-content-type-options": b"nosniff",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
}


class SecurityHeaders:
    """ASGI middleware: the headers above, unless a response set its own."""

    def __init__(
        self, app: ASGIApp, embeddable: Callable[[str], bool], private: Callable[[str], bool]
    ) -> None:
        self.app = app
        self.embeddable = embeddable
        self.private = private

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        embeddable = self.embeddable(scope["path"])
        wanted = dict(_COMMON)
        if embeddable:
            wanted[b"content-security-policy"] = EMBEDDABLE_POLICY.encode()
            wanted[b"cross-origin-resource-policy"] = b"cross-origin"
        else:
            wanted[b"content-security-policy"] = PAGE_POLICY.encode()
            wanted[b"x-frame-options"] = b"DENY"
        if self.private(scope["path"]):
            wanted[b"cache-control"] = b"no-store"
            wanted[b"x-robots-tag"] = b"noindex, nofollow"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in wanted.items() if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
