"""Whether a mail may act on a case: the table of `mediation.authority.judge` and the
reading of the MTA's Authentication-Results (pure, no database)."""

from __future__ import annotations

import pytest

from mediation.addresses import Role
from mediation.authority import (
    CASE_ADDRESS,
    SenderCheck,
    Standing,
    aligned,
    check_sender,
    judge,
)
from mediation.routing import CaseParties

CUSTOMER = "erika@example.org"
MERCHANT = "support@shop.example"
MEDIATOR = "schlichterin@siegel.example"
PARTIES = CaseParties(
    customer=CUSTOMER,
    merchant_addresses=(MERCHANT,),
    merchant_domains=("shop.example",),
    mediator=MEDIATOR,
    mediators=(MEDIATOR,),
)
PASSED = SenderCheck(True, "dkim=pass for shop.example")
FAILED = SenderCheck(False, "dkim=fail (shop.example)")

# via, role of the address, sender, automatic, sender check -> standing, role
TABLE = [
    # The signed case address from the role's party: the only way to act.
    (CASE_ADDRESS, Role.CUSTOMER, CUSTOMER, None, None, Standing.ACTS, Role.CUSTOMER),
    (CASE_ADDRESS, Role.MERCHANT, MERCHANT, None, None, Standing.ACTS, Role.MERCHANT),
    (CASE_ADDRESS, Role.MERCHANT, "billing@shop.example", None, None, Standing.ACTS, Role.MERCHANT),
    (CASE_ADDRESS, Role.MEDIATOR, MEDIATOR, None, None, Standing.ACTS, Role.MEDIATOR),
    (CASE_ADDRESS, Role.MERCHANT, MERCHANT, None, PASSED, Standing.ACTS, Role.MERCHANT),
    # A customer is never asked for sender authentication.
    (CASE_ADDRESS, Role.CUSTOMER, CUSTOMER, None, FAILED, Standing.ACTS, Role.CUSTOMER),
    # Another sender at a role's address: not that party (the merchant at the customer's).
    (CASE_ADDRESS, Role.CUSTOMER, MERCHANT, None, None, Standing.NOT_PARTY, None),
    (CASE_ADDRESS, Role.MEDIATOR, "x@evil.example", None, None, Standing.NOT_PARTY, None),
    (
        CASE_ADDRESS,
        Role.MERCHANT,
        "support@shop.example.evil",
        None,
        None,
        Standing.NOT_PARTY,
        None,
    ),
    # Machines are recorded, never act, for any role.
    (
        CASE_ADDRESS,
        Role.CUSTOMER,
        CUSTOMER,
        "out_of_office",
        None,
        Standing.AUTOMATIC,
        Role.CUSTOMER,
    ),
    (
        CASE_ADDRESS,
        Role.MERCHANT,
        MERCHANT,
        "ticket_ack",
        PASSED,
        Standing.AUTOMATIC,
        Role.MERCHANT,
    ),
    (
        CASE_ADDRESS,
        Role.MEDIATOR,
        MEDIATOR,
        "auto-submitted",
        None,
        Standing.AUTOMATIC,
        Role.MEDIATOR,
    ),
    # Unauthenticated merchants and mediators are held.
    (CASE_ADDRESS, Role.MERCHANT, MERCHANT, None, FAILED, Standing.UNAUTHENTICATED, Role.MERCHANT),
    (CASE_ADDRESS, Role.MEDIATOR, MEDIATOR, None, FAILED, Standing.UNAUTHENTICATED, Role.MEDIATOR),
    # Threading headers and subject references only attach evidence, whoever sends.
    ("threading", None, CUSTOMER, None, None, Standing.EVIDENCE, Role.CUSTOMER),
    ("subject", None, MERCHANT, None, PASSED, Standing.EVIDENCE, Role.MERCHANT),
    ("subject", None, MEDIATOR, None, None, Standing.EVIDENCE, Role.MEDIATOR),
    ("threading", None, "stranger@example.net", None, None, Standing.NOT_PARTY, None),
    ("subject", None, None, None, None, Standing.NOT_PARTY, None),
]


