"""The rating link's token (`mediation.rating_links`): bound to case, customer and
expiry by an HMAC; any change to it is invalid, a genuine one past its expiry is
expired; another secret or purpose never validates it; only its digest is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mediation import rating_links
from mediation.rating_links import Verdict

SECRET = b"s" * 40
REF = "SSG-2026-000123"
CLOSED = datetime(2026, 11, 20, 9, 30, 15, 123456, tzinfo=UTC)
EXPIRES = rating_links.expires_at(CLOSED, 60)
TOKEN = rating_links.token(SECRET, REF, 7, EXPIRES)


def judge(text: str, customer_id: int = 7, now: datetime = CLOSED) -> Verdict:
    link = rating_links.parse(text)
    return Verdict.INVALID if link is None else rating_links.judge(SECRET, link, customer_id, now)


def test_a_genuine_link_is_valid_until_it_expires() -> None:
    """Valid right after the closing and up to the second before its expiry; expired
    from then on; the expiry is 60 days after the closing, in whole seconds."""
    assert datetime(2027, 1, 19, 9, 30, 15, tzinfo=UTC) == EXPIRES
    assert judge(TOKEN) is Verdict.VALID
    assert judge(TOKEN, now=EXPIRES - timedelta(seconds=1)) is Verdict.VALID
    assert judge(TOKEN, now=EXPIRES) is Verdict.EXPIRED
    link = rating_links.parse(TOKEN)
    assert link is not None and (link.ref, link.expires) == (REF, EXPIRES)


@pytest.mark.parametrize(
    "altered",
    [
        TOKEN[:-1] + ("A" if TOKEN[-1] != "A" else "B"),
        TOKEN.replace("000123", "000124"),
        TOKEN.replace(f".{int(EXPIRES.timestamp())}.", f".{int(EXPIRES.timestamp()) + 86400}."),
        TOKEN[:-2],
        # The same expiry spelled with leading zeros: the MAC would pass, the link
        # used once would not be known as used (a black-box run rated three times).
        TOKEN.replace(f".{int(EXPIRES.timestamp())}.", f".0{int(EXPIRES.timestamp())}."),
        TOKEN.replace(f".{int(EXPIRES.timestamp())}.", f".00{int(EXPIRES.timestamp())}."),
        TOKEN + "x",
        TOKEN.lower(),
        "",
        "SSG-2026-000123..",
        "ä" * 40,
    ],
)
def test_any_change_makes_the_link_invalid(altered: str) -> None:
    """Another character, case, expiry or length is no link of ours (never expired)."""
    assert judge(altered) is Verdict.INVALID
    assert judge(altered, now=EXPIRES + timedelta(days=1)) is Verdict.INVALID


def test_the_link_is_bound_to_the_customer_and_the_secret() -> None:
    """The case's customer only; a token made with another secret is invalid."""
    assert judge(TOKEN, customer_id=8) is Verdict.INVALID
    foreign = rating_links.token(b"t" * 40, REF, 7, EXPIRES)
    assert judge(foreign) is Verdict.INVALID


def test_the_url_and_the_digest() -> None:
    """No URL for an open case or without a web address; the digest is no token."""
    url = rating_links.url(SECRET, "https://siegel.example/", REF, 7, CLOSED, 60)
    assert url == f"https://siegel.example/bewertung/{TOKEN}"
    assert rating_links.url(SECRET, "https://siegel.example", REF, 7, None, 60) == ""
    assert rating_links.url(SECRET, "", REF, 7, CLOSED, 60) == ""
    digest = rating_links.digest(TOKEN)
    assert len(digest) == 64 and TOKEN not in digest and digest == rating_links.digest(TOKEN)
