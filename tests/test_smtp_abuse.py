"""Intake under abuse (issue 9), against a real `siegel serve` process.

A flood of idle connections, more than the process has file descriptors, does not
keep a real mail out nor fill the log; no address token reaches the log, even with
aiosmtpd's command log at DEBUG.

The flood tests start the server with a trained classifier model (trained once per
session) and wait until it has processed a first mail: while the worker imports
scikit-learn and loads or trains its model, it holds the GIL so much that the intake
answers a few times slower (see the report of issue 9).
"""

from __future__ import annotations

import os
import re
import resource
import selectors
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlmodel import Session

from mailflow import casework, logs, smtp
from mailflow.config import SmtpSection, load
from mailflow.models import MailStatus, StoredMail
from mailflow.schema import open_database
from mediation import addresses
from tests.conftest import TEST_DOMAIN, TEST_SECRET
from tests.net import free_port, wait_for_port
from tests.sink import Sink

FLOOD = 1_000
SERVER_FILES = 512  # the server's open-files limit (soft and hard): below the flood
PER_CLIENT = SmtpSection().max_connections_per_client

pytestmark = pytest.mark.slow


class Served:
    """`siegel serve` in a subprocess, its stderr in a file."""

    def __init__(
        self,
        tmp_path: Path,
        sink: Sink,
        *options: str,
        files: int = 0,
        smtp_settings: str = "",
        model: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.config_path = tmp_path / "config.toml"
        relay = sink.relay_settings()
        self.config_path.write_text(
            f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\n'
            f'data_dir = "data"\n[smtp]\nport = {self.port}\n{smtp_settings}\n'
            f'[relay]\nhost = "{relay["host"]}"\nport = {relay["port"]}\n',
            encoding="utf-8",
        )
        if model is not None:
            (tmp_path / "data").mkdir()
            for path in model.parent.glob(f"{model.name}*"):
                shutil.copy(path, tmp_path / "data")
        self.log_path = tmp_path / "serve.log"
        command = [sys.executable, "-m", "mailflow.cli", "--config", str(self.config_path)]
        command += [*options, "serve"]
        if files:  # `ulimit -n` sets the soft and the hard limit: the server cannot raise it
            command = ["sh", "-c", f'ulimit -n {files} && exec "$@"', "sh", *command]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            wait_for_port(self.port)
            deadline = time.monotonic() + 15
            while "serving SMTP" not in self.log():
                assert time.monotonic() < deadline, self.log()
                time.sleep(0.05)
        except BaseException:
            self.kill()
            raise

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stored(self, message_id: str) -> MailStatus | None:
        """The status of the mail with `message_id`, None if it is not stored."""
        engine = open_database(f"sqlite:///{self.config_path.parent / 'data' / 'siegel.db'}")
        try:
            with Session(engine) as session:
                query = select(StoredMail.status).where(StoredMail.message_id == message_id)
                return session.scalar(query)
        finally:
            engine.dispose()

    def warm_up(self) -> None:
        """Send a mail and wait until the worker processed it: its model is loaded."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.send_message(complaint("<warm-up@example.org>"))
        deadline = time.monotonic() + 120
        while self.stored("<warm-up@example.org>") != MailStatus.DONE:
            assert time.monotonic() < deadline, self.log()[-3000:]
            time.sleep(0.1)

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def kill(self) -> None:
        # SIGKILL: a first start trains the classifier, which SIGTERM would wait for.
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


@pytest.fixture(scope="session")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier model trained once, for the servers' data directories."""
    directory = tmp_path_factory.mktemp("model")
    (directory / "config.toml").write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\ndata_dir = "."\n',
        encoding="utf-8",
    )
    casework.model(load(directory / "config.toml"))
    return directory / casework.MODEL_FILE


