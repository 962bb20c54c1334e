"""Threading: every mail about a case continues its recipient's thread of the case.

RFC 5322 §3.6.4: a mail that answers none of the recipient's names our last mail to
them in the case as `In-Reply-To` and our first and latest ones in `References`; one
that answers a received mail keeps it as its parent, after ours. Decided when the row
is written, so that the row renders the same bytes every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail, OutboxStatus
from mediation import storage
from mediation.addresses import Role
from mediation.outgoing import MAX_REFERENCES, THREAD_REFERENCES, OutgoingMail, in_thread
from mediation.storage import Case
from tests import test_cases_e2e
from tests.conftest import make_config
from tests.harness import Harness, addressed_to
from tests.outbox_rows import stored_row
from tests.sink import Received
from tests.test_cases_e2e import CUSTOMER, MERCHANT, complain, merchant_answers

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
REF = "SSG-2026-000123"


def mail(**changes: object) -> OutgoingMail:
    base = OutgoingMail(
        to="kunde@example.org",
        subject=f"[{REF}] Neues in Ihrem Fall",
        text="Guten Tag,\n\nes gibt Neues.\n",
        kind="customer.notice",
        language="de",
        case_ref=REF,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def ids(n: int) -> list[str]:
    return [f"<siegel.{i}@siegel.test>" for i in range(n)]


def stored_thread(
    engine: Engine, config: Config, enqueued: outbox.Enqueued
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References of the mail `enqueue` stored, as the relay renders it."""
    return headers(outbox.message(stored_row(engine, enqueued), config))


def headers(raw: bytes) -> tuple[str | None, list[str]]:
    message = message_from_bytes(raw, policy=policy.default)
    return message["In-Reply-To"], str(message["References"] or "").split()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


# ------------------------------------------------------------------ the rule


def test_a_first_mail_starts_the_thread() -> None:
    assert in_thread(mail(), []) == mail()


def test_a_later_mail_answers_our_last_and_names_our_first() -> None:
    threaded = in_thread(mail(), ids(2))
    assert threaded.in_reply_to == ids(2)[-1]
    assert threaded.references == tuple(ids(2))


def test_references_name_the_first_and_the_last_few_of_ours() -> None:
    threaded = in_thread(mail(), ids(10))
    assert threaded.references == (ids(10)[0], *ids(10)[-(THREAD_REFERENCES - 1) :])
    assert threaded.in_reply_to == ids(10)[-1]


def test_a_mail_answering_a_received_one_keeps_its_parent_after_ours() -> None:
    """The parent's References, then the parent (RFC 5322 §3.6.4), after our thread:
    the parent stays the last one, whatever its client kept of the thread."""
    parent, root = "<reply@example.org>", "<root@example.org>"
    answer = mail(in_reply_to=parent, references=(ids(3)[2], root, parent))
    threaded = in_thread(answer, ids(3))
    assert threaded.in_reply_to == parent
    assert threaded.references == (*ids(3), root, parent)


def test_a_long_received_thread_is_bounded_keeping_our_first() -> None:
    parent = "<reply@example.org>"
    received = tuple(f"<r{i}@example.org>" for i in range(30))
    threaded = in_thread(mail(in_reply_to=parent, references=(*received, parent)), ids(8))
    assert len(threaded.references) == MAX_REFERENCES
    assert threaded.references[0] == ids(8)[0]
    assert threaded.references[-2:] == (received[-1], parent)


# ------------------------------------------------------------------ enqueue


def test_each_mail_to_a_recipient_answers_the_previous_one(engine: Engine, config: Config) -> None:
    """Across units of work and within one, the thread is per case and recipient (in
    any letter case); other recipients and cases have their own."""
    with session_scope(engine) as session:
        first = outbox.enqueue(session, mail(), config, NOW)
        merchant = outbox.enqueue(session, mail(to="shop@example.com"), config, NOW)
        second = outbox.enqueue(session, mail(), config, NOW)
    with session_scope(engine) as session:
        other_case = outbox.enqueue(session, mail(case_ref="SSG-2026-000124"), config, NOW)
        no_case = outbox.enqueue(session, mail(case_ref=None), config, NOW)
        third = outbox.enqueue(session, mail(to="Kunde@Example.org"), config, NOW)
        to_merchant = outbox.enqueue(session, mail(to="shop@example.com"), config, NOW)

    def threading(enqueued: outbox.Enqueued) -> tuple[str | None, list[str]]:
        return stored_thread(engine, config, enqueued)

    assert threading(first) == threading(merchant) == (None, [])
    assert threading(other_case) == threading(no_case) == (None, [])
    assert threading(second) == (first.message_id, [first.message_id])
    assert threading(third) == (second.message_id, [first.message_id, second.message_id])
    assert threading(to_merchant) == (merchant.message_id, [merchant.message_id])


def test_the_rendered_header_stays_bounded(engine: Engine, config: Config) -> None:
    with session_scope(engine) as session:
        rows = [outbox.enqueue(session, mail(), config, NOW) for _ in range(7)]
    in_reply_to, references = stored_thread(engine, config, rows[-1])
    assert in_reply_to == rows[-2].message_id
    assert references == [rows[0].message_id, *(row.message_id for row in rows[-4:-1])]


def test_an_answer_to_a_received_mail_keeps_its_parent(engine: Engine, config: Config) -> None:
    parent = "<frage@example.org>"
    with session_scope(engine) as session:
        first = outbox.enqueue(session, mail(), config, NOW)
        answer = outbox.enqueue(
            session, mail(in_reply_to=parent, references=(parent,), auto_reply=True), config, NOW
        )
    assert stored_thread(engine, config, answer) == (
        parent,
        [first.message_id, parent],
    )


