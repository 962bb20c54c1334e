"""The outbox: rendering, one transaction with the cause, loop safety, bounce records."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlmodel import Session

from mailflow import outbox
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail, OutboxStatus
from mailflow.spool import Arrival, store
from mediation import addresses, mediator_store
from mediation.outgoing import OutgoingMail
from mediation.storage import Merchant
from tests.conftest import TEST_DOMAIN, make_config
from tests.outbox_rows import enqueued_row

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MESSAGE_ID = re.compile(rf"^<siegel\.[0-9a-f]{{32}}@{re.escape(TEST_DOMAIN)}>$")


def mail(**changes: object) -> OutgoingMail:
    base = OutgoingMail(
        to="kunde@example.org",
        subject="[SSG-2026-000123] Eingangsbestätigung Ihrer Beschwerde",
        text="Guten Tag,\n\nwir haben Ihre Beschwerde erhalten.\n",
        kind="ack-customer",
        language="de",
        case_ref="SSG-2026-000123",
        auto_reply=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=policy.default)


def enqueue(engine: Engine, config: Config, outgoing: OutgoingMail, now: datetime = NOW):
    return enqueued_row(engine, config, outgoing, now)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path, outbox={"max_autoreplies_per_day": 3})


# ------------------------------------------------------------------ rendering


def test_render_sets_loop_safety_and_threading_headers() -> None:
    """A rendered reply carries RFC 3834, loop, threading and language headers."""
    outgoing = mail(
        reply_to="fall+ssg-2026-000123.customer.abcdefghijklmnop@siegel.test",
        in_reply_to="<original@example.org>",
        references=("<root@example.org>",),
    )
    raw = outbox.render(outgoing, "<siegel.x@siegel.test>", TEST_DOMAIN, NOW)
    message = parsed(raw)
    assert message["From"] == "Service-Siegel <service@siegel.test>"
    assert message["To"] == "kunde@example.org"
    assert message["Reply-To"] == outgoing.reply_to
    assert message["Message-ID"] == "<siegel.x@siegel.test>"
    assert message["In-Reply-To"] == "<original@example.org>"
    assert message["References"].split() == ["<root@example.org>", "<original@example.org>"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message[outbox.LOOP_HEADER] == TEST_DOMAIN
    assert "NDR" not in message["X-Auto-Response-Suppress"].split(", ")
    assert "OOF" in message["X-Auto-Response-Suppress"].split(", ")
    assert message["Precedence"] is None
    assert message["Content-Language"] == "de"
    assert message["Date"].datetime == NOW
    assert message.get_content_type() == "text/plain"


def test_render_marks_mail_that_answers_nobody_as_auto_generated() -> None:
    """A notice that answers no incoming mail says `Auto-Submitted: auto-generated`."""
    raw = outbox.render(mail(auto_reply=False), "<siegel.x@siegel.test>", TEST_DOMAIN, NOW)
    assert parsed(raw)["Auto-Submitted"] == "auto-generated"
    assert parsed(raw)["In-Reply-To"] is None
    assert parsed(raw)["References"] is None


@pytest.mark.parametrize(
    ("language", "subject", "text"),
    [
        (
            "de",
            "Ihre Beschwerde über „Müller & Söhne“ – Größe/Maße falsch, Rückerstattung fällig",
            "Sehr geehrte Frau Öztürk,\n\ndie Frist läuft am Dienstag ab. Grüße, Ihr Büro\n",
        ),
        (
            "en",
            "Your complaint about Zoë's Café – naïve délivery to Düsseldorf",
            "Dear Mr Brontë,\n\nthe shop “Bäckerei Müller” has 2 business days to reply.\n",
        ),
    ],
    ids=["de", "en"],
)
def test_render_keeps_umlauts_and_stays_seven_bit(language: str, subject: str, text: str) -> None:
    """Non-ASCII subjects and bodies survive encoding; the wire bytes are 7-bit CRLF."""
    html = f"<p>{text.strip()}</p>"
    outgoing = mail(language=language, subject=subject, text=text, html=html)
    raw = outbox.render(outgoing, "<siegel.x@siegel.test>", TEST_DOMAIN, NOW)
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))  # RFC 5322 §2.1.1
    message = parsed(raw)
    assert message["Subject"] == subject
    assert message.get_content_type() == "multipart/alternative"
    # Lines end in CRLF on the wire (RFC 5322 §2.1), so compare with LF restored.
    assert message.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert message.get_body(("html",)).get_content().replace("\r\n", "\n").strip() == html
    assert message["Content-Language"] == language


def test_outgoing_mail_rejects_an_unknown_language() -> None:
    """Only German and English mail can be produced."""
    with pytest.raises(ValueError, match="language"):
        mail(language="fr")


@pytest.mark.parametrize("brk", ["\r\n", "\n", "\r", "\u2028", "\x85", "\x1c"])
def test_a_line_break_in_a_subject_cannot_inject_a_header(brk: str) -> None:
    """A line break in a subject (a customer's words) becomes a space: one Subject, no Bcc."""
    raw = outbox.render(mail(subject=f"Hallo{brk}Bcc: x@example.org"), "<a@b>", TEST_DOMAIN, NOW)
    message = parsed(raw)
    assert message["Subject"] == "Hallo Bcc: x@example.org"
    assert message["Bcc"] is None
    assert message.get_all("Subject") == ["Hallo Bcc: x@example.org"]


@pytest.mark.parametrize("field", ["to", "reply_to", "in_reply_to"])
def test_render_refuses_an_address_or_id_with_a_line_break(field: str) -> None:
    """Addresses and Message-IDs are never customer prose: a line break in one is refused."""
    value = {"to": "a@example.org\r\nBcc: x@example.org", "reply_to": "a@b\u2028c"}.get(
        field, "<a@b>\nBcc: x@example.org"
    )
    with pytest.raises(ValueError, match="line breaks"):
        outbox.render(mail(**{field: value}), "<a@b>", TEST_DOMAIN, NOW)


# ------------------------------------------------------------------ enqueue


def test_enqueue_stores_a_due_row_whose_verp_sender_names_it(
    engine: Engine, config: Config
) -> None:
    """A queued row is due now, its Message-ID is in its bytes, its VERP sender decodes to it."""
    row = enqueue(engine, config, mail())
    assert row.status == OutboxStatus.QUEUED
    assert row.next_attempt_at == NOW
    assert MESSAGE_ID.match(row.message_id)
    assert parsed(outbox.message(row, config))["Message-ID"] == row.message_id
    decoded = addresses.parse_recipient(
        config.secret_bytes, TEST_DOMAIN, outbox.envelope_sender(row, config)
    )
    assert decoded.kind is addresses.Kind.BOUNCE
    assert decoded.outbox_id == row.id
    with Session(engine) as session:
        stored = session.get(OutboxMail, row.id)
        assert stored is not None
        assert stored.envelope_from == row.envelope_from
        assert outbox.message(stored, config) == outbox.message(row, config)


def test_enqueue_commits_with_the_change_that_caused_it(engine: Engine, config: Config) -> None:
    """A rolled-back cause leaves no outbox row behind: one transaction, one door out."""
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        outbox.enqueue(session, mail(), config, NOW)
        raise RuntimeError("the case change failed after the mail was enqueued")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMail)) == 0