@pytest.mark.parametrize(
    "via, address_role, sender, automatic, sender_check, standing, role", TABLE
)
def test_only_a_person_of_the_role_at_its_signed_address_acts(
    via: str,
    address_role: Role | None,
    sender: str | None,
    automatic: str | None,
    sender_check: SenderCheck | None,
    standing: Standing,
    role: Role | None,
) -> None:
    """Every row of the authority table: acting needs the signed address, the party, a
    person and, for merchants and mediators where configured, an authenticated domain."""
    verdict = judge(
        via=via,
        address_role=address_role,
        sender=sender,
        parties=PARTIES,
        automatic=automatic,
        sender_check=sender_check,
    )
    assert (verdict.standing, verdict.role) == (standing, role)
    assert verdict.acts is (standing is Standing.ACTS)
    assert verdict.detail


@pytest.mark.parametrize(
    "headers, authenticated",
    [
        (["mx.siegel.example; dkim=pass header.d=shop.example header.s=s1"], True),
        (["mx.siegel.example; dkim=pass header.i=@mail.shop.example"], True),
        (["mx.siegel.example; spf=pass smtp.mailfrom=bounces@shop.example"], True),
        (["mx.siegel.example; dmarc=pass (p=reject) header.from=shop.example"], True),
        # Several headers of our MTA (one per milter): any aligned pass counts.
        (
            ["mx.siegel.example; spf=none", "mx.siegel.example; dkim=pass header.d=shop.example"],
            True,
        ),
        # Folded over several lines, as MTAs write it.
        (["mx.siegel.example;\r\n\tdkim=pass header.d=shop.example;\r\n\tspf=neutral"], True),
        ([], False),
        (["mx.siegel.example; none"], False),
        (["mx.siegel.example; dkim=fail header.d=shop.example"], False),
        (["mx.siegel.example; dkim=pass header.d=mailer.example"], False),
        (["mx.siegel.example; spf=pass smtp.mailfrom=bounce@esp.example"], False),
        (["mx.siegel.example; dmarc=fail header.from=shop.example"], False),
        # Written by someone else (the sender itself): ignored, also in another case.
        (["mx.evil.example; dkim=pass header.d=shop.example"], False),
        (["MX.SIEGEL.EXAMPLE; dkim=pass header.d=shop.example"], False),
        # A HELO name passing SPF says nothing of the From domain (RFC 7489 aligns MAIL FROM).
        (["mx.siegel.example; spf=pass smtp.helo=shop.example"], False),
        (["not a header at all ((("], False),
    ],
)
def test_the_sender_check_trusts_only_aligned_passes_under_our_authserv_id(
    headers: list[str], authenticated: bool
) -> None:
    """Only results written under the configured authserv-id count, and only a pass for
    a domain aligned with the From domain authenticates the sender."""
    found = check_sender(headers, "mx.siegel.example", "support@shop.example")
    assert found.authenticated is authenticated, found.detail
    assert found.detail


def test_only_a_dmarc_fail_of_the_from_domain_refutes_a_sender() -> None:
    """A customer need not be authenticated; DMARC failing for its From domain says the
    mail is not from there (then even a customer's mail does not act)."""
    header = "mx.siegel.example; dkim=none; spf=none; dmarc={} header.from={}"
    for outcome, domain, refuted in [
        ("fail", "example.org", True),
        ("none", "example.org", False),
        ("fail", "other.example", False),
    ]:
        found = check_sender([header.format(outcome, domain)], "mx.siegel.example", CUSTOMER)
        assert (found.authenticated, found.refuted) == (False, refuted), found.detail
    verdict = judge(
        via=CASE_ADDRESS, address_role=Role.CUSTOMER, sender=CUSTOMER, parties=PARTIES,
        automatic=None, sender_check=SenderCheck(False, "dmarc=fail", refuted=True),
    )  # fmt: skip
    assert verdict.standing is Standing.UNAUTHENTICATED


@pytest.mark.parametrize(
    "domain, from_domain, expected",
    [
        ("shop.example", "shop.example", True),
        ("SHOP.example.", "shop.example", True),
        ("mail.shop.example", "shop.example", True),
        ("shop.example", "eu.shop.example", True),
        ("example", "shop.example", False),
        ("myshop.example", "shop.example", False),
        ("shop.example.evil", "shop.example", False),
        ("", "shop.example", False),
    ],
)
def test_alignment_is_relaxed_but_never_a_bare_suffix(
    domain: str, from_domain: str, expected: bool
) -> None:
    """Relaxed alignment: the same domain or a subdomain at a label boundary, never a
    single-label parent nor a look-alike."""
    assert aligned(domain, from_domain) is expected
