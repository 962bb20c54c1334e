"""Nothing is lost at the pipe: `siegel ingest` exit codes, each cause in its own process.

An MTA bounces a mail for good on any exit status but 0 and 75 (sysexits(3)), so only
what can never pass may be 65 (bad data), 66 (no input) or 67 (unknown recipient);
everything else (busy, locked, corrupt, missing or unreachable database, unknown
driver, bad configuration or arguments, an unexpected error) is 75 and one line on
stderr, without a traceback. Every test runs `.venv/bin/siegel ingest` as Postfix's
pipe does: a new process, its own configuration, the mail on stdin.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import TEST_DOMAIN, TEST_SECRET
from tests.net import free_port

SIEGEL = Path(sys.executable).with_name("siegel")
COMPLAINT = (
    f"From: Kundin <kundin@example.org>\nTo: beschwerde@{TEST_DOMAIN}\n"
    "Subject: Paket fehlt\nMessage-ID: <pipe-1@example.org>\n\n"
    "Mein Paket ist seit drei Wochen unterwegs.\n"
).encode()
RETRY = b"the MTA will retry"


def write_config(
    tmp_path: Path, *, url: str = "", secret: str = TEST_SECRET, extra: str = ""
) -> Path:
    path = tmp_path / "config.toml"
    database = f'[database]\nurl = "{url}"\n' if url else ""
    path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{secret}"\ndata_dir = "data"\n'
        f"[smtp]\nmax_message_bytes = 10000\n{database}{extra}",
        encoding="utf-8",
    )
    return path


def ingest(
    config: Path, *args: str, stdin: bytes = COMPLAINT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`siegel --config CONFIG ingest ARGS < stdin` in a new process, as an MTA runs it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    environment |= env or {}
    return subprocess.run(
        [str(SIEGEL), "--config", str(config), "ingest", *args],
        input=stdin,
        capture_output=True,
        env=environment,
        cwd=config.parent,
        timeout=120,
        check=False,
    )


def assert_try_again(done: subprocess.CompletedProcess[bytes], *words: bytes) -> None:
    """Exit 75 with exactly one line on stderr that says why and that the MTA retries."""
    assert done.returncode == 75, done.stderr
    assert b"Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(b"siegel ingest: ") and RETRY in lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    assert done.stdout == b""


def message_ids(url: str) -> list[str]:
    """Message-IDs in the table `mail` of `url`, read with plain SQLAlchemy."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text("SELECT message_id FROM mail")).scalars())
    finally:
        engine.dispose()


def private_file(path: Path, content: bytes) -> Path:
    """A file only its owner reads: the service tightens others, with a log line."""
    path.write_bytes(content)
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------ 0: stored


