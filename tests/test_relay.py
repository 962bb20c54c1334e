"""The relay worker through real sockets: the in-process SMTP sink stands in for the relay."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from mailflow import outbox, queue
from mailflow.config import Config
from mailflow.db import session_scope, utcnow
from mailflow.models import OutboxAttempt, OutboxMail, OutboxStatus
from mailflow.relay import BATCH_SIZE, CLAIM_SIZE, Relay, backoff_seconds
from mailflow.spool import Arrival, store
from mediation import addresses
from mediation.outgoing import OutgoingMail
from tests.conftest import TEST_DOMAIN, TEST_SECRET, make_config
from tests.outbox_rows import enqueued_row, row_of
from tests.sink import Sink

REPO = Path(__file__).resolve().parents[1]
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BASE = 60.0
Outcome = outbox.AttemptOutcome


class Clock:
    """The relay's injected clock: time moves only when a test says so."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def relay_config(tmp_path: Path, sink: Sink, **relay: object) -> Config:
    settings = sink.relay_settings() | {"retry_base_seconds": BASE, "max_backoff_seconds": 600}
    return make_config(tmp_path, relay=settings | relay, queue={"poll_seconds": 0.05})


def mail(to: str = "haendler@shop.example", **changes: object) -> OutgoingMail:
    base = OutgoingMail(
        to=to,
        subject="[SSG-2026-000123] Neue Beschwerde: Lieferung fehlt",
        text="Guten Tag,\n\neine Kundin hat sich beschwert. Bitte antworten Sie bis Mittwoch.\n",
        kind="complaint-merchant",
        language="de",
        case_ref="SSG-2026-000123",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def enqueue(engine: Engine, config: Config, outgoing: OutgoingMail, now: datetime = START):
    return enqueued_row(engine, config, outgoing, now)


def attempts_of(engine: Engine, row_id: int | None) -> list[OutboxAttempt]:
    with Session(engine) as session:
        return outbox.list_attempts(session, row_id)  # type: ignore[arg-type]


# ------------------------------------------------------------------ delivery


def test_a_row_is_delivered_once_with_its_headers_and_verp_sender(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A due row reaches the relay once: stored bytes, loop headers, VERP sender naming it."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail(in_reply_to="<m1@shop.example>"))
    relay = Relay(engine, config, clock=Clock())
    assert relay.run_once() == 1
    assert relay.run_once() == 0
    [received] = sink.received
    sent = outbox.message(row, config)
    assert received.raw.replace(b"\r\n", b"\n") == sent.replace(b"\r\n", b"\n")
    assert received.rcpt_tos == ("haendler@shop.example",)
    decoded = addresses.parse_recipient(TEST_SECRET.encode(), TEST_DOMAIN, received.mail_from)
    assert decoded.outbox_id == row.id
    message = received.message
    assert message["Message-ID"] == row.message_id
    assert message["Auto-Submitted"] == "auto-generated"
    assert message[outbox.LOOP_HEADER] == TEST_DOMAIN
    assert message["In-Reply-To"] == "<m1@shop.example>"
    sent = row_of(engine, row.id)
    assert (sent.status, sent.attempts, sent.sent_at) == (OutboxStatus.SENT, 1, START)
    [attempt] = attempts_of(engine, row.id)
    assert (attempt.outcome, attempt.code) == (Outcome.SENT, 250)
    assert "queued as SINK1" in attempt.response


def test_an_acknowledgement_goes_before_the_nightly_bulk_queued_earlier(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Monthly reports to every shop are queued at night, all at once; a complaint's
    acknowledgement queued after them is sent first, not after thousands."""
    config = relay_config(tmp_path, sink)
    for number in range(3):
        report = mail(to=f"shop{number}@shop.example", kind="merchant.monthly_report")
        enqueue(engine, config, replace(report, case_ref=None))
    enqueue(engine, config, mail(to="kundin@example.org", kind="customer.complaint_acknowledged"),
            START + timedelta(minutes=1))  # fmt: skip
    clock = Clock(START + timedelta(minutes=2))
    assert Relay(engine, config, clock=clock).run_once() == 4
    assert [received.rcpt_tos for received in sink.received] == [
        ("kundin@example.org",),
        *((f"shop{number}@shop.example",) for number in range(3)),
    ]


@pytest.mark.parametrize("language", ["de", "en"])
def test_umlauts_survive_the_trip_through_the_relay(
    engine: Engine, sink: Sink, tmp_path: Path, language: str
) -> None:
    """German and English text with umlauts arrives decodable and unchanged."""
    config = relay_config(tmp_path, sink)
    subject, text = {
        "de": ("Ihre Beschwerde über Größe und Maße – Rückmeldung", "Grüße aus Bückeburg, ß!\n"),
        "en": ("Your complaint about Zoë's Café – naïve reply", "Kind regards from Düsseldorf\n"),
    }[language]
    enqueue(engine, config, mail(subject=subject, text=text, language=language, html="<b>ä</b>"))
    Relay(engine, config, clock=Clock()).run_once()
    [received] = sink.received
    assert received.raw.isascii()
    message = received.message
    assert message["Subject"] == subject
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().strip() == "<b>ä</b>"
    assert message["Content-Language"] == language


def test_a_temporary_refusal_is_retried_with_backoff_then_delivered(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """451 twice: retried after base and then twice base (plus at most 10 %), then sent."""
    config = relay_config(tmp_path, sink)
    clock = Clock()
    relay = Relay(engine, config, clock=clock)
    row = enqueue(engine, config, mail())
    sink.refuse("451 4.3.0 try again later", times=2)

    assert relay.run_once() == 1
    first = row_of(engine, row.id)
    assert first.status == OutboxStatus.QUEUED
    assert START + timedelta(seconds=BASE) <= first.next_attempt_at
    assert first.next_attempt_at <= START + timedelta(seconds=BASE * 1.1)
    assert relay.run_once() == 0  # not due yet

    clock.now = first.next_attempt_at
    assert relay.run_once() == 1
    second = row_of(engine, row.id)
    delay = (second.next_attempt_at - clock.now).total_seconds()
    assert 2 * BASE <= delay <= 2 * BASE * 1.1
    assert sink.received == []

    clock.now = second.next_attempt_at
    assert relay.run_once() == 1
    assert len(sink.received) == 1
    assert row_of(engine, row.id).status == OutboxStatus.SENT
    outcomes = [(a.outcome, a.code) for a in attempts_of(engine, row.id)]
    assert outcomes == [(Outcome.DEFERRED, 451), (Outcome.DEFERRED, 451), (Outcome.SENT, 250)]


@pytest.mark.parametrize("stage", ["rcpt", "data"])
@pytest.mark.parametrize(
    ("refusal", "status"),
    [
        # The recipient refused for good: a case's mail bounced, as a DSN would say.
        ("550 5.1.1 no such user here", OutboxStatus.BOUNCED),
        # A policy refusal (our relay refuses us): a failure of ours, no bounce.
        ("554 5.7.1 relay access denied", OutboxStatus.FAILED),
    ],
)
def test_a_permanent_refusal_fails_the_row_without_retry(
    engine: Engine, sink: Sink, tmp_path: Path, stage: str, refusal: str, status: str
) -> None:
    """A 5xx at RCPT or at DATA ends the row; it is never tried again."""
    config = relay_config(tmp_path, sink)
    clock = Clock()
    relay = Relay(engine, config, clock=clock)
    row = enqueue(engine, config, mail())
    recipient = row.recipient if stage == "rcpt" else None
    sink.refuse(refusal, recipient=recipient)
    assert relay.run_once() == 1
    clock.advance(24 * 3600)
    assert relay.run_once() == 0
    failed = row_of(engine, row.id)
    assert failed.status == status
    assert failed.last_error == refusal
    [attempt] = attempts_of(engine, row.id)
    assert (attempt.outcome, attempt.code) == (Outcome.FAILED, int(refusal[:3]))
    assert sink.received == []


def test_one_refused_recipient_does_not_hold_up_the_others(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Rows sent in one SMTP session: a recipient refused at RCPT fails alone."""
    config = relay_config(tmp_path, sink)
    rows = [enqueue(engine, config, mail(to=f"{name}@shop.example")) for name in "abc"]
    sink.refuse("550 5.1.1 mailbox unavailable", recipient="b@shop.example")
    assert Relay(engine, config, clock=Clock()).run_once() == 3
    statuses = [row_of(engine, row.id).status for row in rows]
    assert statuses == [OutboxStatus.SENT, OutboxStatus.BOUNCED, OutboxStatus.SENT]
    assert [r.rcpt_tos for r in sink.received] == [("a@shop.example",), ("c@shop.example",)]


def test_a_row_that_cannot_be_rendered_fails_alone(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A row whose stored mail cannot be rendered (its payload damaged) fails with the
    reason instead of stopping the relay at it; the next row is sent."""
    config = relay_config(tmp_path, sink)
    damaged, good = (enqueue(engine, config, mail(to=f"{n}@shop.example")) for n in "ab")
    with session_scope(engine) as session:
        session.execute(
            update(OutboxMail).where(OutboxMail.id == damaged.id).values(payload={"to": "a@b"})
        )
    assert Relay(engine, config, clock=Clock()).run_once() == 2
    failed = row_of(engine, damaged.id)
    assert failed.status == OutboxStatus.FAILED
    assert (failed.last_error or "").startswith("cannot be rendered: TypeError")
    assert row_of(engine, good.id).status == OutboxStatus.SENT
    assert [r.rcpt_tos for r in sink.received] == [("b@shop.example",)]


def test_a_relay_down_for_a_while_delays_delivery_without_losing_mail(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Connection refused: each pass records one attempt and stops; once up, all arrive."""
    config = relay_config(tmp_path, sink)
    clock = Clock()
    relay = Relay(engine, config, clock=clock)
    rows = [enqueue(engine, config, mail(to=f"h{n}@shop.example")) for n in range(3)]
    sink.stop()

    assert relay.run_once() == 1  # the relay is down: no use trying the other rows now
    for untried in rows[1:]:  # claimed with the first, then given back untouched
        row = row_of(engine, untried.id)
        assert (row.status, row.attempts, row.claimed_at) == (OutboxStatus.QUEUED, 0, None)
    [down] = attempts_of(engine, rows[0].id)
    assert (down.outcome, down.code) == (Outcome.DEFERRED, None)
    assert "unreachable" in down.response
    clock.advance(BASE * 1.1)
    assert relay.run_once() == 1

    sink.start()  # the same port again
    clock.advance(4 * BASE * 1.1)
    assert relay.run_once() == 3
    assert sorted(r.rcpt_tos[0] for r in sink.wait_for(3)) == [r.recipient for r in rows]
    assert {row_of(engine, row.id).status for row in rows} == {OutboxStatus.SENT}
    total = sum(len(attempts_of(engine, row.id)) for row in rows)
    assert total == 5  # two refused connections and three deliveries, each recorded


def test_temporary_failures_end_after_max_attempts(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A row that only ever meets 4xx is marked failed after `max_attempts` attempts."""
    config = relay_config(tmp_path, sink, max_attempts=3)
    clock = Clock()
    relay = Relay(engine, config, clock=clock)
    row = enqueue(engine, config, mail())
    sink.refuse("452 4.2.2 mailbox full")
    for _ in range(5):
        relay.run_once()
        clock.advance(3600)
    failed = row_of(engine, row.id)
    assert (failed.status, failed.attempts) == (OutboxStatus.FAILED, 3)
    outcomes = [a.outcome for a in attempts_of(engine, row.id)]
    assert outcomes == [Outcome.DEFERRED, Outcome.DEFERRED, Outcome.FAILED]


def test_a_refused_login_is_retried_not_failed(engine: Engine, tmp_path: Path) -> None:
    """AUTH refused (535) is our settings' fault, not the mail's: deferred, then sent."""
    sink = Sink(credentials=("siegel", "richtig")).start()
    try:
        wrong = relay_config(tmp_path, sink, username="siegel", password="falsch")
        row = enqueue(engine, wrong, mail())
        Relay(engine, wrong, clock=Clock()).run_once()
        refused = row_of(engine, row.id)
        assert refused.status == OutboxStatus.QUEUED
        assert attempts_of(engine, row.id)[0].code == 535
        right = relay_config(tmp_path, sink, username="siegel", password="richtig")
        Relay(engine, right, clock=Clock(START + timedelta(hours=1))).run_once()
        assert row_of(engine, row.id).status == OutboxStatus.SENT
        assert len(sink.received) == 1
    finally:
        sink.stop()


def test_suppressed_rows_are_never_sent(engine: Engine, sink: Sink, tmp_path: Path) -> None:
    """An auto-reply to machine mail stays in the outbox and never reaches the relay."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail(auto_reply=True, answers_machine_mail=True))
    assert Relay(engine, config, clock=Clock()).run_once() == 0
    assert sink.received == []
    assert row_of(engine, row.id).status == OutboxStatus.SUPPRESSED


# ------------------------------------------------------------------ crashes and concurrency


def test_recovery_requeues_only_rows_whose_lease_ran_out(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A row left `sending` past the lease is requeued and resent with its Message-ID."""
    config = relay_config(tmp_path, sink)
    stale = enqueue(engine, config, mail(to="alt@shop.example"))
    fresh = enqueue(engine, config, mail(to="neu@shop.example"))
    lease = config.queue.lease_seconds
    with session_scope(engine) as session:
        for row, claimed_at in [(stale, START - timedelta(seconds=lease + 1)), (fresh, START)]:
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == row.id)
                .values(status=OutboxStatus.SENDING, claimed_at=claimed_at)
            )
    relay = Relay(engine, config, clock=Clock())
    assert relay.recover(START) == 1
    assert relay.run_once() == 1
    [received] = sink.received
    assert received.message["Message-ID"] == stale.message_id
    assert row_of(engine, fresh.id).status == OutboxStatus.SENDING
    outcomes = [a.outcome for a in attempts_of(engine, stale.id)]
    assert outcomes == [Outcome.INTERRUPTED, Outcome.SENT]


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait(30)
    return child.pid


def test_recovery_takes_a_dead_holders_rows_at_once_and_leaves_the_others_to_the_lease(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Within the lease only the rows of a holder that died on this host come back (a
    `claimed` one silently, a `sending` one flagged interrupted); those of this live
    process, of another host or of no recorded holder wait for the lease."""
    config = relay_config(tmp_path, sink)
    host = socket.gethostname()
    dead = f"{host}:{_dead_pid()}:1"
    held = [
        (OutboxStatus.CLAIMED, dead),
        (OutboxStatus.SENDING, dead),
        (OutboxStatus.SENDING, queue.worker_id()),
        (OutboxStatus.SENDING, "other-host:1:1"),
        (OutboxStatus.CLAIMED, None),
    ]
    rows = [enqueue(engine, config, mail(to=f"r{n}@shop.example")) for n in range(len(held))]
    with session_scope(engine) as session:
        for row, (status, holder) in zip(rows, held, strict=True):
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.id == row.id)  # type: ignore[arg-type]
                .values(status=status, claimed_at=START, claimed_by=holder)
            )
    relay = Relay(engine, config, clock=Clock())
    assert relay.recover(START + timedelta(seconds=10)) == 2
    after = [row_of(engine, row.id) for row in rows]
    assert [(r.status, r.claimed_by) for r in after] == [
        (OutboxStatus.QUEUED, None),
        (OutboxStatus.QUEUED, None),
        *((status, holder) for status, holder in held[2:]),
    ]
    outcomes = [[a.outcome for a in attempts_of(engine, row.id)] for row in rows]
    assert outcomes == [[], [Outcome.INTERRUPTED], [], [], []]
    lease = config.queue.lease_seconds
    assert relay.recover(START + timedelta(seconds=lease + 1)) == 3


CHILD_RELAY = """
import json, sys
from pathlib import Path
from mailflow.config import parse
from mailflow.db import make_engine
from mailflow.relay import Relay
raw, url = json.loads(sys.argv[1]), sys.argv[2]
Relay(make_engine(url), parse(raw, Path("."), {})).run_once()
"""


def kill_a_relay_in_data(engine: Engine, sink: Sink) -> None:
    """Run a relay pass in a child process and SIGKILL it while the sink holds the first
    message's DATA (the message received, its 250 not yet given)."""
    raw_config = {
        "siegel": {"domain": TEST_DOMAIN, "secret": TEST_SECRET},
        "relay": sink.relay_settings(),
    }
    url = engine.url.render_as_string(hide_password=False)
    sink.hold()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_RELAY, json.dumps(raw_config), url],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    try:
        assert sink.data_held.wait(60), "the child relay never finished DATA"
        child.kill()
    finally:
        child.wait(30)
    sink.release()


@pytest.mark.slow
def test_a_relay_killed_before_its_commit_resends_with_the_same_message_id(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """SIGKILL after the relay got the message but before the 250 was stored: sent twice,
    both copies with the same Message-ID and the same bytes (at-least-once delivery)."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail(), utcnow())
    kill_a_relay_in_data(engine, sink)
    assert len(sink.received) == 1
    assert row_of(engine, row.id).status == OutboxStatus.SENDING

    after_lease = Clock(utcnow() + timedelta(seconds=config.queue.lease_seconds + 1))
    relay = Relay(engine, config, clock=after_lease)
    assert relay.recover(after_lease()) == 1
    assert relay.run_once() == 1
    first, second = sink.wait_for(2)
    assert first.message["Message-ID"] == second.message["Message-ID"] == row.message_id
    assert first.raw == second.raw
    assert row_of(engine, row.id).status == OutboxStatus.SENT


@pytest.mark.slow
def test_a_relay_killed_mid_batch_is_recovered_at_once_flagging_only_the_row_in_flight(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Killed while the first of three claimed rows is in DATA: the next relay (in this
    process) requeues them at once, the lease far from over, as their holder's pid is
    gone. The row in flight may have gone out and is resent flagged interrupted; the two
    never tried go back without an attempt, and each goes out once. A row this live
    process holds is left alone."""
    config = relay_config(tmp_path, sink)
    rows = [enqueue(engine, config, mail(to=f"k{n}@shop.example"), utcnow()) for n in range(3)]
    kill_a_relay_in_data(engine, sink)
    left = [row_of(engine, row.id) for row in rows]
    assert [r.status for r in left] == [
        OutboxStatus.SENDING,
        OutboxStatus.CLAIMED,
        OutboxStatus.CLAIMED,
    ]
    [child] = {r.claimed_by for r in left}
    assert child and child.startswith(f"{socket.gethostname()}:") and child != queue.worker_id()

    now = Clock(utcnow())  # within the lease: only the dead holder lets them go
    ours = enqueue(engine, config, mail(to="lebt@shop.example"), now())
    [held] = Relay(engine, config, clock=now)._claim(now(), CLAIM_SIZE)
    relay = Relay(engine, config, clock=now)
    assert relay.recover(now()) == 3
    assert relay.run_once() == 3
    received = sink.wait_for(4)
    counted = Counter(r.message["Message-ID"] for r in received)
    assert counted == {rows[0].message_id: 2, rows[1].message_id: 1, rows[2].message_id: 1}
    outcomes = [[a.outcome for a in attempts_of(engine, row.id)] for row in rows]
    assert outcomes == [[Outcome.INTERRUPTED, Outcome.SENT], [Outcome.SENT], [Outcome.SENT]]
    assert all(row_of(engine, row.id).claimed_by is None for row in rows)
    mine = row_of(engine, ours.id)
    assert held.id == ours.id and (mine.status, mine.claimed_by) == (
        OutboxStatus.SENDING,
        queue.worker_id(),
    )


def test_a_row_bounced_while_claimed_is_not_sent(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A delivery report recorded for a row that waits `claimed` behind the one in flight
    keeps it from being sent in that pass."""
    config = relay_config(tmp_path, sink)
    first, second = (enqueue(engine, config, mail(to=f"b{n}@shop.example")) for n in range(2))
    relay = Relay(engine, config, clock=Clock())
    sink.hold()
    sending = threading.Thread(target=relay.run_once)
    sending.start()
    assert sink.data_held.wait(10)
    assert row_of(engine, second.id).status == OutboxStatus.CLAIMED
    with session_scope(engine) as session:
        detail = {"action": "failed", "status": "5.1.1"}
        outbox.record_bounce(session, second.id, None, detail, START)  # type: ignore[arg-type]
    sink.release()
    sending.join(10)
    assert [r.message["Message-ID"] for r in sink.received] == [first.message_id]
    assert row_of(engine, second.id).status == OutboxStatus.BOUNCED


def test_a_bounce_recorded_during_the_send_keeps_the_last_word(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """A relay finishing late does not turn a row that bounced meanwhile back into `sent`."""
    config = relay_config(tmp_path, sink)
    row = enqueue(engine, config, mail())
    relay = Relay(engine, config, clock=Clock())
    sink.hold()
    sending = threading.Thread(target=relay.run_once)
    sending.start()
    assert sink.data_held.wait(10)
    dsn = b"From: MAILER-DAEMON@mx.shop.example\r\nMessage-ID: <dsn@mx>\r\n\r\nfailed\r\n"
    [bounce] = store(
        engine, [Arrival(dsn, "", (outbox.envelope_sender(row, config),), "test")], START
    )
    with session_scope(engine) as session:
        detail = {"action": "failed", "status": "5.1.1"}
        outbox.record_bounce(session, row.id, bounce.mail_id, detail, START)  # type: ignore[arg-type]
    sink.release()
    sending.join(10)
    assert row_of(engine, row.id).status == OutboxStatus.BOUNCED
    outcomes = [a.outcome for a in attempts_of(engine, row.id)]
    assert outcomes == [Outcome.BOUNCED, Outcome.SENT]


@pytest.mark.slow
def test_relays_running_at_once_never_send_a_row_twice(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """Three relay threads on one database: every row is claimed and sent exactly once."""
    config = relay_config(tmp_path, sink)
    count = 2 * BATCH_SIZE
    with session_scope(engine) as session:
        rows = [
            outbox.enqueue(session, mail(to=f"h{n}@shop.example"), config, START)
            for n in range(count)
        ]
    stop = threading.Event()
    relays = [Relay(engine, config, clock=Clock()) for _ in range(3)]
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in relays]
    for thread in threads:
        thread.start()
    try:
        received = sink.wait_for(count, timeout=60)
    finally:
        stop.set()
        for relay, thread in zip(relays, threads, strict=True):
            relay.wake()
            thread.join(10)
    message_ids = [r.message["Message-ID"] for r in received]
    assert sorted(message_ids) == sorted(row.message_id for row in rows)
    assert len(sink.received) == count  # nothing arrived after the last expected one
    with Session(engine) as session:
        attempts = session.scalars(select(OutboxAttempt)).all()
    assert len(attempts) == count


def test_wake_delivers_without_waiting_for_the_poll(
    engine: Engine, sink: Sink, tmp_path: Path
) -> None:
    """`wake()` after an enqueue makes a waiting relay deliver at once; stop ends it."""
    config = make_config(tmp_path, relay=sink.relay_settings(), queue={"poll_seconds": 60})
    relay = Relay(engine, config, clock=Clock())
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,))
    thread.start()
    try:
        enqueue(engine, config, mail())
        relay.wake()
        sink.wait_for(1, timeout=5)  # far less than the 60 s poll
    finally:
        stop.set()
        relay.wake()
        thread.join(5)
    assert not thread.is_alive()


# ------------------------------------------------------------------ backoff


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    """base·2^(n−1) seconds, capped, stretched by at most 10 % jitter."""
    assert [backoff_seconds(n, 60, 3600, 0.0) for n in (1, 2, 3, 7, 8, 500)] == [
        60,
        120,
        240,
        3600,
        3600,
        3600,
    ]
    assert backoff_seconds(1, 60, 3600, 0.999) == pytest.approx(65.994)
