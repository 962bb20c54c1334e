"""Pure parts of the web side: time to resolution in scoring (Python and SQL agree),
the rating interval, the badge token and its verdicts, languages, the chart."""

from __future__ import annotations

import io
import random
import sys
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import create_engine, text

from mailflow.web import badge, chart, i18n, operator_auth
from mediation import badges
from mediation.badges import Verdict
from scoring import (
    RESOLUTION_DAY_EDGES,
    MerchantAggregate,
    ScoringPolicy,
    SealRecord,
    assess,
    days_text,
    figure_text,
    resolution_days_bucket,
    resolution_days_bucket_sql,
    score_interval,
)

DAY = 86400
SECRET = b"badge-secret-0123456789abcdef-0123456789"


def test_the_sql_bucket_of_a_resolution_is_the_python_bucket_on_every_edge() -> None:
    """SQLite computes the same bucket as `resolution_days_bucket`, edges included."""
    edges = [edge * DAY + delta for edge in RESOLUTION_DAY_EDGES for delta in (-1, 0, 1)]
    rng = random.Random(12)
    samples = sorted(
        {0, 1, *(s for s in edges if s >= 0), *(rng.randrange(40 * DAY * 10) for _ in range(300))}
    )
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        for seconds in samples:
            found = connection.execute(text(f"SELECT {resolution_days_bucket_sql(str(seconds))}"))
            assert found.scalar_one() == resolution_days_bucket(seconds), seconds
    assert resolution_days_bucket(DAY) == 1 and resolution_days_bucket(DAY + 1) == 2
    assert resolution_days_bucket(400 * DAY) == len(RESOLUTION_DAY_EDGES)  # overflow


def test_time_to_resolution_is_a_median_and_p90_of_days_and_a_shown_reason() -> None:
    """Three cases resolved after 1, 2 and 4 days: median at most 2 days, p90 at most 4;
    the reasons say so, marked as not judged; not measured, no reason and no figure."""
    aggregate = MerchantAggregate(
        "shop", cases=5, closed=4, resolved=3, resolution_days=(0, 1, 1, 0, 1)
    )
    assessment = assess(aggregate, ScoringPolicy(), seal=SealRecord(), on=date(2026, 1, 1))
    assert assessment.figures["resolution_days_median"] == 2
    assert assessment.figures["resolution_days_p90"] == 4
    assert assessment.reasons("de")[-1] == (
        "Zeit von der Beschwerde bis zur Lösung (angezeigt, nicht bewertet): "
        "Median höchstens 2 Tage, 90-%-Wert höchstens 4 Tage."
    )
    assert "90th percentile at most 4 days" in assessment.reasons("en")[-1]
    untimed = assess(
        MerchantAggregate("shop", cases=5, closed=4, resolved=3),
        ScoringPolicy(), seal=SealRecord(), on=date(2026, 1, 1),
    )  # fmt: skip
    assert untimed.figures["resolution_days_median"] is None
    assert not any("bis zur Lösung" in reason for reason in untimed.reasons("de"))
    with pytest.raises(ValueError, match="resolution_days"):
        MerchantAggregate("shop", cases=5, closed=4, resolved=3, resolution_days=(1, 1))


def test_the_rating_interval_is_the_normal_interval_of_the_mean_within_the_scale() -> None:
    """Scores 3, 4, 4, 5, 5, 5: mean 4.33, an interval around it within the scale; its
    spread counts one more score of each value in, so that equal scores leave room
    (nine fives are not 5.0 to 5.0, two fives less sure than nine) and many scores
    outweigh that; one score gives no interval."""
    mean, low, high = score_interval([0, 0, 1, 2, 3], 0.95)
    assert mean == pytest.approx(4.3333, abs=1e-4)
    assert (low, high) == (pytest.approx(3.305, abs=0.001), 5.0)
    nine = score_interval([0, 0, 0, 0, 9], 0.95)
    two = score_interval([0, 0, 0, 0, 2], 0.95)
    assert nine is not None and two is not None
    assert nine[0] == two[0] == nine[2] == two[2] == 5.0
    assert two[1] == pytest.approx(2.92, abs=0.01) and nine[1] == pytest.approx(4.17, abs=0.01)
    many = score_interval([0, 0, 0, 500, 500], 0.95)
    assert many is not None and many[1:] == (
        pytest.approx(4.47, abs=0.01),
        pytest.approx(4.53, abs=0.01),
    )
    assert score_interval([0, 0, 0, 0, 1], 0.95) is None


def test_a_badge_token_binds_the_slug_to_one_domain() -> None:
    """The token of one slug and domain verifies only for them, case and trailing dot
    aside; another secret, slug or domain, or an altered token, does not."""
    token = badges.token(SECRET, "moebel-fuchs", "moebel-fuchs.example")
    assert len(token) == 22
    assert badges.verify(SECRET, "moebel-fuchs", "Moebel-Fuchs.Example.", token)
    assert not badges.verify(SECRET, "moebel-fuchs", "copycat.example", token)
    assert not badges.verify(SECRET, "other-shop", "moebel-fuchs.example", token)
    assert not badges.verify(SECRET[::-1], "moebel-fuchs", "moebel-fuchs.example", token)
    assert not badges.verify(SECRET, "moebel-fuchs", "moebel-fuchs.example", token[:-1] + "A")
    assert not badges.verify(SECRET, "moebel-fuchs", "moebel-fuchs.example", "ä" * 22)


