"""The command line's habits, as an operator sees them (stdout, stderr with the command's
own log, exit status; a process of its own where only that shows it): one line on stderr
and a documented exit code for every error, `--config` anywhere, quiet on a closed pipe,
complete or paginated `--json` lists, `siegel status`, `outbox show`."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import pty
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from sqlmodel import Session

from mailflow import cli, command_support, outbox
from mailflow.config import ConfigError, load
from mailflow.db import session_scope, utcnow
from mailflow.models import OutboxMail
from mailflow.schema import open_database
from mailflow.worker import Worker
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.net import free_port
from tests.test_maildir import queue

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[siegel]\ndomain = "{TEST_DOMAIN}"\nsecret = "{TEST_SECRET}"\ndata_dir = "data"\n{extra}',
        encoding="utf-8",
    )
    path.chmod(0o600)  # it holds the secret
    return path


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path)


def siegel(
    *args: str, stdin: bytes = b"", process: bool = False
) -> subprocess.CompletedProcess[str]:
    """`siegel ARGS` without SIEGEL_ variables (`--config` is in ARGS): what the operator
    sees, its stdout, stderr and exit status. In this process (`cli.main`, a second
    apiece less than a new Python) unless `process`: for what only a process of its own
    shows (its log on stderr, its end)."""
    if process:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
        return subprocess.run(
            [sys.executable, "-m", "mailflow.cli", *args],
            input=stdin.decode(),
            capture_output=True,
            text=True,
            env=environment,
            timeout=120,
            check=False,
        )
    hidden = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("SIEGEL_")}
    source = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    root = logging.getLogger()
    # The command sets up its own log on its stderr, as in a process of its own.
    handlers, level = root.handlers[:], root.level
    root.handlers.clear()
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()) as output,
            contextlib.redirect_stderr(io.StringIO()) as errors,
            mock.patch.object(sys, "stdin", source),
        ):
            try:
                status = cli.main(list(args))
            except SystemExit as exit_:
                status = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        os.environ.update(hidden)
        root.handlers[:] = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess(
        ["siegel", *args], status, output.getvalue(), errors.getvalue()
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The command's single stderr line (no traceback, no usage block)."""
    lines = [line for line in done.stderr.splitlines() if " INFO " not in line]
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def ingest(config: Path, number: int) -> None:
    mail = (
        f"From: kundin{number}@example.org\nTo: beschwerde@{TEST_DOMAIN}\n"
        f"Subject: Beschwerde {number}\nMessage-ID: <habit-{number}@example.org>\n\n"
        f"Meine Bestellung {number} ist nicht angekommen.\n"
    ).encode()
    done = siegel("ingest", "--config", str(config), stdin=mail)
    assert done.returncode == 0, done.stderr


# ------------------------------------------------------------------ options


def test_config_is_taken_before_and_after_the_command(config_path: Path) -> None:
    """`--config` works wherever it stands: before the command, after it, after a verb."""
    ingest(config_path, 1)
    before = siegel("--config", str(config_path), "mails", "--json")
    after = siegel("mails", "--json", "--config", str(config_path))
    assert before.returncode == after.returncode == 0, after.stderr
    assert json.loads(before.stdout) == json.loads(after.stdout)
    assert [m["id"] for m in json.loads(after.stdout)] == [1]
    verb = siegel("merchant", "list", "--config", str(config_path))
    assert verb.returncode == 0 and verb.stdout.strip() == "(none)", verb.stderr


def test_unknown_status_is_refused_in_one_line_listing_the_valid_ones(config_path: Path) -> None:
    """An unknown --status is a usage error (exit 2) that names every valid status."""
    done = siegel("mails", "--config", str(config_path), "--status", "bogus")
    assert done.returncode == command_support.EX_USAGE == 2
    line = one_line(done)
    assert "'bogus'" in line and all(s in line for s in ("new", "processing", "quarantined"))
    assert "--help" in line  # the hint
    done = siegel("outbox", "--config", str(config_path), "--status", "lost")
    assert done.returncode == 2 and "suppressed" in one_line(done)
    done = siegel("cases", "--config", str(config_path), "--state", "closed")
    assert done.returncode == 2 and "closed_resolved" in one_line(done)


