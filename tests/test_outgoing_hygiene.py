"""Outgoing mail hygiene (issue 9): internationalised recipients are delivered or fail
clearly, and no bidi or control character from a customer's subject or name reaches a
header we write. (No automatic answer to our own domain: with the other loop-safety
rules in tests/test_outbox.py.)

Delivery goes through the real relay to the in-process SMTP sink, with and without
SMTPUTF8 on offer; the end-to-end test sends real mail through the SMTP intake.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config
from mailflow.models import OutboxMail, OutboxStatus
from mailflow.relay import SMTPUTF8_MISSING, Relay
from mediation import outgoing, templates
from mediation.outgoing import OutgoingMail, header_text, wire_address
from tests.conftest import TEST_DOMAIN, make_config
from tests.harness import Harness, addressed_to, compose, plain
from tests.outbox_rows import enqueued_row, row_of
from tests.sink import Received, Sink

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BIDI = sorted(outgoing.BIDI_CONTROLS)
CONTROLS = [chr(c) for c in (*range(0x00, 0x20), *range(0x7F, 0xA0))]
# What splitlines() and folding take for a line end (and tab): these become a space.
SPACED = set("\t\n\v\f\r\x1c\x1d\x1e\x85\u2028\u2029")
UNWANTED = re.compile("[" + re.escape("".join(BIDI + CONTROLS)) + "]")
RLO = "\u202e"  # RIGHT-TO-LEFT OVERRIDE


def mail(to: str = "kunde@example.org", **changes: object) -> OutgoingMail:
    base = OutgoingMail(
        to=to,
        subject="[SSG-2026-000123] Ihre Beschwerde ist eingegangen",
        text="Guten Tag,\n\nwir haben Ihre Beschwerde über Größe und Maße erhalten.\n",
        html="<p>Guten Tag</p>",
        kind="customer.complaint_acknowledged",
        language="de",
        case_ref="SSG-2026-000123",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def parse(raw: bytes) -> EmailMessage:
    """A message as a reader sees it: UTF-8 headers (RFC 6532) and encoded words decoded."""
    return message_from_string(raw.decode("utf-8"), policy=policy.default)  # type: ignore[return-value]


def headers_of(raw: bytes) -> dict[str, str]:
    return {name: str(value) for name, value in parse(raw).items()}


def enqueue(engine: Engine, config: Config, outgoing_mail: OutgoingMail) -> OutboxMail:
    return enqueued_row(engine, config, outgoing_mail, NOW)


def relay_config(tmp_path: Path, sink: Sink) -> Config:
    return make_config(tmp_path, relay=sink.relay_settings())


@pytest.fixture
def utf8_sink() -> Iterator[Sink]:
    """A relay that offers SMTPUTF8 (RFC 6531), as Postfix does by default."""
    server = Sink(smtputf8=True).start()
    yield server
    server.stop()


# ------------------------------------------------------------------ header text


@pytest.mark.parametrize("character", BIDI + CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_header_text_removes_every_bidi_and_control_character(character: str) -> None:
    """Each bidi control and each C0/C1 control is gone; line ends and tabs become a space."""
    cleaned = header_text(f"Rechnung{character}fdp.exe")
    expected = "Rechnung fdp.exe" if character in SPACED else "Rechnungfdp.exe"
    assert cleaned == expected


@pytest.mark.parametrize(
    "text",
    [
        "Ihre Beschwerde über Größe – „Müller & Söhne“",
        "用户的投诉 · 例子",
        "شكوى بخصوص الطلب",  # right-to-left letters are text, not controls
        "בעיה בהזמנה 42",
        "Paket fehlt 📦\u00a0(seit Montag)",
    ],
)
def test_header_text_keeps_what_people_write(text: str) -> None:
    """Letters of every script, punctuation, emoji and no-break spaces are kept as they are."""
    assert header_text(text) == text


# ------------------------------------------------------------------ addresses


@pytest.mark.parametrize(
    ("address", "sent_as"),
    [
        ("kunde@example.org", "kunde@example.org"),
        ("user@bücher.example", "user@xn--bcher-kva.example"),
        ("Info@Bücher.Example.", "Info@xn--bcher-kva.example"),
        ("post@straße.de", "post@xn--strae-oqa.de"),  # IDNA2008: not strasse.de
        ("kunde@例子。广告", "kunde@xn--fsqu00a.xn--4rr70v"),
        ("jürgen@beispiel.de", "jürgen@beispiel.de"),
        ("ju\u0308rgen@beispiel.de", "jürgen@beispiel.de"),  # NFC (RFC 6532 §3.1)
        ("用户@例子.广告", "用户@例子.广告"),
    ],
)
def test_wire_address_encodes_the_domain_of_an_ascii_local_part(address: str, sent_as: str) -> None:
    """An ASCII local part gets its domain in A-labels (no SMTPUTF8 needed); a non-ASCII
    local part keeps its Unicode domain; both are NFC."""
    assert wire_address(address) == sent_as


@pytest.mark.parametrize(
    "address", ["kunde@bü..example", f"kunde@{'ü' * 70}.example", "kunde@", "@bücher.example"]
)
def test_wire_address_refuses_what_cannot_be_sent(address: str) -> None:
    """Empty or over-long labels and a missing part are refused with a reason."""
    with pytest.raises(ValueError):
        wire_address(address)


# ------------------------------------------------------------------ rendering


@pytest.mark.parametrize("to", ["kunde@example.org", "jürgen@beispiel.de"])
def test_no_bidi_or_control_character_reaches_a_header(to: str) -> None:
    """U+202E and control characters in a subject and a display name are removed in
    the rendered message, in a 7-bit message and in a UTF-8 one alike."""
    subject = f"[SSG-2026-000123] Rechnung{RLO}fdp.exe\u2066 \x07fehlt\u200f"
    raw = outbox.render(
        mail(to=to, subject=subject, to_name=f"Erika{RLO} Muster\x1b"),
        "<siegel.x@siegel.test>",
        TEST_DOMAIN,
        NOW,
    )
    headers = headers_of(raw)
    for name, value in headers.items():
        assert not UNWANTED.search(value), (name, value)
    assert headers["Subject"] == "[SSG-2026-000123] Rechnungfdp.exe fehlt"
    message = parse(raw)
    [recipient] = message["To"].addresses
    assert (recipient.display_name, recipient.addr_spec) == ("Erika Muster", to)
    assert raw.isascii() is to.isascii()


def test_a_template_filled_with_a_customers_name_yields_a_clean_subject() -> None:
    """The subject that names the customer (merchant.customer_message) carries no U+202E
    once rendered, whatever the name held."""
    values = dict.fromkeys(templates.PARAMETERS, "") | {
        "ref": "SSG-2026-000123",
        "customer_name": f"Erika {RLO}retsuM",
    }
    rendered = templates.render("merchant.customer_message", "de", values)
    assert RLO in rendered.subject  # the template itself passes the name on
    raw = outbox.render(
        mail(subject=rendered.subject, text=rendered.text), "<a@siegel.test>", TEST_DOMAIN, NOW
    )
    assert headers_of(raw)["Subject"] == "[SSG-2026-000123] Neue Nachricht von Erika retsuM"


def test_a_non_ascii_local_part_gets_utf8_headers_and_a_7bit_body() -> None:
    """To a non-ASCII local part the headers are UTF-8 (RFC 6532), not encoded words,
    and the body stays quoted-printable."""
    raw = outbox.render(
        mail(to="用户@例子.广告", subject="Ihre Beschwerde über Größe"),
        "<a@siegel.test>",
        TEST_DOMAIN,
        NOW,
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert "To: 用户@例子.广告\r\n".encode() in head
    assert "Subject: Ihre Beschwerde über Größe\r\n".encode() in head
    assert b"=?utf-8?" not in head
    assert body.isascii()
    assert parse(raw).get_body(("plain",)).get_content().startswith("Guten Tag")  # type: ignore[union-attr]


# ------------------------------------------------------------------ enqueue


def test_the_row_keeps_the_address_as_sent(engine: Engine, tmp_path: Path) -> None:
    """The stored recipient and the To header are the address as sent (A-labels)."""
    config = make_config(tmp_path)
    row = enqueue(engine, config, mail(to="user@bücher.example"))
    assert row.status == OutboxStatus.QUEUED
    assert row.recipient == "user@xn--bcher-kva.example"
    assert outbox.message(row, config).isascii()
    assert parse(outbox.message(row, config))["To"] == "user@xn--bcher-kva.example"


def test_the_daily_cap_counts_both_spellings_of_a_domain_as_one(
    engine: Engine, tmp_path: Path
) -> None:
    """An automatic reply to user@bücher.example and one to its A-label spelling count
    as two replies to one address."""
    config = make_config(tmp_path, outbox={"max_autoreplies_per_day": 1})
    first = enqueue(engine, config, mail(to="user@bücher.example", auto_reply=True))
    second = enqueue(engine, config, mail(to="User@XN--BCHER-KVA.example", auto_reply=True))
    assert first.status == OutboxStatus.QUEUED
    assert second.status == OutboxStatus.SUPPRESSED
    assert second.suppressed_reason is not None
    assert second.suppressed_reason.startswith(outbox.Suppression.AUTOREPLY_DAILY_CAP)


def test_an_address_that_cannot_be_written_is_a_failed_row_not_an_error(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """A domain IDNA cannot encode gives a failed row with the reason; the caller's
    transaction goes on and the relay never tries it."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail(to="kunde@bü..example"))
    assert row.status == OutboxStatus.FAILED
    assert row.last_error is not None
    assert row.last_error.startswith("undeliverable address: ")
    assert Relay(engine, config).run_once() == 0
    assert sink.received == []


