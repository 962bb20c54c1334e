"""Bounces of our mails end to end: real bounce files in through SMTP (and IMAP), the worker,
the outbox rows, the case's timeline, the operator's mail from the sink.

A mail of a case that bounces permanently is logged on its case and the operator is told
once, in the operator's language, with what to do. The forward of the complaint to the
merchant bouncing stops the merchant's clock (no reminder, no deadline to miss) until the
operator gives the shop's address, which forwards the complaint again with a new
deadline; a bounce after the deadline takes the miss back. Further mail of the case to an
address that bounced is not sent. A bounce that comes back to a case address or to
``service@`` instead of the VERP address is matched by our Message-ID in the returned
mail; one read by IMAP without ``Delivered-To`` by the VERP address in its ``To``.
"""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow.config import ImapAccount
from mailflow.imap import ImapPoller
from mailflow.models import OutboxAttempt, OutboxMail, OutboxStatus
from mediation import figure_store, templates
from mediation.addresses import Role
from tests.conftest import TEST_DOMAIN
from tests.corpora import FLUFL_BOUNCES
from tests.harness import Harness, addressed_to, compose, plain
from tests.servers import DovecotServer
from tests.sink import Received, Sink
from tests.test_cases_e2e import CUSTOMER, MERCHANT, complain, merchant_answers

MAILS = Path(__file__).parent / "mails"
OPERATOR = "betreiber@siegel-betrieb.test"
CORRECTED = "kundendienst@moebel-fuchs.test"


@pytest.fixture
def harness(sqlite_engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    # One database: what a bounce changes is the case's own rows and events, which
    # tests/test_cases_e2e.py runs on both.
    running = Harness(sqlite_engine, tmp_path, sink, mediation={"operator": OPERATOR})
    running.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test",
        "--order-pattern", r"\bMF-\d{6}\b",
    )  # fmt: skip
    yield running
    running.stop()


# ------------------------------------------------------------------ bounce mails


def row_of(harness: Harness, mail: Received) -> OutboxMail:
    """The outbox row that sent `mail`."""
    with Session(harness.engine) as session:
        found = session.scalars(
            select(OutboxMail).where(OutboxMail.message_id == mail.message["Message-ID"])
        ).one()
        session.expunge(found)
        return found


def rows_to(harness: Harness, address: str) -> list[OutboxMail]:
    with Session(harness.engine) as session:
        found = list(
            session.scalars(
                select(OutboxMail).where(OutboxMail.recipient == address).order_by(OutboxMail.id)  # type: ignore[arg-type]
            )
        )
        for row in found:
            session.expunge(row)
        return found


def postfix_dsn(returned: Received, *, bounce_id: str = "4dKq2L0b1Mz9sRk") -> bytes:
    """tests/mails/postfix-dsn-de.eml (Postfix, multipart/report, 5.2.1, the returned
    mail's headers attached) as the bounce of `returned`: to its VERP address, about its
    recipient and Message-ID."""
    raw = (MAILS / "postfix-dsn-de.eml").read_text(encoding="utf-8")
    recipient = returned.rcpt_tos[0]
    raw = (
        raw.replace("bounce+18.abcdefghijklmnop@siegel.example", returned.mail_from)
        .replace("<outbox-18.77c1@siegel.example>", returned.message["Message-ID"])
        .replace("Kundenservice@Shop-Ohne-Postfach.example", recipient)
        .replace("kundenservice@shop-ohne-postfach.example", recipient)
        .replace("4dKq2L0b1Mz9sRk", bounce_id)
        .replace("siegel.example", TEST_DOMAIN)
    )
    return _crlf(raw)


def postfix_delay(returned: Received) -> bytes:
    """tests/mails/postfix-delay.eml (Action: delayed, 4.4.1) about `returned`."""
    raw = (MAILS / "postfix-delay.eml").read_text(encoding="utf-8")
    raw = raw.replace("<outbox-19.0a2b@siegel.example>", returned.message["Message-ID"])
    return _crlf(raw.replace("siegel.example", TEST_DOMAIN))


