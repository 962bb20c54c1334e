"""The operator's desk and the parties' mail, end to end through real SMTP.

An unregistered shop named later (by the operator and by the customer's answer), a
withdrawal by mail and by the operator, a mediation that waits for a mediator until one
is added, one mail per party per act, notices quoting the other party's new words, and
mail to service@ reaching the operator's mailbox; the commands run as subprocesses.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session

from mediation.storage import Case
from tests.harness import MEDIATORS, Harness, addressed_to, compose, plain
from tests.sink import Received, Sink
from tests.test_cases_e2e import (
    CUSTOMER,
    MERCHANT,
    REF,
    complain,
    merchant_answers,
    to_mediation,
    to_proposal,
)

OPERATOR = "betreiber@siegel.test"
NEW_MEDIATOR = "neu@siegel-schlichtung.test"


def _harness(engine: Engine, tmp_path: Path, sink: Sink, mediators: list[str]) -> Harness:
    running = Harness(
        engine, tmp_path, sink, mediation={"mediators": mediators, "operator": OPERATOR}
    )
    running.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test",
        "--order-pattern", r"\bMF-\d{6}\b",
    )  # fmt: skip
    return running


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = _harness(engine, tmp_path, sink, list(MEDIATORS))
    yield running
    running.stop()


@pytest.fixture
def nobody(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    """A service with no mediator configured."""
    running = _harness(engine, tmp_path, sink, [])
    yield running
    running.stop()


def unknown_shop(harness: Harness) -> tuple[str, object]:
    harness.send(
        compose(CUSTOMER, "beschwerde@siegel.test", "Paket", "Mein Paket fehlt seit Wochen.")
    )
    [question] = harness.process()
    return REF.search(question.message["Subject"]).group(1), question  # type: ignore[union-attr]


def one_per_party(harness: Harness, mails: list) -> None:  # type: ignore[type-arg]
    recipients = [mail.rcpt_tos[0] for mail in mails]
    assert len(recipients) == len(set(recipients)), harness.sent(mails)


# ------------------------------------------------------------------ the shop, later


def test_the_operator_names_an_unregistered_shop_later_and_the_customer_is_told(
    harness: Harness,
) -> None:
    """No registered shop in the answer: the operator is told the command that works,
    registers the shop and assigns it; customer and merchant get their mails."""
    ref, question = unknown_shop(harness)
    answer = "Das war bei Teeladen Sommer, Bestellnummer TS-4471."
    harness.send(harness.reply(question, CUSTOMER, answer))  # type: ignore[arg-type]
    sent = harness.process()
    assert sorted(harness.sent(sent)) == [
        (OPERATOR, "operator.merchant_not_found"),
        (CUSTOMER, "customer.merchant_search"),
    ]
    [notice] = addressed_to(sent, OPERATOR)
    assert f"siegel case {ref} --merchant SLUG" in plain(notice)
    harness.cli("merchant", "add", "teeladen", "--name", "Teeladen Sommer",
                "--email", "hilfe@teeladen.test")  # fmt: skip
    done = harness.cli("case", ref, "--merchant", "teeladen")
    assert "2 mails queued" in done.stdout
    assigned = harness.process()
    assert sorted(harness.sent(assigned)) == [
        (CUSTOMER, "customer.complaint_acknowledged"),
        ("hilfe@teeladen.test", "merchant.complaint_forwarded"),
    ]
    assert "Teeladen Sommer" in plain(addressed_to(assigned, CUSTOMER)[0])
    assert harness.case(ref)["state"] == "awaiting_merchant"
    # The shop reads what the customer added when asked, as when the answer names it.
    [forward] = addressed_to(assigned, "hilfe@teeladen.test")
    assert f"auf unsere Frage nach dem Shop:\n> {answer}" in plain(forward)


def test_the_customers_answer_naming_a_registered_shop_assigns_it(harness: Harness) -> None:
    ref, question = unknown_shop(harness)
    harness.send(harness.reply(question, CUSTOMER, "Bestellt bei Möbel Fuchs, MF-204518."))  # type: ignore[arg-type]
    sent = harness.process()
    one_per_party(harness, sent)
    assert sorted(harness.sent(sent)) == [
        (CUSTOMER, "customer.complaint_acknowledged"),
        (MERCHANT, "merchant.complaint_forwarded"),
    ]
    assert harness.case(ref)["merchant"] == "moebel-fuchs"


def test_a_shop_named_in_the_answer_gets_its_deadline_in_its_own_calendar(
    harness: Harness,
) -> None:
    """The shop found in the customer's answer to "which shop?" counts its deadline in
    its own time zone and business hours, as a complaint naming it at once does (a
    black-box run's New York shop got a deadline at 03:00 its time)."""
    harness.cli("merchant", "add", "acme", "--name", "Acme Outdoor Supply",
                "--email", "help@acme.test", "--timezone", "America/New_York",
                "--hours", "09:00-18:00")  # fmt: skip
    ref, question = unknown_shop(harness)
    harness.send(harness.reply(question, CUSTOMER, "It was Acme Outdoor Supply."))  # type: ignore[arg-type]
    harness.process()
    case = harness.case(ref)
    assert case["merchant"] == "acme"
    due = datetime.fromisoformat(case["deadlines"]["merchant_reply"])
    local = due.astimezone(ZoneInfo("America/New_York"))
    assert (9, 0) <= (local.hour, local.minute) <= (18, 0), local


# ------------------------------------------------------------------ withdrawing


def test_the_customer_withdraws_by_mail_and_everyone_is_told(harness: Harness) -> None:
    """ "Ich ziehe meine Beschwerde zurück" at the case address closes the case as
    withdrawn; the merchant's notice quotes the customer's own words only."""
    ref, sent = complain(harness)
    [ack] = addressed_to(sent, CUSTOMER)
    words = "Hiermit ziehe ich meine Beschwerde zurück, der Shop hat angerufen."
    harness.send(harness.reply(ack, CUSTOMER, words))
    closing = harness.process()
    assert harness.case(ref)["state"] == "closed_withdrawn"
    assert (CUSTOMER, "customer.withdrawal_confirmed") in harness.sent(closing)
    [to_merchant] = addressed_to(closing, MERCHANT)
    assert harness.sent([to_merchant]) == [(MERCHANT, "merchant.case_withdrawn")]
    assert words in plain(to_merchant)
    assert "Ihre Beschwerde ist eingegangen" not in plain(to_merchant)  # not the quote


def test_the_operator_withdraws_a_case_waiting_for_its_shop(harness: Harness) -> None:
    ref, _ = unknown_shop(harness)
    done = harness.cli("case", ref, "--withdraw", "--reason", "Kundin rief an")
    assert done.stdout.splitlines()[0] == f"{ref}: withdrawn, 1 mails queued"
    [told] = harness.process()
    assert harness.sent([told]) == [(CUSTOMER, "customer.withdrawal_confirmed")]
    assert "Der Grund:\n\nKundin rief an" in plain(told)
    case = harness.case(ref)
    assert case["state"] == "closed_withdrawn"
    [event] = [e for e in case["events"] if e["kind"] == "CustomerWithdrew"]
    assert event["actor"] == "operator" and "Kundin rief an" in event["reason"]


def test_the_operators_withdrawal_reason_reaches_both_parties(harness: Harness) -> None:
    """`--withdraw --reason`: the reason is in the customer's and the merchant's mail
    (the help says the parties read it); without one, neither mail has a reason line."""
    ref, _ = complain(harness)
    reason = "Die Kundin hat angerufen: Das Sofa wurde ersetzt."
    harness.cli("case", ref, "--withdraw", "--reason", reason)
    closed = harness.process()
    one_per_party(harness, closed)
    [to_customer] = addressed_to(closed, CUSTOMER)
    [to_merchant] = addressed_to(closed, MERCHANT)
    assert harness.sent([to_customer, to_merchant]) == [
        (CUSTOMER, "customer.withdrawal_confirmed"),
        (MERCHANT, "merchant.case_withdrawn"),
    ]
    for mail in (to_customer, to_merchant):
        assert f"Der Grund:\n\n{reason}" in plain(mail)
    other, _ = complain(harness, customer="zweite.kundin@example.org")
    harness.cli("case", other, "--withdraw")
    for mail in harness.process():
        assert "Der Grund" not in plain(mail)


def test_the_operator_closes_with_a_reason_and_refuses_a_closed_case(harness: Harness) -> None:
    ref, _ = complain(harness)
    missing = harness.cli("case", ref, "--close", "unresolved", check=False)
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "--reason" in missing.stderr
    endless = harness.cli("case", ref, "--close", "unresolved", "--reason", "x" * 2001, check=False)
    assert (endless.returncode, endless.stderr.count("\n")) == (2, 1)
    assert "at most 2000" in endless.stderr and harness.process() == []
    harness.cli("case", ref, "--close", "unresolved", "--reason", "Doppelte Beschwerde")
    closed = harness.process()
    one_per_party(harness, closed)
    [to_customer] = addressed_to(closed, CUSTOMER)  # the closing carries the rating request
    assert harness.sent([to_customer]) == [(CUSTOMER, "customer.closed_by_operator")]
    assert "Doppelte Beschwerde" in plain(to_customer)
    assert "Service (1-5):" in plain(to_customer)
    assert harness.case(ref)["state"] == "closed_unresolved"
    again = harness.cli("case", ref, "--withdraw", check=False)
    assert (again.returncode, again.stderr.count("\n")) == (1, 1)
    assert again.stderr.startswith(f"siegel case: {ref} is closed_unresolved")
    assert "a withdrawal is not possible now" in again.stderr and "Withdrew" not in again.stderr


# ------------------------------------------------------------------ mediators


def test_a_mediation_without_a_free_mediator_waits_until_one_is_added(nobody: Harness) -> None:
    """No mediator: the case waits and the operator is reminded; `siegel mediator add`
    hands it over at once, with one mail per party."""
    harness = nobody
    ref, entering = to_mediation(harness)
    one_per_party(harness, entering)
    assert (OPERATOR, "operator.no_mediator") in harness.sent(entering)
    assert harness.case(ref)["mediator"] is None
    added = harness.cli("mediator", "add", NEW_MEDIATOR, "--name", "Frau Neu")
    assert f"waiting mediations assigned: {ref}" in added.stdout
    assigned = harness.process()
    one_per_party(harness, assigned)
    assert sorted(harness.sent(assigned)) == sorted(
        [
            (NEW_MEDIATOR, "mediator.case_file"),
            (CUSTOMER, "customer.mediator_assigned"),
            (MERCHANT, "merchant.mediator_assigned"),
        ]
    )
    assert harness.case(ref)["mediator"] == NEW_MEDIATOR
    listing = json.loads(harness.cli("mediator", "list", "--json").stdout)
    assert listing == [
        {"address": NEW_MEDIATOR, "name": "Frau Neu", "language": "de", "paused": False,
         "open_cases": 1,
         "source": "record", "changed_at": listing[0]["changed_at"],
         "changed_by": listing[0]["changed_by"]},
    ]  # fmt: skip


def test_the_shops_own_address_never_mediates_its_case(nobody: Harness) -> None:
    """A black-box run registered a shop's support address as a mediator, and the shop
    then mediated and closed its own case as resolved. `mediator add` refuses the shop's
    addresses; a mediator that becomes the shop's (a domain added later) is passed over,
    and the operator cannot give it the case either."""
    harness = nobody
    status, _, errors = harness.siegel("mediator", "add", "schlichtung@moebel-fuchs.test")
    assert status == 2 and "address of the shop moebel-fuchs" in errors
    harness.cli("mediator", "add", NEW_MEDIATOR)
    domain = NEW_MEDIATOR.rpartition("@")[2]
    harness.cli("merchant", "set", "moebel-fuchs", "--domain", "moebel-fuchs.test",
                "--domain", domain)  # fmt: skip
    ref, entering = to_mediation(harness)
    assert (OPERATOR, "operator.no_mediator") in harness.sent(entering)
    assert harness.case(ref)["mediator"] is None
    status, _, errors = harness.siegel("case", ref, "--mediator", NEW_MEDIATOR)
    assert status != 0 and "cannot mediate its case" in errors
    assert harness.case(ref)["mediator"] is None


def test_entering_mediation_is_one_mail_per_party_and_quotes_the_customer(
    harness: Harness,
) -> None:
    """ "Not solved" with a mediator free: customer and merchant get one mail each, the
    merchant's quoting what the customer wrote; a paused mediator gets no new case."""
    harness.cli("mediator", "pause", MEDIATORS[0])
    ref, sent = to_mediation(harness)
    one_per_party(harness, sent)
    assert sorted(harness.sent(sent)) == sorted(
        [
            (CUSTOMER, "customer.mediation_started"),
            (MERCHANT, "merchant.mediation_started"),
            (MEDIATORS[1], "mediator.case_file"),
        ]
    )
    [to_merchant] = addressed_to(sent, MERCHANT)
    assert "zweimal verschoben" in plain(to_merchant)
    assert harness.case(ref)["mediator"] == MEDIATORS[1]


def test_a_mediators_language_is_given_changed_and_listed(harness: Harness) -> None:
    """`mediator add --language`, `mediator set --language` (a mediator only in the seed
    becomes a record) and `mediator list` showing each one's, the configured default for
    the seed's; an unknown mediator, nothing to set or another language is refused."""
    status, out, _ = harness.siegel("mediator", "add", NEW_MEDIATOR, "--language", "en")
    assert status == 0 and out.startswith(f"mediator {NEW_MEDIATOR} added")
    status, out, _ = harness.siegel("mediator", "set", MEDIATORS[1], "--language", "en")
    assert status == 0
    assert out == f"mediator {MEDIATORS[1]}: 1 fields changed\n  language: de → en\n"
    status, out, _ = harness.siegel("mediator", "set", NEW_MEDIATOR, "--name", "Ms New")
    assert (status, out.splitlines()[1]) == (0, "  name: - → Ms New")
    listed = json.loads(harness.siegel("mediator", "list", "--json")[1])
    assert [(m["address"], m["language"], m["source"], m["name"]) for m in listed] == [
        (NEW_MEDIATOR, "en", "record", "Ms New"),
        (MEDIATORS[1], "en", "record", ""),
        (MEDIATORS[0], "de", "config", ""),
    ]
    table = harness.siegel("mediator", "list")[1]
    assert f"{MEDIATORS[0]:<40} active     0 open  de config" in table
    assert harness.siegel("mediator", "set", "nobody@example.org", "--language", "en")[0] == 1
    assert harness.siegel("mediator", "set", MEDIATORS[0])[0] == 2
    assert harness.siegel("mediator", "add", "x@example.org", "--language", "fr")[0] == 2


def test_an_english_customers_case_goes_to_a_mediator_writing_english(harness: Harness) -> None:
    """With a mediator writing English free, an English customer's case goes to that
    one, though the other has fewer open cases (none): the customer reads the
    mediator's own words in English."""
    assert harness.siegel("mediator", "set", MEDIATORS[0], "--language", "de")[0] == 0
    assert harness.siegel("mediator", "set", MEDIATORS[1], "--language", "en")[0] == 0
    customer = "mark.oneill@example.co.uk"
    complaint = (
        "Hello,\n\nI ordered a sofa from Möbel Fuchs (order MF-204518). It arrived with a "
        "deep tear in the cover and a broken armrest. Nobody has answered my emails for a "
        "week. I would like a new sofa or my money back.\n\nRegards\nMark O'Neill\n"
    )
    harness.send(compose(customer, "beschwerde@siegel.test", "Damaged sofa", complaint))
    [forward] = addressed_to(harness.process(), MERCHANT)
    text = "Wir holen das Sofa nächste Woche ab und liefern ein neues, versprochen."
    harness.send(harness.reply(forward, MERCHANT, text))
    [passed_on] = addressed_to(harness.process(), customer)
    harness.send(harness.reply(passed_on, customer, "No, this is not solved at all."))
    sent = harness.process()
    assert addressed_to(sent, MEDIATORS[1]) and not addressed_to(sent, MEDIATORS[0])


def test_an_english_mediator_reads_english_while_the_customer_reads_german(
    harness: Harness,
) -> None:
    """Case file, command confirmation and command problem in the mediator's language;
    the parties' mails in theirs; quoted words stay as written."""
    for mediator in MEDIATORS:  # none writes German: the German case goes to the first
        assert harness.siegel("mediator", "set", mediator, "--language", "en")[0] == 0
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATORS[0])
    [to_customer] = addressed_to(sent, CUSTOMER)
    assert case_file.message["Content-Language"] == "en"
    assert "New mediation case" in case_file.message["Subject"]
    assert "Riss im Bezug" in plain(case_file) and "zweimal verschoben" in plain(case_file)
    assert to_customer.message["Content-Language"] == "de"
    words = "Dear both, please send photos of the delivery by Friday."
    harness.send(harness.reply(case_file, MEDIATORS[0], words))
    told = harness.process()
    [confirmation] = addressed_to(told, MEDIATORS[0])
    [to_customer] = addressed_to(told, CUSTOMER)
    assert harness.sent([confirmation]) == [(MEDIATORS[0], "mediator.message_sent")]
    assert confirmation.message["Content-Language"] == "en"
    assert "Your message went to both parties" in confirmation.message["Subject"]
    assert to_customer.message["Content-Language"] == "de"
    assert "Schlichtungsstelle" in plain(to_customer) and words in plain(to_customer)
    harness.send(harness.reply(case_file, MEDIATORS[0], "#frist bald", quote=False))
    [problem] = harness.process()
    assert harness.sent([problem]) == [(MEDIATORS[0], "mediator.command_problem")]
    assert problem.message["Content-Language"] == "en"
    assert "was not carried out" in problem.message["Subject"]
    assert harness.case(ref)["state"] == "in_mediation"


