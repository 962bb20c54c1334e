"""The monthly report measures the seal's own figures: a case counts for the share of
first replies within the deadline only once it is due (replied, or its deadline passed
by the month's end or by now while the month runs), exactly as `siegel score` counts
it; the operator's totals are measured over every merchant's cases, and a median of 0
business hours is a value."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from mailflow import monthly_reports, report_commands, sealwork
from mailflow.config import Config
from mailflow.db import session_scope, utcnow
from mediation.storage import CaseDeadline
from mediation.workflow import Deadline
from tests.conftest import make_config
from tests.test_seal_figures import add_case, add_customer, add_merchants

OPENED = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 9, 8, 0, tzinfo=UTC)
MONTH = monthly_reports.parse_month("2026-12")


@pytest.fixture
def config(tmp_path: Path, sqlite_engine: Engine) -> Config:
    return make_config(tmp_path, database={"url": str(sqlite_engine.url)})


def open_cases(engine: Engine, opened: datetime, due: datetime, waiting: int = 3) -> None:
    """`gadget-barn`: one case answered within 0 business hours; `big-shop`: `waiting`
    cases without a reply, their first-reply deadline at `due`."""
    with session_scope(engine) as session:
        ids = add_merchants(session, "big-shop", "gadget-barn")
        customer = add_customer(session)
        add_case(session, 1, ids["gadget-barn"], customer, opened_at=opened,
                 first_reply_at=opened + timedelta(minutes=5), first_reply_business_hours=0,
                 first_reply_within_deadline=True)  # fmt: skip
        for number in range(2, waiting + 2):
            case = add_case(session, number, ids["big-shop"], customer, opened_at=opened)
            session.add(CaseDeadline(case_id=case.id, kind=Deadline.MERCHANT_REPLY, due_at=due))  # type: ignore[arg-type]


def report(engine: Engine, config: Config, now: datetime) -> dict:
    with Session(engine) as session:
        return monthly_reports.reports(session, config, MONTH, now=now)


def test_a_deadline_not_passed_yet_is_no_miss_as_for_the_seal(
    sqlite_engine: Engine, config: Config
) -> None:
    """Run on the day the cases came in, their deadline two days ahead: only the answered
    case is due (100 %, not 1 of 4), as `siegel score` counts it; once the deadline has
    passed (later in the month, or for the finished month) the waiting cases are due
    and missed."""
    open_cases(sqlite_engine, OPENED, DUE)
    today = OPENED + timedelta(hours=2)
    shown = report(sqlite_engine, config, today)
    total = shown["operator"]["figures"]
    assert (total["cases"], total["cases_due"], total["within_deadline_share"]) == (4, 1, 1.0)
    assert shown["as_of"] == today.isoformat()
    by_slug = {entry["merchant"]: entry["figures"] for entry in shown["merchants"]}
    assert by_slug["big-shop"]["within_deadline_share"] is None  # nothing due yet
    with Session(sqlite_engine) as session:
        seal = {a.merchant: a.figures for a in sealwork.assess(session, config, today)}
    for slug, figures in by_slug.items():
        for name in ("cases", "cases_due", "within_deadline_share"):
            assert figures[name] == seal[slug][name], (slug, name)
    later = report(sqlite_engine, config, DUE + timedelta(hours=1))["operator"]["figures"]
    assert (later["cases_due"], later["within_deadline_share"]) == (4, 0.25)
    finished = report(sqlite_engine, config, datetime(2027, 2, 1, tzinfo=UTC))
    assert finished["as_of"] == finished["until"]
    assert finished["operator"]["figures"]["cases_due"] == 4


def test_the_operators_median_of_zero_hours_is_a_value(
    sqlite_engine: Engine, config: Config
) -> None:
    """The only due case was answered within 0 business hours: the all-merchants block
    says 0 business hours, as the merchant's does; when every waiting case missed its
    deadline the median is "more than 160 business hours", never "not measurable"."""
    open_cases(sqlite_engine, OPENED, DUE)
    shown = report(sqlite_engine, config, OPENED + timedelta(hours=2))
    assert shown["operator"]["figures"]["first_reply_hours_median"] == 0
    text = monthly_reports.figure_lines(shown["operator"]["figures"], "de")
    assert "Erste Antwort, Median:                  0 Geschäftsstunden" in text
    assert "nicht messbar" not in text.split("Lösungsquote")[0]
    missed = report(sqlite_engine, config, DUE + timedelta(hours=1))
    text = monthly_reports.figure_lines(missed["operator"]["figures"], "en")
    assert "First reply, median:" in text and "more than 160 business hours" in text
    mail = monthly_reports.operator_mail(missed, "betreiber@siegel.test", "de")
    assert "- big-shop: 3 / mehr als 160 Geschäftsstunden" in mail.text


def test_siegel_report_for_the_running_month_counts_as_of_now(
    sqlite_engine: Engine, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """`siegel report --month` of the current month: cases whose deadline lies ahead of
    the real clock are not due."""
    now = utcnow()
    opened = now - timedelta(minutes=30)
    open_cases(sqlite_engine, opened, now + timedelta(days=2))
    month = f"{opened.astimezone(ZoneInfo(config.siegel.timezone)):%Y-%m}"
    arguments = argparse.Namespace(month=month, merchant=None, json=True)
    assert report_commands.cmd_report(arguments, config) == 0
    shown = json.loads(capsys.readouterr().out)
    total = shown["operator"]["figures"]
    assert (total["within_deadline_share"], total["first_reply_hours_median"]) == (1.0, 0)
    assert (total["cases"], total["cases_due"]) == (4, 1)
    assert report_commands.cmd_report(argparse.Namespace(month=month, merchant=None,
                                                         json=False), config) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "Anteil fristgerechter erster Antworten: 100,0 %" in text
    assert "Erste Antwort, Median:                  0 Geschäftsstunden" in text


def test_a_tier_change_in_a_report_reads_as_its_reader_writes_days_and_tiers() -> None:
    """Not "2026-03-14: silber → gold": the day and the tier names in the language."""
    moves = [
        {"at": "2026-03-14T10:00:00+00:00", "before": "silber", "after": "gold"},
        {"at": "2026-03-20T08:00:00+00:00", "before": None, "after": "none"},
    ]
    assert monthly_reports.moves_text(moves, "de").splitlines() == [
        "Stufe geändert am 14.03.2026: Silber → Gold",
        "Stufe geändert am 20.03.2026: - → kein Siegel",
    ]
    assert monthly_reports.moves_text(moves[:1], "en") == (
        "Tier changed on 14 March 2026: Silber → Gold"
    )
    # Read by the shop and by the operator in its listing: addressed to neither.
    assert monthly_reports.moves_text([], "de") == "Die Stufe blieb im Monat unverändert."