def test_unsent_mails_are_not_answered(engine: Engine, config: Config) -> None:
    """A suppressed row never went out: the next mail answers the last one that did."""
    with session_scope(engine) as session:
        sent = outbox.enqueue(session, mail(), config, NOW)
        suppressed = outbox.enqueue(
            session, mail(auto_reply=True, answers_machine_mail=True), config, NOW
        )
    assert suppressed.status == OutboxStatus.SUPPRESSED
    with session_scope(engine) as session:
        later = outbox.enqueue(session, mail(), config, NOW)
    assert stored_thread(engine, config, later) == (
        sent.message_id,
        [sent.message_id],
    )


def test_a_row_renders_the_same_bytes_however_the_thread_goes_on(
    engine: Engine, config: Config
) -> None:
    """The thread is kept in the row: rendering again, after later mails and read back
    from the database, gives the same message."""
    with session_scope(engine) as session:
        outbox.enqueue(session, mail(), config, NOW)
        enqueued = outbox.enqueue(session, mail(), config, NOW)
    row = stored_row(engine, enqueued)
    before = outbox.message(row, config)
    with session_scope(engine) as session:
        outbox.enqueue(session, mail(), config, NOW)
    with Session(engine) as session:
        stored = session.get(OutboxMail, row.id)
        assert stored is not None
        assert outbox.message(stored, config) == before == outbox.message(row, config)


@contextmanager
def outbox_selects(engine: Engine) -> Iterator[list[str]]:
    """The SELECTs on the outbox that `engine` runs meanwhile."""
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "outbox" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_case_is_read_once_per_unit_of_work(engine: Engine, config: Config) -> None:
    with outbox_selects(engine) as statements, session_scope(engine) as session:
        for to in ("kunde@example.org", "shop@example.com") * 3:
            outbox.enqueue(session, mail(to=to), config, NOW)
    assert len(statements) == 1, statements


def test_a_case_opened_in_the_unit_of_work_is_not_looked_up_nor_flushed_for(
    engine: Engine, config: Config
) -> None:
    """A case opened in this unit of work has no older mail: its mails ask nothing of
    the outbox, and looking a case up writes none of the unit of work's pending rows
    (the commit writes them together)."""
    flushes: list[int] = []
    with outbox_selects(engine) as selects, session_scope(engine) as session:
        event.listen(session, "after_flush", lambda *_: flushes.append(1))
        customer = storage.ensure_customer(session, "neu@example.org", "N", "de", NOW)
        case = Case(
            ref="SSG-2026-000777", state="awaiting_merchant", customer_id=customer.id,
            opened_at=NOW, updated_at=NOW,
        )  # fmt: skip
        storage.insert_case(session, case)
        for to in ("kunde@example.org", "shop@example.com"):
            outbox.enqueue(session, mail(to=to, case_ref=case.ref), config, NOW)
        assert selects == []
        outbox.enqueue(session, mail(), config, NOW)  # an older case: looked up
        assert len(selects) == 1 and flushes == []


# ------------------------------------------------------------------ end to end


harness = test_cases_e2e.harness  # the service of the case tests, as a fixture here


def thread_of(received: Received) -> tuple[str, str, list[str]]:
    message: EmailMessage = received.message
    return message["Message-ID"], message["In-Reply-To"], message["References"].split()


def test_each_party_sees_the_case_as_one_conversation(harness: Harness) -> None:
    """The merchant's reminder answers the forward; the customer's later mails name the
    acknowledgement and answer the previous mail (or the customer's answer to it)."""
    ref, sent = complain(harness)
    [ack], [forward] = addressed_to(sent, CUSTOMER), addressed_to(sent, MERCHANT)
    ack_id, forward_id = ack.message["Message-ID"], forward.message["Message-ID"]

    reminder_at = datetime.fromisoformat(harness.case(ref)["deadlines"]["merchant_reminder"])
    status, _, errors = harness.siegel("sweep", "--at", reminder_at.isoformat())
    assert status == 0, errors
    harness.clock.advance_to(reminder_at)
    [reminder] = addressed_to(harness.process(), MERCHANT)
    assert harness.sent([reminder]) == [(MERCHANT, "merchant.merchant_reminder")]
    reminder_id, in_reply_to, references = thread_of(reminder)
    assert (in_reply_to, references) == (forward_id, [forward_id])

    [forwarded] = addressed_to(merchant_answers(harness, forward), CUSTOMER)
    forwarded_id, in_reply_to, references = thread_of(forwarded)
    assert (in_reply_to, references) == (ack_id, [ack_id])

    answer = harness.reply(forwarded, CUSTOMER, "Nein, das ist nicht gelöst.")
    harness.send(answer)
    later = harness.process()
    [started] = addressed_to(later, CUSTOMER)
    _, in_reply_to, references = thread_of(started)
    # It answers the customer's mail, which answered the forwarded reply.
    assert in_reply_to == answer["Message-ID"]
    assert references == [ack_id, forwarded_id, answer["Message-ID"]]
    [to_merchant] = addressed_to(later, MERCHANT)
    _, in_reply_to, references = thread_of(to_merchant)
    assert references[:2] == [forward_id, reminder_id] and references[-1] == in_reply_to
    assert harness.case(ref)["state"] == "in_mediation"
    assert to_merchant.message["Reply-To"] == harness.case_address(ref, Role.MERCHANT)
