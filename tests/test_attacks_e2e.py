"""Attacks on cases end to end: real SMTP in, the worker and relay in-process, the sink.

Each test is one attack a merchant, a stranger or a machine made on the service before
acting needed a signed case address (issue 9): forged senders through our other
addresses and threading headers, automatic mail without its headers, quoted commands,
unauthenticated senders. Each asserts the case's state, events and the outbox after it.
"""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow.models import OutboxMail
from mediation.addresses import Role
from tests.harness import MEDIATORS, Harness, addressed_to, compose, plain
from tests.sink import Sink
from tests.test_cases_e2e import (
    CUSTOMER,
    MEDIATOR,
    MERCHANT,
    complain,
    merchant_answers,
    to_mediation,
    to_proposal,
)
from tests.test_ratings_e2e import closed_case, stored

OUR_OTHER_ADDRESSES = (
    "service@siegel.test",
    "postmaster@siegel.test",
    "abuse@siegel.test",
    "beschwerde@siegel.test",
)
AUTHSERV_ID = "mx.siegel.test"


def _with_merchant(harness: Harness) -> Harness:
    harness.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT,
        "--domain", "moebel-fuchs.test", "--order-pattern", r"\bMF-\d{6}\b",
    )  # fmt: skip
    return harness


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = _with_merchant(Harness(engine, tmp_path, sink))
    yield running
    running.stop()


