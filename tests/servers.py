"""Throwaway PostgreSQL and Dovecot servers for the tests, from Debian's packages.

Each server lives in a temporary folder of its own, listens on a free port on
127.0.0.1 and is stopped by its pid when the test session ends. Their output goes
to a log file in that folder, never to an inherited pipe: Dovecot keeps the
stderr it inherits, so a pipe after the test command would otherwise never close.

`ServerUnavailable` says why a server cannot run here (package missing, not root);
the fixtures in conftest.py turn it into a skip, or a failure under CI.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from imapclient import IMAPClient

from tests.net import free_port

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
MAIL_USER = "vmail"
START_TIMEOUT_SECONDS = 30.0
# The servers' folders must be reachable by the postgres and vmail users, and
# PostgreSQL's socket path must stay short: not $TMPDIR, which may be private.
SHARED_TMP = "/tmp"

# Seconds each server took to start, for the end-of-session summary.
STARTUP_SECONDS: dict[str, float] = {}
STOP_SECONDS: dict[str, float] = {}
# Servers not stopped yet: stopped at exit too, should a test session be interrupted
# while its fixtures tear down.
_RUNNING: list[PostgresServer | DovecotServer] = []


@atexit.register
def stop_all() -> None:
    for server in list(_RUNNING):
        with contextlib.suppress(Exception):
            server.stop()


class ServerUnavailable(Exception):
    """The server cannot be started on this machine; the message says why."""


def _wait_for_port(port: int, process_alive: Callable[[], bool], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        if not process_alive():
            break
        time.sleep(0.02)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"server on port {port} did not come up; log:\n{tail}")


def _stop_child(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, wait, then SIGKILL: a server that hangs must not hang the tests."""
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _forget(server: PostgresServer | DovecotServer) -> None:
    _RUNNING[:] = [running for running in _RUNNING if running is not server]


# ------------------------------------------------------------------ PostgreSQL


@dataclass
class PostgresServer:
    """A PostgreSQL cluster in `root`, reachable as user postgres without password."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    _databases: itertools.count = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "siegel_test") -> str:
        """A new, empty database; returns its name."""
        name = f"{prefix}_{next(self._databases)}"
        self._execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        """Drop `name`, ending sessions a test left open (each database is ~8 MB)."""
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _execute(self, statement: str) -> None:
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]

    def stop(self) -> None:
        # Our child may be runuser, not the postmaster: signal the postmaster by the
        # pid it wrote. SIGINT is its "fast" shutdown; SIGTERM ("smart") would wait
        # for sessions the tests left open.
        stopping = time.monotonic()
        pid_file = self.root / "data" / "postmaster.pid"
        if pid_file.exists() and self.process.poll() is None:
            postmaster = int(pid_file.read_text().split()[0])
            with contextlib.suppress(ProcessLookupError):
                os.kill(postmaster, signal.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
            _stop_child(self.process)
        shutil.rmtree(self.root, ignore_errors=True)
        _forget(self)
        STOP_SECONDS["postgresql"] = time.monotonic() - stopping


def _postgres_bin_dir() -> Path:
    for candidate in POSTGRES_BIN_DIRS:
        if (candidate / "initdb").exists():
            return candidate
    raise ServerUnavailable(
        "PostgreSQL is not installed (apt-get install postgresql; scripts/test does it)"
    )


def start_postgres() -> PostgresServer:
    """initdb and start a cluster as the postgres user (PostgreSQL refuses root)."""
    bin_dir = _postgres_bin_dir()
    as_owner: list[str] = []
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError as missing:
            raise ServerUnavailable("the postgres system user does not exist") from missing
        as_owner = ["runuser", "-u", "postgres", "--"]
    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="siegel-pg-", dir=SHARED_TMP))
    data = root / "data"
    log = root / "postgres.log"
    if as_owner:
        os.chown(root, owner.pw_uid, owner.pw_gid)
    with log.open("ab") as out:
        subprocess.run(
            [
                *as_owner,
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale",
                "C",
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    port = free_port()
    # Started in the foreground as our child, so that we stop it by its pid. A test
    # cluster needs no durability: fsync off makes the many CREATE DATABASEs cheap.
    process = subprocess.Popen(
        [
            *as_owner,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "max_connections=200",
        ],
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = PostgresServer(root, port, process)
    _RUNNING.append(server)
    try:
        _wait_for_port(port, lambda: process.poll() is None, log)
        _wait_until_accepting(server)
    except BaseException:
        server.stop()
        raise
    STARTUP_SECONDS["postgresql"] = time.monotonic() - started
    return server


def _wait_until_accepting(server: PostgresServer) -> None:
    # The port opens while the cluster may still be starting up ("the database
    # system is starting up"): wait for a real login.
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    conninfo = f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres"
    while True:
        try:
            psycopg.connect(conninfo, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


# --------------------------------------------------------------------- Dovecot


@dataclass(frozen=True)
class ImapUser:
    username: str
    password: str


_DOVECOT_CONF = """\
# Written by tests/servers.py for one test session.
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
# Dovecot is the only writer of these maildirs: it notices a lost message file only
# when it reads it (and answers its fetch with no body), as tests want to show.
maildir_very_dirty_syncs = yes
{capability_line}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users/%u
  default_fields = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
}}
# Tests log in with wrong passwords on purpose: no brute-force delays.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


