"""The long-running processes: `siegel serve` (everything in one), or each part alone.

A process runs any of three parts (`Part`), each over the same database:

- **intake**: the SMTP/LMTP listener, the IMAP pollers and the spool that commits what
  they receive (`siegel intake`);
- **worker**: recovers claims of dead workers, processes stored mails in one or more
  threads, and runs the scheduler's deadline sweep and nightly seal recompute
  (`siegel worker`); several worker processes may run against one PostgreSQL: claims
  skip locked rows, the sweep claims each deadline by a conditional delete, the
  recompute runs under an advisory lock, and the auto-reply cap counts under a lock
  per recipient (`mailflow.outbox`);
- **relay**: recovers rows left `sending` and delivers the outbox (`siegel relay`).

`siegel serve` runs all three. In one process a stored mail wakes the worker and a
sweep that mailed wakes the relay; otherwise the worker and the relay find new work
by polling every `[queue] poll_seconds`.

Start order follows the data: recover interrupted work, start the consumers (worker,
relay), then the intakes. Stop order is the reverse, so that on SIGTERM no mail is
acknowledged that is not committed and no thread is cut off in a transaction.
"""

from __future__ import annotations

import enum
import gc
import logging
import signal
import socket
import threading
from collections.abc import Callable, Iterable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from mailflow import casework, nightly, queue
from mailflow.config import Config
from mailflow.db import utcnow
from mailflow.imap import ImapPoller
from mailflow.relay import Relay
from mailflow.schema import open_database
from mailflow.smtp import make_controller
from mailflow.spool import Spool
from mailflow.web.server import WebServer
from mailflow.worker import Worker

log = logging.getLogger("mailflow.service")

MAINTENANCE_SECONDS = 60


class Part(enum.StrEnum):
    """What one process runs; `siegel serve` runs all of them."""

    INTAKE = "intake"
    WORKER = "worker"
    RELAY = "relay"


ALL_PARTS = frozenset(Part)


def check_port(what: str, host: str, port: int, key: str) -> None:
    """Raise `PortUnavailable` unless `host:port` can be bound for listening now (a
    probe with SO_REUSEADDR, as asyncio and uvicorn bind): for a one-line refusal
    before a server starts, rather than a traceback from inside it."""
    try:
        for family, kind, protocol, _, address in socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        ):
            with socket.socket(family, kind, protocol) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind(address)
    except OSError as error:
        raise PortUnavailable(what, (host, port), key, error) from error


class PortUnavailable(OSError):
    """A listening port of this process cannot be bound (in use, privileged): `what`
    listens there, `key` is the configuration key that moves it."""

    def __init__(self, what: str, address: tuple[str, int], key: str, error: OSError) -> None:
        super().__init__(error.errno, error.strerror or str(error))
        self.what, self.address, self.key = what, address, key