# ------------------------------------------------------------------ delivery


def test_an_idn_domain_is_delivered_without_smtputf8(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """user@bücher.example goes out as user@xn--bcher-kva.example through a relay
    without SMTPUTF8, in a 7-bit message."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail(to="user@bücher.example"))
    assert Relay(engine, config).run_once() == 1
    [received] = sink.received
    assert received.rcpt_tos == ("user@xn--bcher-kva.example",)
    assert not received.smtputf8
    assert received.raw.isascii()
    assert row_of(engine, row.id).status == OutboxStatus.SENT


@pytest.mark.parametrize(
    "address", ["jürgen@beispiel.de", "用户@例子.广告", "δοκιμή@παράδειγμα.δοκιμή"]
)
def test_a_non_ascii_local_part_is_delivered_with_smtputf8(
    engine: Engine, tmp_path: Path, utf8_sink: Sink, address: str
) -> None:
    """Through a relay that offers SMTPUTF8 the mail is sent with it: the envelope and the
    To header name the Unicode address, subject and body arrive intact, the row is sent."""
    config = relay_config(tmp_path, utf8_sink)
    row = enqueue(engine, config, mail(to=address, subject="Ihre Beschwerde über Größe"))
    assert Relay(engine, config).run_once() == 1
    [received] = utf8_sink.received
    assert received.smtputf8
    assert received.rcpt_tos == (address,)
    message = parse(received.raw)
    assert [a.addr_spec for a in message["To"].addresses] == [address]
    assert message["Subject"] == "Ihre Beschwerde über Größe"
    assert message["Message-ID"] == row.message_id
    body = message.get_body(("plain",))
    assert body is not None and "Größe und Maße" in body.get_content()
    sent = row_of(engine, row.id)
    assert (sent.status, sent.attempts) == (OutboxStatus.SENT, 1)


def test_without_smtputf8_the_row_fails_clearly_and_the_pass_goes_on(
    engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """A relay without SMTPUTF8 cannot take a non-ASCII local part: that row fails at
    once with the reason, is never retried, and the next row of the pass is delivered."""
    config = relay_config(tmp_path, sink)
    utf8_row = enqueue(engine, config, mail(to="jürgen@beispiel.de"))
    ascii_row = enqueue(engine, config, mail(to="erika@example.org"))
    relay = Relay(engine, config)
    assert relay.run_once() == 2
    failed = row_of(engine, utf8_row.id)
    assert failed.status == OutboxStatus.FAILED
    assert failed.last_error == SMTPUTF8_MISSING
    assert "relay does not support SMTPUTF8" in failed.last_error
    with Session(engine) as session:
        [attempt] = outbox.list_attempts(session, utf8_row.id)  # type: ignore[arg-type]
    assert attempt.outcome == outbox.AttemptOutcome.FAILED
    assert row_of(engine, ascii_row.id).status == OutboxStatus.SENT
    assert [r.rcpt_tos for r in sink.received] == [("erika@example.org",)]
    assert relay.run_once() == 0  # nothing left to retry


# ------------------------------------------------------------------ end to end


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant(
        "moebel-fuchs", "Möbel Fuchs", "service@moebel-fuchs.test", "--domain", "moebel-fuchs.test"
    )
    yield running
    running.stop()


def _no_unwanted_header_characters(mails: list[Received]) -> None:
    for received in mails:
        for name, value in headers_of(received.raw).items():
            assert not UNWANTED.search(value), (name, value)


def test_a_customers_bidi_name_and_subject_never_reach_our_headers(harness: Harness) -> None:
    """A customer whose name and subject carry U+202E and other bidi controls: none of
    the mails we send has one in any header, and the merchant sees the name cleaned."""
    customer = "erika@example.org"
    harness.send(
        compose(
            f"Erika {RLO}retsuM\u2066 <{customer}>",
            "beschwerde+moebel-fuchs@siegel.test",
            f"Sofa {RLO}gpj.exe beschädigt\u200f",
            f"Guten Tag,\n\nmein Sofa von Möbel Fuchs kam mit einem Riss an: {RLO}gpj.otof\r\n"
            "\nErika Muster\n",
        )
    )
    sent = harness.process()
    [forward] = addressed_to(sent, "service@moebel-fuchs.test")
    # The text quoted in a mail loses them as well (a black-box finding).
    assert "mit einem Riss an: gpj.otof" in plain(forward)
    assert not set(plain(forward)) & (set(BIDI) | set(CONTROLS) - {"\n", "\t"})
    merchant_reply = harness.reply(
        forward, "service@moebel-fuchs.test", "Wir holen das Sofa nächste Woche ab."
    )
    harness.send(merchant_reply)
    answered = harness.process()
    [to_customer] = addressed_to(answered, customer)
    harness.send(harness.reply(to_customer, customer, "An welchem Tag genau kommt die Abholung?"))
    later = harness.process()
    [message_to_merchant] = addressed_to(later, "service@moebel-fuchs.test")
    _no_unwanted_header_characters([*sent, *answered, *later])
    assert message_to_merchant.message["Subject"].endswith("Neue Nachricht von Erika retsuM")
