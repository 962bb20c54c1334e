"""`siegel sweep --at T` fires what is due at T, and what it queues is sent now: the
relay, running on the real clock, delivers it without waiting for T."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow.db import utcnow
from mailflow.models import OutboxMail
from tests.harness import Harness, addressed_to, compose
from tests.sink import Sink

CUSTOMER = "erika.muster@example.org"
MERCHANT = "service@moebel-fuchs.test"
REF = re.compile(r"\[(SSG-\d{4}-\d{6})\]")


@pytest.fixture
def harness(sqlite_engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(sqlite_engine, tmp_path, sink)
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--domain", "moebel-fuchs.test")
    yield running
    running.stop()


def test_sweep_at_a_later_time_fires_what_is_due_then_and_sends_it_now(harness: Harness) -> None:
    """The reminder due at T fires on `sweep --at T`, the reply deadline after T does
    not; the reminder is due for the relay at once (its Date is T, the simulated time)."""
    text = "Mein Sofa von Möbel Fuchs kam mit gebrochenem Bein an. Bitte ersetzen."
    harness.send(compose(f"Erika Muster <{CUSTOMER}>", "beschwerde@siegel.test", "Sofa", text))
    [ack] = addressed_to(harness.process(), CUSTOMER)
    found = REF.search(ack.message["Subject"])
    assert found
    ref = found.group(1)
    deadlines = harness.case(ref)["deadlines"]
    reminder_at = datetime.fromisoformat(deadlines["merchant_reminder"])
    reply_due = datetime.fromisoformat(deadlines["merchant_reply"])
    assert utcnow() < reminder_at < reply_due

    swept = harness.cli("sweep", "--at", reminder_at.isoformat())
    assert "1 deadlines fired" in swept.stdout, swept.stdout
    with Session(harness.engine) as session:
        [row] = session.scalars(
            select(OutboxMail).where(OutboxMail.kind == "merchant.merchant_reminder")
        ).all()
        assert row.created_at == reminder_at
        assert row.next_attempt_at <= utcnow() + timedelta(seconds=1)

    sent = harness.process()  # the relay's clock is the real one: not moved to T
    assert harness.sent(sent) == [(MERCHANT, "merchant.merchant_reminder")]
    after = harness.case(ref)
    assert after["state"] == "awaiting_merchant"
    assert "merchant_reply" in after["deadlines"]