def test_every_row_gets_its_own_message_id(engine: Engine, config: Config) -> None:
    """Message-IDs are unique per row, even for the same mail enqueued twice."""
    rows = [enqueue(engine, config, mail(auto_reply=False)) for _ in range(5)]
    assert len({row.message_id for row in rows}) == 5


# ------------------------------------------------------------------ loop safety


def test_an_auto_reply_to_machine_mail_is_suppressed(engine: Engine, config: Config) -> None:
    """Nothing automatic is answered automatically: the row is kept but never due to send."""
    row = enqueue(engine, config, mail(answers_machine_mail=True))
    assert row.status == OutboxStatus.SUPPRESSED
    assert row.suppressed_reason is not None
    assert row.suppressed_reason.startswith(outbox.Suppression.ANSWERS_MACHINE_MAIL)


def test_a_forward_of_machine_mail_is_not_suppressed(engine: Engine, config: Config) -> None:
    """Only answers to the machine's sender are suppressed; other notices still go out."""
    row = enqueue(engine, config, mail(auto_reply=False, answers_machine_mail=True))
    assert row.status == OutboxStatus.QUEUED


def test_auto_replies_to_one_address_are_capped_per_day(engine: Engine, config: Config) -> None:
    """The cap counts sent auto-replies per address in 24 h, case-insensitively."""
    for minute in range(3):
        row = enqueue(engine, config, mail(), NOW + timedelta(minutes=minute))
        assert row.status == OutboxStatus.QUEUED
    over = enqueue(engine, config, mail(to="Kunde@Example.org"), NOW + timedelta(hours=1))
    assert over.status == OutboxStatus.SUPPRESSED
    assert over.suppressed_reason is not None
    assert over.suppressed_reason.startswith(outbox.Suppression.AUTOREPLY_DAILY_CAP)
    assert enqueue(engine, config, mail(), NOW + timedelta(hours=2)).status == "suppressed"
    other = enqueue(engine, config, mail(to="andere@example.org"), NOW + timedelta(hours=2))
    assert other.status == OutboxStatus.QUEUED
    notice = enqueue(engine, config, mail(auto_reply=False), NOW + timedelta(hours=2))
    assert notice.status == OutboxStatus.QUEUED
    # Only the three queued ones have left the window; the suppressed ones (hours 1
    # and 2, never sent) do not count.
    next_day = enqueue(engine, config, mail(), NOW + timedelta(hours=24, minutes=1))
    assert next_day.status == OutboxStatus.QUEUED


