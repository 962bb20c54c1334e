"""IMAP intake against a real Dovecot: store first, then move; checkpoints; quarantine; IDLE."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from imapclient import IMAPClient
from sqlalchemy import Engine, select, text

from mailflow import db, imap
from mailflow.config import ImapAccount
from mailflow.imap import ImapPoller, envelope_of, quarantine_reason, server_folder_name
from mailflow.models import ImapCheckpoint, StoredMail
from mailflow.spool import Spool, SpoolError
from tests.servers import DovecotServer, ImapUser

MAX_BYTES = 25 * 1024 * 1024
PROCESSED = "Siegel/Processed"
QUARANTINE = "Siegel/Quarantine"


def complaint(tag: str, *, date: datetime | None = None, body: str = "", extra: str = "") -> bytes:
    when = format_datetime(date or datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    text_body = body or f"Guten Tag,\r\nmeine Bestellung {tag} ist nicht angekommen.\r\n"
    return (
        f"{extra}From: Kundin <kundin@example.org>\r\nTo: beschwerde@siegel.test\r\n"
        f"Subject: Bestellung {tag}\r\nMessage-ID: <{tag}@example.org>\r\nDate: {when}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text_body}"
    ).encode()


def account_for(server: DovecotServer, user: ImapUser, **overrides: object) -> ImapAccount:
    values: dict = {
        "host": server.host,
        "port": server.port,
        "ssl": False,
        "username": user.username,
        "password": user.password,
        "processed_folder": PROCESSED,
        "quarantine_folder": QUARANTINE,
        "poll_seconds": 3600.0,
    }
    return ImapAccount(**(values | overrides))


def folder(name: str) -> str:
    """A configured folder name as the test Dovecot spells it (delimiter ".")."""
    return name.replace("/", ".")


def rows(engine: Engine) -> list[StoredMail]:
    with db.session_scope(engine) as session:
        return list(session.scalars(select(StoredMail).order_by(StoredMail.id)))


def checkpoint(engine: Engine, poller: ImapPoller) -> tuple[int, int] | None:
    with db.session_scope(engine) as session:
        found = session.scalars(
            select(ImapCheckpoint).where(ImapCheckpoint.account == poller.account_key)
        ).first()
        return (found.uidvalidity, found.last_uid) if found else None


def wait_until(condition: Callable[[], bool], timeout: float) -> float:
    """Seconds until `condition` held; fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.fixture
def spool(engine: Engine) -> Iterator[Spool]:
    writer = Spool(engine).start()
    yield writer
    writer.stop()


@pytest.fixture
def sqlite_spool(sqlite_engine: Engine) -> Iterator[Spool]:
    writer = Spool(sqlite_engine).start()
    yield writer
    writer.stop()


@pytest.fixture
def running() -> Iterator[Callable[[ImapPoller], threading.Thread]]:
    """Start pollers in threads; all are stopped (and must stop promptly) at the end."""
    stop = threading.Event()
    threads: list[tuple[ImapPoller, threading.Thread]] = []

    def start(poller: ImapPoller) -> threading.Thread:
        thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
        thread.start()
        threads.append((poller, thread))
        return thread

    yield start
    stop.set()
    for _, thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for _, thread in threads), "a poller did not stop"


# ----------------------------------------------------------------- pure parts


def test_envelope_comes_from_return_path_and_delivery_headers() -> None:
    """Return-Path gives the envelope sender; Delivered-To/X-Original-To the recipients."""
    raw = (
        b"Return-Path: <bounce+x@shop.example>\r\nDelivered-To: a@siegel.test\r\n"
        b"X-Original-To: b@siegel.test\r\nDelivered-To: a@siegel.test\r\n\r\nBody\r\n"
    )
    assert envelope_of(raw, "box@siegel.test") == (
        "bounce+x@shop.example",
        ("a@siegel.test", "b@siegel.test"),
    )


def test_envelope_without_delivery_headers_is_the_mailbox_and_an_unknown_sender() -> None:
    """No Return-Path means an unknown sender (None), `<>` the null sender of a bounce."""
    assert envelope_of(b"Return-Path: <>\r\nSubject: x\r\n\r\n", "box@siegel.test") == (
        "",
        ("box@siegel.test",),
    )
    assert envelope_of(b"Subject: no headers at all", "box@x") == (None, ("box@x",))


