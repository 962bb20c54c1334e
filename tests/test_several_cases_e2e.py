"""One mail to several case addresses, end to end: real SMTP in, the worker and the relay
in-process, the sink as relay (a black-box tester's finding: such a mail acted in the
first case only, and the others lost it without a trace).

A mail acts at each distinct case address it was delivered to as if it had been sent
there alone: every rule per address holds (who may act, closed cases, notices), each
case's outcome is its own, and the worker's log line names all of them. One case
reached at two roles' addresses acts once, at the address of the sender's role. A mail
acts in at most `[mediation] max_cases_per_mail` cases; the rest hold it, and its sender
is told once which.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from mediation.addresses import Role
from tests.harness import Harness, addressed_to, compose, plain
from tests.sink import Received, Sink
from tests.test_attacks_e2e import _with_merchant
from tests.test_cases_e2e import CUSTOMER, MEDIATOR, MERCHANT, REF, complain, to_mediation

CUSTOMERS = tuple(f"kundin{number}@example.org" for number in range(1, 5))
ANSWER = (
    "Guten Tag,\n\nes tut uns leid. Wir holen das Sofa nächste Woche ab und liefern "
    "ein neues.\n\nMit freundlichen Grüßen\nIhr Möbel-Fuchs-Kundenservice\n"
)


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = _with_merchant(Harness(engine, tmp_path, sink))
    yield running
    running.stop()


def open_cases(harness: Harness, customers: Sequence[str]) -> list[str]:
    """One case per customer (each its own complaint); their references."""
    return [complain(harness, customer=customer)[0] for customer in customers]


def to_all(harness: Harness, refs: Sequence[str], role: Role = Role.MERCHANT) -> str:
    return ", ".join(harness.case_address(ref, role) for ref in refs)


def held(harness: Harness) -> list[dict[str, Any]]:
    status, output, errors = harness.siegel("held", "--json")
    assert status == 0, errors
    return json.loads(output)


def ref_of(mail: Received) -> str:
    found = REF.search(str(mail.message["Subject"]))
    assert found, mail.message["Subject"]
    return found.group(1)


def of_kind(harness: Harness, mails: Sequence[Received], kind: str) -> list[Received]:
    """The mails of `mails` written from template `kind`."""
    return [
        mail
        for mail, (_, written) in zip(mails, harness.sent(mails), strict=True)
        if written == kind
    ]


def kinds(harness: Harness, ref: str) -> list[str]:
    return [event["kind"] for event in harness.case(ref)["events"]]


def test_a_merchant_reply_to_four_of_its_cases_acts_in_each(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The tester's mail: the shop answers four of its cases at once, To: their four
    merchant case addresses. Each case measures its first reply and waits for its
    customer, each customer gets the answer forwarded and the shop its confirmation, in
    that case's thread; nothing is held, and the worker's log line names all four cases."""
    refs = open_cases(harness, CUSTOMERS)
    with caplog.at_level(logging.INFO, logger="mailflow.worker"):
        harness.send(compose(f"Möbel Fuchs <{MERCHANT}>", to_all(harness, refs), "Sofa", ANSWER))
        told = harness.process()
    assert sorted(harness.sent(told)) == [
        *[(customer, "customer.merchant_reply_forwarded") for customer in CUSTOMERS],
        *[(MERCHANT, "merchant.message_forwarded")] * 4,
    ]
    assert sorted(ref_of(mail) for mail in addressed_to(told, MERCHANT)) == sorted(refs)
    for ref, customer in zip(refs, CUSTOMERS, strict=True):
        [forwarded] = addressed_to(told, customer)
        assert ref_of(forwarded) == ref and "liefern ein neues" in plain(forwarded)
        assert "fall+" not in plain(forwarded).lower()
        case = harness.case(ref)
        assert case["state"] == "awaiting_customer" and case["first_reply_seconds"] is not None
        assert kinds(harness, ref).count("FirstReplyMeasured") == 1
    assert held(harness) == []
    [line] = [
        record.getMessage()
        for record in caplog.records
        if record.name == "mailflow.worker" and "processed" in record.getMessage()
    ]
    assert [ref for ref in refs if f"case {ref}, 2 mail(s) queued" in line] == refs, line


