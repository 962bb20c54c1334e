"""Crash safety of `siegel serve`: SIGKILL in the middle of a burst loses nothing.

A real server process takes complaints over several SMTP connections, opens cases and
relays their mails (plus rows queued before it started) to a sink while it is killed
with SIGKILL. After a restart, every mail that got a 250 is stored exactly once and
processed, and every outbox row ends sent or (loop safety) suppressed, never lost;
a row delivered twice only ever with the same Message-ID (at-least-once delivery).
"""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from mailflow import casework
from mailflow.config import load
from mailflow.db import session_scope, utcnow
from mailflow.models import OutboxMail, StoredMail
from mailflow.outbox import enqueue
from mailflow.schema import open_database
from mediation.outgoing import OutgoingMail
from tests.conftest import TEST_DOMAIN, TEST_SECRET
from tests.net import free_port, wait_for_port
from tests.sink import Sink

CLIENTS = 6
MAILS_PER_CLIENT = 40
OUTBOX_ROWS = 60
FINAL = {"sent", "suppressed"}

pytestmark = pytest.mark.slow


def write_config(tmp_path: Path, smtp_port: int, relay_port: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[siegel]
domain = "{TEST_DOMAIN}"
secret = "{TEST_SECRET}"
data_dir = "data"

[smtp]
port = {smtp_port}

[relay]
port = {relay_port}
retry_base_seconds = 0.2
max_backoff_seconds = 1

[queue]
poll_seconds = 0.2
lease_seconds = 5
""",
        encoding="utf-8",
    )
    return path


def start_server(config_path: Path, log_path: Path) -> subprocess.Popen:
    log = log_path.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "mailflow.cli", "--config", str(config_path), "serve"],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def mail(client: int, n: int) -> bytes:
    return (
        f"From: kunde{client}@example.org\r\nTo: beschwerde@{TEST_DOMAIN}\r\n"
        f"Subject: Paket {client}/{n}\r\nMessage-ID: <crash-{client}-{n}@example.org>\r\n\r\n"
        f"Bestellung {client}-{n} fehlt.\r\n"
    ).encode()


class Client(threading.Thread):
    """Sends its mails in order over one connection; remembers which got a 250."""

    def __init__(self, number: int, port: int, todo: list[int]) -> None:
        super().__init__()
        self.number, self.port, self.todo = number, port, todo
        self.acknowledged: list[int] = []

    def run(self) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as smtp:
                for n in self.todo:
                    smtp.sendmail(
                        f"kunde{self.number}@example.org",
                        [f"beschwerde@{TEST_DOMAIN}"],
                        mail(self.number, n),
                    )
                    self.acknowledged.append(n)
        except (OSError, smtplib.SMTPException):
            pass  # the server died under us: what got no 250 is sent again later


def run_burst(port: int, todo: dict[int, list[int]]) -> list[Client]:
    clients = [Client(c, port, todo[c]) for c in todo]
    for client in clients:
        client.start()
    return clients


def prepare(config_path: Path) -> None:
    """Queue outbox rows, and put a trained classifier model where the server loads it."""
    config = load(config_path)
    casework.model(config)  # trained once per test process, saved into the data dir
    engine = open_database(config.database_url)
    with session_scope(engine) as session:
        for n in range(OUTBOX_ROWS):
            enqueue(
                session,
                OutgoingMail(
                    to=f"haendler{n}@shop.example",
                    subject=f"Fall {n}",
                    text="Eine neue Beschwerde.",
                    kind="crash-test",
                    language="de",
                ),
                config,
                utcnow(),
            )
    engine.dispose()


def test_sigkill_during_a_burst_loses_nothing_and_sends_nothing_twice(tmp_path: Path) -> None:
    """Every mail acknowledged before SIGKILL is stored once and processed after restart."""
    sink = Sink().start()
    smtp_port = free_port()
    config_path = write_config(tmp_path, smtp_port, sink.port)
    prepare(config_path)
    log_path = tmp_path / "serve.log"

    server = start_server(config_path, log_path)
    try:
        wait_for_port(smtp_port)
        clients = run_burst(smtp_port, {c: list(range(MAILS_PER_CLIENT)) for c in range(CLIENTS)})
        # Kill once a fair part of the burst (and of the relaying) is under way.
        deadline = time.monotonic() + 20
        while sum(len(c.acknowledged) for c in clients) < CLIENTS * MAILS_PER_CLIENT // 3:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.005)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        for client in clients:
            client.join(20)
        acknowledged = {(c.number, n) for c in clients for n in c.acknowledged}
        assert len(acknowledged) < CLIENTS * MAILS_PER_CLIENT, "the kill came too late"

        server = start_server(config_path, log_path)
        wait_for_port(smtp_port)
        # Like a real MTA, the clients send again what got no 250.
        retry = {
            c.number: [n for n in range(MAILS_PER_CLIENT) if n not in c.acknowledged]
            for c in clients
        }
        for client in run_burst(smtp_port, retry):
            client.join(60)
            assert len(client.acknowledged) == len(client.todo), log_path.read_text()

        engine = open_database(load(config_path).database_url)
        deadline = time.monotonic() + 240
        while True:
            with Session(engine) as session:
                statuses = Counter(session.scalars(select(StoredMail.status)).all())
                outbox = Counter(session.scalars(select(OutboxMail.status)).all())
            if statuses == {"done": CLIENTS * MAILS_PER_CLIENT} and set(outbox) <= FINAL:
                break
            assert time.monotonic() < deadline, (statuses, outbox, log_path.read_text()[-3000:])
            time.sleep(0.1)

        with Session(engine) as session:
            ids = session.scalars(select(StoredMail.message_id)).all()
            assert len(ids) == len(set(ids)) == CLIENTS * MAILS_PER_CLIENT
            for client_number, n in acknowledged:
                stored = session.scalar(
                    select(func.count()).where(
                        StoredMail.message_id == f"<crash-{client_number}-{n}@example.org>"
                    )
                )
                assert stored == 1
            sent = set(
                session.scalars(
                    select(OutboxMail.message_id).where(OutboxMail.status == "sent")
                ).all()
            )
            seeded = session.scalars(
                select(OutboxMail.status).where(OutboxMail.kind == "crash-test")
            ).all()
            assert seeded == ["sent"] * OUTBOX_ROWS
            # No merchant is registered, so each complaint opened one case and asked
            # its customer, once, which shop it is about: one outbox row per mail,
            # however often the server died while processing.
            assert session.scalar(select(func.count()).select_from(OutboxMail)) == (
                OUTBOX_ROWS + CLIENTS * MAILS_PER_CLIENT
            )
        engine.dispose()

        delivered = Counter(r.message["Message-ID"] for r in sink.received)
        assert set(delivered) == sent
        # A row sent twice (killed between the relay's 250 and its commit) keeps its
        # Message-ID and its exact bytes, so the receiver can drop the copy.
        by_id: dict[str, set[bytes]] = {}
        for received in sink.received:
            by_id.setdefault(received.message["Message-ID"], set()).add(received.raw)
        assert all(len(versions) == 1 for versions in by_id.values())

        server.send_signal(signal.SIGTERM)
        assert server.wait(30) == 0
        assert "stopped" in log_path.read_text()
    finally:
        if server.poll() is None:
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
        sink.stop()
