"""Storage on SQLite and PostgreSQL: store-first commits, dedupe, concurrency, upgrades."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, func, inspect, select, text

from mailflow import db, migrations, schema, spool
from mailflow.models import OutboxMail, StoredMail
from mailflow.spool import Arrival, Spool
from mediation import loading, mediator_store, notices, storage
from mediation.mediator_store import MediatorRecord
from mediation.settings import Settings
from mediation.storage import Merchant
from tests.conftest import CORPORA
from tests.corpora import corpus_files

BERLIN = ZoneInfo("Europe/Berlin")


def mail(message_id: str, body: str = "Guten Tag,\nmeine Bestellung fehlt.\n") -> bytes:
    return (
        f"From: Kundin <kundin@example.org>\r\nTo: beschwerde@siegel.localhost\r\n"
        f"Subject: Bestellung 4711\r\nMessage-ID: <{message_id}>\r\n"
        f"Date: Tue, 24 Nov 2026 10:00:00 +0100\r\n\r\n{body.replace(chr(10), chr(13) + chr(10))}"
    ).encode()


def arrival(raw: bytes, to: str = "beschwerde@siegel.localhost", source: str = "smtp") -> Arrival:
    return Arrival(raw, "kundin@example.org", (to,), source)


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def read_all(url: str) -> list[StoredMail]:
    """Every stored mail, read through a new engine: only committed data is seen."""
    reader = db.make_engine(url)
    try:
        with db.session_scope(reader) as session:
            return list(session.scalars(select(StoredMail).order_by(StoredMail.id)))
    finally:
        reader.dispose()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite", marks=pytest.mark.sqlite),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without any schema, on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'blank.db'}"
    return request.getfixturevalue("postgres_url")


# ------------------------------------------------------------- what is stored


def test_store_commits_raw_bytes_hash_envelope_and_utc_time(engine: Engine) -> None:
    """A stored mail reads back byte for byte with its sha256, envelope and aware UTC time."""
    raw = (
        b"From: =?iso-8859-1?q?J=FCrgen?= <j@example.org>\r\nSubject: \xe4rger \r\n"
        b"Message-ID: <bytes@example.org>\r\n\r\nLatin-1 \xfc\xdf\r\nNUL \x00 and CR\rend\r\n"
    )
    received = datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)  # just after the DST change

    [stored] = spool.store(
        engine, [Arrival(raw, "j@example.org", ("a@x", "b@x"), "smtp")], now=received
    )

    [row] = read_all(url_of(engine))
    assert row.id == stored.mail_id and not stored.duplicate
    assert row.raw == raw
    assert row.sha256 == hashlib.sha256(raw).hexdigest()
    assert row.size == len(raw)
    assert (row.envelope_from, row.envelope_to, row.source) == (
        "j@example.org",
        ["a@x", "b@x"],
        "smtp",
    )
    assert row.received_at == received
    assert row.received_at.utcoffset() == timedelta(0)
    assert row.status == "new" and row.message_id == "<bytes@example.org>"


def test_corpus_mails_read_back_byte_for_byte(engine: Engine) -> None:
    """Every real mail of the flanker and mail-parser corpora is stored and read back unchanged."""
    files = sorted(
        path
        for folder in ("flanker", "mail-parser")
        for path in (CORPORA / folder).rglob("*")
        if path.is_file() and path.suffix not in {".md", ".txt", ".json", ".py"}
    )
    if not files:
        pytest.skip(f"corpora not found under {CORPORA}")
    raws = [path.read_bytes() for path in files]

    results = spool.store(engine, [arrival(raw) for raw in raws])

    rows = {row.id: row for row in read_all(url_of(engine))}
    for path, raw, result in zip(files, raws, results, strict=True):
        row = rows[result.mail_id]
        if result.duplicate:  # a corpus holds some mails twice: the first copy is kept
            assert row.fingerprint == spool.identify(raw).fingerprint, path
        else:
            assert (row.raw, row.sha256) == (raw, hashlib.sha256(raw).hexdigest()), path
    assert len(rows) == len({spool.identify(raw).fingerprint for raw in raws}) > 50


def parser_message_id(head: bytes) -> str:
    headers = BytesHeaderParser(policy=compat32).parsebytes(head)
    return " ".join(str(headers.get("Message-ID") or "").split())[:900]


def test_fast_message_id_reads_as_the_email_package_does() -> None:
    """spool's regular-expression reading of the Message-ID gives the parser's value on
    every real mail and on the shapes it must hand to the parser, or declines."""
    heads = [
        path.read_bytes().replace(b"\r\n", b"\n").split(b"\n\n")[0]
        for path in corpus_files() + sorted((Path(__file__).parent / "mails").glob("*.eml"))
    ]
    heads += [
        b"Message-ID:\r\n <folded@example.org>\r\nSubject: x",
        b"message-id: <lower@example.org>",
        b"MESSAGE-ID:   <a@b>  trailing  ",
        b"Message-ID: <first@x>\nMessage-ID: <second@x>",
        b"X-Message-ID: <not-this@x>\nMessage-ID: <this@x>",
        b"Subject: about\n Message-ID: <continuation@x>",
        b"Message-ID: <8bit-\xc3\xa4@x>",
        b"Message-ID: <bare\rcr@x>",
        b"From someone Tue Nov 24 10:00:00 2026\nMessage-ID: <mbox@x>",
        b"No colon here\nMessage-ID: <after-a-broken-line@x>",
        b"Message-ID : <space-before-colon@x>",
        b"Message-ID:",
        b"Subject: none",
        b"Message-ID: <" + b"x" * 2000 + b"@x>",
    ]
    fast = 0
    for head in heads:
        reading = spool.plain_message_id(head)
        if reading is not None:
            fast += 1
            assert reading == parser_message_id(head), head[:200]
    assert fast > len(heads) // 2  # most real mails take the fast reading


# ---------------------------------------------------------------------- dedupe


def test_same_mail_by_smtp_and_imap_is_one_mail(engine: Engine) -> None:
    """The same mail by SMTP (CRLF) and by IMAP (LF, trace headers) is one mail, arrived twice."""
    by_smtp = mail("twice@example.org")
    by_imap = (
        b"Return-Path: <kundin@example.org>\n"
        b"Delivered-To: complaints@siegel.localhost\n"
        b"Received: from mx.example.org by imap.siegel.localhost; Tue, 24 Nov 2026 10:00:02 +0100\n"
    ) + by_smtp.replace(b"\r\n", b"\n")

    first = spool.store(engine, [arrival(by_smtp)])
    second = spool.store(engine, [arrival(by_imap, "complaints@siegel.localhost", "imap:x@y/IN")])

    [row] = read_all(url_of(engine))
    assert first[0].mail_id == second[0].mail_id == row.id
    assert second[0].duplicate and not first[0].duplicate
    assert row.arrivals == 2
    assert row.envelope_to == ["beschwerde@siegel.localhost", "complaints@siegel.localhost"]
    assert row.raw == by_smtp  # the first copy is the one kept


@pytest.mark.parametrize("blanks", [b" \r\n", b"\t\n", b" \t \r\r\n", b"\r\r\n", b"\n"], ids=repr)
def test_blanks_at_line_ends_do_not_make_a_mail_new(blanks: bytes) -> None:
    """A relay that strips or adds blanks (or a CR) at line ends leaves the mail the same
    mail; a different word does not."""
    head = b"From: kundin@example.org\r\nMessage-ID: <blanks@example.org>\r\n\r\n"
    plain = spool.identify(head + b"Paket fehlt.\r\nBitte melden.\r\n").fingerprint
    padded = head + b"Paket fehlt." + blanks + b"Bitte melden." + blanks
    assert spool.identify(padded).fingerprint == plain
    assert spool.identify(head + b"Paket fehlt." + blanks + b"Bitte melden!").fingerprint != plain


def test_mails_without_a_header_block_are_told_apart_by_their_text(engine: Engine) -> None:
    """A black-box run got "250 already stored as mail N" for different mails whose text
    stood where the header should be (starting with an empty line; no empty line at
    all; a broken header line): their text was not in the fingerprint. Each is its own
    mail now; the same one twice is still one."""
    raws = [
        b"\nheaderless complaint A: das Paket fehlt\n\nGruss A\n",
        b"\nheaderless complaint B: die Rechnung ist falsch\n\nGruss A\n",
        b"X-Mailer: x\n:::\nbroken header block C\n",
        b"X-Mailer: x\n:::\nbroken header block D\n",
        b"\x00\x00\nzzz",
    ]
    stored = spool.store(engine, [arrival(raw) for raw in [*raws, raws[0]]])
    assert [s.duplicate for s in stored] == [False] * 5 + [True]
    assert stored[5].mail_id == stored[0].mail_id
    assert [row.raw for row in read_all(url_of(engine))] == raws
    # A well-formed header block alone is no text: a trace header added on the way
    # (IMAP's Delivered-To) does not make it another mail.
    head_only = b"From: a@example.org\r\nSubject: leer\r\nMessage-ID: <head@x.example>\r\n"
    first, again = spool.store(
        engine, [arrival(head_only), arrival(b"Delivered-To: b@y\n" + head_only)]
    )
    assert again.duplicate and again.mail_id == first.mail_id


def _set_status(engine: Engine, mail_id: int, status: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            StoredMail.__table__.update().where(StoredMail.id == mail_id).values(status=status)
        )


CASE_A = "fall+ssg-2026-000001.merchant.abcdefghijklmnop@siegel.localhost"
CASE_B = "fall+ssg-2026-000002.merchant.bcdefghijklmnopq@siegel.localhost"


@pytest.mark.parametrize("status", ["done", "processing"])
def test_a_worked_mail_arriving_for_a_new_case_address_is_stored_for_it(
    engine: Engine, status: str
) -> None:
    """The same message arrives again for a case address it was not worked for
    (Postfix's pipe delivery per recipient can do that) after the worker read it: it is
    stored once more, for the new case address alone, so that the worker acts there too;
    the original row lists every recipient, and a third copy for the same address is
    only counted. A copy for another address of ours (service@) acts nowhere anew: it
    is only counted (it would hold the mail a second time and tell the sender)."""
    raw = mail("later@example.org")
    [first] = spool.store(engine, [arrival(raw, CASE_A)])
    _set_status(engine, first.mail_id, status)

    [again] = spool.store(engine, [Arrival(raw, "k@example.org", (CASE_A, CASE_B.upper()), "smtp")])
    [third] = spool.store(engine, [arrival(raw, CASE_B)])
    [service] = spool.store(engine, [arrival(raw, "service@siegel.localhost")])

    original, redelivered = read_all(url_of(engine))
    assert not again.duplicate and again.mail_id == redelivered.id != first.mail_id
    assert redelivered.envelope_to == [CASE_B.upper()]
    assert (redelivered.status, redelivered.raw, redelivered.message_id) == (
        "new",
        raw,
        original.message_id,
    )
    assert original.envelope_to == [
        CASE_A,
        CASE_B.upper(),
        CASE_B,  # recorded as spelt; not worked again
        "service@siegel.localhost",
    ]
    assert third.duplicate and third.mail_id == original.id
    assert service.duplicate and service.mail_id == original.id and original.arrivals == 3
    assert redelivered.fingerprint == spool.redelivery_fingerprint(original.fingerprint, [CASE_B])


@pytest.mark.parametrize("status", ["new", "quarantined"])
def test_a_mail_not_yet_worked_takes_a_new_recipient_on_its_row(
    engine: Engine, status: str
) -> None:
    """Waiting or quarantined (a requeue works it again), the mail's one row takes the new
    recipient: the worker reads them all when it works the mail."""
    raw = mail("waiting@example.org")
    [first] = spool.store(engine, [arrival(raw, CASE_A)])
    _set_status(engine, first.mail_id, status)
    [again] = spool.store(engine, [arrival(raw, CASE_B)])
    [row] = read_all(url_of(engine))
    assert again.duplicate and again.mail_id == row.id
    assert row.envelope_to == [CASE_A, CASE_B]
    assert row.arrivals == 2


def test_same_message_id_with_another_body_is_two_mails(engine: Engine) -> None:
    """A sender that reuses a Message-ID for a different text gets both mails stored."""
    spool.store(engine, [arrival(mail("reused@example.org", "Erste Nachricht\n"))])
    spool.store(engine, [arrival(mail("reused@example.org", "Ganz andere Nachricht\n"))])

    rows = read_all(url_of(engine))
    assert [row.message_id for row in rows] == ["<reused@example.org>"] * 2
    assert {row.arrivals for row in rows} == {1}


def test_mail_without_message_id_gets_a_derived_one_and_dedupes(engine: Engine) -> None:
    """Two copies of a mail without Message-ID are one mail with an id derived from its content."""
    raw = b"From: a@example.org\r\nTo: b@siegel.localhost\r\nSubject: ohne ID\r\n\r\nText\r\n"

    spool.store(engine, [arrival(raw), arrival(raw.replace(b"\r\n", b"\n"))])

    [row] = read_all(url_of(engine))
    assert row.message_id_derived and row.message_id.endswith(f"@{spool.DERIVED_ID_DOMAIN}>")
    assert row.arrivals == 2


# ----------------------------------------------------------------- concurrency


def test_concurrent_stores_from_threads_store_each_mail_once(engine: Engine) -> None:
    """Eight threads storing their own mails and the same shared mails end with one row each."""
    threads, own_per_thread = 8, 15
    shared = [mail(f"shared-{n}@example.org") for n in range(5)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(number: int) -> None:
        try:
            start.wait()
            for index in range(own_per_thread):
                spool.store(engine, [arrival(mail(f"t{number}-{index}@example.org"))])
                if index < len(shared):
                    spool.store(engine, [arrival(shared[index], f"r{number}@siegel.localhost")])
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)

    assert errors == []
    rows = read_all(url_of(engine))
    assert len(rows) == threads * own_per_thread + len(shared)
    assert len({row.fingerprint for row in rows}) == len(rows)
    for row in rows:
        if row.message_id.startswith("<shared-"):
            assert row.arrivals == threads
            assert len(row.envelope_to) == threads


def test_spool_group_commit_from_many_threads(engine: Engine) -> None:
    """Mails put through one Spool from many threads are all committed and each gets its row id."""
    writer = Spool(engine).start()
    results: dict[int, int] = {}
    try:

        def put(number: int) -> None:
            results[number] = writer.put_sync(arrival(mail(f"group-{number}@example.org"))).mail_id

        workers = [threading.Thread(target=put, args=(n,)) for n in range(40)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(60)
    finally:
        writer.stop()

    rows = {row.id: row.message_id for row in read_all(url_of(engine))}
    assert len(rows) == 40
    assert {rows[mail_id] for mail_id in results.values()} == {
        f"<group-{n}@example.org>" for n in range(40)
    }


def test_spool_answers_each_coroutine_and_isolates_a_mail_it_cannot_store(engine: Engine) -> None:
    """Coroutines of one loop waiting on a Spool each get their own answer: their mail's
    row, or SpoolError for the one mail that cannot be stored; a waiter that went away
    meanwhile (its client disconnected) leaves the others and the writer working."""
    writer = Spool(engine).start()
    unstorable = Arrival("not bytes", "x@example.org", ("beschwerde@siegel.localhost",), "smtp")  # type: ignore[arg-type]

    async def burst() -> tuple[list[spool.Stored], spool.Stored]:
        good = [
            asyncio.ensure_future(writer.put(arrival(mail(f"loop-{n}@example.org"))))
            for n in range(30)
        ]
        gone = asyncio.ensure_future(writer.put(arrival(mail("gone@example.org"))))
        bad = asyncio.ensure_future(writer.put(unstorable))
        more = [
            asyncio.ensure_future(writer.put(arrival(mail(f"more-{n}@example.org"))))
            for n in range(30)
        ]
        await asyncio.sleep(0)  # every put has queued its mail
        gone.cancel()
        stored = await asyncio.wait_for(asyncio.gather(*good, *more), 30)
        with pytest.raises(spool.SpoolError):
            await asyncio.wait_for(bad, 30)
        return stored, await asyncio.wait_for(writer.put(arrival(mail("after@example.org"))), 30)

    try:
        stored, after = asyncio.run(burst())
    finally:
        writer.stop()

    rows = {row.id: row.message_id for row in read_all(url_of(engine))}
    assert [rows[result.mail_id] for result in stored] == [
        f"<{kind}-{n}@example.org>" for kind in ("loop", "more") for n in range(30)
    ]
    assert rows[after.mail_id] == "<after@example.org>"
    assert "<gone@example.org>" in rows.values()  # committed; its client got no 250


@pytest.mark.postgres
def test_postgres_unique_race_between_two_engines_ends_with_one_row(postgres_url: str) -> None:
    """Two processes inserting one mail at once on PostgreSQL end with one row, counted twice."""
    first, second = schema.open_database(postgres_url), db.make_engine(postgres_url)
    raw = mail("race@example.org")
    observer = db.make_engine(postgres_url)
    second_waited_on_lock = threading.Event()

    # Hold the first engine's transaction open after its INSERT until the second
    # engine's INSERT is blocked on the unique index: the race, made certain.
    @event.listens_for(first, "commit")
    def wait_for_the_second_insert(_connection) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with observer.connect() as probe:
                waiting = probe.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                    )
                ).scalar()
            if waiting:
                second_waited_on_lock.set()
                return
            time.sleep(0.02)

    results: dict[str, spool.Stored] = {}
    in_first = threading.Thread(
        target=lambda: results.update(first=spool.store(first, [arrival(raw)])[0])
    )
    in_first.start()
    time.sleep(0.2)  # the first transaction has flushed its row and waits in "commit"
    results["second"] = spool.store(second, [arrival(raw, "other@siegel.localhost")])[0]
    in_first.join(20)

    assert second_waited_on_lock.is_set()
    [row] = read_all(postgres_url)
    assert results["first"].mail_id == results["second"].mail_id == row.id
    assert results["second"].duplicate
    assert row.arrivals == 2
    for engine in (first, second, observer):
        engine.dispose()


# -------------------------------------------------------------------- upgrades


def _schema_rows(url: str) -> list[int]:
    reader = db.make_engine(url)
    try:
        with reader.connect() as connection:
            return list(
                connection.execute(text("SELECT version FROM schema_version ORDER BY version"))
                .scalars()
                .all()
            )
    finally:
        reader.dispose()


def test_the_version_a_current_database_is_opened_at_counts_every_migration() -> None:
    """`open_database` leaves a database at `SCHEMA_VERSION` alone: a step added without
    raising it would never run on an existing database."""
    assert len(migrations.MIGRATIONS) == schema.SCHEMA_VERSION


@pytest.fixture
def version_one_database(blank_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A database created by schema version 1 only, holding one stored mail."""
    with monkeypatch.context() as at_version_one:
        at_version_one.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:1])
        engine = db.make_engine(blank_database_url)
        assert migrations.upgrade(engine) == 1
        spool.store(
            engine, [arrival(mail("old@example.org"))], now=datetime(2026, 1, 5, tzinfo=UTC)
        )
        engine.dispose()
    yield blank_database_url


