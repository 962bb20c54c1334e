"""Recomputing tiers against a real database: stored tiers and history, the mail that
tells a merchant, hysteresis from the stored tier, the trial and the certification
year, and two recomputes at once."""

from __future__ import annotations

import email
import email.policy
import re
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from mailflow import outbox, sealwork
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.models import OutboxMail
from mediation import rating_store as ratings
from mediation import seal
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State
from scoring import SealPhase, Tier
from tests.conftest import make_config

AT = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
TODAY = date(2026, 11, 26)
PASSED = date(2026, 3, 2)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


def add_merchant(engine: Engine, slug: str, language: str = "de") -> int:
    """A merchant with 40 cases in the window, all answered within an hour and closed,
    36 of them within the deadline, 36 resolved, 2 mediated, 20 ratings of 5: Silber
    (Gold misses its 50 cases), Bronze only when a 37th answer is late."""
    with session_scope(engine) as session:
        merchant = Merchant(slug=slug, name=f"Shop {slug}", language=language, created_at=AT,
                            support_addresses=[f"service@{slug}.test"])  # fmt: skip
        customer = Customer(address=f"kunde@{slug}.example", created_at=AT)
        session.add_all([merchant, customer])
        session.flush()
        for number in range(40):
            opened = AT - timedelta(days=30 + number)
            case = Case(
                ref=f"SSG-{slug[:4].upper()}-{number:06d}", state=State.CLOSED_RESOLVED,
                merchant_id=merchant.id, customer_id=customer.id, opened_at=opened,  # type: ignore[arg-type]
                updated_at=opened, first_reply_at=opened + timedelta(hours=1),
                first_reply_business_hours=1.0, first_reply_business_seconds=3600,
                first_reply_within_deadline=number < 36, closed_at=opened + timedelta(days=2),
                mediation_started_at=opened if number >= 38 else None,
            )  # fmt: skip
            if number >= 36:
                case.state = State.CLOSED_UNRESOLVED
            session.add(case)
            session.flush()
            if number < 20:
                five = ratings.GivenRating(service=5, reachability=5, reaction_time=5)
                ratings.save(session, case.id, merchant.id, five, None, case.closed_at)  # type: ignore[arg-type]
        return merchant.id  # type: ignore[return-value]


def record(engine: Engine, merchant_id: int, kind: str, on: date) -> None:
    with session_scope(engine) as session:
        seal.record(session, merchant_id, kind, on, "pruefer", AT)


def tier_mails(engine: Engine, config: Config) -> list[email.message.EmailMessage]:
    with Session(engine) as session:
        rows = session.scalars(
            select(OutboxMail)
            .where(OutboxMail.kind == "merchant.tier_changed")
            .order_by(OutboxMail.id)  # type: ignore[arg-type]
        ).all()
    return [
        email.message_from_bytes(outbox.message(row, config), policy=email.policy.default)
        for row in rows
    ]  # type: ignore[misc]


def text_of(message: email.message.EmailMessage) -> str:
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    return " ".join(body.split())  # one line: the wording, not where it wraps


def test_a_new_tier_is_stored_with_history_and_mailed_once(engine: Engine, config: Config) -> None:
    """The first recompute stores Silber with the whole assessment in the history and
    mails the merchant its tier and reasons in its language; the next one changes
    nothing and mails nothing."""
    german = add_merchant(engine, "teeladen")
    english = add_merchant(engine, "teashop", language="en")
    for merchant_id in (german, english):
        record(engine, merchant_id, "precheck-passed", PASSED)
    done = sealwork.recompute(engine, config, AT)
    assert (done.assessed, done.mails) == (2, 2)
    assert {(c.merchant, c.before, c.after) for c in done.changes} == {
        ("teeladen", Tier.NONE, Tier.SILBER),
        ("teashop", Tier.NONE, Tier.SILBER),
    }
    by_to = {str(message["To"]): message for message in tier_mails(engine, config)}
    de, en = by_to["service@teeladen.test"], by_to["service@teashop.test"]
    assert de["Subject"] == "Service-Siegel für Shop teeladen: Silber"
    assert "bisher kein Siegel, jetzt Silber" in text_of(de)
    assert "- Ihre Stufe: Silber." in text_of(de)
    assert (
        "- Für Gold fehlt: Zahl der Fälle im Zeitraum ist 40, nötig sind mindestens 50."
        in text_of(de)
    )
    assert en["Subject"] == "Service-Siegel for Shop teashop: Silber"
    assert "- Your tier: Silber." in text_of(en) and en["Content-Language"] == "en"
    assert "Ihre Zertifikatsseite: http://127.0.0.1:8080/siegel/teeladen?lang=de" in text_of(de)
    assert "Your certificate page: http://127.0.0.1:8080/siegel/teashop?lang=en" in text_of(en)
    with Session(engine) as session:
        held = session.get(seal.Seal, german)
        assert held is not None and (held.tier, held.previous_tier) == ("silber", "none")
        [changed] = [h for h in seal.history(session, german) if h.kind == "tier-changed"]
    assert (changed.tier_before, changed.tier_after) == ("none", "silber")
    assert changed.assessment["figures"]["cases"] == 40
    assert len(changed.assessment["explanation"]) == 24
    again = sealwork.recompute(engine, config, AT + timedelta(days=1))
    assert (again.changes, len(tier_mails(engine, config))) == ([], 2)


