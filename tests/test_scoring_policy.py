"""Scoring policy and input checks: defaults, flat config keys, refused values."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from scoring import MerchantAggregate, PolicyError, RatingTotals, ScoringPolicy
from scoring.aggregates import BUCKET_COUNT

DOCS = Path(__file__).resolve().parents[1] / "docs" / "scoring.md"


def test_flat_keys_round_trip() -> None:
    """A policy written as flat config keys and read back is the same policy."""
    policy = ScoringPolicy.from_flat({"gold_min_cases": 80, "confidence": 0.9})
    assert policy.gold.min_cases == 80
    assert policy.confidence == 0.9
    assert ScoringPolicy.from_flat(policy.to_flat()) == policy


def test_documented_config_section_equals_the_defaults() -> None:
    """The [scoring] section shown in docs/scoring.md lists every key with its default."""
    block = re.search(r"```toml\n(\[scoring\].*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert block is not None
    documented = tomllib.loads(block.group(1))["scoring"]
    assert documented == ScoringPolicy().to_flat()


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"golden_min_cases": 3}, "golden_min_cases"),
        ({"confidence": 1.0}, "confidence"),
        ({"confidence": True}, "confidence"),
        ({"prior_mean": 6}, "prior_mean"),
        ({"prior_weight": 0}, "prior_weight"),
        ({"gold_min_cases": 20}, "gold_min_cases"),  # laxer than Silber's 25
        ({"silber_max_mediation": 0.5}, "silber_max_mediation"),  # laxer than Bronze
        ({"bronze_min_cases": 0, "silber_min_cases": 0, "gold_min_cases": 0}, "bronze_min_cases"),
        ({"bronze_min_within_deadline": 1.5}, "bronze_min_within_deadline"),
        ({"gold_max_median_hours": 20}, "gold_max_median_hours"),  # above its p90 limit
        ({"bronze_max_p90_hours": 50}, "bronze_max_p90_hours"),  # between two buckets
        ({"silber_max_median_hours": 7.5}, "silber_max_median_hours"),
        ({"gold_max_p90_hours": -1}, "gold_max_p90_hours"),
        ({"gold_min_cases": 50.5}, "gold_min_cases"),
        ({"hysteresis_sample": 1.0}, "hysteresis_sample"),
        ({"hysteresis_hours": -1}, "hysteresis_hours"),
        ({"trial_months": 0}, "trial_months"),
    ],
)
def test_out_of_range_settings_name_their_key(values: dict, key: str) -> None:
    """Every refused setting raises PolicyError carrying the flat key to report."""
    with pytest.raises(PolicyError) as raised:
        ScoringPolicy.from_flat(values)
    assert raised.value.key == key


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"cases": 5, "cases_due": 6}, "cases_due"),
        ({"cases": 5, "cases_due": 5, "first_replies": 6}, "first_replies"),
        ({"cases": 5, "closed": 5, "resolved": 6}, "resolved"),
        ({"cases": 5, "mediated": 6}, "mediated"),
        ({"cases": -1}, "cases"),
        ({"cases": 5, "cases_due": 5, "first_replies": 2, "reply_hours": (1,)}, "reply_hours"),
        ({"reply_hours": (0,) * (BUCKET_COUNT + 1)}, "reply_hours"),
        ({"ratings": 2, "service": RatingTotals(3, 15)}, "service"),
    ],
)
def test_inconsistent_aggregates_are_refused(changes: dict, field: str) -> None:
    """Counts that cannot come from real cases (more replies than due cases, a histogram
    that does not add up) raise ValueError naming the merchant and the field."""
    with pytest.raises(ValueError, match=f"'shop': {field}"):
        MerchantAggregate("shop", **changes)


def test_rating_totals_must_be_possible() -> None:
    """Three scores from 1 to 5 sum to 3..15; 16 or 2 is refused."""
    assert RatingTotals(3, 15).total == 15
    for total in (2, 16):
        with pytest.raises(ValueError, match="cannot sum"):
            RatingTotals(3, total)


def test_histogram_may_leave_out_trailing_empty_buckets() -> None:
    """A histogram shorter than the bucket list is padded with zeros."""
    aggregate = MerchantAggregate("shop", cases=2, cases_due=2, first_replies=2, reply_hours=(1, 1))
    assert len(aggregate.reply_hours) == BUCKET_COUNT
    assert aggregate.reply_hours[:3] == (1, 1, 0)
