"""`siegel serve`: SMTP and IMAP intake, worker, relay and scheduler in one process.

Start order follows the data: recover interrupted work, start the consumers (worker,
relay), then the intakes. Stop order is the reverse, so that on SIGTERM no mail is
acknowledged that is not committed and no thread is cut off in a transaction.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from mailflow import casework, queue, sealwork
from mailflow.config import Config
from mailflow.db import open_database, utcnow
from mailflow.imap import ImapPoller
from mailflow.relay import Relay
from mailflow.smtp import make_controller
from mailflow.spool import Spool
from mailflow.worker import Worker

log = logging.getLogger("mailflow.service")

MAINTENANCE_SECONDS = 60


class Service:
    def __init__(self, config: Config, engine: Engine | None = None) -> None:
        self.config = config
        self.engine = engine or open_database(config.database_url)
        self.stop_event = threading.Event()
        self.worker = Worker(self.engine, config)
        self.relay = Relay(self.engine, config)
        self.spool = Spool(self.engine, on_stored=self.worker.wake.set)
        self.controller = make_controller(self.spool, config)
        self.pollers = [
            ImapPoller(account, self.spool, self.engine, config.smtp.max_message_bytes)
            for account in config.imap
        ]
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.threads: list[threading.Thread] = []

    def _recover(self) -> None:
        queue.recover(
            self.engine, utcnow(), self.config.queue.lease_seconds, self.config.queue.max_attempts
        )
        self.relay.recover(utcnow())

    def _sweep(self) -> None:
        """Fire due deadlines; the first run, at start, catches up after downtime."""
        if casework.sweep(self.engine, self.config, utcnow()).mails:
            self.relay.wake()

    def _recompute(self) -> None:
        """Recompute every merchant's seal tier; changes are mailed (nightly by default)."""
        if sealwork.recompute(self.engine, self.config, utcnow()).mails:
            self.relay.wake()

    def _thread(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _work(self, stop: threading.Event) -> None:
        # At first start the classifier model is trained here rather than before the
        # intakes open, so that mail is accepted meanwhile (a saved one is preloaded by
        # `start`, which takes a fraction of a second). Without a
        # model no mail is processed: it waits, stored, rather than fail three times.
        delay = 5.0
        while not stop.is_set():
            try:
                casework.model(self.config)
                break
            except Exception:
                log.exception("classifier model unavailable; retrying in %.0f s", delay)
                stop.wait(delay)
                delay = min(delay * 2, 300.0)
        self.worker.run(stop)

    def start(self) -> None:
        self._recover()
        casework.preload(self.config)
        self._thread("worker", self._work)
        self._thread("relay", self.relay.run)
        self.spool.start()
        self.controller.start()
        for poller in self.pollers:
            self._thread(f"imap-{poller.account.username}", poller.run)
        self.scheduler.add_job(
            self._recover,
            "interval",
            seconds=MAINTENANCE_SECONDS,
            id="recover",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self._sweep,
            "interval",
            seconds=self.config.deadlines.sweep_seconds,
            id="sweep",
            next_run_time=utcnow(),
            max_instances=1,
            coalesce=True,
        )
        recompute_at = self.config.scoring.recompute_time
        self.scheduler.add_job(
            self._recompute,
            CronTrigger(
                hour=recompute_at.hour,
                minute=recompute_at.minute,
                timezone=self.config.siegel.timezone,
            ),
            id="recompute",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
        self.scheduler.start()
        log.info(
            "serving %s on %s:%s for @%s (database %s)",
            self.config.smtp.mode.upper(),
            self.config.smtp.host,
            self.config.smtp.port,
            self.config.siegel.domain,
            self.engine.url.render_as_string(hide_password=True),
        )

    def stop(self) -> None:
        log.info("stopping")
        self.controller.stop()
        self.stop_event.set()
        self.worker.wake.set()
        self.relay.wake()
        self.scheduler.shutdown(wait=True)
        # The spool outlives the threads: an IMAP poller may still be storing a mail.
        for thread in self.threads:
            thread.join(timeout=30)
        self.spool.stop()
        self.engine.dispose()
        log.info("stopped")

    def run_until_signalled(self) -> None:
        def _signalled(signum: int, _frame: object) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _signalled)
        signal.signal(signal.SIGINT, _signalled)
        self.start()
        try:
            self.stop_event.wait()
        finally:
            self.stop()