def test_mails_to_our_mediators_have_their_own_higher_cap(tmp_path: Path, engine: Engine) -> None:
    """A mediator confirms many acts a day: mails of the mediator.*, operator.* and
    merchant.* templates are counted against `max_staff_mails_per_day`, not the cap for
    anyone who writes to us,
    which still stops a loop with a mediator's auto-responder at that limit."""
    config = make_config(
        tmp_path, outbox={"max_autoreplies_per_day": 3, "max_staff_mails_per_day": 5}
    )
    mediator = "schlichterin@siegel-team.example"
    statuses = [
        enqueue(engine, config, mail(to=mediator, kind="mediator.proposal_sent")).status
        for _ in range(6)
    ]
    assert statuses == [OutboxStatus.QUEUED] * 5 + [OutboxStatus.SUPPRESSED]
    for kind in ("ack-customer", "customer.proposal"):
        customer = enqueue(engine, config, mail(to=f"{kind}@example.org", kind=kind))
        assert customer.status == OutboxStatus.QUEUED
    # A registered shop's notices about its cases too: a busy day must not silence them.
    shop = "support@moebel-fuchs.example"
    statuses = [
        enqueue(engine, config, mail(to=shop, kind="merchant.message_forwarded")).status
        for _ in range(6)
    ]
    assert statuses == [OutboxStatus.QUEUED] * 5 + [OutboxStatus.SUPPRESSED]
    stranger = [
        enqueue(engine, config, mail(to="x@example.org", kind="sender.not_party")).status
        for _ in range(4)
    ]
    assert stranger == [OutboxStatus.QUEUED] * 3 + [OutboxStatus.SUPPRESSED]


def test_every_automatic_mail_to_a_registered_support_address_has_the_staff_cap(
    tmp_path: Path, engine: Engine
) -> None:
    """A shop's day of confirmations must not silence the notice that its answer went to
    the wrong address: `sender.*` notices to a registered support address (any letter
    case) are capped with its `merchant.*` mails at `max_staff_mails_per_day`; the same
    notice to an address no shop registered keeps the lower cap."""
    config = make_config(
        tmp_path, outbox={"max_autoreplies_per_day": 3, "max_staff_mails_per_day": 8}
    )
    with session_scope(engine) as session:
        session.add(
            Merchant(
                slug="moebel-fuchs",
                name="Möbel Fuchs",
                support_addresses=["Support@moebel-fuchs.example"],
                domains=["moebel-fuchs.example"],
                created_at=NOW,
            )
        )
    shop = "support@moebel-fuchs.example"
    statuses = [
        enqueue(engine, config, mail(to=shop, kind=kind)).status
        for kind in ["merchant.message_forwarded"] * 3 + ["sender.use_case_address"] * 6
    ]
    assert statuses == [OutboxStatus.QUEUED] * 8 + [OutboxStatus.SUPPRESSED]
    colleague = "verkauf@moebel-fuchs.example"  # at its domain, not registered
    statuses = [
        enqueue(engine, config, mail(to=colleague, kind="sender.use_case_address")).status
        for _ in range(4)
    ]
    assert statuses == [OutboxStatus.QUEUED] * 3 + [OutboxStatus.SUPPRESSED]


def test_mail_to_our_own_case_address_is_suppressed(engine: Engine, config: Config) -> None:
    """Mail to one of our service addresses would loop into our intake: never sent."""
    own = addresses.case_address(
        config.secret_bytes, TEST_DOMAIN, "SSG-2026-000123", addresses.Role.MERCHANT
    )
    row = enqueue(engine, config, mail(to=own, auto_reply=False))
    assert row.status == OutboxStatus.SUPPRESSED
    assert row.suppressed_reason is not None
    assert row.suppressed_reason.startswith(outbox.Suppression.OWN_SERVICE_ADDRESS)
    postmaster = enqueue(engine, config, mail(to=f"postmaster@{TEST_DOMAIN}", auto_reply=False))
    assert postmaster.status == OutboxStatus.QUEUED


