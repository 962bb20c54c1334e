"""Scale-out: `siegel intake`, `siegel worker` and `siegel relay` as separate processes.

Each command starts and stops cleanly on SIGTERM (SQLite). On PostgreSQL two worker
processes drain one queue with every mail turned into exactly one case; two processes
sweeping at once send each reminder once; two transactions enqueueing automatic replies
to one address at the cap never exceed it; case numbers come from a sequence that
starts after the highest number used and takes no row lock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session

from mailflow import casework, migrations, nightly, outbox, schema, service, spool
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import MailStatus, OutboxMail, OutboxStatus, ScheduledRun, StoredMail
from mediation import storage
from mediation.outgoing import OutgoingMail
from mediation.storage import Case, CaseDeadline, CaseSequence
from mediation.workflow import Deadline
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.net import free_port, wait_for_port
from tests.test_case_service import add_merchant, open_case

STOP_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, **extra: str) -> Path:
    """A config file for a subprocess: test domain and secret, fast polling, free ports."""
    path = tmp_path / "config.toml"
    sections = "\n".join(f"[{name}]\n{body}\n" for name, body in extra.items())
    path.write_text(
        f"""
[siegel]
domain = "{TEST_DOMAIN}"
secret = "{TEST_SECRET}"
data_dir = "data"

[smtp]
port = {free_port()}

[relay]
port = {free_port()}
retry_base_seconds = 0.2
max_backoff_seconds = 1

[queue]
poll_seconds = 0.2
lease_seconds = 30

{sections}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A classifier model trained once for this module, copied into each data dir."""
    folder = tmp_path_factory.mktemp("model")
    casework.model(make_config(folder))
    return folder / "data"


def install_model(trained: Path, data_dir: Path) -> None:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in trained.glob("classifier*"):
        shutil.copy2(path, data_dir / path.name)


def start(
    command: str, config_path: Path, log_path: Path, *options: str, database_url: str = ""
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if database_url:
        env["SIEGEL_DATABASE_URL"] = database_url
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mailflow.cli", "--config", str(config_path), command, *options],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )


def wait_for_log(log_path: Path, needle: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while needle not in log_path.read_text(errors="replace"):
        assert process.poll() is None, log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, log_path.read_text(errors="replace")
        time.sleep(0.05)


def terminate(process: subprocess.Popen[bytes], log_path: Path) -> None:
    """SIGTERM, then the process must exit 0 by itself and say so in its log."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"no exit within {STOP_TIMEOUT} s of SIGTERM:\n{log_path.read_text()}")
    output = log_path.read_text(errors="replace")
    assert code == 0, output
    assert "received SIGTERM" in output and "stopped" in output, output
    assert "Traceback" not in output, output


# ------------------------------------------------------------------ each command alone


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "command, options",
    [("intake", ()), ("worker", ()), ("worker", ("--threads", "3")), ("relay", ())],
    ids=["intake", "worker", "worker-3-threads", "relay"],
)
def test_each_command_starts_and_stops_cleanly_on_sigterm(
    command: str, options: tuple[str, ...], tmp_path: Path, trained_model: Path
) -> None:
    """`siegel intake|worker|relay` runs only its part and exits 0 on SIGTERM."""
    config_path = write_config(tmp_path)
    install_model(trained_model, tmp_path / "data")
    log_path = tmp_path / f"{command}.log"
    process = start(command, config_path, log_path, *options)
    try:
        if command == "intake":
            smtp_port = int(config_path.read_text().split("[smtp]\nport = ")[1].split()[0])
            wait_for_port(smtp_port)
            wait_for_log(log_path, "serving SMTP", process)
        else:
            wait_for_log(log_path, f"running {command}", process)
    finally:
        if process.poll() is None:
            terminate(process, log_path)
    output = log_path.read_text()
    if command != "intake":
        assert "serving SMTP" not in output, output
    if options:
        assert "running worker, 3 threads" in output, output


