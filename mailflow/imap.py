"""IMAP intake: one poller per configured mailbox, store first, then move.

For its folder a poller reads every message above the checkpointed UID (no
look-back window by date: a week of downtime loses nothing), commits each through
the spool, and only then moves it to the processed folder and advances the
checkpoint. A crash between commit and move fetches the mail again, and the
spool's dedupe stores it once. A changed UIDVALIDITY (RFC 3501 section 2.3.1.1)
voids every stored UID, so the whole folder is read again.

A message that cannot be stored as a mail (larger than `[smtp] max_message_bytes`,
or one the server returns no body for) is moved to the quarantine folder and
recorded with its headers and the reason, so that an operator sees it. So is one
whose fetch fails again and again (the server drops the session on it): after
three tries it is set aside, and the mail behind it flows again.

Between rounds the poller waits in IDLE (RFC 2177) where the server offers it,
renewing it before the 29 minutes after which a server may drop the client;
otherwise it polls. Connection errors never end the thread: it reconnects with
backoff. Folder names use "/" between levels, translated to the server's
hierarchy delimiter.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parseaddr

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from imapclient.imapclient import _parse_untagged_response
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from mailflow import parsing
from mailflow.config import ImapAccount
from mailflow.db import session_scope, utcnow
from mailflow.models import ImapCheckpoint, MailStatus, StoredMail
from mailflow.spool import Arrival, Spool, SpoolError, identify

log = logging.getLogger("mailflow.imap")

# RFC 2177: a server may log out a client idle for 30 minutes; renew well before.
MAX_IDLE_SECONDS = 28 * 60
# While idling, how often a stop request is noticed.
IDLE_CHECK_SECONDS = 0.5
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 300.0
SOCKET_TIMEOUT_SECONDS = 60.0
# Bodies are fetched in groups to save round trips, bounded to bound memory.
FETCH_GROUP_BYTES = 16 * 1024 * 1024
FETCH_GROUP_MESSAGES = 50
QUARANTINE_HEADER_BYTES = 64 * 1024
# A message whose fetch fails this often (the server drops the session on it, say)
# is recorded and set aside, so that it cannot stall the mail behind it for ever.
GIVE_UP_AFTER_FAILURES = 3

_HEADER_END = re.compile(rb"\r?\n\r?\n")


# ---------------------------------------------------------------- pure helpers


def parse_headers(raw: bytes) -> Message:
    """The header block of `raw` (8-bit bytes kept as they are, nothing decoded)."""
    match = _HEADER_END.search(raw)
    return BytesHeaderParser(policy=compat32).parsebytes(raw[: match.start()] if match else raw)


def envelope_of(raw: bytes, mailbox: str) -> tuple[str | None, tuple[str, ...]]:
    """Envelope sender and recipients as the delivering MTA recorded them in the headers.

    Return-Path holds the envelope sender (RFC 5321 section 4.4; `<>` for bounces, which
    gives ""); without it the sender is unknown (None), as for a mail put in by APPEND.
    Delivered-To / X-Original-To are the envelope recipients; without them the mail was
    delivered to the polled mailbox itself.
    """
    headers = parse_headers(raw)
    return_path = headers.get("Return-Path")
    if return_path is None:
        sender = None
    else:
        sender = "" if str(return_path).strip() == "<>" else parseaddr(str(return_path))[1]
    recipients: list[str] = []
    for name in ("Delivered-To", "X-Original-To"):
        for value in headers.get_all(name) or []:
            address = parseaddr(str(value))[1]
            if address and address not in recipients:
                recipients.append(address)
    return sender, tuple(recipients) or (mailbox,)


def quarantine_reason(size: int | None, body: bytes | None, max_bytes: int) -> str | None:
    """Why a fetched message cannot be stored as a mail, or None when it can."""
    if size is not None and size > max_bytes:
        return f"imap: {size} bytes exceeds max_message_bytes {max_bytes}"
    if body is None:
        return "imap: the server returned no body"
    if len(body) > max_bytes:
        return f"imap: {len(body)} bytes exceeds max_message_bytes {max_bytes}"
    return None


def server_folder_name(name: str, delimiter: str | None) -> str:
    """`name` with "/" between levels, spelt with the server's hierarchy delimiter."""
    return name.replace("/", delimiter) if delimiter else name


# ---------------------------------------------------------------------- poller