def exim_bounce(returned: Received) -> bytes:
    """tests/mails/exim-bounce-de.eml (no standard format: X-Failed-Recipients, "550
    5.1.1 ... User unknown" in the text, the copy below) as the bounce of `returned`."""
    raw = (MAILS / "exim-bounce-de.eml").read_text(encoding="utf-8")
    raw = (
        raw.replace("bounce+17.abcdefghijklmnop@siegel.example", returned.mail_from)
        .replace("<outbox-17.3f9a@siegel.example>", returned.message["Message-ID"])
        .replace("info@nicht-vorhanden.example", returned.rcpt_tos[0])
        .replace("siegel.example", TEST_DOMAIN)
    )
    return _crlf(raw)


def qmail_bounce(returned: Received, to: str) -> bytes:
    """flufl.bounce's qmail_03.txt ("Sorry, no mailbox here by that name. vpopmail
    (#5.1.1)") as a bounce of `returned` sent to `to`, quoting the returned mail's
    headers below "--- Below this line is a copy of the message."."""
    raw = (FLUFL_BOUNCES / "qmail_03.txt").read_text(encoding="utf-8")
    original = returned.message
    copy = (
        f"Return-Path: <{returned.mail_from}>\n"
        f"Message-ID: {original['Message-ID']}\n"
        f"From: {original['From']}\nTo: {returned.rcpt_tos[0]}\n"
        f"Subject: {original['Subject']}\n\n(Text entfernt)"
    )
    raw = (
        raw.replace("gpc-talk-bounces@grizz.org", to)
        .replace("userx@example.jp", returned.rcpt_tos[0])
        .replace("Message removed", copy)
    )
    return _crlf(raw)


def qmail_full_mailbox(returned: Received) -> bytes:
    """flufl.bounce's qmail_07.txt (null sender, "the user's mailfolder is full", a
    permanent error with no status code) as the bounce of `returned`, to its VERP address."""
    raw = (FLUFL_BOUNCES / "qmail_07.txt").read_text(encoding="utf-8")
    raw = raw.partition("\n")[2]  # the mbox "From " line
    raw = raw.replace("announce-bounces@example.com", returned.mail_from)
    return _crlf(raw.replace("user@example.net", returned.rcpt_tos[0]))


def without_returned_headers(raw: bytes) -> bytes:
    """A DSN without its third part (RFC 3464 §2: the returned content may be left out):
    nothing in it names our Message-ID."""
    start = raw.index(b"Content-Description: Undelivered Message Headers")
    start = raw.rindex(b"\r\n--", 0, start)
    end = raw.rindex(b"\r\n--")
    return raw[:start] + raw[end:]


def _crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def deliver(harness: Harness, raw: bytes, to: str) -> None:
    """`raw` through the SMTP intake from the null sender, as an MTA returns a bounce."""
    with smtplib.SMTP("127.0.0.1", harness.port, timeout=10) as client:
        assert client.sendmail("", [to], raw) == {}


def forwarded(harness: Harness) -> tuple[str, Received]:
    """A complaint; its case reference and the forward the merchant was sent."""
    ref, sent = complain(harness)
    [forward] = addressed_to(sent, MERCHANT)
    assert harness.sent([forward]) == [(MERCHANT, "merchant.complaint_forwarded")]
    return ref, forward


def kinds(harness: Harness, ref: str) -> list[str]:
    return [event["kind"] for event in harness.case(ref)["events"]]


# ------------------------------------------------------------------ the operator is told


