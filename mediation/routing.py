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
import warnings
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
    return MerchantIndex(merchants).find(subject, text, named_slug)


def merchants_named(
    subject: str, text: str, merchants: Sequence[MerchantProfile]
) -> tuple[str, ...]:
    """Every merchant some rule finds in a complaint, in the order of `merchants`: where
    several are and none decides (`find_merchant` is None), the customer asked which one
    is also told that one case is about one shop."""
    return MerchantIndex(merchants).named(subject, text)


class MerchantIndex:
    """The registered merchants made ready for routing once (patterns compiled, names and
    domains indexed), so that a complaint costs the rules of the merchants it may name,
    not of every registered one: a seal has thousands.

    Only the order-number patterns (the operator's regular expressions) are tried on
    every complaint. A name is searched only where the text has its longest word (a
    match needs every word), a domain only where the text has it as a run of labels
    (``shop.example`` in ``www.shop.example/x``); what those lookups pass is then
    tested by the same rules as ever, so the index decides nothing itself.
    """

    def __init__(self, merchants: Sequence[MerchantProfile]) -> None:
        self.merchants = tuple(_prepared(merchant) for merchant in merchants)
        self._position = {prepared.profile.slug: i for i, prepared in enumerate(self.merchants)}
        self._by_literal: dict[str, list[int]] = {}  # order patterns by their first words
        self._by_word: dict[str, list[int]] = {}
        self._by_domain: dict[str, list[int]] = {}
        self._always: list[int] = []  # domains the label lookup cannot vouch for
        self._max_labels = 1
        for position, prepared in enumerate(self.merchants):
            if prepared.order is not None:
                literal = _literal_start(prepared.order.pattern)
                if literal:
                    self._by_literal.setdefault(literal, []).append(position)
                else:
                    self._always.append(position)
            for words in (*prepared.names.words, *prepared.variants.words):
                if words:
                    self._by_word.setdefault(max(sorted(words), key=len), []).append(position)
                else:  # a name of no word ("★★★"): its pattern alone can tell
                    self._always.append(position)
            for domain in prepared.domains:
                labels = domain.split(".")
                if "." in domain and all(_LABEL.fullmatch(label) for label in labels):
                    self._by_domain.setdefault(domain, []).append(position)
                    self._max_labels = max(self._max_labels, len(labels))
                else:
                    self._always.append(position)

    def find(self, subject: str, text: str, named_slug: str | None = None) -> MerchantMatch | None:
        """The merchant a complaint is about, or None when none or several fit."""
        findings = self._findings(f"{subject}\n{text}")
        if named_slug is not None and named_slug.lower() in self._position:
            slug = named_slug.lower()
            detail = f"beschwerde+{named_slug}"
            return MerchantMatch(slug, "complaint-address", detail, _also_named(slug, findings))
        candidates: set[str] | None = None  # every merchant
        for rule in RULE_NAMES:
            hits = [
                slug
                for slug, found in findings.items()
                if _new_evidence(found, rule) and (candidates is None or slug in candidates)
            ]
            if len(hits) == 1:
                [slug] = hits
                found = findings[slug][rule]
                return MerchantMatch(slug, rule, found, _also_named(slug, findings))
            if hits:
                candidates = set(hits)
        return None  # none fits, or several fit every rule that fired

    def names_of(self, slugs: Iterable[str]) -> tuple[str, ...]:
        """The registered names of the merchants `slugs`, in the merchants' order."""
        positions = sorted(self._position[slug] for slug in set(slugs) if slug in self._position)
        return tuple(self.merchants[position].profile.name for position in positions)

    def named(self, subject: str, text: str) -> tuple[str, ...]:
        """Every merchant some rule finds in a complaint, in the merchants' order."""
        return tuple(self._findings(f"{subject}\n{text}"))

    def _findings(self, text: str) -> dict[str, dict[str, str]]:
        """What the rules find in `text`, for the merchants they find anything for, in
        the merchants' order: slug -> rule -> the words found."""
        scanned = _Scanned(text[:MAX_SCAN_CHARS])
        positions = set(self._always)
        for literal, holders in self._by_literal.items():
            if literal in scanned.text:
                positions.update(holders)
        for word in scanned.words:
            positions.update(self._by_word.get(word, ()))
        if self._by_domain:
            for host in _HOST.findall(scanned.lowered):
                labels = host.split(".")
                for first in range(len(labels) - 1):
                    for last in range(first + 2, min(len(labels), first + self._max_labels) + 1):
                        positions.update(self._by_domain.get(".".join(labels[first:last]), ()))
        findings = {}
        for position in sorted(positions):
            prepared = self.merchants[position]
            if found := prepared.findings(scanned):
                findings[prepared.profile.slug] = found
        return findings