def test_unknown_merchant_filter_is_refused_listing_the_registered_ones(config_path: Path) -> None:
    """`cases --merchant` (and `feedback`, `score`) with an unregistered slug is exit 2,
    not an empty "(none)" with exit 0; the line names the registered merchants."""
    added = siegel(
        "merchant", "add", "moebel-fuchs", "--name", "Möbel Fuchs",
        "--email", "support@moebel-fuchs.example", "--config", str(config_path),
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    for command in (["cases"], ["feedback"], ["score"]):
        done = siegel(*command, "--merchant", "moebel-fux", "--config", str(config_path))
        assert done.returncode == 2, (command, done.stderr)
        line = one_line(done)
        assert "moebel-fux" in line and "moebel-fuchs" in line and "merchant list" in line
    known = siegel("cases", "--merchant", "moebel-fuchs", "--config", str(config_path))
    assert known.returncode == 0 and known.stdout.strip() == "(none)"


def test_bad_option_values_are_one_line_usage_errors(config_path: Path) -> None:
    """A malformed number or time is exit 2 with one line, never argparse's usage block;
    so is a number larger than a database integer (a black-box run got a traceback)."""
    huge = "99999999999999999999"
    for args in (
        ["mails", "--limit", "0"],
        ["sweep", "--at", "morgen"],
        ["mail", "x"],
        ["cases", "--offset", huge],
        ["held", "--limit", huge],
        ["outbox", "show", huge],
    ):
        done = siegel(*args, "--config", str(config_path))
        assert done.returncode == 2, (args, done.stderr)
        one_line(done)


def test_jsonl_with_wrong_keys_fails_with_the_line_number(
    config_path: Path, tmp_path: Path
) -> None:
    """`classify --jsonl` whose lines carry the text under another key is bad data (65)
    with the first bad line's number, never an "other" classification of nothing."""
    source = tmp_path / "in.jsonl"
    source.write_text(
        json.dumps({"id": 1, "subject": "", "body": ""}) + "\n"
        + json.dumps({"id": 2, "text": "Paket fehlt"}) + "\n",
        encoding="utf-8",
    )  # fmt: skip
    done = siegel("classify", "--jsonl", str(source), "--config", str(config_path))
    assert done.returncode == command_support.EX_DATAERR == 65
    line = one_line(done)
    assert "line 1" in line and "2 lines not classified" in line
    out = [json.loads(text) for text in done.stdout.splitlines()]
    assert [o["id"] for o in out] == [1, 2]
    assert all("error" in o and "category" not in o for o in out)
    assert "unknown key 'text'" in out[1]["error"]
    missing = siegel("classify", "--jsonl", str(tmp_path / "nope"), "--config", str(config_path))
    assert missing.returncode == command_support.EX_NOINPUT == 66
    one_line(missing)


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ("[outbox]\nmax_autoreplies_per_day = -1\n", "[outbox] max_autoreplies_per_day: must be 0"),
        ("[outbox]\nmax_staff_mails_per_day = -5\n", "[outbox] max_staff_mails_per_day: must be 0"),
        ("[relay]\nmax_backoff_seconds = -1\n", "[relay] max_backoff_seconds: must be greater"),
        ("[scoring]\nbronze_max_p90_hours = 50\n", "bronze_max_p90_hours: must be whole hours"),
        ('[calendar]\ncloses = "08:00"\n', "opening window 09:00-08:00 must open before"),
        ('[calendar]\nopens = "9 Uhr"\n', "opens: '9 Uhr' is not a time of day (HH:MM)"),
        ('[calendar]\ncloses = "25:00"\n', "closes: '25:00' is not a time of day"),
        ('[calendar]\nclosed_dates = ["2026-13-45"]\n', "closed_dates: '2026-13-45' is not a date"),
        (
            '[[imap]]\nhost = "imap.example.org"\nusername = "a@example.org"\npolll_seconds = 3\n',
            "[[imap]] #0 polll_seconds: unknown key",
        ),
        (
            '[[imap]]\nhost = "imap.example.org"\nusername = "a@example.org"\npoll_seconds = 0\n',
            "[[imap]] #0 poll_seconds: must be greater than 0",
        ),
        (  # every mail of it would be held as sent to no address of ours
            '[[imap]]\nhost = "imap.example.org"\nusername = "beschwerde-1@imap.example.org"\n',
            "[[imap]] #0 address: 'beschwerde-1@imap.example.org' is no address of ours",
        ),
    ],
)
def test_a_wrong_value_is_named_in_words_an_operator_reads(
    tmp_path: Path, extra: str, says: str
) -> None:
    """Every wrong value: its key and what is wrong, in the operator's terms (no Python
    reprs); no negative number slips through as a silent cap. (The command prints it as
    one line with exit 2: `test_bad_configuration_is_one_line_exit_2`.)"""
    with pytest.raises(ConfigError) as refused:
        load(write_config(tmp_path, extra), environ={})
    assert says in str(refused.value)
    assert "datetime" not in str(refused.value)