@pytest.mark.sqlite
def test_worker_refuses_fewer_than_one_thread(tmp_path: Path) -> None:
    """`siegel worker --threads 0` is a usage error (exit 2), not a worker that never works."""
    config_path = write_config(tmp_path)
    arguments = ["--config", str(config_path), "worker", "--threads", "0"]
    done = subprocess.run(
        [sys.executable, "-m", "mailflow.cli", *arguments],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "siegel worker: argument --threads: 0 is less than 1" in done.stderr


@pytest.mark.sqlite
def test_intake_stores_and_a_separate_worker_processes(tmp_path: Path, trained_model: Path) -> None:
    """On SQLite too the parts may run as processes: intake stores, the worker opens the case."""
    import smtplib

    config_path = write_config(tmp_path)
    install_model(trained_model, tmp_path / "data")
    smtp_port = int(config_path.read_text().split("[smtp]\nport = ")[1].split()[0])
    intake_log, worker_log = tmp_path / "intake.log", tmp_path / "worker.log"
    intake = start("intake", config_path, intake_log)
    worker = start("worker", config_path, worker_log)
    try:
        wait_for_port(smtp_port)
        message = (
            f"From: kunde@example.org\r\nTo: beschwerde@{TEST_DOMAIN}\r\n"
            "Subject: Paket fehlt\r\nMessage-ID: <split-1@example.org>\r\n\r\n"
            "Meine Bestellung 4711 ist nie angekommen.\r\n"
        ).encode()
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail("kunde@example.org", [f"beschwerde@{TEST_DOMAIN}"], message)
        engine = schema.open_database(f"sqlite:///{tmp_path / 'data' / 'siegel.db'}")
        deadline = time.monotonic() + 60
        while True:
            with Session(engine) as session:
                cases = session.scalar(select(func.count()).select_from(Case))
            if cases == 1:
                break
            assert time.monotonic() < deadline, worker_log.read_text()
            time.sleep(0.1)
        engine.dispose()
    finally:
        for process, log_path in ((intake, intake_log), (worker, worker_log)):
            if process.poll() is None:
                terminate(process, log_path)


# ------------------------------------------------------------------ PostgreSQL


def complaint(number: int) -> bytes:
    return (
        f"From: kunde{number}@example.org\r\nTo: beschwerde@{TEST_DOMAIN}\r\n"
        f"Subject: Paket {number} fehlt\r\nMessage-ID: <drain-{number}@example.org>\r\n\r\n"
        f"Meine Bestellung {number} ist nie angekommen. Bitte helfen Sie mir.\r\n"
    ).encode()


@pytest.mark.postgres
def test_two_worker_processes_drain_one_queue_without_duplicates(
    tmp_path: Path, pg_engine: Engine, postgres_url: str, trained_model: Path
) -> None:
    """Two `siegel worker` processes on one PostgreSQL: every stored mail opens one case."""
    count = 24
    spool.store(
        pg_engine,
        [
            spool.Arrival(
                complaint(n), f"kunde{n}@example.org", (f"beschwerde@{TEST_DOMAIN}",), "test"
            )
            for n in range(count)
        ],
    )
    config_path = write_config(tmp_path)
    install_model(trained_model, tmp_path / "data")
    logs = [tmp_path / f"worker{n}.log" for n in range(2)]
    workers = [start("worker", config_path, log, database_url=postgres_url) for log in logs]
    try:
        # Both running (and minding SIGTERM) before the first could drain the queue alone.
        for process, log in zip(workers, logs, strict=True):
            wait_for_log(log, "running worker", process)
        deadline = time.monotonic() + 120
        while True:
            with Session(pg_engine) as session:
                statuses = Counter(session.scalars(select(StoredMail.status)).all())
            if statuses == {MailStatus.DONE: count}:
                break
            output = "\n".join(log.read_text() for log in logs)
            assert time.monotonic() < deadline, (statuses, output[-4000:])
            time.sleep(0.1)
    finally:
        for process, log in zip(workers, logs, strict=True):
            if process.poll() is None:
                terminate(process, log)
    with Session(pg_engine) as session:
        mail_ids = set(session.scalars(select(StoredMail.id)).all())
        opened = session.scalars(select(Case.complaint_mail_id)).all()
        refs = session.scalars(select(Case.ref)).all()
    assert sorted(opened) == sorted(mail_ids)  # each mail one case, none twice
    assert len(set(refs)) == count


@pytest.mark.postgres
def test_autoreply_cap_holds_when_two_transactions_enqueue_at_once(
    pg_engine: Engine, tmp_path: Path
) -> None:
    """At one below the cap, two concurrent auto-replies to one address: one queued, one
    suppressed (the second count waits for the first commit), never cap + 1."""
    config = make_config(tmp_path, outbox={"max_autoreplies_per_day": 3})
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def reply(n: int, to: str = "kundin@example.org") -> OutgoingMail:
        return OutgoingMail(
            to=to, subject=f"Eingang {n}", text="Danke.", kind="ack", language="de", auto_reply=True
        )

    with session_scope(pg_engine) as session:
        for n in range(2):
            outbox.enqueue(session, reply(n), config, now)
    first_counted = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope(pg_engine) as session:
                outbox.enqueue(session, reply(10), config, now)
                first_counted.set()
                time.sleep(1.0)  # still uncommitted while the second one counts
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)
            first_counted.set()

    def second() -> None:
        try:
            first_counted.wait(30)
            with session_scope(pg_engine) as session:
                # Another address is not held up by the lock on the first one.
                started = time.monotonic()
                outbox.enqueue(session, reply(11, "jemand@example.org"), config, now)
                assert time.monotonic() - started < 0.5
                outbox.enqueue(session, reply(11, "KUNDIN@example.org"), config, now)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    with Session(pg_engine) as session:
        rows = session.execute(
            select(OutboxMail.status, OutboxMail.suppressed_reason).where(
                func.lower(OutboxMail.recipient) == "kundin@example.org"
            )
        ).all()
    statuses = Counter(status for status, _ in rows)
    assert statuses == {OutboxStatus.QUEUED: 3, OutboxStatus.SUPPRESSED: 1}
    assert any(reason and reason.startswith("autoreply-daily-cap") for _, reason in rows)


