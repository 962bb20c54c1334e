"""The worker processes mails in batches: one unit of work for many mails, a failing mail
fails alone, a mail tried before is taken alone, a mail no longer ours is left alone."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, select
from sqlmodel import Session

import classifier
from mailflow import queue, spool
from mailflow.db import utcnow, writer_wanted
from mailflow.models import OutboxMail, StoredMail
from mailflow.processing import Context, process_mail
from mailflow.spool import Arrival
from mailflow.worker import Worker
from mediation.storage import Case
from tests.harness import Harness, compose
from tests.sink import Sink

MERCHANT = "service@moebel-fuchs.test"
COMPLAINTS = 6


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(
        engine, tmp_path, sink, queue={"batch_size": 50, "batch_transaction_ms": 60_000}
    )
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test")
    yield running
    running.stop()


def send_complaints(harness: Harness, count: int = COMPLAINTS) -> None:
    for number in range(count):
        harness.send(
            compose(
                f"Kundin {number} <kundin{number}@example.org>",
                "beschwerde+moebel-fuchs@siegel.test",
                f"Sofa Nummer {number} beschädigt",
                f"Das Sofa Nummer {number} kam mit einem Riss an. Bitte um Ersatz.",
            )
        )


def mails(engine: Engine) -> list[StoredMail]:
    with Session(engine) as session:
        return list(session.scalars(select(StoredMail).order_by(StoredMail.id)))  # type: ignore[arg-type]


def count_commits(engine: Engine) -> list[int]:
    commits = [0]

    @event.listens_for(engine, "commit")
    def _count(_connection) -> None:  # type: ignore[no-untyped-def]
        commits[0] += 1

    return commits


def test_a_batch_is_one_unit_of_work_with_every_case_and_mail(harness: Harness) -> None:
    """Six complaints in one batch: six cases, an acknowledgement and a forward each,
    written in far fewer commits than mails (one for the claim, one for the batch)."""
    send_complaints(harness)
    commits = count_commits(harness.engine)
    assert harness.worker.drain() == COMPLAINTS
    assert commits[0] <= 3  # claim, batch (and the empty claim that ends the drain)
    assert {(m.status, m.attempts) for m in mails(harness.engine)} == {("done", 1)}
    with Session(harness.engine) as session:
        cases = session.scalars(select(Case)).all()
        kinds = sorted(session.scalars(select(OutboxMail.kind)))
    assert len({case.ref for case in cases}) == COMPLAINTS
    assert {case.complaint_mail_id for case in cases} == {m.id for m in mails(harness.engine)}
    assert kinds == sorted(
        ["customer.complaint_acknowledged", "merchant.complaint_forwarded"] * COMPLAINTS
    )


def test_a_failing_mail_fails_alone_and_the_rest_of_its_batch_is_done(harness: Harness) -> None:
    """The batch's unit of work is rolled back and redone mail by mail: only the failing
    mail counts a failed attempt; each other mail opens its case once."""
    send_complaints(harness)
    poisoned = mails(harness.engine)[2].id

    def process(session: Session, mail: StoredMail, context: Context) -> None:
        if mail.id == poisoned:
            raise RuntimeError("cannot make sense of it")
        process_mail(session, mail, context)

    worker = Worker(harness.engine, harness.config, process, harness.clock)
    assert worker.run_batch() == COMPLAINTS
    by_id = {m.id: m for m in mails(harness.engine)}
    assert (by_id[poisoned].status, by_id[poisoned].attempts) == ("new", 1)
    assert "RuntimeError: cannot make sense of it" in (by_id[poisoned].last_error or "")
    others = [m for m in by_id.values() if m.id != poisoned]
    assert {(m.status, m.attempts) for m in others} == {("done", 1)}
    with Session(harness.engine) as session:
        opened = sorted(session.scalars(select(Case.complaint_mail_id)))
    assert opened == sorted(m.id for m in others)
    # The mail tried before is taken alone next time, and then it opens its case.
    assert harness.worker.run_batch() == 1
    assert {(m.status) for m in mails(harness.engine)} == {"done"}


def test_a_mail_tried_before_is_claimed_alone(harness: Harness) -> None:
    """If a mail killed its worker, the mails after it are not claimed with it again."""
    send_complaints(harness, 3)
    first, second, third = (m.id for m in mails(harness.engine))
    dead_holder = f"{socket.gethostname()}:999999999:1"
    queue.claim_next(harness.engine, utcnow(), holder=dead_holder)
    queue.recover(harness.engine, utcnow(), lease_seconds=300, max_attempts=3)
    claimed = queue.claim_batch(harness.engine, utcnow(), 50, holder="test:1:1")
    assert [m.id for m in claimed] == [first]
    claimed = queue.claim_batch(harness.engine, utcnow(), 50, holder="test:1:1")
    assert [m.id for m in claimed] == [second, third]


def test_a_mail_given_back_meanwhile_is_not_processed_by_the_batch(harness: Harness) -> None:
    """A claim that `recover` gave back (its holder looked dead) is skipped by the batch
    that still holds it in memory: no second case from the same mail."""
    send_complaints(harness, 3)
    given_back = mails(harness.engine)[1].id

    def process(session: Session, mail: StoredMail, context: Context) -> None:
        process_mail(session, mail, context)

    worker = Worker(harness.engine, harness.config, process, harness.clock)
    original = queue.still_claimed

    def after_a_recover(session: Session, mail_ids: list[int], holder: str) -> set[int]:
        return original(session, mail_ids, holder) - {given_back}

    queue.still_claimed = after_a_recover  # type: ignore[assignment]
    try:
        assert worker.run_batch() == 3
    finally:
        queue.still_claimed = original  # type: ignore[assignment]
    statuses = {m.id: m.status for m in mails(harness.engine)}
    assert statuses[given_back] == "processing"
    assert sorted(statuses.values()) == ["done", "done", "processing"]


def test_a_mail_the_classifier_cannot_read_fails_alone(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classifier reads a batch at once; if one mail makes it fail, the others are
    read alone and done, and only that mail counts a failed attempt."""
    send_complaints(harness, 3)
    harness.send(
        compose("K <k@example.org>", "beschwerde+moebel-fuchs@siegel.test", "Sofa", "POISON")
    )
    original = classifier.classify_many

    def classify_many(batch, **options):  # type: ignore[no-untyped-def]
        if any("POISON" in mail["body"] for mail in batch):
            raise ValueError("the classifier chokes on this one mail")
        return original(batch, **options)

    monkeypatch.setattr(classifier, "classify_many", classify_many)
    monkeypatch.setattr(classifier.classification, "classify_many", classify_many)
    assert harness.worker.run_batch() == 4
    stored = mails(harness.engine)
    assert [(m.status, m.attempts) for m in stored] == [("done", 1)] * 3 + [("new", 1)]
    assert "the classifier chokes" in (stored[-1].last_error or "")