def test_an_imap_login_that_is_no_address_of_ours_names_the_address_it_receives(
    tmp_path: Path,
) -> None:
    imap = '[[imap]]\nhost = "imap.example.org"\nusername = "beschwerde-1"\n'
    config = write_config(tmp_path, imap + f'address = "beschwerde@{TEST_DOMAIN}"\n')
    assert load(config).imap[0].mailbox_address == f"beschwerde@{TEST_DOMAIN}"
    assert siegel("status", "--config", str(config)).returncode == 0


def test_a_key_above_every_section_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'data_dir = "data"\n[siegel]\nsecret = "{TEST_SECRET}"\n', encoding="utf-8")
    done = siegel("status", "--config", str(path))
    assert done.returncode == 2
    assert "data_dir: a key outside any section" in one_line(done)


def test_bad_configuration_is_one_line_exit_2(tmp_path: Path) -> None:
    """A wrong key in the file: one line naming it, exit 2 (75 only for `ingest`)."""
    path = write_config(tmp_path, "[relay]\nmaildir = 7\n")
    done = siegel("status", "--config", str(path))
    assert done.returncode == 2 and "[relay] maildir" in one_line(done)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqlite:///{tmp}/x.db?timeout=abc", "timeout must be seconds"),
        ("garbage", "not a database URL"),
        ("mysql://user@localhost/siegel", "no driver for 'mysql'"),
    ],
)
def test_an_unusable_database_url_is_a_configuration_error(
    tmp_path: Path, url: str, says: str
) -> None:
    """A database URL that cannot work as written: one line naming the key, exit 2."""
    path = write_config(tmp_path, f'[database]\nurl = "{url.format(tmp=tmp_path)}"\n')
    done = siegel("status", "--config", str(path))
    assert done.returncode == command_support.EX_USAGE == 2
    line = one_line(done)
    assert "[database] url" in line and says in line


