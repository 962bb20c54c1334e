"""Complaints and the signing key on disk are readable by the service's user only.

The data directory is created 0700; the SQLite database, its -wal and -shm files and
the generated secret are 0600, whatever the umask of the process that creates them
(an MTA's pipe, a shell with umask 022); files left too open by an older version are
tightened at the next start. Each test runs real `siegel` processes with umask 022.
"""

from __future__ import annotations

import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_DOMAIN, TEST_SECRET
from tests.net import free_port

SIEGEL = Path(sys.executable).with_name("siegel")
COMPLAINT = (
    f"From: kundin@example.org\nTo: beschwerde@{TEST_DOMAIN}\nSubject: Paket fehlt\n"
    "Message-ID: <modes-1@example.org>\n\nMein Paket ist nicht angekommen.\n"
).encode()


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def siegel_with_umask_022(config: Path, *args: str) -> subprocess.Popen[bytes]:
    """`siegel --config CONFIG ARGS` started from a shell whose umask is 022."""
    command = shlex.join([str(SIEGEL), "--config", str(config), *args])
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    return subprocess.Popen(
        ["/bin/sh", "-c", f"umask 022 && exec {command}"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        cwd=config.parent,
    )


def run_with_umask_022(config: Path, *args: str, stdin: bytes = b"") -> tuple[int, bytes]:
    process = siegel_with_umask_022(config, *args)
    _, errors = process.communicate(stdin, timeout=120)
    return process.returncode, errors


def write_config(tmp_path: Path, secret: str = TEST_SECRET, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{secret}"\ndata_dir = "data"\n{extra}',
        encoding="utf-8",
    )
    return path


def test_ingest_creates_a_private_data_directory_and_database_under_umask_022(
    tmp_path: Path,
) -> None:
    """The first `siegel ingest` makes the data directory 0700 and the database 0600."""
    status, errors = run_with_umask_022(write_config(tmp_path), "ingest", stdin=COMPLAINT)
    assert status == 0, errors
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "siegel.db") == 0o600
    with sqlite3.connect(tmp_path / "data" / "siegel.db") as connection:
        assert connection.execute("SELECT count(*) FROM mail").fetchone() == (1,)
    connection.close()


def test_serve_creates_wal_shm_and_generated_secret_0600_under_umask_022(tmp_path: Path) -> None:
    """While `siegel serve` runs, its -wal and -shm files are 0600 like the database, and
    the secret it generated (at least 32 bytes) is 0600 in a 0700 directory."""
    config = write_config(
        tmp_path,
        secret="",
        extra=f"[smtp]\nport = {free_port()}\n[relay]\nport = {free_port()}\n",
    )
    data = tmp_path / "data"
    server = siegel_with_umask_022(config, "serve")
    try:
        deadline = time.monotonic() + 60
        while not ((data / "siegel.db-wal").exists() and (data / "siegel.db-shm").exists()):
            assert server.poll() is None, server.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "serve never opened its database"
            time.sleep(0.05)
        names = ("secret", "siegel.db", "siegel.db-wal", "siegel.db-shm")
        modes = {name: mode(data / name) for name in names}
        directory = mode(data)
        secret = (data / "secret").read_bytes().strip()
    finally:
        # Its first start trains the classifier for a while; nothing here needs a clean stop.
        server.send_signal(signal.SIGKILL)
        server.communicate(timeout=30)
    assert directory == 0o700
    assert modes == {
        "secret": 0o600,
        "siegel.db": 0o600,
        "siegel.db-wal": 0o600,
        "siegel.db-shm": 0o600,
    }
    assert len(secret) >= 32


def test_too_open_database_wal_shm_and_secret_are_tightened_at_start(tmp_path: Path) -> None:
    """Files an older version left 0644 (database, -wal, -shm, secret) are 0600 after the
    next start of any command, their contents unchanged; a data directory left 0755 is
    0700 (below it lie the demo's Maildirs of every mail sent)."""
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    secret = data / "secret"
    secret.write_text("an-operator-written-secret-0123456789abcdef\n")
    database = data / "siegel.db"
    # An open connection with a write keeps -wal and -shm in place, as a running
    # server does, so that the command finds all three.
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("CREATE TABLE left_by_an_old_version (x)")
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm"), secret]
        for path in files:
            path.chmod(0o644)
        status, errors = run_with_umask_022(write_config(tmp_path, secret=""), "mails")
        assert status == 0, errors
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
        assert mode(data) == 0o700
        assert holder.execute("SELECT count(*) FROM left_by_an_old_version").fetchone() == (0,)
    finally:
        holder.close()
    assert secret.read_text() == "an-operator-written-secret-0123456789abcdef\n"
    assert b"was mode 0644" in errors
