"""The log of every `siegel` command: one stderr handler that rate-limits and redacts.

A flood must not flood the log (issue 9): each logger and message template may write
`BURST` lines in `PERIOD_SECONDS`; the others are counted, and when the period is over
one line says how many were suppressed (`RateLimit`). Address tokens are secrets (a
token lets anyone write into a case as its party), so every record is redacted on its
way out, message, arguments and traceback, whoever wrote it (`RedactTokens`): our code
logs addresses through `addresses.redact` already, aiosmtpd's `mail.log` does not, and
it writes every command line, recipients included. It is kept at WARNING unless the
command runs with `--verbose`.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from mediation import addresses

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
BURST = 50
PERIOD_SECONDS = 10.0
# Distinct templates tracked at once; beyond them a logger's other lines share one count,
# so that messages built with f-strings cannot grow the table without end.
MAX_TEMPLATES = 1000
# aiosmtpd logs each connection and each command line at INFO, tokens included;
# APScheduler two lines for every run of every job (the sweep runs every minute).
# The service's own INFO is one line per processed and per sent mail, and events
# (start, stop, a tier change); the rest is DEBUG, shown with `--verbose`.
QUIET_LOGGERS = {"mail.log": logging.WARNING, "apscheduler": logging.WARNING}

_OTHER = "(other messages)"


def redact(text: str) -> str:
    """`text` without address tokens."""
    return addresses.redact(text)


class RedactTokens(logging.Filter):
    """Replaces each record's message (formatted with its arguments), traceback and stack
    by their redacted text; other handlers of the same record see it redacted too."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: show the template, never the arguments
            message = f"{record.msg} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


@dataclass
class _Window:
    start: float
    levelno: int
    passed: int = 0
    suppressed: int = 0


class RateLimit(logging.Filter):
    """At most `burst` records per logger and message template in a window of `period`
    seconds; the rest are dropped and counted. When a window with drops is over, one
    summary record goes to `report` (the handler): from a timer thread, or with the next
    record, or at `flush()`. Must run before `RedactTokens`, which formats the message."""

    def __init__(
        self,
        report: Callable[[logging.LogRecord], object],
        burst: int = BURST,
        period: float = PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> None:
        super().__init__()
        self.report = report
        self.burst = burst
        self.period = period
        self.clock = clock
        self.timer = timer
        self._lock = threading.Lock()
        self._windows: dict[tuple[str, str], _Window] = {}
        self._next_end = float("inf")
        self._pending: threading.Timer | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "rate_limit_summary", False):
            return True
        now = self.clock()
        key = (record.name, str(record.msg))
        with self._lock:
            due = self._close_windows(now)
            if key not in self._windows and len(self._windows) >= MAX_TEMPLATES:
                key = (record.name, _OTHER)
            window = self._windows.get(key)
            if window is None:
                window = self._windows[key] = _Window(now, record.levelno)
                self._next_end = min(self._next_end, now + self.period)
            allowed = window.passed < self.burst
            if allowed:
                window.passed += 1
            else:
                window.suppressed += 1
                self._arm(now)
        for summary in due:
            self.report(summary)
        return allowed

    def flush(self) -> None:
        """Report every drop now (the handler closes)."""
        with self._lock:
            due = self._close_windows(float("inf"))
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
        for summary in due:
            self.report(summary)

    def _close_windows(self, now: float) -> list[logging.LogRecord]:
        if now < self._next_end:
            return []
        due = []
        for key, window in list(self._windows.items()):
            if now >= window.start + self.period:
                del self._windows[key]
                if window.suppressed:
                    due.append(self._summary(key, window))
        ends = [w.start + self.period for w in self._windows.values()]
        self._next_end = min(ends, default=float("inf"))
        return due

    def _summary(self, key: tuple[str, str], window: _Window) -> logging.LogRecord:
        name, template = key
        record = logging.LogRecord(
            name,
            window.levelno,
            __file__,
            0,
            "%d more lines like this suppressed in %g s: %s",
            (window.suppressed, self.period, template[:200]),
            None,
        )
        record.rate_limit_summary = True
        return record

    def _arm(self, now: float) -> None:
        """Start the timer that reports the drops when their window is over (lock held)."""
        if not self.timer or self._pending is not None:
            return
        delay = max(self._next_end - now, 0.0) + 0.01
        self._pending = threading.Timer(delay, self._on_timer)
        self._pending.daemon = True
        self._pending.start()

    def _on_timer(self) -> None:
        with self._lock:
            self._pending = None
            due = self._close_windows(self.clock())
            if any(w.suppressed for w in self._windows.values()):
                self._arm(self.clock())
        for summary in due:
            self.report(summary)


class ServiceHandler(logging.StreamHandler):
    """The stderr handler of `siegel`: formatted, rate-limited, then redacted."""

    def __init__(
        self,
        stream: TextIO,
        burst: int = BURST,
        period: float = PERIOD_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        timer: bool = True,
    ) -> None:
        super().__init__(stream)
        self.setFormatter(logging.Formatter(FORMAT))
        self.rate_limit = RateLimit(self.handle, burst, period, clock, timer)
        self.addFilter(self.rate_limit)
        self.addFilter(RedactTokens())

    def close(self) -> None:
        self.rate_limit.flush()
        super().close()


def configure(verbose: bool, stream: TextIO | None = None) -> None:
    """Set up the log of a `siegel` command, unless the process has one already (a
    command run in-process by tests or another program keeps its caller's)."""
    root = logging.getLogger()
    if root.handlers:
        return
    root.addHandler(ServiceHandler(stream or sys.stderr))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not verbose:
        for name, level in QUIET_LOGGERS.items():
            logging.getLogger(name).setLevel(level)
