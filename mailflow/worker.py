"""The processing worker: claims stored mails one at a time and processes each in one unit of work.

An exception while processing rolls back everything that mail's unit of work did and
is recorded as a failed attempt (`queue.fail`); the worker itself never dies of a mail.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import queue
from mailflow.config import Config
from mailflow.db import session_scope, utcnow
from mailflow.models import MailStatus, StoredMail
from mailflow.processing import Context, analyse, process_mail

log = logging.getLogger("mailflow.worker")

Processor = Callable[[Session, StoredMail, Context], None]


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

    def run_once(self) -> bool:
        """Process the next new mail, if any; True when one was taken."""
        claimed = queue.claim_next(self.engine, self.clock())
        if claimed is None:
            return False
        mail_id = claimed.id
        assert mail_id is not None
        try:
            analysis = analyse(claimed, self.config)
            with session_scope(self.engine) as session:
                mail = session.get(StoredMail, mail_id)
                if mail is None or mail.status != MailStatus.PROCESSING:
                    return True
                self.process(session, mail, Context(self.config, self.clock(), analysis))
        except Exception as error:
            log.exception("processing mail %s failed", mail_id)
            queue.fail(
                self.engine,
                mail_id,
                f"{type(error).__name__}: {error}",
                self.config.queue.max_attempts,
            )
        return True

    def drain(self) -> int:
        """Process until the queue holds no new mail; returns how many were taken."""
        taken = 0
        while self.run_once():
            taken += 1
        return taken

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if self.run_once():
                    continue
            except Exception:
                log.exception("worker loop error; retrying")
                stop.wait(self.config.queue.poll_seconds)
            self.wake.wait(self.config.queue.poll_seconds)
            self.wake.clear()