@pytest.mark.parametrize("language", ["de", "en"])
def test_a_bounced_forward_is_on_the_case_and_the_operator_is_told_once(
    engine: Engine, tmp_path: Path, sink: Sink, language: str
) -> None:
    """A Postfix delay warning (4.4.1) changes nothing and tells nobody. A Postfix DSN
    (5.2.1) to the forward's VERP address marks the row bounced, logs the bounce in the
    case's timeline and tells the operator once, in the operator's language: the case,
    the recipient, the mail and its template, the reason in one line and the command
    that corrects the shop's address. A second report on the same row tells nobody."""
    harness = Harness(
        engine, tmp_path, sink, mediation={"operator": OPERATOR},
        siegel={"default_language": language},
    )  # fmt: skip
    try:
        harness.add_merchant(
            "moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test"
        )
        ref, forward = forwarded(harness)
        row = row_of(harness, forward)
        deliver(harness, postfix_delay(forward), forward.mail_from)
        assert harness.process() == []
        assert row_of(harness, forward).status == OutboxStatus.SENT
        assert "merchant_reply" in harness.case(ref)["deadlines"]

        deliver(harness, postfix_dsn(forward), forward.mail_from)
        sent = harness.process()

        assert row_of(harness, forward).status == OutboxStatus.BOUNCED
        [bounced] = [e for e in harness.case(ref)["events"] if e["kind"] == "ForwardBounced"]
        assert bounced["actor"] == "system"
        assert bounced["data"]["address"] == MERCHANT and bounced["data"]["outbox"] == row.id
        assert bounced["data"]["reason"] == "550 5.2.1 Mailbox disabled"
        assert harness.sent(sent) == [(OPERATOR, "operator.mail_bounced")]
        [notice] = sent
        text = plain(notice)
        assert notice.message["Content-Language"] == language
        assert ref in notice.message["Subject"] and MERCHANT in notice.message["Subject"]
        for said in (
            MERCHANT, "Möbel Fuchs", "merchant.complaint_forwarded", f"siegel outbox show {row.id}",
            "550 5.2.1 Mailbox disabled", "siegel merchant set moebel-fuchs --email",
        ):  # fmt: skip
            assert said in text, said
        assert (
            "Antwortfrist ist angehalten" if language == "de" else "deadline is stopped"
        ) in text

        deliver(harness, postfix_dsn(forward, bounce_id="5eLr3M1c2Na0tSl"), forward.mail_from)
        assert harness.process() == []
        with Session(harness.engine) as session:
            reports = session.scalars(
                select(OutboxAttempt).where(OutboxAttempt.outbox_id == row.id)
            ).all()
        assert [r.outcome for r in reports] == ["sent", "delayed", "bounced", "bounced"]
        assert kinds(harness, ref).count("ForwardBounced") == 1
    finally:
        harness.stop()


def test_the_operators_own_notice_bouncing_tells_nobody(harness: Harness) -> None:
    """No loop: the operator's notice about a bounce bouncing in turn is recorded on its
    row and sends nothing."""
    _, forward = forwarded(harness)
    deliver(harness, postfix_dsn(forward), forward.mail_from)
    [notice] = harness.process()
    deliver(harness, postfix_dsn(notice, bounce_id="6fMs4N2d3Ob1uTm"), notice.mail_from)
    assert harness.process() == []
    assert row_of(harness, notice).status == OutboxStatus.BOUNCED


# ------------------------------------------------------------------ the merchant's clock


@pytest.mark.parametrize("address", [CORRECTED, MERCHANT], ids=["new-address", "same-address"])
def test_a_bounced_forward_stops_the_clock_until_the_address_is_given(
    harness: Harness, address: str
) -> None:
    """After the forward bounced no reminder and no deadline-missed mail goes out and the
    case waits, whatever time passes. `siegel merchant set --email` (a new address, or
    the same one, confirmed) forwards the complaint again with a new deadline from then,
    which runs as any: the reminder and the miss go to the address given."""
    ref, forward = forwarded(harness)
    first = harness.case(ref)
    reply_due = datetime.fromisoformat(first["deadlines"]["merchant_reply"])
    deliver(harness, postfix_dsn(forward), forward.mail_from)
    harness.process()
    case = harness.case(ref)
    assert (case["state"], case["deadlines"]) == ("awaiting_merchant", {})

    assert harness.sweep(reply_due + timedelta(days=10)) == []
    case = harness.case(ref)
    assert (case["state"], case["merchant_missed_deadline"]) == ("awaiting_merchant", False)

    status, output, errors = harness.siegel("merchant", "set", "moebel-fuchs", "--email", address)
    assert status == 0, errors
    assert f"{ref}: complaint forwarded again to {address}" in output
    again = harness.process()
    assert sorted(harness.sent(again)) == sorted(
        [
            (address, "merchant.complaint_forwarded"),
            (CUSTOMER, "customer.complaint_forwarded_again"),
        ]
    )
    case = harness.case(ref)
    # `siegel merchant set` runs at the real time, the sweeps' clock is ahead of it.
    new_due = datetime.fromisoformat(case["deadlines"]["merchant_reply"])
    given_at = datetime.fromisoformat(case["merchant_given_at"])
    assert given_at > datetime.fromisoformat(first["merchant_given_at"])
    assert new_due >= reply_due
    assert kinds(harness, ref)[-1] == "MerchantAddressCorrected"
    [told] = [plain(m) for m in again if m.rcpt_tos[0] == CUSTOMER]
    shown_due = templates.format_moment(new_due, "de", harness.config.siegel.timezone)
    assert "erneut weitergeleitet" in told and shown_due in " ".join(told.split())

    reminder_at = datetime.fromisoformat(case["deadlines"]["merchant_reminder"])
    assert harness.sent(harness.sweep(reminder_at)) == [(address, "merchant.merchant_reminder")]
    escalated = harness.sweep(new_due + timedelta(minutes=1))
    assert (address, "merchant.deadline_missed") in harness.sent(escalated)
    assert harness.case(ref)["merchant_missed_deadline"] is True