@pytest.fixture
def client_files() -> Iterator[None]:
    """Enough file descriptors in this process for the flood's sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FLOOD + 256
    if soft != resource.RLIM_INFINITY and soft < needed:
        assert hard == resource.RLIM_INFINITY or hard >= needed, f"ulimit -Hn {hard} < {needed}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def complaint(message_id: str, to: str = f"beschwerde@{TEST_DOMAIN}") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Kundin <kundin@example.org>"
    message["To"] = to
    message["Subject"] = "Paket fehlt"
    message["Message-ID"] = message_id
    message.set_content("Mein Paket ist nicht angekommen.")
    return message


def open_flood(port: int, count: int, *sources: str) -> list[socket.socket]:
    """`count` connections from `sources` in turn that never say a word."""
    flood = []
    deadline = time.monotonic() + 30
    for n in range(count):
        sock = socket.socket()
        flood.append(sock)
        sock.settimeout(5)
        sock.bind((sources[n % len(sources)], 0))
        sock.connect(("127.0.0.1", port))
        assert time.monotonic() < deadline, "opening the flood took too long"
    return flood


def read_flood(flood: list[socket.socket], closed_expected: int) -> dict[socket.socket, bytes]:
    """What each connection received, until `closed_expected` of them were closed by the
    server (or 10 s passed); what the closed ones received ends in b"<EOF>"."""
    received = {sock: b"" for sock in flood}
    closed: set[socket.socket] = set()
    with selectors.DefaultSelector() as selector:
        for sock in flood:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 10
        while len(closed) < closed_expected and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.2):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(4096)
                except ConnectionResetError:
                    data = b""
                if data:
                    received[sock] += data
                else:
                    closed.add(sock)
                    selector.unregister(sock)
        # A last look at the open ones: a 421 still on its way would show here.
        for key, _ in selector.select(timeout=0.5):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            received[sock] += sock.recv(4096) or b"<EOF>"
    return {sock: data + (b"<EOF>" if sock in closed else b"") for sock, data in received.items()}


@pytest.mark.usefixtures("client_files")
@pytest.mark.parametrize(
    "source", ["127.0.0.2", "127.0.0.1"], ids=["flood-from-elsewhere", "flood-from-the-sender"]
)
def test_real_mail_gets_through_a_flood_of_idle_connections(
    tmp_path: Path, sink: Sink, model: Path, source: str
) -> None:
    """During a flood of 1,000 idle connections from one address, more than the server
    has file descriptors, a real mail (from 127.0.0.1; Linux routes all of 127/8 to lo)
    is stored and acknowledged within 1 s; all but the per-client limit of the flood got
    421 and were closed (one more if the mail came from the flood's address, taking the
    place of its longest silent connection), the server's open files stay below its
    limit, and the log stays short."""
    kept = PER_CLIENT - 1 if source == "127.0.0.1" else PER_CLIENT
    served = Served(tmp_path, sink, files=SERVER_FILES, model=model)
    flood: list[socket.socket] = []
    try:
        served.warm_up()
        log_before = len(served.log().splitlines())
        flood = open_flood(served.port, FLOOD, source)

        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", served.port, timeout=5) as client:
            refused = client.send_message(complaint("<flood-1@example.org>"))
        elapsed = time.monotonic() - started
        assert refused == {}
        assert elapsed < 1.0, f"the mail took {elapsed:.2f} s"
        assert served.stored("<flood-1@example.org>") is not None

        received = read_flood(flood, closed_expected=FLOOD - kept)
        closed = [data for data in received.values() if data.endswith(b"<EOF>")]
        still_open = [data for data in received.values() if not data.endswith(b"<EOF>")]
        assert len(closed) == FLOOD - kept
        assert all(re.search(rb"(^|\n)421 4\.[47]\.[02] ", data) for data in closed)
        assert len(still_open) == kept
        assert all(data.startswith(b"220 ") and b"421" not in data for data in still_open)
        assert served.open_files() < SERVER_FILES

        # The intake logs the closed connections in sums, the handler keeps any one
        # message to BURST lines; a few lines of the start may come late.
        flood_log = served.log().splitlines()[log_before:]
        intake_log = [line for line in flood_log if " mailflow.intake: " in line]
        assert 0 < len(intake_log) <= logs.BURST, "\n".join(flood_log[-20:])
        assert len(flood_log) <= logs.BURST + 10, "\n".join(flood_log[-20:])
        assert served.process.poll() is None, served.log()[-3000:]
    finally:
        for sock in flood:
            sock.close()
        served.kill()


@pytest.mark.usefixtures("client_files")
def test_the_connection_limit_is_fitted_to_the_open_files_limit(
    tmp_path: Path, sink: Sink, model: Path
) -> None:
    """With max_connections above what the open-files limit allows, the server lowers
    it and says so, so that a flood from many addresses (each under its own limit)
    never exhausts the descriptors: the real mail is stored within 1 s, the flood's
    oldest connections got 421, and no accept failed."""
    spared = SERVER_FILES - smtp.RESERVED_DESCRIPTORS
    served = Served(
        tmp_path, sink, files=SERVER_FILES, smtp_settings="max_connections = 2000", model=model
    )
    flood: list[socket.socket] = []
    try:
        served.warm_up()
        assert f"intake limited to {spared} connections" in served.log()
        sources = [f"127.0.1.{n}" for n in range(1, 251)]  # 4 connections each
        flood = open_flood(served.port, FLOOD, *sources)

        started = time.monotonic()
        with smtplib.SMTP("127.0.0.1", served.port, timeout=5) as client:
            refused = client.send_message(complaint("<many-1@example.org>"))
        elapsed = time.monotonic() - started
        assert refused == {}
        assert elapsed < 1.0, f"the mail took {elapsed:.2f} s"
        assert served.stored("<many-1@example.org>") is not None

        received = read_flood(flood, closed_expected=FLOOD - spared + 1)
        closed = [data for data in received.values() if data.endswith(b"<EOF>")]
        assert len(closed) == FLOOD - spared + 1  # the mail took one more place
        assert all(data.startswith(b"220 ") for data in received.values())
        assert all(
            data.endswith(b"\r\n421 4.4.2 siegel.test Idle too long, closing connection\r\n<EOF>")
            for data in closed
        )
        assert served.open_files() < SERVER_FILES
        assert "cannot accept" not in served.log()
    finally:
        for sock in flood:
            sock.close()
        served.kill()


def test_no_address_token_reaches_the_log(tmp_path: Path, sink: Sink) -> None:
    """With every logger at DEBUG (aiosmtpd's command and data lines included), mail to a
    real case address, a real bounce address and a forged case address leaves none of
    their tokens in the log, only the redacted form."""
    secret = TEST_SECRET.encode()
    genuine = addresses.case_address(
        secret, TEST_DOMAIN, "SSG-2026-000042", addresses.Role.CUSTOMER
    )
    bounce = addresses.bounce_address(secret, TEST_DOMAIN, 4711)
    forged = addresses.case_address(
        b"not-our-secret-0123456789", TEST_DOMAIN, "SSG-2026-000042", addresses.Role.MERCHANT
    )
    tokens = [
        address.split("@")[0][-addresses.TOKEN_LENGTH :] for address in (genuine, bounce, forged)
    ]

    served = Served(tmp_path, sink, "--verbose")
    try:
        with smtplib.SMTP("127.0.0.1", served.port, timeout=10) as client:
            refused = client.send_message(
                complaint("<token-1@example.org>", to=genuine),
                to_addrs=[genuine, bounce, forged.upper()],
            )
            assert list(refused) == [forged.upper()]
            # The token without a domain: not an address, but aiosmtpd logs the line.
            local = forged.split("@")[0]
            client.mail("kundin@example.org")
            assert client.rcpt(f"<{local}>")[0] == 553
        assert served.stored("<token-1@example.org>") is not None
        deadline = time.monotonic() + 10
        while "QUIT" not in served.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = served.log()
    finally:
        served.kill()

    assert "rcpt to:" in log.lower() and "DATA readline" in log, "aiosmtpd's lines are missing"
    assert "<token>" in log
    for token in tokens:
        assert token.lower() not in log.lower()