def test_a_database_that_cannot_be_used_now_is_one_line_exit_75(tmp_path: Path) -> None:
    """Not a database file, a server that does not answer, a lock held past the URL's
    timeout: one line saying so, exit 75 (try again), never a traceback."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(bytes(range(256)) * 32)
    garbage.chmod(0o600)  # not to be told that it was tightened
    unreachable = f"postgresql+psycopg://siegel:pw@127.0.0.1:{free_port()}/siegel"
    locked = tmp_path / "locked.db"
    done = siegel(
        "status",
        "--config",
        str(write_config(tmp_path, f'[database]\nurl = "sqlite:///{locked}"\n')),
    )
    assert done.returncode == 0, done.stderr
    for url, says in (
        (f"sqlite:///{garbage}", "file is not a database"),
        (unreachable, "connection failed"),
        (f"sqlite:///{locked}?timeout=0.2", "database is locked"),
    ):
        path = write_config(tmp_path, f'[database]\nurl = "{url}"\n')
        holder = subprocess.Popen(  # holds the writer's turn while the command runs
            [sys.executable, "-c", HOLD_WRITE_LOCK, str(locked)], stdout=subprocess.PIPE
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
            done = siegel("mediator", "add", "petra@example.org", "--config", str(path))
        finally:
            holder.kill()
            holder.wait()
        assert done.returncode == command_support.EX_TEMPFAIL == 75, done.stderr
        line = one_line(done)
        assert line.startswith("siegel: database error: ") and says in line
        assert "pw@" not in line


HOLD_WRITE_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(60)
"""


def test_staff_and_shop_addresses_must_be_mailboxes_outside_the_service(
    config_path: Path,
) -> None:
    """A mediator or a shop's support address at one of the service's own addresses would
    send our mail back into our intake: refused with one line, exit 2. A shop's name and
    support address cannot be cleared with `-`."""
    config = ("--config", str(config_path))
    for address in (
        f"service@{TEST_DOMAIN}",
        f"beschwerde@{TEST_DOMAIN}",
        f"Postmaster@{TEST_DOMAIN}",
    ):
        done = siegel("mediator", "add", address, *config)
        assert done.returncode == command_support.EX_USAGE, done.stderr
        assert "one of the service's own addresses" in one_line(done)
    shop = ("merchant", "add", "fuchs", "--name", "Möbel Fuchs")
    done = siegel(*shop, "--email", f"beschwerde+fuchs@{TEST_DOMAIN}", *config)
    assert done.returncode == command_support.EX_USAGE
    assert "--email beschwerde+fuchs@" in one_line(done)
    done = siegel(*shop, "--email", "s@fuchs.example", "--domain", f"mail.{TEST_DOMAIN}", *config)
    assert done.returncode == command_support.EX_USAGE
    assert "the service's own domain" in one_line(done)
    assert (
        siegel(
            *shop, "--email", "support@fuchs.example", "--domain", "füchs.example", *config
        ).returncode
        == 0
    )
    shown = json.loads(siegel("merchant", "show", "fuchs", "--json", *config).stdout)
    assert shown["domains"] == ["xn--fchs-0ra.example"]  # as DNS and mail headers write it
    for option in ("--email", "--name"):
        done = siegel("merchant", "set", "fuchs", option, "-", *config)
        assert done.returncode == command_support.EX_USAGE, done.stderr
        assert f"{option}: a shop needs" in one_line(done)
    done = siegel("merchant", "set", "fuchs", "--name", "F" * 100_000, *config)  # a 216 KB page
    assert done.returncode == command_support.EX_USAGE
    assert "--name: at most 200 characters" in one_line(done)
    assert siegel("mediator", "add", "petra@schlichtung.example", *config).returncode == 0


# ------------------------------------------------------------------ output


@pytest.mark.parametrize("command", ["mails", "classify"])
def test_closed_pipe_is_quiet_and_exits_141(
    config_path: Path, tmp_path: Path, command: str
) -> None:
    """`siegel mails | head`, `siegel classify --jsonl IN | head`: the reader leaves
    early; no BrokenPipe traceback and no "cannot read", exit 141 as a shell reports a
    process ended by SIGPIPE."""
    for number in range(1, 4):
        ingest(config_path, number)
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"id": 1, "subject": "Paket", "body": "Wo ist es?"}) + "\n")
    args = {"mails": ["mails"], "classify": ["classify", "--jsonl", str(source)]}[command]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before the command writes a byte
    try:
        process = subprocess.run(
            [sys.executable, "-m", "mailflow.cli", *args, "--config", str(config_path)],
            stdout=writer,
            stderr=subprocess.PIPE,
            env=environment,
            timeout=120,
            check=False,
        )
    finally:
        os.close(writer)
    assert process.returncode == command_support.EX_PIPE == 141, process.stderr
    assert b"Traceback" not in process.stderr and b"BrokenPipe" not in process.stderr