@pytest.mark.parametrize(
    ("domain", "token_for", "referrer", "expected"),
    [
        (None, None, "shop.example", Verdict.NONE),
        ("shop.example", "shop.example", "shop.example", Verdict.VALID),
        ("shop.example", "shop.example", "www.shop.example", Verdict.VALID),
        ("shop.example", "shop.example", None, Verdict.ISSUED),
        ("shop.example", "shop.example", "siegel.example", Verdict.ISSUED),  # our own page
        ("shop.example", "shop.example", "copycat.example", Verdict.WRONG_DOMAIN),
        ("shop.example", "shop.example", "evilshop.example", Verdict.WRONG_DOMAIN),
        ("shop.example", "copycat.example", "shop.example", Verdict.INVALID),
        ("copycat.example", "copycat.example", "copycat.example", Verdict.INVALID),
        ("shop.example", None, "shop.example", Verdict.INVALID),
    ],
)
def test_the_verdict_on_a_badge_link(
    domain: str | None, token_for: str | None, referrer: str | None, expected: Verdict
) -> None:
    """A badge link is valid from its own domain (and subdomains) only; a domain the
    merchant does not have, or a token of another domain, is invalid."""
    given = badges.token(SECRET, "shop", token_for) if token_for else None
    found = badges.judge(
        SECRET, "shop", ["shop.example"], domain, given, referrer, own_host="siegel.example"
    )
    assert found is expected


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("en", "de-DE,de;q=0.9", "en"),
        (None, "en-GB,en;q=0.9,de;q=0.8", "en"),
        (None, "fr-FR,fr;q=0.9,de;q=0.5,en;q=0.4", "de"),
        (None, "de;q=0.2,en;q=0.8", "en"),
        (None, "fr", "de"),
        (None, None, "de"),
        ("xx", "en", "en"),
        ("EN", "de", "en"),  # as typed; Accept-Language is case-blind too
        (None, "en;q=0", "de"),
    ],
)
def test_the_language_is_the_switch_then_the_browsers_best(
    query: str | None, header: str | None, expected: str
) -> None:
    """?lang= wins; else the highest q of German or English; else the default."""
    assert i18n.negotiate(query, header, "de") == expected


def test_both_languages_have_every_text() -> None:
    """de.toml and en.toml have the same keys: no page misses a text in one language."""
    assert i18n.texts("de").keys() == i18n.texts("en").keys()


def test_the_chart_scales_bars_to_the_busiest_month() -> None:
    """The busiest month fills the plot, an empty one has no height, labels are months."""
    months = [(date(2026, month, 1), count) for month, count in [(1, 0), (2, 4), (3, 2)]]
    drawn = chart.monthly(months, i18n.texts("de")["months"])
    assert [bar.label for bar in drawn.bars] == ["Jan", "Feb", "Mär"]
    heights = [bar.height for bar in drawn.bars]
    assert heights[0] == 0 and heights[1] == 2 * heights[2] and drawn.total == 6
    assert all(bar.y + bar.height == pytest.approx(drawn.baseline) for bar in drawn.bars)
    assert datetime(2026, 1, 1, tzinfo=UTC)  # the dates stay dates


@pytest.mark.parametrize(
    ("days", "language", "text"),
    [
        (0, "de", "weniger als 1 Tag"),
        (0, "en", "less than 1 day"),
        (1, "de", "höchstens 1 Tag"),
        (3, "en", "at most 3 days"),
        (None, "de", "mehr als 365 Tage"),
    ],
)
def test_days_to_resolution_read_as_a_shopper_would(
    days: int | None, language: str, text: str
) -> None:
    """The first bucket (resolved at once) is not "at most 0 days"."""
    assert days_text(days, language) == text


@pytest.mark.parametrize(
    ("hours", "language", "text"),
    [
        (1, "de", "1 Geschäftsstunde"),
        (1, "en", "1 business hour"),
        (4, "de", "4 Geschäftsstunden"),
        (0.5, "en", "0.5 business hours"),
    ],
)
def test_reply_hours_are_singular_for_one(hours: float, language: str, text: str) -> None:
    """A black-box run read "1 Geschäftsstunden" on the certificate page."""
    assert figure_text(hours, "first_reply_hours_median", language) == text


@pytest.mark.parametrize(
    ("kind", "colours", "ticked"),
    [
        ("active", "gold", True),
        ("active", "bronze", True),
        ("active", "none", False),
        ("trial", "none", False),
        ("expired", "warning", False),
        ("withdrawn", "warning", False),
    ],
)
def test_only_a_seal_held_gets_the_tick(kind: str, colours: str, ticked: bool) -> None:
    """ "No seal", a trial, an expired or withdrawn seal must not look like a pass."""
    assert badge._shown(kind, "x", "", colours)["ticked"] is ticked


def test_the_password_helper_reads_a_pipe_and_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m mailflow.web.operator_auth` without a terminal reads the first line of
    standard input: a hash that verifies; too short or nothing: one line, exit 2."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery\nignored\n"))
    assert operator_auth.main([]) == 0
    printed = capsys.readouterr().out.strip()
    assert operator_auth.verify_password(printed, "correct horse battery")
    for given, said in (("short\n", "at least 12 characters"), ("", "at least 12 characters")):
        monkeypatch.setattr(sys, "stdin", io.StringIO(given))
        assert operator_auth.main([]) == 2
        assert said in capsys.readouterr().err