def test_a_held_tier_survives_a_narrow_miss_that_a_new_merchant_would_not(
    engine: Engine, config: Config
) -> None:
    """Hysteresis from the stored tier: one more late answer puts the within-deadline
    bound 1.1 points under Silber's; the merchant holding Silber keeps it (within the
    tolerance, and told nothing), a merchant with the same figures and no tier gets
    Bronze."""
    holder = add_merchant(engine, "teeladen")
    newcomer = add_merchant(engine, "kaffeehaus")
    record(engine, holder, "precheck-passed", PASSED)
    assert [c.after for c in sealwork.recompute(engine, config, AT).changes] == [Tier.SILBER]
    record(engine, newcomer, "precheck-passed", PASSED)
    with session_scope(engine) as session:
        session.execute(
            update(Case)
            .where(Case.ref.in_(["SSG-TEEL-000035", "SSG-KAFF-000035"]))  # type: ignore[attr-defined]
            .values(first_reply_within_deadline=False)
        )
    done = sealwork.recompute(engine, config, AT)
    assert [(c.merchant, c.after) for c in done.changes] == [("kaffeehaus", Tier.BRONZE)]
    with Session(engine) as session:
        [kept] = sealwork.assess(session, config, AT, "teeladen")
    assert kept.tier is Tier.SILBER
    [narrow] = [n for n in kept.notes if n.code == "tier-held"]
    assert narrow.check is not None and narrow.check.figure == "within_deadline_lower"


def test_ratings_in_the_trial_count_and_the_seal_shows_when_it_ends(
    engine: Engine, config: Config
) -> None:
    """During the two-month trial no seal is shown though the figures (ratings given in
    the trial included) earn Silber; the first recompute after the trial shows it."""
    merchant = add_merchant(engine, "teeladen")
    record(engine, merchant, "precheck-passed", PASSED)
    record(engine, merchant, "trial-started", TODAY - timedelta(days=20))
    assert sealwork.recompute(engine, config, AT).changes == []
    with Session(engine) as session:
        [trial] = sealwork.assess(session, config, AT, "teeladen")
    assert (trial.tier, trial.earned_tier, trial.seal.phase) == (
        Tier.NONE,
        Tier.SILBER,
        SealPhase.TRIAL,
    )
    assert trial.figures["ratings"] == 20
    ends = trial.seal.trial_ends_on
    assert ends is not None
    after = datetime.combine(ends, AT.timetz())
    [shown] = sealwork.recompute(engine, config, after).changes
    assert shown.after is Tier.SILBER


def test_the_seal_lapses_a_year_after_the_check_until_a_recheck(
    engine: Engine, config: Config
) -> None:
    """A certification holds for one year: on its last day Silber stands, the next day
    the seal lapses (mailed, with the re-check as the reason); a re-check restores it."""
    merchant = add_merchant(engine, "teeladen")
    checked = TODAY - timedelta(days=365)
    record(engine, merchant, "precheck-passed", checked)
    assert [
        c.after for c in sealwork.recompute(engine, config, AT - timedelta(days=1)).changes
    ] == [Tier.SILBER]
    [lapsed] = sealwork.recompute(engine, config, AT).changes
    assert lapsed.after is Tier.NONE and lapsed.mail is not None
    assert "Nachprüfung" in lapsed.mail.text
    record(engine, merchant, "precheck-passed", TODAY)
    [restored] = sealwork.recompute(engine, config, AT).changes
    assert restored.after is Tier.SILBER


def test_two_recomputes_at_once_change_and_mail_a_tier_once(engine: Engine, config: Config) -> None:
    """Two processes recomputing together (the nightly job and an operator's
    `siegel score --apply`): the change is stored and mailed once."""
    merchant = add_merchant(engine, "teeladen")
    record(engine, merchant, "precheck-passed", PASSED)
    start = threading.Barrier(2, timeout=30)
    results: list[sealwork.Recomputed] = []

    def recompute() -> None:
        start.wait()
        results.append(sealwork.recompute(engine, config, AT))

    threads = [threading.Thread(target=recompute) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(len(result.changes) for result in results) == [0, 1]
    assert len(tier_mails(engine, config)) == 1
    with Session(engine) as session:
        changes = [h for h in seal.history(session, merchant) if h.kind == "tier-changed"]
    assert len(changes) == 1


def test_the_tier_mail_says_the_same_in_german_and_english() -> None:
    """Both languages have the tier mail with the same placeholders (no mail goes out
    with a hole or a missing value in one language)."""
    placeholders = {
        language: set(re.findall(r"\$\{(\w+)\}", str(seal._catalogue(language))))
        for language in ("de", "en")
    }
    assert (
        placeholders["de"]
        == placeholders["en"]
        == {
            "merchant_name",
            "tier",
            "previous_tier",
            "reasons",
            "window_months",
            "certificate_url",
        }
    )