def test_text_from_a_mail_cannot_drive_the_operators_terminal(config_path: Path) -> None:
    """Terminal escapes (clear screen, window title, bell): in a subject's encoded word
    they are gone when the mail is read; in its text `siegel mail` shows them as \\xNN;
    `siegel mails`, text and JSON, never writes one."""
    mail = (
        f"From: kundin@example.org\nTo: beschwerde@{TEST_DOMAIN}\n"
        "Subject: =?utf-8?q?Hallo=1B[2J=1B]0;pwned=07?=\nMessage-ID: <escape@example.org>\n\n"
        "Meine Bestellung \x1b[2J ist nicht angekommen.\x07\n"
    ).encode()
    assert siegel("ingest", "--config", str(config_path), stdin=mail).returncode == 0
    config = load(config_path)
    engine = open_database(config.database_url)
    try:
        assert Worker(engine, config).drain() == 1
    finally:
        engine.dispose()
    for command in (["mails"], ["mail", "1"], ["mails", "--json"]):
        done = siegel(*command, "--config", str(config_path))
        assert done.returncode == 0, done.stderr
        assert "\x1b" not in done.stdout and "\x07" not in done.stdout
        assert "Hallo[2J]0;pwned" in done.stdout, done.stdout
    shown = siegel("mail", "1", "--config", str(config_path)).stdout
    assert "Bestellung \\x1b[2J ist" in shown, shown


def test_a_raw_mail_is_raw_in_a_pipe_and_printable_on_a_terminal(config_path: Path) -> None:
    """`siegel mail ID --raw` writes the bytes as they came into a pipe; on a terminal
    (a pty here) the mail's escape sequences are shown as \\xNN, not obeyed."""
    mail = (
        f"From: kundin@example.org\nTo: beschwerde@{TEST_DOMAIN}\nSubject: s\n"
        "Message-ID: <raw@example.org>\n\nHallo \x1b[2J Welt\n"
    ).encode()
    assert siegel("ingest", "--config", str(config_path), stdin=mail).returncode == 0
    command = [
        sys.executable,
        "-m",
        "mailflow.cli",
        "mail",
        "1",
        "--raw",
        "--config",
        str(config_path),
    ]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIEGEL_")}
    piped = subprocess.run(command, capture_output=True, env=environment, timeout=120)
    assert b"Hallo \x1b[2J Welt" in piped.stdout
    leader, follower = pty.openpty()
    try:
        shown = subprocess.run(command, stdout=follower, env=environment, timeout=120)
        assert shown.returncode == 0
        os.close(follower)
        follower = -1
        text = b""
        with contextlib.suppress(OSError):  # EIO once the pty's other side is closed
            while chunk := os.read(leader, 65536):
                text += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    assert b"\x1b" not in text and b"Hallo \\x1b[2J Welt" in text


def test_json_lists_are_complete_or_paginated_with_a_total(config_path: Path) -> None:
    """`--json` alone lists every row (beyond the table's 100); with --limit/--offset it
    is one page with the total; the table says on stderr when rows are left out."""
    engine = open_database(load(config_path).database_url)
    from mailflow import spool

    spool.store(
        engine,
        [
            spool.Arrival(
                raw=f"Subject: {n}\nMessage-ID: <page-{n}@example.org>\n\nText {n}\n".encode(),
                envelope_from="kunde@example.org",
                envelope_to=(f"beschwerde@{TEST_DOMAIN}",),
                source="test",
            )
            for n in range(105)
        ],
    )
    engine.dispose()
    complete = siegel("mails", "--json", "--config", str(config_path))
    assert complete.returncode == 0, complete.stderr
    assert len(json.loads(complete.stdout)) == 105
    page = json.loads(
        siegel(
            "mails", "--json", "--limit", "10", "--offset", "100", "--config", str(config_path)
        ).stdout
    )
    assert (page["total"], page["offset"], page["limit"]) == (105, 100, 10)
    assert [m["id"] for m in page["items"]] == [5, 4, 3, 2, 1]
    table = siegel("mails", "--config", str(config_path))
    assert table.returncode == 0
    assert len(table.stdout.splitlines()) == 100
    assert "rows 1-100 of 105" in one_line(table) and "--offset 100" in table.stderr