class _Prepared:
    """One merchant's rules, compiled."""

    def __init__(self, profile: MerchantProfile) -> None:
        self.profile = profile
        self.order = _order_pattern(profile.order_pattern) if profile.order_pattern else None
        self.domains = tuple(dict.fromkeys(domain.lower() for domain in profile.domains))
        self._domain_patterns = [_domain_pattern(domain) for domain in self.domains]
        self.names = _Names((profile.name, *profile.name_aliases))
        self.variants = _Names(name_variants(profile.name, profile.name_aliases, profile.domains))

    def findings(self, scanned: _Scanned) -> dict[str, str]:
        """Rule -> the words it found, for every rule that finds this merchant."""
        found = {}
        if self.order is not None and (match := self.order.search(scanned.text)):
            found["order-number"] = match.group(0)
        for domain, pattern in zip(self.domains, self._domain_patterns, strict=True):
            # Searched only where it is written at all: most merchants' domains are not.
            if domain in scanned.lowered and pattern.search(scanned.lowered):
                found["domain"] = self._as_registered(domain)
                break
        if name := self.names.find(scanned):
            found["name"] = name
        if variant := self.variants.find(scanned):
            found["name-variant"] = variant
        return found

    def _as_registered(self, domain: str) -> str:
        return next(d for d in self.profile.domains if d.lower() == domain)


@lru_cache(maxsize=65536)
def _prepared(merchant: MerchantProfile) -> _Prepared:
    """A merchant's rules compiled once while its profile stays the same (an edit makes a
    new profile; the old one's entry ages out)."""
    return _Prepared(merchant)


def _new_evidence(found: dict[str, str], rule: str) -> bool:
    """Whether `rule` found words for a merchant that no earlier rule found: a name's
    variant inside the name ("Kaffeerösterei Bohnenglück" of "... Bohnenglück GmbH") says
    nothing new, and must not choose between two shops both named in full."""
    if rule not in found:
        return False
    words = found[rule].casefold()
    earlier = RULE_NAMES[: RULE_NAMES.index(rule)]
    return not any(words in found[e].casefold() for e in earlier if e in found)


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


def _literal_start(pattern: str) -> str:
    """Text that every match of `pattern` starts with ("MF-" of ``\\bMF-\\d{6}\\b``), or ""
    where that is not certain: a group, a class, a flag or an alternative at its start,
    an alternative anywhere outside a class or group, or a comment anywhere."""
    if "(?#" in pattern or _has_top_level_alternative(pattern):
        return ""
    position = _ANCHORS.match(pattern).end()  # type: ignore[union-attr]
    literal = []
    while position < len(pattern):
        char = pattern[position]
        if char == "\\" and position + 1 < len(pattern) and not pattern[position + 1].isalnum():
            literal.append(pattern[position + 1])
            position += 2
        elif char.isalnum() or char in _PLAIN:
            literal.append(char)
            position += 1
        else:
            break
    if literal and pattern[position : position + 1] in ("?", "*", "{"):
        literal.pop()  # the last one may be absent
    return "".join(literal)


def _has_top_level_alternative(pattern: str) -> bool:
    """Whether `pattern` has a "|" outside every group and class (escapes, and classes
    with "]" or "[" among their members, read as `re` reads them)."""
    depth, position = 0, 0
    while position < len(pattern):
        char = pattern[position]
        if char == "\\":
            position += 2
            continue
        if char == "[":
            position = _class_end(pattern, position)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        position += 1
    return False


def _class_end(pattern: str, start: int) -> int:
    """The position after the class that opens at `start` ("]" right after "[" or "[^"
    is a member; escapes are skipped)."""
    position = start + 1
    if pattern[position : position + 1] == "^":
        position += 1
    if pattern[position : position + 1] == "]":
        position += 1
    while position < len(pattern):
        if pattern[position] == "\\":
            position += 2
        elif pattern[position] == "]":
            return position + 1
        else:
            position += 1
    return position


_ANCHORS = re.compile(r"(?:\^|\\b|\\A)*")
_PLAIN = frozenset(" -_/#:;,@!%&='\"<>~`")
"""Characters that stand for themselves in a pattern (besides letters and digits)."""

RULE_NAMES = ("order-number", "domain", "name", "name-variant")
"""The rules that find a complaint's merchant, in the order they decide."""
_LABEL = re.compile(r"[\w-]+")
_HOST = re.compile(r"[\w-]+(?:\.[\w-]+)+")
"""Runs of labels in lowered text: every registered domain a domain rule can find in it
is a run of labels of one of them."""


# Each merchant's patterns are kept compiled by `_prepared`; this cache serves
# `order_numbers`, which compares a shop's order numbers outside the index.
@lru_cache(maxsize=4096)
def _order_pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        with warnings.catch_warnings():  # the operator's pattern: "possible nested set"
            warnings.simplefilter("ignore", FutureWarning)
            return re.compile(pattern)
    except re.error:
        return None


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
