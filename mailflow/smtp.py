"""SMTP and LMTP intake (aiosmtpd): store first, then say yes.

Recipients are checked at RCPT against the address scheme (`mediation.addresses`):
foreign domains and unknown or forged addresses are refused there with 550, so no
bounce of ours is ever needed for them. DATA answers 250 only after the spool
committed the raw bytes; a storage failure answers 451 and the sender retries.
Size is limited by aiosmtpd's `data_size_limit` (552, advertised in EHLO SIZE).

A flood of connections must not lock out real mail (issue 9); aiosmtpd has no limit
of its own. The controller accepts connections itself (`IntakeController`): it greets
each one and keeps it as a bare socket (`Silent`) until the client's first bytes, and
only then builds the aiosmtpd session, so that an idle connection costs little and a
flood cannot keep a real client waiting in the accept queue. Connections are counted
in all and per client address (`ConnectionLimits`). Over a limit, the connection that
has been silent longest gives up its place (421 4.4.2): a flood of idle connections,
from the sender's address or from many, only ever displaces itself. When every
connection has spoken, the new one gets 421 4.7.0 and is closed at once. A connection
that sends nothing for `idle_timeout_seconds` is closed with 421 4.4.2. The limit fits
the open-files limit (`descriptor_budget`): an accept that fails with EMFILE is what
locked real mail out before.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import resource
import socket
import weakref
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from mailflow.config import Config
from mailflow.spool import Arrival, Spool, SpoolError
from mediation import addresses

log = logging.getLogger("mailflow.intake")

OK = "250 2.1.5 OK"
RELAY_DENIED = "550 5.7.1 Relaying denied: this server accepts mail for {domain} only"
NO_SUCH_ADDRESS = "550 5.1.1 No such address here"
BAD_ADDRESS = "553 5.1.3 Bad recipient address syntax"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
NO_VALID_RECIPIENTS = "554 5.5.1 No valid recipients"
EMPTY_MESSAGE = "554 5.6.0 Empty message: nothing was stored"
QUEUED = "250 2.0.0 OK: stored as mail {mail_id}"
DUPLICATE = "250 2.0.0 OK: already stored as mail {mail_id}"
TEMPORARY_FAILURE = "451 4.3.0 Could not store the mail now; please try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, please try again later"
# RFC 5321 §3.8 and §4.2.3: 421 closes the channel; the client tries again later.
TOO_MANY_CONNECTIONS = "421 4.7.0 {host} Too many connections, try again later"
IDLE_CLOSED = "421 4.4.2 {host} Idle too long, closing connection"
SESSION_OVER = "421 4.4.2 {host} Session too long, closing connection"
IDENT = "Service-Siegel"

# File descriptors kept free for the database, the log, the relay's and IMAP's sockets
# and the files the worker opens, beside the intake's connections.
RESERVED_DESCRIPTORS = 128
# The kernel's queue of connections not accepted yet (capped by net.core.somaxconn): a
# flood waits there instead of having its SYNs dropped, which would delay a real
# client's connection by the 1 s of a SYN retransmission.
LISTEN_BACKLOG = 4096
# Connections accepted in one pass of the event loop; each is greeted or refused at once.
ACCEPT_BATCH = 256
# After an accept failed for want of descriptors or memory, accept again this much later.
ACCEPT_RETRY_SECONDS = 0.1
# Connections refused or displaced by the limits are logged in sums this often.
REPORT_SECONDS = 10.0
# At a stop, mails being committed get their answer for at most this long: a mail
# committed but never answered would be sent again by its client (a duplicate, no loss).
STOP_GRACE_SECONDS = 10.0


class IntakeHandler:
    """aiosmtpd handler: RCPT against the address scheme, DATA into the spool."""

    def __init__(self, spool: Spool, config: Config, lmtp: bool = False) -> None:
        self.spool = spool
        self.config = config
        self.lmtp = lmtp
        self.storing = 0  # mails handed to the spool and not answered yet (the loop's)
        self.stopping = False  # a stop began: a DATA that ends now is not taken

    def check_recipient(self, address: str) -> str | None:
        """None if we accept mail for `address`, else the SMTP reply that refuses it."""
        try:
            addresses.parse_recipient(self.config.secret_bytes, self.config.siegel.domain, address)
        except addresses.AddressError as error:
            log.info("refused recipient %s: %s", addresses.redact(address), error)
            if error.foreign:
                return RELAY_DENIED.format(domain=self.config.siegel.domain)
            if "@" not in address:
                return BAD_ADDRESS
            return NO_SUCH_ADDRESS
        return None

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.config.smtp.max_recipients:
            return TOO_MANY_RECIPIENTS
        if address.lower() == "postmaster":
            # RFC 5321 4.5.1: "Postmaster" without a domain must be taken, as ours.
            address = f"postmaster@{self.config.siegel.domain}"
        refusal = self.check_recipient(address)
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if not envelope.rcpt_tos:
            return NO_VALID_RECIPIENTS
        raw = envelope.original_content or b""
        if self.stopping:
            # Stored now, the mail could lose its answer to the stop: its client would
            # send it again. Not stored, the client sends it again to the next start.
            reply = SHUTTING_DOWN
        elif raw.strip():
            reply = await self._store(raw, session, envelope, server)
        else:  # as `siegel ingest` refuses it: not a mail
            reply = EMPTY_MESSAGE
        if self.lmtp:
            # RFC 2033 §4.2: one reply per accepted recipient after DATA.
            return "\r\n".join([reply] * len(envelope.rcpt_tos))
        return reply

    async def _store(self, raw: bytes, session: Session, envelope: Envelope, server: SMTP) -> str:
        """Commit the mail; the reply to DATA says whether it was. Meanwhile the client
        waits for us, so the idle timer waits too: a database busy for longer than the
        idle timeout answers with its own 451, not "Idle too long"."""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        arrival = Arrival(
            raw=raw,
            envelope_from=(envelope.mail_from or "").strip("<>"),
            envelope_to=tuple(envelope.rcpt_tos),
            source=f"{'lmtp' if self.lmtp else 'smtp'} from {peer}",
        )
        self.storing += 1
        if isinstance(server, _Spoken):
            server.wait_for_us()
        try:
            stored = await self.spool.put(arrival)
        except SpoolError:
            return TEMPORARY_FAILURE
        except Exception:
            log.exception("unexpected spool failure")
            return TEMPORARY_FAILURE
        finally:
            self.storing -= 1
            if isinstance(server, _Spoken):
                server.answered()
        template = DUPLICATE if stored.duplicate else QUEUED
        return template.format(mail_id=stored.mail_id)


class Silent:
    """A connection that has not said a word yet: its socket, its client and its timer."""

    __slots__ = ("client", "sock", "timer")

    def __init__(self, sock: socket.socket, client: str) -> None:
        self.sock = sock
        self.client = client
        self.timer: asyncio.TimerHandle | None = None


class ConnectionLimits:
    """The open connections of one intake, in all and per client address.

    Used only from the controller's event loop thread, so it needs no lock. `silent`
    keeps the connections that have not sent a byte yet in the order they came: the
    first one has waited longest; `displace` closes one of them with 421.
    """

    def __init__(
        self,
        total: int,
        per_client: int,
        displace: Callable[[Silent], None],
        max_session_seconds: float = math.inf,
    ) -> None:
        self.total = total
        self.per_client = per_client
        self.displace = displace
        self.max_session_seconds = max_session_seconds
        self.by_client: dict[str, dict[Silent, None]] = {}
        self.silent: dict[Silent, None] = {}
        self.count = 0
        self.sessions: weakref.WeakSet[_Spoken] = weakref.WeakSet()
        """The sessions of connections that have spoken: told 421 at a stop."""

    def admit(self, connection: Silent) -> bool:
        """Count `connection` in, displacing a silent one if a limit is reached;
        False when no place can be made."""
        own = self.by_client.get(connection.client, {})
        if len(own) >= self.per_client and not self._make_room(own):
            return False
        if self.count >= self.total and not self._make_room(self.silent):
            return False
        self.by_client.setdefault(connection.client, {})[connection] = None
        self.silent[connection] = None
        self.count += 1
        return True

    def heard(self, connection: Silent) -> None:
        self.silent.pop(connection, None)

    def release(self, connection: Silent) -> None:
        """Count `connection` out (again: no effect)."""
        own = self.by_client.get(connection.client)
        if own is None or connection not in own:
            return
        del own[connection]
        if not own:
            del self.by_client[connection.client]
        self.silent.pop(connection, None)
        self.count -= 1

    def _make_room(self, candidates: dict[Silent, None]) -> bool:
        victim = next((c for c in candidates if c in self.silent), None)
        if victim is None:
            return False
        self.displace(victim)
        return True


class _Spoken(SMTP):
    """aiosmtpd's session for a connection that has spoken: the greeting was already
    sent, the idle timeout counts lines, of DATA too (aiosmtpd's restarts only at a
    command, so a long DATA would time out; bytes without a line end do not count) and
    ends with 421. A line of DATA may be longer than RFC 5321's 1000 octets
    (`line_length_limit`): real clients send such mail, and a permanent "500 Line too
    long" would bounce it; the size limit still holds."""

    line_length_limit = 64 * 1024
    WAITING_FOR_US = 24 * 3600.0
    """The idle deadline while the client waits for our answer (`wait_for_us`)."""

    def __init__(
        self,
        handler: Any,
        *,
        connection: Silent | None,
        limits: ConnectionLimits | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.connection = connection
        self.limits = limits
        self._greeting_sent = True
        self._idle_deadline = 0.0
        self._waiting_for_us = False
        self._ends_at = math.inf
        if limits is not None:
            limits.sessions.add(self)
            self._ends_at = self.loop.time() + limits.max_session_seconds

    async def push(self, status: str | bytes) -> None:
        if self._greeting_sent:  # aiosmtpd's own greeting, always its first push
            self._greeting_sent = False
            return
        await super().push(status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's reading of the address in MAIL FROM and RCPT TO, the same (a test
        in `tests/test_smtp_intake.py` holds it to aiosmtpd's), without the class that
        aiosmtpd 1.4 defines for a type hint at every call (~7 % of the intake's CPU)."""
        if not arg:
            return "", ""
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        local_part = addr.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        return addr, rest

    def connection_lost(self, error: Exception | None) -> None:
        if self.limits is not None and self.connection is not None:
            self.limits.release(self.connection)
        super().connection_lost(error)

    def data_received(self, data: bytes) -> None:
        # A line ended is progress; bytes dribbled without one (a slow-loris client
        # holding a place with a byte every few seconds) are not.
        if b"\n" in data:
            self._reset_timeout()
        super().data_received(data)

    def _reset_timeout(self, duration: float | None = None) -> None:
        """Move the idle deadline; the timer is only replaced when it would fire later
        than the new deadline, not at every command and chunk of DATA."""
        deadline = self.loop.time() + (duration or self._timeout_duration)
        # A session ends at its maximum length (a client that sends a line now and then
        # must not hold its place for ever), but never while we owe it an answer.
        self._idle_deadline = deadline if self._waiting_for_us else min(deadline, self._ends_at)
        handle = self._timeout_handle
        if handle is None or handle.cancelled() or handle.when() > self._idle_deadline:
            if handle is not None:
                handle.cancel()
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_check)

    def wait_for_us(self) -> None:
        """The client waits for our answer: it is not idle until we have given it."""
        self._waiting_for_us = True
        self._reset_timeout(self.WAITING_FOR_US)

    def shut_down(self) -> None:
        """The intake stops: say so (RFC 5321 §3.8), whatever the session was doing,
        and close; a DATA under way is not stored, its client sends it again."""
        self._close_with(SHUTTING_DOWN)

    def _close_with(self, reply: str) -> None:
        """Say `reply` (a 421: RFC 5321 §3.8, §4.5.3.2) and close the connection."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(reply.encode() + b"\r\n")  # type: ignore[attr-defined]
            self.transport.close()

    def answered(self) -> None:
        """Our answer is given: the client's turn, and the idle timeout, again."""
        self._waiting_for_us = False
        self._reset_timeout()

    def _idle_check(self) -> None:
        now = self.loop.time()
        if now < self._idle_deadline:
            self._timeout_handle = self.loop.call_at(self._idle_deadline, self._idle_check)
        elif now >= self._ends_at:
            self._close_with(SESSION_OVER.format(host=self.hostname))
        else:
            self._close_with(IDLE_CLOSED.format(host=self.hostname))


class LimitedSMTP(_Spoken):
    pass


class LimitedLMTP(_Spoken, LMTP):
    pass


def descriptor_budget(max_connections: int) -> int:
    """The connections that fit the open-files limit beside the service's own files,
    after raising the soft limit towards the hard one where that is needed."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = max_connections + RESERVED_DESCRIPTORS
    if soft != resource.RLIM_INFINITY and soft < wanted:
        raised = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if raised > soft:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
                soft = raised
            except (ValueError, OSError) as error:
                log.warning("cannot raise the open-files limit to %d: %s", raised, error)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return max_connections
    connections = max(soft - RESERVED_DESCRIPTORS, 8)
    log.warning("open-files limit %d: intake limited to %d connections", soft, connections)
    return connections


class _Listeners:
    """The bound server of asyncio, whose sockets the controller accepts from itself;
    closed as aiosmtpd closes its server."""

    def __init__(self, server: asyncio.Server, sockets: list[socket.socket]) -> None:
        self.server = server
        self.sockets = sockets

    def close(self) -> None:
        loop = self.server.get_loop()
        for sock in self.sockets:
            loop.remove_reader(sock)
            sock.close()
        self.sockets = []  # closed once: at the stop and again by aiosmtpd's thread
        self.server.close()

    async def wait_closed(self) -> None:
        await self.server.wait_closed()


class IntakeController(Controller):
    """aiosmtpd's threaded controller that accepts, greets, limits and times silent
    connections itself and hands each to an aiosmtpd session at its first bytes."""

    def __init__(
        self,
        handler: IntakeHandler,
        *,
        session_class: type[_Spoken],
        max_connections: int,
        max_connections_per_client: int,
        max_session_seconds: float = math.inf,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.session_class = session_class
        self.limits = ConnectionLimits(
            max_connections,
            min(max_connections, max_connections_per_client),
            self._displace,
            max_session_seconds,
        )
        host = self.SMTP_kwargs["hostname"]
        self.greeting = f"220 {host} {self.SMTP_kwargs['ident']}\r\n".encode()
        self.refusal = TOO_MANY_CONNECTIONS.format(host=host).encode() + b"\r\n"
        self.idle_closed = IDLE_CLOSED.format(host=host).encode() + b"\r\n"
        self.idle_timeout = float(self.SMTP_kwargs["timeout"])
        self._counts: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._report: asyncio.TimerHandle | None = None
        self._handovers: set[asyncio.Task[None]] = set()  # the loop keeps tasks weakly

    def factory(self) -> SMTP:
        return self.session_class(self.handler, connection=None, limits=None, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[_Listeners]:  # type: ignore[override]
        return self._serve()

    async def _serve(self) -> _Listeners:
        # asyncio resolves and binds; the accepting is ours. Building one session here
        # checks its arguments, as aiosmtpd's controller does at its first connection.
        self._factory_invoker()
        server = await self.loop.create_server(
            asyncio.Protocol, host=self.hostname, port=self.port, start_serving=False
        )
        listeners = []
        for bound in server.sockets:
            listener = bound.dup()
            listener.setblocking(False)
            listener.listen(LISTEN_BACKLOG)
            self.loop.add_reader(listener, self._accept, listener)
            listeners.append(listener)
        return _Listeners(server, listeners)

    def stop(self, no_assert: bool = False) -> None:
        """Accept no more connections, let each mail being committed get its answer
        (within STOP_GRACE_SECONDS), then end every session."""
        if self._thread is not None and self.loop.is_running():
            finishing = asyncio.run_coroutine_threadsafe(self._finish_storing(), self.loop)
            with contextlib.suppress(Exception):  # the loop ended meanwhile, or too slow
                finishing.result(STOP_GRACE_SECONDS + 1)
        super().stop(no_assert)
        for connection in list(self.limits.silent):
            connection.sock.close()

    async def _finish_storing(self) -> None:
        if self.server is not None:
            self.server.close()
        handler: IntakeHandler = self.handler
        handler.stopping = True
        deadline = self.loop.time() + STOP_GRACE_SECONDS
        while handler.storing and self.loop.time() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # the sessions answered push their replies
        for session in list(self.limits.sessions):
            session.shut_down()

    def _accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, peer = listener.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    raise
                log.error("cannot accept connections now: %s", error)
                self.loop.remove_reader(listener)
                self.loop.call_later(
                    ACCEPT_RETRY_SECONDS, self.loop.add_reader, listener, self._accept, listener
                )
                return
            self._greet(sock, str(peer[0] if isinstance(peer, tuple) else peer))

    def _greet(self, sock: socket.socket, client: str) -> None:
        connection = Silent(sock, client)
        if not self.limits.admit(connection):
            self._count("a connection refused", client)
            _send_and_close(sock, self.refusal)
            return
        try:
            sock.send(self.greeting, socket.MSG_DONTWAIT)  # a new socket's buffer takes it
        except OSError:
            self.limits.release(connection)
            sock.close()
            return
        connection.timer = self.loop.call_later(self.idle_timeout, self._close_silent, connection)
        # File numbers, not sockets: asyncio looks a new socket up with a KeyError whose
        # message is the socket's repr, which costs more than the rest of the greeting.
        self.loop.add_reader(sock.fileno(), self._heard, connection)

    def _displace(self, connection: Silent) -> None:
        self._count("a silent connection closed to make room", connection.client)
        self._close_silent(connection)

    def _count(self, event: str, client: str) -> None:
        """Connections refused or displaced are logged in sums every REPORT_SECONDS, not
        one line each: a flood would spend its time in logging."""
        if self._report is None:
            log.warning(
                "connection limit reached: %s (%s); sums follow every %g s",
                event,
                client,
                REPORT_SECONDS,
            )
            self._report = self.loop.call_later(REPORT_SECONDS, self._report_counts)
        else:
            self._counts[event][client] += 1

    def _report_counts(self) -> None:
        self._report = None
        if not self._counts:
            return
        sums = []
        for event, clients in self._counts.items():
            top = ", ".join(f"{client}: {n}" for client, n in clients.most_common(3))
            sums.append(f"{event}: {clients.total()} ({top})")
        log.warning("connection limits in the last %g s: %s", REPORT_SECONDS, "; ".join(sums))
        self._counts.clear()
        self._report = self.loop.call_later(REPORT_SECONDS, self._report_counts)

    def _close_silent(self, connection: Silent) -> None:
        """421, closed, counted out at once."""
        self.limits.release(connection)
        if connection.timer is not None:
            connection.timer.cancel()
        self.loop.remove_reader(connection.sock.fileno())
        _send_and_close(connection.sock, self.idle_closed)

    def _heard(self, connection: Silent) -> None:
        """The client's first bytes (or its EOF): hand the connection to a session."""
        try:
            first = connection.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return  # woken without data after all
        except OSError:
            first = b""
        self.limits.heard(connection)
        if connection.timer is not None:
            connection.timer.cancel()
        self.loop.remove_reader(connection.sock.fileno())
        if not first:  # closed without a word: no session needed
            self.limits.release(connection)
            connection.sock.close()
            return
        connection.sock.setblocking(False)
        task = self.loop.create_task(self._hand_over(connection))
        self._handovers.add(task)
        task.add_done_callback(self._handovers.discard)

    async def _hand_over(self, connection: Silent) -> None:
        session = self.session_class(
            self.handler, connection=connection, limits=self.limits, **self.SMTP_kwargs
        )
        try:
            await self.loop.connect_accepted_socket(lambda: session, connection.sock)
        except Exception:
            log.exception("cannot start a session for %s", connection.client)
            self.limits.release(connection)
            connection.sock.close()


def _send_and_close(sock: socket.socket, reply: bytes) -> None:
    with contextlib.suppress(OSError):  # the client may be gone already
        sock.send(reply, socket.MSG_DONTWAIT)
    sock.close()


def make_controller(
    spool: Spool, config: Config, host: str | None = None, port: int | None = None
) -> IntakeController:
    """A threaded aiosmtpd controller for the configured mode; call `.start()`."""
    lmtp = config.smtp.mode == "lmtp"
    return IntakeController(
        IntakeHandler(spool, config, lmtp=lmtp),
        session_class=LimitedLMTP if lmtp else LimitedSMTP,
        max_connections=descriptor_budget(config.smtp.max_connections),
        max_connections_per_client=config.smtp.max_connections_per_client,
        max_session_seconds=config.smtp.max_session_seconds,
        hostname=host or config.smtp.host,
        port=port or config.smtp.port,
        data_size_limit=config.smtp.max_message_bytes,
        ident=IDENT,
        server_hostname=config.siegel.domain,
        timeout=config.smtp.idle_timeout_seconds,
    )