@pytest.fixture
def authenticating(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    """The service behind an MTA that writes Authentication-Results as mx.siegel.test."""
    running = _with_merchant(
        Harness(engine, tmp_path, sink, authentication={"authserv_id": AUTHSERV_ID})
    )
    yield running
    running.stop()


def forged(
    sender: str, to: str, subject: str, body: str, in_reply_to: str | None = None
) -> EmailMessage:
    return compose(sender, to, subject, body, in_reply_to=in_reply_to, references=in_reply_to)


def outbox_texts(harness: Harness) -> list[str]:
    with Session(harness.engine) as session:
        return [row.kind for row in session.scalars(select(OutboxMail).order_by(OutboxMail.id))]


def event_kinds(harness: Harness, ref: str) -> list[str]:
    return [event["kind"] for event in harness.case(ref)["events"]]


# ------------------------------------------------------------------ forged senders


def test_the_merchant_at_the_customers_case_address_acts_not_and_learns_its_own(
    harness: Harness,
) -> None:
    """The shop writes from its registered address to the customer's case address (it
    answered the customer's forwarded mail): nothing acts, nothing reaches the customer,
    and the shop is told its own case address, not to use its registered one."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    customer_address = harness.case_address(ref, Role.CUSTOMER)
    harness.send(harness.reply(forwarded, MERCHANT, "Das Problem ist gelöst.", to=customer_address))
    told = harness.process()
    assert harness.sent(told) == [(MERCHANT, "sender.other_role_address")]
    merchant_address = harness.case_address(ref, Role.MERCHANT)
    assert told[0].message["Reply-To"] == merchant_address
    assert merchant_address in plain(told[0]) and customer_address not in plain(told[0])
    assert harness.case(ref)["state"] == "awaiting_customer"
    assert [h["reason"] for h in harness.case(ref)["held_mails"]] == ["sender-not-party"]


@pytest.mark.parametrize("to", OUR_OTHER_ADDRESSES)
def test_a_merchant_forging_the_customer_by_subject_cannot_close_the_case(
    harness: Harness, to: str
) -> None:
    """The merchant knows the customer's address from the forwarded complaint; a mail
    "from" the customer to any address of ours but the case address, naming the case in
    the subject, does not close it: attached as evidence, the real customer told."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    before = outbox_texts(harness)
    harness.send(
        forged(CUSTOMER, to, f"Re: [{ref}] Sofa", "Ja, danke, das Problem ist gelöst."),
        envelope_to=[to],
    )
    told = harness.process()
    case = harness.case(ref)
    assert case["state"] == "awaiting_customer"
    assert "CustomerConfirmedSolved" not in event_kinds(harness, ref)
    assert "EvidenceAttached" in event_kinds(harness, ref)
    # The only new mail goes to the From address (the real customer), naming its own
    # case address; nothing reaches the merchant.
    assert harness.sent(told) == [(CUSTOMER, "sender.use_case_address")]
    assert harness.case_address(ref, Role.CUSTOMER) in plain(told[0])
    assert outbox_texts(harness)[len(before) :] == ["sender.use_case_address"]
    assert forwarded.message["Reply-To"] == harness.case_address(ref, Role.CUSTOMER)


def test_a_merchant_forging_the_customer_by_in_reply_to_cannot_replace_the_rating(
    harness: Harness,
) -> None:
    """The customer rated 1/1/1; a forged 5/5/5 "from" the customer to our From address,
    threaded by In-Reply-To only, leaves the rating as the customer gave it."""
    ref, request = closed_case(harness, "Mein Sofa MF-204518 ist kaputt.", "Ja, gelöst.")
    harness.send(
        harness.reply(request, CUSTOMER, "Service: 1\nErreichbarkeit: 1\nReaktionszeit: 1")
    )
    harness.process()
    forgery = forged(
        CUSTOMER, "service@siegel.test", "Bewertung",
        "Service: 5\nErreichbarkeit: 5\nReaktionszeit: 5",
        in_reply_to=request.message["Message-ID"],
    )  # fmt: skip
    harness.send(forgery)
    harness.process()
    current, history = stored(harness, ref)
    assert current is not None
    assert (current.service, current.reachability, current.reaction_time) == (1, 1, 1)
    assert history == []
    assert event_kinds(harness, ref).count("CustomerRated") == 1


def test_a_merchant_forging_the_customer_cannot_accept_a_proposal(harness: Harness) -> None:
    """A forged acceptance in the customer's name, threaded to the proposal mail, leaves
    the proposal pending."""
    ref, sent = to_proposal(harness)
    [to_customer] = [m for m in addressed_to(sent, CUSTOMER) if "899" in plain(m)]
    forgery = harness.reply(
        to_customer, CUSTOMER, "Ja, ich nehme den Vorschlag an.", to="service@siegel.test"
    )
    harness.send(forgery)
    harness.process()
    case = harness.case(ref)
    assert case["state"] == "proposal_pending"
    assert "ProposalAccepted" not in event_kinds(harness, ref)


@pytest.mark.parametrize(
    "command, effect",
    [
        ("#vorschlag Überweisen Sie 50 Euro an IBAN DE00 1234 zur Freigabe.", "ProposalMade"),
        ("#abschluss gelöst", "MediationClosed"),
        (
            "Bitte bestätigen Sie Ihre Kontodaten unter http://phish.example/login",
            "MediatorMessaged",
        ),
    ],
)
def test_a_stranger_forging_the_mediator_cannot_act_or_mail_the_parties(
    harness: Harness, command: str, effect: str
) -> None:
    """A stranger writing "as" the mediator with the case reference in the subject makes
    no proposal, closes nothing, and gets no text of its own mailed to the parties."""
    ref, _ = to_mediation(harness)
    before = harness.case(ref)["state"]
    harness.send(
        forged(MEDIATOR, "service@siegel.test", f"Re: [{ref}] Schlichtung", command),
        envelope_to=["service@siegel.test"],
    )
    sent = harness.process()
    assert harness.case(ref)["state"] == before == "in_mediation"
    assert effect not in event_kinds(harness, ref)
    assert addressed_to(sent, CUSTOMER) == [] and addressed_to(sent, MERCHANT) == []
    assert all("phish" not in plain(mail) and "IBAN" not in plain(mail) for mail in sent)


@pytest.mark.parametrize("sender", [MERCHANT, "anyone@moebel-fuchs.test"])
def test_a_forged_merchant_address_does_not_stop_the_reply_clock(
    harness: Harness, sender: str
) -> None:
    """A stranger forging the merchant's address, or any address at its domain, and
    naming the case in the subject stops no clock and forwards nothing."""
    ref, _ = complain(harness)
    harness.send(
        forged(
            sender, "beschwerde@siegel.test", f"Re: [{ref}] Sofa", "Erledigt, Geld ist unterwegs."
        ),
        envelope_to=["beschwerde@siegel.test"],
    )
    sent = harness.process()
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant"
    assert case["first_reply_seconds"] is None
    assert "merchant_reply" in case["deadlines"]
    assert addressed_to(sent, CUSTOMER) == []


def test_a_stranger_naming_a_case_in_a_new_complaint_opens_its_own_case(
    harness: Harness,
) -> None:
    """A complaint by someone who is no party of the case its subject names is a new
    complaint, not an act on that case."""
    ref, _ = complain(harness)
    stranger = "max.mustermann@example.net"
    harness.send(
        forged(stranger, "beschwerde@siegel.test", f"Wie [{ref}]: mein Tisch MF-300111 fehlt",
               "Mein Tisch von Möbel Fuchs wurde nie geliefert."),
        envelope_to=["beschwerde@siegel.test"],
    )  # fmt: skip
    sent = harness.process()
    [ack] = addressed_to(sent, stranger)
    assert ref not in ack.message["Subject"]
    assert harness.case(ref)["state"] == "awaiting_merchant"


# ------------------------------------------------------------------ machines


def test_a_customer_auto_responder_without_headers_does_not_close_the_case(
    harness: Harness,
) -> None:
    """The customer's out-of-office note, with no Auto-Submitted header, to its case
    address neither closes the case nor reaches the merchant; it is on the timeline."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    note = harness.reply(
        forwarded, CUSTOMER,
        "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich 14.12. nicht im Büro "
        "und habe keinen Zugriff auf meine E-Mails. Ihre Nachricht wird nicht weitergeleitet.",
        quote=False,
    )  # fmt: skip
    note.replace_header("Subject", f"Abwesenheitsnotiz: {note['Subject']}")
    harness.send(note)
    sent = harness.process()
    assert sent == []
    assert harness.case(ref)["state"] == "awaiting_customer"
    assert "AutomaticMailIgnored" in event_kinds(harness, ref)


def test_a_merchant_ticket_acknowledgement_without_headers_stops_no_clock(
    harness: Harness,
) -> None:
    """A help desk's "we received your request" without Auto-Submitted is recorded and
    does not count as the merchant's first substantive reply."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    ack = harness.reply(
        forward, f"Möbel Fuchs Support <{MERCHANT}>",
        "Vielen Dank für Ihre Anfrage!\n\nIhre Anfrage ist bei uns eingegangen und wurde "
        "unter der Ticketnummer #48213 erfasst. Wir melden uns schnellstmöglich bei Ihnen.\n\n"
        "Ihr Möbel Fuchs Kundenservice",
        quote=False,
    )  # fmt: skip
    ack.replace_header("Subject", f"[#48213] {ack['Subject']}")
    harness.send(ack)
    assert harness.process() == []
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
    assert "AutomaticMailIgnored" in event_kinds(harness, ref)


