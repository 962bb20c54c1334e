"""Store first, then say yes: every intake commits the raw mail here before it acknowledges.

`store()` writes a batch of arrivals in one transaction. `Spool` puts a single writer
thread in front of it so that concurrent SMTP sessions share commits (group commit):
each session waits for the commit that holds its mail, and one fsync serves many.

The same mail arriving twice (by SMTP and IMAP, or resent by a client) is recognised
by its fingerprint and stored once; the later arrival is counted, its envelope
recipients merged (and stored for its new recipients alone where the worker has read the
mail already: `_store_once`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import queue
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from sqlalchemy import Connection, Dialect, Engine, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from mailflow.db import utcnow
from mailflow.models import MAX_MESSAGE_ID_CHARS, MailStatus, StoredMail
from mediation import addresses

log = logging.getLogger("mailflow.spool")

DERIVED_ID_DOMAIN = "derived.siegel.invalid"
_MAX_BATCH = 200
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_TRAILING_SPACE = re.compile(rb"[ \t\r]+\n")
# A header block that the email package would split into the same fields as a regular
# expression does: each line a "name:" field or a folded continuation, CRLF or LF only.
_PLAIN_HEAD = re.compile(rb"(?:[!-9;-~]+:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*(?:\r?\n|\Z))+")
_MESSAGE_ID_FIELD = re.compile(rb"^message-id:([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.I | re.M)


class SpoolError(Exception):
    """The mail could not be committed; the sender must be told to try again."""


@dataclass(frozen=True)
class Arrival:
    raw: bytes
    envelope_from: str | None  # "" the null sender, None unknown
    envelope_to: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Stored:
    mail_id: int
    duplicate: bool


@dataclass(frozen=True)
class Identity:
    message_id: str
    derived: bool
    fingerprint: str


def identify(raw: bytes) -> Identity:
    """The Message-ID (ours where the mail has none) and the duplicate fingerprint.

    The fingerprint covers the Message-ID and the body with line endings and trailing
    blanks normalised, so trace headers added on the way (Received, Return-Path,
    Delivered-To) do not make the same mail look new, while a sender that reuses a
    Message-ID for a different text still gets both mails stored.
    """
    head, body = _head_and_body(raw)
    message_id = plain_message_id(head)
    headers = None
    if message_id is None:
        headers = BytesHeaderParser(policy=compat32).parsebytes(head)
        message_id = " ".join(str(headers.get("Message-ID") or "").split())
        message_id = message_id[:MAX_MESSAGE_ID_CHARS]
    digest = hashlib.sha256()
    if message_id:
        digest.update(b"message-id:" + message_id.encode("utf-8", "replace"))
    else:
        assert headers is not None
        for name in ("From", "To", "Subject", "Date"):
            digest.update(f"{name}:{headers.get(name, '')}\n".encode("utf-8", "replace"))
    normalised = body.replace(b"\r\n", b"\n")
    # Every match of the pattern ends in one of these pairs; most mails have none.
    if b" \n" in normalised or b"\t\n" in normalised or b"\r\n" in normalised:
        normalised = _TRAILING_SPACE.sub(b"\n", normalised)
    normalised = normalised.rstrip(b"\n")
    digest.update(b"\nbody:" + normalised)
    fingerprint = digest.hexdigest()
    if message_id:
        return Identity(message_id, False, fingerprint)
    return Identity(f"<{fingerprint[:32]}@{DERIVED_ID_DOMAIN}>", True, fingerprint)


def _head_and_body(raw: bytes) -> tuple[bytes, bytes]:
    """The header block and the rest, for the fingerprint. A mail that starts with an
    empty line has no header; one without any empty line that is not a well-formed
    header block is all body as well as head: its text must count, or two different
    headerless mails would be one."""
    if raw.startswith((b"\n", b"\r\n")):
        return b"", raw
    match = _HEADER_END.search(raw)
    if match is None:
        # A well-formed header block alone has no text (its trace headers must not
        # count); anything else may be text.
        return (raw, b"") if _PLAIN_HEAD.fullmatch(raw) else (raw, raw)
    return raw[: match.start()], raw[match.end() :]


def plain_message_id(head: bytes) -> str | None:
    """The Message-ID as the email package reads it from `head`, found without building
    the header objects (a tenth of the time); None where the fast reading might differ:
    no Message-ID, an empty one, 8-bit bytes, or lines the parser would take otherwise."""
    if not head.isascii() or _PLAIN_HEAD.fullmatch(head) is None:
        return None
    field = _MESSAGE_ID_FIELD.search(head)
    if field is None:
        return None
    return " ".join(field.group(1).decode("ascii").split())[:MAX_MESSAGE_ID_CHARS] or None


def store(
    database: Engine | Connection, arrivals: list[Arrival], now: datetime | None = None
) -> list[Stored]:
    """Commit a batch of arrivals in one transaction; returns one `Stored` per arrival.

    `database` is an engine, or a connection that is held for many batches (the spool's
    writer): checking a connection out of the pool and back in for every commit costs
    as much as the commit's own statements."""
    now = now or utcnow()
    identities = [identify(a.raw) for a in arrivals]
    for attempt in range(2):
        try:
            return _store_once(database, arrivals, identities, now)
        except IntegrityError:
            # Another process stored one of these fingerprints concurrently; the
            # second try finds it and records a duplicate arrival instead.
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