SWEEPER = textwrap.dedent(
    """
    import json, sys, time
    from datetime import datetime
    from pathlib import Path
    from mailflow import casework
    from mailflow.config import load
    from mailflow.schema import open_database
    config_path, url, at, go = sys.argv[1:5]
    config = load(Path(config_path))
    engine = open_database(url)
    while not Path(go).exists():
        time.sleep(0.005)
    report = casework.sweep(engine, config, datetime.fromisoformat(at))
    print(json.dumps({"fired": len(report.fired), "failed": len(report.failed)}))
    """
)


@pytest.mark.postgres
def test_two_processes_sweeping_at_once_send_each_reminder_once(
    pg_engine: Engine, postgres_url: str, tmp_path: Path
) -> None:
    """Two processes sweep the same due reminders at the same instant: each fires once."""
    config_path = write_config(tmp_path, mediation='mediators = ["schlichterin@siegel.test"]')
    config: Config = make_config(tmp_path, mediation={"mediators": ["schlichterin@siegel.test"]})
    add_merchant(pg_engine)
    refs = [open_case(pg_engine, config, n) for n in range(20)]
    with Session(pg_engine) as session:
        deadlines = session.scalars(select(CaseDeadline)).all()
    at = max(d.due_at for d in deadlines if d.kind == Deadline.MERCHANT_REMINDER)
    assert at < min(d.due_at for d in deadlines if d.kind != Deadline.MERCHANT_REMINDER)
    go = tmp_path / "go"
    sweepers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                SWEEPER,
                str(config_path),
                postgres_url,
                at.isoformat(),
                str(go),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(2)
    ]
    time.sleep(3.0)  # both have imported and connected; then they start together
    go.touch()
    reports = []
    for sweeper in sweepers:
        out, err = sweeper.communicate(timeout=120)
        assert sweeper.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert sum(report["fired"] for report in reports) == len(refs)
    assert all(report["failed"] == 0 for report in reports)
    with Session(pg_engine) as session:
        reminders = Counter(
            session.scalars(
                select(OutboxMail.case_ref).where(OutboxMail.kind == "merchant.merchant_reminder")
            )
        )
    assert reminders == dict.fromkeys(refs, 1)


@pytest.mark.postgres
def test_case_numbers_come_from_a_sequence_after_the_highest_used(pg_engine: Engine) -> None:
    """The sequence starts after the highest number in use and counts on across years."""
    with session_scope(pg_engine) as session:
        session.add(CaseSequence(year=2025, last_number=41))
    with pg_engine.begin() as connection:
        migrations._case_number_sequence(connection)  # as the upgrade of an older database does
    with session_scope(pg_engine) as session:
        first = storage.next_ref(session, 2025)
        second = storage.next_ref(session, 2026)
    assert (first, second) == ("SSG-2025-000042", "SSG-2026-000043")


@pytest.mark.postgres
def test_opening_a_case_holds_no_lock_on_the_next_number(pg_engine: Engine) -> None:
    """While one transaction that took a number is open, another takes the next at once."""
    with Session(pg_engine) as holding:
        taken = storage.next_ref(holding, 2026)
        with Session(pg_engine) as other:
            other.execute(text("SET LOCAL lock_timeout = '2s'"))
            started = time.monotonic()
            following = storage.next_ref(other, 2026)
            assert time.monotonic() - started < 1.0
            other.commit()
        holding.rollback()
    assert int(following.rsplit("-", 1)[1]) == int(taken.rsplit("-", 1)[1]) + 1