def test_upgrade_is_idempotent_and_keeps_data(version_one_database: str) -> None:
    """Upgrading an old database, and upgrading it again, keeps every stored mail."""
    before = read_all(version_one_database)
    engine = db.make_engine(version_one_database)

    reached = migrations.upgrade(engine)
    again = migrations.upgrade(engine)
    engine.dispose()

    assert reached == again == len(migrations.MIGRATIONS)
    assert _schema_rows(version_one_database) == list(range(1, reached + 1))
    after = read_all(version_one_database)
    assert [(m.id, m.raw, m.received_at) for m in after] == [
        (m.id, m.raw, m.received_at) for m in before
    ]


def test_opening_a_database_behind_the_schema_upgrades_it(version_one_database: str) -> None:
    """`open_database` skips the migrations only for a current database: one at version 1
    is brought to `SCHEMA_VERSION` with its mail kept."""
    engine = schema.open_database(version_one_database)
    with engine.connect() as connection:
        assert db.schema_version(connection) == schema.SCHEMA_VERSION
    with db.read_scope(engine) as session:
        assert len(session.exec(select(StoredMail)).all()) == 1
    engine.dispose()


def test_a_new_upgrade_step_runs_once_and_keeps_data(
    version_one_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future step that adds a column runs once, moves the version and keeps the data."""
    future = [
        *migrations.MIGRATIONS,
        ("test: a note on every mail", migrations.add_column("mail", "note", "TEXT")),
    ]
    monkeypatch.setattr(migrations, "MIGRATIONS", future)
    engine = db.make_engine(version_one_database)

    reached = migrations.upgrade(engine)
    assert migrations.upgrade(engine) == reached == len(future)

    with engine.connect() as connection:
        columns = {column["name"] for column in inspect(connection).get_columns("mail")}
        old = connection.execute(text("SELECT message_id, note FROM mail")).all()
    engine.dispose()
    assert "note" in columns
    assert [tuple(row) for row in old] == [("<old@example.org>", None)]
    assert _schema_rows(version_one_database) == list(range(1, len(future) + 1))


def _upgraded_to_before(url: str, about: str, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """An engine on `url` upgraded to the version before the step described by `about`."""
    step = next(
        n for n, (described, _) in enumerate(migrations.MIGRATIONS, 1) if about in described
    )
    engine = db.make_engine(url)
    with monkeypatch.context() as older:
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[: step - 1])
        assert migrations.upgrade(engine) == step - 1
    return engine


def test_merchants_registered_before_name_aliases_get_an_empty_list(
    blank_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step that adds `merchant.name_aliases` fills it with [] for existing rows, and
    the merchants are routed and take aliases afterwards."""
    engine = _upgraded_to_before(blank_database_url, "name aliases", monkeypatch)
    with engine.begin() as connection:  # the merchant table as the older versions made it
        connection.execute(text('ALTER TABLE merchant DROP COLUMN "name_aliases"'))
        connection.execute(
            Merchant.__table__.insert().values(  # type: ignore[attr-defined]
                slug="gruene-tasse", name="Grüne Tasse Teehandel", support_addresses=["a@b.test"],
                domains=[], language="de", created_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        )  # fmt: skip

    assert migrations.upgrade(engine) == migrations.upgrade(engine) == len(migrations.MIGRATIONS)
    with db.session_scope(engine) as session:
        merchant = storage.merchant_by_slug(session, "gruene-tasse")
        assert merchant is not None and merchant.name_aliases == []
        merchant.name_aliases = ["Grüne Tasse"]
    with db.session_scope(engine) as session:
        found = loading.find_merchant(session, "Tee", "bei Grüne Tasse bestellt")
        assert found.merchant is not None and found.merchant.name_aliases == ["Grüne Tasse"]
    engine.dispose()
    assert _schema_rows(blank_database_url) == list(range(1, len(migrations.MIGRATIONS) + 1))


def test_outbox_rows_from_before_claim_holders_keep_their_claim_without_a_holder(
    blank_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step that adds `outbox.claimed_by` keeps the rows, a claimed one with no holder
    (left to the lease), and runs once."""
    engine = _upgraded_to_before(blank_database_url, "which relay", monkeypatch)
    claimed_at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    with engine.begin() as connection:  # the outbox as the older versions made it
        connection.execute(text('ALTER TABLE outbox DROP COLUMN "claimed_by"'))
        connection.execute(
            OutboxMail.__table__.insert().values(  # type: ignore[attr-defined]
                message_id="<alt@siegel.test>", recipient="a@b.test", raw=b"", kind="test",
                status="sending", created_at=claimed_at, next_attempt_at=claimed_at,
                claimed_at=claimed_at,
            )
        )  # fmt: skip

    assert migrations.upgrade(engine) == migrations.upgrade(engine) == len(migrations.MIGRATIONS)
    with db.session_scope(engine) as session:
        [row] = session.scalars(select(OutboxMail)).all()
        assert (row.status, row.claimed_at, row.claimed_by) == ("sending", claimed_at, None)
    engine.dispose()
    assert _schema_rows(blank_database_url) == list(range(1, len(migrations.MIGRATIONS) + 1))


def test_mediators_registered_before_their_language_read_the_operators_default(
    blank_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step that adds `mediator.language` leaves existing records without one (the
    operator's default applies), and a language can be set afterwards."""
    step = next(
        n for n, (about, _) in enumerate(migrations.MIGRATIONS, 1) if "language of their" in about
    )
    engine = db.make_engine(blank_database_url)
    with monkeypatch.context() as older:
        older.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[: step - 1])
        assert migrations.upgrade(engine) == step - 1
    with engine.begin() as connection:  # the mediator table as the older versions made it
        connection.execute(text('ALTER TABLE mediator DROP COLUMN "language"'))
        connection.execute(
            MediatorRecord.__table__.insert().values(  # type: ignore[attr-defined]
                address="alt@example.org", name="Alt", paused=False, changed_by="operator",
                created_at=datetime(2026, 1, 5, tzinfo=UTC),
                changed_at=datetime(2026, 1, 5, tzinfo=UTC),
            )
        )  # fmt: skip

    assert migrations.upgrade(engine) == migrations.upgrade(engine) == len(migrations.MIGRATIONS)
    english = Settings(domain="siegel.test", secret=b"x", default_language="en")
    with db.session_scope(engine) as session:
        assert mediator_store.language(session, "Alt@Example.org") is None
        assert notices.mediator_language(session, "alt@example.org", english) == "en"
        record = mediator_store.record(session, "alt@example.org")
        assert record is not None
        record.language = "de"
    with db.session_scope(engine) as session:
        assert notices.mediator_language(session, "alt@example.org", english) == "de"
    engine.dispose()
    assert _schema_rows(blank_database_url) == list(range(1, len(migrations.MIGRATIONS) + 1))


def test_concurrent_upgrades_of_a_blank_database(blank_database_url: str) -> None:
    """Two processes upgrading the same blank database at once both succeed, each step runs once."""
    engines = [db.make_engine(blank_database_url) for _ in range(2)]
    reached: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def upgrade(engine: Engine) -> None:
        try:
            start.wait()
            reached.append(migrations.upgrade(engine))
        except BaseException as error:
            errors.append(error)

    workers = [threading.Thread(target=upgrade, args=(engine,)) for engine in engines]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join(60)
    for engine in engines:
        engine.dispose()

    assert errors == []
    assert reached == [len(migrations.MIGRATIONS)] * 2
    assert _schema_rows(blank_database_url) == list(range(1, len(migrations.MIGRATIONS) + 1))
    engine = db.make_engine(blank_database_url)
    with db.session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(StoredMail)) == 0
    engine.dispose()
