"""A merchant's attacks on its own figures, end to end: real SMTP in, the worker and the
relay in-process, the sink as relay (a security test's findings).

1. The shop complains about itself from its own address or domain, so that it plays
   both parties of a case: no case is opened, the mail is held, nothing counts; a case
   from an address registered to the shop later counts for nothing either.
2. A word or two ("Danke", "ok") is no first substantive reply: the customer reads it,
   the clock runs on, the merchant is told.
3. A case address a party writes into its text (the key to act for that party) is
   never passed on to another party.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mediation import certificate_store, figure_store, storage
from mediation.addresses import Role
from tests.harness import Harness, addressed_to, compose, plain
from tests.sink import Received, Sink
from tests.test_attacks_e2e import _with_merchant
from tests.test_cases_e2e import COMPLAINT_TEXT, CUSTOMER, MERCHANT, REF, complain

SLUG = "moebel-fuchs"
COMPLAINT_TO_SHOP = f"beschwerde+{SLUG}@siegel.test"


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = _with_merchant(Harness(engine, tmp_path, sink))
    yield running
    running.stop()


def figures(harness: Harness) -> dict[str, Any]:
    """Everything the seal reads of the shop as of tomorrow: the tier's inputs (its
    aggregate), the barometer's score distribution, the complaints per month."""
    at = harness.clock() + timedelta(days=1)
    with Session(harness.engine) as session:
        merchant = storage.merchant_by_slug(session, SLUG)
        assert merchant is not None and merchant.id is not None
        [aggregate] = figure_store.aggregates(session, at, 12, [merchant.id])
        months = [at - timedelta(days=40), at - timedelta(days=10), at + timedelta(days=1)]
        return {
            "aggregate": dataclasses.asdict(aggregate),
            "distribution": figure_store.rating_distribution(session, merchant.id, at, 12),
            "complaints": certificate_store.complaints_per_month(session, merchant.id, months),
        }


def held(harness: Harness) -> list[dict[str, Any]]:
    status, output, errors = harness.siegel("held", "--json")
    assert status == 0, errors
    return json.loads(output)


def cases(harness: Harness) -> list[dict[str, Any]]:
    status, output, errors = harness.siegel("cases", "--json")
    assert status == 0, errors
    return json.loads(output)


def words(mail: Received) -> str:
    """The plain text of `mail` on one line, as it reads whatever its line breaks."""
    return " ".join(plain(mail).split())


def texts(mails: list[Received]) -> str:
    """Every text and HTML part of `mails`, with their subjects."""
    found = []
    for mail in mails:
        found.append(str(mail.message["Subject"]))
        for part in mail.message.walk():
            if part.get_content_maintype() == "text":
                found.append(part.get_content())
    return "\n".join(found)


# ------------------------------------------------------------------ 1. the shop about itself


@pytest.mark.parametrize(
    ("sender", "to"),
    [
        (MERCHANT, COMPLAINT_TO_SHOP),  # its registered support address
        ("kunde1@moebel-fuchs.test", COMPLAINT_TO_SHOP),  # an address at its domain
        ("info@lager.moebel-fuchs.test", COMPLAINT_TO_SHOP),  # at a subdomain of it
        ("SERVICE@Moebel-Fuchs.TEST", COMPLAINT_TO_SHOP),  # any letter case
        ("kunde1@moebel-fuchs.test", "beschwerde@siegel.test"),  # the shop found in the text
    ],
)
def test_a_shop_complaining_about_itself_opens_no_case_and_counts_for_nothing(
    harness: Harness, sender: str, to: str
) -> None:
    """A complaint about the shop from its own address or domain opens no case: it is
    held as a self-complaint for the operator, the sender is told why in German, nothing
    reaches the shop's case address, and the shop's figures do not move."""
    before = figures(harness)
    harness.send(compose(f"Kunde Eins <{sender}>", to, "Sofa beschädigt", COMPLAINT_TEXT))
    sent = harness.process()
    assert harness.sent(sent) == [(sender.lower(), "sender.self_complaint")]
    assert "Ein Shop kann sich nicht über sich selbst beschweren" in words(sent[0])
    assert sent[0].message["Reply-To"] is None and not REF.search(str(sent[0].message["Subject"]))
    assert cases(harness) == []
    [row] = held(harness)
    assert row["reason"] == "self-complaint" and row["case"] is None and row["sender_told"]
    assert figures(harness) == before


