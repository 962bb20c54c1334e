"""The worked example of docs/scoring.md, recomputed by the code it documents."""

from __future__ import annotations

from datetime import date

import pytest

from scoring import MerchantAggregate, RatingTotals, ScoringPolicy, SealRecord, Tier, assess
from scoring.aggregates import BUCKET_COUNT

POLICY = ScoringPolicy()
SEAL = SealRecord(precheck_passed_on=date(2026, 3, 2))
ON = date(2026, 11, 26)
HISTOGRAM = {1: 6, 2: 9, 3: 7, 4: 5, 6: 4, 10: 3, 16: 2, 30: 1}


def teeladen(**changes: object) -> MerchantAggregate:
    counts = [0] * BUCKET_COUNT
    for bucket, replies in HISTOGRAM.items():
        counts[bucket] = replies
    values: dict[str, object] = {
        "merchant": "teeladen",
        "cases": 40,
        "cases_due": 38,
        "first_replies": 37,
        "replies_within_deadline": 34,
        "reply_hours": tuple(counts),
        "closed": 35,
        "resolved": 28,
        "mediated": 5,
        "ratings": 18,
        "service": RatingTotals(18, 78),
        "reachability": RatingTotals(18, 72),
        "reaction_time": RatingTotals(17, 70),
    }
    values.update(changes)
    return MerchantAggregate(**values)  # type: ignore[arg-type]


def test_worked_example_figures_and_tier() -> None:
    """Every figure of the worked example, to the places the page shows, and Silber."""
    assessment = assess(teeladen(), POLICY, seal=SEAL, on=ON)
    figures = assessment.figures
    assert round(figures["within_deadline_lower"], 4) == 0.7587
    assert round(figures["resolution_lower"], 4) == 0.6411
    assert round(figures["mediation_upper"], 4) == 0.2611
    assert figures["first_reply_hours_median"] == 3
    assert figures["first_reply_hours_p90"] == 16
    assert round(figures["rating_service"], 4) == 4.0435
    assert round(figures["rating_reachability"], 4) == 3.7826
    assert round(figures["rating_reaction_time"], 4) == 3.8636
    assert round(figures["rating_overall"], 4) == 3.8966
    assert assessment.tier is Tier.SILBER
    missed = {c.figure: round(c.margin, 4) for c in assessment.explanation if not c.met}
    assert missed == {
        "cases": -10,
        "ratings": -12,
        "within_deadline_lower": -0.0913,
        "resolution_lower": -0.0089,
        "mediation_upper": -0.0611,
        "rating_overall": -0.3034,
    }
    assert all(c.tier is Tier.GOLD for c in assessment.explanation if not c.met)
    assert "Für Gold fehlt: Lösungsquote (untere Vertrauensgrenze) ist 64,1 %, nötig sind" in (
        " ".join(assessment.reasons("de"))
    )


def test_worked_example_hysteresis() -> None:
    """One more due case answered late (34 of 39): Bronze from scratch, Silber held."""
    histogram = list(teeladen().reply_hours)
    histogram[30] += 1
    later = teeladen(cases_due=39, first_replies=38, reply_hours=tuple(histogram))
    fresh = assess(later, POLICY, seal=SEAL, on=ON)
    assert fresh.figures["within_deadline_lower"] == pytest.approx(0.7329, abs=5e-5)
    assert fresh.figures["first_reply_hours_p90"] == 16
    assert fresh.tier is Tier.BRONZE
    held = assess(later, POLICY, seal=SEAL, on=ON, previous_tier=Tier.SILBER)
    assert held.tier is Tier.SILBER
    assert any(
        reason.startswith("Silber bleibt, obwohl") and "3,0 Prozentpunkten" in reason
        for reason in held.reasons("de")
    )