def _own(config: Config, kind: str) -> str:
    secret = config.secret_bytes
    return {
        "case": addresses.case_address(
            secret, TEST_DOMAIN, "SSG-2026-000123", addresses.Role.CUSTOMER
        ),
        "bounce": addresses.bounce_address(secret, TEST_DOMAIN, 42),
        "complaint": addresses.complaint_address(TEST_DOMAIN, "moebel-fuchs"),
    }.get(kind, kind)


OWN_DOMAIN = outbox.Suppression.AUTOREPLY_TO_OWN_DOMAIN
OWN_SERVICE = outbox.Suppression.OWN_SERVICE_ADDRESS


@pytest.mark.parametrize(
    ("to", "rule"),
    [
        (f"service@{TEST_DOMAIN}", OWN_DOMAIN),
        (f"postmaster@{TEST_DOMAIN}", OWN_DOMAIN),
        (f"abuse@{TEST_DOMAIN}", OWN_DOMAIN),
        (f"SERVICE@{TEST_DOMAIN.upper()}", OWN_DOMAIN),
        (f"Postmaster@{TEST_DOMAIN}.", OWN_DOMAIN),
        (f"info@{TEST_DOMAIN}", OWN_DOMAIN),
        (f"beschwerde@{TEST_DOMAIN}", OWN_SERVICE),
        ("complaint", OWN_SERVICE),
        ("case", OWN_SERVICE),
        ("bounce", OWN_SERVICE),
    ],
)
def test_no_automatic_answer_goes_to_an_address_at_our_domain(
    engine: Engine, config: Config, to: str, rule: str
) -> None:
    """An acknowledgement to any address at our own domain (any case, trailing dot) is
    stored suppressed with the rule that fired, never queued."""
    row = enqueue(engine, config, mail(to=_own(config, to)))
    assert row.status == OutboxStatus.SUPPRESSED
    assert row.suppressed_reason is not None
    assert row.suppressed_reason.startswith(f"{rule}: ")
    with Session(engine) as session:
        assert outbox.list_rows(session, status="queued") == []


@pytest.mark.parametrize(
    "to",
    [
        f"service@mail.{TEST_DOMAIN}",  # a subdomain is somebody else's
        f"service@{TEST_DOMAIN}.example",
        f"service@not{TEST_DOMAIN}",
        f"{TEST_DOMAIN}@example.org",
    ],
)
def test_addresses_that_only_look_like_ours_get_their_answer(
    engine: Engine, config: Config, to: str
) -> None:
    """Subdomains and look-alike domains are not ours: their acknowledgement is queued."""
    assert enqueue(engine, config, mail(to=to)).status == OutboxStatus.QUEUED


def test_people_configured_at_our_domain_still_get_answers(tmp_path: Path, engine: Engine) -> None:
    """A mediator or operator with a personal address at our domain, or a mediator
    registered as a record there (`siegel mediator add`), gets automatic answers; one of
    our service addresses stays ours (the configuration refuses it as a person's:
    tests/test_case_config.py)."""
    config = make_config(
        tmp_path,
        mediation={"mediators": [f"Anna@{TEST_DOMAIN}"], "operator": f"betrieb@{TEST_DOMAIN}"},
    )
    assert enqueue(engine, config, mail(to=f"anna@{TEST_DOMAIN}")).status == OutboxStatus.QUEUED
    assert enqueue(engine, config, mail(to=f"betrieb@{TEST_DOMAIN}")).status == OutboxStatus.QUEUED
    stranger = enqueue(engine, config, mail(to=f"bernd@{TEST_DOMAIN}"))
    assert stranger.status == OutboxStatus.SUPPRESSED
    with session_scope(engine) as session:
        mediator_store.save(
            session, mediator_store.MediatorRecord(address=f"bernd@{TEST_DOMAIN}", created_at=NOW,
                                                   changed_at=NOW)
        )  # fmt: skip
    assert enqueue(engine, config, mail(to=f"bernd@{TEST_DOMAIN}")).status == OutboxStatus.QUEUED
    service = enqueue(engine, config, mail(to=f"postmaster@{TEST_DOMAIN}"))
    assert service.status == OutboxStatus.SUPPRESSED
    assert service.suppressed_reason is not None
    assert service.suppressed_reason.startswith(OWN_DOMAIN)
    # Not an automatic answer: a notice to the address is sent.
    notice = enqueue(engine, config, mail(to=f"postmaster@{TEST_DOMAIN}", auto_reply=False))
    assert notice.status == OutboxStatus.QUEUED


