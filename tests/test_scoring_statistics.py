"""Scoring statistics: Wilson bounds against published values, shrinkage, histogram quantiles."""

from __future__ import annotations

import math
import random

import pytest

from scoring.aggregates import BUCKET_COUNT, OVERFLOW_BUCKET, REPLY_HOUR_EDGES, reply_hours_bucket
from scoring.statistics import histogram_quantiles, shrunk_mean, wilson_interval, z_score

HOUR = 3600


@pytest.mark.parametrize(
    ("successes", "trials", "lower", "upper"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion",
        # Statistics in Medicine 17:857-872, Table I, method 3 (Wilson score, no
        # continuity correction), 95 %.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
        # Ten out of ten is not certainty: the lower bound is 10 / (10 + z²).
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_interval_matches_published_values(
    successes: int, trials: int, lower: float, upper: float
) -> None:
    """The 95 % Wilson interval equals Newcombe's published values to four places."""
    low, high = wilson_interval(successes, trials, 0.95)
    assert round(low, 4) == lower
    assert round(high, 4) == upper


def test_wilson_interval_narrows_with_more_trials_and_widens_with_confidence() -> None:
    """The same share gives a higher lower bound from more trials, a lower one at 99 %."""
    assert wilson_interval(9, 10, 0.95)[0] < wilson_interval(90, 100, 0.95)[0]
    assert wilson_interval(90, 100, 0.99)[0] < wilson_interval(90, 100, 0.95)[0]
    assert wilson_interval(90, 100, 0.99)[1] > wilson_interval(90, 100, 0.95)[1]


def test_wilson_interval_of_nothing_is_everything() -> None:
    """With no trials the interval is (0, 1): nothing is known."""
    assert wilson_interval(0, 0, 0.95) == (0.0, 1.0)


@pytest.mark.parametrize(("successes", "trials"), [(-1, 5), (6, 5), (0, -1)])
def test_wilson_interval_refuses_impossible_counts(successes: int, trials: int) -> None:
    """More successes than trials, or negative counts, are errors, not clamped."""
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(successes, trials, 0.95)


def test_z_scores_are_the_normal_quantiles() -> None:
    """The z of 90, 95 and 99 % confidence are the textbook 1.6449, 1.9600, 2.5758."""
    assert round(z_score(0.90), 4) == 1.6449
    assert round(z_score(0.95), 4) == 1.9600
    assert round(z_score(0.99), 4) == 2.5758
    with pytest.raises(ValueError, match="confidence"):
        z_score(1.0)


def test_few_ratings_stay_near_the_prior() -> None:
    """Two ratings of 5 with a prior of 3 weighing 5 give (10 + 15) / 7 = 3.571."""
    assert shrunk_mean(10, 2, 3.0, 5.0) == pytest.approx(25 / 7)


def test_many_ratings_outweigh_the_prior() -> None:
    """A thousand ratings averaging 4.6 give 4.592 with the same prior: almost the mean."""
    assert shrunk_mean(4600, 1000, 3.0, 5.0) == pytest.approx((4600 + 15) / 1005)
    assert abs(shrunk_mean(4600, 1000, 3.0, 5.0) - 4.6) < 0.01


def test_no_ratings_give_the_prior() -> None:
    """Without ratings the shrunk mean is the prior mean itself."""
    assert shrunk_mean(0, 0, 3.0, 5.0) == 3.0


def test_quantile_is_the_nearest_rank_bucket_edge() -> None:
    """Of four replies in buckets 1, 2, 2, 8 the median is 2 (rank 2) and p90 is 8."""
    counts = [0] * BUCKET_COUNT
    counts[1], counts[2], counts[8] = 1, 2, 1
    assert histogram_quantiles(counts, REPLY_HOUR_EDGES, (0.5, 0.9)) == [2, 8]


def test_quantile_in_the_overflow_bucket_is_none() -> None:
    """When more than 10 % are beyond the last edge, p90 is None ("more than 160 h")."""
    counts = [0] * BUCKET_COUNT
    counts[1], counts[OVERFLOW_BUCKET] = 8, 2
    assert histogram_quantiles(counts, REPLY_HOUR_EDGES, (0.5, 0.9)) == [1, None]
    assert histogram_quantiles([0] * BUCKET_COUNT, REPLY_HOUR_EDGES, (0.5,)) == [None]


def test_quantile_rank_survives_binary_floating_point() -> None:
    """The p90 of 70 values is the 63rd (0.9 * 70 is 63.00000000000001 in floats)."""
    counts = [0] * BUCKET_COUNT
    counts[1], counts[2] = 63, 7
    assert histogram_quantiles(counts, REPLY_HOUR_EDGES, (0.9,)) == [1]


def test_bucketed_quantile_decides_thresholds_on_edges_exactly() -> None:
    """For thresholds on bucket edges, "bucketed quantile <= threshold" equals the same
    test on the exact nearest-rank quantile of the raw reply times."""
    rng = random.Random(5)
    for _ in range(300):
        seconds = [int(rng.expovariate(1 / (HOUR * rng.choice((2, 8, 30))))) for _ in range(40)]
        counts = [0] * BUCKET_COUNT
        for value in seconds:
            counts[reply_hours_bucket(value)] += 1
        ordered = sorted(seconds)
        for quantile in (0.5, 0.9):
            exact_hours = ordered[math.ceil(quantile * len(ordered)) - 1] / HOUR
            (bucketed,) = histogram_quantiles(counts, REPLY_HOUR_EDGES, (quantile,))
            for threshold in (4, 8, 16, 24, 40):
                assert (bucketed is not None and bucketed <= threshold) == (
                    exact_hours <= threshold
                )


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        (0, 0),  # answered before opening time: zero business hours
        (1, 1),
        (HOUR, 1),
        (HOUR + 1, 2),
        (48 * HOUR, 48),
        (48 * HOUR + 1, REPLY_HOUR_EDGES.index(56)),
        (160 * HOUR, OVERFLOW_BUCKET - 1),
        (160 * HOUR + 1, OVERFLOW_BUCKET),
    ],
)
def test_reply_bucket_edges_are_inclusive_upper_bounds(seconds: int, bucket: int) -> None:
    """A reply after exactly an edge's hours falls in that edge's bucket, one second
    more in the next."""
    assert reply_hours_bucket(seconds) == bucket
