"""Database engines and units of work.

SQLite (WAL, full fsync, `BEGIN IMMEDIATE` so that concurrent writers wait instead
of failing, and write transactions taking turns in `mailflow.writer_queue`) is the
embedded default; PostgreSQL is used by URL. `mailflow.schema` opens a database with its
schema brought up to date.

A SQLite database holds every complaint and the spool: its directory is created 0700,
the file 0600 before SQLite first opens it (SQLite gives its -wal and -shm files the
database file's mode), and an existing file, -wal, -shm, -journal, -writer or
-writer-waiting that others may read is tightened to 0600 at every start, whatever the
process umask. How long a writer waits for another one's lock is the URL's `timeout` in
seconds (default 30, e.g. `sqlite:////var/lib/siegel/siegel.db?timeout=60`); beyond it
the command fails with "database is locked", which `siegel ingest` turns into exit 75.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlmodel import Session

from mailflow.writer_queue import LOCK_FILE_SUFFIX, WAITING_FILE_SUFFIX, QueuedWriterConnection

log = logging.getLogger("mailflow.db")

DEFAULT_BUSY_TIMEOUT_SECONDS = 30.0
READ_ONLY = "siegel_read_only"  # execution option of `read_scope`
GIVING_WAY = "siegel_giving_way"  # execution option of `session_scope(giving_way=True)`
# The database file and SQLite's files beside it: readable by the service's user only.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIRECTORY_MODE = 0o700
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal", LOCK_FILE_SUFFIX, WAITING_FILE_SUFFIX)


def utcnow() -> datetime:
    return datetime.now(UTC)


class DatabaseUrlError(ValueError):
    """The database URL cannot be used as written: a configuration error."""


def make_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite files get WAL, serialised writers, mode 0600."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUrlError(f"not a database URL: {error}") from error
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
        except (NoSuchModuleError, ImportError) as error:
            raise DatabaseUrlError(f"no driver for {parsed.drivername!r}: {error}") from error
    database = parsed.database or ":memory:"
    busy_timeout = _busy_timeout_seconds(parsed)
    if database != ":memory:" and not parsed.query.get("uri"):
        prepare_private_file(Path(database))
    engine = create_engine(
        url,
        connect_args={
            "check_same_thread": False,
            "timeout": busy_timeout,
            "factory": QueuedWriterConnection,
        },
    )
    in_memory = database == ":memory:"
    queue_key = f"memory:{id(engine)}" if in_memory else str(Path(database).resolve())
    # Processes take turns by a lock file beside the database (`mailflow.writer_queue`).
    by_file = not in_memory and not parsed.query.get("uri")
    lock_file = Path(f"{queue_key}{LOCK_FILE_SUFFIX}") if by_file else None

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy's "begin" below decide when transactions start.
        dbapi_connection.isolation_level = None
        dbapi_connection.attach_queue(queue_key, lock_file, busy_timeout)
        cursor = dbapi_connection.cursor()
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={round(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        dbapi_connection = connection.connection.dbapi_connection
        read_only = bool(connection.get_execution_options().get(READ_ONLY))
        dbapi_connection.set_query_only(read_only)  # type: ignore[union-attr]
        if read_only:
            # Reads a snapshot (WAL): waits for no writer and keeps none waiting.
            dbapi_connection.execute("BEGIN")  # type: ignore[union-attr]
            return
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another writer went first; IMMEDIATE waits its turn.
        giving_way = bool(connection.get_execution_options().get(GIVING_WAY))
        dbapi_connection.begin_immediate(urgent=not giving_way)  # type: ignore[union-attr]

    return engine


def _busy_timeout_seconds(parsed: URL) -> float:
    """The URL's `timeout` (seconds a writer waits for another's lock), 30 by default."""
    value = parsed.query.get("timeout")
    if value is None:
        return DEFAULT_BUSY_TIMEOUT_SECONDS
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = -1.0
    if not 0 <= seconds < 86400:
        raise DatabaseUrlError(f"timeout must be seconds from 0 to 86400, got {value!r}")
    return seconds


def prepare_private_file(database: Path) -> None:
    """Make `database` a file only its owner can read, in a directory created 0700.

    The file is created empty with mode 0600 (SQLite takes an empty file for a new
    database), so that neither it nor the -wal and -shm files SQLite later creates with
    its mode are ever readable by others, whatever the umask. An existing database and
    its companions that others may read or write are tightened to 0600: files written
    by an older version, or created by hand.
    """
    database.parent.mkdir(mode=PRIVATE_DIRECTORY_MODE, parents=True, exist_ok=True)
    try:
        descriptor = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(descriptor)
    for path in (database, *(Path(f"{database}{suffix}") for suffix in SQLITE_COMPANIONS)):
        tighten_file_mode(path)


def tighten_file_mode(path: Path) -> None:
    """Take group and other permissions off `path` (a file or directory) if it exists
    and has any: written by hand, or by an older version."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    if mode & 0o077:
        private = mode & 0o700
        try:
            os.chmod(path, private)
        except PermissionError as error:
            # Not ours to change: opening it shows whether the service can use it at all.
            log.warning("%s is mode %04o and cannot be made private: %s", path, mode & 0o777, error)
            return
        log.warning("%s was mode %04o, others could read it; now %04o", path, mode & 0o777, private)


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    # Switching a new file to WAL needs an exclusive lock, and SQLite reports a race
    # for it as "database is locked" at once, without the busy wait: two processes
    # opening a fresh database together retry briefly.
    for attempt in range(100):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError:
            if attempt == 99:
                raise
            time.sleep(0.05)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def writer_wanted(session: Session) -> bool:
    """Whether another thread or process waits urgently (not giving way) to write the
    SQLite database that `session` holds a write transaction on (never on PostgreSQL,
    where writers lock rows, not the database)."""
    raw = session.connection().connection.dbapi_connection
    turn_wanted = getattr(raw, "turn_wanted", None)
    return bool(turn_wanted and turn_wanted())


@contextmanager
def read_scope(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads. On SQLite it takes no writer lock: it reads a
    snapshot while the intake and the worker go on writing, and a read inside another
    unit of work does not wait for that one to finish. Writing in it is an error. What
    it loaded stays readable after it ends (closed, not expired)."""
    with Session(reading(engine), expire_on_commit=False) as session:
        yield session


def reading(engine: Engine) -> Engine:
    """`engine` for transactions that only read: a snapshot on SQLite, without the
    writer lock; a read-only transaction on PostgreSQL."""
    return engine.execution_options(**{READ_ONLY: True, "postgresql_readonly": True})


@contextmanager
def session_scope(engine: Engine, giving_way: bool = False) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error.

    On SQLite, a unit `giving_way` (the worker's batch) waits for the writer's turn
    without asking the holder to make way, and is meant to end early itself when
    `writer_wanted` says another writer waits."""
    bound = engine.execution_options(**{GIVING_WAY: True}) if giving_way else engine
    with Session(bound, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def schema_version(connection: Connection) -> int:
    if not inspect(connection).has_table("schema_version"):
        return 0
    return connection.execute(text("SELECT max(version) FROM schema_version")).scalar() or 0