# ------------------------------------------------------------------ servers


def test_port_in_use_is_one_line_exit_69(tmp_path: Path) -> None:
    """`siegel intake` (and `serve`) on a port another process holds: one line naming the
    address and the key that moves it, exit 69, and nothing started."""
    port = free_port()
    path = write_config(tmp_path, f"[smtp]\nport = {port}\n")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        done = siegel("intake", "--config", str(path))
    assert done.returncode == command_support.EX_UNAVAILABLE == 69
    line = one_line(done)
    assert f"127.0.0.1:{port}" in line and "in use" in line and "[smtp] port" in line


def test_the_scheduler_logs_nothing_at_info(tmp_path: Path) -> None:
    """An idle service writes next to nothing: APScheduler's two lines per job run (the
    sweep every minute) are kept below WARNING unless `--verbose`."""
    script = (
        "import time\n"
        "from apscheduler.schedulers.background import BackgroundScheduler\n"
        "from mailflow import logs\n"
        "logs.configure(False)\n"
        "scheduler = BackgroundScheduler(timezone='UTC')\n"
        "scheduler.add_job(lambda: None, 'interval', seconds=0.05, id='sweep')\n"
        "scheduler.start(); time.sleep(0.5); scheduler.shutdown()\n"
    )
    quiet = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert quiet.stderr == ""
    loud = subprocess.run(
        [sys.executable, "-c", script.replace("configure(False)", "configure(True)")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "apscheduler" in loud.stderr


# ------------------------------------------------------------------ status, outbox show


def _queue_mail(config_path: Path) -> int:
    config = load(config_path)
    engine = open_database(config.database_url)
    row_id = queue(
        engine,
        config,
        "erika@example.org",
        "Ihre Beschwerde [SSG-2026-000001]",
        to_name="Erika Muster",
        text="Guten Tag,\n\nwir haben Ihre Beschwerde erhalten.\n",
        html="<p>Guten Tag,</p><p>wir haben Ihre <b>Beschwerde</b> erhalten.</p>"
        '<p style="display:none">unsichtbar</p>',
        case_ref="SSG-2026-000001",
    )
    engine.dispose()
    return row_id


def test_outbox_show_prints_the_mail_as_it_reads_and_raw(config_path: Path) -> None:
    """`outbox show ID`: decoded headers, the text part, the HTML part as text (hidden
    text left out), the attempts; `--raw` the bytes the relay sends."""
    row_id = _queue_mail(config_path)
    done = siegel("outbox", "show", str(row_id), "--config", str(config_path))
    assert done.returncode == 0, done.stderr
    shown = done.stdout
    assert "Subject: Ihre Beschwerde [SSG-2026-000001]" in shown
    assert "To:" in shown and "Erika Muster" in shown
    assert "wir haben Ihre Beschwerde erhalten." in shown
    assert "HTML part, as text" in shown and "unsichtbar" not in shown
    assert "(none yet)" in shown
    detail = json.loads(
        siegel("outbox", "show", str(row_id), "--json", "--config", str(config_path)).stdout
    )
    assert detail["attempts"] == [] and "Beschwerde erhalten" in detail["html_as_text"]
    raw = subprocess.run(
        [sys.executable, "-m", "mailflow.cli", "outbox", "show", str(row_id), "--raw",
         "--config", str(config_path)],
        capture_output=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    config = load(config_path)
    with Session(open_database(config.database_url)) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        assert raw == outbox.message(row, config)
    missing = siegel("outbox", "show", "999", "--config", str(config_path))
    assert missing.returncode == 1 and "no outgoing mail 999" in one_line(missing)


def test_status_shows_queues_relay_trouble_and_what_waits(config_path: Path) -> None:
    """`siegel status --json`: mails by status with the oldest unprocessed, the outbox by
    status with deferrals, rows claimed or sending for over a minute (stuck: a relay died
    holding them) and the last failure, held mails, deadlines."""
    ingest(config_path, 1)
    ingest(config_path, 2)
    row_id = _queue_mail(config_path)
    held = [_queue_mail(config_path) for _ in range(3)]
    config = load(config_path)
    engine = open_database(config.database_url)
    now = utcnow()
    since = [now - timedelta(minutes=5), now - timedelta(minutes=2), now - timedelta(seconds=5)]
    with session_scope(engine) as session:
        statuses = ["sending", "claimed", "claimed"]
        for held_id, status, claimed_at in zip(held, statuses, since, strict=True):
            row = session.get(OutboxMail, held_id)
            assert row is not None
            row.status, row.claimed_at, row.claimed_by = status, claimed_at, "elsewhere:1:1"
    from mailflow.relay import Answer, Claimed, Relay

    relay = Relay(engine, config)
    with Session(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        claimed = Claimed(row_id, row.recipient, "bounce@x", row.raw, utcnow())
    with session_scope(engine) as session:
        session.get(OutboxMail, row_id).status = "sending"  # type: ignore[union-attr]
    relay._record(claimed, Answer(451, "try later"), utcnow(), None)
    engine.dispose()
    done = siegel("status", "--json", "--config", str(config_path))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["mails"]["by_status"] == {"new": 2, "processing": 0, "done": 0, "quarantined": 0}
    assert report["mails"]["oldest_unprocessed"]["id"] == 1
    assert report["outbox"]["by_status"]["queued"] == 1 and report["outbox"]["deferred"] == 1
    assert report["outbox"]["last_failure"]["response"] == "try later"
    stuck = report["outbox"]["stuck"]
    assert stuck["count"] == 2 and stuck["age_seconds"] >= 300
    assert datetime.fromisoformat(stuck["oldest_claimed_at"]) == since[0]
    assert report["held_mails"] == 0 and report["deadlines"]["pending"] == 0
    text = siegel("status", "--config", str(config_path))
    assert "oldest unprocessed: mail 1" in text.stdout and "1 deferred" in text.stdout
    oldest = command_support.local_time(since[0], config)
    assert f"2 stuck (claimed or sending since {oldest}, 5 min)" in text.stdout


@pytest.mark.parametrize(
    ("utc", "shown"),
    [
        (datetime(2026, 12, 8, 12, 0, tzinfo=UTC), "2026-12-08 13:00 CET"),
        (datetime(2026, 7, 8, 12, 0, tzinfo=UTC), "2026-07-08 14:00 CEST"),
    ],
)
def test_a_time_the_text_output_shows_is_read_back_by_at(
    tmp_path: Path, utc: datetime, shown: str
) -> None:
    """Text output shows the operator's local time with its zone; the same time typed
    into `--at` (ISO, without the zone) is that moment: `status` and `sweep --at` agree."""
    config = make_config(tmp_path)
    assert command_support.local_time(utc, config) == shown
    assert command_support.local_time(utc.isoformat(), config) == shown
    typed = shown.rsplit(" ", 1)[0].replace(" ", "T")
    assert command_support.moment_option(typed, config) == utc
    assert command_support.moment_option(utc.isoformat(), config) == utc
    with pytest.raises(command_support.UsageError, match="--at 'morgen': expected an ISO"):
        command_support.moment_option("morgen", config)
