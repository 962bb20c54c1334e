"""An in-process SMTP sink on a real socket: the outgoing relay as the tests see it.

It records every message it accepts (envelope and raw bytes) and can be told to
refuse: with any reply (``451 ...``, ``550 ...``), at DATA for every message or at
RCPT for one recipient, forever or a number of times. It can be stopped and started
again on the same port, which a relay sees as "down for a while", and it can hold
the reply to a message it has accepted, so that a test can kill or race the client
exactly between "the relay has it" and "the client knows".
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.net import free_port


@dataclass(frozen=True)
class Received:
    """One accepted message, as it crossed the wire."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    smtputf8: bool = False  # MAIL FROM carried the SMTPUTF8 parameter

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.raw, _class=EmailMessage, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Refusal:
    reply: str
    remaining: int | None  # None: for ever
    recipient: str | None  # None: every message, at DATA


class Sink:
    """The handler and its controller; thread-safe to inspect from the test thread."""

    def __init__(
        self, credentials: tuple[str, str] | None = None, *, smtputf8: bool = False
    ) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.credentials = credentials
        self.smtputf8 = smtputf8  # offer SMTPUTF8 (RFC 6531), as Postfix does by default
        self._changed = threading.Condition()
        self._received: list[Received] = []
        self._refusals: list[_Refusal] = []
        self._controller: Controller | None = None
        self._released = threading.Event()
        self._released.set()
        self.data_held = threading.Event()  # set when an accepted message awaits its reply

    # ------------------------------------------------------------ life cycle

    def start(self) -> Sink:
        options: dict[str, Any] = {}
        if self.credentials:
            # Plain AUTH without TLS is acceptable on a loopback test socket only.
            options = dict(
                authenticator=self._authenticate, auth_required=True, auth_require_tls=False
            )
        self._controller = Controller(
            self,
            hostname=self.host,
            port=self.port,
            server_hostname="sink.test",
            enable_SMTPUTF8=self.smtputf8,
            **options,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        self.release()
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    # ------------------------------------------------------------ test controls

    def refuse(self, reply: str, *, times: int | None = None, recipient: str | None = None) -> None:
        """Answer `reply` at DATA (or at RCPT for `recipient`), `times` times or always."""
        with self._changed:
            self._refusals.append(_Refusal(reply, times, recipient and recipient.lower()))

    def relay_settings(self) -> dict[str, Any]:
        """The `[relay]` keys that point the relay at this sink."""
        return {"host": self.host, "port": self.port, "timeout_seconds": 10}

    def hold(self) -> None:
        """Accept messages but hold back their 250 until `release()`."""
        self.data_held.clear()
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    def accept_all(self) -> None:
        with self._changed:
            self._refusals.clear()

    @property
    def received(self) -> list[Received]:
        with self._changed:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until at least `count` messages were accepted; returns them all."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(f"sink got {len(self._received)} messages, not {count}")
            return list(self._received)

    # ------------------------------------------------------------ aiosmtpd hooks

    def _take_refusal(self, recipient: str | None) -> str | None:
        with self._changed:
            for refusal in self._refusals:
                if refusal.recipient != recipient:
                    continue
                if refusal.remaining is not None:
                    if refusal.remaining <= 0:
                        continue
                    refusal.remaining -= 1
                return refusal.reply
        return None

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        reply = self._take_refusal(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self._take_refusal(None)
        if reply:
            return reply
        with self._changed:
            self._received.append(
                Received(
                    envelope.mail_from,
                    tuple(envelope.rcpt_tos),
                    envelope.original_content,
                    envelope.smtp_utf8,
                )
            )
            number = len(self._received)
            self._changed.notify_all()
        if not self._released.is_set():
            # Accepted, like a real relay that queued it, but the client has no 250 yet.
            self.data_held.set()
            await asyncio.to_thread(self._released.wait, 60)
        return f"250 2.0.0 Ok: queued as SINK{number}"

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert self.credentials is not None
        login, password = self.credentials
        valid = isinstance(auth_data, LoginPassword) and auth_data == (
            login.encode(),
            password.encode(),
        )
        return AuthResult(success=valid, handled=False)
