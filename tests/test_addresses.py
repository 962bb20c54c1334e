"""The address scheme: every address we hand out decodes to what it names, nothing else does."""

from __future__ import annotations

import pytest

from mediation import addresses
from mediation.addresses import AddressError, Kind, Role

SECRET = b"address-test-secret-0123456789"
DOMAIN = "siegel.example"
REF = "SSG-2026-000123"


def parse(address: str, secret: bytes = SECRET) -> addresses.Recipient:
    return addresses.parse_recipient(secret, DOMAIN, address)


@pytest.mark.parametrize("role", list(Role))
def test_case_address_round_trip_per_role(role: Role) -> None:
    """A case address decodes to its case and its role."""
    address = addresses.case_address(SECRET, DOMAIN, REF, role)
    recipient = parse(address)
    assert (recipient.kind, recipient.case_ref, recipient.role) == (Kind.CASE, REF, role)


def test_case_address_is_bound_to_its_case_and_role() -> None:
    """A token copied onto another case or another role is refused."""
    merchant = addresses.case_address(SECRET, DOMAIN, REF, Role.MERCHANT)
    local, _, _ = merchant.partition("@")
    _, ref, role, token = local.replace("+", ".").split(".")
    for forged in (
        f"fall+ssg-2026-000124.{role}.{token}@{DOMAIN}",
        f"fall+{ref}.mediator.{token}@{DOMAIN}",
        f"fall+{ref}.customer.{token}@{DOMAIN}",
    ):
        with pytest.raises(AddressError, match="invalid token"):
            parse(forged)


def test_another_secret_makes_every_token_invalid() -> None:
    """Tokens are keyed: an address minted with another secret is refused."""
    foreign = addresses.case_address(b"another-secret-0123456789", DOMAIN, REF, Role.CUSTOMER)
    with pytest.raises(AddressError):
        parse(foreign)


def test_separators_and_case_are_forgiven() -> None:
    """`+` or `.` separators and upper case (some MTAs fold case) decode the same."""
    address = addresses.case_address(SECRET, DOMAIN, REF, Role.MEDIATOR)
    dotted = address.replace("+", ".", 1)
    for variant in (address, dotted, address.upper(), f"<{address}>", f" {address} "):
        assert parse(variant).role is Role.MEDIATOR


def test_token_fits_a_local_part() -> None:
    """The longest case address stays within RFC 5321's 64-octet local part."""
    address = addresses.case_address(SECRET, DOMAIN, "SSG-9999-999999", Role.MERCHANT)
    assert len(address.partition("@")[0]) <= 64


def test_bounce_address_round_trip_and_forgery() -> None:
    """A VERP address names its outbox row; a changed row id breaks the token."""
    address = addresses.bounce_address(SECRET, DOMAIN, 4711)
    assert parse(address).outbox_id == 4711
    with pytest.raises(AddressError):
        parse(address.replace("4711", "4712"))


@pytest.mark.parametrize(
    ("address", "slug"),
    [
        ("beschwerde@siegel.example", None),
        ("complaints@siegel.example", None),
        ("Beschwerde@SIEGEL.example", None),
        ("beschwerde+moebel-fuchs@siegel.example", "moebel-fuchs"),
        ("beschwerde.technest@siegel.example", "technest"),
        ("complaints+shop42@siegel.example", "shop42"),
    ],
)
def test_complaint_addresses(address: str, slug: str | None) -> None:
    """Complaint addresses, with or without a merchant slug."""
    recipient = parse(address)
    assert (recipient.kind, recipient.merchant_slug) == (Kind.COMPLAINT, slug)


@pytest.mark.parametrize(
    ("address", "slug"),
    [
        ("lob@siegel.example", None),
        ("Praise@siegel.example", None),
        ("lob+moebel-fuchs@siegel.example", "moebel-fuchs"),
        ("praise.technest@siegel.example", "technest"),
    ],
)
def test_lob_und_tadel_addresses(address: str, slug: str | None) -> None:
    """lob@ and praise@ take Lob & Tadel, with or without a merchant slug."""
    recipient = parse(address)
    assert (recipient.kind, recipient.merchant_slug) == (Kind.PRAISE, slug)


