"""The worker's analysis process: a backlog's next batch is parsed and classified there
while the worker writes the current one. What it finds is what the worker would have
found itself; a child that dies costs a warning, not a mail; and none outlives its worker."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from mailflow import casework, queue
from mailflow.analysis_process import AnalysisProcess, for_analysis
from mailflow.config import Config
from mailflow.models import StoredMail
from mailflow.processing import Analysis, analyse_batch
from mailflow.web.operator_auth import hash_password
from mediation.storage import Case
from tests.conftest import CORPORA, make_config
from tests.corpora import corpus_files
from tests.harness import Harness, compose
from tests.sink import Sink

ROOT = Path(__file__).resolve().parents[1]
HASH = hash_password("operator-pass", iterations=1000)
BATCH = 4


@pytest.fixture
def config(tmp_path: Path) -> Config:
    made = make_config(tmp_path)
    casework.model(made)  # trained and saved, as the worker has it before any backlog
    return made


@pytest.fixture
def analyst(config: Config) -> Iterator[AnalysisProcess]:
    process = AnalysisProcess(config)
    yield process
    process.close()


def stored(raw: bytes, envelope_to: Sequence[str] = ("beschwerde@siegel.test",)) -> StoredMail:
    return StoredMail(
        raw=raw,
        envelope_from="kundin@example.org",
        envelope_to=list(envelope_to),
        source="smtp from 192.0.2.1",
        fingerprint="x",
        sha256="x",
    )


def found(analysis: Analysis | Exception) -> object:
    """Everything an analysis says, comparable (a reader by its readings)."""
    if isinstance(analysis, Exception):
        return (type(analysis).__name__, str(analysis))
    return (
        analysis.parsed.to_json(),
        [part.as_bytes() for part in analysis.parsed.attachment_parts],
        analysis.parsed.message.as_bytes(),
        analysis.verdict,
        analysis.bounced,
        analysis.authentication_results,
        analysis.returned,
        analysis.reader.readings if analysis.reader else None,
    )


def complaint(number: int) -> EmailMessage:
    return compose(
        f"Kundin {number} <kundin{number}@example.org>",
        "beschwerde+moebel-fuchs@siegel.test",
        f"Sofa Nummer {number} beschädigt",
        f"Das Sofa Nummer {number} kam mit einem Riss an. Bitte um Ersatz.",
    )


def test_the_child_finds_what_the_worker_would_find(analyst: AnalysisProcess, config: Config):
    """Real mail (the corpora: MIME torture, bounces, client quoting) and complaints, read
    in the child and handed back, equal the worker's own reading of the same batch:
    parsed form, message tree, machine verdict, bounce rows, classifier readings."""
    if not CORPORA.is_dir():
        pytest.skip(f"the shared corpora are absent ({CORPORA})")
    mails = [stored(complaint(n).as_bytes()) for n in range(3)]
    mails += [stored(path.read_bytes()) for path in corpus_files()]
    assert len(mails) > 100
    for start in range(0, len(mails), 64):
        batch = mails[start : start + 64]
        handed = analyst.results(analyst.submit(batch), batch)
        assert [found(a) for a in handed] == [found(a) for a in analyse_batch(batch, config)]
    assert analyst.available


def test_a_child_that_died_costs_a_warning_not_a_mail(
    analyst: AnalysisProcess, config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    batch = [stored(complaint(n).as_bytes()) for n in range(3)]
    analyst.start()
    [child] = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGKILL)
    child.join(10)
    handed = analyst.results(analyst.submit(batch), batch)
    assert [found(a) for a in handed] == [found(a) for a in analyse_batch(batch, config)]
    assert all(isinstance(a, Analysis) and a.reader for a in handed)
    assert "the analysis process failed" in caplog.text
    assert not analyst.available  # the worker analyses alone for a while


def test_the_child_reads_with_the_workers_model_not_the_file(
    analyst: AnalysisProcess, config: Config
) -> None:
    """`siegel classifier train` may replace the file while the service runs on the model
    it loaded: the child reads with the worker's model even when the file is gone."""
    (config.data_dir / casework.MODEL_FILE).unlink()
    batch = [stored(complaint(n).as_bytes()) for n in range(3)]
    handed = analyst.results(analyst.submit(batch), batch)
    assert [found(a) for a in handed] == [found(a) for a in analyse_batch(batch, config)]
    assert analyst.available


def test_a_ctrl_c_to_the_process_group_leaves_the_child_working(
    analyst: AnalysisProcess, config: Config
) -> None:
    analyst.start()
    [child] = multiprocessing.active_children()
    os.kill(child.pid, signal.SIGINT)
    os.kill(child.pid, signal.SIGTERM)
    batch = [stored(complaint(1).as_bytes())]
    handed = analyst.results(analyst.submit(batch), batch)
    assert analyst.available and child.is_alive()
    assert [found(a) for a in handed] == [found(a) for a in analyse_batch(batch, config)]


