"""Rating links: the signed, expiring link to the rating form in the mail that closes a
case (the rating request, ``${rating_request}``, in the customer's closing notice).

A link is ``/bewertung/REF.EXPIRES.MAC``: the case reference, the moment it expires
(Unix seconds) and an HMAC over the reference, the case's customer and the expiry. The
customer is bound by the MAC without being named in the link, so a link cannot be moved
to another case, another customer or a later expiry. The link is used once: the web
form records `digest(token)` when it takes the rating (never the token itself), and a
used link is refused with a page that says so (`mediation.form_store`).

Pure: secrets, references and times in, answers out; MACs compared in constant time.
The key is derived from the signing secret for this purpose only.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAC_BYTES = 16
"""128 bits of the HMAC: 22 characters in the link."""
PATH = "/bewertung/"
_TOKEN = re.compile(r"([A-Z]{2,5}-\d{4}-\d{1,12})\.(\d{1,12})\.([A-Za-z0-9_-]{22})")


class Verdict(enum.StrEnum):
    """What the rating form makes of a link."""

    VALID = "valid"
    EXPIRED = "expired"
    """Genuine, but past its expiry."""
    INVALID = "invalid"
    """Not one of ours: altered, truncated, or for another case or customer."""


@dataclass(frozen=True)
class Link:
    """A link's readable parts (before its MAC is checked)."""

    ref: str
    expires: datetime
    token: str


def _key(secret: bytes) -> bytes:
    return hmac.new(secret, b"service-siegel rating link v1", hashlib.sha256).digest()


def _mac(secret: bytes, ref: str, customer_id: int, expires: int) -> str:
    message = f"{ref}\0{customer_id}\0{expires}".encode()
    digest = hmac.new(_key(secret), message, hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def expires_at(closed_at: datetime, days: int) -> datetime:
    """When the link of a case closed at `closed_at` expires (whole seconds)."""
    return (closed_at + timedelta(days=days)).replace(microsecond=0)


def token(secret: bytes, ref: str, customer_id: int, expires: datetime) -> str:
    """The token of case `ref`'s rating link for its customer `customer_id`."""
    seconds = int(expires.timestamp())
    return f"{ref}.{seconds}.{_mac(secret, ref, customer_id, seconds)}"


def parse(text: str) -> Link | None:
    """The parts of a token, or None when it is no token at all (then: invalid)."""
    found = _TOKEN.fullmatch(text)
    if found is None:
        return None
    ref, seconds, _ = found.groups()
    if seconds != str(int(seconds)):
        # One link, one spelling: "0180…" would pass the MAC as "180…" does, and be a
        # link not used yet (a black-box run rated three times with leading zeros).
        return None
    return Link(ref, datetime.fromtimestamp(int(seconds), UTC), text)


def judge(secret: bytes, link: Link, customer_id: int, now: datetime) -> Verdict:
    """Whether `link` was issued by us for its case and `customer_id` (the customer of
    the case it names), and is still valid at `now`."""
    seconds = int(link.expires.timestamp())
    expected = _mac(secret, link.ref, customer_id, seconds)
    given = link.token.rsplit(".", 1)[1]
    if not hmac.compare_digest(expected, given):
        return Verdict.INVALID
    return Verdict.VALID if now < link.expires else Verdict.EXPIRED


def digest(token_text: str) -> str:
    """What is stored of a used link: its SHA-256, hex."""
    return hashlib.sha256(token_text.encode("ascii", "replace")).hexdigest()


def url(
    secret: bytes,
    base_url: str,
    ref: str,
    customer_id: int,
    closed_at: datetime | None,
    days: int,
) -> str:
    """The rating link of a closed case for the mail that closes it ("" while the case
    is open or without a web address)."""
    if closed_at is None or not base_url:
        return ""
    expires = expires_at(closed_at, days)
    return f"{base_url.rstrip('/')}{PATH}{token(secret, ref, customer_id, expires)}"