def test_a_mediators_message_and_proposal_are_one_mail_per_party(harness: Harness) -> None:
    """A mediator's reply with a message and a #vorschlag: each party gets the proposal
    with the mediator's words in it, the mediator one confirmation."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATORS[0])
    words = "Danke für die Fotos. Mein Vorschlag steht unten."
    harness.send(harness.reply(case_file, MEDIATORS[0], f"{words}\n#vorschlag 50 Euro Gutschrift."))
    proposals = harness.process()
    one_per_party(harness, proposals)
    assert sorted(harness.sent(proposals)) == sorted(
        [
            (CUSTOMER, "customer.proposal"),
            (MERCHANT, "merchant.proposal"),
            (MEDIATORS[0], "mediator.proposal_sent"),
        ]
    )
    for party in (CUSTOMER, MERCHANT):
        [mail] = addressed_to(proposals, party)
        assert words in plain(mail) and "50 Euro Gutschrift" in plain(mail)
    assert harness.case(ref)["state"] == "proposal_pending"


def test_the_operator_gives_a_mediation_to_another_mediator(harness: Harness) -> None:
    """`siegel case REF --mediator`: the new mediator gets the case file, the former one
    is told, each party gets one mail."""
    ref, _ = to_mediation(harness)
    harness.cli("case", ref, "--mediator", MEDIATORS[1])
    moved = harness.process()
    one_per_party(harness, moved)
    assert sorted(harness.sent(moved)) == sorted(
        [
            (MEDIATORS[1], "mediator.case_file"),
            (MEDIATORS[0], "mediator.case_reassigned"),
            (CUSTOMER, "customer.mediator_changed"),
            (MERCHANT, "merchant.mediator_changed"),
        ]
    )
    assert harness.case(ref)["mediator"] == MEDIATORS[1]


def test_a_merchant_rejecting_a_proposal_reads_a_sentence_and_the_customer_its_words(
    harness: Harness,
) -> None:
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATORS[0])
    harness.send(harness.reply(case_file, MEDIATORS[0], "#vorschlag 50 Euro Gutschrift."))
    proposals = harness.process()
    assert (MEDIATORS[0], "mediator.proposal_sent") in harness.sent(proposals)
    [to_merchant] = [m for m in addressed_to(proposals, MERCHANT)
                     if harness.sent([m])[0][1] == "merchant.proposal"]  # fmt: skip
    harness.send(harness.reply(to_merchant, MERCHANT, "Wir lehnen ab, das ist zu viel."))
    answered = harness.process()
    one_per_party(harness, answered)
    assert sorted(harness.sent(answered)) == sorted(
        [
            (MERCHANT, "merchant.rejection_confirmed"),
            (CUSTOMER, "customer.proposal_rejected"),
            (MEDIATORS[0], "mediator.proposal_rejected"),
        ]
    )
    [confirmation] = addressed_to(answered, MERCHANT)
    assert "Sie haben den Schlichtungsvorschlag" in plain(confirmation)
    assert "(von:" not in plain(confirmation)
    [to_customer] = addressed_to(answered, CUSTOMER)
    assert "das ist zu viel" in plain(to_customer)
    assert harness.case(ref)["state"] == "in_mediation"


# ------------------------------------------------------------------ service@


def test_mail_to_service_reaches_the_operators_mailbox(harness: Harness) -> None:
    """A person answering service@ (our From: a merchant answering a lifecycle mail)
    reaches the operator, in the operator's language, naming no case and not called
    held: it was meant for the operator."""
    harness.send(
        compose("kunde@example.org", "service@siegel.test", "Frage zum Siegel",
                "Wie bekommt mein Shop das Siegel?")
    )  # fmt: skip
    sent = harness.process()
    [forward] = addressed_to(sent, OPERATOR)
    assert harness.sent([forward]) == [(OPERATOR, "operator.forwarded_mail")]
    assert "Wie bekommt mein Shop das Siegel?" in plain(forward)
    assert forward.message["Reply-To"] == "kunde@example.org"
    text = plain(forward)
    assert "an eine Betreiber-Adresse geschrieben (kein Fall)." in text
    assert "Sie nennt keinen Fall und ist an Sie gerichtet" in text
    assert "zurückgehalten" not in text and "operator-address" not in text


def test_a_customer_reply_to_service_tells_the_operator_its_case_in_words(
    harness: Harness,
) -> None:
    """A customer's reply that reached service@ and names its case by the subject: the
    operator reads the case and what became of the mail as a sentence, no reason code,
    no internal detail."""
    ref, sent = complain(harness)
    [ack] = addressed_to(sent, CUSTOMER)
    answer = harness.reply(ack, CUSTOMER, "Hier noch das Foto.", to="service@siegel.test")
    del answer["In-Reply-To"], answer["References"]
    harness.send(answer)
    [forward] = addressed_to(harness.process(), OPERATOR)
    text = plain(forward)
    assert f"an eine Betreiber-Adresse geschrieben (Fall {ref})." in text
    assert "dem Fall als Beleg beigefügt und hat nichts ausgelöst" in text
    assert "not-case-address" not in text and "found by subject" not in text
    assert [h["reason"] for h in harness.case(ref)["held_mails"]] == ["not-case-address"]


def test_an_english_operator_reads_the_mail_to_service_in_english(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """`[siegel] default_language = "en"`: the operator's notice is English throughout."""
    english = Harness(
        engine, tmp_path, sink, siegel={"default_language": "en"},
        mediation={"mediators": list(MEDIATORS), "operator": OPERATOR},
    )  # fmt: skip
    try:
        english.send(
            compose("shop@example.org", "service@siegel.test", "Re: Your trial ends",
                    "Please send us the invoice for the third month.")
        )  # fmt: skip
        [forward] = addressed_to(english.process(), OPERATOR)
        text = plain(forward)
        assert forward.message["Content-Language"] == "en"
        assert "wrote to an operator address (no case)." in text
        assert "It names no case and is meant for you" in text
        assert "operator-address" not in text and "was held" not in text
    finally:
        english.stop()