def test_feedback_address_round_trip_and_forgery() -> None:
    """A Lob & Tadel entry's reply address names the entry; another id or secret breaks
    it, and it is never read as a merchant slug."""
    address = addresses.feedback_address(SECRET, DOMAIN, 42)
    recipient = parse(address)
    assert (recipient.kind, recipient.feedback_id) == (Kind.FEEDBACK, 42)
    for forged in (
        address.replace("+42.", "+43."),
        addresses.feedback_address(b"x" * 32, DOMAIN, 42),
    ):
        with pytest.raises(AddressError):
            parse(forged)
    assert "<token>" in addresses.redact(address)


@pytest.mark.parametrize("local", ["postmaster", "abuse", "service"])
def test_operator_addresses_are_accepted(local: str) -> None:
    """postmaster (RFC 5321), abuse (RFC 2142) and our From address reach the operator."""
    assert parse(f"{local}@{DOMAIN}").kind is Kind.OPERATOR


@pytest.mark.parametrize(
    ("address", "foreign"),
    [
        ("beschwerde@other.example", True),
        ("beschwerde@siegel.example.evil", True),
        ("nobody@siegel.example", False),
        ("beschwerde+-bad-@siegel.example", False),
        ("fall+ssg-2026-000123.merchant@siegel.example", False),
        ("fall+ssg-2026-000123.owner.aaaaaaaaaaaaaaaa@siegel.example", False),
        ("bounce+12@siegel.example", False),
        ("no-at-sign", False),
        ("", False),
    ],
)
def test_everything_else_is_refused(address: str, foreign: bool) -> None:
    """Foreign domains and unknown local parts are errors, telling which of the two."""
    with pytest.raises(AddressError) as refused:
        parse(address)
    assert refused.value.foreign is foreign


def test_redact_hides_tokens_in_logs() -> None:
    """`redact` removes case and bounce tokens from any text, keeping the rest readable."""
    case = addresses.case_address(SECRET, DOMAIN, REF, Role.MERCHANT)
    bounce = addresses.bounce_address(SECRET, DOMAIN, 9)
    token = case.partition("@")[0].rsplit(".", 1)[1]
    text = addresses.redact(f"refused {case} and <{bounce}>")
    assert token not in text
    assert "fall+ssg-2026-000123.merchant.<token>@siegel.example" in text
    assert "bounce+9.<token>@siegel.example" in text


def test_redact_keeps_names_that_are_no_token() -> None:
    """A black-box run read "sqlite3.<token>: database is locked": a class name after a
    dot is no token. A token after a separator is hidden in either letter case."""
    assert addresses.redact("sqlite3.OperationalError: database is locked") == (
        "sqlite3.OperationalError: database is locked"
    )
    for seen in (
        "x.abcdefghijklmnop", "x+ABCDEFGHIJKLMNOP", "x.a2b3c4d5e6f7g2h3",
        "x.k3xq2mzt7HBVW4PA", "x.k3xq2mzt7hbvw4paRe",  # letter case changed or added
    ):  # fmt: skip
        assert addresses.redact(seen) == seen[:2] + "<token>"


@pytest.mark.parametrize(
    "typed", ["{token}x", "{token}8", "{token}-x", "x{token}", "{token}{token}"]
)
def test_redact_hides_a_token_with_characters_added(typed: str) -> None:
    """A mistyped or probing address (the real token with characters around it) never
    shows the real token either."""
    case = addresses.case_address(SECRET, DOMAIN, REF, Role.CUSTOMER)
    token = case.partition("@")[0].rsplit(".", 1)[1]
    probed = case.replace(token, typed.format(token=token))
    text = addresses.redact(f"refused recipient {probed}: no such address")
    assert token not in text
    assert "fall+ssg-2026-000123.customer.<token>@siegel.example" in text


def test_tokens_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Verification goes through hmac.compare_digest, not ==."""
    calls = []
    real = addresses.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(addresses.hmac, "compare_digest", spy)
    parse(addresses.case_address(SECRET, DOMAIN, REF, Role.CUSTOMER))
    assert len(calls) == 1
