"""SMTP and LMTP intake through real sockets: store first, then say yes."""

from __future__ import annotations

import contextlib
import logging
import re
import smtplib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from mailflow import smtp
from mailflow.config import Config, ConfigError
from mailflow.models import StoredMail
from mailflow.spool import Spool
from mediation import addresses
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.net import free_port

COMPLAINT = b"""From: Kunde <kunde@example.org>\r
To: beschwerde@siegel.test\r
Subject: Paket fehlt\r
Message-ID: <%s@example.org>\r
\r
Mein Paket ist nicht angekommen.\r
.leading dot survives dot-stuffing\r
"""


def complaint(n: int | str) -> bytes:
    return COMPLAINT % str(n).encode()


class Intake:
    def __init__(self, engine: Engine, config: Config) -> None:
        self.engine = engine
        self.config = config
        self.port = free_port()
        self.spool = Spool(engine).start()
        self.controller = smtp.make_controller(self.spool, config, port=self.port)
        self.controller.start()

    def client(self) -> smtplib.SMTP:
        return smtplib.SMTP("127.0.0.1", self.port, timeout=10)

    def stop(self) -> None:
        self.controller.stop()
        self.spool.stop()

    def mails(self) -> list[StoredMail]:
        with Session(self.engine) as session:
            return list(session.scalars(select(StoredMail).order_by(StoredMail.id)))


def start_intake(engine: Engine, tmp_path: Path, **smtp_options: object) -> Intake:
    return Intake(engine, make_config(tmp_path, smtp=dict(smtp_options)))


@pytest.fixture
def intake(engine: Engine, tmp_path: Path) -> Iterator[Intake]:
    running = start_intake(engine, tmp_path, max_message_bytes=100_000)
    yield running
    running.stop()


def test_accepted_mail_is_committed_byte_for_byte(intake: Intake) -> None:
    """A 250 means the raw bytes, envelope and hash are in the database, unchanged."""
    with intake.client() as client:
        refused = client.sendmail("kunde@example.org", ["beschwerde@siegel.test"], complaint(1))
        assert refused == {}
    [mail] = intake.mails()
    assert mail.raw == complaint(1)
    assert mail.envelope_from == "kunde@example.org"
    assert mail.envelope_to == ["beschwerde@siegel.test"]
    assert mail.message_id == "<1@example.org>"
    assert mail.status == "new"
    assert mail.received_at.tzinfo is not None
    assert mail.source.startswith("smtp from 127.0.0.1")


def test_data_reply_names_the_stored_mail(intake: Intake) -> None:
    """The 250 after DATA names the mail id; a resend is answered as already stored."""
    with intake.client() as client:
        client.ehlo()
        client.mail("kunde@example.org")
        client.rcpt("complaints@siegel.test")
        code, text = client.data(complaint(2))
        assert code == 250 and b"stored as mail" in text
        client.mail("kunde@example.org")
        client.rcpt("complaints@siegel.test")
        code, text = client.data(complaint(2))
        assert code == 250 and b"already stored" in text
    [mail] = intake.mails()
    assert mail.arrivals == 2


def test_foreign_and_unknown_recipients_are_refused_at_rcpt(intake: Intake) -> None:
    """Foreign domains get 550 5.7.1, unknown or forged local parts 550 5.1.1."""
    forged = addresses.case_address(
        b"another-secret-xxxxxxxx", TEST_DOMAIN, "SSG-2026-000001", addresses.Role.MERCHANT
    )
    genuine = addresses.case_address(
        TEST_SECRET.encode(), TEST_DOMAIN, "SSG-2026-000001", addresses.Role.MERCHANT
    )
    with intake.client() as client:
        client.ehlo()
        client.mail("x@example.org")
        code, text = client.rcpt("someone@example.com")
        assert (code, text[:5]) == (550, b"5.7.1")
        code, text = client.rcpt("nobody@siegel.test")
        assert (code, text[:5]) == (550, b"5.1.1")
        code, text = client.rcpt(forged)
        assert (code, text[:5]) == (550, b"5.1.1")
        assert client.rcpt(genuine)[0] == 250
        assert client.rcpt("postmaster@siegel.test")[0] == 250
        assert client.rcpt("beschwerde+moebel-fuchs@siegel.test")[0] == 250
    assert intake.mails() == []