_MAIL = StoredMail.__table__
_NEW_ROW = (
    "message_id", "message_id_derived", "sha256", "fingerprint", "size", "raw",
    "envelope_from", "envelope_to", "source", "received_at", "arrivals", "status", "attempts",
)  # fmt: skip


@functools.lru_cache(maxsize=512)  # bounded: every engine has a dialect of its own
def _statement(dialect: Dialect, kind: str, count: int) -> tuple[str, tuple[str, ...] | None]:
    """The SQL text, as `dialect` writes it, of the select of `count` fingerprints known
    already ("known") or of the insert of `count` new mails ("insert"), with the order
    of its parameters (None: by name). Compiled once per batch size: the intake's batch
    costs its commit, not SQLAlchemy's compiling and processing of every statement."""
    if kind == "known":
        fingerprints = [bindparam(f"f{k}") for k in range(count)]
        statement = (
            select(_MAIL.c.id, _MAIL.c.fingerprint, _MAIL.c.envelope_to, _MAIL.c.status)
            .where(_MAIL.c.fingerprint.in_(fingerprints))
            # Merging recipients is read-modify-write: lock the rows (PostgreSQL;
            # SQLite's BEGIN IMMEDIATE already serialises writers).
            .with_for_update()
        )
    else:
        rows = [{name: bindparam(f"{name}_{k}") for name in _NEW_ROW} for k in range(count)]
        # Rows come back in any order; each carries its fingerprint.
        statement = insert(_MAIL).values(rows).returning(_MAIL.c.id, _MAIL.c.fingerprint)
    compiled = statement.compile(dialect=dialect)
    return str(compiled), compiled.positiontup


@functools.lru_cache(maxsize=16)
def _converters(dialect: Dialect) -> tuple[dict[str, Callable[[Any], Any]], Callable[[Any], Any]]:
    """What SQLAlchemy does to each new row's values for `dialect` (JSON as text, times
    as SQLite stores them), and to a known row's recipients when read back."""
    binds = {}
    for name in _NEW_ROW:
        processor = _MAIL.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        binds[name] = processor or (lambda value: value)
    read = _MAIL.c.envelope_to.type.dialect_impl(dialect).result_processor(dialect, None)
    return binds, read or (lambda value: value)


def _run(
    connection: Connection, kind: str, values: dict[str, Any], count: int
) -> list[tuple[Any, ...]]:
    """The rows of the statement, run on the driver's own cursor: SQLAlchemy's result
    objects cost more than the statement. Errors come as SQLAlchemy's (`IntegrityError`),
    and a connection the error shows lost is invalidated, as SQLAlchemy's own execution
    does (`connection_invalidated`: `Spool` tries the batch again on a new one)."""
    dialect = connection.dialect
    sql, order = _statement(dialect, kind, count)
    parameters = tuple(values[name] for name in order) if order is not None else values
    driver_error = dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return cursor.fetchall()
    except driver_error as error:
        lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise DBAPIError.instance(
            sql, parameters, error, driver_error, dialect=dialect, connection_invalidated=lost
        ) from error
    finally:
        cursor.close()


