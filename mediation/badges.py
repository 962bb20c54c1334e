"""Badge links: a signed token that binds a merchant's badge to the shop's domain.

The badge a merchant embeds links to its certificate page with `?d=DOMAIN&v=TOKEN`,
where the token is an HMAC over the merchant's slug and that domain. The page checks
the token (`verify`) and compares the domain with the host of the page that linked to
it (the Referer): a badge copied onto another shop still carries the first domain, so
the page says the seal is not valid there (`judge`). The token is public (it sits in
every page of the shop); it proves only which domain the operator issued the badge
for, so nothing else is ever signed with its key.

Pure: secrets, slugs and hosts in, answers out; tokens are compared in constant time.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac

TOKEN_BYTES = 16
"""128 bits of the HMAC: 22 characters in the link."""


class Verdict(enum.StrEnum):
    """What the certificate page says about the link it was opened from."""

    NONE = "none"
    """No badge link (opened directly): nothing to say."""
    VALID = "valid"
    """Opened from the domain the badge was issued for."""
    ISSUED = "issued"
    """A valid badge link, but the browser sent no referring page to compare."""
    WRONG_DOMAIN = "wrong-domain"
    """Opened from a page on another domain: the badge is not valid there."""
    INVALID = "invalid"
    """The token does not belong to this merchant and domain (altered or foreign)."""


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"service-siegel badge v1", hashlib.sha256).digest()


def normalise_domain(domain: str) -> str:
    """A domain as it is signed and compared: lower case, no trailing dot, A-labels."""
    name = domain.strip().rstrip(".").lower()
    try:
        return name.encode("idna").decode("ascii")
    except UnicodeError:
        return name


def token(secret: bytes, slug: str, domain: str) -> str:
    """The token of merchant `slug`'s badge on `domain`."""
    message = f"{slug}\0{normalise_domain(domain)}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def verify(secret: bytes, slug: str, domain: str, given: str) -> bool:
    """Whether `given` is the token of `slug`'s badge on `domain`."""
    expected = token(secret, slug, domain)
    # compare_digest takes ASCII text only; anything else is no token of ours.
    return given.isascii() and hmac.compare_digest(expected, given)


def host_matches(host: str, domain: str) -> bool:
    """`host` is `domain` or one of its subdomains (www.shop.example for shop.example)."""
    host, domain = normalise_domain(host), normalise_domain(domain)
    return bool(domain) and (host == domain or host.endswith(f".{domain}"))


def judge(
    secret: bytes,
    slug: str,
    shop_domains: list[str],
    domain: str | None,
    given: str | None,
    referring_host: str | None,
    own_host: str | None = None,
) -> Verdict:
    """The verdict on a certificate page opened with badge parameters `domain` and
    `given` (both None: not from a badge) from a page on `referring_host` (None: no
    Referer). The domain must still be one of the merchant's (`shop_domains`): a domain
    the operator removed no longer validates. Our own pages (`own_host`, e.g. the
    language switch) are no foreign domain."""
    if domain is None and given is None:
        return Verdict.NONE
    registered = {normalise_domain(name) for name in shop_domains}
    if (
        not domain
        or not given
        or normalise_domain(domain) not in registered
        or not verify(secret, slug, domain, given)
    ):
        return Verdict.INVALID
    if not referring_host or (own_host and host_matches(referring_host, own_host)):
        return Verdict.ISSUED
    return Verdict.VALID if host_matches(referring_host, domain) else Verdict.WRONG_DOMAIN