# ------------------------------------------------------------------ after a settlement


def settle(harness: Harness) -> tuple[str, Received]:
    """A mediation both parties settle: the case and the customer's settled mail."""
    ref, sent = to_proposal(harness)
    [to_customer] = addressed_to(sent, CUSTOMER)
    [to_merchant] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(to_customer, CUSTOMER, "Ja, ich nehme den Vorschlag an."))
    harness.process()
    harness.send(harness.reply(to_merchant, MERCHANT, "Einverstanden, wir erstatten den Betrag."))
    [settled] = addressed_to(harness.process(), CUSTOMER)
    assert harness.sent([settled]) == [(CUSTOMER, "customer.settled")]
    assert "Geschieht das nicht, antworten Sie bitte auf diese E-Mail." in plain(settled)
    return ref, settled


def test_a_rating_typed_into_the_quoted_form_after_a_settlement_gets_the_format(
    harness: Harness,
) -> None:
    """Scores typed into our quoted rating form are not read (quotes never act), but
    they are a try at a rating: the customer gets the format, the operator and the
    mediator no alarm about the settlement (a black-box run's "Here you go, filled in
    below." raised one)."""
    ref, settled = settle(harness)
    body = (
        "Bitte sehr, unten ausgefüllt.\n\n"
        "> Service (1-5): 2\n> Erreichbarkeit (1-5): 1\n> Reaktionszeit (1-5): 2\n"
    )
    harness.send(harness.reply(settled, CUSTOMER, body, quote=False))
    sent = harness.process()
    assert harness.sent(sent) == [(CUSTOMER, "customer.rating_help")]
    assert "nicht in die zitierten Zeilen" in plain(sent[0])
    assert harness.case(ref)["state"] == "closed_settled"


