"""The `siegel` commands of the mail path, run as a user runs them: a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DOMAIN, TEST_SECRET

COMPLAINT = (
    f"From: Kundin <kundin@example.org>\nTo: beschwerde@{TEST_DOMAIN}\n"
    "Subject: =?utf-8?q?R=C3=BCckerstattung_fehlt?=\nMessage-ID: <cli-1@example.org>\n\n"
    "Ich warte seit fünf Wochen auf mein Geld.\n"
).encode()


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\ndata_dir = "data"\n'
        f"[smtp]\nmax_message_bytes = 10000\n{extra}",
        encoding="utf-8",
    )
    return path


def siegel(config: Path, *args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    """Run the command as an operator or MTA does: a new process, exit code and output."""
    return subprocess.run(
        [sys.executable, "-m", "mailflow.cli", "--config", str(config), *args],
        input=stdin,
        capture_output=True,
        timeout=120,
        check=False,
    )


def siegel_here(
    config: Path, *args: str, stdin: bytes = b"", capfd: pytest.CaptureFixture[bytes]
) -> subprocess.CompletedProcess[bytes]:
    """The same command through `cli.main` in this process (faster; same code path)."""
    import io

    from mailflow import cli

    saved = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = cli.main(["--config", str(config), *args])
    finally:
        sys.stdin = saved
    out, err = capfd.readouterr()
    return subprocess.CompletedProcess(args, code, out, err)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def test_ingest_from_stdin_stores_and_exits_0(config_path: Path) -> None:
    """An MTA pipe: exit 0 only after the commit; `siegel mails --json` shows the mail."""
    done = siegel(config_path, "ingest", "-f", "kundin@example.org", stdin=COMPLAINT)
    assert done.returncode == 0, done.stderr
    assert b"stored as mail 1" in done.stdout
    listed = json.loads(siegel(config_path, "mails", "--json").stdout)
    [mail] = listed
    assert {"id", "message_id", "sha256", "status", "received_at", "machine"} <= mail.keys()
    assert mail["message_id"] == "<cli-1@example.org>"
    assert mail["status"] == "new" and mail["machine"] is None
    assert mail["envelope_to"] == [f"beschwerde@{TEST_DOMAIN}"]
    raw = siegel(config_path, "mail", "1", "--raw").stdout
    assert raw == COMPLAINT


def test_ingest_same_file_twice_is_one_mail(config_path: Path, tmp_path: Path) -> None:
    """Feeding the same mail again (an MTA retrying) stores it once."""
    eml = tmp_path / "a.eml"
    eml.write_bytes(COMPLAINT)
    assert siegel(config_path, "ingest", str(eml)).returncode == 0
    again = siegel(config_path, "ingest", str(eml))
    assert again.returncode == 0 and b"already stored as mail 1" in again.stdout
    assert len(json.loads(siegel(config_path, "mails", "--json").stdout)) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "code", "message"),
    [
        (["-r", "someone@example.com"], COMPLAINT, 67, b"unknown recipient"),
        (["-r", f"nobody@{TEST_DOMAIN}"], COMPLAINT, 67, b"no such address"),
        ([], COMPLAINT.replace(b"beschwerde@siegel.test", b"x@example.com"), 67, b"no recipient"),
        ([], COMPLAINT + b"x" * 20_000, 65, b"exceeds max_message_bytes"),
        (["/nonexistent/mail.eml"], b"", 66, b"cannot read"),
    ],
    ids=["foreign", "unknown-local", "no-recipient", "oversize", "missing-file"],
)
def test_ingest_refuses_bad_input_with_sysexits(
    config_path: Path,
    args: list[str],
    stdin: bytes,
    code: int,
    message: bytes,
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    """Bad input gets the sysexits code an MTA turns into a clear bounce, and one line."""
    done = siegel_here(config_path, "ingest", *args, stdin=stdin, capfd=capfdbinary)
    assert done.returncode == code
    assert message in done.stderr
    listed = siegel_here(config_path, "mails", "--json", capfd=capfdbinary)
    assert json.loads(listed.stdout) == []


@pytest.mark.parametrize(
    ("content", "key"),
    [
        ('[smtp]\nport = "twenty-five"\n', b"[smtp] port"),
        ("[smtp]\nport = 70000\n", b"[smtp] port"),
        ('[siegel]\ndomain = "no domain"\n', b"[siegel] domain"),
        ("[relay]\nstarttls = 1\n", b"[relay] starttls"),
        ("[smtp]\nprot = 25\n", b"[smtp] prot"),
        ("[smtp\n", b"not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key_and_exit_2(
    tmp_path: Path, content: str, key: bytes, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A wrong configuration value stops every command with one line naming it."""
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    done = siegel_here(path, "mails", capfd=capfdbinary)
    assert done.returncode == 2
    assert key in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_an_unreadable_config_file_is_one_line_and_exit_2(
    tmp_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """Bytes that are not UTF-8, or a directory given as the file: one line naming the
    path and what is wrong with it, exit 2, no traceback."""
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe[siegel]\n")
    for path, said in ((binary, b"not UTF-8 text (byte 1)"), (tmp_path, b"is a directory")):
        done = siegel_here(path, "status", capfd=capfdbinary)
        assert done.returncode == 2, done.stderr
        assert said in done.stderr and str(path).encode() in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1


def test_config_from_environment_and_secret_override(tmp_path: Path) -> None:
    """SIEGEL_CONFIG selects the file; without a secret one is generated once, mode 0600."""
    path = tmp_path / "env.toml"
    path.write_text(f'[siegel]\ndomain = "{TEST_DOMAIN}"\ndata_dir = "state"\n', encoding="utf-8")
    env = {"SIEGEL_CONFIG": str(path), "PATH": "/usr/bin:/bin"}
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "mailflow.cli", "mails"],
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    secret = tmp_path / "state" / "secret"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert len(secret.read_text().strip()) >= 32


