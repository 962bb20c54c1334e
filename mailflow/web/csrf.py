"""CSRF tokens of the web forms: signed, per form, expiring; no cookie, no session.

A form carries ``ISSUED.MAC`` in a hidden field: an HMAC over the form's purpose
(``rating``, ``feedback``, ``confirm``, ``operator``), its subject (the rating link's
digest, the merchant's slug, the confirmation's digest, the operator's login) and the
moment it was rendered. A submission is taken only with a token of the same purpose and
subject that is no older than `[web] form_minutes`: a page on another site cannot
produce one (it cannot read our pages), and a token of one form does not fit another.
The key is derived from the signing secret for this purpose only. Pure.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
from datetime import datetime, timedelta

FIELD = "csrf"
"""The hidden field's name."""
_SHAPE = re.compile(r"(\d{1,12})\.([A-Za-z0-9_-]{22})")


def _mac(secret: bytes, purpose: str, subject: str, issued: int) -> str:
    key = hmac.new(secret, b"service-siegel form v1", hashlib.sha256).digest()
    message = f"{purpose}\0{subject}\0{issued}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue(secret: bytes, purpose: str, subject: str, now: datetime) -> str:
    issued = int(now.timestamp())
    return f"{issued}.{_mac(secret, purpose, subject, issued)}"


class Verdict(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # a token of this form, issued longer than `max_age` ago
    INVALID = "invalid"


def check(
    secret: bytes,
    purpose: str,
    subject: str,
    given: str | None,
    now: datetime,
    max_age: timedelta,
) -> Verdict:
    """VALID when `given` is a token of this form, issued at most `max_age` before `now`
    (and not in the future beyond a minute of clock skew between processes); EXPIRED
    when it is one, but older."""
    found = _SHAPE.fullmatch(given or "")
    if found is None:
        return Verdict.INVALID
    issued = int(found.group(1))
    expected = _mac(secret, purpose, subject, issued)
    if not hmac.compare_digest(expected, found.group(2)):
        return Verdict.INVALID
    age = now.timestamp() - issued
    if age < -60:
        return Verdict.INVALID
    return Verdict.VALID if age <= max_age.total_seconds() else Verdict.EXPIRED
