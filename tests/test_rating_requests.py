"""No review gating: every case that closes with a merchant asks its customer for a
rating at once, in the same words, whatever the outcome.

Cases are driven through the case service with the real classifier, the sweep and the
real outbox on SQLite and PostgreSQL; the closed state without a mail path
(withdrawal) is walked in the transition table.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

import classifier
from mailflow import casework, outbox, spool
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail, OutboxStatus
from mediation import case_ratings, case_service, storage
from mediation.addresses import Role, case_address
from mediation.events import CustomerWithdrew
from mediation.storage import Merchant
from mediation.workflow import CLOSED, Deadline, Party, State, decide
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.test_mediation_machine import NOW, POLICY, case_in

OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday 10:30 in Berlin
CUSTOMER = "kundin@example.org"
MERCHANT = "service@moebel-fuchs.test"
MEDIATOR = "schlichterin@siegel.test"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, mediation={"mediators": [MEDIATOR]})


class Mailer:
    """Mails into the case service, their answers into the outbox, as the worker does."""

    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine, self.config, self.number = engine, config, 0

    def send(self, sender: str, to: str, text: str, at: datetime) -> str:
        self.number += 1
        message_id = f"<mail-{self.number}@example.org>"
        raw = f"From: {sender}\r\nTo: {to}\r\nMessage-ID: {message_id}\r\n\r\n{text}\r\n"
        [stored] = spool.store(
            self.engine, [spool.Arrival(raw.encode(), sender, (to,), "test")], at
        )
        mail = case_service.IncomingMail(
            id=stored.mail_id,
            received_at=at,
            envelope_to=(to,),
            sender=sender,
            subject="Sofa beschädigt",
            text=text,
            message_id=message_id,
        )

        def classify(context: str | None) -> classifier.Classification:
            return classifier.classify(mail.subject, mail.text, context=context)

        with session_scope(self.engine) as session:
            outcome = case_service.handle_mail(
                session, mail, classify, casework.settings(self.config)
            )
            for outgoing in outcome.outgoing:
                outbox.enqueue(session, outgoing, self.config, at)
        assert outcome.case_ref is not None and outcome.held is None, outcome
        return outcome.case_ref

    def to_case(self, ref: str, role: Role, sender: str, text: str, at: datetime) -> None:
        self.send(sender, case_address(TEST_SECRET.encode(), TEST_DOMAIN, ref, role), text, at)

    def complaint(self) -> str:
        text = "Mein Sofa von Möbel Fuchs kam mit einem Riss an. Bitte um Ersatz."
        return self.send(CUSTOMER, f"beschwerde+moebel-fuchs@{TEST_DOMAIN}", text, OPENED)

    def merchant_replies(self, ref: str, at: datetime) -> None:
        text = "Wir holen das Sofa nächste Woche ab und liefern ein neues."
        self.to_case(ref, Role.MERCHANT, MERCHANT, text, at)

    def sweep_to(self, ref: str, kind: Deadline) -> datetime:
        with Session(self.engine) as session:
            case = storage.load_case(session, ref)
            assert case is not None
            due = storage.deadlines_of(session, case.id)[kind].due_at  # type: ignore[arg-type]
        assert not casework.sweep(self.engine, self.config, due).failed
        return due


def resolved(mailer: Mailer, ref: str) -> datetime:
    mailer.merchant_replies(ref, OPENED + timedelta(hours=2))
    at = OPENED + timedelta(hours=5)
    mailer.to_case(ref, Role.CUSTOMER, CUSTOMER, "Ja, danke, das Problem ist gelöst.", at)
    return at


def no_response(mailer: Mailer, ref: str) -> datetime:
    mailer.merchant_replies(ref, OPENED + timedelta(hours=2))
    return mailer.sweep_to(ref, Deadline.CUSTOMER_ANSWER)


def unresolved(mailer: Mailer, ref: str) -> datetime:
    escalated = mailer.sweep_to(ref, Deadline.MERCHANT_REPLY)
    at = escalated + timedelta(days=20)
    mailer.to_case(ref, Role.MEDIATOR, MEDIATOR, "#abschluss ungelöst", at)
    return at


def settled(mailer: Mailer, ref: str) -> datetime:
    escalated = mailer.sweep_to(ref, Deadline.MERCHANT_REPLY)
    proposal = "#vorschlag Möbel Fuchs erstattet den vollen Kaufpreis."
    mailer.to_case(ref, Role.MEDIATOR, MEDIATOR, proposal, escalated + timedelta(days=1))
    accept = escalated + timedelta(days=2)
    mailer.to_case(ref, Role.MERCHANT, MERCHANT, "Wir nehmen den Vorschlag an.", accept)
    at = accept + timedelta(hours=3)
    mailer.to_case(ref, Role.CUSTOMER, CUSTOMER, "Ich nehme den Vorschlag an.", at)
    return at


CLOSINGS: dict[State, Callable[[Mailer, str], datetime]] = {
    State.CLOSED_RESOLVED: resolved,
    State.CLOSED_NO_RESPONSE: no_response,
    State.CLOSED_UNRESOLVED: unresolved,
    State.CLOSED_SETTLED: settled,
}


def test_every_outcome_queues_the_same_rating_request_at_the_closing(
    engine: Engine, config: Config
) -> None:
    """Resolved, settled, unresolved or closed without an answer: the closing itself
    queues one mail to the customer, due at the closing moment, that carries the rating
    request, worded the same for every outcome."""
    with session_scope(engine) as session:
        session.add(
            Merchant(slug="moebel-fuchs", name="Möbel Fuchs", support_addresses=[MERCHANT],
                     created_at=OPENED)
        )  # fmt: skip
    mailer = Mailer(engine, config)
    texts = set()
    for state, close in CLOSINGS.items():
        ref = mailer.complaint()
        closed_at = close(mailer, ref)
        with Session(engine) as session:
            case = storage.load_case(session, ref)
            assert case is not None and (case.state, case.closed_at) == (state, closed_at)
            [request] = session.scalars(
                select(OutboxMail).where(
                    OutboxMail.case_ref == ref,
                    OutboxMail.recipient == CUSTOMER,
                    OutboxMail.created_at == closed_at,
                )
            ).all()
        assert request.kind in case_ratings.RATING_MAILS and request.kind.startswith("customer.")
        assert request.status == OutboxStatus.QUEUED
        assert request.created_at == request.next_attempt_at == closed_at
        message = email.message_from_bytes(
            outbox.message(request, config), policy=email.policy.default
        )
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        # The same words; only the case and its one-time rating link differ.
        asked = text[text.index("Wie zufrieden") :]
        texts.add(re.sub(r"/bewertung/\S+", "/bewertung/LINK", asked.replace(ref, "REF")))
    assert len(texts) == 1


def test_a_withdrawal_asks_for_a_rating_like_every_other_closing() -> None:
    """A withdrawal (no mail triggers one yet) closes every open case with a merchant
    like any other closing: the customer's rating request at once, no deadline left."""
    for state in State:
        if state in CLOSED or state is State.NEEDS_MERCHANT:
            continue
        decision = decide(case_in(state), CustomerWithdrew(), POLICY, NOW)
        assert decision.state is State.CLOSED_WITHDRAWN and decision.deadlines == {}
        requests = [n.to for n in decision.notifications if n.template == "rating_request"]
        assert requests == [Party.CUSTOMER], state