def test_the_same_mail_delivered_later_to_a_second_case_address_acts_there_too(
    harness: Harness,
) -> None:
    """The shop's answer to two of its cases arrives once per recipient (as Postfix's
    pipe delivery per recipient sends it), the second copy after the first was worked:
    the second case acts as well, and a third copy for either address acts nowhere."""
    refs = open_cases(harness, CUSTOMERS[:2])
    answer = compose(f"Möbel Fuchs <{MERCHANT}>", to_all(harness, refs), "Sofa", ANSWER)
    first, second = (harness.case_address(ref, Role.MERCHANT) for ref in refs)
    harness.send(answer, envelope_to=[first])
    assert sorted(harness.sent(harness.process())) == [
        (CUSTOMERS[0], "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    harness.send(answer, envelope_to=[second])
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMERS[1], "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    assert {ref_of(mail) for mail in told} == {refs[1]}
    harness.send(answer, envelope_to=[second, first])
    assert harness.process() == []
    for ref in refs:
        assert kinds(harness, ref).count("FirstReplyMeasured") == 1


def test_a_customer_at_its_own_and_another_customers_case_address(harness: Harness) -> None:
    """A customer writes to its own case address and to another customer's: its own
    case acts (the shop gets the message), the other case holds the mail as not the
    party of that address (logged on it, nothing forwarded), and the sender is told."""
    other_ref, ref = open_cases(harness, CUSTOMERS[:2])
    to = to_all(harness, [ref, other_ref], Role.CUSTOMER)
    text = "Ich habe noch Fotos vom Schaden: Die Armlehne ist ganz abgebrochen."
    harness.send(compose(CUSTOMERS[1], to, "Nachtrag", text))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMERS[1], "customer.message_forwarded"),
        (CUSTOMERS[1], "sender.not_party"),
        (MERCHANT, "merchant.customer_message"),
    ]
    [to_merchant] = addressed_to(told, MERCHANT)
    [confirmation] = of_kind(harness, told, "customer.message_forwarded")
    [notice] = of_kind(harness, told, "sender.not_party")
    assert ref_of(to_merchant) == ref_of(confirmation) == ref and ref_of(notice) == other_ref
    assert harness.case(ref)["held_mails"] == []
    other = harness.case(other_ref)
    assert [h["reason"] for h in other["held_mails"]] == ["sender-not-party"]
    assert other["state"] == "awaiting_merchant" and "MailHeld" in kinds(harness, other_ref)


def test_a_case_address_of_no_case_beside_a_real_one_is_held_and_the_real_one_acts(
    harness: Harness,
) -> None:
    """The first address names a case that does not exist (signed, but never opened):
    it holds the mail as unknown-case and tells the sender; the real case still acts."""
    [ref] = open_cases(harness, [CUSTOMER])
    missing = "SSG-2026-999999"
    harness.send(compose(MERCHANT, to_all(harness, [missing, ref]), "Sofa", ANSWER))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMER, "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),
        (MERCHANT, "sender.mail_held"),
    ]
    [notice] = of_kind(harness, told, "sender.mail_held")
    assert ref_of(notice) == missing
    assert harness.case(ref)["state"] == "awaiting_customer"
    [row] = held(harness)
    assert row["reason"] == "unknown-case" and row["case"] is None and row["sender_told"]


def test_one_case_at_two_roles_addresses_acts_once_at_the_senders_own(harness: Harness) -> None:
    """The shop writes to the customer's and its own case address of one case (the
    customer's first): the reply acts once, at the shop's address (one forward, one
    measured reply); the customer's address holds it for the operator, and the shop,
    whose mail did act, gets no notice to use its own address."""
    [ref] = open_cases(harness, [CUSTOMER])
    to = f"{harness.case_address(ref, Role.CUSTOMER)}, {harness.case_address(ref, Role.MERCHANT)}"
    harness.send(compose(MERCHANT, to, "Sofa", ANSWER))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        (CUSTOMER, "customer.merchant_reply_forwarded"),
        (MERCHANT, "merchant.message_forwarded"),
    ]
    case = harness.case(ref)
    assert case["state"] == "awaiting_customer"
    assert kinds(harness, ref).count("FirstReplyMeasured") == 1
    [row] = case["held_mails"]
    assert row["reason"] == "sender-not-party" and not row["sender_told"]


