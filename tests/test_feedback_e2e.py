"""Lob & Tadel end to end: real SMTP in, the worker and relay in-process, the sink.

Praise sent to the complaint address is recorded as Lob for the merchant, thanked, and
opens no case; ``lob@`` (alias ``praise@``) takes Lob & Tadel about a shop directly, asks
for the shop when none is found, and counts on the merchant's barometer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mediation import feedback_store as feedback
from tests.harness import Harness, addressed_to, compose, plain
from tests.sink import Sink
from tests.test_cases_e2e import CUSTOMER, MERCHANT

MERCHANT_DOMAIN = "moebel-fuchs.test"


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", MERCHANT_DOMAIN)
    yield running
    running.stop()


def entries(harness: Harness) -> list[dict]:
    with Session(harness.engine) as session:
        return feedback.listing(session)


def cases(harness: Harness) -> list:
    return json.loads(harness.cli("cases", "--json").stdout or "[]")


@pytest.mark.parametrize(
    "subject, text, language",
    [
        ("Lob", "Großes Lob an den Shop Möbel Fuchs, alles super!", "de"),
        (
            "Thank you",
            "Just wanted to say Möbel Fuchs was great: fast delivery, kind support.",
            "en",
        ),
    ],
)
def test_praise_to_the_complaint_address_is_lob_not_a_case(
    harness: Harness, subject: str, text: str, language: str
) -> None:
    """Praise at beschwerde@ opens no case and reaches neither merchant nor mediation: it
    is recorded as Lob for the merchant, the customer thanked in its language, and the
    merchant's barometer counts it."""
    harness.send(compose(f"Erika <{CUSTOMER}>", "beschwerde@siegel.test", subject, text))
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.feedback_thanks")]
    assert addressed_to(sent, MERCHANT) == []
    assert "Möbel Fuchs" in sent[0].message["Subject"]
    assert ("Danke" if language == "de" else "Thank you") in sent[0].message["Subject"]
    assert cases(harness) == []
    [entry] = entries(harness)
    assert entry["praise"] == text and entry["criticism"] == ""
    assert entry["source"] == "complaint-address"
    assert entry["merchant_id"] == harness.merchant("moebel-fuchs").id
    barometer = json.loads(harness.cli("barometer", "moebel-fuchs", "--json").stdout)
    assert barometer["feedback"] == {"praise": 1, "criticism": 0}
    assert CUSTOMER not in json.dumps(barometer) and text not in json.dumps(barometer)


def test_praise_mixed_with_a_problem_stays_a_complaint(harness: Harness) -> None:
    """ "Great service, but my parcel is missing" is a complaint: a case is opened."""
    text = "Großes Lob an den Kundenservice von Möbel Fuchs, aber mein Paket fehlt seit 3 Wochen."
    harness.send(compose(f"Erika <{CUSTOMER}>", "beschwerde@siegel.test", "Paket", text))
    sent = harness.process()
    assert addressed_to(sent, MERCHANT) != []
    assert len(cases(harness)) == 1
    assert entries(harness) == []


@pytest.mark.parametrize(
    "subject, text",
    [
        (
            "Lob",
            "Ich war immer zufrieden mit Möbel Fuchs, aber diesmal ist die Lieferung seit "
            "2 Wochen überfällig. Bitte helfen Sie.",
        ),
        (
            "Danke für nichts",
            "Vielen Dank, Möbel Fuchs, dass Sie meine Bestellung einfach storniert haben, "
            "ohne mich zu fragen. Super gemacht.",
        ),
        (
            "Eigentlich zufrieden",
            "Eigentlich bin ich mit Möbel Fuchs sehr zufrieden. Aber auf meine Reklamation "
            "wegen des Kratzers kommt seit zehn Tagen keine Antwort.",
        ),
        (
            "Great shop, usually",
            "Möbel Fuchs has always been great, but my sofa still hasn't arrived and "
            "nobody answers my emails.",
        ),
    ],
)
def test_praise_with_a_problem_still_open_stays_a_complaint(
    harness: Harness, subject: str, text: str
) -> None:
    """Mails the model reads as praise, but that tell of a problem still open (overdue,
    nobody answers, bitter thanks): a complaint taken for praise would get no case."""
    harness.send(compose(f"Erika <{CUSTOMER}>", "beschwerde@siegel.test", subject, text))
    sent = harness.process()
    assert addressed_to(sent, MERCHANT) != []
    assert len(cases(harness)) == 1
    assert entries(harness) == []


