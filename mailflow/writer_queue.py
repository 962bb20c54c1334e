"""One writer at a time for a SQLite database, handed on in turn instead of polled for.

SQLite admits one writer, and a writer that finds the database locked polls with sleeps
of up to 100 ms (its busy handler): under contention an SMTP session would wait hundreds
of milliseconds for its 250, and a second worker process would mostly sleep. So every
write transaction first takes its turn here:

- threads of one process queue in the order they asked (`FairLock`): the thread that
  releases the lock cannot take it straight back, so a worker running unit of work after
  unit of work lets the intake's group commit in between;
- processes queue on an exclusive `flock` of a file beside the database
  (`DATABASE-writer`): the kernel wakes a waiting process as soon as the holder lets go.
  A wait longer than the database URL's `timeout` fails with "database is locked", as
  SQLite's own busy wait does.

Programs that do not take this turn (the `sqlite3` shell) still meet SQLite's busy
timeout, which stays set.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections import deque
from pathlib import Path
from typing import ClassVar

LOCK_FILE_SUFFIX = "-writer"
LOCK_FILE_MODE = 0o600


class FairLock:
    """A reentrant lock granted in the order it was asked for.

    `threading.RLock` lets the thread that releases it take it straight back while the
    woken waiter is still being scheduled; here a release hands the lock to the longest
    waiting thread.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._owner: int | None = None
        self._depth = 0
        self._waiters: deque[threading.Lock] = deque()

    def acquire(self) -> bool:
        """Take the lock; True when this took it rather than entered it again."""
        me = threading.get_ident()
        with self._guard:
            if self._owner == me:
                self._depth += 1
                return False
            if self._owner is None:
                self._owner, self._depth = me, 1
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        turn.acquire()  # released by the holder that hands the lock over
        with self._guard:
            self._owner, self._depth = me, 1
        return True

    def release(self) -> bool:
        """Give the lock up once; True when this let it go rather than left it entered."""
        with self._guard:
            if self._owner != threading.get_ident():
                raise RuntimeError("cannot release a lock held by another thread")
            self._depth -= 1
            if self._depth:
                return False
            if self._waiters:
                self._owner = -1  # handed over: nobody barges in before the next holder
                self._waiters.popleft().release()
            else:
                self._owner = None
            return True


class WriterQueue:
    """The turn to write one database: `FairLock` in this process, `flock` between them."""

    def __init__(self, lock_file: Path | None, timeout: float) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
        self._threads = FairLock()
        self._depth = 0  # how often the holding thread entered; touched by it alone
        self._descriptor: int | None = None

    def acquire(self) -> None:
        if self._threads.acquire() and self.lock_file is not None:
            try:
                self._descriptor = _lock_exclusively(self.lock_file, self.timeout)
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if not self._depth and self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            os.close(descriptor)  # before the next thread's turn: closing ends the flock
        self._threads.release()


def _lock_exclusively(path: Path, timeout: float) -> int:
    """An open descriptor of `path` holding its exclusive flock, taken within `timeout`."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return descriptor
    except BlockingIOError:
        pass
    except BaseException:
        os.close(descriptor)
        raise
    # flock itself cannot time out: a helper thread waits, and this one waits for it.
    answered = threading.Event()
    decided = threading.Lock()
    outcome: list[BaseException | None] = []  # [None] granted, [error] failed

    def wait() -> None:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            result: BaseException | None = None
        except OSError as error:
            result = error
        with decided:
            if answered.is_set() or result is not None:
                os.close(descriptor)  # given up on meanwhile, or never locked
            if not answered.is_set():
                outcome.append(result)
                answered.set()

    threading.Thread(target=wait, name="sqlite-writer-turn", daemon=True).start()
    answered.wait(timeout)
    with decided:
        if not answered.is_set():
            answered.set()  # the helper closes the descriptor when its wait ends
            raise sqlite3.OperationalError("database is locked")
    if outcome[0] is not None:
        raise outcome[0]
    return descriptor


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions take their turn in a `WriterQueue`,
    taken before BEGIN IMMEDIATE and given up right after COMMIT or ROLLBACK."""

    _queues: ClassVar[dict[str, WriterQueue]] = {}
    _queues_guard = threading.Lock()
    _holding = False

    def attach_queue(self, key: str, lock_file: Path | None, timeout: float) -> None:
        with self._queues_guard:
            self._queue = self._queues.setdefault(key, WriterQueue(lock_file, timeout))
        self._holding = False

    def begin_immediate(self) -> None:
        self._queue.acquire()
        self._holding = True
        try:
            self.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._release()
            raise

    def set_query_only(self, query_only: bool) -> None:
        """Refuse (or allow again) writes on this connection: a read-only unit of work."""
        if getattr(self, "_query_only", False) != query_only:
            self.execute(f"PRAGMA query_only={int(query_only)}")
            self._query_only = query_only

    def _release(self) -> None:
        if self._holding:
            self._holding = False
            self._queue.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._release()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._release()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()