def test_quarantine_and_requeue(
    config_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """A quarantined mail is listed with its reason; `siegel requeue` makes it new again."""
    from mailflow import queue
    from mailflow.config import load
    from mailflow.schema import open_database

    def run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
        return siegel_here(config_path, *args, stdin=stdin, capfd=capfdbinary)

    assert run("ingest", stdin=COMPLAINT).returncode == 0
    engine = open_database(load(config_path).database_url)
    queue.quarantine(engine, 1, "operator test: broken beyond repair")
    engine.dispose()
    [row] = json.loads(run("quarantine", "--json").stdout)
    assert row["id"] == 1 and row["quarantine_reason"] == "operator test: broken beyond repair"
    assert run("requeue", "1").returncode == 0
    assert json.loads(run("quarantine", "--json").stdout) == []
    assert json.loads(run("mails", "--status", "new", "--json").stdout)[0]["id"] == 1
    assert run("requeue", "99").returncode == 1
    assert run("requeue").returncode == run("requeue", "1", "--all").returncode == 2


def test_requeue_takes_several_mails_or_all_quarantined(
    config_path: Path, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    """After an interruption quarantined a batch, `requeue --all` (or several ids) puts
    them back at once; each gets its line, a refused one a line on stderr and exit 1."""
    from mailflow import queue
    from mailflow.config import load
    from mailflow.schema import open_database

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return siegel_here(config_path, *args, capfd=capfdbinary)

    for number in range(1, 5):
        mail = COMPLAINT.replace(b"Message-ID: <", f"Message-ID: <{number}-".encode())
        assert siegel_here(config_path, "ingest", stdin=mail, capfd=capfdbinary).returncode == 0
    engine = open_database(load(config_path).database_url)
    for mail_id in (1, 2, 3, 4):
        queue.quarantine(engine, mail_id, "worker interrupted 1 times")
    done = run("requeue", "1", "2", "7")
    assert done.returncode == 1
    assert done.stdout.splitlines() == [b"mail 1 requeued", b"mail 2 requeued"]
    assert b"no mail 7" in done.stderr
    done = run("requeue", "--all")
    assert (done.returncode, done.stdout.splitlines()) == (
        0,
        [b"mail 3 requeued", b"mail 4 requeued"],
    )
    assert queue.quarantined_ids(engine) == []
    assert run("requeue", "--all").stdout == b"no quarantined mail\n"
    engine.dispose()