def test_a_settlement_complaint_quoting_the_rating_help_still_reaches_the_operator(
    harness: Harness,
) -> None:
    """The help's examples ("Service: 4"), quoted under the customer's report that the
    settlement is not carried out, are no try at a rating (a review's case)."""
    _, settled = settle(harness)
    harness.send(harness.reply(settled, CUSTOMER, "Service: weiß nicht recht"))
    [help_mail] = addressed_to(harness.process(), CUSTOMER)
    assert harness.sent([help_mail]) == [(CUSTOMER, "customer.rating_help")]
    words = "Möbel Fuchs hat das Geld bis heute nicht erstattet."
    harness.send(harness.reply(help_mail, CUSTOMER, words))
    kinds = [kind for _, kind in harness.sent(harness.process())]
    assert "operator.settlement_reply" in kinds and "customer.rating_help" not in kinds


def test_a_customers_word_after_a_settlement_reaches_operator_and_mediator(
    harness: Harness,
) -> None:
    """The settled mail asks the customer to answer if the shop does not carry out the
    settlement: the answer goes to the operator and the mediator, each in its language,
    and the customer is told it was passed on; the case stays closed, its figures are
    unchanged, the merchant gets nothing. A rating is still a rating."""
    for mediator in MEDIATORS:  # none writes German: the German case goes to the first
        assert harness.siegel("mediator", "set", mediator, "--language", "en")[0] == 0
    ref, settled = settle(harness)
    before = harness.case(ref)
    month = before["opened_at"][:7]
    figures = month_figures(harness, month)
    words = "Möbel Fuchs hat das Geld bis heute nicht erstattet."
    answer = harness.reply(settled, CUSTOMER, words)
    harness.send(answer)
    sent = harness.process()
    one_per_party(harness, sent)
    assert sorted(harness.sent(sent)) == sorted(
        [
            (OPERATOR, "operator.settlement_reply"),
            (MEDIATORS[0], "mediator.settlement_reply"),
            (CUSTOMER, "customer.settlement_reply_passed_on"),
        ]
    )
    [to_operator] = addressed_to(sent, OPERATOR)
    [to_mediator] = addressed_to(sent, MEDIATORS[0])
    [to_customer] = addressed_to(sent, CUSTOMER)
    assert words in plain(to_operator) and "899 Euro" in plain(to_operator)
    assert words in plain(to_mediator)
    languages = [m.message["Content-Language"] for m in (to_operator, to_mediator, to_customer)]
    assert languages == ["de", "en", "de"]
    assert "Message after the settlement" in to_mediator.message["Subject"]
    assert "weitergegeben" in plain(to_customer) and "bleibt dabei abgeschlossen" in plain(
        to_customer
    )
    assert to_customer.message["In-Reply-To"] == answer["Message-ID"]
    after = harness.case(ref)
    assert (after["state"], after["closed_at"]) == ("closed_settled", before["closed_at"])
    assert after["held_mails"] == [] and after["deadlines"] == {}
    assert month_figures(harness, month) == figures
    harness.send(
        harness.reply(settled, CUSTOMER, "Service: 2\nErreichbarkeit: 3\nReaktionszeit: 2")
    )
    assert harness.sent(harness.process()) == [(CUSTOMER, "customer.rating_thanks")]


