"""An in-process Service-Siegel for end-to-end tests, with the SMTP sink as its relay.

Mail goes in through the real SMTP intake (smtplib against aiosmtpd, store-first
spool) and out through the real relay to `tests.sink.Sink`. The worker and the relay
do not run on their own: `process()` drives them until nothing is left, so a test
sees every effect of the mails it sent. Their clock is injected (`Clock`) and moves
only forward, never behind real time, because the intake stamps receive times from
the real clock. The command line runs as a subprocess against the same database
(`cli()`), with the same configuration written to a file.
"""

from __future__ import annotations

import contextlib
import io
import json
import smtplib
import subprocess
from collections.abc import Sequence
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow import cli, smtp
from mailflow.case_commands import case_detail
from mailflow.config import Config
from mailflow.db import utcnow
from mailflow.models import OutboxMail
from mailflow.relay import Relay
from mailflow.spool import Spool
from mailflow.worker import Worker
from mediation import addresses, storage
from mediation.addresses import Role
from mediation.storage import Merchant
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.net import free_port
from tests.sink import Received, Sink

REPO = Path(__file__).resolve().parents[1]
MEDIATORS = ("schlichterin@siegel-schlichtung.test", "schlichter@siegel-schlichtung.test")


class Clock:
    """The worker's and relay's clock: real time, or later when a test moves it on."""

    def __init__(self) -> None:
        self.ahead = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.ahead

    def advance_to(self, moment: datetime) -> None:
        self.ahead = max(self.ahead, moment - utcnow())


class Harness:
    """SMTP intake, worker and relay of one test, sharing the test's database."""

    def __init__(self, engine: Engine, tmp_path: Path, sink: Sink, **sections: Any) -> None:
        self.engine = engine
        self.sink = sink
        self.url = engine.url.render_as_string(hide_password=False)
        settings: dict[str, Any] = {
            "database": {"url": self.url},
            "relay": sink.relay_settings() | {"retry_base_seconds": 1},
            "mediation": {"mediators": list(MEDIATORS)},
            "queue": {"poll_seconds": 0.05},
        }
        for name, values in sections.items():
            settings[name] = settings.get(name, {}) | values
        self.config: Config = make_config(tmp_path, **settings)
        self.config_path = tmp_path / "config.toml"
        self.config_path.write_text(_toml(self.config, settings), encoding="utf-8")
        self.clock = Clock()
        self.port = free_port()
        self.spool = Spool(engine).start()
        self.controller = smtp.make_controller(self.spool, self.config, port=self.port)
        self.controller.start()
        self.worker = Worker(engine, self.config, clock=self.clock)
        self.relay = Relay(engine, self.config, clock=self.clock)
        self._seen = 0

    def stop(self) -> None:
        self.controller.stop()
        self.spool.stop()
        self.worker.close()

    # ------------------------------------------------------------ mail in

    def send(self, message: EmailMessage, envelope_to: Sequence[str] | None = None) -> None:
        """Deliver `message` through the SMTP intake (envelope from its From and To)."""
        sender = message["From"].addresses[0].addr_spec
        recipients = list(envelope_to or [a.addr_spec for a in message["To"].addresses])
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            refused = client.send_message(message, from_addr=sender, to_addrs=recipients)
        assert refused == {}, refused

    def reply(
        self,
        to_mail: Received,
        sender: str,
        body: str,
        *,
        quote: bool = True,
        to: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> EmailMessage:
        """A reply to one of our mails, as a mail client writes it: to its Reply-To,
        `Re:` subject, threading headers, and the original quoted below."""
        original = to_mail.message
        text = body
        if quote:
            quoted = "\n".join(f"> {line}" for line in _plain(original).splitlines())
            text += f"\n\nAm {original['Date']} schrieb Service-Siegel:\n{quoted}\n"
        return compose(
            sender,
            to or original["Reply-To"],
            f"Re: {original['Subject']}",
            text,
            in_reply_to=original["Message-ID"],
            references=original["Message-ID"],
            headers=headers,
        )

    # ------------------------------------------------------------ work

    def process(self) -> list[Received]:
        """Work every stored mail and deliver every due outbox row; the new sink mails."""
        while True:
            worked = self.worker.drain()
            sent = 0
            while (attempted := self.relay.run_once()) > 0:
                sent += attempted
            if not worked and not sent:
                break
        received = self.sink.received
        new, self._seen = received[self._seen :], len(received)
        return new

    def cli(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`siegel ARGUMENTS` against this test's database, as `siegel` answers it: in this
        process (`siegel`), a second apiece less than a new Python."""
        status, output, errors = self.siegel(*arguments)
        if check:
            assert status == 0, errors
        return subprocess.CompletedProcess(["siegel", *arguments], status, output, errors)

    def sweep(self, at: datetime) -> list[Received]:
        """`siegel sweep --at AT`, then deliver what it queued."""
        self.cli("sweep", "--at", at.isoformat())
        self.clock.advance_to(at)
        return self.process()

    # ------------------------------------------------------------ state

    def siegel(self, *arguments: str) -> tuple[int, str, str]:
        """`siegel ARGUMENTS` in this process: the command's code without a new Python.
        Returns the exit status, stdout and stderr."""
        with (
            contextlib.redirect_stdout(io.StringIO()) as output,
            contextlib.redirect_stderr(io.StringIO()) as errors,
        ):
            status = cli.main(["--config", str(self.config_path), *arguments])
        return status, output.getvalue(), errors.getvalue()

    def add_merchant(self, slug: str, name: str, email: str, *options: str) -> None:
        status, _, errors = self.siegel(
            "merchant", "add", slug, "--name", name, "--email", email, *options
        )
        assert status == 0, errors

    def sent(self, mails: Sequence[Received]) -> list[tuple[str, str]]:
        """(recipient, template) of each mail, the template read from its outbox row."""
        with Session(self.engine) as session:
            rows = {row.message_id: row.kind for row in session.scalars(select(OutboxMail))}
        return [(mail.rcpt_tos[0], rows[mail.message["Message-ID"]]) for mail in mails]

    def case(self, ref: str) -> dict[str, Any]:
        """`siegel case REF --json` as the operator sees it (read in-process)."""
        with Session(self.engine) as session:
            case = storage.load_case(session, ref)
            assert case is not None, ref
            return json.loads(json.dumps(case_detail(session, case, TEST_DOMAIN), default=str))

    def merchant(self, slug: str) -> Merchant:
        with Session(self.engine) as session:
            found = storage.merchant_by_slug(session, slug)
            assert found is not None
            return found

    def case_address(self, ref: str, role: Role) -> str:
        return addresses.case_address(TEST_SECRET.encode(), TEST_DOMAIN, ref, role)


def compose(
    sender: str,
    to: str,
    subject: str,
    body: str,
    *,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    date: datetime | None = None,
) -> EmailMessage:
    """A plain-text mail as a person's mail client sends it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date or utcnow())
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def plain(received: Received) -> str:
    """The plain-text part of a mail the sink received."""
    return _plain(received.message)


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return part.get_content().replace("\r\n", "\n")


def addressed_to(mails: Sequence[Received], address: str) -> list[Received]:
    return [mail for mail in mails if address.lower() in (r.lower() for r in mail.rcpt_tos)]


def _toml(config: Config, settings: dict[str, Any]) -> str:
    lines = [
        "[siegel]",
        f'domain = "{config.siegel.domain}"',
        f'secret = "{config.siegel.secret}"',
        f'data_dir = "{config.siegel.data_dir}"',
    ]
    for key, value in settings.get("siegel", {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    for section, values in settings.items():
        if section == "siegel":
            continue
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
