"""Routing: which merchant a complaint is about, which case and role a reply acts for."""

from __future__ import annotations

import pytest

from mediation.addresses import Role
from mediation.routing import (
    CaseCandidate,
    CaseParties,
    MerchantProfile,
    belongs,
    case_candidates,
    find_merchant,
    merchants_named,
    name_variants,
    role_of,
    subject_refs,
)

FUCHS = MerchantProfile(
    "moebel-fuchs",
    "Möbel Fuchs",
    ("service@moebel-fuchs.de",),
    ("moebel-fuchs.de",),
    r"\bMF-\d{6}\b",
)
GARTEN = MerchantProfile(
    "gartenwelt", "Gartenwelt Kröger", ("hilfe@gartenwelt.example",), ("gartenwelt.example",)
)
SHOP = MerchantProfile("shop", "Kleinkram", (), ("shop.example",), r"\bKK-\d{6}\b")
MERCHANTS = [FUCHS, GARTEN, SHOP]

PARTIES = CaseParties(
    customer="Erika.Muster@example.org",
    merchant_addresses=("service@moebel-fuchs.de",),
    merchant_domains=("moebel-fuchs.de",),
    mediator="schlichterin@siegel.example",
    mediators=("schlichterin@siegel.example", "schlichter@siegel.example"),
)


# ------------------------------------------------------------------ merchants


def test_the_complaint_address_slug_names_the_merchant() -> None:
    """beschwerde+SLUG wins over anything the text says."""
    match = find_merchant(
        "Gartenwelt", "bei Gartenwelt Kröger", MERCHANTS, named_slug="moebel-fuchs"
    )
    assert match is not None and (match.slug, match.rule) == ("moebel-fuchs", "complaint-address")


def test_an_unknown_slug_falls_back_to_the_mail() -> None:
    """A slug nobody registered does not stop the search in the text."""
    match = find_merchant("", "Gartenwelt Kröger liefert nicht", MERCHANTS, named_slug="nope")
    assert match is not None and (match.slug, match.rule) == ("gartenwelt", "name")


@pytest.mark.parametrize(
    "text, slug, rule",
    [
        ("Meine Bestellung MF-204518 ist nicht da.", "moebel-fuchs", "order-number"),
        ("bestellt auf www.moebel-fuchs.de/sofas", "moebel-fuchs", "domain"),
        ("Antwort kam von info@moebel-fuchs.de", "moebel-fuchs", "domain"),
        ("Ich habe bei MOEBEL FUCHS bestellt", "moebel-fuchs", "name"),
        ("Ich habe bei Möbel-Fuchs bestellt", "moebel-fuchs", "name"),
        ("gartenwelt kröger hat falsch geliefert", "gartenwelt", "name"),
    ],
)
def test_the_merchant_is_found_by_order_number_domain_or_name(
    text: str, slug: str, rule: str
) -> None:
    """Each rule finds its merchant, case- and umlaut-insensitively for names."""
    match = find_merchant("Beschwerde", text, MERCHANTS)
    assert match is not None and (match.slug, match.rule) == (slug, rule)


@pytest.mark.parametrize(
    "text",
    [
        "bestellt bei myshop.example",  # a longer domain that ends the same
        "bestellt bei shop.example.org",  # a domain that starts the same
        "Paket fehlt, bitte helfen",  # nothing at all
        "Der Schopf ist ab",  # no name inside another word
    ],
)
def test_look_alikes_name_no_merchant(text: str) -> None:
    """Domains and names match as whole names only."""
    assert find_merchant("", text, [SHOP, GARTEN]) is None


def test_an_ambiguous_order_number_is_settled_by_a_later_rule() -> None:
    """Two merchants' patterns fit; the domain decides between them."""
    other = MerchantProfile("other", "Other", (), ("other.example",), r"\bMF-\d{6}\b")
    match = find_merchant("", "Bestellung MF-204518 bei moebel-fuchs.de", [FUCHS, other])
    assert match is not None and (match.slug, match.rule) == ("moebel-fuchs", "domain")


def test_a_mail_naming_two_merchants_names_none() -> None:
    """Ambiguous at every rule: the customer is asked instead of guessing."""
    text = "Erst bei Möbel Fuchs, dann bei Gartenwelt Kröger bestellt."
    assert find_merchant("", text, MERCHANTS) is None


def test_two_shops_named_in_full_are_not_told_apart_by_a_variant_of_one() -> None:
    """Both registered names written out: the variant of one ("... Bohnenglück" without
    its "GmbH") is part of its name, no more evidence, and must not choose (a black-box
    run's mail went to the shop with the legal form, the other was lost)."""
    coffee = MerchantProfile("bohnenglueck", "Kaffeerösterei Bohnenglück GmbH")
    text = "Bestellt bei Kaffeerösterei Bohnenglück GmbH und bei Gartenwelt Kröger, beides weg."
    assert find_merchant("", text, [coffee, GARTEN]) is None
    assert merchants_named("", text, [coffee, GARTEN]) == ("bohnenglueck", "gartenwelt")
    alone = find_merchant("", "Bestellt bei Kaffeerösterei Bohnenglück.", [coffee, GARTEN])
    assert alone is not None and alone.slug == "bohnenglueck"