def test_a_stricter_praise_threshold_makes_unsure_praise_a_complaint(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """`[classifier] praise_threshold`: the operator who would rather open a case than
    miss a complaint sets it higher; praise the model is less sure of then opens a case."""
    strict = Harness(engine, tmp_path, sink, classifier={"praise_threshold": 1.0})
    strict.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", MERCHANT_DOMAIN)
    try:
        text = "Großes Lob an den Shop Möbel Fuchs, alles super!"
        strict.send(compose(f"Erika <{CUSTOMER}>", "beschwerde@siegel.test", "Lob", text))
        sent = strict.process()
        assert addressed_to(sent, MERCHANT) != [] and len(cases(strict)) == 1
        assert entries(strict) == []
    finally:
        strict.stop()


def test_lob_und_tadel_fields_are_stored_apart(harness: Harness) -> None:
    """A mail to lob+SLUG@ with "Lob:" and "Tadel:" fields stores each in its place."""
    text = "Lob: schnelle Lieferung, nette Fahrer\nTadel: die Verpackung war übertrieben"
    harness.send(compose(CUSTOMER, "lob+moebel-fuchs@siegel.test", "Meine Meinung", text))
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.feedback_thanks")]
    [entry] = entries(harness)
    assert entry["praise"] == "schnelle Lieferung, nette Fahrer"
    assert entry["criticism"] == "die Verpackung war übertrieben"
    assert entry["source"] == "praise-address" and entry["merchant_named_by"] == "complaint-address"


def test_an_unknown_shop_is_asked_for_and_the_answer_names_it(harness: Harness) -> None:
    """Feedback naming no registered shop: the author is asked at a signed reply address;
    its answer naming the shop attaches the entry to that merchant and is thanked."""
    harness.send(compose(CUSTOMER, "praise@siegel.test", "Toll", "Ein toller Laden, gerne wieder!"))
    [question] = harness.process()
    assert harness.sent([question]) == [(CUSTOMER, "customer.feedback_which_shop")]
    [entry] = entries(harness)
    assert entry["merchant_id"] is None
    reply_to = question.message["Reply-To"]
    assert reply_to.startswith(f"lob+{entry['id']}.")
    # A stranger cannot name the shop for someone else's entry.
    harness.send(harness.reply(question, "max@example.net", "Möbel Fuchs", to=reply_to))
    assert harness.process() == []
    assert entries(harness)[0]["merchant_id"] is None
    harness.send(harness.reply(question, CUSTOMER, "Das war Möbel Fuchs.", to=reply_to))
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.feedback_thanks")]
    [entry] = entries(harness)
    assert entry["merchant_id"] == harness.merchant("moebel-fuchs").id
    assert entry["merchant_named_by"] == "author"


@pytest.mark.parametrize(
    ("sender", "to"),
    [
        (MERCHANT, "lob+moebel-fuchs@siegel.test"),  # its support address, the shop named
        (f"Team@Lager.{MERCHANT_DOMAIN.upper()}", "lob@siegel.test"),  # a subdomain of it
        (f"freunde@{MERCHANT_DOMAIN}", "beschwerde@siegel.test"),  # praise at beschwerde@
    ],
)
def test_a_shop_praising_itself_by_mail_is_held_not_recorded(
    harness: Harness, sender: str, to: str
) -> None:
    """As the web form refuses it: Lob & Tadel about the shop from its own address or
    domain records nothing, counts nowhere, is held for the operator, and the sender is
    told why in its language."""
    text = "Großes Lob an Möbel Fuchs: schnelle Lieferung, sehr freundlicher Service!"
    harness.send(compose(f"Fan <{sender}>", to, "Lob", text))
    sent = harness.process()
    assert harness.sent(sent) == [(sender.lower(), "sender.self_feedback")]
    assert "Ein Shop kann sich nicht selbst bewerten" in " ".join(plain(sent[0]).split())
    assert entries(harness) == [] and cases(harness) == []
    [row] = json.loads(harness.cli("held", "--json").stdout)
    assert row["reason"] == "self-feedback" and row["sender_told"]
    barometer = json.loads(harness.cli("barometer", "moebel-fuchs", "--json").stdout)
    assert barometer["feedback"] == {"praise": 0, "criticism": 0}


def test_naming_its_own_shop_for_feedback_records_nothing_for_it(harness: Harness) -> None:
    """Feedback naming no shop from the shop's domain, asked which shop: the answer
    naming the shop itself leaves the entry without a shop and is held."""
    sender = f"freunde@{MERCHANT_DOMAIN}"
    harness.send(compose(sender, "lob@siegel.test", "Toll", "Ein toller Laden, gerne wieder!"))
    [question] = harness.process()
    reply_to = question.message["Reply-To"]
    harness.send(harness.reply(question, sender, "Das war Möbel Fuchs.", to=reply_to))
    told = harness.process()
    assert harness.sent(told) == [(sender, "sender.self_feedback")]
    [entry] = entries(harness)
    assert entry["merchant_id"] is None


def test_an_automatic_mail_to_lob_is_not_recorded(harness: Harness) -> None:
    """An out-of-office note to lob@ is no feedback: held, not answered."""
    message = compose(CUSTOMER, "lob@siegel.test", "Abwesenheitsnotiz: Toll", "Ich bin im Urlaub.")
    message["Auto-Submitted"] = "auto-replied"
    harness.send(message)
    assert harness.process() == []
    assert entries(harness) == []
    assert "machine-mail" in harness.cli("held", "--json").stdout


def test_the_thanks_names_the_complaint_address(harness: Harness) -> None:
    """Whoever meant to complain learns where to: the thanks names beschwerde@."""
    harness.send(compose(CUSTOMER, "lob@siegel.test", "Lob", "Möbel Fuchs: super Service!"))
    [thanks] = harness.process()
    assert "beschwerde@siegel.test" in plain(thanks)


def test_the_operator_lists_lob_und_tadel(harness: Harness) -> None:
    """`siegel feedback` shows the entries with their shop, or that it is not yet named."""
    harness.send(compose(CUSTOMER, "lob+moebel-fuchs@siegel.test", "Lob", "Tadel: zu langsam"))
    harness.send(compose(CUSTOMER, "lob@siegel.test", "Lob", "Ein toller Laden!"))
    harness.process()
    listed = json.loads(harness.cli("feedback", "--json").stdout)
    assert {(row["merchant"], row["criticism"]) for row in listed} == {
        ("moebel-fuchs", "zu langsam"),
        (None, ""),
    }
    text = harness.cli("feedback", "--merchant", "moebel-fuchs").stdout
    assert "criticism: zu langsam" in text and "not yet named" not in text
