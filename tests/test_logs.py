"""The log handler of `siegel`: lines rate-limited per template, address tokens redacted.

A real `logging` handler writes into a StringIO through a real logger; the rate
limiter's clock is injected and its timer off, so that windows end when a test says so.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from mailflow import logs
from mediation import addresses
from tests.conftest import TEST_DOMAIN, TEST_SECRET


class FixedClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Logged = tuple[logging.Logger, io.StringIO, logs.ServiceHandler]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def logged(clock: FixedClock) -> Iterator[Logged]:
    """A logger of its own (no propagation) with the service's handler on a StringIO."""
    output = io.StringIO()
    handler = logs.ServiceHandler(output, burst=3, period=10.0, clock=clock, timer=False)
    logger = logging.getLogger("tests.logs")
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield logger, output, handler
    logger.removeHandler(handler)
    handler.close()


def lines(output: io.StringIO) -> list[str]:
    return output.getvalue().splitlines()


def test_each_template_writes_at_most_burst_lines_per_period(
    logged: Logged, clock: FixedClock
) -> None:
    """Of 100 lines of one template in a period, `burst` are written; another template
    has its own allowance; after the period, one line counts the suppressed ones and
    the template may write again."""
    logger, output, _ = logged
    for n in range(100):
        logger.warning("connection from %s refused", f"127.0.0.{n}")
    logger.info("other template %d", 1)
    assert len(lines(output)) == 3 + 1
    assert "127.0.0.2 refused" in lines(output)[2]

    clock.now += 10.0
    logger.warning("connection from %s refused", "127.0.0.200")
    written = lines(output)[4:]
    assert len(written) == 2
    assert "WARNING tests.logs: 97 more lines like this suppressed in 10 s" in written[0]
    assert "connection from %s refused" in written[0]
    assert written[1].endswith("connection from 127.0.0.200 refused")


def test_no_summary_when_nothing_was_suppressed(logged: Logged, clock: FixedClock) -> None:
    """A template that stayed within its allowance gets no summary line."""
    logger, output, handler = logged
    logger.info("quiet %d", 1)
    clock.now += 60.0
    logger.info("quiet %d", 2)
    handler.rate_limit.flush()
    assert [line.rsplit(": ", 1)[1] for line in lines(output)] == ["quiet 1", "quiet 2"]


def test_suppressed_lines_are_reported_when_the_handler_closes(clock: FixedClock) -> None:
    """Lines still suppressed when the process ends are counted in a last line."""
    output = io.StringIO()
    handler = logs.ServiceHandler(output, burst=1, period=10.0, clock=clock, timer=False)
    logger = logging.getLogger("tests.logs.close")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for _ in range(5):
            logger.error("relay down")
        handler.close()
    finally:
        logger.removeHandler(handler)
    assert len(lines(output)) == 2
    assert "ERROR tests.logs.close: 4 more lines like this suppressed" in lines(output)[1]


def test_many_distinct_messages_share_one_allowance_beyond_the_table(
    logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Messages built with f-strings (each its own template) cannot grow the table
    without end: beyond MAX_TEMPLATES they share one count per logger."""
    logger, output, handler = logged
    monkeypatch.setattr(logs, "MAX_TEMPLATES", 10)
    for n in range(100):
        logger.info(f"peer {n} said hello")
    assert len(handler.rate_limit._windows) == 11
    assert len(lines(output)) == 10 + 3


def test_tokens_are_redacted_in_message_arguments_and_traceback(logged: Logged) -> None:
    """Whatever carries a token, the template, a str or bytes argument or an
    exception, the written line has `<token>` instead."""
    logger, output, _ = logged
    secret = TEST_SECRET.encode()
    case = addresses.case_address(secret, TEST_DOMAIN, "SSG-2026-000001", addresses.Role.MERCHANT)
    bounce = addresses.bounce_address(secret, TEST_DOMAIN, 12)
    token = case.split("@")[0][-addresses.TOKEN_LENGTH :]
    logger.info(f"template with {case}")
    logger.info("str argument %s", bounce)
    logger.debug("bytes argument %r", f"RCPT TO:<{case.split('@')[0]}>".encode())
    logger.info("upper case %s", case.upper())
    try:
        raise ValueError(f"bad {case}")
    except ValueError:
        logger.exception("failed")
    text = output.getvalue()
    assert text.count("<token>") == 5
    assert token not in text.lower()
    assert bounce.split("@")[0][-addresses.TOKEN_LENGTH :] not in text
    assert "ValueError: bad fall+ssg-2026-000001.merchant.<token>@" in text


def test_words_and_other_text_are_left_alone() -> None:
    """Redaction takes only a token-shaped run after a separator of the address scheme."""
    text = "mail 12 from erika.mustermann@example.org: Reklamationsabteilung antwortet nicht"
    assert logs.redact(text) == text


def test_summary_comes_when_the_period_ends_without_further_lines() -> None:
    """After a flood stops, the count of its suppressed lines is written by a timer
    once the period is over, not only with the next line."""
    output = io.StringIO()
    handler = logs.ServiceHandler(output, burst=2, period=0.2)
    logger = logging.getLogger("tests.logs.timer")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        for n in range(50):
            logger.warning("flood line %d", n)
        assert len(lines(output)) == 2
        deadline = time.monotonic() + 5
        while len(lines(output)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "48 more lines like this suppressed" in lines(output)[2]
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert len(lines(output)) == 3
