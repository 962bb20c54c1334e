"""The demo's relay: `[relay] maildir` delivers the outbox into real Maildirs, with the
relay's claim, attempt record and status transitions, and the shipped config uses it."""

from __future__ import annotations

import email
import mailbox
import tomllib
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config, load
from mailflow.db import session_scope, utcnow
from mailflow.maildir import mailbox_name
from mailflow.models import OutboxMail, OutboxStatus
from mailflow.relay import Relay
from mediation.outgoing import OutgoingMail
from tests.conftest import make_config
from tests.outbox_rows import enqueued_row

REPO = Path(__file__).resolve().parents[1]


def read(file: BinaryIO) -> EmailMessage:
    return email.message_from_binary_file(file, policy=policy.default)  # type: ignore[return-value]


def queue(engine: Engine, config: Config, to: str, subject: str, **fields: Any) -> int:
    """An acknowledgement to `to` in the outbox, due a moment ago; its id."""
    values = {
        "text": "Ihre Beschwerde über Möbel Fuchs ist eingegangen.\n",
        "html": "<p>Ihre Beschwerde über <b>Möbel Fuchs</b> ist eingegangen.</p>",
        "kind": "customer.complaint_acknowledged",
        "language": "de",
    }
    mail = OutgoingMail(to=to, subject=subject, **(values | fields))
    row = enqueued_row(engine, config, mail, utcnow() - timedelta(seconds=1))
    assert row.id is not None
    return row.id


def test_relay_delivers_into_a_maildir_per_recipient(sqlite_engine: Engine, tmp_path: Path) -> None:
    """Each row becomes one file in `new/` of its recipient's Maildir, which Python's
    mailbox.Maildir reads back with Return-Path and Delivered-To on top; the row is
    `sent` with a 250 attempt naming the file."""
    config = make_config(tmp_path, relay={"maildir": "var/mail"})
    first = queue(sqlite_engine, config, "erika@example.org", "Eingang bestätigt")
    second = queue(sqlite_engine, config, "Support@Moebel-Fuchs.example", "Neue Beschwerde")
    assert Relay(sqlite_engine, config).run_once() == 2

    root = tmp_path / "var" / "mail"
    assert sorted(p.name for p in root.iterdir()) == [
        "erika@example.org",
        "support@moebel-fuchs.example",
    ]
    box = mailbox.Maildir(root / "erika@example.org", factory=read, create=False)
    [message] = list(box)
    assert message["Delivered-To"] == "erika@example.org"
    assert message["Return-Path"].startswith("<bounce+")
    assert message["Subject"] == "Eingang bestätigt"
    assert "Möbel Fuchs" in message.get_body(("plain",)).get_content()
    assert len(list((root / "erika@example.org" / "new").iterdir())) == 1
    assert not list((root / "erika@example.org" / "tmp").iterdir())
    with Session(sqlite_engine) as session:
        for row_id in (first, second):
            row = session.get(OutboxMail, row_id)
            assert row is not None and row.status == OutboxStatus.SENT and row.sent_at
            [attempt] = outbox.list_attempts(session, row_id)
            assert attempt.code == 250 and "maildir" in attempt.response


def _send_again(engine: Engine, row_id: int) -> None:
    """What `relay.recover` does with a row a killed relay left `sending`: queue it."""
    with session_scope(engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None
        row.status, row.next_attempt_at = OutboxStatus.QUEUED, utcnow() - timedelta(seconds=1)
        session.add(row)


def test_a_row_sent_again_after_a_crash_is_in_the_maildir_once(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A relay killed after writing the file but before recording `sent` sends the row
    again on restart (a black-box run found four acknowledgements twice in nine kills):
    the file's name is the row's, so the second delivery writes nothing, also after a
    reader moved the mail to `cur/` with its flags."""
    config = make_config(tmp_path, relay={"maildir": "var/mail"})
    row_id = queue(sqlite_engine, config, "erika@example.org", "Eingang bestätigt")
    other = queue(sqlite_engine, config, "erika@example.org", "Noch eine")
    assert Relay(sqlite_engine, config).run_once() == 2
    folder = tmp_path / "var" / "mail" / "erika@example.org"
    assert len(list((folder / "new").iterdir())) == 2
    # Killed between the link into new/ and the unlink, it left its copy in tmp/: the
    # delivery that finds the mail there removes it, and only it.
    for file in (folder / "new").iterdir():
        leftover = folder / "tmp" / f"{file.name.rsplit('.', 1)[0]}.4242.99"
        leftover.write_bytes(file.read_bytes())
    _send_again(sqlite_engine, row_id)
    assert Relay(sqlite_engine, config).run_once() == 1
    assert len(list((folder / "new").iterdir())) == 2
    [kept] = (folder / "tmp").iterdir()
    assert "Noch eine" in kept.read_text()
    kept.unlink()
    for file in (folder / "new").iterdir():  # read, on a host of another name
        file.rename(folder / "cur" / f"{file.name.rsplit('.', 1)[0]}.otherhost:2,S")
    _send_again(sqlite_engine, row_id)
    assert Relay(sqlite_engine, config).run_once() == 1
    assert list((folder / "new").iterdir()) == [] and len(list((folder / "cur").iterdir())) == 2
    assert not list((folder / "tmp").iterdir())
    with Session(sqlite_engine) as session:
        attempts = outbox.list_attempts(session, row_id)
        assert [a.code for a in attempts] == [250, 250, 250]
        assert "already in maildir" in attempts[-1].response
        assert len(outbox.list_attempts(session, other)) == 1


def test_unwritable_maildir_defers_and_records_the_attempt(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    """A Maildir that cannot be written (here: a file stands where it should be) is a
    temporary failure: the row stays queued for a retry, the attempt says why."""
    (tmp_path / "mail").write_text("not a directory", encoding="utf-8")
    config = make_config(tmp_path, relay={"maildir": "mail"})
    row_id = queue(sqlite_engine, config, "erika@example.org", "Eingang")
    assert Relay(sqlite_engine, config).run_once() == 1
    with Session(sqlite_engine) as session:
        row = session.get(OutboxMail, row_id)
        assert row is not None and row.status == OutboxStatus.QUEUED and row.attempts == 1
        assert row.next_attempt_at > utcnow()
        [attempt] = outbox.list_attempts(session, row_id)
        assert attempt.outcome == "deferred" and "maildir delivery failed" in attempt.response


def test_mailbox_names_are_safe_directory_names() -> None:
    """A recipient never names a path outside the mail directory."""
    assert mailbox_name("Erika@Example.org") == "erika@example.org"
    assert "/" not in mailbox_name('"../../etc"/x@example.org')
    assert not mailbox_name(".hidden@example.org").startswith(".")


def test_the_shipped_demo_config_delivers_to_var_mail_and_has_an_operator() -> None:
    """config.toml, which `scripts/serve` runs, writes mail into var/mail rather than
    to a relay on port 25 that does not exist, and names an operator mailbox."""
    config = load(REPO / "config.toml", environ={})
    assert config.maildir_path == REPO / "var" / "mail"
    assert config.mediation.operator
    shipped = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    assert shipped["relay"]["maildir"] == "var/mail"
    assert "config.toml" in (REPO / "scripts" / "serve").read_text(encoding="utf-8")
    assert make_config(Path("/x")).maildir_path is None  # the default: SMTP
