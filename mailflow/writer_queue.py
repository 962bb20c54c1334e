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
  While it waits, a process holds a shared `flock` of `DATABASE-writer-waiting`, so
  that the holder can see that another process wants the turn (`WriterQueue.wanted`).
  Only urgent writers say so: the worker's units of work wait quietly for each other.
  A wait longer than the database URL's `timeout` fails with "database is locked", as
  SQLite's own busy wait does. A forked child closes the descriptors it inherited: a
  flock lasts until every copy of its descriptor is closed, so a child would otherwise
  keep its parent's turn.

Programs that do not take this turn (the `sqlite3` shell) still meet SQLite's busy
timeout, which stays set.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
from collections import deque
from pathlib import Path
from typing import ClassVar

LOCK_FILE_SUFFIX = "-writer"
WAITING_FILE_SUFFIX = LOCK_FILE_SUFFIX + "-waiting"
LOCK_FILE_MODE = 0o600

# Every descriptor this process opened to take a turn, held or still waited on.
_descriptors: set[int] = set()
_descriptors_guard = threading.Lock()


class FairLock:
    """A reentrant lock granted in the order it was asked for.

    `threading.RLock` lets the thread that releases it take it straight back while the
    woken waiter is still being scheduled; here a release hands the lock to the longest
    waiting thread.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._owner: object = None
        self._depth = 0
        self._waiters: deque[threading.Lock] = deque()
        self._urgent = 0  # waiters that want the holder to make way (`wanted`)

    def acquire(self, timeout: float = -1, urgent: bool = True) -> bool:
        """Take the lock; True when this took it rather than entered it again. An
        `urgent` waiter is reported by `wanted` while it waits."""
        me = threading.current_thread()  # not get_ident(): idents of ended threads are reused
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
            self._urgent += urgent
        try:
            granted = turn.acquire(timeout=timeout)  # released by the holder handing over
            with self._guard:
                self._urgent -= urgent
                urgent = False  # counted off
                if not granted:
                    raise sqlite3.OperationalError("database is locked")
                self._owner, self._depth = me, 1
        except BaseException:  # e.g. KeyboardInterrupt: leave the queue, or pass the lock on
            with self._guard:
                self._urgent -= urgent
                if turn in self._waiters:
                    self._waiters.remove(turn)
                elif self._owner in (-1, me):
                    self._depth = 0
                    self._hand_on()
            raise
        return True

    def release(self, owner: object = None) -> bool:
        """Give the lock up once for `owner` (the calling thread by default)."""
        with self._guard:
            if self._owner is not (owner or threading.current_thread()):
                raise RuntimeError("cannot release a lock held by another thread")
            self._depth -= 1
            if self._depth:
                return False
            self._hand_on()
            return True

    def held_by(self, owner: object) -> bool:
        return self._owner is owner

    def wanted(self) -> bool:
        """Whether an urgent waiter waits for the lock."""
        return self._urgent > 0

    def _hand_on(self) -> None:
        if self._waiters:
            self._owner = -1  # handed over: nobody barges in before the next holder
            self._waiters.popleft().release()
        else:
            self._owner = None


class WriterQueue:
    """The turn to write one database: `FairLock` in this process, `flock` between them."""

    def __init__(self, lock_file: Path | None, timeout: float) -> None:
        self.lock_file = lock_file
        self.timeout = timeout
        self.waiting_file = (
            None
            if lock_file is None
            else lock_file.with_name(
                lock_file.name.removesuffix(LOCK_FILE_SUFFIX) + WAITING_FILE_SUFFIX
            )
        )
        self._threads = FairLock()
        self._depth = 0  # how often the holding thread entered; touched by it alone
        self._descriptor: int | None = None
        self._probe: int | None = None  # a descriptor of the waiting file, to test it

    def acquire(self, urgent: bool = True) -> None:
        """Take the turn. An `urgent` writer (the intake's commit, a command) lets the
        holder see that it waits; a bulk one (the worker's unit of work) waits quietly,
        so that two workers do not cut each other's units short."""
        if self._threads.acquire(self.timeout, urgent) and self.lock_file is not None:
            try:
                self._descriptor = _lock_exclusively(
                    self.lock_file, self.timeout, self.waiting_file if urgent else None
                )
            except BaseException:
                self._threads.release()
                raise
        self._depth += 1

    def release(self, owner: object) -> None:
        if not self._threads.held_by(owner):
            raise RuntimeError("cannot release a turn held by another thread")
        self._depth -= 1
        if not self._depth and self._descriptor is not None:
            descriptor, self._descriptor = self._descriptor, None
            _close(descriptor)  # before the next thread's turn: closing ends the flock
        self._threads.release(owner)

    def wanted(self) -> bool:
        """Whether another thread or process waits urgently for the turn."""
        return self._threads.wanted() or self._others_waiting()

    def _others_waiting(self) -> bool:
        if self.waiting_file is None:
            return False
        if self._probe is None:
            self._probe = _open(self.waiting_file)
        try:
            fcntl.flock(self._probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True  # a waiter holds it shared
        fcntl.flock(self._probe, fcntl.LOCK_UN)
        return False

    def forget_after_fork(self) -> None:
        """In a forked child: none of the parent's threads, nor its turn, came along."""
        self._threads = FairLock()
        self._depth = 0
        self._descriptor = None
        self._probe = None


def _open(path: Path) -> int:
    with _descriptors_guard:  # no fork between open and add (see register_at_fork)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, LOCK_FILE_MODE)
        _descriptors.add(descriptor)
    return descriptor


def _lock_exclusively(path: Path, timeout: float, waiting_file: Path | None = None) -> int:
    """An open descriptor of `path` holding its exclusive flock, taken within `timeout`;
    while it waits, a shared flock of `waiting_file` says so to the holder."""
    descriptor = _open(path)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return descriptor
    except BlockingIOError:
        pass
    except BaseException:
        _close(descriptor)
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
                _close(descriptor)  # given up on meanwhile, or never locked
            if not answered.is_set():
                outcome.append(result)
                answered.set()

    waiting, started = None, False
    try:
        if waiting_file is not None:
            waiting = _open(waiting_file)
            fcntl.flock(waiting, fcntl.LOCK_SH)  # waits only while a holder tests it
        threading.Thread(target=wait, name="sqlite-writer-turn", daemon=True).start()
        started = True
        answered.wait(timeout)
        with decided:
            if not answered.is_set():
                answered.set()  # the helper closes the descriptor when its wait ends
                raise sqlite3.OperationalError("database is locked")
        if outcome[0] is not None:
            raise outcome[0]
        return descriptor
    except BaseException:  # timed out, failed, or interrupted (KeyboardInterrupt)
        with decided:
            answered.set()  # from now on the helper closes the descriptor itself
            granted = outcome == [None]
        if granted or not started:
            _close(descriptor)  # ours, or no helper took it over
        raise
    finally:
        if waiting is not None:
            _close(waiting)


def _close(descriptor: int) -> None:
    with _descriptors_guard:
        _descriptors.discard(descriptor)
        os.close(descriptor)


def _forget_after_fork() -> None:
    global _descriptors_guard
    _descriptors_guard = threading.Lock()
    for descriptor in _descriptors:
        with contextlib.suppress(OSError):
            os.close(descriptor)
    _descriptors.clear()
    QueuedWriterConnection.forget_after_fork()


class QueuedWriterConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions take their turn in a `WriterQueue`,
    taken before BEGIN IMMEDIATE and given up right after COMMIT or ROLLBACK."""

    _queues: ClassVar[dict[str, WriterQueue]] = {}
    _queues_guard = threading.Lock()
    _holding = False

    @classmethod
    def forget_after_fork(cls) -> None:
        cls._queues_guard = threading.Lock()
        for writer_queue in cls._queues.values():
            writer_queue.forget_after_fork()

    def attach_queue(self, key: str, lock_file: Path | None, timeout: float) -> None:
        with self._queues_guard:
            self._queue = self._queues.setdefault(key, WriterQueue(lock_file, timeout))
        self._holding = False

    def turn_wanted(self) -> bool:
        """Whether another writer waits urgently: a long unit of work may end early and
        let it in."""
        return self._queue.wanted()

    def begin_immediate(self, urgent: bool = True) -> None:
        self._queue.acquire(urgent)
        self._holder, self._holding = threading.current_thread(), True
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
            self._queue.release(self._holder)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            # A COMMIT that failed (a full disk) may leave the transaction open: the
            # turn goes on with the rollback that follows, not before.
            if not self.in_transaction:
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


os.register_at_fork(
    before=lambda: _descriptors_guard.acquire(),
    after_in_parent=lambda: _descriptors_guard.release(),
    after_in_child=_forget_after_fork,
)