def test_a_mediator_at_both_parties_addresses_acts_nowhere_and_is_told_once(
    harness: Harness,
) -> None:
    """The mediator writes to the customer's and the merchant's case address of its
    case, not to its own: nothing acts, both are held, and it is told its own address
    once."""
    ref, _ = to_mediation(harness)
    state = harness.case(ref)["state"]
    to = f"{harness.case_address(ref, Role.CUSTOMER)}, {harness.case_address(ref, Role.MERCHANT)}"
    harness.send(compose(MEDIATOR, to, "Ihr Fall", "#vorschlag Der Shop erstattet 200 Euro."))
    told = harness.process()
    assert harness.sent(told) == [(MEDIATOR, "sender.other_role_address")]
    assert told[0].message["Reply-To"] == harness.case_address(ref, Role.MEDIATOR)
    case = harness.case(ref)
    assert case["state"] == state
    assert [h["reason"] for h in case["held_mails"]] == ["sender-not-party"] * 2


def test_case_addresses_beside_the_complaint_address_act_and_open_no_case(
    harness: Harness,
) -> None:
    """A reply to two cases copied to beschwerde@: the case addresses win, as for one
    (the customer's reply with the complaint address in Cc opens no second case), and
    both cases act."""
    refs = open_cases(harness, CUSTOMERS[:2])
    to = f"beschwerde@siegel.test, {to_all(harness, refs)}"
    harness.send(compose(MERCHANT, to, "Sofa", ANSWER))
    told = harness.process()
    assert sorted(harness.sent(told)) == [
        *[(customer, "customer.merchant_reply_forwarded") for customer in CUSTOMERS[:2]],
        *[(MERCHANT, "merchant.message_forwarded")] * 2,
    ]
    status, output, errors = harness.siegel("cases", "--json")
    assert status == 0, errors
    assert sorted(case["ref"] for case in json.loads(output)) == sorted(refs)
    assert all(harness.case(ref)["state"] == "awaiting_customer" for ref in refs)


def test_a_mail_acts_in_at_most_max_cases_per_mail_cases(
    engine: Engine, tmp_path: Path, sink: Sink, caplog: pytest.LogCaptureFixture
) -> None:
    """`[mediation] max_cases_per_mail = 2`: a reply to three cases acts in the first
    two by recipient order; the third holds it (too-many-cases, on that case), and the
    shop is told once which case it did not reach. The log line names all three."""
    harness = _with_merchant(Harness(engine, tmp_path, sink, mediation={"max_cases_per_mail": 2}))
    try:
        first, second, third = open_cases(harness, CUSTOMERS[:3])
        with caplog.at_level(logging.INFO, logger="mailflow.worker"):
            harness.send(compose(MERCHANT, to_all(harness, [third, first, second]), "Sofa", ANSWER))
            told = harness.process()
        assert sorted(harness.sent(told)) == [
            (CUSTOMERS[0], "customer.merchant_reply_forwarded"),
            (CUSTOMERS[2], "customer.merchant_reply_forwarded"),
            (MERCHANT, "merchant.message_forwarded"),
            (MERCHANT, "merchant.message_forwarded"),
            (MERCHANT, "sender.too_many_cases"),
        ]
        [notice] = of_kind(harness, told, "sender.too_many_cases")
        assert f"- {second}" in plain(notice)
        assert first not in plain(notice) and third not in plain(notice)
        assert harness.case(first)["state"] == harness.case(third)["state"] == "awaiting_customer"
        case = harness.case(second)
        assert case["state"] == "awaiting_merchant" and case["first_reply_seconds"] is None
        [row] = held(harness)
        assert row["reason"] == "too-many-cases" and row["case"] == second and row["sender_told"]
        [line] = [r.getMessage() for r in caplog.records if "processed" in r.getMessage()]
        assert line.endswith(
            f"processed: case {third}, 2 mail(s) queued; case {first}, 2 mail(s) queued; "
            f"held (too-many-cases), case {second}, 1 mail(s) queued"
        )
    finally:
        harness.stop()