def test_a_forward_our_relay_refuses_is_told_like_a_bounce(harness: Harness) -> None:
    """The relay answers 550 at RCPT for the shop's address: the forward is `failed`
    without any delivery report ever coming, and the case hears of it as of a bounce:
    on its timeline, the operator told with the relay's reason, the merchant's clock
    stopped (no reminder, no miss) and further mail of the case kept from that address,
    until the operator gives an address that works."""
    refusal = "550 5.1.1 <info@moebel-fuchs.test>: Recipient address rejected: User unknown"
    harness.sink.refuse(refusal, recipient=MERCHANT)
    ref, sent = complain(harness)
    assert addressed_to(sent, MERCHANT) == []
    [notice] = addressed_to(sent, OPERATOR)
    assert harness.sent([notice]) == [(OPERATOR, "operator.mail_bounced")]
    assert "Recipient address rejected" in plain(notice)
    [row] = rows_to(harness, MERCHANT)
    assert row.status == OutboxStatus.BOUNCED
    [bounced] = [e for e in harness.case(ref)["events"] if e["kind"] == "ForwardBounced"]
    assert bounced["data"]["outbox"] == row.id and bounced["data"]["reason"] == refusal
    case = harness.case(ref)
    assert (case["state"], case["deadlines"]) == ("awaiting_merchant", {})
    assert harness.sweep(datetime.now().astimezone() + timedelta(days=30)) == []
    assert harness.case(ref)["merchant_missed_deadline"] is False

    [acknowledgement] = addressed_to(sent, CUSTOMER)
    photo = "Hier noch ein Foto vom Schaden: Die Armlehne ist ganz abgebrochen."
    harness.send(harness.reply(acknowledgement, CUSTOMER, photo, quote=False))
    assert addressed_to(harness.process(), MERCHANT) == []
    latest = rows_to(harness, MERCHANT)[-1]
    assert (latest.kind, latest.status) == ("merchant.customer_message", OutboxStatus.SUPPRESSED)
    assert latest.suppressed_reason.startswith("recipient-bounced")  # type: ignore[union-attr]

    status, _, errors = harness.siegel("merchant", "set", "moebel-fuchs", "--email", CORRECTED)
    assert status == 0, errors
    assert sorted(harness.sent(harness.process())) == sorted(
        [
            (CORRECTED, "merchant.complaint_forwarded"),
            (CUSTOMER, "customer.complaint_forwarded_again"),
        ]
    )


