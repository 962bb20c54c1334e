"""Routing: which merchant a complaint is about, and which case and role a reply is for.

Pure functions over plain values; `mediation.loading` and the entry (`case_service`) feed them
what they loaded.

A complaint names its merchant by the complaint address (``beschwerde+SLUG@``), else
the merchant is found in the mail by an ordered list of rules: the merchant's
order-number pattern, one of its domains, its registered name or one of the other
names the operator registered for it (its aliases), then a variant of the name made
here (`name_variants`: without the legal form, without trailing digits, the domain's
first label). Each rule narrows the candidates; a rule that finds exactly one merchant
decides, and a mail that stays ambiguous names none (the customer is asked). Another
shop that any rule finds besides the one decided is named too (`MerchantMatch.also`):
one case is about one shop, and the customer is asked to write apart about it. Names
match folded (case, umlauts) as whole words, never as the start of a longer name.

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
_SUBJECT_TAG = re.compile(r"\[SSG-\d{4}-\d{6}\]", re.IGNORECASE)
_WORD = re.compile(r"\w+")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})


@dataclass(frozen=True)
class MerchantProfile:
    """What routing knows of a registered merchant."""

    slug: str
    name: str
    support_addresses: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    order_pattern: str | None = None
    name_aliases: tuple[str, ...] = ()
    """Other names customers use for the shop, registered by the operator."""


@dataclass(frozen=True)
class MerchantMatch:
    """The merchant a complaint is about, and the rule that found it."""

    slug: str
    rule: str  # "complaint-address", "order-number", "domain", "name" or "name-variant"
    detail: str
    also: tuple[str, ...] = ()
    """The other registered merchants the complaint names too (any rule finds them): the
    case is about `slug` alone, and the customer is told to complain about them apart."""


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
    findings = _findings(f"{subject}\n{text}", merchants)
    if named_slug is not None:
        for merchant in merchants:
            if merchant.slug == named_slug.lower():
                also = _also_named(merchant.slug, findings)
                detail = f"beschwerde+{named_slug}"
                return MerchantMatch(merchant.slug, "complaint-address", detail, also)
    candidates = list(merchants)
    for rule, _ in _RULES:
        hits = [m for m in candidates if rule in findings[m.slug]]
        if len(hits) == 1:
            [merchant] = hits
            found = findings[merchant.slug][rule]
            return MerchantMatch(merchant.slug, rule, found, _also_named(merchant.slug, findings))
        if hits:
            candidates = hits
    return None  # none fits, or several fit every rule that fired


def merchants_named(
    subject: str, text: str, merchants: Sequence[MerchantProfile]
) -> tuple[str, ...]:
    """Every merchant some rule finds in a complaint, in the order of `merchants`: where
    several are and none decides (`find_merchant` is None), the customer asked which one
    is also told that one case is about one shop."""
    return tuple(
        slug for slug, found in _findings(f"{subject}\n{text}", merchants).items() if found
    )


def _findings(text: str, merchants: Sequence[MerchantProfile]) -> dict[str, dict[str, str]]:
    """What each rule finds for each merchant in `text`: slug -> rule -> the words found.
    Every rule is tried on every merchant once: the one decided and the others named."""
    scanned = _Scanned(text[:MAX_SCAN_CHARS])
    return {
        merchant.slug: {
            rule: found for rule, test in _RULES if (found := test(merchant, scanned)) is not None
        }
        for merchant in merchants
    }


def _also_named(chosen: str, findings: dict[str, dict[str, str]]) -> tuple[str, ...]:
    """The merchants besides `chosen` that any rule finds in the complaint ("bei
    Gartenwelt ... und bei Bohnenglück ..."): an earlier rule decides on one, and a later
    one would have found the other. What a rule finds for `chosen` too (an order number
    both shops' patterns fit) names no other shop."""
    chosen_words = set(findings.get(chosen, {}).values())
    return tuple(
        slug
        for slug, found in findings.items()
        if slug != chosen and set(found.values()) - chosen_words
    )


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

    @cached_property
    def words(self) -> frozenset[str]:
        """The folded text's words: a name none of whose words is missing is searched."""
        return frozenset(_WORD.findall(self.folded))


def _order_number(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    pattern = _order_pattern(merchant.order_pattern) if merchant.order_pattern else None
    match = pattern.search(scanned.text) if pattern else None
    return match.group(0) if match else None


def _domain(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    for domain in merchant.domains:
        lowered = domain.lower()
        # Searched only where it is written at all: most merchants' domains are not.
        if lowered in scanned.lowered and _domain_pattern(lowered).search(scanned.lowered):
            return domain
    return None


def _name(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    return _names_pattern((merchant.name, *merchant.name_aliases)).find(scanned)


def _name_variant(merchant: MerchantProfile, scanned: _Scanned) -> str | None:
    variants = _variants_pattern(merchant.name, merchant.name_aliases, merchant.domains)
    return variants.find(scanned)


_RULES = (
    ("order-number", _order_number),
    ("domain", _domain),
    ("name", _name),
    ("name-variant", _name_variant),
)
"""The rules that find a complaint's merchant, in the order they decide."""


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


class _Names:
    """Names as one pattern over folded text: whole words, any run of spaces or dashes
    between them; `find` says which name was found.

    The pattern runs only when every word of one of the names is a word of the text
    (a match needs that), so a complaint costs a set lookup per merchant, not a search.
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names: list[str] = []
        self.words: list[frozenset[str]] = []
        alternatives = []
        for name in names:
            words = _words(name).split()
            if words:
                self.names.append(name)
                self.words.append(frozenset(_WORD.findall(" ".join(words))))
                alternatives.append("(" + r"[\s-]+".join(re.escape(w) for w in words) + ")")
        self.pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")
            if alternatives
            else None
        )

    def find(self, scanned: _Scanned) -> str | None:
        if self.pattern is None or not any(words <= scanned.words for words in self.words):
            return None
        match = self.pattern.search(scanned.folded)
        return self.names[match.lastindex - 1] if match and match.lastindex else None


@lru_cache(maxsize=4096)
def _names_pattern(names: tuple[str, ...]) -> _Names:
    return _Names(names)


@lru_cache(maxsize=4096)
def _variants_pattern(name: str, aliases: tuple[str, ...], domains: tuple[str, ...]) -> _Names:
    return _Names(name_variants(name, aliases, domains))


# ------------------------------------------------------------------ name variants

_LEGAL_FORM = re.compile(
    r"[\s,]+(?:(?:GmbH\s*)?&\s*Co\.?\s*(?:KGaA|KG|OHG)|gGmbH|GmbH|AG|KGaA|KG|OHG|GbR|SE"
    r"|UG(?:\s*\(haftungsbeschränkt\))?|e\.\s*K(?:fm|fr)?\.|e\.\s*V\.|Ltd\.?|Inc\.?|LLC)\s*$",
    re.IGNORECASE,
)
MIN_VARIANT_CHARS = 5
"""A variant of one word needs this many characters: "Shop" of "Shop24" would name
every shop."""
_TRAILING_DIGITS = re.compile(rf"^([^\W\d_]{{{MIN_VARIANT_CHARS},}})[\s-]*\d+$")


def name_variants(
    name: str, aliases: tuple[str, ...] = (), domains: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The names customers write for a merchant besides its registered name and
    aliases, safe against naming another shop or none:

    - the name without its legal form ("Möbel Fuchs GmbH & Co. KG": "Möbel Fuchs"),
      where more than one word or a word of at least five characters remains;
    - without trailing digits where one word of at least five letters remains
      ("TechStore24": "TechStore"; "Shop24" gives nothing);
    - the first label of a domain where it is distinctive: at least five characters
      and a digit in it, or the name's first words run together ("techstore24",
      "moebelfuchs"); a plain word ("schuhe.example") may be any customer's word.

    Never the start of a longer name: "Das Haus Möbel" gives no "Das Haus" (an alias
    does). Returns the variants as written, without the registered names.
    """
    core = name.strip()
    while (stripped := _LEGAL_FORM.sub("", core)) != core:
        core = stripped.strip()
    found = [core]
    if digits := _TRAILING_DIGITS.match(core):
        found.append(digits.group(1))
    words = _fold(core).split()
    run_together = {"".join(words[:count]) for count in range(2, len(words) + 1)}
    for domain in domains:
        labels = domain.lower().split(".")
        label = labels[1] if labels[0] == "www" and len(labels) > 2 else labels[0]
        if len(label) < MIN_VARIANT_CHARS or label.startswith("xn--"):
            continue
        if label in run_together or (
            any(c.isdigit() for c in label) and sum(c.isalpha() for c in label) >= 3
        ):
            found.append(label)
    known = {_words(registered) for registered in (name, *aliases)}
    variants: dict[str, str] = {}
    for variant in found:
        key = _words(variant)
        distinct = key and key not in known and key not in variants
        if distinct and (" " in key or len(variant) >= MIN_VARIANT_CHARS):
            variants[key] = variant
    return tuple(variants.values())


def _words(name: str) -> str:
    """A name as the name patterns see it: folded words, dashes as spaces."""
    return " ".join(_fold(name).replace("-", " ").split())


def _fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold().translate(_UMLAUTS)


# ------------------------------------------------------------------ replies


def sender_subject(subject: str) -> str:
    """The part of a reply's subject that its sender wrote: from our ``[SSG-…]`` tag on
    it is our own notice's subject ("AW: [SSG-2026-000001] Ihre Beschwerde …"), which
    differs from notice to notice and would make the same reply read differently in
    each state of its case."""
    tag = _SUBJECT_TAG.search(subject or "")
    return subject[: tag.start()].rstrip() if tag else subject


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
            return of_merchant(sender, parties.merchant_addresses, parties.merchant_domains)
    return False


def of_merchant(address: str | None, addresses: Iterable[str], domains: Iterable[str]) -> bool:
    """Whether `address` is the merchant's: one of its registered `addresses` (also with
    a +tag added, RFC 5233), or an address at one of its registered `domains` or a
    subdomain of one (mail.shop.example), a domain in Unicode or in its ASCII form
    alike. The domain of a registered address alone says nothing (a support address may
    be at a freemail provider). The one rule for acting as the merchant (`belongs`) and
    for a shop's complaint about itself (`mediation.complaints`, `mediation.figure_store`)."""
    if not address:
        return False
    local, domain = _mailbox(address)
    registered = {_mailbox(a) for a in addresses}
    if (local, domain) in registered or (local.partition("+")[0], domain) in registered:
        return True
    return at_domain(address, domains)


def at_domain(address: str, domains: Iterable[str]) -> bool:
    """Whether `address` is at one of `domains` or a subdomain of one, a domain in
    Unicode or in its ASCII form alike."""
    _, domain = _mailbox(address)
    return any(
        domain == known or domain.endswith("." + known)
        for known in (_ascii_domain(d) for d in domains)
        if known
    )


def _mailbox(address: str) -> tuple[str, str]:
    """Local part and ASCII domain of `address`, lower-cased."""
    local, _, domain = address.strip().lower().rpartition("@")
    return local, _ascii_domain(domain)


def _ascii_domain(domain: str) -> str:
    domain = domain.strip(". ").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain


def role_of(sender: str | None, parties: CaseParties) -> Role | None:
    """The role `sender` has in a case: exact addresses first, then merchant domains."""
    for role in (Role.CUSTOMER, Role.MEDIATOR, Role.MERCHANT):
        if belongs(sender, role, parties):
            return role
    return None


def order_numbers(order_pattern: str | None, text: str) -> set[str]:
    """The order numbers a merchant's pattern finds in (the start of) `text`, as written."""
    pattern = _order_pattern(order_pattern) if order_pattern else None
    if pattern is None:
        return set()
    return {match.group(0) for match in pattern.finditer(text[:MAX_SCAN_CHARS])}
