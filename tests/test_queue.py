"""The work queue over stored mails: claims, failures, quarantine, recovery, requeue."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow import queue
from mailflow.config import Config
from mailflow.models import StoredMail
from mailflow.processing import Context
from mailflow.spool import Arrival, store
from mailflow.worker import Worker

NOW = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)


def add_mails(engine: Engine, count: int) -> list[int]:
    arrivals = [
        Arrival(
            f"Message-ID: <{n}@q>\r\n\r\nbody {n}\r\n".encode(), "", ("beschwerde@x.test",), "t"
        )
        for n in range(count)
    ]
    return [stored.mail_id for stored in store(engine, arrivals, NOW)]


def get(engine: Engine, mail_id: int) -> StoredMail:
    with Session(engine) as session:
        mail = session.get(StoredMail, mail_id)
        assert mail is not None
        return mail


def test_claims_are_exclusive_across_threads(engine: Engine) -> None:
    """Eight threads claiming at once never get the same mail twice."""
    ids = add_mails(engine, 40)
    taken: list[int] = []
    lock = threading.Lock()

    def claim_all() -> None:
        while (mail := queue.claim_next(engine, NOW)) is not None:
            with lock:
                taken.append(mail.id)  # type: ignore[arg-type]

    threads = [threading.Thread(target=claim_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == ids


def test_three_failures_quarantine_with_the_reason(engine: Engine, config: Config) -> None:
    """A mail whose processing keeps failing is quarantined after max_attempts, with the error."""
    [mail_id] = add_mails(engine, 1)

    def broken(session: Session, mail: StoredMail, context: Context) -> None:
        raise ValueError("cannot make sense of it")

    worker = Worker(engine, config, process=broken, clock=lambda: NOW)
    assert worker.drain() == 3
    mail = get(engine, mail_id)
    assert mail.status == "quarantined"
    assert mail.attempts == 3
    assert "ValueError: cannot make sense of it" in (mail.quarantine_reason or "")


def test_failed_processing_rolls_back_its_changes(engine: Engine, config: Config) -> None:
    """A processor that changed the mail and then failed leaves no trace but the error."""
    [mail_id] = add_mails(engine, 1)

    def half_done(session: Session, mail: StoredMail, context: Context) -> None:
        mail.subject = "half done"
        session.add(mail)
        session.flush()
        raise RuntimeError("boom")

    Worker(engine, config, process=half_done, clock=lambda: NOW).run_once()
    mail = get(engine, mail_id)
    assert mail.subject is None
    assert (mail.status, mail.attempts) == ("new", 1)


def test_requeue_gives_a_quarantined_mail_fresh_attempts(engine: Engine) -> None:
    """`siegel requeue` puts a quarantined mail back as new with zero attempts."""
    [mail_id] = add_mails(engine, 1)
    queue.quarantine(engine, mail_id, "manual test")
    queue.requeue(engine, mail_id)
    mail = get(engine, mail_id)
    assert (mail.status, mail.attempts, mail.quarantine_reason) == ("new", 0, None)


@pytest.mark.parametrize("status", ["done", "new", "processing"])
def test_only_a_quarantined_mail_is_requeued(engine: Engine, status: str) -> None:
    """A done mail processed again would act twice; a new or claimed one is queued."""
    [mail_id] = add_mails(engine, 1)
    with Session(engine) as session:
        mail = session.get(StoredMail, mail_id)
        assert mail is not None
        mail.status = status
        session.add(mail)
        session.commit()
    with pytest.raises(queue.NotRequeueable, match=f"is {status}, not quarantined"):
        queue.requeue(engine, mail_id)
    assert get(engine, mail_id).status == status


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def test_recover_frees_claims_of_dead_workers_only(engine: Engine) -> None:
    """Claims of a dead process on this host come back; a live holder's claim stays."""
    dead, live, foreign = add_mails(engine, 3)
    host = socket.gethostname()
    queue.claim_next(engine, NOW, holder=f"{host}:{_dead_pid()}:1")
    queue.claim_next(engine, NOW, holder=f"{host}:{os.getppid()}:1")
    queue.claim_next(engine, NOW, holder="other-host:1:1")
    assert (
        queue.recover(engine, NOW + timedelta(seconds=10), lease_seconds=300, max_attempts=3) == 1
    )
    assert get(engine, dead).status == "new"
    assert get(engine, live).status == "processing"
    assert get(engine, foreign).status == "processing"
    # Past the lease, another host's claim is given back too.
    assert (
        queue.recover(engine, NOW + timedelta(seconds=400), lease_seconds=300, max_attempts=3) == 2
    )


def test_a_mail_that_kills_its_worker_three_times_is_quarantined(engine: Engine) -> None:
    """Recovery counts interrupted attempts, so a crash-inducing mail cannot loop forever."""
    [mail_id] = add_mails(engine, 1)
    for _ in range(3):
        queue.claim_next(engine, NOW, holder=f"{socket.gethostname()}:{_dead_pid()}:1")
        queue.recover(engine, NOW, lease_seconds=300, max_attempts=3)
    mail = get(engine, mail_id)
    assert mail.status == "quarantined"
    assert "interrupted 3 times" in (mail.quarantine_reason or "")
    with Session(engine) as session:
        assert session.scalars(select(StoredMail.status)).all() == ["quarantined"]


def test_a_headers_only_row_is_not_requeued(engine: Engine) -> None:
    """A row that kept only the headers of an oversize IMAP mail cannot be requeued."""
    [mail_id] = add_mails(engine, 1)
    with Session(engine) as session:
        mail = session.get(StoredMail, mail_id)
        assert mail is not None
        mail.size = 40_000_000
        mail.status = "quarantined"
        session.add(mail)
        session.commit()
    with pytest.raises(queue.NotRequeueable, match="only the headers"):
        queue.requeue(engine, mail_id)
    assert get(engine, mail_id).status == "quarantined"
