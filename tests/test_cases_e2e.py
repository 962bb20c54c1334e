"""Cases end to end: real SMTP in, the worker and relay in-process, the sink as relay.

A complaint becomes a case, the merchant gets it with a deadline, its reply latency is
measured, a dispute goes to mediation and the mediator works it by reply; deadlines
are driven by `siegel sweep --at` in a subprocess against the same database.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from mailflow.db import is_postgres
from mailflow.models import StoredMail
from mailflow.processing import Context, process_mail
from mailflow.worker import Worker
from mediation import templates
from mediation.addresses import Role
from mediation.business_time import BusinessCalendar
from mediation.storage import Case
from tests.harness import MEDIATORS, Harness, addressed_to, compose, plain
from tests.sink import Received, Sink

CUSTOMER = "erika.muster@example.org"
MERCHANT = "service@moebel-fuchs.test"
MEDIATOR = MEDIATORS[0]
COMPLAINT_TEXT = (
    "Guten Tag,\n\n"
    "ich habe am 2. März bei Möbel Fuchs ein Sofa bestellt (Bestellnummer MF-204518).\n"
    "Geliefert wurde es mit einem tiefen Riss im Bezug, die Armlehne ist abgebrochen.\n"
    "Auf meine Mails an den Kundenservice hat seit einer Woche niemand reagiert.\n"
    "Ich möchte ein neues Sofa oder mein Geld zurück.\n\n"
    "Viele Grüße\nErika Muster\n"
)
REF = re.compile(r"\[(SSG-\d{4}-\d{6})\]")


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant(
        "moebel-fuchs",
        "Möbel Fuchs",
        MERCHANT,
        "--domain",
        "moebel-fuchs.test",
        "--order-pattern",
        r"\bMF-\d{6}\b",
    )
    yield running
    running.stop()


def complain(
    harness: Harness, to: str = "beschwerde@siegel.test", customer: str = CUSTOMER
) -> tuple[str, list[Received]]:
    """Send the standard complaint; returns the case reference and the mails it caused."""
    harness.send(compose(f"Erika Muster <{customer}>", to, "Sofa beschädigt", COMPLAINT_TEXT))
    sent = harness.process()
    [ack] = addressed_to(sent, customer)
    found = REF.search(ack.message["Subject"])
    assert found, ack.message["Subject"]
    return found.group(1), sent


def merchant_answers(harness: Harness, forward: Received) -> list[Received]:
    text = (
        "Sehr geehrte Frau Muster,\n\nes tut uns leid. Wir holen das Sofa nächste Woche ab "
        "und liefern ein neues.\n\nMit freundlichen Grüßen\nIhr Möbel-Fuchs-Kundenservice"
    )
    harness.send(harness.reply(forward, f"Möbel Fuchs Service <{MERCHANT}>", text))
    return harness.process()


def to_mediation(harness: Harness, customer: str = CUSTOMER) -> tuple[str, list[Received]]:
    """Complaint, merchant reply, customer "not solved": the case is in mediation."""
    ref, sent = complain(harness, customer=customer)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded_reply] = addressed_to(merchant_answers(harness, forward), customer)
    harness.send(
        harness.reply(
            forwarded_reply,
            customer,
            "Nein, das ist nicht gelöst. Die Abholung wurde schon zweimal verschoben.",
        )
    )
    return ref, harness.process()


def to_proposal(harness: Harness) -> tuple[str, list[Received]]:
    """…and the mediator proposes a settlement: the case waits for both answers."""
    ref, sent = to_mediation(harness)
    [case_file] = [m for m in addressed_to(sent, MEDIATOR)]
    harness.send(
        harness.reply(
            case_file,
            MEDIATOR,
            "Guten Tag,\n\nnach Durchsicht der Unterlagen schlage ich vor:\n"
            "#vorschlag Möbel Fuchs erstattet den vollen Kaufpreis von 899 Euro und holt "
            "das Sofa auf eigene Kosten ab.",
        )
    )
    return ref, harness.process()


# ------------------------------------------------------------------ complaint


def test_a_complaint_is_acknowledged_and_forwarded_with_the_deadline(harness: Harness) -> None:
    """A complaint gives the customer an acknowledgement and the merchant the complaint,
    each with the case reference, its case address as Reply-To and the deadline."""
    ref, sent = complain(harness)
    assert sorted(harness.sent(sent)) == [
        (CUSTOMER, "customer.complaint_acknowledged"),
        (MERCHANT, "merchant.complaint_forwarded"),
    ]
    case = harness.case(ref)
    assert (case["state"], case["merchant"], case["customer"]) == (
        "awaiting_merchant",
        "moebel-fuchs",
        CUSTOMER,
    )
    due = datetime.fromisoformat(case["deadlines"]["merchant_reply"])
    shown = templates.format_moment(due, "de", "Europe/Berlin")
    [ack] = addressed_to(sent, CUSTOMER)
    [forward] = addressed_to(sent, MERCHANT)
    for mail, role in ((ack, Role.CUSTOMER), (forward, Role.MERCHANT)):
        message = mail.message
        assert f"[{ref}]" in message["Subject"]
        assert message["Reply-To"] == harness.case_address(ref, role)
        assert shown in plain(mail)
        assert message["Content-Language"] == "de"
        assert message.get_body(("html",)) is not None
    # The acknowledgement answers the complaint (RFC 3834), the forward is a new mail.
    [complaint] = _stored(harness)
    assert ack.message["In-Reply-To"] == complaint.message_id
    assert ack.message["Auto-Submitted"] == "auto-replied"
    assert forward.message["Auto-Submitted"] == "auto-generated"
    assert "Riss im Bezug" in plain(forward) and CUSTOMER in plain(forward)
    [opened] = [e for e in case["events"] if e["kind"] == "ComplaintReceived"]
    assert opened["mail"]["id"] == complaint.id
    assert "order-number" in opened["reason"]


def test_a_long_complaint_is_forwarded_cut_with_a_line_that_says_so(harness: Harness) -> None:
    """A complaint longer than the forward quotes (20,000 characters) reaches the shop cut,
    with a line in the shop's language that says how long the whole text is and that it
    is kept with the case; a short one has no such line."""
    paragraph = "Die Lieferung von Möbel Fuchs kam beschädigt an, das Sofa ist unbrauchbar. " * 8
    text = "\n\n".join(f"{n}. {paragraph}" for n in range(60))
    harness.send(compose(f"Erika Muster <{CUSTOMER}>", "beschwerde@siegel.test", "Sofa", text))
    [forward] = addressed_to(harness.process(), MERCHANT)
    shown = " ".join(plain(forward).split())
    line = r"\[… hier gekürzt: Der ganze Text \((\d+)\.(\d{3}) Zeichen\) ist beim Fall gespeichert"
    said = re.search(line, shown)
    assert said is not None and int(said[1] + said[2]) in (len(text), len(text) + 1)
    assert "59. Die Lieferung" not in shown
    _, sent = complain(harness, customer="kurz@example.org")
    [short] = addressed_to(sent, MERCHANT)
    assert "gekürzt" not in plain(short)


def test_the_complaint_address_with_a_slug_names_the_merchant(harness: Harness) -> None:
    """beschwerde+SLUG@ names the merchant even when the mail does not."""
    harness.send(
        compose(
            CUSTOMER, "beschwerde+moebel-fuchs@siegel.test", "Lieferung", "Wo bleibt mein Paket?"
        )
    )
    sent = harness.process()
    assert sorted(harness.sent(sent))[1] == (MERCHANT, "merchant.complaint_forwarded")


def test_an_unknown_shop_is_asked_for_and_the_answer_routes_the_case(harness: Harness) -> None:
    """No shop found: the customer is asked; naming the shop in the answer forwards it."""
    harness.send(
        compose(CUSTOMER, "complaints@siegel.test", "Paket", "Mein Paket fehlt seit Wochen.")
    )
    [question] = harness.process()
    assert harness.sent([question]) == [(CUSTOMER, "customer.merchant_requested")]
    ref = REF.search(question.message["Subject"]).group(1)  # type: ignore[union-attr]
    assert harness.case(ref)["state"] == "needs_merchant"
    answer = "Das war bei moebel-fuchs.test, Bestellung 88123, sorry."
    harness.send(harness.reply(question, CUSTOMER, answer))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == [
        (CUSTOMER, "customer.complaint_acknowledged"),
        (MERCHANT, "merchant.complaint_forwarded"),
    ]
    assert harness.case(ref)["state"] == "awaiting_merchant"
    # The shop reads the complaint and what the customer added (the order number).
    [forward] = addressed_to(sent, MERCHANT)
    text = plain(forward)
    assert "> Mein Paket fehlt seit Wochen." in text
    assert f"Nachtrag der Kundin / des Kunden auf unsere Frage nach dem Shop:\n> {answer}" in text


def test_an_empty_mail_opens_no_case_and_its_sender_is_asked_to_write_again(
    harness: Harness,
) -> None:
    """No subject, no text, no attachment: held (`empty-complaint`), no case, and the
    sender asked what happened; a mail with a subject alone is a complaint."""
    harness.send(compose(CUSTOMER, "beschwerde@siegel.test", "", ""))
    [asked] = harness.process()
    assert harness.sent([asked]) == [(CUSTOMER, "sender.complaint_empty")]
    assert "ohne Betreff, ohne Text und ohne Anhang" in " ".join(plain(asked).split())
    status, listed, _ = harness.siegel("cases", "--json")
    assert status == 0 and json.loads(listed) == []
    status, held, _ = harness.siegel("held", "--json")
    assert [row["reason"] for row in json.loads(held)] == ["empty-complaint"]
    harness.send(
        compose(CUSTOMER, "beschwerde@siegel.test", "Sofa von moebel-fuchs.test kaputt", "")
    )
    assert (CUSTOMER, "customer.complaint_acknowledged") in harness.sent(harness.process())


def test_the_shop_named_as_customers_write_it_is_found_in_complaint_and_answer(
    harness: Harness,
) -> None:
    """A registered alias ("Grüne Tasse") and a variant ("TechStore" of "TechStore24")
    route a complaint; the alias in the answer to "which shop?" routes that case too."""
    tea, tech = "hallo@gruene-tasse.test", "service@techstore24.test"
    harness.add_merchant(
        "gruene-tasse", "Grüne Tasse Teehandel", tea, "--name-alias", "Grüne Tasse"
    )
    harness.add_merchant("techstore24", "TechStore24", tech, "--domain", "techstore24.test")
    for text, merchant in [
        ("Bei Grüne Tasse bestellter Tee kam nie an.", tea),
        ("Der Laptop von TechStore ist defekt angekommen.", tech),
    ]:
        harness.send(compose(CUSTOMER, "beschwerde@siegel.test", "Bestellung", text))
        assert (merchant, "merchant.complaint_forwarded") in harness.sent(harness.process())
    harness.send(compose(CUSTOMER, "beschwerde@siegel.test", "Paket", "Mein Paket fehlt."))
    [question] = harness.process()
    ref = REF.search(question.message["Subject"]).group(1)  # type: ignore[union-attr]
    harness.send(harness.reply(question, CUSTOMER, "Grüne Tasse"))
    assert (tea, "merchant.complaint_forwarded") in harness.sent(harness.process())
    assert harness.case(ref)["merchant"] == "gruene-tasse"


def test_a_complaint_about_two_shops_opens_one_case_and_says_so(harness: Harness) -> None:
    """The customer complains about two shops in one mail; the first rule's shop gets the
    case, and the acknowledgement tells the customer to write apart about the other (a
    black-box run's second shop never heard of it, and nobody said so)."""
    harness.add_merchant("bohnenglueck", "Kaffeerösterei Bohnenglück GmbH", "abo@bohnenglueck.test")
    text = (
        "Bei Möbel Fuchs wurde mir das Sofa MF-204518 beschädigt geliefert, und bei der "
        "Kaffeerösterei Bohnenglück ist mein Abo trotz Kündigung nicht beendet."
    )
    harness.send(compose(CUSTOMER, "beschwerde@siegel.test", "Zwei Probleme", text))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == [
        (CUSTOMER, "customer.complaint_acknowledged"),
        (MERCHANT, "merchant.complaint_forwarded"),
    ]
    [ack] = addressed_to(sent, CUSTOMER)
    assert (
        "Ihre Nachricht nennt auch Kaffeerösterei Bohnenglück GmbH. Dieser Fall betrifft nur "
        "Möbel Fuchs" in plain(ack)
    )
    other = "otto@example.org"
    harness.send(compose(other, "beschwerde@siegel.test", "Sofa", "Möbel Fuchs: Sofa kaputt."))
    sent = harness.process()
    assert (other, "customer.complaint_acknowledged") in harness.sent(sent)
    [ack] = addressed_to(sent, other)
    assert "nennt auch" not in plain(ack) and "Möbel Fuchs" in plain(ack)


def test_a_complaint_naming_two_shops_alike_asks_which_and_says_why(harness: Harness) -> None:
    """Two shops by their full names, neither decided: the customer is asked which shop,
    and told that a case is about one and the other needs a mail of its own (the README
    walk's complaint about two shops asked without saying so)."""
    harness.add_merchant("gartenwelt", "Gartenwelt Schneider", "hilfe@gartenwelt.test")
    text = "Möbel Fuchs lieferte ein kaputtes Sofa, Gartenwelt Schneider buchte doppelt ab."
    harness.send(compose(CUSTOMER, "beschwerde@siegel.test", "Zwei Shops", text))
    [question] = harness.process()
    assert harness.sent([question]) == [(CUSTOMER, "customer.merchant_requested")]
    assert (
        "Ihre Nachricht nennt mehrere Shops: Gartenwelt Schneider und Möbel Fuchs. Ein Fall "
        "betrifft immer einen Shop" in plain(question)
    )


# ------------------------------------------------------------------ merchant reply


def test_the_merchant_reply_is_forwarded_with_the_latency_recorded(harness: Harness) -> None:
    """The merchant's first reply reaches the customer; the case records the wall-clock
    seconds and business hours between our receive times of complaint and reply."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    replies = merchant_answers(harness, forward)
    assert sorted(harness.sent(replies)) == [
        (CUSTOMER, "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),  # the merchant's confirmation
    ]
    [forwarded] = addressed_to(replies, CUSTOMER)
    assert "holen das Sofa nächste Woche ab" in plain(forwarded)
    assert "Riss im Bezug" not in plain(forwarded)  # the quoted forward is not passed on
    complaint, reply = _stored(harness)
    case = harness.case(ref)
    assert case["state"] == "awaiting_customer"
    assert case["first_reply_seconds"] == pytest.approx(
        (reply.received_at - complaint.received_at).total_seconds()
    )
    expected_hours = BusinessCalendar().business_hours_between(
        complaint.received_at, reply.received_at
    )
    assert case["first_reply_business_hours"] == pytest.approx(expected_hours)
    assert case["first_reply_within_deadline"] is True
    assert set(case["deadlines"]) == {"customer_answer"}


def test_a_link_in_the_merchant_html_reply_reaches_the_customer(harness: Harness) -> None:
    """A merchant's HTML-only reply (a Gmail reply with the forward quoted below it) keeps
    the target of its link in what the customer gets, "text (url)"; the quoted link, and a
    "javascript:" one, are not passed on."""
    _, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    reply = harness.reply(forward, f"Möbel Fuchs Service <{MERCHANT}>", "", quote=False)
    reply.set_content(
        '<div dir="ltr">Das Retourenlabel erhalten Sie <a href="https://shop.example/label/123">'
        'hier</a>. <a href="javascript:alert(1)">Gutschein</a><br>Gruss</div><br>'
        '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">Am Mo., 2. März 2026 um '
        "10:00 Uhr schrieb Service-Siegel:<br></div>"
        '<blockquote class="gmail_quote" style="border-left:1px solid #ccc;padding-left:1ex">'
        'Siehe <a href="https://quoted.example/riss">Fotos</a><br>Riss im Bezug</blockquote></div>',
        subtype="html",
    )
    harness.send(reply)
    [forwarded] = addressed_to(harness.process(), CUSTOMER)
    text = plain(forwarded)
    assert "Das Retourenlabel erhalten Sie hier (https://shop.example/label/123)." in text
    assert "Gutschein" in text
    assert "javascript" not in text
    assert "quoted.example" not in text and "Riss im Bezug" not in text
    # A URL someone else wrote is shown, never made a link of ours.
    html = forwarded.message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "https://shop.example/label/123" in html and "<a " not in html


@pytest.mark.parametrize(
    "headers, body",
    [
        pytest.param(
            {"Auto-Submitted": "auto-replied"},
            "Danke für Ihre Nachricht. Wir melden uns in Kürze.",
            id="rfc3834-header",
        ),
        pytest.param(
            {},
            "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 20.03. nicht im Büro "
            "und habe keinen Zugriff auf meine E-Mails. In dringenden Fällen wenden Sie sich "
            "bitte an zentrale@moebel-fuchs.test.",
            id="out-of-office-text",
        ),
        pytest.param(
            {},
            "Vielen Dank für Ihre Anfrage. Ihr Ticket #48213 wurde erstellt. Unser "
            "Kundenservice meldet sich innerhalb von 48 Stunden bei Ihnen. Bitte antworten "
            "Sie nicht auf diese automatisch erzeugte Nachricht.",
            id="ticket-acknowledgement",
        ),
    ],
)
def test_an_out_of_office_reply_does_not_stop_the_clock(
    harness: Harness, headers: dict[str, str], body: str
) -> None:
    """An automatic merchant reply (by header or by text) forwards nothing and stops no
    clock; the next human reply does."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    automatic = harness.reply(forward, MERCHANT, body, quote=False, headers=headers)
    automatic.replace_header("Subject", f"Abwesenheitsnotiz: {automatic['Subject']}")
    harness.send(automatic)
    assert harness.process() == []
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant"
    assert case["first_reply_seconds"] is None
    assert {"merchant_reply", "merchant_reminder"} <= set(case["deadlines"])
    assert not [e for e in case["events"] if e["kind"] == "MerchantReplied"]
    [recorded] = [e for e in case["events"] if e["kind"] == "AutomaticMailIgnored"]
    assert recorded["actor"] == "merchant"
    assert "automatic mail" in recorded["reason"]
    assert sorted(harness.sent(merchant_answers(harness, forward))) == [
        (CUSTOMER, "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    assert harness.case(ref)["first_reply_seconds"] is not None


@pytest.mark.parametrize(
    "stamp",
    [{"X-Auto-Response-Suppress": "All"}, {"Precedence": "bulk"}],
    ids=["x-auto-response-suppress", "precedence-bulk"],
)
def test_an_answer_from_a_helpdesk_that_stamps_its_mail_stops_the_clock(
    harness: Harness, stamp: dict[str, str]
) -> None:
    """Helpdesks stamp their agents' answers to keep out-of-office notes away: an answer
    reporting what was done reaches the customer and stops the clock despite the stamp."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    text = (
        "Sehr geehrte Frau Muster,\n\nwir haben die Ersatzlieferung veranlasst, das neue "
        "Sofa kommt am Donnerstag.\n\nJana Weber, Möbel-Fuchs-Kundenservice"
    )
    harness.send(harness.reply(forward, MERCHANT, text, headers=stamp))
    [forwarded] = addressed_to(harness.process(), CUSTOMER)
    assert "Ersatzlieferung veranlasst" in plain(forwarded)
    assert harness.case(ref)["first_reply_seconds"] is not None


def test_a_newsletter_naming_a_shop_opens_no_case(harness: Harness) -> None:
    """A newsletter (List-Unsubscribe) to the complaint address about a damaged sofa of a
    registered shop opens no case and is answered by nobody."""
    newsletter = compose(
        "Wohnideen Newsletter <info@wohnideen.example>",
        "beschwerde@siegel.test",
        "Sofa Luna von Möbel Fuchs: jetzt 20 % günstiger",
        "Ausstellungsstücke von Möbel Fuchs, leicht beschädigt und deshalb reduziert.\n",
        headers={"List-Unsubscribe": "<https://wohnideen.example/abmelden?u=77>"},
    )
    harness.send(newsletter)
    assert harness.process() == []
    assert "SSG-" not in harness.cli("cases").stdout


def test_a_forged_merchant_reply_is_held_and_the_sender_told(harness: Harness) -> None:
    """Right case address, wrong sender: nothing acts, the operator sees the mail, the
    sender is told, and the merchant's clock runs on."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    forger = "support@moebel-fuchs-service.test"
    harness.send(harness.reply(forward, forger, "Der Fall ist erledigt, bitte schließen."))
    told = harness.process()
    assert harness.sent(told) == [(forger, "sender.not_party")]
    assert f"[{ref}]" in told[0].message["Subject"]
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
    held = harness.cli("held", "--json").stdout
    assert '"reason": "sender-not-party"' in held and forger in held and ref in held


def test_a_complaint_without_a_subject_is_named_in_single_brackets(harness: Harness) -> None:
    """A case without a subject reads "(ohne Betreff)" in the mails that bracket the
    subject, not "((ohne Betreff))" (a black-box run)."""
    harness.send(compose(CUSTOMER, "beschwerde+moebel-fuchs@siegel.test", "", COMPLAINT_TEXT))
    [forward] = addressed_to(harness.process(), MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, "Danke"))
    [told] = addressed_to(harness.process(), MERCHANT)
    assert "(ohne Betreff)" in plain(told) and "((" not in plain(told)


def test_thanks_for_a_stalling_answer_close_nothing(harness: Harness) -> None:
    """A shop that only stalls ("wir prüfen Ihren Fall gerade intensiv") and a customer
    who thanks politely: the case stays open (a black-box run closed such cases as
    solved, for the shop's figures)."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    stall = "Wir bedauern die Unannehmlichkeiten und prüfen Ihren Fall gerade intensiv."
    harness.send(harness.reply(forward, MERCHANT, stall))
    [forwarded] = addressed_to(harness.process(), CUSTOMER)
    harness.send(harness.reply(forwarded, CUSTOMER, "Danke für die schnelle Antwort!"))
    harness.process()
    assert harness.case(ref)["state"] == "awaiting_customer"


def test_an_unclear_customer_answer_is_forwarded_and_asked_again(harness: Harness) -> None:
    """Neither "solved" nor "not solved": the merchant gets the message, the customer a
    short question, and the customer's time starts again."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    before = harness.case(ref)["deadlines"]["customer_answer"]
    question = "Können Sie mir sagen, an welchem Tag genau die Abholung stattfinden soll?"
    harness.send(harness.reply(forwarded, CUSTOMER, question))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == sorted(
        [(MERCHANT, "merchant.customer_message"), (CUSTOMER, "customer.solved_question")]
    )
    [to_merchant] = addressed_to(sent, MERCHANT)
    assert question in plain(to_merchant)
    case = harness.case(ref)
    assert case["state"] == "awaiting_customer"
    assert case["deadlines"]["customer_answer"] > before
    [wrote] = [e for e in case["events"] if e["kind"] == "CustomerWrote"]
    assert "intent other" in wrote["reason"]


def test_a_hedged_customer_answer_leaves_the_case_open(harness: Harness) -> None:
    """A hope is no "solved": the case stays open (the intent model alone closed it as
    resolved), the answer goes to the merchant and the customer is asked again, as with
    any unclear answer; nothing goes to mediation either."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    hedge = "Das Sofa soll nächste Woche kommen, dann ist es hoffentlich erledigt."
    harness.send(harness.reply(forwarded, CUSTOMER, hedge))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == sorted(
        [(MERCHANT, "merchant.customer_message"), (CUSTOMER, "customer.solved_question")]
    )
    case = harness.case(ref)
    assert (case["state"], case["mediator"]) == ("awaiting_customer", None)
    [wrote] = [e for e in case["events"] if e["kind"] == "CustomerWrote"]
    assert "intent other" in wrote["reason"]


# ------------------------------------------------------------------ mediation


def test_not_solved_goes_to_mediation_and_the_mediator_gets_the_case_file(
    harness: Harness,
) -> None:
    """ "Not solved" opens mediation; the mediator with the fewest open cases is assigned
    and gets the case file with the complaint and the history."""
    ref, sent = to_mediation(harness)
    case = harness.case(ref)
    assert (case["state"], case["mediator"]) == ("in_mediation", MEDIATOR)
    assert (MEDIATOR, "mediator.case_file") in harness.sent(sent)
    assert (MERCHANT, "merchant.mediation_started") in harness.sent(sent)
    [case_file] = addressed_to(sent, MEDIATOR)
    text = plain(case_file)
    assert "Riss im Bezug" in text and "holen das Sofa nächste Woche ab" in text
    assert "zweimal verschoben" in text
    assert case_file.message["Reply-To"] == harness.case_address(ref, Role.MEDIATOR)
    # The next case (another customer's: the same customer's repeat would join the open
    # case) goes to the other mediator, who has none open.
    second, _ = to_mediation(harness, customer="hans.beispiel@example.org")
    assert harness.case(second)["mediator"] == MEDIATORS[1]


def test_a_proposal_accepted_by_both_closes_the_case_as_settled(harness: Harness) -> None:
    """#vorschlag reaches both parties, one mail each with the mediator's words; both
    accept by reply: closed_settled."""
    ref, sent = to_proposal(harness)
    assert sorted(harness.sent(sent)) == sorted(
        [
            (MERCHANT, "merchant.proposal"),  # with the mediator's message in it
            (CUSTOMER, "customer.proposal"),
            (MEDIATOR, "mediator.proposal_sent"),  # one confirmation for its mail
        ]
    )
    [to_customer] = _of_kind(harness, sent, "customer.proposal")
    [to_merchant] = _of_kind(harness, sent, "merchant.proposal")
    assert "899 Euro" in plain(to_customer)
    assert "nach Durchsicht der Unterlagen" in plain(to_customer)
    assert plain(to_customer).count("899 Euro") == 1  # the proposal is not in the message
    assert harness.case(ref)["state"] == "proposal_pending"
    harness.send(harness.reply(to_customer, CUSTOMER, "Ja, ich nehme den Vorschlag an."))
    assert sorted(harness.sent(harness.process())) == [
        (CUSTOMER, "customer.acceptance_confirmed"),
        (MEDIATOR, "mediator.proposal_accepted"),
        (MERCHANT, "merchant.proposal_accepted"),
    ]
    harness.send(harness.reply(to_merchant, MERCHANT, "Einverstanden, wir erstatten den Betrag."))
    closing = harness.sent(harness.process())
    assert sorted(closing) == sorted(
        [
            (CUSTOMER, "customer.settled"),  # with the rating request in it
            (MERCHANT, "merchant.settled"),
            (MEDIATOR, "mediator.settled"),
        ]
    )
    case = harness.case(ref)
    assert case["state"] == "closed_settled" and case["deadlines"] == {}
    assert case["closed_at"] is not None


def test_only_an_answer_to_the_pending_proposal_accepts_it(harness: Harness) -> None:
    """Two black-box findings: a customer's "I accept" under the mediator's first
    proposal accepted the revised one it had never seen, and a German "Ja, das kann ich
    bestätigen" to the mediator's question accepted the pending proposal. An answer to a
    replaced proposal or to another mail of ours is a message to the mediator; an answer
    to the pending proposal's own mail accepts it."""
    ref, sent = to_proposal(harness)
    [first_proposal] = _of_kind(harness, sent, "customer.proposal")
    [to_mediator] = _of_kind(harness, sent, "mediator.proposal_sent")
    revised = "Ich korrigiere meinen Vorschlag.\n#vorschlag Möbel Fuchs erstattet 100 Euro."
    harness.send(harness.reply(to_mediator, MEDIATOR, revised))
    [second_proposal] = _of_kind(harness, harness.process(), "customer.proposal")

    harness.send(harness.reply(first_proposal, CUSTOMER, "Ja, ich nehme den Vorschlag an."))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == [
        (CUSTOMER, "customer.message_forwarded"),
        (MEDIATOR, "mediator.customer_message"),
    ]
    # Both are told that it did not count (a third black-box finding: the customer read
    # "you do not need to do anything now" while the proposal went on to expire).
    [confirmation] = addressed_to(sent, CUSTOMER)
    read = " ".join(plain(confirmation).split())
    assert "nicht gezählt" in read and "nichts tun" not in read
    due = datetime.fromisoformat(harness.case(ref)["deadlines"]["proposal_answer"])
    shown_due = templates.format_moment(due, "de", harness.config.siegel.timezone)
    assert f"Antworten Sie bis {shown_due} auf unsere E-Mail mit dem Vorschlag" in read
    [forwarded] = addressed_to(sent, MEDIATOR)
    assert "Als Antwort zählt sie nicht" in " ".join(plain(forwarded).split())

    question = "Eine Rückfrage an die Kundin: Können Sie bestätigen, dass das Sofa abgeholt wurde?"
    harness.send(harness.reply(to_mediator, MEDIATOR, question))
    [asked] = addressed_to(harness.process(), CUSTOMER)
    answer = "Ja, das kann ich bestätigen, es wurde gestern abgeholt."
    harness.send(harness.reply(asked, CUSTOMER, answer))
    harness.process()
    case = harness.case(ref)
    assert case["state"] == "proposal_pending"
    assert "ProposalAccepted" not in [event["kind"] for event in case["events"]]

    harness.send(harness.reply(second_proposal, CUSTOMER, "Ja, ich nehme den Vorschlag an."))
    assert (CUSTOMER, "customer.acceptance_confirmed") in harness.sent(harness.process())


def test_a_second_acceptance_is_passed_on_as_a_message_not_announced_again(
    harness: Harness,
) -> None:
    """A party that accepted writes "we accept" again, adding "both sides agree" (a
    black-box finding: the other party and the mediator were told of an acceptance
    twice, quoting it): it is one acceptance; the second mail is the party's message."""
    ref, sent_before = to_proposal(harness)
    [to_customer] = _of_kind(harness, sent_before, "customer.proposal")
    harness.send(harness.reply(to_customer, CUSTOMER, "Ja, ich nehme den Vorschlag an."))
    harness.process()
    again = (
        "Ich nehme den Vorschlag an, auch im Namen des Händlers. Beide Seiten sind einverstanden."
    )
    harness.send(harness.reply(to_customer, CUSTOMER, again))
    sent = harness.process()
    told = harness.sent(sent)
    assert not [kind for _, kind in told if kind.endswith("proposal_accepted")], told
    assert (MEDIATOR, "mediator.customer_message") in told
    # She has answered: nothing is up to her; the merchant, who has not, is reminded.
    [confirmation] = addressed_to(sent, CUSTOMER)
    assert "Sie müssen jetzt nichts tun" in plain(confirmation)
    [to_merchant] = _of_kind(harness, sent_before, "merchant.proposal")
    harness.send(harness.reply(to_merchant, MERCHANT, "Wir brauchen noch zwei Tage Bedenkzeit."))
    [reminded] = addressed_to(harness.process(), MERCHANT)
    read = " ".join(plain(reminded).split())
    assert "wartet aber noch auf Ihre Antwort" in read and "nichts tun" not in read
    case = harness.case(ref)
    assert case["state"] == "proposal_pending"
    assert [e["kind"] for e in case["events"]].count("ProposalAccepted") == 1


def test_the_case_file_tells_a_reply_without_text_from_an_answer(harness: Harness) -> None:
    """A merchant reply that only quoted our mail stops no clock; the mediator's case
    file lists it as a reply without a word of its own, not as a second answer (a
    black-box run read two identical "Merchant's reply" entries)."""
    _, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, ""))
    harness.process()
    [forwarded_reply] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    harness.send(harness.reply(forwarded_reply, CUSTOMER, "Nein, das ist nicht gelöst."))
    [case_file] = addressed_to(harness.process(), MEDIATOR)
    read = plain(case_file)
    assert read.count("Antwort des Händlers ohne eigenen Text (der Händler)") == 1
    assert read.count("Antwort des Händlers (der Händler)") == 1