def month_figures(harness: Harness, month: str) -> list[object]:
    """`siegel report --month MONTH --json`: each merchant's and the operator's figures."""
    report = json.loads(harness.cli("report", "--month", month, "--json").stdout)
    return [entry["figures"] for entry in (*report["merchants"], report["operator"])]


def test_after_a_settlement_machine_mail_and_late_words_reach_nobody(harness: Harness) -> None:
    """An out-of-office note to the settled case is only recorded, a bare thanks is held
    like any mail to a closed case (no operator needed); the customer's words
    after `[mediation] settlement_reply_days` (30) are held like any mail to a closed
    case, and the customer is told so."""
    ref, settled = settle(harness)
    away = {"Auto-Submitted": "auto-replied"}
    harness.send(harness.reply(settled, CUSTOMER, "Ich bin bis Montag nicht da.", headers=away))
    assert harness.process() == []
    harness.send(harness.reply(settled, CUSTOMER, "Vielen Dank!"))  # thanks need no operator
    assert not [kind for _, kind in harness.sent(harness.process()) if "settlement" in kind]
    closed_at = datetime.fromisoformat(harness.case(ref)["closed_at"])
    with Session(harness.engine) as session:  # the settlement a month ago
        session.execute(
            update(Case).where(Case.ref == ref).values(closed_at=closed_at - timedelta(days=31))  # type: ignore[arg-type]
        )
        session.commit()
    harness.send(harness.reply(settled, CUSTOMER, "Das Geld ist immer noch nicht da."))
    assert harness.sent(harness.process()) == [(CUSTOMER, "sender.case_closed")]
    case = harness.case(ref)
    assert case["state"] == "closed_settled"
    assert [h["reason"] for h in case["held_mails"]] == ["closed-case", "closed-case"]