# ------------------------------------------------------------------ the nightly run


@pytest.mark.sqlite
@pytest.mark.parametrize("last_run_hours_ago, caught_up", [(50, True), (1, False)])
def test_a_worker_started_after_a_missed_nightly_run_catches_it_up(
    tmp_path: Path, trained_model: Path, last_run_hours_ago: int, caught_up: bool
) -> None:
    """The nightly run (seal, lifecycle mails, last month's reports) was due two hours ago:
    a worker starting now runs it at once when it last ran before that (the service was
    down, or crashed across the minute), and not when it ran since."""
    url = f"sqlite:///{tmp_path}/nightly.db"
    engine = schema.open_database(url)
    add_merchant(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(ScheduledRun(job="nightly", ran_at=now - timedelta(hours=last_run_hours_ago)))
    zone = ZoneInfo(make_config(tmp_path).siegel.timezone)
    due = (now - timedelta(hours=2)).astimezone(zone)
    config_path = write_config(tmp_path, scoring=f'recompute_at = "{due:%H:%M}"')
    install_model(trained_model, tmp_path / "data")
    log_path = tmp_path / "worker.log"
    process = start("worker", config_path, log_path, database_url=url)
    try:
        wait_for_log(log_path, "running worker", process)
        if caught_up:
            wait_for_log(log_path, "monthly reports of", process)
        else:
            time.sleep(2)  # the time a catch-up takes when it is due (above)
    finally:
        if process.poll() is None:
            terminate(process, log_path)
    reports = reports_to(engine)
    with Session(engine) as session:
        [ran_at] = session.scalars(select(ScheduledRun.ran_at)).all()
    engine.dispose()
    log = log_path.read_text()
    if caught_up:
        assert reports == ["service@moebel-fuchs.test"], log
        assert "was missed: running it now" in log and ran_at >= now, log
    else:
        assert reports == [], log
        assert "missed" not in log and ran_at < now, log


def test_the_nightly_run_is_due_at_its_time_today_or_else_yesterday(tmp_path: Path) -> None:
    config = make_config(tmp_path, scoring={"recompute_at": "03:30"})
    berlin = ZoneInfo(config.siegel.timezone)
    assert nightly.last_due(config, datetime(2026, 12, 8, 3, 30, tzinfo=berlin)) == datetime(
        2026, 12, 8, 3, 30, tzinfo=berlin
    )
    assert nightly.last_due(config, datetime(2026, 12, 8, 3, 29, tzinfo=berlin)) == datetime(
        2026, 12, 7, 3, 30, tzinfo=berlin
    )


def test_a_nightly_run_that_failed_is_run_again_by_the_minutes_maintenance(
    tmp_path: Path, trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The nightly run failed (its end was not recorded) while the worker kept running:
    the maintenance that runs every minute catches it up, without a restart."""
    url = f"sqlite:///{tmp_path}/nightly.db"
    engine = schema.open_database(url)
    add_merchant(engine)
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        session.add(ScheduledRun(job="nightly", ran_at=now))
    zone = ZoneInfo(make_config(tmp_path).siegel.timezone)
    due = (now - timedelta(hours=2)).astimezone(zone)
    config = make_config(tmp_path, database={"url": url}, scoring={"recompute_at": f"{due:%H:%M}"})
    install_model(trained_model, tmp_path / "data")
    monkeypatch.setattr(service, "MAINTENANCE_SECONDS", 0.2)
    running = service.Service(config, engine, parts={service.Part.WORKER})
    running.start()
    try:
        time.sleep(0.5)
        assert reports_to(engine) == []  # ran since it was due: nothing to catch up
        with session_scope(engine) as session:  # as if the run at `due` had failed
            session.get(ScheduledRun, "nightly").ran_at = now - timedelta(hours=50)  # type: ignore[union-attr]
        deadline = time.monotonic() + 20
        while not reports_to(engine):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        running.stop()
    assert reports_to(engine) == ["service@moebel-fuchs.test"]
    engine.dispose()


def reports_to(engine: Engine) -> list[str]:
    with Session(engine) as session:
        query = select(OutboxMail.recipient).where(OutboxMail.kind == "merchant.monthly_report")
        return list(session.scalars(query))
