"""Lifecycle mails to merchants: trial ending in 14 days (paid from the third month),
certification expiring in 30 days, re-check due; in the merchant's language, with the
certificate page's address, sent once each by the nightly recompute however often it
runs, and again only for a new date (a new certification)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Engine, select
from sqlmodel import Session

from mailflow import sealwork
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mediation import lifecycle_notices, seal
from mediation.storage import Merchant
from scoring import SealPhase, SealStatus
from tests.test_web_feedback_form import html_text, plain_text

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
TODAY = date(2026, 11, 26)


def test_which_notice_is_due_when() -> None:
    """Trial: from 14 days before its end; active: from 30 days before the end;
    re-check due once it ended; nothing otherwise."""
    trial = SealStatus(SealPhase.TRIAL, trial_ends_on=date(2026, 12, 10))
    assert lifecycle_notices.due(trial, TODAY, 14, 30) == [
        lifecycle_notices.Due(lifecycle_notices.Kind.TRIAL_ENDING, date(2026, 12, 10))
    ]
    assert lifecycle_notices.due(trial, date(2026, 11, 25), 14, 30) == []
    active = SealStatus(
        SealPhase.ACTIVE, valid_from=date(2025, 12, 26), valid_until=date(2026, 12, 26)
    )
    assert (
        lifecycle_notices.due(active, TODAY, 14, 30)[0].kind
        is lifecycle_notices.Kind.CERTIFICATION_EXPIRING
    )
    assert lifecycle_notices.due(active, TODAY, 14, 29) == []
    expired = SealStatus(SealPhase.RECHECK_DUE, valid_until=date(2026, 1, 10))
    assert (
        lifecycle_notices.due(expired, TODAY, 14, 30)[0].kind is lifecycle_notices.Kind.RECHECK_DUE
    )
    assert lifecycle_notices.due(SealStatus(SealPhase.PRECHECK_MISSING), TODAY, 14, 30) == []


def merchants(engine: Engine) -> dict[str, int]:
    ids = {}
    with session_scope(engine) as session:
        for slug, language, records in (
            ("in-testphase", "de", [("precheck-passed", date(2026, 9, 1)),
                                    ("trial-started", date(2026, 10, 5))]),
            ("laeuft-aus", "en", [("precheck-passed", date(2025, 12, 20))]),
            ("abgelaufen", "de", [("precheck-passed", date(2025, 10, 1))]),
            ("frisch", "de", [("precheck-passed", date(2026, 10, 1))]),
        ):  # fmt: skip
            merchant = Merchant(
                slug=slug, name=slug.title(), support_addresses=[f"info@{slug}.example"],
                language=language, created_at=NOW,
            )  # fmt: skip
            session.add(merchant)
            session.flush()
            for kind, on in records:
                seal.record(session, merchant.id, kind, on, "op", NOW)  # type: ignore[arg-type]
            ids[slug] = merchant.id
    return ids  # type: ignore[return-value]


def sent(engine: Engine) -> list[tuple[str, str, str]]:
    with Session(engine) as session:
        rows = list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))  # type: ignore[arg-type]
    return [(row.recipient, row.kind, plain_text(row)) for row in rows]


def test_the_nightly_recompute_sends_each_lifecycle_mail_once(
    sqlite_engine: Engine, config: Config
) -> None:
    """Three merchants get their notice, in German or English, with the certificate
    page; the fourth (certified a month ago) none; a second and third run send nothing
    more; a new re-check moves the expiry and a later run tells about the new date."""
    ids = merchants(sqlite_engine)
    first = sealwork.recompute(sqlite_engine, config, NOW)
    assert first.lifecycle_mails == 3
    mails = {to: (kind, body) for to, kind, body in sent(sqlite_engine)}
    assert {to: kind for to, (kind, _) in mails.items()} == {
        "info@in-testphase.example": "merchant.trial_ending",
        "info@laeuft-aus.example": "merchant.certification_expiring",
        "info@abgelaufen.example": "merchant.recheck_due",
    }
    trial, expiring, recheck = (
        mails[f"info@{slug}.example"][1] for slug in ids if slug != "frisch"
    )
    assert "endet in 9" in trial and "Ab dem 05.12.2026, dem Beginn des dritten Monats" in trial
    assert "/siegel/in-testphase?lang=de" in trial
    assert "expires on 20 December 2026, in 24 days" in expiring
    # The English merchant's link opens the English page, and is a link in the HTML part.
    page = f"{config.web.public_url}/siegel/laeuft-aus?lang=en"
    assert page in expiring
    with Session(sqlite_engine) as session:
        row = session.scalars(
            select(OutboxMail).where(OutboxMail.recipient == "info@laeuft-aus.example")
        ).one()
    assert f'<a href="{page}">{page}</a>' in html_text(row)
    assert "Nachprüfung ist\nfällig" in recheck or "Nachprüfung ist fällig" in recheck
    assert sealwork.recompute(sqlite_engine, config, NOW).lifecycle_mails == 0
    assert sealwork.recompute(sqlite_engine, config, NOW.replace(day=28)).lifecycle_mails == 0
    assert len(sent(sqlite_engine)) == 3
    with session_scope(sqlite_engine) as session:
        seal.record(session, ids["abgelaufen"], "precheck-passed", date(2025, 12, 1), "op", NOW)
    later = sealwork.recompute(sqlite_engine, config, NOW.replace(day=27))
    assert later.lifecycle_mails == 1
    assert sent(sqlite_engine)[-1][:2] == (
        "info@abgelaufen.example",
        "merchant.certification_expiring",
    )
    with Session(sqlite_engine) as session:
        assert len(lifecycle_notices.history(session, ids["abgelaufen"])) == 2