def test_a_bounce_after_the_deadline_leaves_the_miss_to_the_operator(harness: Harness) -> None:
    """An MTA that gave up only after the deadline had passed, or a shop that ignored the
    complaint and forges such a report (a black-box run did; it has the forward's return
    path): the miss stands and the operator is told; `siegel case REF
    --forward-not-received` takes it back, so the case is no due case of the merchant's
    figures; the mediation goes on."""
    ref, forward = forwarded(harness)
    reply_due = datetime.fromisoformat(harness.case(ref)["deadlines"]["merchant_reply"])
    harness.sweep(reply_due + timedelta(minutes=1))
    assert harness.case(ref)["merchant_missed_deadline"] is True

    deliver(harness, postfix_dsn(forward), forward.mail_from)
    [notice] = addressed_to(harness.process(), OPERATOR)
    case = harness.case(ref)
    assert (case["state"], case["merchant_missed_deadline"]) == ("in_mediation", True)
    assert f"siegel case {ref} --forward-not-received" in plain(notice)

    done = harness.cli("case", ref, "--forward-not-received")
    assert "the missed deadline taken back" in done.stdout
    case = harness.case(ref)
    assert (case["state"], case["merchant_missed_deadline"]) == ("in_mediation", False)
    status, _, errors = harness.siegel("case", ref, "--forward-not-received")
    assert status != 0 and "no missed deadline" in errors
    with Session(harness.engine) as session:
        [figures] = figure_store.aggregates(
            session, reply_due + timedelta(days=1), 12, [harness.merchant("moebel-fuchs").id]
        )  # type: ignore[list-item]
    assert (figures.cases, figures.cases_due) == (1, 0)


@pytest.mark.parametrize("after_the_deadline", [False, True], ids=["running", "missed"])
def test_a_report_that_the_forward_bounced_is_not_believed_once_the_merchant_wrote(
    harness: Harness, after_the_deadline: bool
) -> None:
    """The merchant's auto-reply came from its address to its case address, which only
    the forward gave it: the forward arrived. A delivery report for it afterwards (forged
    by the merchant, which has the forward's return path) stops no clock and takes no
    miss back; the operator is told why."""
    ref, forward = forwarded(harness)
    absent = harness.reply(
        forward, MERCHANT, "Ich bin bis zum 14.12. nicht im Büro.", quote=False,
        headers={"Auto-Submitted": "auto-replied"},
    )  # fmt: skip
    harness.send(absent)
    assert harness.process() == []
    reply_due = datetime.fromisoformat(harness.case(ref)["deadlines"]["merchant_reply"])
    if after_the_deadline:
        harness.sweep(reply_due + timedelta(minutes=1))
    before = harness.case(ref)

    deliver(harness, postfix_dsn(forward), forward.mail_from)
    [notice] = addressed_to(harness.process(), OPERATOR)

    case = harness.case(ref)
    assert (case["state"], case["deadlines"]) == (before["state"], before["deadlines"])
    assert case["merchant_missed_deadline"] is after_the_deadline
    assert "ForwardBounced" not in kinds(harness, ref)
    assert "Die Weiterleitung hat ihn also erreicht" in " ".join(plain(notice).split())
    # Nor does it cut the merchant off the case's mail (a review finding: a forged report
    # blocked every later mail to the address, a proposal included).
    assert row_of(harness, forward).status == OutboxStatus.SENT
    if not after_the_deadline:  # (in mediation, the customer writes to the mediator)
        to_case = harness.case_address(ref, Role.CUSTOMER)
        text = "Das Foto vom Riss schicke ich gern."
        harness.send(compose(CUSTOMER, to_case, "Nachtrag", text))
        assert addressed_to(harness.process(), MERCHANT)


# ------------------------------------------------------------------ no mail to a dead address


@pytest.mark.parametrize("bounce", ["exim", "qmail"])
def test_mail_of_the_case_to_an_address_that_bounced_is_not_sent_again(
    harness: Harness, bounce: str
) -> None:
    """A bounce in no standard format of the customer's acknowledgement (Exim with "550
    5.1.1" in its text; qmail saying "mailfolder is full" without any code) marks it
    bounced and tells the operator the reason; the merchant's answer, forwarded to the
    customer afterwards, is not sent there but kept `suppressed` with the reason, and
    the operator is not told again."""
    ref, sent = complain(harness)
    [acknowledgement] = addressed_to(sent, CUSTOMER)
    [forward] = addressed_to(sent, MERCHANT)
    if bounce == "exim":
        raw, reason = exim_bounce(acknowledgement), "550 5.1.1 <erika.muster@example.org>"
    else:
        raw, reason = qmail_full_mailbox(acknowledgement), "the user's mailfolder is full"
    deliver(harness, raw, acknowledgement.mail_from)
    [notice] = harness.process()
    assert harness.sent([notice]) == [(OPERATOR, "operator.mail_bounced")]
    assert reason in plain(notice) and f"siegel case {ref}" in plain(notice)
    assert row_of(harness, acknowledgement).status == OutboxStatus.BOUNCED
    assert "MailBounced" in kinds(harness, ref)

    answered = merchant_answers(harness, forward)
    assert addressed_to(answered, CUSTOMER) == addressed_to(answered, OPERATOR) == []
    latest = rows_to(harness, CUSTOMER)[-1]
    assert latest.kind == "customer.merchant_reply_forwarded"
    assert latest.status == OutboxStatus.SUPPRESSED
    assert latest.suppressed_reason.startswith("recipient-bounced")  # type: ignore[union-attr]
    assert harness.case(ref)["state"] == "awaiting_customer"