# ------------------------------------------------------------------ merchants, reports


def test_merchant_set_changes_a_field_and_records_who_and_when(harness: Harness) -> None:
    done = harness.cli("merchant", "set", "moebel-fuchs", "--name", "Möbel Fuchs GmbH",
                       "--email", "hilfe@moebel-fuchs.test")  # fmt: skip
    assert "2 fields changed" in done.stdout
    shown = json.loads(harness.cli("merchant", "show", "moebel-fuchs", "--json").stdout)
    assert shown["name"] == "Möbel Fuchs GmbH"
    assert [(c["field"], c["old"], c["new"]) for c in shown["changes"]] == [
        ("name", "Möbel Fuchs", "Möbel Fuchs GmbH"),
        ("support_addresses", [MERCHANT], ["hilfe@moebel-fuchs.test"]),
    ]
    assert shown["changes"][0]["by"].startswith("operator")
    bad = harness.cli("merchant", "set", "moebel-fuchs", "--hours", "18-9", check=False)
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)
    unknown = harness.cli("merchant", "set", "nix", "--name", "X", check=False)
    assert (unknown.returncode, unknown.stderr.count("\n")) == (1, 1)


def test_the_monthly_report_counts_the_month(harness: Harness) -> None:
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    merchant_answers(harness, forward)
    month = harness.case(ref)["opened_at"][:7]
    report = json.loads(harness.cli("report", "--month", month, "--json").stdout)
    [fuchs] = report["merchants"]
    assert (fuchs["merchant"], fuchs["figures"]["cases"]) == ("moebel-fuchs", 1)
    assert fuchs["figures"]["first_replies"] == 1
    assert report["operator"]["figures"]["cases"] == 1
    text = harness.cli("report", "--month", month, "--merchant", "moebel-fuchs").stdout
    assert "moebel-fuchs" in text
    bad = harness.cli("report", "--month", "2026-13", check=False)
    assert (bad.returncode, bad.stderr.count("\n")) == (2, 1)
    future = harness.cli("report", "--month", "2999-01", check=False)
    assert (future.returncode, future.stderr.count("\n")) == (2, 1)
    assert "a month that has not begun" in future.stderr