def test_after_close_the_worker_analyses_alone(analyst: AnalysisProcess, config: Config):
    analyst.start()
    analyst.close()
    assert multiprocessing.active_children() == []
    batch = [stored(complaint(1).as_bytes())]
    handed = analyst.results(analyst.submit(batch), batch)
    assert [found(a) for a in handed] == [found(a) for a in analyse_batch(batch, config)]
    assert multiprocessing.active_children() == []  # no child started again


def test_the_child_gets_no_credentials_it_has_no_use_for(tmp_path: Path) -> None:
    full = make_config(
        tmp_path,
        database={"url": "postgresql+psycopg://siegel:hunter2@db.example/siegel"},
        relay={"password": "relay-pass"},
        imap=[
            {"host": "imap.example", "username": "beschwerde@siegel.test", "password": "imap-pass"}
        ],
        web={"badge_secret": "b" * 32, "operator_password_hash": HASH},
    )
    handed = for_analysis(full)
    assert not {"hunter2", "relay-pass", "imap-pass"} & set(re.findall(r"[\w-]+", repr(handed)))
    assert HASH not in repr(handed) and "b" * 32 not in repr(handed)
    assert (handed.secret_bytes, handed.siegel.domain) == (full.secret_bytes, full.siegel.domain)
    assert handed.authentication == full.authentication and handed.data_dir == full.data_dir


def test_a_mail_that_fails_in_the_child_fails_alone(
    analyst: AnalysisProcess, config: Config
) -> None:
    """A stored row the analysis cannot read at all (no bytes) comes back as its error;
    the others of its batch as analyses."""
    batch = [stored(complaint(1).as_bytes()), stored(None), stored(complaint(2).as_bytes())]  # type: ignore[arg-type]
    handed = analyst.results(analyst.submit(batch), batch)
    assert isinstance(handed[1], Exception)
    assert isinstance(handed[0], Analysis) and isinstance(handed[2], Analysis)
    assert found(handed[1]) == found(analyse_batch(batch, config)[1])


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink, queue={"batch_size": BATCH})
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", "service@moebel-fuchs.test")
    yield running
    running.stop()


def test_a_backlog_is_analysed_in_the_child_and_each_mail_done_once(harness: Harness) -> None:
    """Ten complaints, batches of four: the worker claims the next batch and hands it to
    its analysis process before it writes the current one. Every mail opens one case;
    the child runs until the worker closes it. Fewer mails than a batch start none."""
    for number in range(2):
        harness.send(complaint(number))
    assert harness.worker.drain() == 2
    assert multiprocessing.active_children() == []  # no backlog, no second process
    for number in range(2, 12):
        harness.send(complaint(number))
    assert harness.worker.drain() == 10
    assert len(multiprocessing.active_children()) == 1
    with Session(harness.engine) as session:
        statuses = [m.status for m in session.scalars(select(StoredMail))]
        cases = list(session.scalars(select(Case.complaint_mail_id)))
    assert statuses == ["done"] * 12
    assert len(cases) == len(set(cases)) == 12
    harness.worker.close()
    assert multiprocessing.active_children() == []


def test_a_failed_claim_of_the_next_batch_leaves_this_one_written(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The next batch is claimed before this one is written; when that claim fails (a
    busy or lost database), this batch is written all the same, and the rest later."""
    for number in range(BATCH + 2):
        harness.send(complaint(number))
    claims = []
    real_claim = queue.claim_batch

    def claim_batch(*args, **kwargs):  # type: ignore[no-untyped-def]
        claims.append(args)
        if len(claims) == 2:
            raise OperationalError("UPDATE mail", {}, Exception("database is locked"))
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(queue, "claim_batch", claim_batch)
    assert harness.worker.drain() == BATCH + 2
    with Session(harness.engine) as session:
        mails = list(session.scalars(select(StoredMail)))
    assert {(m.status, m.attempts) for m in mails} == {("done", 1)}
    assert len(claims) == 4  # this batch, the failed one ahead, the rest, the empty one


def test_the_child_ends_when_its_worker_is_killed(config: Config, tmp_path: Path) -> None:
    """SIGKILL gives the worker no chance to stop its child: the child notices and ends."""
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from tests.conftest import make_config
        from pathlib import Path
        from mailflow.analysis_process import AnalysisProcess, for_analysis
        import multiprocessing
        analyst = AnalysisProcess(make_config(Path({str(tmp_path)!r})))
        analyst.start()
        print(multiprocessing.active_children()[0].pid, flush=True)
        time.sleep(60)
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None
        child = int(worker.stdout.readline())
        assert running(child)
        worker.kill()
        worker.wait(10)
        deadline = time.monotonic() + 10
        while running(child) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not running(child)
    finally:
        if worker.poll() is None:
            worker.kill()


def running(pid: int) -> bool:
    """`pid` exists and is not a zombie (an orphan that ended waits for init to reap it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"