def test_quarantine_reasons() -> None:
    """Too large (by the server's size or the fetched bytes) or no body is quarantined."""
    assert quarantine_reason(31457280, None, 26214400) == (
        "imap: 31457280 bytes exceeds max_message_bytes 26214400"
    )
    assert quarantine_reason(10, b"x" * 11, 10) == "imap: 11 bytes exceeds max_message_bytes 10"
    assert quarantine_reason(10, None, 100) == "imap: the server returned no body"
    assert quarantine_reason(None, b"mail", 100) is None
    assert quarantine_reason(100, b"x" * 100, 100) is None


def test_folder_names_use_the_server_delimiter() -> None:
    """Configured folder levels ("/") are spelt with the server's delimiter."""
    assert server_folder_name("Siegel/Processed", ".") == "Siegel.Processed"
    assert server_folder_name("Siegel/Processed", "/") == "Siegel/Processed"
    assert server_folder_name("INBOX", None) == "INBOX"


# ------------------------------------------------------------ against Dovecot


@pytest.mark.dovecot
def test_mails_of_several_accounts_are_stored_once_then_moved(
    dovecot: DovecotServer, engine: Engine, spool: Spool
) -> None:
    """Each account's new mails are committed byte for byte, then moved to the processed folder."""
    accounts = [dovecot.add_user("beschwerde"), dovecot.add_user("complaints")]
    appended = {
        user.username: [complaint(f"{user.username}-{n}") for n in range(3)] for user in accounts
    }
    for user in accounts:
        for raw in appended[user.username]:
            dovecot.append(user, raw)
    pollers = [ImapPoller(account_for(dovecot, u), spool, engine, MAX_BYTES) for u in accounts]

    assert [poller.poll_once() for poller in pollers] == [3, 3]

    stored = rows(engine)
    assert len(stored) == 6
    for user, poller in zip(accounts, pollers, strict=True):
        mine = [row for row in stored if row.source == f"imap:{user.username}@127.0.0.1/INBOX"]
        assert [row.raw for row in mine] == appended[user.username]
        assert all(row.envelope_to == [user.username] for row in mine)
        assert dovecot.uids(user, "INBOX") == []
        assert dovecot.messages(user, folder(PROCESSED)) == appended[user.username]
        uidvalidity = dovecot.uidvalidity(user, "INBOX")
        assert checkpoint(engine, poller) == (uidvalidity, 3)
    assert [poller.poll_once() for poller in pollers] == [0, 0]
    for poller in pollers:
        poller.close()


