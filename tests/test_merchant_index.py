"""The merchant index: a complaint costs the rules of the merchants it may name, and finds
exactly what trying every rule on every registered merchant finds (a seal has thousands
of shops; trying each on each complaint made routing, not the mail, the work)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mediation import routing, storage
from mediation.routing import MerchantIndex, MerchantProfile, _literal_start, _prepared, _Scanned
from mediation.storage import Merchant

WORDS = ("Möbel", "Garten", "Welt", "Tee", "Kontor", "Haus", "Licht", "Bär", "Fuchs", "Mode")
PATTERNS = (
    r"\bMF-\d{6}\b",  # a literal start
    r"MF\d{4}",  # the same start, no word boundary: found inside a word too
    r"^\s*Bestellung (\d+)",  # no literal start: tried on every complaint
    r"(?:AB|CD)-\d{4}",  # a group at the start
    r"AB-\d{4}|ZZ\d{3}",  # an alternative: no literal start
    r"[]|]\d{3}",  # "|" in a class is no alternative: no literal start either (a class)
    r"ABC?-\d{3}",  # the last letter optional: "AB" is what is certain
    r"(?i)mf-\d{6}",  # a flag: the letter case is the pattern's business
    r"\bGK\d{7}\b",
    r"X\.Y-\d+",  # an escaped dot
    r"([",  # broken: never finds anything
    r"MF(?#a comment)?\d{3}",  # a comment, and a quantifier after it for the "F"
    r"AB[[]|ZZ\d{3}",  # "[" a class's member: the "|" after it is an alternative
    r"AB[^[]|ZZ\d{3}",
    r"AB[\[]|ZZ\d{3}",
)
SYMBOLS = ("★★★", "🛒", "#####", "-+-")
"""Names of no word: routing finds them by their pattern alone."""


def random_merchants(rng: random.Random, count: int) -> list[MerchantProfile]:
    merchants = []
    for number in range(count):
        # Mostly a word of its own (which alone makes it a candidate), some only shared ones.
        own = f"Handelshaus{number}" if rng.random() < 0.8 else rng.choice(WORDS)
        name = f"{rng.choice(WORDS)} {own}" if rng.random() < 0.95 else rng.choice(SYMBOLS)
        slug = f"shop-{number}"
        # Labels of four letters: no name variant comes of them, only the domain rule reads them.
        code = "".join("bcdfghjklm"[int(digit)] for digit in f"{number:04d}")
        domains = rng.choice(
            [(), (f"{code}.example",), (f"{code.upper()}.Example", f"www.{code}.de.example")]
        )
        merchants.append(
            MerchantProfile(
                slug,
                name,
                (f"info@{slug}.example",),
                domains,
                rng.choice(PATTERNS) if rng.random() < 0.3 else None,
                rng.choice(((), (f"{rng.choice(WORDS)}-Laden",))),
            )
        )
    return merchants


def random_text(rng: random.Random, merchants: list[MerchantProfile]) -> str:
    pieces = ["Guten Tag, ich habe bestellt."]
    for _ in range(rng.randrange(1, 5)):
        merchant = rng.choice(merchants)
        pieces.append(
            rng.choice(
                [
                    merchant.name,
                    merchant.name.upper(),
                    f"bei {merchant.name_aliases[0] if merchant.name_aliases else 'niemand'}",
                    f"https://www.{rng.choice(merchant.domains)}/konto" if merchant.domains else "",
                    f"{rng.choice(merchant.domains)}.5" if merchant.domains else "",
                    f"x..{rng.choice(merchant.domains)}.de" if merchant.domains else "",
                    f"({rng.choice(merchant.domains)})" if merchant.domains else "",
                    f"Bestellung {rng.randrange(10**6)}",
                    f"MF-{rng.randrange(10**6):06d}",
                    f"XMF{rng.randrange(10**4):04d}",
                    f"AB-{rng.randrange(10**4):04d} CD-1234",
                    f"ZZ{rng.randrange(10**3):03d}",
                    rng.choice(["]123", "AB-123", "abc-123", "ABC-123"]),
                    f"mf-{rng.randrange(10**6):06d} X.Y-12 GK{rng.randrange(10**7):07d}",
                    rng.choice(WORDS),
                    f"M{rng.randrange(999)} ZZ{rng.randrange(999)} {rng.choice(SYMBOLS)}",
                ]
            )
        )
    return " ".join(pieces)


def every_rule_on_every_merchant(text: str, merchants: list[MerchantProfile]) -> dict:
    scanned = _Scanned(text[: routing.MAX_SCAN_CHARS])
    return {
        merchant.slug: found
        for merchant in merchants
        if (found := _prepared(merchant).findings(scanned))
    }


def test_the_index_finds_what_every_rule_on_every_merchant_finds() -> None:
    """Random merchants (names, aliases, variants, domains with subdomains and capitals,
    order patterns of every shape) and random complaints naming them in every way the
    rules know: the index's findings equal those of trying everything."""
    rng = random.Random(20261208)
    found_any = 0
    for _ in range(40):
        merchants = random_merchants(rng, rng.randrange(5, 60))
        index = MerchantIndex(merchants)
        for _ in range(25):
            text = random_text(rng, merchants)
            expected = every_rule_on_every_merchant(text, merchants)
            assert index._findings(text) == expected, text
            found_any += bool(expected)
    assert found_any > 500  # the texts do name merchants