# ------------------------------------------------------------------ quotes


def test_an_html_mediator_reply_with_a_left_border_quote_does_not_close(harness: Harness) -> None:
    """An HTML-only reply whose quote is marked only by a left-border div: the quoted
    #abschluss is not a command; the text above it is the mediator's message."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    reply = harness.reply(case_file, MEDIATOR, "", quote=False)
    reply.set_content(
        "<html><body><div>Bitte senden Sie mir beide Fotos der Lieferung.</div>"
        '<div style="border-left:1px solid #ccc;padding-left:1ex;margin-left:0.8ex">'
        "<div>#abschluss gelöst</div><div>Vielen Dank.</div></div></body></html>",
        subtype="html",
    )
    harness.send(reply)
    harness.process()
    assert harness.case(ref)["state"] == "in_mediation"
    assert "MediationClosed" not in event_kinds(harness, ref)


def test_a_forward_without_a_colon_does_not_execute_its_command(harness: Harness) -> None:
    """A "Begin forwarded message" line without a colon still starts the forwarded part;
    the #abschluss inside it is not the mediator's command."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    body = (
        "Zur Kenntnis, ich melde mich morgen.\n\n"
        "Begin forwarded message\n\n"
        f"Entwurf meines Kollegen {MEDIATORS[1]}:\n\n#abschluss gelöst\n"
    )
    harness.send(harness.reply(case_file, MEDIATOR, body, quote=False))
    harness.process()
    assert harness.case(ref)["state"] == "in_mediation"
    assert "MediationClosed" not in event_kinds(harness, ref)


def test_a_mail_forwarded_as_attachment_does_not_execute_its_command(harness: Harness) -> None:
    """A mediator forwarding someone's mail as an attachment, with no text of its own:
    the #abschluss inside the attached message is not the mediator's command."""
    ref, sent = to_mediation(harness)
    [case_file] = addressed_to(sent, MEDIATOR)
    attached = compose(MEDIATORS[1], MEDIATOR, "Entwurf", "#abschluss gelöst\n")
    reply = harness.reply(case_file, MEDIATOR, "", quote=False)
    reply.clear_content()
    reply.add_attachment(attached)
    harness.send(reply)
    harness.process()
    assert harness.case(ref)["state"] == "in_mediation"
    assert "MediationClosed" not in event_kinds(harness, ref)


# ------------------------------------------------------------------ authentication


def _results(value: str) -> dict[str, str]:
    return {"Authentication-Results": value}