@pytest.mark.dovecot
def test_a_failing_store_leaves_the_mail_in_the_inbox_until_it_succeeds(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool
) -> None:
    """A mail whose commit fails is neither moved nor checkpointed, and is taken next round."""
    user = dovecot.add_user()
    first, poison, third = (complaint(tag) for tag in ("first", "poison", "third"))
    uids = [dovecot.append(user, raw) for raw in (first, poison, third)]
    with sqlite_engine.begin() as connection:  # the database refuses one mail, as a full disk would
        connection.execute(
            text(
                "CREATE TRIGGER refuse BEFORE INSERT ON mail"
                " WHEN NEW.message_id = '<poison@example.org>'"
                " BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        )
    poller = ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES)

    with pytest.raises(SpoolError):
        poller.poll_once()

    assert [row.raw for row in rows(sqlite_engine)] == [first]
    assert dovecot.uids(user, "INBOX") == uids[1:]
    assert dovecot.messages(user, folder(PROCESSED)) == [first]
    assert checkpoint(sqlite_engine, poller) == (dovecot.uidvalidity(user, "INBOX"), uids[0])

    with sqlite_engine.begin() as connection:
        connection.execute(text("DROP TRIGGER refuse"))
    assert poller.poll_once() == 2
    assert [row.raw for row in rows(sqlite_engine)] == [first, poison, third]
    assert dovecot.uids(user, "INBOX") == []
    assert dovecot.messages(user, folder(PROCESSED)) == [first, poison, third]
    poller.close()


@pytest.mark.dovecot
def test_the_checkpoint_survives_a_new_poller(
    dovecot: DovecotServer, engine: Engine, spool: Spool
) -> None:
    """A new poller continues from the stored checkpoint: UIDs at or below it are not read."""
    user = dovecot.add_user()
    uids = [dovecot.append(user, complaint(f"cp-{n}")) for n in range(3)]
    uidvalidity = dovecot.uidvalidity(user, "INBOX")
    later = ImapPoller(account_for(dovecot, user), spool, engine, MAX_BYTES)
    with db.session_scope(engine) as session:  # as an earlier run left it after two UIDs
        session.add(
            ImapCheckpoint(
                account=later.account_key,
                folder="INBOX",
                uidvalidity=uidvalidity,
                last_uid=uids[1],
                updated_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )

    assert later.poll_once() == 1

    assert [row.message_id for row in rows(engine)] == ["<cp-2@example.org>"]
    assert dovecot.uids(user, "INBOX") == uids[:2]
    assert checkpoint(engine, later) == (uidvalidity, uids[2])
    later.close()


@pytest.mark.dovecot
def test_old_mails_are_fetched_however_old_their_date(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool
) -> None:
    """No look-back window: mail dated and delivered a month ago is stored like new mail."""
    user = dovecot.add_user()
    month_ago = datetime(2026, 10, 24, 8, 0, tzinfo=UTC)
    old = complaint("old", date=month_ago)
    dovecot.append(user, old, when=month_ago)
    dovecot.append(user, complaint("older", date=month_ago - timedelta(days=400)), when=month_ago)
    poller = ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES)

    assert poller.poll_once() == 2
    assert [row.message_id for row in rows(sqlite_engine)] == [
        "<old@example.org>",
        "<older@example.org>",
    ]
    poller.close()


@pytest.mark.dovecot
def test_a_changed_uidvalidity_reads_the_whole_folder_again(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool
) -> None:
    """After UIDVALIDITY changes, low UIDs are read again; a mail seen before stays one row."""
    user = dovecot.add_user()
    dovecot.create_folder(user, "Intake")
    for n in range(3):
        dovecot.append(user, complaint(f"before-{n}"), folder="Intake")
    poller = ImapPoller(
        account_for(dovecot, user, folder="Intake"), sqlite_spool, sqlite_engine, MAX_BYTES
    )
    assert poller.poll_once() == 3
    old_validity = dovecot.uidvalidity(user, "Intake")
    poller.close()

    # Recreating the folder gives it a new UIDVALIDITY and restarts its UIDs at 1.
    dovecot.delete_folder(user, "Intake")
    dovecot.create_folder(user, "Intake")
    fresh = dovecot.append(user, complaint("after"), folder="Intake")
    again = dovecot.append(user, complaint("before-0"), folder="Intake")
    new_validity = dovecot.uidvalidity(user, "Intake")
    assert new_validity != old_validity and (fresh, again) == (1, 2)

    assert poller.poll_once() == 2

    stored = {row.message_id: row.arrivals for row in rows(sqlite_engine)}
    assert stored == {
        "<before-0@example.org>": 2,
        "<before-1@example.org>": 1,
        "<before-2@example.org>": 1,
        "<after@example.org>": 1,
    }
    assert checkpoint(sqlite_engine, poller) == (new_validity, 2)
    poller.close()


@pytest.mark.dovecot
def test_an_oversize_mail_is_quarantined_with_its_headers_and_reason(
    dovecot: DovecotServer, engine: Engine, spool: Spool
) -> None:
    """A mail over max_message_bytes goes to the quarantine folder and is recorded, not dropped."""
    user = dovecot.add_user()
    small = complaint("small")
    big = complaint("big", body="Anhang\r\n" + "x" * 76 * 100 + "\r\n")
    dovecot.append(user, small)
    dovecot.append(user, big)
    poller = ImapPoller(account_for(dovecot, user), spool, engine, max_message_bytes=4000)

    assert poller.poll_once() == 1

    ok, held = rows(engine)
    assert (ok.raw, ok.status) == (small, "new")
    assert held.status == "quarantined"
    assert held.quarantine_reason == f"imap: {len(big)} bytes exceeds max_message_bytes 4000"
    assert held.raw == big[: big.index(b"\r\n\r\n") + 4]  # the headers only
    assert (held.message_id, held.size) == ("<big@example.org>", len(big))
    assert (held.from_address, held.subject) == ("kundin@example.org", "Bestellung big")
    assert dovecot.messages(user, folder(QUARANTINE)) == [big]
    assert dovecot.messages(user, folder(PROCESSED)) == [small]
    assert dovecot.uids(user, "INBOX") == []
    assert poller.poll_once() == 0
    assert len(rows(engine)) == 2
    poller.close()


@pytest.mark.dovecot
def test_a_mail_the_server_returns_no_body_for_is_recorded_as_quarantined(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool
) -> None:
    """When the server answers a fetch with no body (its file is lost), the mail is recorded."""
    user = dovecot.add_user()
    first, lost, third = (complaint(tag) for tag in ("first", "lost", "third"))
    uids = [dovecot.append(user, raw) for raw in (first, lost, third)]
    maildir = dovecot.root / "home" / user.username / "Maildir"
    [lost_file] = [path for path in maildir.glob("*/*") if b"<lost@" in path.read_bytes()]
    lost_file.unlink()  # Dovecot still lists it and now answers BODY[] NIL
    poller = ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES)

    assert poller.poll_once() == 2

    stored = rows(sqlite_engine)
    assert [row.raw for row in stored if row.status == "new"] == [first, third]
    [held] = [row for row in stored if row.status == "quarantined"]
    assert held.quarantine_reason == "imap: the server returned no body"
    assert held.size == len(lost)
    assert dovecot.messages(user, folder(PROCESSED)) == [first, third]
    assert checkpoint(sqlite_engine, poller) == (dovecot.uidvalidity(user, "INBOX"), uids[2])
    poller.close()


