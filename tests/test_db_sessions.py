"""Units of work: a read-only one never waits for a writer, and never writes."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError

from mailflow.db import read_scope, session_scope
from mailflow.models import StoredMail
from mailflow.spool import Arrival, store

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _mail(number: int) -> Arrival:
    raw = f"Message-ID: <{number}@sessions>\r\n\r\nbody {number}\r\n".encode()
    return Arrival(raw, "", ("beschwerde@x.test",), "test")


def _count(engine: Engine) -> int:
    with read_scope(engine) as session:
        return session.scalar(select(func.count()).select_from(StoredMail)) or 0


def test_a_read_does_not_wait_for_an_open_write(engine: Engine) -> None:
    """While another thread holds a write transaction open, a read answers at once with
    the last committed state (on SQLite a plain session would wait for the writer lock)."""
    store(engine, [_mail(1)], NOW)
    writing, release = threading.Event(), threading.Event()

    def hold_a_write() -> None:
        with session_scope(engine) as session:
            session.add(StoredMail(**_row(2)))
            session.flush()
            writing.set()
            release.wait(30)

    writer = threading.Thread(target=hold_a_write)
    writer.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        assert _count(engine) == 1  # the uncommitted row is not seen
        assert time.monotonic() - started < 2  # the busy timeout is 30 s
    finally:
        release.set()
        writer.join(30)
    assert _count(engine) == 2


def test_a_read_inside_a_unit_of_work_does_not_wait_for_it(engine: Engine) -> None:
    """A read-only session opened while this thread's own write is open does not deadlock."""
    with session_scope(engine) as session:
        session.add(StoredMail(**_row(3)))
        session.flush()
        started = time.monotonic()
        assert _count(engine) == 0
        assert time.monotonic() - started < 2
    assert _count(engine) == 1


def test_a_read_only_unit_of_work_refuses_to_write(engine: Engine) -> None:
    with pytest.raises(DBAPIError), read_scope(engine) as session:
        session.add(StoredMail(**_row(4)))
        session.flush()
    assert _count(engine) == 0
    store(engine, [_mail(5)], NOW)  # the connection writes again in a normal unit of work
    assert _count(engine) == 1


def _row(number: int) -> dict:
    return {
        "message_id": f"<{number}@sessions>",
        "sha256": f"{number:064d}",
        "fingerprint": f"{number:064d}",
        "size": 1,
        "raw": b"x",
        "envelope_to": ["beschwerde@x.test"],
        "source": "test",
        "received_at": NOW,
    }