@pytest.mark.parametrize(
    ("pattern", "start"),
    [
        (r"\bMF-\d{6}\b", "MF-"),
        (r"^MF\d+", "MF"),
        (r"Bestellnr\.\s*\d+", "Bestellnr."),
        (r"ABC?-\d{3}", "AB"),
        (r"AB*C", "A"),
        (r"AB{2}", "A"),
        (r"ML/\d{4}/\d{4}", "ML/"),
        (r"(?:AB|CD)-\d{4}", ""),
        (r"AB-\d{4}|ZZ\d{3}", ""),
        (r"(AB-\d{4}|ZZ\d{3})", ""),
        (r"[]|]AB", ""),
        (r"AB[]|]C", "AB"),
        (r"AB[|]C|ZZ", ""),
        (r"[A-Z]{2}\d+", ""),
        (r"(?i)mf-\d+", ""),
        (r"\d{8}", ""),
    ],
)
def test_an_order_pattern_is_indexed_by_the_text_every_match_starts_with(
    pattern: str, start: str
) -> None:
    assert _literal_start(pattern) == start


def test_thousands_of_merchants_route_as_a_few_do() -> None:
    """5,000 registered shops (more than any cache of compiled patterns held before):
    each of the complaint's ways of naming one still finds it, and the others none."""
    merchants = [
        MerchantProfile(
            f"shop-{n}",
            f"Kontor Nummer{n}",
            (f"service@shop{n}.example",),
            (f"shop{n}.example",),
            rf"\bK{n}-\d{{6}}\b",
        )
        for n in range(5000)
    ]
    index = MerchantIndex(merchants)
    assert index.find("Beschwerde", "Bestellung K4711-123456 kam nie an").slug == "shop-4711"  # type: ignore[union-attr]
    assert index.find("", "siehe https://www.shop4242.example/konto").slug == "shop-4242"  # type: ignore[union-attr]
    assert index.find("Ärger mit Kontor Nummer17", "").slug == "shop-17"  # type: ignore[union-attr]
    assert index.find("", "Kontor Nummer17 und Kontor Nummer18") is None
    assert index.named("", "Kontor Nummer17 und Kontor Nummer18") == ("shop-17", "shop-18")
    assert index.names_of(["shop-18", "shop-17", "nobody"]) == (
        "Kontor Nummer17",
        "Kontor Nummer18",
    )


def add_merchant(session: Session, slug: str, name: str) -> Merchant:
    merchant = Merchant(slug=slug, name=name, created_at=datetime(2026, 12, 1, tzinfo=UTC))
    session.add(merchant)
    return merchant


def test_a_support_address_is_known_in_any_letter_case(engine: Engine) -> None:
    """The outbox's cap for a shop's support address asks storage, not the routing index."""
    with Session(engine) as session:
        merchant = add_merchant(session, "shop-99", "Kontor Nummer99")
        merchant.support_addresses = ["service@shop99.example"]
        session.commit()
    with Session(engine) as session:
        assert storage.is_support_address(session, "Service@Shop99.example")
        assert not storage.is_support_address(session, "service@shop99.example.org")


def test_a_merchant_added_or_changed_in_the_unit_of_work_is_routed_to(engine: Engine) -> None:
    with Session(engine) as session:
        add_merchant(session, "teekontor", "Teekontor Hansen")
        session.commit()
    with Session(engine) as session:
        assert storage.merchant_index(session).find("", "Ärger mit Lampenladen Licht") is None
        add_merchant(session, "lampen", "Lampenladen Licht")
        assert storage.merchant_index(session).find("", "Ärger mit Lampenladen Licht")
        assert storage.merchant_by_slug(session, "lampen") is not None
        teekontor = storage.merchant_by_slug(session, "teekontor")
        assert teekontor is not None
        teekontor.name = "Teehaus Hansen"
        found = storage.merchant_index(session).find("", "Ärger mit Teehaus Hansen")
        assert found is not None and found.slug == "teekontor"
        assert storage.merchant_index(session).find("", "Ärger mit Teekontor Hansen") is None