@pytest.mark.dovecot
def test_a_mail_the_server_cannot_deliver_is_set_aside_and_the_rest_flows(
    dovecot: DovecotServer,
    sqlite_engine: Engine,
    sqlite_spool: Spool,
    running,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message whose fetch keeps failing is recorded after three tries; the others are stored."""
    monkeypatch.setattr(imap, "BACKOFF_FIRST_SECONDS", 0.05)  # retry at once, not after 1 s
    user = dovecot.add_user()
    first, unreadable, third = (complaint(tag) for tag in ("first", "unreadable", "third"))
    for raw in (first, unreadable, third):
        dovecot.append(user, raw)
    maildir = dovecot.root / "home" / user.username / "Maildir"
    [broken] = [path for path in maildir.glob("*/*") if b"<unreadable@" in path.read_bytes()]
    broken.chmod(0)  # Dovecot cannot read it and ends the session on each fetch
    running(ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES))

    wait_until(lambda: len(rows(sqlite_engine)) == 3, timeout=20)

    stored = rows(sqlite_engine)
    assert [row.raw for row in stored if row.status == "new"] == [first, third]
    [held] = [row for row in stored if row.status == "quarantined"]
    assert held.quarantine_reason == (
        "imap: fetching it failed 3 times; the server cannot deliver it"
    )
    assert held.size == len(unreadable)
    wait_until(lambda: dovecot.messages(user, folder(PROCESSED)) == [first, third], timeout=5)


@pytest.mark.dovecot
def test_the_same_mail_twice_by_imap_is_one_row(
    dovecot: DovecotServer, engine: Engine, spool: Spool
) -> None:
    """The same mail delivered twice to the mailbox is stored once, its arrivals counted."""
    user = dovecot.add_user()
    raw = complaint("twice")
    dovecot.append(user, raw)
    dovecot.append(user, b"Delivered-To: " + user.username.encode() + b"\r\n" + raw)
    poller = ImapPoller(account_for(dovecot, user), spool, engine, MAX_BYTES)

    assert poller.poll_once() == 2

    [row] = rows(engine)
    assert (row.raw, row.arrivals) == (raw, 2)
    assert len(dovecot.messages(user, folder(PROCESSED))) == 2
    poller.close()


@pytest.mark.dovecot
def test_idle_picks_up_new_mail_at_once_on_several_accounts(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool, running
) -> None:
    """With IDLE a new mail is stored within seconds although the poll interval is an hour."""
    users = [dovecot.add_user("idle-a"), dovecot.add_user("idle-b")]
    for user in users:
        dovecot.append(user, complaint(f"waiting-{user.username}"))
        running(ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES))
    wait_until(lambda: len(rows(sqlite_engine)) == 2, timeout=10)
    time.sleep(0.3)  # both pollers are in IDLE now

    for user in users:
        dovecot.append(user, complaint(f"new-{user.username}"))
    seconds = wait_until(lambda: len(rows(sqlite_engine)) == 4, timeout=10)

    assert seconds < 3
    for user in users:
        wait_until(lambda user=user: dovecot.uids(user, "INBOX") == [], timeout=5)


@pytest.mark.dovecot
def test_without_idle_the_poller_polls_and_moves_by_copy_and_expunge(
    dovecot_basic: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool, running
) -> None:
    """On a server without IDLE and MOVE, polling finds new mail and COPY + EXPUNGE moves it."""
    user = dovecot_basic.add_user()
    account = account_for(dovecot_basic, user, poll_seconds=0.2)
    with dovecot_basic.connect(user) as client:
        assert not client.has_capability("IDLE") and not client.has_capability("MOVE")
    running(ImapPoller(account, sqlite_spool, sqlite_engine, MAX_BYTES))

    raw = complaint("polled")
    dovecot_basic.append(user, raw)

    wait_until(lambda: [row.raw for row in rows(sqlite_engine)] == [raw], timeout=10)
    wait_until(lambda: dovecot_basic.messages(user, folder(PROCESSED)) == [raw], timeout=5)
    assert dovecot_basic.uids(user, "INBOX") == []


@pytest.mark.dovecot
def test_the_poller_reconnects_after_the_server_drops_it(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool, running
) -> None:
    """When the server ends the session the thread reconnects and keeps taking mail."""
    user = dovecot.add_user()
    thread = running(ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES))
    dovecot.append(user, complaint("before-kick"))
    wait_until(lambda: len(rows(sqlite_engine)) == 1, timeout=30)
    time.sleep(0.3)

    dovecot.kick(user)
    dovecot.append(user, complaint("after-kick"))

    wait_until(lambda: len(rows(sqlite_engine)) == 2, timeout=30)
    assert thread.is_alive()


@pytest.mark.dovecot
def test_a_wrong_password_is_retried_and_never_logged(
    dovecot: DovecotServer,
    sqlite_engine: Engine,
    sqlite_spool: Spool,
    running,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A login failure keeps the thread alive and retrying; the password appears in no log."""
    user = dovecot.add_user()
    secret = "wrong-Passw0rd-do-not-log"
    caplog.set_level(logging.DEBUG)
    thread = running(
        ImapPoller(
            account_for(dovecot, user, password=secret), sqlite_spool, sqlite_engine, MAX_BYTES
        )
    )

    wait_until(
        lambda: any(r.name == "mailflow.imap" and "retrying" in r.message for r in caplog.records),
        timeout=10,
    )
    assert thread.is_alive()
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert secret not in caplog.text


@pytest.mark.dovecot
def test_stop_ends_an_idling_poller_promptly(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool
) -> None:
    """Setting the stop event ends a poller that waits in IDLE within a second."""
    user = dovecot.add_user()
    dovecot.append(user, complaint("one"))
    stop = threading.Event()
    poller = ImapPoller(account_for(dovecot, user), sqlite_spool, sqlite_engine, MAX_BYTES)
    thread = threading.Thread(target=poller.run, args=(stop,), daemon=True)
    thread.start()
    wait_until(lambda: len(rows(sqlite_engine)) == 1, timeout=10)
    time.sleep(0.3)

    asked = time.monotonic()
    stop.set()
    thread.join(5)

    assert not thread.is_alive()
    assert time.monotonic() - asked < 1.5


@pytest.mark.dovecot
def test_a_mail_arriving_just_before_idle_is_taken_at_once(
    dovecot: DovecotServer, sqlite_engine: Engine, sqlite_spool: Spool, running, monkeypatch
) -> None:
    """A mail appended after the poller's last check and before its IDLE is announced by
    the server as IDLE starts, often in the same packet as the "+ idling" answer, which
    the client has then read into its buffer already: it is taken then, not at the next
    renewal of IDLE (here 10 minutes away)."""
    user = dovecot.add_user()
    appended: list[str] = []
    original_idle = IMAPClient.idle

    def idle_after_an_arrival(client: IMAPClient) -> None:
        if not appended:
            appended.append("late")
            dovecot.append(user, complaint("late"))
        original_idle(client)

    monkeypatch.setattr(IMAPClient, "idle", idle_after_an_arrival)
    running(
        ImapPoller(
            account_for(dovecot, user, idle_seconds=600), sqlite_spool, sqlite_engine, MAX_BYTES
        )
    )
    wait_until(lambda: len(rows(sqlite_engine)) == 1, timeout=8)