@dataclass
class DovecotServer:
    """A Dovecot IMAP server in `root`; users are added at any time (passwd-file)."""

    host: str
    port: int
    root: Path
    process: subprocess.Popen[bytes]
    capabilities: str | None
    _users: itertools.count = field(default_factory=lambda: itertools.count(1))

    @property
    def config(self) -> Path:
        return self.root / "dovecot.conf"

    def add_user(self, name: str = "user") -> ImapUser:
        """A new user with an empty INBOX.

        One passwd-file per user: Dovecot checks a changed passwd-file at most once a
        second, so users added to one shared file would be unknown for a moment.
        """
        user = ImapUser(f"{name}-{next(self._users)}@imap.siegel.test", f"pw-{os.urandom(6).hex()}")
        entry = self.root / "users" / user.username
        entry.write_text(f"{user.username}:{{PLAIN}}{user.password}::::::\n")
        entry.chmod(0o644)
        return user

    def connect(self, user: ImapUser) -> IMAPClient:
        """A logged-in IMAP client for `user` (the caller logs out)."""
        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(user.username, user.password)
        return client

    def create_folder(self, user: ImapUser, folder: str) -> None:
        with self.connect(user) as client:
            client.create_folder(folder)

    def delete_folder(self, user: ImapUser, folder: str) -> None:
        with self.connect(user) as client:
            client.delete_folder(folder)

    def append(
        self, user: ImapUser, raw: bytes, folder: str = "INBOX", when: datetime | None = None
    ) -> int:
        """APPEND `raw` to `folder`; returns its UID (from UIDPLUS's APPENDUID)."""
        with self.connect(user) as client:
            answer = client.append(folder, raw, msg_time=when)
        # b"[APPENDUID <uidvalidity> <uid>] Append completed."
        return int(answer.split(b"]", 1)[0].split()[-1])

    def uids(self, user: ImapUser, folder: str) -> list[int]:
        """UIDs of the messages in `folder` that are not marked deleted."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search(["NOT", "DELETED"]))

    def messages(self, user: ImapUser, folder: str) -> list[bytes]:
        """The raw bytes of every message in `folder`, in UID order."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            uids = sorted(client.search(["NOT", "DELETED"]))
            fetched = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [fetched[uid][b"BODY[]"] for uid in uids]

    def uidvalidity(self, user: ImapUser, folder: str) -> int:
        with self.connect(user) as client:
            return client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"]

    def kick(self, user: ImapUser) -> None:
        """Disconnect every session of `user`, as a server restart would."""
        subprocess.run(
            ["doveadm", "-c", str(self.config), "kick", user.username],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )

    @property
    def name(self) -> str:
        return "dovecot" if self.capabilities is None else "dovecot (restricted)"

    def stop(self) -> None:
        stopping = time.monotonic()
        _stop_child(self.process)
        shutil.rmtree(self.root, ignore_errors=True)
        _forget(self)
        STOP_SECONDS[self.name] = time.monotonic() - stopping


def _mail_user() -> pwd.struct_passwd:
    """The unprivileged owner of the test mailboxes, created like Debian's packages would."""
    try:
        return pwd.getpwnam(MAIL_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--home-dir",
                "/nonexistent",
                "--shell",
                "/usr/sbin/nologin",
                MAIL_USER,
            ],
            check=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
        )
        return pwd.getpwnam(MAIL_USER)


def start_dovecot(capabilities: str | None = None) -> DovecotServer:
    """Start Dovecot on a free port; `capabilities` replaces its CAPABILITY answer.

    The Dovecot master must run as root (it drops to `vmail` for the mailboxes).
    """
    if not Path(DOVECOT).exists():
        raise ServerUnavailable(
            "Dovecot is not installed (apt-get install dovecot-imapd; scripts/test does it)"
        )
    if os.geteuid() != 0:
        raise ServerUnavailable("the Dovecot fixture must run as root (its master drops to vmail)")
    started = time.monotonic()
    mail_user = _mail_user()
    root = Path(tempfile.mkdtemp(prefix="siegel-dovecot-", dir=SHARED_TMP))
    root.chmod(0o755)  # the imap processes run as vmail and must reach home/
    for folder in ("run", "state", "home", "users"):
        (root / folder).mkdir()
    os.chown(root / "home", mail_user.pw_uid, mail_user.pw_gid)
    port = free_port()
    capability_line = f"imap_capability = {capabilities}" if capabilities else ""
    (root / "dovecot.conf").write_text(
        _DOVECOT_CONF.format(
            root=root,
            port=port,
            uid=mail_user.pw_uid,
            gid=mail_user.pw_gid,
            capability_line=capability_line,
        )
    )
    log = root / "dovecot.log"
    # -F keeps the master in the foreground as our child: we stop it by its pid.
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(root / "dovecot.conf")],
        stdin=subprocess.DEVNULL,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = DovecotServer("127.0.0.1", port, root, process, capabilities)
    _RUNNING.append(server)
    try:
        _wait_for_port(port, lambda: process.poll() is None, log)
    except BaseException:
        server.stop()
        raise
    STARTUP_SECONDS[server.name] = time.monotonic() - started
    return server