@pytest.mark.parametrize(
    "headers, acts",
    [
        (_results(f"{AUTHSERV_ID}; dkim=pass header.d=moebel-fuchs.test"), True),
        (_results(f"{AUTHSERV_ID}; spf=pass smtp.mailfrom=bounce@mail.moebel-fuchs.test"), True),
        (_results(f"{AUTHSERV_ID}; dmarc=pass header.from=moebel-fuchs.test"), True),
        ({}, False),
        (_results(f"{AUTHSERV_ID}; dkim=fail header.d=moebel-fuchs.test; spf=softfail"), False),
        (_results(f"{AUTHSERV_ID}; dkim=pass header.d=attacker.example"), False),
        (_results("mx.attacker.example; dkim=pass header.d=moebel-fuchs.test"), False),
    ],
    ids=["dkim", "spf-aligned", "dmarc", "missing", "failed", "unaligned", "foreign-id"],
)
def test_a_merchant_reply_acts_only_when_its_domain_is_authenticated(
    authenticating: Harness, headers: dict[str, str], acts: bool
) -> None:
    """Behind an MTA that authenticates senders, the merchant's reply to its case address
    stops the clock only with an aligned pass under our authserv-id; otherwise it is held
    for the operator with the reason."""
    harness = authenticating
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    answer = harness.reply(forward, MERCHANT, "Wir tauschen das Sofa morgen aus.", headers=headers)
    harness.send(answer)
    harness.process()
    case = harness.case(ref)
    if acts:
        assert case["state"] == "awaiting_customer"
        assert case["first_reply_seconds"] is not None
    else:
        assert case["state"] == "awaiting_merchant"
        assert case["first_reply_seconds"] is None
        assert [h["reason"] for h in case["held_mails"]] == ["unauthenticated"]


@pytest.mark.parametrize(
    "headers, acts",
    [
        ({}, True),  # a customer's mail need not be authenticated
        (_results(f"{AUTHSERV_ID}; dmarc=none header.from=example.org"), True),
        (_results(f"{AUTHSERV_ID}; dkim=fail; dmarc=fail header.from=example.org"), False),
    ],
    ids=["none", "dmarc-none", "dmarc-fail"],
)
def test_a_customer_act_whose_from_dmarc_refutes_is_held(
    authenticating: Harness, headers: dict[str, str], acts: bool
) -> None:
    """A shop that saw the customer's case address (a Cc, a forward) and writes "gelöst"
    there under the customer's From (a black-box run did): the customer's domain fails
    DMARC, and the mail is held instead of closing the case."""
    harness = authenticating
    ref, sent = complain(harness)
    [ack] = addressed_to(sent, CUSTOMER)
    harness.send(harness.reply(ack, CUSTOMER, "Ja, das Problem ist gelöst.", headers=headers))
    told = harness.process()
    case = harness.case(ref)
    if acts:
        assert case["state"] == "closed_resolved"
    else:
        assert case["state"] == "awaiting_merchant"
        assert [h["reason"] for h in case["held_mails"]] == ["unauthenticated"]
        assert harness.sent(told) == []  # the From is forged: the customer did not write


@pytest.mark.parametrize(
    "sender",
    [
        "service@siegel.test",
        "Postmaster@siegel.test",
        "betreiber@siegel.test",  # a staff mailbox at our domain (a black-box finding)
        "team@intern.siegel.test",
    ],
)
def test_mail_from_our_own_address_opens_no_case_and_is_not_answered(
    harness: Harness, sender: str
) -> None:
    """A complaint "from" one of our own addresses, or any mailbox at our domain, is a
    loop, a forgery or staff: held for the operator, no case, no acknowledgement to
    ourselves."""
    harness.send(
        forged(sender, "beschwerde@siegel.test", "Sofa kaputt", "Mein Sofa MF-204518 ist kaputt."),
        envelope_to=["beschwerde@siegel.test"],
    )
    assert harness.process() == []
    assert harness.cli("cases", "--json").stdout.strip() in ("[]", "")
    held = harness.cli("held", "--json").stdout
    assert "own-address" in held


def test_results_written_by_a_sender_that_bypassed_the_mta_do_not_count(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """With the MTA's address configured, a merchant reply that reached our port from
    elsewhere, carrying its own "dkim=pass" under our authserv-id, is held."""
    settings = {"authserv_id": AUTHSERV_ID, "mta_peers": ["192.0.2.25"]}
    harness = _with_merchant(Harness(engine, tmp_path, sink, authentication=settings))
    try:
        ref, sent = complain(harness)
        [forward] = addressed_to(sent, MERCHANT)
        forged = _results(f"{AUTHSERV_ID}; dkim=pass header.d=moebel-fuchs.test")
        harness.send(harness.reply(forward, MERCHANT, "Erledigt.", headers=forged))
        harness.process()
        case = harness.case(ref)
        assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
        assert [h["reason"] for h in case["held_mails"]] == ["unauthenticated"]
    finally:
        harness.stop()


def test_a_merchant_reply_with_no_word_of_its_own_stops_no_clock(harness: Harness) -> None:
    """A merchant "reply" that only quotes our mail is no answer: recorded, the clock
    runs on, nothing reaches the customer."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    harness.send(harness.reply(forward, MERCHANT, ""))
    assert addressed_to(harness.process(), CUSTOMER) == []
    case = harness.case(ref)
    assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
    [replied] = [e for e in case["events"] if e["kind"] == "MerchantReplied"]
    assert replied["data"]["substantive"] is False