def test_the_mediators_words_around_a_command_are_quoted_without_a_gap(harness: Harness) -> None:
    """The blank lines that stood around a removed #proposal line are one blank line in
    the mediator's words that both parties read, not a run of empty quoted lines."""
    _, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    words = "I suggest the following solution.\n\n#proposal The shop refunds 899 euros.\n\nSam"
    harness.send(harness.reply(case_file, MEDIATOR, words))
    proposals = harness.process()
    for party in (CUSTOMER, MERCHANT):
        [mail] = addressed_to(proposals, party)
        assert "> I suggest the following solution.\n>\n> Sam" in plain(mail)
        assert ">\n>\n>" not in plain(mail)


def test_a_conditional_agreement_to_a_proposal_is_a_message(harness: Harness) -> None:
    """ "Einverstanden wären wir nur, wenn ..." accepts nothing: the mediator reads the
    condition, and the proposal stays pending (tests/test_proposal_intent.py)."""
    ref, sent = to_proposal(harness)
    [to_merchant] = _of_kind(harness, sent, "merchant.proposal")
    text = "Einverstanden wären wir nur, wenn die Kundin das Sofa vorher zurückschickt."
    harness.send(harness.reply(to_merchant, MERCHANT, text))
    assert sorted(harness.sent(harness.process())) == [
        (MEDIATOR, "mediator.merchant_message"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    case = harness.case(ref)
    assert case["state"] == "proposal_pending"
    assert "ProposalAccepted" not in [event["kind"] for event in case["events"]]


@pytest.mark.parametrize("style", ["angle-quotes", "outlook"])
def test_a_quoted_close_command_does_not_close_the_case(harness: Harness, style: str) -> None:
    """A #abschluss in the quoted part of a mediator's reply is not read as a command."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    new_text = "Ich bitte beide Seiten um Fotos der Lieferung bis Freitag."
    if style == "angle-quotes":
        body = f"{new_text}\n\nAm 3. März schrieb ich:\n> #abschluss gelöst\n> Danke.\n"
    else:
        body = (
            f"{new_text}\n\n-----Ursprüngliche Nachricht-----\nVon: Schlichterin <{MEDIATOR}>\n"
            f"Gesendet: Dienstag, 3. März 2026 10:12\nAn: Service-Siegel\n"
            f"Betreff: {case_file.message['Subject']}\n\n#abschluss gelöst\n"
        )
    harness.send(harness.reply(case_file, MEDIATOR, body, quote=False))
    sent = harness.process()
    assert sorted(harness.sent(sent)) == sorted(
        [
            (MERCHANT, "merchant.mediator_message"),
            (CUSTOMER, "customer.mediator_message"),
            (MEDIATOR, "mediator.message_sent"),
        ]
    )
    assert all("#abschluss" not in plain(mail) for mail in sent)
    assert harness.case(ref)["state"] == "in_mediation"


def test_a_mediator_command_that_cannot_apply_is_explained_to_the_mediator(
    harness: Harness,
) -> None:
    """An unreadable #frist is not carried out: nothing reaches the parties, the
    mediator is told what was wrong."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    harness.send(harness.reply(case_file, MEDIATOR, "Liebe Parteien,\n#frist bald", quote=False))
    answer = harness.process()
    assert harness.sent(answer) == [(MEDIATOR, "mediator.command_problem")]
    assert "#frist bald" in plain(answer[0])
    assert harness.case(ref)["state"] == "in_mediation"


# ------------------------------------------------------------------ deadlines


def test_a_missed_deadline_gives_a_reminder_then_an_escalation(harness: Harness) -> None:
    """`siegel sweep --at` past 75 % of the deadline reminds the merchant; past the
    deadline the case goes to mediation and the miss is recorded; sweeping again
    changes nothing."""
    ref, _ = complain(harness)
    deadlines = harness.case(ref)["deadlines"]
    reminder_at = datetime.fromisoformat(deadlines["merchant_reminder"])
    reply_due = datetime.fromisoformat(deadlines["merchant_reply"])
    assert reminder_at < reply_due

    assert harness.sweep(reminder_at - timedelta(seconds=1)) == []
    reminded = harness.sweep(reminder_at)
    assert harness.sent(reminded) == [(MERCHANT, "merchant.merchant_reminder")]
    assert templates.format_moment(reply_due, "de", "Europe/Berlin") in plain(reminded[0])
    assert set(harness.case(ref)["deadlines"]) == {"merchant_reply"}

    escalated = harness.sweep(reply_due + timedelta(minutes=1))
    assert sorted(harness.sent(escalated)) == sorted(
        [
            # One mail per party: the assignment is in the escalation's mails.
            (CUSTOMER, "customer.mediation_started"),
            (MERCHANT, "merchant.deadline_missed"),
            (MEDIATOR, "mediator.case_file"),
        ]
    )
    case = harness.case(ref)
    assert (case["state"], case["merchant_missed_deadline"]) == ("in_mediation", True)
    assert set(case["deadlines"]) == {"mediation_end"}
    [passed] = [e for e in case["events"] if e["kind"] == "MerchantDeadlinePassed"]
    assert passed["at"] == reply_due.isoformat() and passed["actor"] == "system"
    assert harness.sweep(reply_due + timedelta(days=1)) == []


def test_a_late_sweep_catches_up_oldest_first(harness: Harness) -> None:
    """After downtime one sweep fires every due deadline in order, each at its own due
    time; a reminder of a deadline that has passed too is dropped, not sent: "answer by
    …" beside "deadline missed" confused a black-box run's shop."""
    ref, _ = complain(harness)
    reply_due = datetime.fromisoformat(harness.case(ref)["deadlines"]["merchant_reply"])
    sent = harness.sweep(reply_due + timedelta(days=3))
    to_merchant = [kind for to, kind in harness.sent(sent) if to == MERCHANT]
    assert to_merchant == ["merchant.deadline_missed"]
    kinds = [e["kind"] for e in harness.case(ref)["events"]]
    assert "ReminderDue" not in kinds
    assert kinds.index("ReminderSkipped") < kinds.index("MerchantDeadlinePassed")


# ------------------------------------------------------------------ fallbacks, closed cases


@pytest.mark.parametrize(
    "fallback, to",
    [
        ("threading", "beschwerde@siegel.test"),
        ("subject", "beschwerde@siegel.test"),
        ("threading", "service@siegel.test"),  # our From: the client ignored Reply-To
        ("subject", "postmaster@siegel.test"),
    ],
)
def test_a_reply_that_lost_its_reply_to_is_evidence_and_the_sender_gets_the_address(
    harness: Harness, fallback: str, to: str
) -> None:
    """A merchant reply sent to the complaint address or to our From address finds its
    case by In-Reply-To or by the [SSG-…] subject reference, but only attaches there: no
    clock stops, nothing is forwarded, and the sender is told its case address."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    answer = harness.reply(forward, MERCHANT, "Wir tauschen das Sofa aus.", to=to)
    if fallback == "subject":
        del answer["In-Reply-To"], answer["References"]
    harness.send(answer)
    [told] = harness.process()
    assert harness.sent([told]) == [(MERCHANT, "sender.use_case_address")]
    merchant_address = harness.case_address(ref, Role.MERCHANT)
    assert told.message["Reply-To"] == merchant_address
    assert merchant_address in plain(told)
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
    assert not [e for e in case["events"] if e["kind"] == "MerchantReplied"]
    [attached] = [e for e in case["events"] if e["kind"] == "EvidenceAttached"]
    assert f"found by {fallback}" in attached["reason"]
    assert [h["reason"] for h in case["held_mails"]] == ["not-case-address"]


def test_mail_to_a_closed_case_is_held_and_does_not_reopen_it(harness: Harness) -> None:
    """After "solved" the case is closed; a later mail is held, the sender told, the
    merchant not bothered, the state unchanged."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    harness.send(harness.reply(forwarded, CUSTOMER, "Ja, danke, das Problem ist gelöst."))
    closed = harness.process()
    closing = harness.sent(closed)
    assert (MERCHANT, "merchant.case_resolved") in closing
    assert harness.case(ref)["state"] == "closed_resolved"
    harness.send(harness.reply(forwarded, CUSTOMER, "Jetzt ist das neue Sofa auch kaputt!"))
    assert harness.sent(harness.process()) == [(CUSTOMER, "sender.case_closed")]
    # An answer to the closing notice (which asks for a rating) saying it is not solved
    # after all is a late word on the case, not a rating that could not be read.
    [notice] = addressed_to(closed, CUSTOMER)
    harness.send(harness.reply(notice, CUSTOMER, "Leider doch nicht gelöst! Es wackelt wieder."))
    assert harness.sent(harness.process()) == [(CUSTOMER, "sender.case_closed")]
    # The shop answering its closing notice's invitation ("Haben Sie Fragen, antworten
    # Sie auf diese E-Mail") is not sent to the complaint address (a black-box finding).
    [closing_notice] = addressed_to(closed, MERCHANT)
    harness.send(harness.reply(closing_notice, MERCHANT, "Eine Frage noch zur Rechnung."))
    [told] = harness.process()
    assert harness.sent([told]) == [(MERCHANT, "sender.case_closed_party")]
    assert "beschwerde@" not in plain(told) and "meldet sich bei Ihnen" in plain(told)
    case = harness.case(ref)
    assert case["state"] == "closed_resolved"
    assert [h["reason"] for h in case["held_mails"]] == ["closed-case"] * 3


# ------------------------------------------------------------------ repeat complaints
# The customer complains again about the same shop while a case is open: the repeat
# ("still no delivery!") is attached to the open case as evidence (no second case, no
# second forward, no second count in the seal's figures) and the customer is told the
# case and its address; another order of the shop is a separate matter.

GRETA = "greta.beispiel@example.org"
GRETA_COMPLAINT = (
    "Guten Tag,\n\nmeine Bestellung MF-777777 vom 3. November ist nie angekommen.\n"
    "Bitte helfen Sie mir.\n\nGreta Beispiel\n"
)


def greta_complains(harness: Harness, subject: str, text: str) -> list[Received]:
    harness.send(compose(f"Greta Beispiel <{GRETA}>", "beschwerde@siegel.test", subject, text))
    return harness.process()


def _cases(harness: Harness) -> int:
    with Session(harness.engine) as session:
        return session.scalar(select(func.count()).select_from(Case))  # type: ignore[return-value]


def _greta_case(harness: Harness) -> str:
    sent = greta_complains(harness, "Lieferung fehlt", GRETA_COMPLAINT)
    assert len(addressed_to(sent, MERCHANT)) == 1
    [ack] = addressed_to(sent, GRETA)
    found = REF.search(ack.message["Subject"])
    assert found
    return found.group(1)


def test_a_repeat_is_attached_to_the_open_case_and_another_order_opens_its_own(
    harness: Harness,
) -> None:
    ref = _greta_case(harness)
    customer_address = harness.case_address(ref, Role.CUSTOMER)
    for text in (
        "Lieferung fehlt immer noch!! Ich hatte schon geschrieben, Bestellung MF-777777.\n",
        "Möbel Fuchs hat sich immer noch nicht gemeldet. Was ist da los?\n",
    ):
        sent = greta_complains(harness, "Lieferung fehlt immer noch", text)
        assert harness.sent(sent) == [(GRETA, "sender.complaint_already_open")]
        [told] = sent
        assert ref in told.message["Subject"] and "Möbel Fuchs" in told.message["Subject"]
        assert told.message["Reply-To"] == customer_address
        assert customer_address in plain(told)
    assert _cases(harness) == 1
    case = harness.case(ref)
    assert [h["reason"] for h in case["held_mails"]] == ["open-case", "open-case"]
    assert [e["kind"] for e in case["events"]][-2:] == ["EvidenceAttached"] * 2

    sent = greta_complains(harness, "Noch ein Problem", "Auch Bestellung MF-888888 ist kaputt.\n")
    [ack] = addressed_to(sent, GRETA)
    found = REF.search(ack.message["Subject"])
    assert found and found.group(1) != ref
    assert len(addressed_to(sent, MERCHANT)) == 1
    assert _cases(harness) == 2


def test_after_the_case_is_closed_a_new_complaint_opens_a_new_case(harness: Harness) -> None:
    ref = _greta_case(harness)
    harness.cli("case", ref, "--close", "resolved", "--reason", "Paket zugestellt")
    harness.process()  # the closing mails
    sent = greta_complains(harness, "Schon wieder", "Möbel Fuchs liefert wieder nicht.\n")
    assert len(addressed_to(sent, MERCHANT)) == 1
    assert _cases(harness) == 2


# ------------------------------------------------------------------ concurrency


def test_two_replies_processed_at_the_same_moment_end_consistent(harness: Harness) -> None:
    """Both parties accept at once, two workers in two threads: the case ends settled,
    with each closing mail sent once."""
    ref, sent = to_proposal(harness)
    [to_customer] = _of_kind(harness, sent, "customer.proposal")
    [to_merchant] = _of_kind(harness, sent, "merchant.proposal")
    harness.send(harness.reply(to_customer, CUSTOMER, "Ich nehme den Vorschlag an."))
    harness.send(harness.reply(to_merchant, MERCHANT, "Wir nehmen den Vorschlag an."))
    # On PostgreSQL both units of work are held until both have begun, so that they
    # really overlap; SQLite serialises writers at BEGIN IMMEDIATE, where waiting for
    # each other would deadlock.
    together = threading.Barrier(2, timeout=10)
    overlap = is_postgres(harness.engine)

    def process(session: Session, mail: StoredMail, context: Context) -> None:
        if overlap:
            together.wait()
        process_mail(session, mail, context)

    # One mail each: with a larger batch the first worker could take both.
    one_each = replace(harness.config, queue=replace(harness.config.queue, batch_size=1))
    workers = [Worker(harness.engine, one_each, process, harness.clock) for _ in range(2)]
    start = threading.Barrier(2, timeout=10)

    def run(worker: Worker) -> None:
        start.wait()
        worker.run_once()

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    closing = harness.sent(harness.process())
    case = harness.case(ref)
    assert case["state"] == "closed_settled"
    first_acceptance = (
        [(CUSTOMER, "customer.proposal_accepted"), (MERCHANT, "merchant.acceptance_confirmed")]
        if (CUSTOMER, "customer.proposal_accepted") in closing
        else [(CUSTOMER, "customer.acceptance_confirmed"), (MERCHANT, "merchant.proposal_accepted")]
    )
    assert sorted(closing) == sorted(
        [
            (MEDIATOR, "mediator.proposal_accepted"),
            # Whichever answer went first is confirmed and shown to the other party.
            *first_acceptance,
            (CUSTOMER, "customer.settled"),  # with the rating request in it
            (MERCHANT, "merchant.settled"),
            (MEDIATOR, "mediator.settled"),
        ]
    )
    with Session(harness.engine) as session:
        statuses = set(session.scalars(select(StoredMail.status)))
    assert statuses == {"done"}


def _of_kind(harness: Harness, mails: list[Received], kind: str) -> list[Received]:
    return [m for m, (_, k) in zip(mails, harness.sent(mails), strict=True) if k == kind]


def _stored(harness: Harness) -> list[StoredMail]:
    with Session(harness.engine) as session:
        return list(session.scalars(select(StoredMail).order_by(StoredMail.id)))