class Service:
    def __init__(
        self,
        config: Config,
        engine: Engine | None = None,
        parts: Iterable[Part] = ALL_PARTS,
        worker_threads: int = 1,
    ) -> None:
        if worker_threads < 1:
            raise ValueError("worker threads must be at least 1")
        self.config = config
        self.parts = frozenset(parts)
        if not self.parts:
            raise ValueError("a service runs at least one part")
        self.engine = engine or open_database(config.database_url)
        self.stop_event = threading.Event()
        self._nightly_running = threading.Lock()
        self.worker_threads = worker_threads
        self.worker = Worker(self.engine, config) if Part.WORKER in self.parts else None
        self.relay = Relay(self.engine, config) if Part.RELAY in self.parts else None
        self.spool: Spool | None = None
        self.controller = None
        self.pollers: list[ImapPoller] = []
        if Part.INTAKE in self.parts:
            wake = self.worker.wake.set if self.worker else None
            self.spool = Spool(self.engine, on_stored=wake)
            self.controller = make_controller(self.spool, config)
            self.pollers = [
                ImapPoller(account, self.spool, self.engine, config.smtp.max_message_bytes)
                for account in config.imap
            ]
        self.scheduler = BackgroundScheduler(timezone="UTC")
        self.threads: list[threading.Thread] = []
        self.web: WebServer | None = None

    def _recover(self) -> None:
        if self.worker:
            queue.recover(
                self.engine,
                utcnow(),
                self.config.queue.lease_seconds,
                self.config.queue.max_attempts,
            )
        if self.relay:
            self.relay.recover(utcnow())
        if self.worker:
            self._catch_up_nightly()

    def _catch_up_nightly(self) -> None:
        """Run the nightly run now if it was due since it last ran to its end: missed
        while no worker ran, or failed (at start and with the maintenance every minute)."""
        now = utcnow()
        if due := nightly.missed(self.engine, self.config, now):
            log.info("the nightly run due at %s was missed: running it now", due.isoformat())
            self.scheduler.add_job(
                self._nightly, next_run_time=now, id="nightly-missed", replace_existing=True
            )

    def _wake_relay(self) -> None:
        # A relay in another process finds the new rows at its next poll.
        if self.relay:
            self.relay.wake()

    def _sweep(self) -> None:
        """Fire due deadlines; the first run, at start, catches up after downtime."""
        if casework.sweep(self.engine, self.config, utcnow()).mails:
            self._wake_relay()

    def _nightly(self) -> None:
        """The seal recompute, lifecycle mails and monthly reports (`mailflow.nightly`).

        With several worker processes each one's scheduler fires; on PostgreSQL the
        first takes an advisory lock and the others skip (`sealwork.recompute`). In one
        process the scheduled run and a catch-up never overlap: the later one skips."""
        if not self._nightly_running.acquire(blocking=False):
            return
        try:
            if nightly.run(self.engine, self.config, utcnow()):
                self._wake_relay()
        finally:
            self._nightly_running.release()

    def _thread(self, name: str, target: Callable[[threading.Event], None]) -> None:
        thread = threading.Thread(target=target, args=(self.stop_event,), name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def _work(self, stop: threading.Event) -> None:
        # At first start the classifier model is trained here rather than before the
        # intakes open, so that mail is accepted meanwhile (a saved one is preloaded by
        # `start`, which takes a fraction of a second). Without a
        # model no mail is processed: it waits, stored, rather than fail three times.
        assert self.worker is not None
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

    def listening(self) -> list[tuple[str, tuple[str, int], str]]:
        """What this process listens for: (what, (host, port), configuration key)."""
        if not self.controller:
            return []
        smtp = self.config.smtp
        return [(smtp.mode.upper(), (smtp.host, smtp.port), "[smtp] port")]

    def check_port(self) -> None:
        """Raise `PortUnavailable` for a listening port that cannot be bound (in use,
        privileged), before anything starts: a port taken by another server must stop
        the start at once, with nothing to undo. The listener binds it again
        (SO_REUSEADDR, as asyncio does); should another process take it in between,
        `run_until_signalled` still stops what had started."""
        for what, (host, port), key in self.listening():
            check_port(what, host, port, key)

    def _start_web(self) -> None:
        """`siegel serve` (every part) also serves the web side, unless [web] disables it.
        A web port that cannot be bound is logged and the mail service runs on: mail
        must not wait for the pages (`siegel web` alone fails instead)."""
        if self.parts != ALL_PARTS or not self.config.web.enabled:
            return
        try:
            self.web = WebServer(self.config).start()
        except OSError as error:
            self.web = None
            log.error("web side not started on port %s: %s", self.config.web.port, error)

    def start(self) -> None:
        self.check_port()
        self._recover()
        if self.worker:
            casework.preload(self.config)
            casework.preload_merchants(self.engine)
            for number in range(self.worker_threads):
                self._thread("worker" if number == 0 else f"worker-{number + 1}", self._work)
        if self.relay:
            self._thread("relay", self.relay.run)
        if self.spool and self.controller:
            self.spool.start()
            try:
                self.controller.start()
            except BaseException:
                self.controller = None  # it never listened: nothing to stop
                raise
            for poller in self.pollers:
                self._thread(f"imap-{poller.account.username}", poller.run)
        self._start_web()
        self._schedule()
        self.scheduler.start()
        # What start loaded (modules, the model, the templates) lives as long as the
        # process: kept out of every later collection, whose full passes would scan it.
        gc.freeze()
        self._log_started()

    def _schedule(self) -> None:
        if self.worker or self.relay:
            self.scheduler.add_job(
                self._recover,
                "interval",
                seconds=MAINTENANCE_SECONDS,
                id="recover",
                max_instances=1,
                coalesce=True,
            )
        if not self.worker:
            return
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
            self._nightly,
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

    def _log_started(self) -> None:
        database = self.engine.url.render_as_string(hide_password=True)
        running = ", ".join(part for part in Part if part in self.parts)
        if self.controller:
            log.info(
                "serving %s on %s:%s for @%s (%s; database %s)",
                self.config.smtp.mode.upper(),
                self.config.smtp.host,
                self.config.smtp.port,
                self.config.siegel.domain,
                running,
                database,
            )
        else:
            threads = f", {self.worker_threads} threads" if self.worker_threads > 1 else ""
            log.info("running %s%s (database %s)", running, threads, database)

    def stop(self) -> None:
        log.info("stopping")
        if self.web:
            self.web.stop()
        if self.controller:
            self.controller.stop()
        self.stop_event.set()
        if self.worker:
            self.worker.wake.set()
        if self.relay:
            self.relay.wake()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        # The spool outlives the threads: an IMAP poller may still be storing a mail.
        for thread in self.threads:
            thread.join(timeout=30)
        if self.worker:
            self.worker.close()
        gc.unfreeze()
        if self.spool:
            self.spool.stop()
        self.engine.dispose()
        log.info("stopped")

    def run_until_signalled(self) -> None:
        def _signalled(signum: int, _frame: object) -> None:
            log.info("received %s", signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, _signalled)
        signal.signal(signal.SIGINT, _signalled)
        self.check_port()  # before anything starts: nothing to undo
        try:
            self.start()
        except BaseException:
            self.stop()  # the parts that did start (a port taken meanwhile, say)
            raise
        try:
            self.stop_event.wait()
        finally:
            self.stop()
