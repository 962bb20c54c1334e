"""The processing worker: claims stored mails in batches, each batch one unit of work.

A batch (`[queue] batch_size`) is parsed and classified outside any transaction
(`processing.analyse_batch`, the classifier reading all its mails at once); then its
state changes (cases, events, deadlines, outgoing mails, the mails' `done`) commit
together, so that a mail costs a fraction of a commit and the rows of each table are
written together. On SQLite a unit of work ends after `[queue] batch_transaction_ms`
(the rest of the batch goes on in the next one): it holds the single writer lock,
which the intake waits for before it answers 250. If any mail fails, its unit
of work is rolled back whole and those mails are processed again one by one, each
alone: only the failing mail is recorded as a failed attempt (`queue.fail`), the
others are done as if they had come alone. The worker itself never dies of a mail.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import queue
from mailflow.analysis_process import AnalysisProcess
from mailflow.config import Config
from mailflow.db import is_postgres, session_scope, utcnow, writer_wanted
from mailflow.models import StoredMail
from mailflow.processing import Analysis, Context, analyse_batch, prepare, process_mail

log = logging.getLogger("mailflow.worker")

Processor = Callable[[Session, StoredMail, Context], object]
"""Applies one mail in the given unit of work; what it returns is logged after the commit."""


class Worker:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        process: Processor = process_mail,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.config = config
        self.process = process
        self.clock = clock
        self.wake = threading.Event()
        self.analyst = AnalysisProcess(config) if config.queue.analysis_process else None

    def run_once(self) -> bool:
        """Process the next batch of new mails, if any; True when one was taken."""
        return self.run_batch() > 0

    def run_batch(self) -> int:
        """Process the next batch of new mails; returns how many mails it took."""
        return self._run_batches(go_on=lambda: False)

    def drain(self) -> int:
        """Process until the queue holds no new mail; returns how many mails were taken."""
        taken = 0
        while batch := self._run_batches(go_on=lambda: True):
            taken += batch
        return taken

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self._run_batches(go_on=lambda: not stop.is_set()):
                    continue
            except Exception:
                log.exception("worker loop error; retrying")
                stop.wait(self.config.queue.poll_seconds)
            self.wake.wait(self.config.queue.poll_seconds)
            self.wake.clear()

    def close(self) -> None:
        """Stop the analysis process, if one was started."""
        if self.analyst:
            self.analyst.close()

    def _run_batches(self, go_on: Callable[[], bool]) -> int:
        """Process a batch, and while it was a full one (a backlog) and `go_on()`, the
        next; returns how many mails were taken. With the analysis process, each next
        batch is claimed and handed to it before this one is written: the two overlap."""
        holder = queue.worker_id()
        batch = self._claim(holder)
        analyses = analyse_batch(batch, self.config) if batch else []
        taken = 0
        while batch:
            following: list[StoredMail] = []
            handed = None
            if len(batch) == self.config.queue.batch_size and go_on():
                following = self._claim_ahead(holder)
                if following and self.analyst and self.analyst.available:
                    handed = self.analyst.submit(following)
            self._write(batch, analyses, holder)
            taken += len(batch)
            batch = following
            if handed is not None and self.analyst:
                analyses = self.analyst.results(handed, following)
            else:
                analyses = analyse_batch(following, self.config) if following else []
        return taken

    def _claim(self, holder: str) -> list[StoredMail]:
        return queue.claim_batch(self.engine, self.clock(), self.config.queue.batch_size, holder)

    def _claim_ahead(self, holder: str) -> list[StoredMail]:
        """The next batch, claimed before this one is written; none when the claim fails
        (a busy or lost database): this batch is written all the same, and the next
        claim tries again."""
        try:
            return self._claim(holder)
        except Exception as error:
            log.warning("claiming the next batch failed (%s: %s)", type(error).__name__, error)
            return []

    def _write(
        self, batch: Sequence[StoredMail], analyses: Sequence[Analysis | Exception], holder: str
    ) -> None:
        analysed: list[tuple[int, StoredMail, Analysis]] = []
        for mail, analysis in zip(batch, analyses, strict=True):
            assert mail.id is not None
            if isinstance(analysis, Exception):
                self._failed(mail.id, analysis, holder)
            else:
                analysed.append((mail.id, mail, analysis))
        alone = self._process_together(analysed, holder) if len(analysed) > 1 else analysed
        for mail_id, _, analysis in alone:
            self._process_alone(mail_id, analysis, holder)

    def _process_together(
        self, analysed: Sequence[tuple[int, StoredMail, Analysis]], holder: str
    ) -> list[tuple[int, StoredMail, Analysis]]:
        """The batch in as few units of work as the time limit allows; returns the mails
        of a unit of work that failed (nothing of it is written) and those after it."""
        pending = list(analysed)
        # PostgreSQL locks rows, not the database: its units of work may be longer.
        limit = (
            math.inf if is_postgres(self.engine) else self.config.queue.batch_transaction_ms / 1000
        )
        while pending:
            taken = 0
            try:
                with session_scope(self.engine, giving_way=True) as session:
                    mine = queue.still_claimed(session, [item[0] for item in pending], holder)
                    now = self.clock()
                    prepare(session, [analysis for _, _, analysis in pending], now)
                    started = time.perf_counter()
                    done = []
                    for mail_id, mail, analysis in pending:
                        if mail_id in mine:
                            session.add(mail)
                            context = Context(self.config, now, analysis)
                            done.append((mail_id, self.process(session, mail, context)))
                        taken += 1
                        # The intake's commit waits for this unit: let it in between.
                        if time.perf_counter() - started > limit or writer_wanted(session):
                            break
            except Exception as error:
                log.info(
                    "a unit of work failed (%s: %s); processing its %d mails one by one",
                    type(error).__name__,
                    error,
                    len(pending),
                )
                return pending
            _log_done(done)
            pending = pending[taken:]
        return []

    def _process_alone(self, mail_id: int, analysis: Analysis, holder: str) -> None:
        try:
            with session_scope(self.engine) as session:
                mail = queue.load_claimed(session, mail_id, holder)
                if mail is None:  # given back meanwhile (`queue.recover`): not ours now
                    return
                done = self.process(session, mail, Context(self.config, self.clock(), analysis))
        except Exception as error:
            log.exception("processing mail %s failed", mail_id)
            self._failed(mail_id, error, holder)
            return
        _log_done([(mail_id, done)])

    def _failed(self, mail_id: int, error: Exception, holder: str) -> None:
        queue.fail(
            self.engine,
            mail_id,
            f"{type(error).__name__}: {error}",
            self.config.queue.max_attempts,
            holder,
        )


def _log_done(done: Sequence[tuple[int, object]]) -> None:
    """One line per mail, after its unit of work committed."""
    for mail_id, what in done:
        log.info("mail %s processed: %s", mail_id, what or "done")