def test_last_months_reports_are_mailed_once(harness: Harness) -> None:
    """The nightly job mails each merchant and the operator last month's report, once."""
    from mailflow import monthly_reports

    ref, _ = complain(harness)
    opened = datetime.fromisoformat(harness.case(ref)["opened_at"])
    next_month = (opened.replace(day=1) + timedelta(days=32)).replace(day=2)
    assert monthly_reports.send(harness.engine, harness.config, next_month) == 2
    assert monthly_reports.send(harness.engine, harness.config, next_month) == 0
    harness.clock.advance_to(next_month)
    sent = harness.process()
    assert sorted(harness.sent(sent)) == [
        (OPERATOR, "operator.monthly_report"),
        (MERCHANT, "merchant.monthly_report"),
    ]
    [to_merchant] = addressed_to(sent, MERCHANT)
    assert "Neue Fälle:" in plain(to_merchant) and f"{opened:%Y-%m}" in plain(to_merchant)


def test_a_shop_registered_after_the_month_gets_no_report_of_it(harness: Harness) -> None:
    """Shops registered today have no last month with the seal: no empty report goes to
    them (a new seal with thousands of shops would mail each one), and the operator's
    counts only the shops that held the seal then."""
    from mailflow import monthly_reports

    now = datetime.now(UTC)
    last_month = now.replace(day=1) - timedelta(days=1)
    assert monthly_reports.send(harness.engine, harness.config, now) == 1  # the operator's
    sent = harness.process()
    assert harness.sent(sent) == [(OPERATOR, "operator.monthly_report")]
    report = json.loads(harness.cli("report", "--month", f"{last_month:%Y-%m}", "--json").stdout)
    assert (report["merchants"], report["operator"]["merchants"]) == ([], 0)
