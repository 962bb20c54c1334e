"""One public rating barometer: the certificate page and ``siegel barometer`` show the
same figures from `scoring.rating_barometer` (per dimension the plain mean, its count
and interval); the shrunk value the tier is judged on is labelled as the tier's rating
score, in German and English, never as a mean."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from mailflow import seal_commands
from mailflow.config import Config
from mailflow.db import session_scope
from mailflow.web.app import create_app
from mediation import seal
from mediation.rating_store import GivenRating
from mediation.rating_store import save as save_rating
from mediation.workflow import State
from scoring import RatingTotals, ScoringPolicy, rating_barometer
from scoring.aggregates import MerchantAggregate
from scoring.figures import measure
from tests.conftest import make_config
from tests.test_seal_figures import add_case, add_customer, add_merchants

NOW = datetime(2026, 11, 26, 11, 0, tzinfo=UTC)
RATED = {  # merchant: the ratings (service, reachability, reaction time) of its cases
    "gadget-barn": [(5, 3, 4)],
    "zwei-shop": [(5, 4, 4), (3, 4, 2)],
}
ROW = re.compile(
    r'<th scope="row">([^<]+)</th>\s*<td class="mean">([^<]+)</td>\s*'
    r'<td class="count">(\d+)</td>\s*<td class="interval">([^<]+)</td>'
)


@pytest.fixture
def config(tmp_path: Path, sqlite_engine: Engine) -> Config:
    config = make_config(tmp_path, database={"url": str(sqlite_engine.url)})
    with session_scope(sqlite_engine) as session:
        ids = add_merchants(session, *RATED)
        customer = add_customer(session)
        number = 0
        for slug, given in RATED.items():
            seal.record(session, ids[slug], "precheck-passed", date(2026, 6, 1), "op", NOW)
            for service, reachability, reaction_time in given:
                number += 1
                opened = NOW - timedelta(days=20)
                closed = opened + timedelta(days=2)
                case = add_case(session, number, ids[slug], customer, opened_at=opened,
                                state=State.CLOSED_RESOLVED, closed_at=closed)  # fmt: skip
                rating = GivenRating(service, reachability, reaction_time)
                save_rating(session, case.id, ids[slug], rating, None, opened + timedelta(days=3))  # type: ignore[arg-type]
    return config


@pytest.fixture
def client(sqlite_engine: Engine, config: Config) -> Iterator[TestClient]:
    with TestClient(create_app(config, sqlite_engine, lambda: NOW)) as running:
        yield running


def barometer(config: Config, slug: str, capsys: pytest.CaptureFixture[str], json_out: bool) -> str:
    arguments = argparse.Namespace(slug=slug, at=NOW.isoformat(), json=json_out)
    assert seal_commands.cmd_barometer(arguments, config) == 0
    return capsys.readouterr().out


def test_the_certificate_page_and_siegel_barometer_show_the_same_means(
    client: TestClient, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    """One rating of 5, 3 and 4: both show the means 5, 3 and 4 from one score each
    (not 3.33, 3.00, 3.17); two ratings: the same means and intervals on both; the tier's
    shrunk score is printed apart and named as such."""
    text = barometer(config, "gadget-barn", capsys, json_out=False)
    assert "service                    mean 5.00 from 1 scores\n" in text
    assert "reachability               mean 3.00 from 1 scores\n" in text
    assert "reaction_time              mean 4.00 from 1 scores\n" in text
    assert "rating score for the tier  3.17 (shrunk, not a mean)" in text
    assert "3.33" not in text
    for slug in RATED:
        rated = json.loads(barometer(config, slug, capsys, json_out=True))["ratings"]
        for language, names in (("de", ("Service", "Erreichbarkeit", "Reaktionszeit")),
                                ("en", ("Service", "Reachability", "Reaction time"))):  # fmt: skip
            page = client.get(f"/siegel/{slug}?lang={language}")
            assert page.status_code == 200
            rows = ROW.findall(page.text)
            expected = []
            for name, dimension in zip(names, ("service", "reachability", "reaction_time"),
                                       strict=True):  # fmt: skip
                shown = rated[dimension]
                interval = shown["interval"]
                expected.append((
                    name, _number(shown["mean"], language), str(shown["count"]),
                    f"{_number(interval[0], language)} – {_number(interval[1], language)}"
                    if interval else ("zu wenige Bewertungen" if language == "de"
                                      else "too few ratings"),
                ))  # fmt: skip
            assert rows == expected, (slug, language)
    gadget = json.loads(barometer(config, "gadget-barn", capsys, json_out=True))["ratings"]
    assert [gadget[d]["mean"] for d in ("service", "reachability", "reaction_time")] == [5, 3, 4]
    assert gadget["tier_score"] == pytest.approx((20 / 6 + 18 / 6 + 19 / 6) / 3)
    assert "overall" not in gadget and "shrunk_mean" not in gadget["service"]


def test_the_tiers_rating_score_is_not_called_a_mean_in_german_or_english(
    client: TestClient,
) -> None:
    """The explanation names the judged rating figure as the tier's rating score; the
    barometer's column is the mean."""
    german = client.get("/siegel/gadget-barn?lang=de").text
    assert "Bewertungswert für die Stufe (bei wenigen Bewertungen zur Mitte hin geglättet)" in (
        german
    )
    assert "Bewertungsdurchschnitt" not in german
    english = client.get("/siegel/gadget-barn?lang=en").text
    assert "rating score for the tier" in english and "average rating" not in english


def test_the_barometer_keeps_the_mean_and_the_tier_score_apart() -> None:
    """Pure: one 5-star service rating is a mean of 5.0 from 1 score without an interval,
    and a tier score of (5 + 3 * 5) / 6; no rating: no mean, the prior as tier score."""
    aggregate = MerchantAggregate("m", ratings=1, service=RatingTotals(1, 5))
    policy = ScoringPolicy()
    distribution = {"service": [0, 0, 0, 0, 1], "reachability": [0] * 5, "reaction_time": [0] * 5}
    shown = rating_barometer(measure(aggregate, policy), distribution, policy.confidence)
    service, reachability = shown.dimensions["service"], shown.dimensions["reachability"]
    assert (service.count, service.mean, service.interval) == (1, 5.0, None)
    assert service.tier_score == pytest.approx(20 / 6)
    assert (reachability.count, reachability.mean, reachability.tier_score) == (0, None, 3.0)
    assert shown.as_dict()["service"]["scores_1_to_5"] == [0, 0, 0, 0, 1]


def _number(value: float, language: str) -> str:
    text = f"{value:.1f}"
    return text.replace(".", ",") if language == "de" else text
