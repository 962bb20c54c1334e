"""A second process that analyses the worker's next batch while the worker writes this one.

Analysis (parsing, the machine verdict, the classifier's first reading) is pure CPU and
about 40 % of a mail's processing; the rest (routing, the case, its outgoing mails, the
commit) needs the database. With a backlog the worker claims the following batch before
it writes the current one and hands it here, so that the two run on two cores
(`[queue] analysis_process`). One long-lived child, started at the first backlog (a
service that never has one never starts it), reading with the worker's own model (not
the file, which `siegel classifier train` may have replaced meanwhile) and logging
through the service's log.

Nothing is lost with it: the claimed mails stay in the database, unprocessed, until the
worker commits them, as with analysis in the worker. If the child cannot answer (it
died, a result would not cross), the worker analyses that batch itself.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import multiprocessing
import os
import pickle
import resource
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING

from mailflow import casework, logs
from mailflow.config import Config
from mailflow.models import StoredMail
from mailflow.processing import Analysis, RawMail, analyse_batch

if TYPE_CHECKING:
    from classifier import Model

log = logging.getLogger("mailflow.analysis_process")

RETRY_SECONDS = 60.0
"""After the child failed, the worker analyses alone this long before it starts another."""
CLOSE_SECONDS = 10.0
"""How long the child has to stop when the worker closes it (a batch takes well under)."""

Packed = tuple[Analysis, dict | None] | Exception
"""An analysis as it crosses back: without its reader (which holds the configuration),
with the reader's readings; or the exception that stopped that mail."""


class AnalysisFailed(Exception):
    """An exception of the child that could not cross to the worker, as text."""


class AnalysisProcess:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self._closed = False

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._retry_at

    def start(self) -> None:
        """Start the child now and wait until it has loaded the model (otherwise the first
        batch handed to it waits for that)."""
        self._pool().submit(_analyse, []).result()

    def peak_rss_mb(self) -> float:
        """The child's peak resident memory, for `bench/pipeline.py`."""
        return self._pool().submit(_peak_rss_mb).result()

    def submit(self, mails: Sequence[StoredMail]) -> Future[list[Packed]]:
        """`mails` handed to the child; a child that cannot take them fails the future."""
        try:
            return self._pool().submit(_analyse, [RawMail.of(mail) for mail in mails])
        except Exception as error:  # a broken pool, a child that cannot start
            failed: Future[list[Packed]] = Future()
            failed.set_exception(error)
            return failed

    def results(
        self, future: Future[list[Packed]], mails: Sequence[StoredMail]
    ) -> list[Analysis | Exception]:
        """The analyses of `mails`, handed over as `future`: the child's, or, if it could
        not give them, the worker's own."""
        try:
            packed = future.result()
        except Exception as error:
            log.warning(
                "the analysis process failed (%s: %s); the worker analyses alone for %.0f s",
                type(error).__name__,
                error,
                RETRY_SECONDS,
            )
            self._retry_at = time.monotonic() + RETRY_SECONDS
            self._discard()
            return analyse_batch(mails, self.config)
        return [self._unpacked(item) for item in packed]

    def close(self) -> None:
        """Stop the child (within CLOSE_SECONDS, else it is killed); later batches are
        analysed by the worker itself."""
        with self._lock:
            self._closed = True
        self._discard()

    def _unpacked(self, item: Packed) -> Analysis | Exception:
        if isinstance(item, Exception):
            return item
        analysis, readings = item
        if readings is None:
            return analysis
        reader = casework.Reader(analysis.parsed, self.config, readings)
        return dataclasses.replace(analysis, reader=reader)

    def _pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("the analysis process is closed")
            if self._executor is None:
                verbose = logging.getLogger().getEffectiveLevel() <= logging.DEBUG
                self._executor = ProcessPoolExecutor(
                    max_workers=1,
                    # Not forked: the worker runs beside threads (intake, relay, web)
                    # whose locks a fork would copy held.
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_child,
                    # The worker's own model, not the file, which may have been retrained.
                    initargs=(
                        for_analysis(self.config),
                        casework.model(self.config),
                        os.getpid(),
                        verbose,
                    ),
                )
            return self._executor

    def _discard(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is None:
            return
        # The pool's own list: a child that hangs must not hold up the service's stop.
        children = list(getattr(executor, "_processes", {}).values())
        stopping = threading.Thread(
            target=executor.shutdown, kwargs={"cancel_futures": True}, daemon=True
        )
        stopping.start()
        stopping.join(CLOSE_SECONDS)
        if stopping.is_alive():
            log.warning("the analysis process did not stop; killed")
            for child in children:
                child.kill()  # the pool's own thread reaps it and ends
            stopping.join(CLOSE_SECONDS)


def for_analysis(config: Config) -> Config:
    """`config` as the child gets it: without the credentials analysis has no use for
    (the database's, the relay's, the mailboxes', the web side's)."""
    return dataclasses.replace(
        config,
        database=dataclasses.replace(config.database, url=""),
        relay=dataclasses.replace(config.relay, password=""),
        imap=(),
        web=dataclasses.replace(config.web, badge_secret="", operator_password_hash=""),
    )


# ------------------------------------------------------------------ in the child

_child_config: Config | None = None
PARENT_CHECK_SECONDS = 1.0


def _start_child(config: Config, model: Model, worker_pid: int, verbose: bool) -> None:
    global _child_config
    # The worker stops it (`close`); a Ctrl-C or a SIGTERM to the whole process group
    # would end it in the middle of a batch, for the worker to redo.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logs.configure(verbose)  # the service's log: the same redaction of address tokens
    _child_config = config
    casework.adopt_model(config, model)
    threading.Thread(target=_exit_with, args=(worker_pid,), daemon=True).start()
    gc.freeze()  # the model and modules: never garbage, never scanned again


def _exit_with(worker_pid: int) -> None:
    """End this process once the worker's is gone: killed (SIGKILL, OOM), it cannot
    stop its child, which would otherwise wait for batches forever."""
    while os.getppid() == worker_pid:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(0)


def _analyse(mails: Sequence[RawMail]) -> list[Packed]:
    assert _child_config is not None
    return [_packed(analysis) for analysis in analyse_batch(mails, _child_config)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _packed(analysis: Analysis | Exception) -> Packed:
    if isinstance(analysis, Exception):
        try:
            pickle.loads(pickle.dumps(analysis))  # noqa: S301 - our own bytes, just written
        except Exception:
            return AnalysisFailed(f"{type(analysis).__name__}: {analysis}")
        return analysis
    readings = analysis.reader.readings if analysis.reader is not None else None
    return dataclasses.replace(analysis, reader=None), readings
