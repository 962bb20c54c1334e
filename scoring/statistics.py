"""The statistics behind a tier: Wilson score bounds, shrunk means, histogram quantiles.

Plain functions of counts, so that SQL can aggregate and Python only does arithmetic.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence
from functools import cache
from itertools import accumulate
from statistics import NormalDist


@cache
def z_score(confidence: float) -> float:
    """The two-sided standard normal quantile for `confidence` (0.95 gives 1.959964)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie between 0 and 1, got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, trials: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval (lower, upper) for `successes` out of `trials`.

    Wilson (1927), "Probable inference, the law of succession, and statistical
    inference": unlike the normal approximation it stays inside [0, 1] and is honest
    for small samples (10 out of 10 gives a lower bound of 0.72 at 95 %, not 1.0).
    With no trials nothing is known: (0, 1).
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    z = z_score(confidence)
    share = successes / trials
    z2_over_n = z * z / trials
    centre = share + z2_over_n / 2
    spread = z * math.sqrt(share * (1 - share) / trials + z2_over_n / (4 * trials))
    denominator = 1 + z2_over_n
    lower = (centre - spread) / denominator
    upper = (centre + spread) / denominator
    # At 0 or all successes the exact bound is 0 or 1; keep rounding noise out.
    return (0.0 if successes == 0 else lower), (1.0 if successes == trials else upper)


def shrunk_mean(total: float, count: int, prior_mean: float, prior_weight: float) -> float:
    """The Bayesian average: `prior_weight` imaginary ratings of `prior_mean` added to the
    real ones, so a few ratings move the mean only a little and many move it a lot."""
    if count < 0 or prior_weight < 0 or count + prior_weight == 0:
        raise ValueError("need a non-negative count and prior weight, not both zero")
    return (total + prior_mean * prior_weight) / (count + prior_weight)


def histogram_quantiles(
    counts: Sequence[int], upper_edges: Sequence[float], quantiles: Sequence[float]
) -> list[float | None]:
    """The nearest-rank `quantiles` of a histogram, each as the upper edge of its bucket.

    `counts[i]` counts the values in bucket i, whose upper edge is `upper_edges[i]`;
    `counts` may hold one more bucket than there are edges: the overflow bucket, whose
    values are beyond the last edge (None is returned for a quantile that falls there,
    and for every quantile of an empty histogram). The nearest rank of quantile q among
    n values is ceil(q * n): the value at or below which at least that share of the
    values lies. Answering with the bucket's upper edge means "at most this": when a
    threshold is itself an edge, comparing this answer with it decides exactly as the
    unbucketed values would.
    """
    if len(counts) not in (len(upper_edges), len(upper_edges) + 1):
        raise ValueError("need one count per edge, plus at most one overflow bucket")
    cumulative = list(accumulate(counts))
    return [cumulative_quantile(cumulative, upper_edges, quantile) for quantile in quantiles]


def cumulative_quantile(
    cumulative: Sequence[int], upper_edges: Sequence[float], quantile: float
) -> float | None:
    """`histogram_quantiles` for one quantile, from the histogram's running totals."""
    if not 0 < quantile <= 1:
        raise ValueError(f"quantile must lie in (0, 1], got {quantile!r}")
    total = cumulative[-1] if cumulative else 0
    if total == 0:
        return None
    # Rounded first: 0.9 * 70 is 63.00000000000001 in binary floating point, not 63.
    rank = math.ceil(round(quantile * total, 9))
    bucket = bisect_left(cumulative, rank)
    return upper_edges[bucket] if bucket < len(upper_edges) else None


def score_interval(counts: Sequence[int], confidence: float) -> tuple[float, float, float] | None:
    """Mean and confidence interval (mean, lower, upper) of scores 1, 2, ... given as
    `counts` (`counts[0]` scores of 1, ...): the normal interval of the mean, clamped to
    the scale. Its spread is the standard deviation of the scores with one more score of
    each value counted in (a uniform prior, as Bayesian averages of star ratings add):
    a few equal scores do not show a certainty they cannot carry (nine fives: 4.2 to
    5.0, not 5.0 to 5.0), and many scores soon outweigh the prior. None with fewer
    than two scores."""
    if min(counts, default=0) < 0:
        raise ValueError("counts must not be negative")
    n = sum(counts)
    if n < 2:
        return None
    scores = range(1, len(counts) + 1)
    mean = sum(score * count for score, count in zip(scores, counts, strict=True)) / n
    smoothed = [count + 1 for count in counts]
    total = sum(smoothed)
    centre = sum(score * count for score, count in zip(scores, smoothed, strict=True)) / total
    variance = (
        sum(count * (score - centre) ** 2 for score, count in zip(scores, smoothed, strict=True))
        / total
    )
    spread = z_score(confidence) * math.sqrt(variance / n)
    return mean, max(1.0, mean - spread), min(float(len(counts)), mean + spread)