def test_postmaster_without_a_domain_and_a_hundred_recipients_are_taken(
    engine: Engine, tmp_path: Path
) -> None:
    """RFC 5321: "Postmaster" without a domain must be accepted (4.5.1), and at least
    100 recipients of one transaction (4.5.3.1.8); the 101st gets 452, not a refusal."""
    intake = Intake(engine, make_config(tmp_path))
    try:
        with intake.client() as client:
            client.ehlo()
            client.mail("x@example.org")
            assert client.rcpt("<Postmaster>")[0] == 250
            for _ in range(99):
                assert client.rcpt("beschwerde@siegel.test")[0] == 250
            code, text = client.rcpt("beschwerde@siegel.test")
            assert (code, text[:5]) == (452, b"4.5.3")
            assert client.data(complaint(7))[0] == 250
        [mail] = intake.mails()
        assert "postmaster@siegel.test" in mail.envelope_to
    finally:
        intake.stop()


def test_mail_to_refused_recipients_only_is_not_stored(intake: Intake) -> None:
    """When every recipient was refused, smtplib gives up and nothing is stored."""
    with intake.client() as client, pytest.raises(smtplib.SMTPRecipientsRefused):
        client.sendmail("x@example.org", ["a@example.com"], complaint(3))
    assert intake.mails() == []


def test_oversize_mail_gets_552_and_is_not_stored(intake: Intake) -> None:
    """A mail over max_message_bytes is refused with 552 and nothing is stored."""
    big = complaint(4) + (b"x" * 76 + b"\r\n") * 1600
    with intake.client() as client:
        # A client that declares SIZE is refused at MAIL FROM ...
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail("kunde@example.org", ["beschwerde@siegel.test"], big)
        assert refused.value.smtp_code == 552
        # ... one that does not is refused after DATA.
        client.ehlo()
        client.mail("kunde@example.org")
        client.rcpt("beschwerde@siegel.test")
        code, _ = client.data(big)
        assert code == 552
    assert intake.mails() == []


def test_empty_data_gets_554_and_is_not_stored(intake: Intake) -> None:
    """An empty DATA (or only blank lines) is no mail: refused, as `siegel ingest`
    refuses it, rather than stored and held for want of a sender."""
    with intake.client() as client:
        for empty in (b"", b"\r\n\r\n"):
            client.ehlo()
            client.mail("kunde@example.org")
            client.rcpt("beschwerde@siegel.test")
            code, message = client.data(empty)
            assert (code, message) == (554, b"5.6.0 Empty message: nothing was stored")
            client.rset()
    assert intake.mails() == []


def test_storage_failure_answers_451(engine: Engine, tmp_path: Path) -> None:
    """When the database cannot commit, DATA answers 451 so that the sender retries."""
    running = start_intake(engine, tmp_path)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE mail RENAME TO mail_gone")
        with running.client() as client:
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("kunde@example.org", ["beschwerde@siegel.test"], complaint(5))
            assert refused.value.smtp_code == 451
    finally:
        running.stop()


