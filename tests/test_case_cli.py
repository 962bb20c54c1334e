"""The operator's case commands against a served database: as `siegel` subprocesses
where another process matters, in-process for argument checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow.command_support import local_time
from mediation.storage import CategoryCorrection
from tests.conftest import TEST_DOMAIN
from tests.harness import Harness, compose
from tests.sink import Sink

CUSTOMER = "kunde@example.org"
TWENTY_ONE_ALIASES = [arg for n in range(21) for arg in ("--name-alias", f"Name {n}")]


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    yield running
    running.stop()


def test_merchants_are_added_listed_and_shown(harness: Harness) -> None:
    """`merchant add` stores every option; `list` and `show` give them back as JSON."""
    added = harness.cli(
        "merchant", "add", "moebel-fuchs", "--name", "Möbel Fuchs",
        "--email", "service@moebel-fuchs.test", "--email", "Buchhaltung@Moebel-Fuchs.test",
        "--domain", "moebel-fuchs.test", "--order-pattern", r"\bMF-\d{6}\b",
        "--language", "en", "--calendar", "DE-BY", "--timezone", "Europe/Vienna",
        "--hours", "08:00-16:00",
    )  # fmt: skip
    assert "beschwerde+moebel-fuchs@siegel.test" in added.stdout
    [listed] = json.loads(harness.siegel("merchant", "list", "--json")[1])
    shown = json.loads(harness.siegel("merchant", "show", "moebel-fuchs", "--json")[1])
    assert listed["slug"] == shown["slug"] == "moebel-fuchs"
    assert shown["emails"] == ["service@moebel-fuchs.test", "buchhaltung@moebel-fuchs.test"]
    assert (shown["domains"], shown["order_pattern"]) == (["moebel-fuchs.test"], r"\bMF-\d{6}\b")
    assert (shown["language"], shown["calendar"], shown["timezone"], shown["hours"]) == (
        "en",
        "DE-BY",
        "Europe/Vienna",
        "08:00-16:00",
    )
    status, _, errors = harness.siegel(
        "merchant", "add", "moebel-fuchs", "--name", "X", "--email", "x@x.test"
    )
    assert status == 1 and "exists" in errors


@pytest.mark.parametrize(
    "options, complaint",
    [
        (["--email", "not-an-address"], "not a mail address"),
        (["--email", "a@b.test", "--order-pattern", "(MF"], "not a regular expression"),
        (["--email", "a@b.test", "--calendar", "XX-YY"], "unknown holiday region"),
        (["--email", "a@b.test", "--hours", "17:00-09:00"], "HH:MM-HH:MM"),
        (["--email", "a@b.test", "--hours", "25:00-26:00"], "HH:MM-HH:MM"),
        (["--email", "a@b.test", "--hours", "09:00-17:60"], "HH:MM-HH:MM"),
        (["--email", "a@b.test", "--domain", "no_domain"], "not a domain"),
        (["--email", "a@b.test", "--name-alias", "GT"], "at least 3 letters or digits"),
        (["--email", "a@b.test", "--name-alias", "x" * 201], "at most 200 characters"),
        (["--email", "a@b.test", *TWENTY_ONE_ALIASES], "at most 20 names"),
        (["--email", f"info@{TEST_DOMAIN}"], "at the service's own domain"),
        (["--email", f"info@mail.{TEST_DOMAIN}"], "at the service's own domain"),
        (["--email", "a@b.test", "--name-alias", "Shop\u202eemag"], "U+202E is a control"),
    ],
)
def test_a_bad_merchant_option_is_one_line_and_exit_2(
    harness: Harness, options: list[str], complaint: str
) -> None:
    """Wrong options are refused before anything is stored."""
    status, _, errors = harness.siegel("merchant", "add", "shop", "--name", "Shop", *options)
    assert status == 2 and complaint in errors
    assert json.loads(harness.siegel("merchant", "list", "--json")[1]) == []


@pytest.mark.parametrize(
    "name", ["Bell\x07 \x1b[31mRed", "Zwei\nZeilen", "Shop \u202e gnuretsiger", "Möbel\u200bFuchs"]
)
def test_a_shop_name_with_control_bidi_or_invisible_characters_is_refused(
    harness: Harness, name: str
) -> None:
    """A shop's name stands in page titles, badges, subjects and tables: a control
    character, a line break, a bidi override or an invisible character is refused."""
    status, _, errors = harness.siegel(
        "merchant", "add", "shop", "--name", name, "--email", "a@b.test"
    )
    assert status == 2 and "is a control, bidi or invisible character" in errors
    assert json.loads(harness.siegel("merchant", "list", "--json")[1]) == []


def test_a_support_address_or_domain_of_another_shop_is_refused(harness: Harness) -> None:
    """Mail from a support address, or naming a domain, acts for or is routed to one
    shop: a second shop cannot register the same (on add or on set); the shop itself
    may set its own again."""
    harness.add_merchant("fuchs", "Möbel Fuchs", "support@fuchs.test", "--domain", "fuchs.test")
    harness.add_merchant("dachs", "Dachs Möbel", "info@dachs.test")
    status, _, errors = harness.siegel(
        "merchant",
        "add",
        "kopie",
        "--name",
        "Kopie",
        "--email",
        "a@kopie.test",
        "--domain",
        "fuchs.test",
    )
    assert status == 2 and "--domain fuchs.test: registered for the shop fuchs already" in errors
    status, _, errors = harness.siegel("merchant", "set", "dachs", "--email", "Support@fuchs.test")
    assert status == 2 and "--email support@fuchs.test: registered for the shop fuchs" in errors
    assert harness.siegel("merchant", "set", "fuchs", "--email", "support@fuchs.test")[0] == 0
    slugs = [m["slug"] for m in json.loads(harness.siegel("merchant", "list", "--json")[1])]
    assert slugs == ["dachs", "fuchs"]


def test_merchants_are_imported_all_or_none(harness: Harness, tmp_path: Path) -> None:
    """A seal with thousands of shops registers them from JSON Lines, each checked as
    `merchant add` checks it; one bad line registers nothing and every bad line is
    named; the imported shops route complaints like added ones."""
    harness.add_merchant("fuchs", "Möbel Fuchs", "support@fuchs.test", "--domain", "fuchs.test")
    good = [
        {"slug": "dachs", "name": "Dachs", "email": "info@dachs.test", "domain": "dachs.test"},
        {"slug": "tee", "name": "Teekontor", "email": ["a@tee.test", "b@tee.test"],
         "order_pattern": r"\bTK-\d{5}\b", "language": "en", "name_alias": "Tee Kontor"},
    ]  # fmt: skip
    bad = [
        *good,
        {"slug": "kopie", "name": "Kopie", "email": "x@kopie.test", "domain": "fuchs.test"},
        {"slug": "fuchs", "name": "Fuchs again", "email": "y@fuchs2.test"},
        {"slug": "typo", "name": "Typo", "emial": "z@typo.test"},
        {"slug": "twice", "name": "Twice", "email": "info@dachs.test"},
    ]
    file = tmp_path / "shops.jsonl"
    file.write_text("\n".join([*map(json.dumps, bad), "{not json"]) + "\n", encoding="utf-8")
    status, _, errors = harness.siegel("merchant", "import", str(file))
    assert status == 65
    assert [line.split(":")[1].strip() for line in errors.splitlines()[:-1]] == [
        "line 3", "line 4", "line 5", "line 6", "line 7",
    ]  # fmt: skip
    assert "registered for the shop fuchs" in errors and "nothing imported" in errors
    listed = [m["slug"] for m in json.loads(harness.siegel("merchant", "list", "--json")[1])]
    assert listed == ["fuchs"]
    file.write_text("\n".join(map(json.dumps, good)) + "\n\n", encoding="utf-8")
    assert harness.cli("merchant", "import", str(file)).stdout == "2 merchants imported\n"
    shown = json.loads(harness.siegel("merchant", "show", "tee", "--json")[1])
    assert (shown["emails"], shown["language"], shown["name_aliases"]) == (
        ["a@tee.test", "b@tee.test"], "en", ["Tee Kontor"],
    )  # fmt: skip
    harness.send(compose("Kundin <k@example.org>", "beschwerde@siegel.test", "TK-12345", "Weg."))
    harness.process()
    [case] = json.loads(harness.siegel("cases", "--json")[1])
    assert case["merchant"] == "tee"


def test_a_mail_providers_or_platforms_domain_is_refused(harness: Harness) -> None:
    """As a shop's domain, gmx.de would make every gmx.de customer the shop (a black-box
    run's `merchant set --domain example.org` emptied the shop's figures and held new
    complaints as the shop's own); the support address there is fine."""
    harness.add_merchant("fuchs", "Möbel Fuchs", "moebel.fuchs@gmx.de")
    for domain in ("gmx.de", "Mail.GMX.de", "myshopify.com"):
        status, _, errors = harness.siegel("merchant", "set", "fuchs", "--domain", domain)
        assert status == 2, errors
        assert f"--domain {domain.lower()}: a mail provider's or platform's domain" in errors
    assert json.loads(harness.siegel("merchant", "list", "--json")[1])[0]["domains"] == []
    assert harness.siegel("merchant", "set", "fuchs", "--domain", "moebel-fuchs.test")[0] == 0