@pytest.mark.parametrize(
    "backend",
    [
        pytest.param("sqlite", marks=pytest.mark.sqlite),
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ],
)
def test_exit_0_only_with_the_mail_committed(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Exit 0 means the mail is in the database: a new connection reads it there."""
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else f"sqlite:///{tmp_path / 'data' / 'siegel.db'}"
    )
    done = ingest(write_config(tmp_path, url=url), "-f", "kundin@example.org")
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"-: stored as mail 1\n"
    assert message_ids(url) == ["<pipe-1@example.org>"]


LOADED_BY_INGEST = """
import json, sys
from mailflow import cli
status = cli.main(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""
NOT_FOR_STORING = (
    "mailflow.commands",  # every other command and its parser
    "mailflow.migrations",  # every table's module
    "mediation.storage",
    "mailflow.parsing",
    "mailparser",
    "jinja2",
    "numpy",
)


def test_ingest_loads_only_what_storing_needs_once_the_schema_is_current(
    tmp_path: Path,
) -> None:
    """An MTA's pipe starts one `siegel ingest` per mail: it must not pay for the other
    commands, the tables' history or the worker's parser. A fresh database is upgraded
    first, which loads the migrations; the next mail's process loads none of them."""
    config = write_config(tmp_path)
    first = ingest(config, "-f", "kundin@example.org")
    assert first.returncode == 0, first.stderr
    second = subprocess.run(
        [sys.executable, "-c", LOADED_BY_INGEST, "--config", str(config), "ingest", "-"],
        input=COMPLAINT.replace(b"pipe-1@", b"pipe-2@"),
        capture_output=True,
        cwd=config.parent,
        timeout=120,
    )
    stored, report = second.stdout.decode().splitlines()
    loaded = json.loads(report)
    assert (stored, loaded["status"]) == ("-: stored as mail 2", 0), second.stderr
    assert [name for name in NOT_FOR_STORING if name in loaded["modules"]] == []


# ------------------------------------------------------------ 65, 66, 67: bounce


@pytest.mark.parametrize(
    ("stdin", "complaint"),
    [(b"", b"empty input"), (b"\n \n", b"empty input"), (COMPLAINT + b"x" * 10_000, b"exceeds")],
    ids=["empty", "blank", "oversize"],
)
def test_bad_data_exits_65_and_stores_nothing(
    tmp_path: Path, stdin: bytes, complaint: bytes
) -> None:
    """Only what can never pass is 65: no mail at all, or more than SMTP would take (552)."""
    done = ingest(write_config(tmp_path), stdin=stdin)
    assert done.returncode == 65, done.stderr
    assert complaint in done.stderr and b"Traceback" not in done.stderr
    assert not (tmp_path / "data" / "siegel.db").exists()  # refused before any storage


def test_missing_input_file_exits_66(tmp_path: Path) -> None:
    """A file argument that does not exist is 66, EX_NOINPUT."""
    done = ingest(write_config(tmp_path), str(tmp_path / "missing.eml"))
    assert done.returncode == 66, done.stderr
    assert b"cannot read" in done.stderr


def test_unknown_recipient_exits_67(tmp_path: Path) -> None:
    """A recipient outside our addresses is 67, EX_NOUSER: the MTA bounces it as 5.1.1."""
    done = ingest(write_config(tmp_path), "-r", f"nobody@{TEST_DOMAIN}")
    assert done.returncode == 67, done.stderr
    assert b"unknown recipient" in done.stderr


# ---------------------------------------------------------------- 75: try again


def test_busy_database_exits_75_and_the_retry_stores_the_mail(tmp_path: Path) -> None:
    """A writer lock held past the busy timeout is 75; once it is free the retry stores."""
    database = tmp_path / "data" / "siegel.db"
    url = f"sqlite:///{database}?timeout=0.5"
    config = write_config(tmp_path, url=url)
    warm_up = ingest(config, stdin=COMPLAINT.replace(b"pipe-1", b"pipe-0"))
    assert warm_up.returncode == 0, warm_up.stderr
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        started = time.monotonic()
        done = ingest(config)
        assert time.monotonic() - started >= 0.5
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert_try_again(done, b"database is locked")
    assert message_ids(f"sqlite:///{database}") == ["<pipe-0@example.org>"]
    again = ingest(config)
    assert again.returncode == 0, again.stderr
    assert message_ids(f"sqlite:///{database}") == ["<pipe-0@example.org>", "<pipe-1@example.org>"]


def test_corrupt_database_exits_75_and_is_left_as_it_was(tmp_path: Path) -> None:
    """Garbage in the database file is 75 (the operator restores it); the file is untouched."""
    garbage = bytes(range(256)) * 40
    database = private_file(tmp_path / "siegel.db", garbage)
    done = ingest(write_config(tmp_path, url=f"sqlite:///{database}"))
    assert_try_again(done, b"not a database")
    assert database.read_bytes() == garbage


def test_unknown_database_driver_exits_75(tmp_path: Path) -> None:
    """A URL naming a driver that is not installed is 75, not a bounce."""
    done = ingest(write_config(tmp_path, url="nosuchdb://siegel@localhost/siegel"))
    assert_try_again(done, b"nosuchdb")


def test_database_directory_that_cannot_be_created_exits_75(tmp_path: Path) -> None:
    """A database path below a regular file (no directory can be made there) is 75."""
    blocker = private_file(tmp_path / "not-a-directory", b"x")
    done = ingest(write_config(tmp_path, url=f"sqlite:///{blocker}/data/siegel.db"))
    assert_try_again(done, b"Not a directory")
    assert blocker.read_bytes() == b"x"


def test_postgresql_unreachable_exits_75(tmp_path: Path) -> None:
    """A PostgreSQL that does not answer (a closed local port) is 75."""
    port = free_port()
    done = ingest(write_config(tmp_path, url=f"postgresql+psycopg://x:y@127.0.0.1:{port}/none"))
    assert_try_again(done, str(port).encode())


SIEGEL_SECTION = f'[siegel]\ndomain = "{TEST_DOMAIN}"\ndata_dir = "data"\n'


@pytest.mark.parametrize(
    ("content", "env", "named"),
    [
        (SIEGEL_SECTION + "[smtp\n", {}, b"not valid TOML"),
        (SIEGEL_SECTION + "[smtp]\nport = 70000\n", {}, b"[smtp] port"),
        (SIEGEL_SECTION + "secret = 'too-short'\n", {}, b"[siegel] secret: the signing secret"),
        (SIEGEL_SECTION, {"SIEGEL_SECRET": ""}, b"SIEGEL_SECRET: the signing secret is empty"),
        (SIEGEL_SECTION + "[database]\nurl = 'sqlite:///x.db?timeout=soon'\n", {}, b"timeout"),
    ],
    ids=["toml", "value", "short-secret", "empty-secret-variable", "url-timeout"],
)
def test_configuration_error_exits_75_naming_it(
    tmp_path: Path, content: str, env: dict[str, str], named: bytes
) -> None:
    """A configuration error is one line naming the problem, and 75: the MTA keeps the mail."""
    path = tmp_path / "config.toml"
    path.write_text(content, encoding="utf-8")
    assert_try_again(ingest(path, env=env), named)


def test_missing_configuration_file_exits_75(tmp_path: Path) -> None:
    """The pipe pointing at a configuration file that is not there is 75, naming it."""
    assert_try_again(ingest(tmp_path / "absent.toml"), b"absent.toml")


def test_empty_secret_file_exits_75(tmp_path: Path) -> None:
    """An empty generated-secret file is refused (never an empty key), and 75 for ingest."""
    config = write_config(tmp_path, secret="")
    (tmp_path / "data").mkdir(mode=0o700)
    private_file(tmp_path / "data" / "secret", b"")
    assert_try_again(ingest(config), str(tmp_path / "data" / "secret").encode(), b"empty")


def test_data_directory_that_is_a_file_exits_75(tmp_path: Path) -> None:
    """A data_dir that is a regular file (no secret can be made in it) is 75."""
    private_file(tmp_path / "data", b"not a directory")
    assert_try_again(ingest(write_config(tmp_path, secret="")), b"data directory")


def test_bad_arguments_exit_75(tmp_path: Path) -> None:
    """A wrong option in the MTA's pipe command is the operator's to fix: 75, one line."""
    assert_try_again(ingest(write_config(tmp_path), "--recipeint", "x"), b"--recipeint")


def test_unexpected_error_exits_75_with_one_line_and_the_traceback_under_v(tmp_path: Path) -> None:
    """An error nobody foresaw (a damaged schema_version table: int <= str) is 75 in one
    line; `siegel -v` logs the traceback for the operator."""
    database = tmp_path / "damaged.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE schema_version (version, description, applied_at)")
        connection.execute("INSERT INTO schema_version VALUES ('seven', 'x', 'y')")
    connection.close()
    database.chmod(0o600)
    config = write_config(tmp_path, url=f"sqlite:///{database}")
    assert_try_again(ingest(config), b"TypeError")
    verbose = subprocess.run(
        [str(SIEGEL), "-v", "--config", str(config), "ingest"],
        input=COMPLAINT,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert verbose.returncode == 75
    assert b"Traceback" in verbose.stderr and b"TypeError" in verbose.stderr
