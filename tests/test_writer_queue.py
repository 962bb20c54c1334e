"""SQLite writers take turns: threads in the order they asked, processes by a file lock."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from mailflow.db import session_scope, writer_wanted
from mailflow.models import StoredMail
from mailflow.schema import open_database
from mailflow.spool import Arrival, store
from mailflow.writer_queue import (
    LOCK_FILE_SUFFIX,
    WAITING_FILE_SUFFIX,
    FairLock,
    _lock_exclusively,
)

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]
# Raised while a transaction begins, the driver's error is not wrapped by SQLAlchemy.
LOCKED = (OperationalError, sqlite3.OperationalError)


def _mail(number: int) -> Arrival:
    raw = f"Message-ID: <{number}@turns>\r\n\r\nbody {number}\r\n".encode()
    return Arrival(raw, "", ("beschwerde@x.test",), "test")


def test_a_released_lock_goes_to_the_waiting_thread_not_back_to_its_holder() -> None:
    """The holder that lets go and asks again at once queues behind the waiter: a worker's
    next unit of work cannot shut out the intake's commit (threading.RLock would let it)."""
    lock = FairLock()
    order: list[str] = []
    lock.acquire()
    waiting = threading.Thread(
        target=lambda: (lock.acquire(), order.append("waiter"), lock.release())
    )
    waiting.start()
    while not lock._waiters:  # the waiter has asked
        time.sleep(0.001)
    lock.release()
    lock.acquire()
    order.append("holder again")
    lock.release()
    waiting.join(10)
    assert order == ["waiter", "holder again"]


def test_threads_get_the_lock_in_the_order_they_asked() -> None:
    lock = FairLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for number in range(5):
        thread = threading.Thread(
            target=lambda n=number: (lock.acquire(), order.append(n), lock.release())
        )
        thread.start()
        threads.append(thread)
        while len(lock._waiters) <= number:
            time.sleep(0.001)
    lock.release()
    for thread in threads:
        thread.join(10)
    assert order == [0, 1, 2, 3, 4]


def test_the_holder_may_enter_again_and_only_its_last_release_lets_go() -> None:
    lock = FairLock()
    assert lock.acquire() is True
    assert lock.acquire() is False
    assert lock.release() is False
    other = threading.Thread(target=lambda: (lock.acquire(), lock.release()))
    other.start()
    other.join(0.2)
    assert other.is_alive()  # still held once
    assert lock.release() is True
    other.join(10)
    assert not other.is_alive()
    with pytest.raises(RuntimeError):
        lock.release()


HOLD_A_WRITE = textwrap.dedent(
    """
    import sys, time
    from sqlalchemy import text
    from mailflow.db import session_scope, writer_wanted
    from mailflow.schema import open_database
    engine = open_database(sys.argv[1])
    with session_scope(engine) as session:
        session.execute(text("SELECT 1"))
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
    """
)