def test_name_aliases_are_added_set_cleared_and_shown(harness: Harness) -> None:
    """`--name-alias` is repeatable on `add` and `set` (replacing them, `-` clears), kept
    once whatever its case, shown by `show` and `list`, and each change recorded."""
    harness.add_merchant(
        "gruene-tasse", "Grüne Tasse Teehandel", "hallo@gruene-tasse.test",
        "--name-alias", " Grüne  Tasse ", "--name-alias", "GRÜNE TASSE", "--name-alias", "GT Tee",
    )  # fmt: skip
    shown = json.loads(harness.siegel("merchant", "show", "gruene-tasse", "--json")[1])
    assert shown["name_aliases"] == ["Grüne Tasse", "GT Tee"]
    status, out, _ = harness.siegel(
        "merchant",
        "set",
        "gruene-tasse",
        "--name-alias",
        "Grüne Tasse",
        "--name-alias",
        "Tee-Tasse",
    )
    assert status == 0 and "1 fields changed" in out
    [listed] = json.loads(harness.siegel("merchant", "list", "--json")[1])
    assert listed["name_aliases"] == ["Grüne Tasse", "Tee-Tasse"]
    assert "(also: Grüne Tasse, Tee-Tasse)" in harness.siegel("merchant", "list")[1]
    text = harness.siegel("merchant", "show", "gruene-tasse")[1]
    assert "name_aliases: Grüne Tasse, Tee-Tasse" in text
    # In the operator's zone, as every other moment the commands print as text.
    created = local_time(listed["created_at"], harness.config)
    assert f"created_at: {created}\n" in text and created.endswith(("CET", "CEST"))
    assert harness.siegel("merchant", "set", "gruene-tasse", "--name-alias", "-")[0] == 0
    shown = json.loads(harness.siegel("merchant", "show", "gruene-tasse", "--json")[1])
    assert shown["name_aliases"] == []
    assert [(c["field"], c["new"]) for c in shown["changes"]] == [
        ("name_aliases", ["Grüne Tasse", "Tee-Tasse"]),
        ("name_aliases", []),
    ]
    status, _, errors = harness.siegel("merchant", "set", "gruene-tasse", "--name-alias", "T")
    assert status == 2 and "at least 3 letters or digits" in errors