# ------------------------------------------------------------------ bounces and listing


def stored_bounce(engine: Engine, n: int) -> int:
    raw = (
        f"From: MAILER-DAEMON@mx.example.org\r\nTo: bounce@siegel.test\r\n"
        f"Message-ID: <dsn-{n}@mx.example.org>\r\nSubject: Undelivered Mail\r\n\r\nfailed\r\n"
    ).encode()
    return store(engine, [Arrival(raw, "", (f"bounce@{TEST_DOMAIN}",), "test")], NOW)[0].mail_id


def test_a_permanent_failure_report_marks_the_row_bounced(engine: Engine, config: Config) -> None:
    """A DSN with action=failed marks the row bounced and is recorded with its code."""
    row = enqueue(engine, config, mail())
    bounce_id = stored_bounce(engine, 1)
    detail = {"action": "failed", "status": "5.1.1", "diagnostic_code": "smtp; 550 5.1.1 unknown"}
    with session_scope(engine) as session:
        bounced = outbox.record_bounce(session, row.id, bounce_id, detail, NOW)  # type: ignore[arg-type]
    assert bounced is not None
    with Session(engine) as session:
        stored = session.get(OutboxMail, row.id)
        assert stored is not None
        assert stored.status == OutboxStatus.BOUNCED
        assert stored.bounce_mail == bounce_id
        assert stored.last_error is not None and "5.1.1" in stored.last_error
        [report] = outbox.list_attempts(session, row.id)  # type: ignore[arg-type]
        assert (report.outcome, report.code) == (outbox.AttemptOutcome.BOUNCED, 550)
        assert '"status": "5.1.1"' in report.response


def test_a_delay_notice_is_recorded_but_changes_nothing(engine: Engine, config: Config) -> None:
    """A DSN with action=delayed is recorded; the row keeps its status."""
    row = enqueue(engine, config, mail())
    bounce_id = stored_bounce(engine, 2)
    with session_scope(engine) as session:
        outbox.record_bounce(
            session, row.id, bounce_id, {"action": "delayed", "status": "4.4.7"}, NOW
        )  # type: ignore[arg-type]
    with Session(engine) as session:
        stored = session.get(OutboxMail, row.id)
        assert stored is not None
        assert stored.status == OutboxStatus.QUEUED
        assert stored.bounce_mail is None
        [report] = outbox.list_attempts(session, row.id)  # type: ignore[arg-type]
        assert report.outcome == outbox.AttemptOutcome.DELAYED


def test_a_report_for_an_unknown_row_is_ignored(engine: Engine, config: Config) -> None:
    """A bounce naming a row that does not exist returns None and stores nothing."""
    bounce_id = stored_bounce(engine, 3)
    with session_scope(engine) as session:
        assert outbox.record_bounce(session, 999, bounce_id, {"action": "failed"}, NOW) is None


def test_list_rows_filters_by_status_newest_first(engine: Engine, config: Config) -> None:
    """The CLI listing shows the newest rows first and can filter by status."""
    first = enqueue(engine, config, mail(auto_reply=False))
    suppressed = enqueue(engine, config, mail(answers_machine_mail=True))
    last = enqueue(engine, config, mail(auto_reply=False))
    with Session(engine) as session:
        assert [r.id for r in outbox.list_rows(session)] == [last.id, suppressed.id, first.id]
        assert [r.id for r in outbox.list_rows(session, status="suppressed")] == [suppressed.id]
        assert [r.id for r in outbox.list_rows(session, limit=1)] == [last.id]


def test_a_row_written_by_another_version_still_renders(engine: Engine, config: Config) -> None:
    """A stored mail with a field this version does not know (written by a newer one) is
    rendered from the fields it knows, the same bytes as without it."""
    row = enqueue(engine, config, mail())
    before = outbox.message(row, config)
    with session_scope(engine) as session:
        stored = session.get(OutboxMail, row.id)
        assert stored is not None and stored.payload is not None
        stored.payload = {**stored.payload, "priority": "high"}
        session.add(stored)
    with session_scope(engine) as session:
        again = session.get(OutboxMail, row.id)
        assert again is not None and outbox.message(again, config) == before