class ImapPoller:
    """Reads one account's folder into the spool; `run()` is the thread's body."""

    def __init__(
        self,
        account: ImapAccount,
        spool: Spool,
        engine: Engine,
        max_message_bytes: int,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.account = account
        self.spool = spool
        self.engine = engine
        self.max_message_bytes = max_message_bytes
        self.clock = clock
        self.account_key = f"{account.username}@{account.host}:{account.port}"
        self.source = f"imap:{account.username}@{account.host}/{account.folder}"
        self._client: IMAPClient | None = None
        self._delimiter: str | None = None
        self._folders_present: set[str] = set()
        self._uidnext_polled: int | None = None
        # Failed body fetches per (UIDVALIDITY, first UID of the group fetched).
        self._fetch_failures: dict[tuple[int, int], int] = {}

    # ---------------------------------------------------------------- one round

    def poll_once(self) -> int:
        """Store every new message of the folder; returns how many were committed.

        A duplicate counts (its arrival was committed); a quarantined message does
        not. When the spool fails, the messages committed before are still moved
        and checkpointed, and the error ends the round: the rest stays in the folder.
        """
        client = self._connected()
        selected = client.select_folder(self._name(self.account.folder))
        uidvalidity = int(selected[b"UIDVALIDITY"])
        self._uidnext_polled = selected.get(b"UIDNEXT")
        last_uid = self._last_uid(uidvalidity)
        # "UID n:*" always matches the highest UID, even one below n (RFC 3501 6.4.8).
        uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        if not uids:
            return 0
        sizes = {
            uid: data.get(b"RFC822.SIZE")
            for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items()
        }
        stored = 0
        # After a failed fetch, fetch one by one until a round succeeds: the failures
        # then name the very message the server cannot deliver.
        one_by_one = bool(self._fetch_failures)
        for group in self._groups(uids, sizes, one_by_one):
            failures = self._fetch_failures.get((uidvalidity, group[0]), 0)
            if one_by_one and failures >= GIVE_UP_AFTER_FAILURES:
                self._give_up_on(client, uidvalidity, group[0], sizes.get(group[0]), failures)
                continue
            taken = self._take(client, uidvalidity, group, sizes)
            # Commit first (in _take), then move, then checkpoint: a crash in
            # between fetches the mail again and the spool counts a duplicate.
            self._move(client, taken.stored, self.account.processed_folder)
            self._move(client, taken.quarantined, self.account.quarantine_folder)
            if taken.handled_through:
                self._save_checkpoint(uidvalidity, taken.handled_through)
            stored += len(taken.stored)
            if taken.error is not None:
                raise taken.error
        self._fetch_failures.clear()
        log.info("%s %s: %d mails stored", self.account_key, self.account.folder, stored)
        return stored

    def _take(
        self, client: IMAPClient, uidvalidity: int, group: list[int], sizes: dict[int, int | None]
    ) -> _Taken:
        """Commit the messages of `group` in UID order, stopping at the first spool error."""
        taken = _Taken()
        fetchable = [
            uid
            for uid in group
            if quarantine_reason(sizes.get(uid), b"", self.max_message_bytes) is None
        ]
        try:
            bodies = client.fetch(fetchable, ["BODY.PEEK[]"]) if fetchable else {}
        except Exception:
            key = (uidvalidity, group[0])
            self._fetch_failures[key] = self._fetch_failures.get(key, 0) + 1
            raise
        for uid in group:
            if uid in fetchable and uid not in bodies:
                # Not in the answer at all: another client expunged it since the search.
                log.info("%s uid %d is gone before it was fetched", self.account_key, uid)
                taken.handled_through = uid
                continue
            body = bodies.get(uid, {}).get(b"BODY[]")
            reason = quarantine_reason(sizes.get(uid), body, self.max_message_bytes)
            if reason is not None:
                self._record_quarantined(uid, sizes.get(uid), reason, self._headers(client, uid))
                taken.quarantined.append(uid)
            else:
                assert body is not None
                envelope_from, envelope_to = envelope_of(body, self.account.mailbox_address)
                try:
                    self.spool.put_sync(Arrival(body, envelope_from, envelope_to, self.source))
                except Exception as error:
                    taken.error = error
                    return taken
                taken.stored.append(uid)
            taken.handled_through = uid
        return taken

    @staticmethod
    def _groups(
        uids: list[int], sizes: dict[int, int | None], one_by_one: bool
    ) -> Iterator[list[int]]:
        most = 1 if one_by_one else FETCH_GROUP_MESSAGES
        group: list[int] = []
        group_bytes = 0
        for uid in uids:
            size = sizes.get(uid) or 0
            if group and (len(group) >= most or group_bytes + size > FETCH_GROUP_BYTES):
                yield group
                group, group_bytes = [], 0
            group.append(uid)
            group_bytes += size
        if group:
            yield group

    # ---------------------------------------------------------------- quarantine

    def _give_up_on(
        self, client: IMAPClient, uidvalidity: int, uid: int, size: int | None, failures: int
    ) -> None:
        """Record a message the server fails to deliver, and set it aside."""
        reason = f"imap: fetching it failed {failures} times; the server cannot deliver it"
        self._record_quarantined(uid, size, reason, headers=b"")
        # Recorded and checkpointed before the move: should moving it break the
        # session too, it is still not fetched again.
        self._save_checkpoint(uidvalidity, uid)
        del self._fetch_failures[(uidvalidity, uid)]
        self._move(client, [uid], self.account.quarantine_folder)

    @staticmethod
    def _headers(client: IMAPClient, uid: int) -> bytes:
        fetched = client.fetch([uid], ["BODY.PEEK[HEADER]"]).get(uid, {})
        return (fetched.get(b"BODY[HEADER]") or b"")[:QUARANTINE_HEADER_BYTES]

    def _record_quarantined(self, uid: int, size: int | None, reason: str, headers: bytes) -> None:
        """Keep the headers and the reason as a quarantined mail: never a silent drop."""
        identity = identify(headers)
        # Only the headers are kept, so the fingerprint names the size too: a
        # different mail that reuses the Message-ID stays a different row.
        fingerprint = hashlib.sha256(
            f"quarantine:{identity.fingerprint}:{size}".encode()
        ).hexdigest()
        envelope_from, envelope_to = envelope_of(headers, self.account.mailbox_address)
        shown = parsing.parse(headers)  # for `siegel mails`: who sent it, about what
        log.warning("%s uid %d quarantined: %s", self.account_key, uid, reason)
        for attempt in range(2):
            try:
                with session_scope(self.engine) as session:
                    known = session.scalars(
                        select(StoredMail)
                        .where(StoredMail.fingerprint == fingerprint)
                        .with_for_update()
                    ).first()
                    if known is not None:
                        known.arrivals += 1
                        return
                    session.add(
                        StoredMail(
                            message_id=identity.message_id,
                            message_id_derived=identity.derived,
                            sha256=hashlib.sha256(headers).hexdigest(),
                            fingerprint=fingerprint,
                            size=size if size is not None else len(headers),
                            raw=headers,
                            envelope_from=envelope_from,
                            envelope_to=list(envelope_to),
                            source=self.source,
                            received_at=self.clock(),
                            status=MailStatus.QUARANTINED,
                            quarantine_reason=reason,
                            subject=shown.subject or None,
                            from_address=shown.from_address,
                        )
                    )
                return
            except IntegrityError:
                if attempt:  # stored by another poller meanwhile; the retry counts it
                    raise

    # ---------------------------------------------------------------- checkpoint

    def _last_uid(self, uidvalidity: int) -> int:
        with session_scope(self.engine) as session:
            checkpoint = self._checkpoint(session)
            if checkpoint is None:
                return 0
            if checkpoint.uidvalidity == uidvalidity:
                return checkpoint.last_uid
            log.warning(
                "%s %s: UIDVALIDITY changed from %d to %d; reading the whole folder again",
                self.account_key,
                self.account.folder,
                checkpoint.uidvalidity,
                uidvalidity,
            )
            checkpoint.uidvalidity, checkpoint.last_uid = uidvalidity, 0
            checkpoint.updated_at = self.clock()
            return 0

    def _save_checkpoint(self, uidvalidity: int, last_uid: int) -> None:
        with session_scope(self.engine) as session:
            checkpoint = self._checkpoint(session)
            if checkpoint is None:
                checkpoint = ImapCheckpoint(
                    account=self.account_key,
                    folder=self.account.folder,
                    uidvalidity=uidvalidity,
                    updated_at=self.clock(),
                )
                session.add(checkpoint)
            checkpoint.uidvalidity = uidvalidity
            checkpoint.last_uid = last_uid
            checkpoint.updated_at = self.clock()

    def _checkpoint(self, session: Session) -> ImapCheckpoint | None:
        return session.scalars(
            select(ImapCheckpoint).where(
                ImapCheckpoint.account == self.account_key,
                ImapCheckpoint.folder == self.account.folder,
            )
        ).first()

    # ---------------------------------------------------------------- the server

    def _connected(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        client = IMAPClient(
            self.account.host,
            self.account.port,
            ssl=self.account.ssl,
            timeout=SOCKET_TIMEOUT_SECONDS,
        )
        try:
            client.login(self.account.username, self.account.password)
            # LIST "" "" answers the hierarchy delimiter (RFC 3501 section 6.3.8).
            root = client.list_folders("", "")
            delimiter = root[0][1] if root else None
        except BaseException:
            with contextlib.suppress(Exception):
                client.shutdown()
            raise
        self._delimiter = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
        self._folders_present = set()
        self._client = client
        log.info(
            "%s: connected, %s",
            self.account_key,
            "IDLE"
            if client.has_capability("IDLE")
            else f"polling every {self.account.poll_seconds} s",
        )
        return client

    def _name(self, folder: str) -> str:
        return server_folder_name(folder, self._delimiter)

    def _move(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        """Move `uids` out of the selected folder (RFC 6851 MOVE, else COPY + EXPUNGE)."""
        if not uids:
            return
        target = self._name(folder)
        if target not in self._folders_present:
            if not client.folder_exists(target):
                client.create_folder(target)
            self._folders_present.add(target)
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.delete_messages(uids, silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)  # RFC 4315: expunge only these, not others' \Deleted
        else:
            client.expunge()

    def close(self) -> None:
        """Log out; a connection that is already gone is simply dropped."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.logout()
        except Exception:
            with contextlib.suppress(Exception):
                client.shutdown()

    # ---------------------------------------------------------------- the thread

    def run(self, stop: threading.Event) -> None:
        """Poll, then wait for news, until `stop` is set; errors mean reconnect, not exit."""
        backoff = BACKOFF_FIRST_SECONDS
        while not stop.is_set():
            try:
                self.poll_once()
                backoff = BACKOFF_FIRST_SECONDS
                self._wait_for_news(stop)
            except Exception as error:
                # Network trouble is expected now and then, and the spool logs its
                # own failures; anything else gets its trace.
                expected = isinstance(error, OSError | IMAPClientError | SpoolError)
                log.warning(
                    "%s: %s: %s; retrying in %.0f s",
                    self.account_key,
                    type(error).__name__,
                    error,
                    backoff,
                    exc_info=not expected,
                )
                self.close()
                if stop.wait(backoff):
                    break
                backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)
        self.close()

    def _wait_for_news(self, stop: threading.Event) -> None:
        """Return when the folder may have new mail, when IDLE is due for renewal, or on stop."""
        client = self._connected()
        if not client.has_capability("IDLE"):
            stop.wait(self.account.poll_seconds)
            return
        # A mail that arrived during the round was announced (EXISTS) in the answer
        # to some command of it, not in IDLE. A fresh SELECT tells: UIDNEXT moved.
        selected = client.select_folder(self._name(self.account.folder))
        uidnext = selected.get(b"UIDNEXT")
        if uidnext and self._uidnext_polled and uidnext > self._uidnext_polled:
            return
        renew_at = time.monotonic() + min(self.account.idle_seconds, MAX_IDLE_SECONDS)
        client.idle()
        responses = already_read(client)
        while not stop.is_set() and time.monotonic() < renew_at:
            asked = time.monotonic()
            responses = responses or client.idle_check(timeout=IDLE_CHECK_SECONDS)
            if any(response[0] == b"BYE" for response in responses):
                raise ConnectionError("the server ended the session")
            if any(len(response) > 1 and response[1] == b"EXISTS" for response in responses):
                break
            # Readable but nothing parsed: the connection is gone. Ending IDLE
            # below then fails at once, and run() reconnects.
            if not responses and time.monotonic() - asked < IDLE_CHECK_SECONDS / 2:
                break
            responses = []
        client.idle_done()


def already_read(client: IMAPClient) -> list[tuple]:
    """The responses that arrived with the server's answer to IDLE, parsed.

    A mail that arrives between the last SELECT and IDLE is announced (EXISTS) as IDLE
    starts, often in the same packet as "+ idling". The client reads that packet into
    its buffer while it waits for "+ idling", and `idle_check` only polls the socket, so
    the announcement would wait for the next packet: the IDLE renewal, minutes away.
    """
    buffered = client._imap.file  # imaplib's reader of the socket
    sock = client.socket()
    sock.setblocking(False)  # peek at what is buffered without waiting for more
    try:
        waiting = buffered.peek(1)
    except (BlockingIOError, ssl.SSLWantReadError):
        waiting = b""
    finally:
        sock.setblocking(True)
        client._set_read_timeout()
    # Whole lines only: the rest of a line still on its way is left for idle_check.
    return [
        _parse_untagged_response(client._imap._get_line()) for _ in range(waiting.count(b"\r\n"))
    ]


@dataclass
class _Taken:
    """What one group's round did: committed UIDs, quarantined UIDs, how far, the error."""

    stored: list[int] = field(default_factory=list)
    quarantined: list[int] = field(default_factory=list)
    handled_through: int | None = None
    error: Exception | None = None