def test_a_failure_after_the_claim_was_given_back_leaves_the_new_holder_alone(
    harness: Harness,
) -> None:
    """A worker whose claim was given back (and taken by another) records no failure on
    that mail and does not process it: the mail is the other worker's now."""
    send_complaints(harness, 1)
    [mail] = mails(harness.engine)
    queue.claim_next(harness.engine, utcnow(), holder="slow-host:1:1")
    assert queue.fail(harness.engine, mail.id, "too late", 3, holder="other:2:2") == "processing"  # type: ignore[arg-type]
    with Session(harness.engine) as session:
        assert queue.load_claimed(session, mail.id, "other:2:2") is None  # type: ignore[arg-type]
        assert queue.load_claimed(session, mail.id, "slow-host:1:1") is not None  # type: ignore[arg-type]
    [again] = mails(harness.engine)
    assert (again.status, again.claimed_by, again.last_error) == (
        "processing",
        "slow-host:1:1",
        None,
    )


def test_on_sqlite_a_unit_of_work_ends_early_when_the_intake_waits_to_write(
    sqlite_engine: Engine, tmp_path: Path, sink: Sink
) -> None:
    """SQLite has one writer: a mail arriving over SMTP waits for the worker's unit of
    work to commit before it gets its 250. When the intake waits, the unit ends after
    the mail in hand, not after the batch (nor after `batch_transaction_ms`)."""
    harness = Harness(
        sqlite_engine, tmp_path, sink, queue={"batch_size": 50, "batch_transaction_ms": 60_000}
    )
    try:
        harness.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT)
        send_complaints(harness, 3)
        order: list[str] = []
        intake = threading.Thread(
            target=lambda: (
                spool.store(
                    sqlite_engine,
                    [
                        Arrival(
                            b"Message-ID: <late@x>\r\n\r\nlate\r\n",
                            "",
                            ("beschwerde@siegel.test",),
                            "test",
                        )
                    ],
                ),
                order.append("intake committed"),
            )
        )

        def process(session: Session, mail: StoredMail, context: Context) -> None:
            process_mail(session, mail, context)
            order.append(f"mail {mail.id}")
            if not intake.is_alive() and "intake committed" not in order:
                intake.start()
                deadline = time.monotonic() + 10
                while not writer_wanted(session) and time.monotonic() < deadline:
                    time.sleep(0.01)

        worker = Worker(harness.engine, harness.config, process, harness.clock)
        assert worker.run_batch() == 3
        intake.join(10)
        first, second, third = (f"mail {m.id}" for m in mails(harness.engine)[:3])
        assert order == [first, "intake committed", second, third]
        assert {m.status for m in mails(harness.engine)[:3]} == {"done"}
    finally:
        harness.stop()
