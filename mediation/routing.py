"""Routing: which merchant a complaint is about, and which case and role a reply is for.

Pure functions over plain values; `mediation.loading` and the entry (`case_service`) feed them
what they loaded.

A complaint names its merchant by the complaint address (``beschwerde+SLUG@``), else
the merchant is found in the mail by an ordered list of rules: the merchant's
order-number pattern, one of its domains, its registered name. Each rule narrows the
candidates; a rule that finds exactly one merchant decides, and a mail that stays
ambiguous names none (the customer is asked).

A reply belongs to a case by the case address it was sent to; when a client dropped
the Reply-To, by the threading headers (RFC 5322 §3.6.4: `In-Reply-To`/`References`
naming one of our own mails about the case) and then by the ``[SSG-…]`` reference in
the subject. Whatever the way, the sender must belong to the role it acts for: the
merchant's registered addresses or domains, the case's customer, the assigned mediator.
The From header is what is checked; it is not authenticated here (no DKIM/SPF).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from mediation.addresses import Role

MAX_SCAN_CHARS = 20_000
"""Only the start of a complaint is searched: bounded time for operator-made patterns."""

_SUBJECT_REF = re.compile(r"\b(SSG-\d{4}-\d{6})\b", re.IGNORECASE)
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@dataclass(frozen=True)
class MerchantProfile:
    """What routing knows of a registered merchant."""

    slug: str
    name: str
    support_addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    order_pattern: str | None = None


@dataclass(frozen=True)
class MerchantMatch:
    """The merchant a complaint is about, and the rule that found it."""

    slug: str
    rule: str  # "complaint-address", "order-number", "domain" or "name"
    detail: str


@dataclass(frozen=True)
class CaseParties:
    """Who may act in a case, for the sender check."""

    customer: str
    merchant_addresses: tuple[str, ...] = ()
    merchant_domains: tuple[str, ...] = ()
    mediator: str | None = None
    mediators: tuple[str, ...] = ()
    """The configured mediators: an assigned mediator no longer listed acts no more."""


@dataclass(frozen=True)
class CaseCandidate:
    """A case a reply may belong to; `role` is known only from a case address."""

    ref: str
    via: str  # "case-address", "threading" or "subject"
    role: Role | None = None


# ------------------------------------------------------------------ merchants


def find_merchant(
    subject: str,
    text: str,
    merchants: Sequence[MerchantProfile],
    named_slug: str | None = None,
) -> MerchantMatch | None:
    """The merchant a complaint is about, or None when none or several fit."""
    if named_slug is not None:
        for merchant in merchants:
            if merchant.slug == named_slug.lower():
                return MerchantMatch(merchant.slug, "complaint-address", f"beschwerde+{named_slug}")
    scanned = _Scanned(f"{subject}\n{text}"[:MAX_SCAN_CHARS])
    candidates = list(merchants)
    for rule, test in (
        ("order-number", _order_number),
        ("domain", _domain),
        ("name", _name),
    ):
        hits = [(m, found) for m in candidates if (found := test(m, scanned)) is not None]
        if len(hits) == 1:
            merchant, found = hits[0]
            return MerchantMatch(merchant.slug, rule, found)
        if hits:
            candidates = [merchant for merchant, _ in hits]
    return None  # none fits, or several fit every rule that fired


class _Scanned:
    """The searched text in the forms the rules read, each made once per complaint
    rather than once per registered merchant."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def lowered(self) -> str:
        return self.text.lower()

    @cached_property
    def folded(self) -> str:
        return _fold(self.text)


def _order_number(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    pattern = _order_pattern(merchant.order_pattern) if merchant.order_pattern else None
    match = pattern.search(scanned.text) if pattern else None
    return match.group(0) if match else None


def _domain(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    for domain in merchant.domains:
        if _domain_pattern(domain.lower()).search(scanned.lowered):
            return domain
    return None


def _name(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    pattern = _name_pattern(merchant.name)
    return merchant.name if pattern and pattern.search(scanned.folded) else None


# Compiled once per merchant value (the process's merchants, edits included, fit).
@lru_cache(maxsize=4096)
def _order_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


@lru_cache(maxsize=4096)
def _domain_pattern(domain: str) -> re.Pattern[str]:
    # The domain as a whole name: "shop.example" in "www.shop.example/x" or
    # "info@shop.example", not in "myshop.example" or "shop.example.org".
    return re.compile(rf"(?<![\w-])(?:[\w-]+\.)*{re.escape(domain)}(?![\w-]|\.[a-z])")


@lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str] | None:
    words = _fold(name).split()
    if not words:
        return None
    return re.compile(r"(?<!\w)" + r"[\s-]+".join(re.escape(word) for word in words) + r"(?!\w)")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)


# ------------------------------------------------------------------ replies


def subject_refs(subject: str) -> list[str]:
    """Case references in a subject, in order, upper-cased and without repeats."""
    return list(dict.fromkeys(ref.upper() for ref in _SUBJECT_REF.findall(subject or "")))


def case_candidates(
    case_address: tuple[str, Role] | None,
    thread_refs: Iterable[str],
    subject: str,
) -> list[CaseCandidate]:
    """The cases a reply may belong to, strongest evidence first.

    `case_address` is the (ref, role) of the case address the mail was delivered to;
    `thread_refs` the case references of our own mails that its threading headers name.
    """
    found: list[CaseCandidate] = []
    if case_address is not None:
        ref, role = case_address
        found.append(CaseCandidate(ref.upper(), "case-address", role))
    for ref in thread_refs:
        found.append(CaseCandidate(ref.upper(), "threading"))
    for ref in subject_refs(subject):
        found.append(CaseCandidate(ref, "subject"))
    unique: dict[str, CaseCandidate] = {}
    for candidate in found:
        unique.setdefault(candidate.ref, candidate)
    return list(unique.values())


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower().rstrip(".")


def belongs(sender: str | None, role: Role, parties: CaseParties) -> bool:
    """Whether `sender` may act for `role` in the case of `parties`."""
    if not sender:
        return False
    sender = sender.strip().lower()
    match role:
        case Role.CUSTOMER:
            return sender == parties.customer.lower()
        case Role.MEDIATOR:
            mediators = {m.lower() for m in parties.mediators}
            return (
                parties.mediator is not None
                and sender == parties.mediator.lower()
                and (sender in mediators)
            )
        case Role.MERCHANT:
            if sender in {a.lower() for a in parties.merchant_addresses}:
                return True
            domain = _domain_of(sender)
            # The registered domain or a subdomain of it (mail.shop.example).
            return any(
                domain == d.lower() or domain.endswith("." + d.lower())
                for d in parties.merchant_domains
            )
    return False


def role_of(sender: str | None, parties: CaseParties) -> Role | None:
    """The role `sender` has in a case: exact addresses first, then merchant domains."""
    for role in (Role.CUSTOMER, Role.MEDIATOR, Role.MERCHANT):
        if belongs(sender, role, parties):
            return role
    return None
