"""Shared fixtures: test config, databases (SQLite and PostgreSQL), a real Dovecot.

The PostgreSQL and Dovecot servers are started once per session by tests/servers.py.
Where they cannot run, the tests that need them are skipped with the reason, except
under CI (`CI=true`), where a missing server is a failure: CI never skips silently.
Every test that takes `engine` runs twice, ids `[sqlite]` and `[postgresql]`; select
one backend with `-m sqlite` or `-m postgres`; the summary counts each backend.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import Engine

from mailflow import schema
from mailflow.config import Config, parse
from tests import servers
from tests.servers import DovecotServer, PostgresServer, ServerUnavailable
from tests.sink import Sink

TEST_DOMAIN = "siegel.test"
TEST_SECRET = "test-secret-0123456789abcdef-0123456789"

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CORPORA = SHARED / "corpora"

# A CAPABILITY answer without IDLE and MOVE, as older or smaller servers give.
BASIC_IMAP_CAPABILITIES = "IMAP4rev1 LITERAL+ UIDPLUS"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite: runs on the embedded SQLite database")
    # scripts/test's timeout stops pytest with SIGTERM: make it an interrupt, so that
    # the session fixtures still stop their servers.
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, _frame: object) -> NoReturn:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: let the teardown finish
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")


def _server_unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and a test server cannot start: {reason}", pytrace=False)
    pytest.skip(reason)


# ------------------------------------------------------------------ databases


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = schema.open_database(f"sqlite:///{tmp_path / 'siegel.db'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = servers.start_postgres()
    except ServerUnavailable as unavailable:
        _server_unavailable(str(unavailable))
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty PostgreSQL database for this test (no schema yet), dropped after it."""
    name = postgres_server.create_database()
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = schema.open_database(postgres_url)
    yield engine
    engine.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def engine(request: pytest.FixtureRequest) -> Engine:
    """The database under test, schema upgraded: once on SQLite, once on PostgreSQL."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(fixture)


# --------------------------------------------------------------------- config


def make_config(tmp_path: Path, **sections: dict) -> Config:
    """A checked Config for tests: test domain and secret, data in tmp_path."""
    raw: dict = {"siegel": {"domain": TEST_DOMAIN, "secret": TEST_SECRET, "data_dir": "data"}}
    for name, values in sections.items():
        raw[name] = raw.get(name, {}) | values if isinstance(values, dict) else values
    return parse(raw, tmp_path, {})


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


# --------------------------------------------------------------------- Dovecot


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """A real Dovecot with IDLE, MOVE and UIDPLUS; add users with `dovecot.add_user()`."""
    try:
        server = servers.start_dovecot()
    except ServerUnavailable as unavailable:
        _server_unavailable(str(unavailable))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dovecot_basic() -> Iterator[DovecotServer]:
    """A second Dovecot that offers neither IDLE nor MOVE (polling, COPY + EXPUNGE)."""
    try:
        server = servers.start_dovecot(capabilities=BASIC_IMAP_CAPABILITIES)
    except ServerUnavailable as unavailable:
        _server_unavailable(str(unavailable))
    yield server
    server.stop()


# ------------------------------------------------------------------- SMTP sink


@pytest.fixture
def sink() -> Iterator[Sink]:
    """An SMTP sink on a real socket in place of the outgoing relay (tests/sink.py)."""
    server = Sink().start()
    yield server
    server.stop()


# --------------------------------------------------------------------- summary


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Say which database backends ran and how long the test servers took to start."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            keywords = getattr(report, "keywords", {})
            for backend in ("sqlite", "postgres"):
                if backend in keywords and (report.when == "call" or outcome != "passed"):
                    per_backend = counts.setdefault(backend, {})
                    per_backend[outcome] = per_backend.get(outcome, 0) + 1
    if counts:
        terminalreporter.write_sep("-", "database backends")
        for backend, outcomes in sorted(counts.items()):
            line = ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))
            terminalreporter.write_line(f"{backend}: {line}")
    if servers.STARTUP_SECONDS:
        started = ", ".join(f"{name} {s:.2f} s" for name, s in servers.STARTUP_SECONDS.items())
        terminalreporter.write_line(f"test servers started: {started}")
    if servers.STOP_SECONDS:
        stopped = ", ".join(f"{name} {s:.2f} s" for name, s in servers.STOP_SECONDS.items())
        terminalreporter.write_line(f"test servers stopped: {stopped}")