# A known mail in these states has been (or is being) read for its recipients already.
_READ = frozenset({MailStatus.PROCESSING.value, MailStatus.DONE.value})


def redelivery_fingerprint(fingerprint: str, recipients: list[str]) -> str:
    """The fingerprint of a mail's later arrival for recipients it was not worked for."""
    named = "\n".join(sorted(address.lower() for address in recipients))
    return hashlib.sha256(f"{fingerprint}\nredelivered to:\n{named}".encode()).hexdigest()


def _store_once(
    database: Engine | Connection,
    arrivals: list[Arrival],
    identities: list[Identity],
    now: datetime,
) -> list[Stored]:
    """Store the batch. A known mail arriving again is counted on its row and its new
    envelope recipients merged there; if its row was already read for its recipients
    (processing or done), new case addresses among them would never be worked, so the
    arrival is also stored as a mail of its own for them alone (`redelivery_fingerprint`):
    the same message sent to a second case address later acts there too."""
    binds, read_recipients = _converters(database.dialect)
    with _transaction(database) as connection:
        fingerprints = list(dict.fromkeys(i.fingerprint for i in identities))
        asked = {f"f{k}": fingerprint for k, fingerprint in enumerate(fingerprints)}
        known: dict[str, tuple[int, list[str], str]] = {
            fingerprint: (mail_id, list(read_recipients(recipients)), status)
            for mail_id, fingerprint, recipients, status in _run(
                connection, "known", asked, len(fingerprints)
            )
        }
        new_rows: dict[str, dict] = {}
        arrived_again: dict[int, list[str]] = {}
        again_count: Counter[int] = Counter()
        stored_as: list[str] = []  # per arrival, the fingerprint of the row that holds it
        for arrival, identity in zip(arrivals, identities, strict=True):
            fingerprint = identity.fingerprint
            recipients = list(arrival.envelope_to)
            if fingerprint in known:
                mail_id, merged, status = known[fingerprint]
                seen = {address.lower() for address in arrived_again.get(mail_id, merged)}
                # Only a case address acts anew for the same mail: a copy for service@ or
                # beschwerde@ beside it would open nothing, or hold it a second time.
                unseen = [
                    address
                    for address in recipients
                    if address.lower() not in seen and addresses.names_a_case(address)
                ]
                arrived_again.setdefault(mail_id, merged).extend(recipients)
                if status not in _READ or not unseen:
                    again_count[mail_id] += 1
                    stored_as.append(fingerprint)
                    continue
                fingerprint, recipients = redelivery_fingerprint(fingerprint, unseen), unseen
            stored_as.append(fingerprint)
            if fingerprint in new_rows:
                new_rows[fingerprint]["envelope_to"].extend(recipients)
                new_rows[fingerprint]["arrivals"] += 1
            else:
                new_rows[fingerprint] = {
                    "message_id": identity.message_id,
                    "message_id_derived": identity.derived,
                    "sha256": hashlib.sha256(arrival.raw).hexdigest(),
                    "fingerprint": fingerprint,
                    "size": len(arrival.raw),
                    "raw": arrival.raw,
                    "envelope_from": arrival.envelope_from,
                    "envelope_to": recipients,
                    "source": arrival.source,
                    "received_at": now,
                    "arrivals": 1,
                    "status": MailStatus.NEW.value,
                    "attempts": 0,
                }
        for mail_id, recipients in arrived_again.items():
            connection.execute(
                update(_MAIL)
                .where(_MAIL.c.id == mail_id)
                .values(
                    arrivals=_MAIL.c.arrivals + again_count[mail_id],
                    envelope_to=list(dict.fromkeys(recipients)),
                )
            )
        new_ids = {}
        if new_rows:
            values = {}
            for k, row in enumerate(new_rows.values()):
                row["envelope_to"] = list(dict.fromkeys(row["envelope_to"]))
                values.update({f"{name}_{k}": binds[name](row[name]) for name in _NEW_ROW})
            inserted = _run(connection, "insert", values, len(new_rows))
            new_ids = {fingerprint: mail_id for mail_id, fingerprint in inserted}
    results = []
    first_seen: set[str] = set()
    for fingerprint in stored_as:
        if fingerprint in new_ids and fingerprint not in first_seen:
            first_seen.add(fingerprint)
            results.append(Stored(new_ids[fingerprint], False))
        elif fingerprint in new_ids:
            results.append(Stored(new_ids[fingerprint], True))
        else:
            results.append(Stored(known[fingerprint][0], True))
    return results


