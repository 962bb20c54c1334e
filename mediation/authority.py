"""Whether a mail may act on a case: the one place that decides.

Every figure the seal publishes is computed from what mail did to cases, and the merchant
is the party with most to gain from a forged act, so a mail acts for a role only when
all of these hold:

1. **Signed address.** It was delivered to that role's case address, whose HMAC token
   binds one case and one role (`mediation.addresses`). A mail that found its case only
   by its threading headers or the ``[SSG-…]`` subject reference is attached to the case
   as evidence for the operator and never acts: both are written by whoever sends it.
2. **Party.** Its From is that role's party (`routing.belongs`): the customer's address,
   the merchant's registered addresses or domains, the assigned mediator.
3. **Authenticated sender.** Where the MTA in front of us writes Authentication-Results
   (RFC 8601) under a configured authserv-id, a merchant's or mediator's mail acts only
   when DKIM, SPF or DMARC passed for a domain aligned with its From domain (RFC 7489
   §3.1, relaxed). Headers under any other authserv-id are the sender's own text.
4. **A person.** No header rule (`classifier.machine`) and no text rule or model
   (`classifier.autoreply`) found it automatic: out-of-office notes, ticket
   acknowledgements and bounces are recorded on the case and never stop a clock.

What a mail *says* is read only from its new text (the classifier's reply reader), so a
quoted command or a forwarded rating never acts either; that rule lives with the reader.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import authres

from mediation.addresses import Role
from mediation.routing import CaseParties, belongs, role_of

CASE_ADDRESS = "case-address"
"""The `via` of a mail delivered to a signed case address (see `routing.CaseCandidate`)."""

AUTHENTICATED_ROLES = (Role.MERCHANT, Role.MEDIATOR)
"""Roles whose mail must pass the MTA's sender authentication where it is configured.
A customer writes from any mailbox provider, authenticated or not; only a From that its
domain's DMARC check refutes does not act (`SenderCheck.refuted`): its case address may
have reached the shop (a Cc, a forward), and a forged "gelöst" or rating from the shop
would count as the customer's."""

MAX_RESULTS_HEADERS = 20
"""Authentication-Results headers read per mail; more is not what an MTA writes."""


class Standing(enum.StrEnum):
    """What a mail routed to a case may do there."""

    ACTS = "acts"
    EVIDENCE = "evidence"
    """From a party, but not to its case address: attached for the operator."""
    NOT_PARTY = "not-party"
    UNAUTHENTICATED = "unauthenticated"
    AUTOMATIC = "automatic"


@dataclass(frozen=True)
class Authority:
    """The verdict on one mail for one case: its standing, the role it wrote as (when
    its sender has one in the case) and why, for the event log and `siegel held`."""

    standing: Standing
    role: Role | None
    detail: str

    @property
    def acts(self) -> bool:
        return self.standing is Standing.ACTS


@dataclass(frozen=True)
class SenderCheck:
    """What the MTA's Authentication-Results say of the From domain."""

    authenticated: bool
    detail: str
    refuted: bool = False
    """DMARC failed for the From domain: that domain's owner says the mail is not its."""


def judge(
    *,
    via: str,
    address_role: Role | None,
    sender: str | None,
    parties: CaseParties,
    automatic: str | None,
    sender_check: SenderCheck | None,
) -> Authority:
    """Whether a mail routed to a case by `via` may act there.

    `address_role` is the role named by the signed case address (None unless `via` is
    the case address); `automatic` names why the mail is automatic (None for a person);
    `sender_check` is None where no authserv-id is configured (nothing to check against).
    """
    if via != CASE_ADDRESS:
        role = role_of(sender, parties)
        if role is None:
            return Authority(Standing.NOT_PARTY, None, f"{sender} is no party of the case ({via})")
        return Authority(
            Standing.EVIDENCE,
            role,
            f"from the {role}, found by {via}, not sent to its case address: attached as evidence",
        )
    assert address_role is not None
    if not belongs(sender, address_role, parties):
        return Authority(
            Standing.NOT_PARTY, None, f"{sender} is not the {address_role} of the case ({via})"
        )
    if automatic:
        return Authority(Standing.AUTOMATIC, address_role, f"automatic mail ({automatic})")
    if (
        sender_check
        and not sender_check.authenticated
        and (address_role in AUTHENTICATED_ROLES or sender_check.refuted)
    ):
        return Authority(
            Standing.UNAUTHENTICATED,
            address_role,
            f"sender not authenticated: {sender_check.detail}",
        )
    return Authority(Standing.ACTS, address_role, f"from the {address_role} via {via}")


# ------------------------------------------------------------------ authentication


def check_sender(header_values: Sequence[str], authserv_id: str, from_address: str) -> SenderCheck:
    """Read the Authentication-Results headers that `authserv_id` wrote for this mail.

    The MTA must remove headers bearing its own authserv-id from incoming mail (RFC 8601
    §5; Postfix with OpenDMARC, rspamd and Exim do): then every header under that id is
    its own, and all others are ignored. One aligned pass of DKIM, SPF or DMARC suffices.
    """
    from_domain = _domain_of(from_address)
    ours = []
    for value in header_values[:MAX_RESULTS_HEADERS]:
        try:
            header = authres.AuthenticationResultsHeader.parse_value(" ".join(value.split()))
        except authres.AuthResError:
            continue
        # authres lower-cases the id; ours must also stand as written, since an MTA
        # strips forged copies of its id as it writes it, perhaps not in other cases.
        written = authserv_id in value.partition(";")[0].split()
        if written and str(header.authserv_id) == authserv_id.lower():
            ours.append(header)
    if not ours:
        return SenderCheck(False, f"no Authentication-Results from {authserv_id}")
    seen, refuted = [], False
    for header in ours:
        for result in header.results:
            method, outcome = str(result.method).lower(), str(result.result).lower()
            domain = _checked_domain(method, result.properties)
            seen.append(f"{method}={outcome}" + (f" ({domain})" if domain else ""))
            if outcome == "pass" and domain and aligned(domain, from_domain):
                return SenderCheck(True, f"{method}=pass for {domain}")
            refuted |= method == "dmarc" and outcome == "fail" and domain == from_domain
    summary = ", ".join(seen) if seen else "no results"
    return SenderCheck(False, f"nothing passed aligned with {from_domain}: {summary}", refuted)


def _checked_domain(
    method: str, properties: Sequence[authres.core.AuthenticationResultProperty]
) -> str:
    """The domain a method's result speaks for: DKIM's signing domain (header.d, else
    the domain of header.i), SPF's envelope domain (not the HELO name, which DMARC never
    aligns), DMARC's From domain."""
    wanted = {
        "dkim": (("header", "d"), ("header", "i")),
        "spf": (("smtp", "mailfrom"),),
        "dmarc": (("header", "from"),),
    }.get(method, ())
    values = {(str(p.type).lower(), str(p.name).lower()): str(p.value) for p in properties}
    for key in wanted:
        if values.get(key):
            return _domain_of(values[key])
    return ""


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489 §3.1) without a public-suffix list: the same domain,
    or one a subdomain of the other when the shorter has at least two labels."""
    domain, from_domain = domain.lower().rstrip("."), from_domain.lower().rstrip(".")
    if not domain or not from_domain:
        return False
    if domain == from_domain:
        return True
    shorter, longer = sorted((domain, from_domain), key=len)
    return shorter.count(".") >= 1 and longer.endswith("." + shorter)


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().lower().rstrip(".")