# ------------------------------------------------------------------ bounces elsewhere


@pytest.mark.parametrize("where", ["case-address", "service"])
def test_a_bounce_to_another_address_of_ours_is_matched_by_our_message_id(
    harness: Harness, where: str
) -> None:
    """A qmail bounce (null sender, the returned mail quoted in its text) to the
    merchant's case address, and a Postfix DSN (the returned headers attached) to our
    From address: each names the forward by its Message-ID, is recorded as its bounce
    (not as automatic mail of the case) and tells the operator."""
    ref, forward = forwarded(harness)
    if where == "case-address":
        to = harness.case_address(ref, Role.MERCHANT)
        raw = qmail_bounce(forward, to)
        reason = "Sorry, no mailbox here by that name. vpopmail (#5.1.1)"
    else:
        to = f"service@{TEST_DOMAIN}"
        raw = postfix_dsn(forward).replace(forward.mail_from.encode(), to.encode())
        reason = "550 5.2.1 Mailbox disabled"
    deliver(harness, raw, to)
    sent = harness.process()

    assert row_of(harness, forward).status == OutboxStatus.BOUNCED
    assert harness.sent(sent) == [(OPERATOR, "operator.mail_bounced")]
    assert reason in plain(sent[0])
    events = kinds(harness, ref)
    assert "ForwardBounced" in events and "AutomaticMailIgnored" not in events
    assert harness.case(ref)["deadlines"] == {}


@pytest.mark.dovecot
def test_a_dsn_read_by_imap_without_delivered_to_is_matched_by_its_to_header(
    harness: Harness, dovecot: DovecotServer
) -> None:
    """A DSN APPENDed to the polled mailbox (no Delivered-To, no X-Original-To: the
    envelope is the mailbox) names the forward's VERP address only in its To header:
    with its token checked, that is the forward's bounce. One naming a bounce address
    with a wrong token (and no Message-ID of ours) is nobody's: held like any."""
    ref, forward = forwarded(harness)
    user = dovecot.add_user("bounces")
    local, _, domain = forward.mail_from.partition("@")
    forged = f"{local[:-4]}{'b' if local.endswith('aaaa') else 'a'}aaa@{domain}"
    raw = postfix_dsn(forward, bounce_id="7gNt5O3e4Pc2vUn")
    raw = raw.replace(forward.mail_from.encode(), forged.encode())
    dovecot.append(user, raw.replace(forward.message["Message-ID"].encode(), b"<x@example.org>"))
    dovecot.append(user, without_returned_headers(postfix_dsn(forward)))
    account = {
        "host": dovecot.host, "port": dovecot.port, "ssl": False, "username": user.username,
        "password": user.password, "processed_folder": "Siegel/Processed",
        "quarantine_folder": "Siegel/Quarantine", "poll_seconds": 3600.0,
    }  # fmt: skip
    poller = ImapPoller(ImapAccount(**account), harness.spool, harness.engine, 25 * 1024 * 1024)
    try:
        assert poller.poll_once() == 2
    finally:
        poller.close()
    sent = harness.process()

    assert row_of(harness, forward).status == OutboxStatus.BOUNCED
    assert harness.sent(sent) == [(OPERATOR, "operator.mail_bounced")]
    assert "ForwardBounced" in kinds(harness, ref)
    status, output, _ = harness.siegel("held", "--json")
    [held] = json.loads(output)  # the forged one, not the forward's bounce
    assert status == 0 and held["subject"].startswith("Unzustellbar")