def test_a_complaint_naming_a_second_shop_by_a_later_rule_says_so() -> None:
    """One shop by its domain, a second by its name only (a black-box run's complaint
    about two shops lost the second): the domain decides, the other is named too; an
    order number that both shops' patterns fit names no second shop."""
    text = "Bei Möbel Fuchs kam das Sofa kaputt an, und shop.example bucht doppelt ab."
    match = find_merchant("", text, MERCHANTS)
    assert match is not None and (match.slug, match.also) == ("shop", ("moebel-fuchs",))
    assert find_merchant("", "Möbel Fuchs hat mein Sofa beschädigt.", MERCHANTS).also == ()
    other = MerchantProfile("other", "Other", (), ("other.example",), r"\bMF-\d{6}\b")
    shared = find_merchant("", "Bestellung MF-204518 bei moebel-fuchs.de", [FUCHS, other])
    assert shared is not None and shared.also == ()


def test_a_broken_order_pattern_is_ignored() -> None:
    """An operator's invalid regular expression does not break routing."""
    broken = MerchantProfile("broken", "Broken", (), (), r"(unclosed")
    match = find_merchant("", "bei Möbel Fuchs", [broken, FUCHS])
    assert match is not None and match.slug == "moebel-fuchs"


# ------------------------------------------------------------------ other names

TASSE = MerchantProfile(
    "gruene-tasse",
    "Grüne Tasse Teehandel",
    ("hallo@gruene-tasse.example",),
    ("gruene-tasse.example",),
    name_aliases=("Grüne Tasse", "GT Tee"),
)
TECH = MerchantProfile("techstore24", "TechStore24", (), ("techstore24.de",))
HAUS = MerchantProfile("das-haus", "Das Haus Möbel", (), ("das-haus.example",))
OTHER_NAMES = [TASSE, TECH, HAUS]


@pytest.mark.parametrize(
    "text, slug, rule, detail",
    [
        ("Bestellt bei Grüne Tasse, der Tee kam nicht", "gruene-tasse", "name", "Grüne Tasse"),
        ("bei GRUENE-TASSE bestellt", "gruene-tasse", "name", "Grüne Tasse"),
        ("Antwort von GT Tee kam nie", "gruene-tasse", "name", "GT Tee"),
        ("Grüne Tasse Teehandel liefert nicht", "gruene-tasse", "name", "Grüne Tasse Teehandel"),
        ("Ich habe bei TechStore bestellt", "techstore24", "name-variant", "TechStore"),
        ("bei TechStore24 bestellt", "techstore24", "name", "TechStore24"),
    ],
)
def test_aliases_and_variants_name_the_merchant(
    text: str, slug: str, rule: str, detail: str
) -> None:
    """An alias the operator registered counts as the name; a variant of the name is
    found when no registered name is."""
    match = find_merchant("Beschwerde", text, [*OTHER_NAMES, *MERCHANTS])
    assert match is not None and (match.slug, match.rule, match.detail) == (slug, rule, detail)


@pytest.mark.parametrize(
    "name, domains, variants",
    [
        ("Möbel Fuchs GmbH", (), ("Möbel Fuchs",)),
        ("Möbel Fuchs GmbH & Co. KG", (), ("Möbel Fuchs",)),
        ("Kaffee Klatsch e.K.", (), ("Kaffee Klatsch",)),
        ("Spielwerk UG (haftungsbeschränkt)", (), ("Spielwerk",)),
        ("Nordlicht Handels OHG", (), ("Nordlicht Handels",)),
        ("Acme Widgets, Inc.", (), ("Acme Widgets",)),
        ("Brightside Ltd.", (), ("Brightside",)),
        ("TechStore24 GmbH", (), ("TechStore24", "TechStore")),
        ("TechStore24", ("techstore24.de", "www.techstore24.at"), ("TechStore",)),
        ("Technik Laden", ("technikladen.example",), ("technikladen",)),
        ("Schuhwerk", ("tritt24.example",), ("tritt24",)),
        ("Shop24", (), ()),  # "Shop" would name every shop
        ("Otto GmbH", (), ()),  # one short word: an alias, if wanted
        ("Das Haus Möbel", ("das-haus.example",), ()),  # no start of the name
        ("Schuhwerk", ("schuhe.example",), ()),  # a plain word as domain
        ("Zahlen", ("12345.example",), ()),  # digits only
    ],
)
def test_name_variants_are_safe(name: str, domains: tuple[str, ...], variants: tuple) -> None:
    assert name_variants(name, (), domains) == variants