@contextlib.contextmanager
def _transaction(database: Engine | Connection) -> Iterator[Connection]:
    """A transaction on the held connection, or on one the engine lends for it."""
    if isinstance(database, Connection):
        with database.begin():
            yield database
    else:
        with database.begin() as connection:
            yield connection


class Spool:
    """Group commit in front of `store()`, for threads and asyncio alike.

    A thread waits on a `concurrent.futures.Future`; a coroutine on an asyncio future of
    its loop, and each batch wakes each loop once rather than once per mail.
    """

    def __init__(self, engine: Engine, on_stored: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.on_stored = on_stored
        self._queue: queue.Queue[tuple[Arrival, _Waiter] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._connection: Connection | None = None  # the writer thread's, held

    def start(self) -> Spool:
        self._thread = threading.Thread(target=self._run, name="spool-writer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, arrival: Arrival) -> Future[Stored]:
        future: Future[Stored] = Future()
        self._enqueue(arrival, future)
        return future

    def put_sync(self, arrival: Arrival, timeout: float = 60) -> Stored:
        return self.submit(arrival).result(timeout)

    async def put(self, arrival: Arrival) -> Stored:
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._enqueue(arrival, future)
        return await future

    def _enqueue(self, arrival: Arrival, waiter: _Waiter) -> None:
        if self._thread is None:
            _settle([(waiter, SpoolError("spool is not running"))])
        else:
            self._queue.put((arrival, waiter))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                self._let_go()
                return
            batch = [item]
            while len(batch) < _MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                batch.append(more)
            _answer(self._write(batch))

    def _write(self, batch: list[tuple[Arrival, _Waiter]]) -> list[tuple[_Waiter, _Outcome]]:
        try:
            results = self._store([arrival for arrival, _ in batch])
        except Exception:
            if len(batch) > 1:
                # Find the one that fails; the others still get their commit.
                return [answer for item in batch for answer in self._write([item])]
            log.exception("spool write failed")
            return [(batch[0][1], SpoolError("could not store the mail"))]
        if self.on_stored:
            self.on_stored()
        return [(waiter, result) for (_, waiter), result in zip(batch, results, strict=True)]

    def _store(self, arrivals: list[Arrival]) -> list[Stored]:
        """`store()` on the connection this thread holds. A held connection found lost is
        let go and the batch tried once more on a new one: the pool checks a connection
        only when it hands it out, and the database may have restarted since. Any other
        failure (a lock held past the timeout, a bad mail) is the batch's, at once."""
        for _ in range(2):
            new = self._connection is None
            if self._connection is None:
                self._connection = self.engine.connect()
            try:
                return store(self._connection, arrivals)
            except DBAPIError as error:
                if not error.connection_invalidated:
                    raise
                self._let_go()
                if new:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _let_go(self) -> None:
        """Give the held connection back (a lost one is discarded by the pool)."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):  # a broken one is discarded by the pool
                connection.close()


_Waiter = Future[Stored] | asyncio.Future[Stored]
_Outcome = Stored | SpoolError


def _answer(answers: list[tuple[_Waiter, _Outcome]]) -> None:
    """Settle each thread's future here, and each loop's futures in one call on that loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Waiter, _Outcome]]] = {}
    for waiter, outcome in answers:
        if isinstance(waiter, asyncio.Future):
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, outcome))
        else:
            _settle([(waiter, outcome)])
    for loop, settled in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            loop.call_soon_threadsafe(_settle, settled)


def _settle(answers: list[tuple[_Waiter, _Outcome]]) -> None:
    for waiter, outcome in answers:
        # A waiter cancelled while its mail was written (its client went away) is done.
        with contextlib.suppress(asyncio.InvalidStateError, InvalidStateError):
            if isinstance(outcome, Stored):
                waiter.set_result(outcome)
            else:
                waiter.set_exception(outcome)