def test_the_shop_is_told_in_english_when_it_complains_in_english(harness: Harness) -> None:
    """The sender's language is the language of the notice."""
    complaint = (
        "Hello,\n\nI ordered a sofa from Möbel Fuchs (order MF-204518). It arrived with a "
        "torn cover and a broken armrest, and nobody answers my emails.\n\nBest regards\nKim\n"
    )
    harness.send(compose(f"Kim <{MERCHANT}>", COMPLAINT_TO_SHOP, "Damaged sofa", complaint))
    [notice] = harness.process()
    assert harness.sent([notice]) == [(MERCHANT, "sender.self_complaint")]
    assert "A shop cannot complain about itself" in words(notice)


def test_the_domain_of_a_support_address_at_a_mail_provider_is_not_the_shops(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """A shop whose support address is at a mail provider: another customer of that
    provider is a customer, and the complaint opens a case as any other."""
    harness = Harness(engine, tmp_path, sink)
    try:
        harness.add_merchant(
            SLUG, "Möbel Fuchs", "moebelfuchs@freemail.test", "--domain", "moebel-fuchs.test"
        )
        ref, sent = complain(harness, customer="erika@freemail.test")
        assert harness.case(ref)["state"] == "awaiting_merchant"
        assert addressed_to(sent, "moebelfuchs@freemail.test")
        assert held(harness) == []
    finally:
        harness.stop()


def test_naming_its_own_shop_when_asked_which_shop_opens_nothing_either(
    harness: Harness,
) -> None:
    """A complaint from the shop's domain that names no shop is asked which shop it is
    about; the answer naming the shop itself is held as a self-complaint, the case gets
    no merchant, and the operator cannot give it the shop by hand either."""
    sender = "kunde1@moebel-fuchs.test"
    harness.send(compose(sender, "beschwerde@siegel.test", "Beschwerde", "Mein Paket kam nie an."))
    [question] = harness.process()
    ref = REF.search(str(question.message["Subject"])).group(1)  # type: ignore[union-attr]
    assert harness.case(ref)["state"] == "needs_merchant"
    harness.send(harness.reply(question, sender, "Es geht um Möbel Fuchs."))
    told = harness.process()
    assert harness.sent(told) == [(sender, "sender.self_complaint")]
    case = harness.case(ref)
    assert case["state"] == "needs_merchant" and case["merchant"] is None
    assert [h["reason"] for h in case["held_mails"]] == ["self-complaint"]
    refused = harness.cli("case", ref, "--merchant", SLUG, check=False)
    assert refused.returncode == 1
    assert "a shop cannot complain about itself" in refused.stderr
    assert harness.case(ref)["merchant"] is None


def test_a_case_from_an_address_registered_to_the_shop_later_counts_for_nothing(
    harness: Harness,
) -> None:
    """Defence in depth: a case whose customer wrote from a domain not yet registered to
    the shop counts (reply, resolution, rating); once that domain is registered to the
    shop, the case and its rating leave every figure: the tier's inputs, the
    barometer's distribution and the complaints per month."""
    before = figures(harness)
    customer = "kundin@fuchs-outlet.test"
    _, sent = complain(harness, COMPLAINT_TO_SHOP, customer=customer)
    [forward] = addressed_to(sent, MERCHANT)
    answer = "Wir holen das Sofa nächste Woche ab und liefern ein neues."
    harness.send(harness.reply(forward, MERCHANT, answer))
    [forwarded] = addressed_to(harness.process(), customer)
    harness.send(harness.reply(forwarded, customer, "Ja, gelöst."))
    [closing] = addressed_to(harness.process(), customer)
    harness.send(harness.reply(closing, customer, "5 5 5"))
    assert harness.sent(harness.process()) == [(customer, "customer.rating_thanks")]
    counted = figures(harness)
    assert counted["aggregate"]["cases"] == 1 and counted["aggregate"]["resolved"] == 1
    assert counted["aggregate"]["ratings"] == 1 and counted["complaints"] == [0, 1]
    status, _, errors = harness.siegel(
        "merchant", "set", SLUG, "--domain", "moebel-fuchs.test", "--domain", "fuchs-outlet.test"
    )
    assert status == 0, errors
    assert figures(harness) == before
    status, output, errors = harness.siegel("barometer", SLUG, "--json")
    assert status == 0, errors
    barometer = json.loads(output)
    assert barometer["figures"]["cases"] == 0 and barometer["ratings"]["count"] == 0


# ------------------------------------------------------------------ 2. a word is no answer


@pytest.mark.parametrize("word", ["asdfgh", "ok", "Danke", "Vielen Dank!", "Thanks"])
def test_a_word_or_two_from_the_merchant_is_forwarded_but_stops_no_clock(
    harness: Harness, word: str
) -> None:
    """A merchant's reply of a single word is no first substantive reply: no reply time
    is measured, the case still waits for the merchant, the customer gets the words
    (saying that the answer is still due), and the merchant learns that its deadline
    runs on, with the deadline."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, word))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMER, "customer.merchant_short_message"),
        (MERCHANT, "merchant.reply_not_substantive"),
    ]
    [to_customer] = addressed_to(told, CUSTOMER)
    assert f"> {word}" in plain(to_customer)
    [to_merchant] = addressed_to(told, MERCHANT)
    assert "läuft deshalb weiter, bis" in words(to_merchant)
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
    kinds = [event["kind"] for event in case["events"]]
    assert "MerchantWrote" in kinds and "FirstReplyMeasured" not in kinds
    assert set(case["deadlines"]) == {"merchant_reply", "merchant_reminder"}


@pytest.mark.parametrize("text", ["x", ".", "👍"])
def test_a_reply_without_a_word_of_its_own_reaches_only_its_writer(
    harness: Harness, text: str
) -> None:
    """No word of at least two letters (the quote alone, a sign): recorded, nothing
    forwarded, the clock runs on, and the merchant is told so, in its language."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, text))
    told = harness.process()
    assert harness.sent(told) == [(MERCHANT, "merchant.reply_without_text")]
    assert "keinen Text von Ihnen" in " ".join(plain(told[0]).split())
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None


def test_a_substantive_reply_after_a_word_stops_the_clock(harness: Harness) -> None:
    """After "Danke" the merchant's real answer is the first substantive reply: measured,
    forwarded with the question whether the problem is solved."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, "Danke"))
    harness.process()
    answer = "Wir holen das Sofa ab und liefern ein neues."
    harness.send(harness.reply(forward, MERCHANT, answer))
    told = harness.process()
    assert (CUSTOMER, "customer.merchant_reply_forwarded") in harness.sent(told)
    case = harness.case(ref)
    assert case["state"] == "awaiting_customer" and case["first_reply_seconds"] is not None
    measured = [e for e in case["events"] if e["kind"] == "FirstReplyMeasured"]
    assert len(measured) == 1


def test_the_words_a_reply_needs_are_configured(engine: Engine, tmp_path: Path, sink: Sink) -> None:
    """`[deadlines] substantive_reply_words = 1`: one word of substance stops the clock;
    thanks alone still do not."""
    harness = _with_merchant(
        Harness(engine, tmp_path, sink, deadlines={"substantive_reply_words": 1})
    )
    try:
        ref, sent = complain(harness)
        [forward] = addressed_to(sent, MERCHANT)
        harness.send(harness.reply(forward, MERCHANT, "Danke!"))
        harness.process()
        assert harness.case(ref)["state"] == "awaiting_merchant"
        harness.send(harness.reply(forward, MERCHANT, "Erstattet."))
        harness.process()
        assert harness.case(ref)["state"] == "awaiting_customer"
    finally:
        harness.stop()


def test_a_short_merchant_message_after_the_first_reply_is_forwarded(harness: Harness) -> None:
    """Once the clock has stopped, a merchant's "Danke" is a message like any: the
    customer gets it; nothing else changes."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, "Wir liefern ein neues Sofa."))
    harness.process()
    harness.send(harness.reply(forward, MERCHANT, "Danke"))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMER, "customer.merchant_message"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    assert harness.case(ref)["state"] == "awaiting_customer"


# ------------------------------------------------------------------ 3. case addresses stay


def test_a_case_address_the_customer_writes_never_reaches_the_merchant(
    harness: Harness,
) -> None:
    """The customer pastes its own case address (and another case's, upper-cased) into
    a message: the merchant's copy says "[Fall-Adresse entfernt]" in text and HTML, and
    holds no case address; a forgery "from" the customer to an address it never saw
    is impossible, and the case stays open."""
    ref, sent = complain(harness)
    [ack] = addressed_to(sent, CUSTOMER)
    own = harness.case_address(ref, Role.CUSTOMER)
    other = harness.case_address("SSG-2026-999999", Role.MERCHANT).upper()
    message = f"Meine Adresse fuer den Fall ist {own}\nund die andere: <{other}>."
    harness.send(harness.reply(ack, CUSTOMER, message))
    told = harness.process()
    [to_merchant] = addressed_to(told, MERCHANT)
    assert harness.sent([to_merchant]) == [(MERCHANT, "merchant.customer_message")]
    everything = texts(addressed_to(harness.sink.received, MERCHANT)).lower()
    assert "fall+" not in everything and own.split("@")[0] not in everything
    assert "[Fall-Adresse entfernt]" in plain(to_merchant)
    assert "Meine Adresse fuer den Fall ist [Fall-Adresse entfernt]" in plain(to_merchant)
    html = to_merchant.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "[Fall-Adresse entfernt]" in html and "fall+" not in html.lower()
    assert harness.case(ref)["state"] == "awaiting_merchant"


def test_a_case_address_the_merchant_writes_reaches_the_customer_masked_in_english(
    harness: Harness,
) -> None:
    """The other way round, in the recipient's language: the merchant's answer naming
    the customer's case address reaches an English customer as "[case address removed]";
    the complaint forwarded to the merchant keeps no case address either."""
    complaint = (
        "Hello,\n\nmy sofa from Möbel Fuchs (order MF-204518) arrived broken. An earlier case "
        f"of mine: {harness.case_address('SSG-2026-000777', Role.CUSTOMER)}\n\nKim\n"
    )
    harness.send(compose(f"Kim <{CUSTOMER}>", "beschwerde@siegel.test", "Broken sofa", complaint))
    sent = harness.process()
    [forward] = addressed_to(sent, MERCHANT)
    assert "fall+" not in plain(forward).lower() and "[Fall-Adresse entfernt]" in plain(forward)
    ref = REF.search(str(forward.message["Subject"])).group(1)  # type: ignore[union-attr]
    customer_address = harness.case_address(ref, Role.CUSTOMER)
    answer = f"We will replace the sofa next week. Please write to {customer_address} if not."
    harness.send(harness.reply(forward, MERCHANT, answer))
    [forwarded] = addressed_to(harness.process(), CUSTOMER)
    assert "[case address removed]" in plain(forwarded)
    assert customer_address not in plain(forwarded)


# ------------------------------------------------------------------ no flood through us


def test_a_partys_messages_beyond_the_daily_limit_are_held_not_passed_on(
    sqlite_engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """A merchant sending message after message to its case (a black-box run sent 25 in
    a third of a second, each reaching the customer): within 24 hours only `[mediation]
    max_messages_per_day` are passed on; the next is held and the merchant told once,
    the ones after it held silently. The customer's own word still gets through."""
    harness = _with_merchant(
        Harness(sqlite_engine, tmp_path, sink, mediation={"max_messages_per_day": 3})
    )
    try:
        ref, sent = complain(harness)
        [forward] = addressed_to(sent, MERCHANT)
        answer = "Wir holen das Sofa nächste Woche ab und liefern ein neues, versprochen."
        harness.send(harness.reply(forward, MERCHANT, answer))
        assert addressed_to(harness.process(), CUSTOMER)  # the answer: 1 of 3
        assert harness.case(ref)["first_reply_seconds"] is not None
        reached, told = [], []
        for number in range(2, 7):
            text = f"Nachricht Nummer {number}: Bitte melden Sie sich, es ist dringend."
            harness.send(harness.reply(forward, MERCHANT, text, quote=False))
            mails = harness.process()
            reached += addressed_to(mails, CUSTOMER)
            told += [kind for to, kind in harness.sent(mails) if to == MERCHANT]
        assert len(reached) == 2  # numbers 2 and 3
        assert told.count("sender.too_many_messages") == 1
        reasons = [entry["reason"] for entry in held(harness)]
        assert reasons.count("too-many-messages") == 3
        harness.send(harness.reply(reached[-1], CUSTOMER, "Bitte hören Sie auf, mir zu schreiben."))
        assert addressed_to(harness.process(), MERCHANT)
    finally:
        harness.stop()