def test_cases_case_and_held_show_what_happened(harness: Harness) -> None:
    """`cases --json` lists the case with its fields, `case REF --json` its timeline and
    mails, `case --category` keeps a correction, `held --json` the held mails."""
    harness.add_merchant("moebel-fuchs", "Möbel Fuchs", "service@moebel-fuchs.test")
    harness.send(
        compose(CUSTOMER, "beschwerde+moebel-fuchs@siegel.test", "Rechnung", "Doppelt abgebucht!")
    )
    harness.send(compose("spam@example.net", "postmaster@siegel.test", "Hallo", "Werbung"))
    harness.process()
    [listed] = json.loads(harness.cli("cases", "--json").stdout)
    assert {"ref", "state", "merchant", "category", "opened_at"} <= set(listed)
    assert (listed["state"], listed["merchant"]) == ("awaiting_merchant", "moebel-fuchs")
    ref = listed["ref"]
    assert json.loads(harness.siegel("cases", "--state", "closed_settled", "--json")[1]) == []
    assert len(json.loads(harness.siegel("cases", "--merchant", "moebel-fuchs", "--json")[1])) == 1

    corrected = harness.cli("case", ref, "--category", "payment_billing", "--json")
    case = json.loads(corrected.stdout[corrected.stdout.index("{") :])
    assert case["category"] == "payment_billing"
    assert {"first_reply_seconds", "first_reply_business_hours", "deadlines"} <= set(case)
    assert [e["kind"] for e in case["events"]] == ["ComplaintReceived", "CategoryCorrected"]
    assert case["events"][0]["mail"]["subject"] == "Rechnung"
    assert sorted(row["kind"] for row in case["outgoing"]) == [
        "customer.complaint_acknowledged",
        "merchant.complaint_forwarded",
    ]
    with Session(harness.engine) as session:
        [correction] = session.scalars(select(CategoryCorrection)).all()
    assert (correction.category, correction.body) == ("payment_billing", "Doppelt abgebucht!")
    status, _, errors = harness.siegel("case", ref, "--category", "weather")
    assert status == 2 and "one of" in errors

    [held] = json.loads(harness.cli("held", "--json").stdout)
    assert (held["reason"], held["sender"]) == ("operator-address", "spam@example.net")
    text = harness.siegel("case", ref)[1]
    assert "ComplaintReceived" in text and "merchant_reply" in text
    # Moments in the operator's zone, as the lists show them; the JSON keeps UTC.
    detail = json.loads(harness.cli("case", ref, "--json").stdout)
    opened = local_time(detail["opened_at"], harness.config)
    assert re.search(rf"opened_at: {opened}\n", text) and opened.endswith(("CET", "CEST"))
    assert f"  {local_time(detail['events'][0]['at'], harness.config)}  ComplaintReceived" in text
    # So do the held mails (a black-box run found them in UTC without a zone).
    held_line = harness.cli("held").stdout.splitlines()[0]
    assert held_line.startswith(f"{local_time(held['held_at'], harness.config)}  mail")
    assert held_line.split("  ")[0].endswith((" CET", " CEST"))


def test_sweep_at_a_time_without_offset_is_the_operators_local_time(harness: Harness) -> None:
    """`sweep --at` reads a time without offset in the operator's zone; a bad one is
    one line and exit 2."""
    result = harness.cli("sweep", "--at", "2026-03-02T10:00")
    assert "swept at 2026-03-02T10:00:00+01:00: 0 deadlines fired" in result.stdout
    status, _, errors = harness.siegel("sweep", "--at", "next tuesday")
    assert status == 2 and "ISO time" in errors


def test_a_merchant_added_without_a_language_gets_the_operators_default(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """`merchant add` without --language: `[siegel] default_language`, not German."""
    english = Harness(engine, tmp_path, sink, siegel={"default_language": "en"})
    try:
        english.cli("merchant", "add", "shop", "--name", "Shop", "--email", "s@shop.test")
        shown = json.loads(english.siegel("merchant", "show", "shop", "--json")[1])
        assert shown["language"] == "en"
    finally:
        english.stop()
