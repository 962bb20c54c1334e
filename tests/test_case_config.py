"""The [deadlines] and [calendar] configuration: documented defaults, checked values."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

import pytest

from mailflow import casework
from mailflow.config import ConfigError, load, parse
from mediation.deadline_policy import Policy

REPO = Path(__file__).resolve().parents[1]


def test_the_shipped_config_states_the_policy_defaults() -> None:
    """config.toml's [deadlines] and [calendar] are mediation.deadline_policy's defaults."""
    config = load(REPO / "config.toml", environ={})
    assert config.deadlines.policy(config.calendar) == Policy()
    assert config.deadlines.sweep_seconds == 60
    calendar = config.calendar.business_calendar()
    assert (calendar.country, calendar.subdivision, calendar.timezone) == (
        "DE",
        "NI",
        "Europe/Berlin",
    )
    assert calendar.hours[0] == (time(9), time(17)) and calendar.hours[5] is None


def test_a_merchant_calendar_and_deadlines_come_from_the_config(tmp_path: Path) -> None:
    """Every key reaches the case service's settings."""
    config = parse(
        {
            "siegel": {"secret": "s" * 32},
            "deadlines": {"merchant_reply_business_days": 3, "reminder_fraction": 0.5},
            "calendar": {
                "region": "DE-BY",
                "timezone": "Europe/Vienna",
                "opens": "08:00",
                "closes": "16:30",
                "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat"],
                "closed_dates": ["2026-12-24"],
            },
            "mediation": {
                "mediators": ["Schlichterin@Example.org"],
                "operator": "ops@example.org",
                "settlement_reply_days": 14,
                "max_cases_per_mail": 3,
            },
        },
        tmp_path,
        {},
    )
    settings = casework.settings(config)
    assert settings.policy.merchant_reply_business_days == 3
    assert settings.policy.reminder_fraction == 0.5
    assert settings.calendar.subdivision == "BY" and settings.calendar.timezone == "Europe/Vienna"
    assert settings.calendar.hours[5] == (time(8), time(16, 30))
    assert settings.calendar.closed_dates == frozenset({date(2026, 12, 24)})
    assert settings.mediators == ("schlichterin@example.org",)
    assert settings.operator_address == "ops@example.org"
    assert settings.settlement_reply_days == 14
    assert settings.max_cases_per_mail == 3
    shipped = casework.settings(load(REPO / "config.toml", environ={}))
    assert shipped.settlement_reply_days == 30 and shipped.max_cases_per_mail == 10


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"deadlines": {"merchant_reply_business_days": 0}}, "[deadlines]"),
        ({"deadlines": {"reminder_fraction": 1.5}}, "[deadlines]"),
        ({"deadlines": {"sweep_seconds": 0}}, "[deadlines] sweep_seconds"),
        ({"deadlines": {"mediation_days": "90"}}, "[deadlines] mediation_days"),
        ({"calendar": {"region": "XX"}}, "[calendar]"),
        ({"calendar": {"timezone": "Mars/Olympus"}}, "[calendar]"),
        ({"calendar": {"opens": "18:00"}}, "[calendar]"),
        ({"calendar": {"weekdays": ["monday"]}}, "[calendar]"),
        ({"calendar": {"closed_dates": ["24.12.2026"]}}, "[calendar]"),
        ({"mediation": {"mediators": ["nobody"]}}, "[mediation]"),
        ({"mediation": {"settlement_reply_days": -1}}, "[mediation] settlement_reply_days"),
        ({"mediation": {"max_cases_per_mail": 0}}, "[mediation] max_cases_per_mail"),
        ({"web": {"trusted_proxies": ["proxy.example"]}}, "[web] trusted_proxies"),
    ],
)
def test_a_wrong_value_names_its_key(raw: dict, key: str, tmp_path: Path) -> None:
    """A wrong deadline or calendar value is one error naming the section or key."""
    with pytest.raises(ConfigError) as error:
        parse(raw, tmp_path, {})
    assert error.value.key == key


@pytest.mark.parametrize(
    "raw, key",
    [
        ({"operator": "service@siegel.example"}, "[mediation] operator"),
        ({"operator": "Postmaster@Siegel.Example."}, "[mediation] operator"),
        ({"operator": "beschwerde@siegel.example"}, "[mediation] operator"),
        ({"operator": "beschwerde+moebel-fuchs@siegel.example"}, "[mediation] operator"),
        ({"operator": "lob@siegel.example"}, "[mediation] operator"),
        ({"mediators": ["complaints@siegel.example"]}, "[mediation] mediators"),
    ],
)
def test_our_own_addresses_are_refused_as_operator_or_mediator(
    raw: dict, key: str, tmp_path: Path
) -> None:
    """The operator's mailbox (and a mediator's) must be a person's, not one of the
    scheme's addresses at [siegel] domain: mail to it would come back into our intake
    (service@ mail passed on to service@ again)."""
    siegel = {"domain": "siegel.example", "secret": "s" * 32}
    with pytest.raises(ConfigError) as error:
        parse({"siegel": siegel, "mediation": raw}, tmp_path, {})
    assert error.value.key == key and "own addresses" in str(error.value)
    people = {"operator": "betreiber@siegel.example", "mediators": ["service@elsewhere.example"]}
    assert parse({"siegel": siegel, "mediation": people}, tmp_path, {}).mediation.operator