def test_a_variant_equal_to_an_alias_is_not_repeated() -> None:
    assert name_variants("Möbel Fuchs GmbH", ("MÖBEL-FUCHS",)) == ()


@pytest.mark.parametrize(
    "text",
    [
        "Wir waren im Haus, das Haus war kalt",  # "Das Haus" is no name of "Das Haus Möbel"
        "Eine grüne Teetasse kam zerbrochen an",  # not the alias as a whole
        "Der Tech-Store um die Ecke",  # neither name nor variant
        "bei TechStores bestellt",  # no name inside a longer word
        "Bestellung 24 im Shop",  # no "Shop24" written apart
    ],
)
def test_generic_words_name_no_merchant(text: str) -> None:
    shop24 = MerchantProfile("shop24", "Shop24", (), ("shop24.example",))
    assert find_merchant("", text, [*OTHER_NAMES, shop24]) is None


def test_a_registered_name_wins_over_another_merchants_variant() -> None:
    """ "TechStore" is one shop's name and another's variant: the name decides."""
    plain = MerchantProfile("techstore", "TechStore", (), ("techstore.example",))
    match = find_merchant("", "bei TechStore bestellt", [TECH, plain])
    assert match is not None and (match.slug, match.rule) == ("techstore", "name")


def test_an_alias_or_variant_two_merchants_share_names_none() -> None:
    """Two shops registered with the same alias, or with the same variant: ambiguous."""
    twin = MerchantProfile("tasse-zwei", "Tassenwelt", name_aliases=("Grüne Tasse",))
    assert find_merchant("", "bei Grüne Tasse bestellt", [TASSE, twin]) is None
    other = MerchantProfile("techstore-gmbh", "TechStore GmbH")
    assert find_merchant("", "bei TechStore bestellt", [TECH, other]) is None


# ------------------------------------------------------------------ cases


def test_subject_references_are_found_once_in_upper_case() -> None:
    """[SSG-…] in a subject, bracketed or not, repeated or lower-case."""
    subject = "AW: Re: [ssg-2026-000123] Antwort (SSG-2026-000123, SSG-2026-000007)"
    assert subject_refs(subject) == ["SSG-2026-000123", "SSG-2026-000007"]
    assert subject_refs("Bestellung 2026-000123") == []


def test_case_candidates_put_the_case_address_first_then_threading_then_subject() -> None:
    """The strongest evidence first, each case once."""
    found = case_candidates(
        ("SSG-2026-000001", Role.MERCHANT),
        ["SSG-2026-000002", "SSG-2026-000001"],
        "Re: [SSG-2026-000003] [SSG-2026-000002]",
    )
    assert found == [
        CaseCandidate("SSG-2026-000001", "case-address", Role.MERCHANT),
        CaseCandidate("SSG-2026-000002", "threading"),
        CaseCandidate("SSG-2026-000003", "subject"),
    ]


@pytest.mark.parametrize(
    "sender, role, expected",
    [
        ("erika.muster@EXAMPLE.org", Role.CUSTOMER, True),
        ("erika.muster@example.com", Role.CUSTOMER, False),
        ("service@moebel-fuchs.de", Role.MERCHANT, True),
        ("anna.schmidt@moebel-fuchs.de", Role.MERCHANT, True),  # the registered domain
        ("ticket@support.moebel-fuchs.de", Role.MERCHANT, True),  # a subdomain of it
        ("service@moebel-fuchs.de.evil.example", Role.MERCHANT, False),
        ("service@evilmoebel-fuchs.de", Role.MERCHANT, False),
        ("service@moebel-fuchs.de", Role.CUSTOMER, False),
        ("schlichterin@siegel.example", Role.MEDIATOR, True),
        ("schlichter@siegel.example", Role.MEDIATOR, False),  # a mediator, not this case's
        (None, Role.CUSTOMER, False),
    ],
)
def test_the_sender_must_belong_to_the_role(sender: str | None, role: Role, expected: bool) -> None:
    """Addresses exactly, merchant domains and their subdomains, the assigned mediator."""
    assert belongs(sender, role, PARTIES) is expected


def test_a_mediator_removed_from_the_configuration_acts_no_more() -> None:
    """The assigned mediator must still be one of the configured mediators."""
    removed = CaseParties(customer="k@example.org", mediator="old@siegel.example", mediators=())
    assert not belongs("old@siegel.example", Role.MEDIATOR, removed)


def test_role_of_prefers_exact_addresses_over_merchant_domains() -> None:
    """A customer who writes from the merchant's domain is still the customer."""
    parties = CaseParties(customer="kunde@moebel-fuchs.de", merchant_domains=("moebel-fuchs.de",))
    assert role_of("kunde@moebel-fuchs.de", parties) is Role.CUSTOMER
    assert role_of("service@moebel-fuchs.de", parties) is Role.MERCHANT
    assert role_of("someone@example.org", parties) is None