def _hold_in_another_process(url: str, seconds: float) -> subprocess.Popen[str]:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_WRITE, url, str(seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    return holder


def _count(url: str) -> int:
    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            return session.scalar(select(func.count()).select_from(StoredMail)) or 0
    finally:
        engine.dispose()


def test_a_writer_waits_for_another_process_and_goes_on_when_it_lets_go(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'siegel.db'}"
    engine = open_database(url)  # creates the schema
    holder = _hold_in_another_process(url, 0.5)
    try:
        started = time.monotonic()
        store(engine, [_mail(1)], NOW)
        waited = time.monotonic() - started
    finally:
        engine.dispose()
        holder.wait(30)
    assert holder.returncode == 0
    assert waited >= 0.3  # it did wait for the other process
    assert _count(url) == 1


def test_a_wait_past_the_timeout_fails_and_leaves_no_lock_behind(tmp_path: Path) -> None:
    """Past the URL's timeout the write fails as "database is locked"; the turn it gave up
    on does not stay taken once the other process is done."""
    url = f"sqlite:///{tmp_path / 'siegel.db'}?timeout=0.3"
    engine = open_database(url)
    holder = _hold_in_another_process(url, 1.5)
    try:
        started = time.monotonic()
        with pytest.raises(LOCKED, match="database is locked"):
            store(engine, [_mail(1)], NOW)
        assert 0.3 <= time.monotonic() - started < 1.4
        holder.wait(30)
        store(engine, [_mail(2)], NOW)  # neither this process nor the helper holds the turn
    finally:
        engine.dispose()
    assert _count(url) == 1
    assert holder.returncode == 0


def test_the_lock_file_is_private(tmp_path: Path) -> None:
    database = tmp_path / "data" / "siegel.db"
    previous = os.umask(0o022)
    try:
        engine = open_database(f"sqlite:///{database}")
        store(engine, [_mail(1)], NOW)
        engine.dispose()
    finally:
        os.umask(previous)
    lock_file = Path(f"{database}{LOCK_FILE_SUFFIX}")
    assert stat.S_IMODE(lock_file.stat().st_mode) == 0o600


def test_sqlite_shell_writers_still_meet_the_busy_timeout(tmp_path: Path) -> None:
    """A program outside the queue (here Python's sqlite3, as the sqlite3 shell) holding
    the write lock makes our writer wait and then fail, not corrupt anything."""
    database = tmp_path / "siegel.db"
    url = f"sqlite:///{database}?timeout=0.3"
    engine = open_database(url)
    outsider = sqlite3.connect(database, isolation_level=None)
    try:
        outsider.execute("BEGIN IMMEDIATE")
        with pytest.raises(LOCKED, match="database is locked"):
            store(engine, [_mail(1)], NOW)
        outsider.execute("ROLLBACK")
        store(engine, [_mail(2)], NOW)
    finally:
        outsider.close()
        engine.dispose()
    assert _count(url) == 1


def test_a_child_forked_during_a_write_does_not_keep_the_parents_turn(tmp_path: Path) -> None:
    """A flock lasts while any copy of its descriptor is open, and a fork copies them:
    the child closes what it inherited, so the parent's commit hands the turn on."""
    database = tmp_path / "siegel.db"
    url = f"sqlite:///{database}?timeout=0.3"
    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            session.execute(text("SELECT 1"))  # this process holds the turn
            child = os.fork()
            if child == 0:  # pragma: no cover - the child only waits
                time.sleep(3)
                os._exit(0)
        try:
            descriptor = _lock_exclusively(Path(f"{database}{LOCK_FILE_SUFFIX}"), 0.3)
            os.close(descriptor)
        finally:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
    finally:
        engine.dispose()


def test_a_thread_waiting_past_the_timeout_fails_and_leaves_the_queue() -> None:
    """A waiter that gives up (the URL's timeout, or an interrupt) leaves the queue: the
    next release goes to the thread behind it, not to nobody."""
    lock = FairLock()
    lock.acquire()
    failures: list[BaseException] = []

    def impatient() -> None:
        try:
            lock.acquire(timeout=0.1)
        except sqlite3.OperationalError as error:
            failures.append(error)

    gives_up = threading.Thread(target=impatient)
    gives_up.start()
    gives_up.join(10)
    assert [str(error) for error in failures] == ["database is locked"]
    patient = threading.Thread(target=lambda: (lock.acquire(timeout=10), lock.release()))
    patient.start()
    lock.release()
    patient.join(10)
    assert not patient.is_alive()
    assert lock.acquire() is True  # free again


def test_a_commit_that_fails_keeps_the_turn_until_the_rollback(tmp_path: Path) -> None:
    """A COMMIT refused by a deferred constraint leaves SQLite's transaction open: the
    next writer must not get its turn (and meet SQLite's busy wait) before the rollback."""
    engine = open_database(f"sqlite:///{tmp_path / 'siegel.db'}")
    raw = engine.raw_connection().dbapi_connection
    try:
        raw.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        raw.execute(
            "CREATE TABLE child (parent_id INTEGER"
            " REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        raw.begin_immediate()
        raw.execute("INSERT INTO child VALUES (7)")
        with pytest.raises(sqlite3.IntegrityError):
            raw.commit()
        assert raw.in_transaction
        assert raw._queue._threads.held_by(threading.current_thread())
        raw.rollback()
        assert not raw._queue._threads.held_by(threading.current_thread())
    finally:
        raw.close()
        engine.dispose()


STORE_ONE = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from mailflow.schema import open_database
    from mailflow.spool import Arrival, store
    engine = open_database(sys.argv[1])  # its schema check already waits for the turn
    raw = b"Message-ID: <other@turns>\\r\\n\\r\\nbody\\r\\n"
    store(engine, [Arrival(raw, "", ("beschwerde@x.test",), "test")], datetime.now(UTC))
    """
)


def test_the_holder_sees_that_another_process_waits(tmp_path: Path) -> None:
    """A process waiting for the turn says so (a shared lock of DATABASE-writer-waiting):
    the worker's long unit of work can end early for `siegel intake` in its own process."""
    database = tmp_path / "siegel.db"
    url = f"sqlite:///{database}"
    engine = open_database(url)
    try:
        with session_scope(engine) as session:
            session.execute(text("SELECT 1"))
            assert not writer_wanted(session)
            other = subprocess.Popen([sys.executable, "-c", STORE_ONE, url], cwd=ROOT)
            deadline = time.monotonic() + 20
            while not writer_wanted(session) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert writer_wanted(session)
        assert other.wait(30) == 0  # it went on once this unit of work committed
        with session_scope(engine) as session:
            assert not writer_wanted(session)  # nobody waits any more
    finally:
        engine.dispose()
    waiting = Path(f"{database}{WAITING_FILE_SUFFIX}")
    assert stat.S_IMODE(waiting.stat().st_mode) == 0o600
    assert _count(url) == 1


def test_units_giving_way_do_not_cut_each_other_short(tmp_path: Path) -> None:
    """Two workers' units of work wait for each other quietly; the intake's commit (an
    urgent writer) is what the holder makes way for."""
    engine = open_database(f"sqlite:///{tmp_path / 'siegel.db'}")

    def other_unit() -> None:
        with session_scope(engine, giving_way=True) as session:
            session.execute(text("SELECT 1"))

    try:
        with session_scope(engine, giving_way=True) as session:
            session.execute(text("SELECT 1"))
            worker = threading.Thread(target=other_unit)
            worker.start()
            time.sleep(0.3)  # the other unit waits by now
            assert not writer_wanted(session)
            intake = threading.Thread(target=lambda: store(engine, [_mail(1)], NOW))
            intake.start()
            deadline = time.monotonic() + 10
            while not writer_wanted(session) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert writer_wanted(session)
        worker.join(10)
        intake.join(10)
    finally:
        engine.dispose()
