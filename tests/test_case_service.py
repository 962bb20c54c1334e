"""The case service against a real database: refs, the sweep under concurrency, holds."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

import classifier
from mailflow import casework
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mediation import case_service, storage
from mediation.storage import Case, CaseDeadline, CaseEvent, Merchant
from mediation.workflow import Deadline
from tests.conftest import make_config

OPENED = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday 10:30 in Berlin
COMPLAINT = "Mein Sofa von Möbel Fuchs kam mit einem Riss an. Bitte um Ersatz."


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, mediation={"mediators": ["schlichterin@siegel.test"]})


def add_merchant(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.add(
            Merchant(
                slug="moebel-fuchs",
                name="Möbel Fuchs",
                support_addresses=["service@moebel-fuchs.test"],
                domains=["moebel-fuchs.test"],
                created_at=OPENED,
            )
        )


def open_case(engine: Engine, config: Config, number: int, at: datetime = OPENED) -> str:
    """A complaint through the case service, classified by the real classifier."""
    mail = case_service.IncomingMail(
        id=number,
        received_at=at,
        envelope_to=("beschwerde@siegel.test",),
        sender=f"kunde{number}@example.org",
        subject="Sofa beschädigt",
        text=COMPLAINT,
        message_id=f"<complaint-{number}@example.org>",
    )

    def classify(context: str | None) -> classifier.Classification:
        return classifier.classify(mail.subject, mail.text, context=context)

    with session_scope(engine) as session:
        outcome = case_service.handle_mail(session, mail, classify, casework.settings(config))
    assert outcome.case_ref is not None and outcome.held is None
    return outcome.case_ref


def test_case_references_are_unique_when_opened_at_once(engine: Engine, config: Config) -> None:
    """Eight complaints in eight threads get eight consecutive references of their year."""
    add_merchant(engine)
    open_case(engine, config, 0)  # the first one trains the model outside the race
    refs: list[str] = []
    start = threading.Barrier(8, timeout=30)

    def complain(number: int) -> None:
        start.wait()
        refs.append(open_case(engine, config, number))

    threads = [threading.Thread(target=complain, args=(n,)) for n in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(refs) == [f"SSG-2026-{n:06d}" for n in range(2, 10)]


def test_two_sweeps_at_once_fire_each_deadline_once(engine: Engine, config: Config) -> None:
    """Two processes' sweeps racing over the same due reminders send each reminder once."""
    add_merchant(engine)
    refs = [open_case(engine, config, n) for n in range(6)]
    with Session(engine) as session:
        deadlines = session.scalars(select(CaseDeadline)).all()
    reminders_due = [d.due_at for d in deadlines if d.kind == Deadline.MERCHANT_REMINDER]
    at = max(reminders_due)
    assert at < min(d.due_at for d in deadlines if d.kind != Deadline.MERCHANT_REMINDER)
    start = threading.Barrier(2, timeout=30)
    reports: list[casework.SweepReport] = []

    def sweep() -> None:
        start.wait()
        reports.append(casework.sweep(engine, config, at))

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sum(len(report.fired) for report in reports) == len(refs)
    assert all(not report.failed for report in reports)
    with Session(engine) as session:
        reminders = Counter(
            session.scalars(
                select(OutboxMail.case_ref).where(OutboxMail.kind == "merchant.merchant_reminder")
            )
        )
        events = Counter(
            session.scalars(select(CaseEvent.kind).where(CaseEvent.kind == "ReminderDue"))
        )
    assert reminders == dict.fromkeys(refs, 1)
    assert events == {"ReminderDue": len(refs)}


def test_a_deadline_that_fits_no_transition_is_held_not_retried(
    engine: Engine, config: Config
) -> None:
    """A due deadline without a transition is held for the operator, logged on the case,
    and skipped by later sweeps."""
    add_merchant(engine)
    ref = open_case(engine, config, 1)
    with session_scope(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None
        stray = CaseDeadline(case_id=case.id, kind=Deadline.PROPOSAL_ANSWER, due_at=OPENED)  # type: ignore[arg-type]
        session.add(stray)
    at = OPENED + timedelta(minutes=1)
    [fired] = casework.sweep(engine, config, at).fired
    assert fired.held and "ProposalExpired" in fired.held and fired.outgoing == ()
    assert casework.sweep(engine, config, at).fired == []
    with Session(engine) as session:
        case = storage.load_case(session, ref)
        assert case is not None and case.state == "awaiting_merchant"
        held = storage.deadlines_of(session, case.id)[Deadline.PROPOSAL_ANSWER]  # type: ignore[arg-type]
        assert held.held_reason and "not expected" in held.held_reason
        kinds = [event.kind for event in storage.events_of(session, case.id)]  # type: ignore[arg-type]
        assert kinds[-1] == "DeadlineHeld"


def test_the_operator_names_the_shop_and_corrects_the_category(
    engine: Engine, config: Config
) -> None:
    """A case without a shop gets one from the operator and is forwarded; a category
    correction is kept as a training record with the complaint's text."""
    ref = open_case(engine, config, 1)  # no merchant registered yet
    add_merchant(engine)
    with session_scope(engine) as session:
        outcome = case_service.assign_merchant(
            session, ref, "moebel-fuchs", OPENED + timedelta(hours=1), casework.settings(config)
        )
        case_service.correct_category(
            session, ref, "damaged_defective", OPENED + timedelta(hours=1)
        )
    assert sorted(mail.kind for mail in outcome.outgoing) == [
        "customer.complaint_acknowledged",
        "merchant.complaint_forwarded",
    ]
    with Session(engine) as session:
        case = session.scalars(select(Case).where(Case.ref == ref)).one()
        assert (case.state, case.category) == ("awaiting_merchant", "damaged_defective")
        assert storage.corrections(session) == [
            {
                "id": "correction-1",
                "language": "de",
                "category": "damaged_defective",
                "subject": "Sofa beschädigt",
                "body": COMPLAINT,
            }
        ]