def test_concurrent_sessions_each_stored_once(intake: Intake) -> None:
    """Many clients at once: every 250 is exactly one committed row."""
    errors: list[BaseException] = []

    def send(start: int) -> None:
        try:
            with intake.client() as client:
                for n in range(start, start + 10):
                    client.sendmail("k@example.org", ["beschwerde@siegel.test"], complaint(n))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=send, args=(100 * i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Session(intake.engine) as session:
        assert session.scalar(select(func.count()).select_from(StoredMail)) == 80
        assert session.scalar(select(func.count(func.distinct(StoredMail.message_id)))) == 80


def test_lmtp_answers_once_per_recipient(engine: Engine, tmp_path: Path) -> None:
    """In LMTP mode (behind an MTA) DATA gets one reply line per accepted recipient."""
    running = start_intake(engine, tmp_path, mode="lmtp")
    try:
        with socket.create_connection(("127.0.0.1", running.port), timeout=10) as sock:
            stream = sock.makefile("rwb")

            def say(line: bytes) -> None:
                stream.write(line + b"\r\n")
                stream.flush()

            def read_reply() -> list[bytes]:
                lines = [stream.readline()]
                while lines[-1][3:4] == b"-":
                    lines.append(stream.readline())
                return lines

            assert read_reply()[0].startswith(b"220")
            say(b"LHLO mta.example.org")
            assert read_reply()[-1].startswith(b"250")
            say(b"MAIL FROM:<kunde@example.org>")
            assert read_reply()[0].startswith(b"250")
            for rcpt in (b"beschwerde@siegel.test", b"complaints@siegel.test"):
                say(b"RCPT TO:<" + rcpt + b">")
                assert read_reply()[0].startswith(b"250")
            say(b"DATA")
            assert read_reply()[0].startswith(b"354")
            stream.write(complaint(6) + b".\r\n")
            stream.flush()
            replies = [stream.readline(), stream.readline()]
            assert all(reply.startswith(b"250 2.0.0") for reply in replies)
            say(b"QUIT")
        [mail] = running.mails()
        assert mail.envelope_to == ["beschwerde@siegel.test", "complaints@siegel.test"]
        assert mail.source.startswith("lmtp")
    finally:
        running.stop()


# ------------------------------------------------------------ connection limits


def connect(port: int, source: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket()
    sock.settimeout(5)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def reply(sock: socket.socket) -> bytes:
    """One whole SMTP reply (all its lines)."""
    data = b""
    while not re.search(rb"(^|\n)\d{3} [^\n]*\n$", data):
        chunk = sock.recv(4096)
        assert chunk, f"closed after {data!r}"
        data += chunk
    return data


def speak(sock: socket.socket, line: bytes) -> bytes:
    assert reply(sock).startswith(b"220 ")
    sock.sendall(line + b"\r\n")
    return reply(sock)


def begin_data(sock: socket.socket) -> None:
    """MAIL, RCPT and DATA on a greeted session, up to its 354."""
    for command in (b"MAIL FROM:<k@example.org>", b"RCPT TO:<beschwerde@siegel.test>"):
        sock.sendall(command + b"\r\n")
        assert reply(sock).startswith(b"250")
    sock.sendall(b"DATA\r\n")
    assert reply(sock).startswith(b"354")


def until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (5 s at most)."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def still_open(sock: socket.socket) -> bool:
    """True if the server neither closed `sock` nor sent anything within 0.3 s."""
    sock.settimeout(0.3)
    try:
        sock.recv(4096)
    except TimeoutError:
        return True
    return False


def test_over_a_limit_with_every_connection_busy_a_new_one_gets_421(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """When every connection has spoken, one over the per-client or the total limit is
    answered 421 4.7.0 and closed at once; a freed place can be taken again."""
    running = start_intake(sqlite_engine, tmp_path, max_connections=3, max_connections_per_client=2)
    sockets: list[socket.socket] = []
    try:
        first, second = connect(running.port), connect(running.port)
        sockets += [first, second]
        for sock in (first, second):
            assert speak(sock, b"EHLO client.example.org").startswith(b"250-")
        over_client = connect(running.port)
        sockets.append(over_client)
        assert until_closed(over_client).startswith(b"421 4.7.0 siegel.test ")

        other = connect(running.port, "127.0.0.2")
        sockets.append(other)
        assert speak(other, b"EHLO other.example.org").startswith(b"250-")
        over_total = connect(running.port, "127.0.0.3")
        sockets.append(over_total)
        assert until_closed(over_total).startswith(b"421 4.7.0 ")

        first.close()
        deadline = time.monotonic() + 5
        while True:  # the server sees the close a moment later
            again = connect(running.port)
            sockets.append(again)
            greeting = again.recv(4096)
            if greeting.startswith(b"220 ") or time.monotonic() > deadline:
                break
        assert greeting.startswith(b"220 ")
    finally:
        for sock in sockets:
            sock.close()
        running.stop()


def test_a_silent_connection_gives_up_its_place_to_a_new_one(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """At the per-client limit, a new connection takes the place of the one that has been
    silent longest (421 4.4.2, closed); the mail on the new one is stored."""
    running = start_intake(sqlite_engine, tmp_path, max_connections_per_client=2)
    oldest, younger = connect(running.port), connect(running.port)
    try:
        for sock in (oldest, younger):
            assert reply(sock).startswith(b"220 ")
        with running.client() as client:
            refused = client.sendmail("k@example.org", ["beschwerde@siegel.test"], complaint(7))
            assert refused == {}
        assert until_closed(oldest).startswith(b"421 4.4.2 siegel.test ")
        assert still_open(younger)
        [mail] = running.mails()
        assert mail.message_id == "<7@example.org>"
    finally:
        oldest.close()
        younger.close()
        running.stop()


def test_idle_session_is_closed_with_421_but_a_slow_data_is_not(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A connection silent for idle_timeout_seconds gets 421 4.4.2 and is closed, before
    or after its first command; one that sends its DATA slowly, each line within the
    timeout, is not (bytes count, not only commands)."""
    running = start_intake(sqlite_engine, tmp_path, idle_timeout_seconds=0.5)
    idle = connect(running.port)
    slow = socket.socket()
    try:
        started = time.monotonic()
        assert reply(idle).startswith(b"220 ")
        assert until_closed(idle) == b"421 4.4.2 siegel.test Idle too long, closing connection\r\n"
        assert 0.4 < time.monotonic() - started < 3

        slow = connect(running.port)
        assert speak(slow, b"EHLO client.example.org").startswith(b"250")
        begin_data(slow)
        started = time.monotonic()
        for line in complaint(8).splitlines(keepends=True):
            slow.sendall(line)
            time.sleep(0.2)
        assert time.monotonic() - started > 1.0  # twice the timeout without a command
        slow.sendall(b".\r\n")
        assert reply(slow).startswith(b"250 2.0.0")
        # Silent after its mail, the session is closed like any other.
        assert until_closed(slow) == b"421 4.4.2 siegel.test Idle too long, closing connection\r\n"
    finally:
        idle.close()
        slow.close()
        running.stop()


def test_a_stop_during_a_data_transfer_says_421_before_closing(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """SIGTERM while a client is still sending its DATA: it hears 421 4.3.2 (RFC 5321
    §3.8) before the connection closes, not a bare disconnect (a black-box finding), and
    the half mail is not stored; a session between commands hears it too."""
    running = start_intake(sqlite_engine, tmp_path)
    sending, waiting = connect(running.port), connect(running.port)
    try:
        for sock in (sending, waiting):
            assert speak(sock, b"EHLO client.example.org").startswith(b"250")
        begin_data(sending)
        sending.sendall(complaint("half")[:60])
        time.sleep(0.1)
        running.controller.stop()
        for sock in (sending, waiting):
            assert until_closed(sock).startswith(b"421 4.3.2 ")
        assert running.mails() == []
    finally:
        sending.close()
        waiting.close()
        running.spool.stop()


def test_bytes_dribbled_without_a_line_end_do_not_keep_a_session(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A slow-loris client sends a byte now and then, never ending a line (a black-box
    run held 200 places so, locking real senders out): closed with 421 after
    idle_timeout_seconds, as a silent one."""
    running = start_intake(sqlite_engine, tmp_path, idle_timeout_seconds=0.5)
    dribbler = connect(running.port)
    try:
        assert speak(dribbler, b"EHLO client.example.org").startswith(b"250")
        started = time.monotonic()
        with contextlib.suppress(OSError):  # the server closes while we still dribble
            for byte in b"MAIL FROM:<kundin.mit.langer.adresse@example.org> SIZE=1000":
                dribbler.sendall(bytes([byte]))
                time.sleep(0.1)
        assert until_closed(dribbler).endswith(b"Idle too long, closing connection\r\n")
        assert time.monotonic() - started < 4  # the dribble takes 6 s
    finally:
        dribbler.close()
        running.stop()


def test_a_session_ends_at_its_maximum_length_however_busy(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A client that sends a NOOP now and then is never idle (a review's way past the
    slow-loris fix): at max_session_seconds it gets 421 and is closed."""
    running = start_intake(sqlite_engine, tmp_path, idle_timeout_seconds=0.5, max_session_seconds=1)
    busy = connect(running.port)
    try:
        assert speak(busy, b"EHLO client.example.org").startswith(b"250")
        started, closed = time.monotonic(), b""
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 5:
                busy.sendall(b"NOOP\r\n")
                answer = reply(busy)
                if not answer.startswith(b"250"):
                    closed = answer
                    break
                time.sleep(0.2)
        assert closed.endswith(b"Session too long, closing connection\r\n"), closed
        assert time.monotonic() - started < 3
    finally:
        busy.close()
        running.stop()


def test_a_database_busy_past_the_idle_timeout_is_waited_for_not_idle(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """The client waits for our answer while the mail is committed: a database that is
    busy for longer than idle_timeout_seconds delays the 250, it does not end the session
    with "Idle too long" (a black-box run got that after 30 s of a locked database)."""
    running = start_intake(sqlite_engine, tmp_path, idle_timeout_seconds=0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(sqlite_engine.url.database), "1.5"],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        with running.client() as client:
            client.ehlo()
            client.mail("kunde@example.org")
            client.rcpt("beschwerde@siegel.test")
            code, text = client.data(complaint("busy"))
        assert (code, text[:9]) == (250, b"2.0.0 OK:"), text
        [mail] = running.mails()
        assert mail.message_id == "<busy@example.org>"
    finally:
        holder.wait(10)
        running.stop()


def test_a_line_longer_than_rfc_5321_allows_is_taken(intake: Intake) -> None:
    """A mail with a 5000-character line (real clients send such mail; a black-box run
    had one bounced with a permanent "500 Line too long") is stored as it came."""
    long_line = b"Bestellung: " + b"x" * 5000 + b"\r\n"
    raw = complaint("long").replace(b"Mein Paket", long_line + b"Mein Paket")
    with intake.client() as client:
        assert client.sendmail("kunde@example.org", ["beschwerde@siegel.test"], raw) == {}
    [mail] = intake.mails()
    assert long_line in mail.raw


def test_lmtp_has_the_same_connection_limit(sqlite_engine: Engine, tmp_path: Path) -> None:
    """In LMTP mode a connection over the per-client limit also gets 421 4.7.0."""
    running = start_intake(sqlite_engine, tmp_path, mode="lmtp", max_connections_per_client=1)
    first = connect(running.port)
    try:
        assert speak(first, b"LHLO mta.example.org").startswith(b"250")
        second = connect(running.port)
        with second:
            assert until_closed(second).startswith(b"421 4.7.0 ")
    finally:
        first.close()
        running.stop()


@pytest.mark.parametrize(
    "key", ["max_connections", "max_connections_per_client", "idle_timeout_seconds"]
)
def test_connection_limits_must_be_positive(tmp_path: Path, key: str) -> None:
    """A limit of 0 is a configuration error naming its key."""
    with pytest.raises(ConfigError, match=rf"\[smtp\] {key}"):
        make_config(tmp_path, smtp={key: 0})


def test_connections_closed_by_the_limits_are_logged_in_sums(
    sqlite_engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The first connection closed by a limit is logged at once, the next ones as one
    sum per period (not a line each), and nothing once they stop."""
    monkeypatch.setattr(smtp, "REPORT_SECONDS", 0.3)
    running = start_intake(sqlite_engine, tmp_path, max_connections_per_client=1)
    sockets = []
    try:
        with caplog.at_level(logging.WARNING, logger="mailflow.intake"):
            for _ in range(6):
                sockets.append(connect(running.port, "127.0.0.5"))
                assert reply(sockets[-1]).startswith(b"220 ")
            deadline = time.monotonic() + 5
            while len(caplog.records) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.7)  # two more periods without a closed connection
        messages = [record.getMessage() for record in caplog.records]
    finally:
        for sock in sockets:
            sock.close()
        running.stop()
    assert len(messages) == 2, messages
    assert "a silent connection closed to make room (127.0.0.5)" in messages[0]
    assert "last 0.3 s: a silent connection closed to make room: 4 (127.0.0.5: 4)" in messages[1]


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def test_a_stop_lets_the_mail_being_committed_get_its_250(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """SIGTERM while a mail waits for its commit: the intake stops accepting, the mail is
    committed and answered 250 before the session ends (its client would otherwise send
    a committed mail again); a DATA that ends after the stop began gets 421 and is not
    stored; a connection made after the stop began is refused."""
    running = start_intake(sqlite_engine, tmp_path)
    database = sqlite_engine.url.database
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WRITE_LOCK, str(database), "1.5"], stdout=subprocess.PIPE
    )
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    answers: list[object] = []

    def send() -> None:
        try:
            with running.client() as client:
                answers.append(
                    client.sendmail(
                        "kunde@example.org", [f"beschwerde@{TEST_DOMAIN}"], complaint("stop")
                    )
                )
        except Exception as error:  # the assertion below shows it
            answers.append(error)

    sender = threading.Thread(target=send)
    sender.start()
    late = running.client()  # in the middle of its DATA when the stop begins
    late.ehlo()
    late.mail("kunde@example.org")
    late.rcpt(f"beschwerde@{TEST_DOMAIN}")
    late.putcmd("data")
    assert late.getreply()[0] == 354
    time.sleep(0.5)  # the first DATA sent; its commit waits for the holder's lock
    stopping = threading.Thread(target=running.controller.stop)
    stopping.start()
    time.sleep(0.2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=2).recv(1)
    late.send(complaint("late") + b".\r\n")
    assert late.getreply()[0] == 421  # not taken: sent again after the restart
    stopping.join(30)
    sender.join(30)
    holder.wait(30)
    running.spool.stop()
    assert answers == [{}]
    assert [mail.message_id for mail in running.mails()] == ["<stop@example.org>"]


@pytest.mark.parametrize(
    "argument",
    [
        "<kunde@example.org>",
        "kunde@example.org",
        "<>",
        "",
        "<kunde@example.org> SIZE=1000 BODY=8BITMIME",
        '<"zwei worte"@example.org>',
        "<kunde@[192.0.2.1]>",
        "<@relay.example:kunde@example.org>",
        "<kunde@example.org",
        "kunde",
        "<" + "k" * 65 + "@example.org>",
        "<käufer@example.org>",
        "<<kunde@example.org>>",
        " <kunde@example.org>",
    ],
)
@pytest.mark.parametrize("local_part_limit", [0, 64])
def test_addresses_in_mail_and_rcpt_are_read_as_aiosmtpd_reads_them(
    argument: str, local_part_limit: int
) -> None:
    """Our session reads MAIL FROM and RCPT TO without aiosmtpd's per-call class; the
    reading must stay aiosmtpd's own."""
    holder = type("Holder", (), {"local_part_limit": local_part_limit})()
    ours = smtp._Spoken._getaddr(holder, argument)  # type: ignore[arg-type]
    assert ours == SMTP._getaddr(holder, argument)  # type: ignore[arg-type]


def test_the_spool_survives_losing_its_held_connection(pg_engine: Engine, tmp_path: Path) -> None:
    """The spool's writer keeps one connection for all its commits; a database that drops
    it (a restart) costs no mail a 451: the batch is tried again on a new connection."""
    running = start_intake(pg_engine, tmp_path)
    try:
        with running.client() as client:
            client.sendmail("kunde@example.org", ["beschwerde@siegel.test"], complaint(71))
            with pg_engine.begin() as connection:
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            refused = client.sendmail(
                "kunde@example.org", ["beschwerde@siegel.test"], complaint(72)
            )
        assert refused == {}
        assert [mail.message_id for mail in running.mails()] == [
            "<71@example.org>",
            "<72@example.org>",
        ]
    finally:
        running.stop()
