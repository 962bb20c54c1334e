"""The measured figures of one merchant: shares with their Wilson bounds, first-reply
time quantiles, shrunk rating means, and the sample sizes behind them.

`measure` turns a `MerchantAggregate` into a flat dict of named figures, the same
names the explanation and the JSON output use. A figure that cannot be measured (no
due case, no closed case) is None.
"""

from __future__ import annotations

from itertools import accumulate

from scoring.aggregates import OVERFLOW_BUCKET, REPLY_HOUR_EDGES, MerchantAggregate
from scoring.policy import ScoringPolicy
from scoring.resolution import RESOLUTION_DAY_EDGES
from scoring.statistics import cumulative_quantile, shrunk_mean, wilson_interval

Figure = int | float | None
RATING_DIMENSIONS = ("service", "reachability", "reaction_time")
_RATING_KEYS = tuple(
    (f"rating_{dimension}_count", f"rating_{dimension}_mean", f"rating_{dimension}")
    for dimension in RATING_DIMENSIONS
)


def measure(aggregate: MerchantAggregate, policy: ScoringPolicy) -> dict[str, Figure]:
    """Every figure of `aggregate` under `policy` (confidence, rating prior)."""
    a = aggregate
    within_lower, _ = wilson_interval(a.replies_within_deadline, a.cases_due, policy.confidence)
    resolution_lower, _ = wilson_interval(a.resolved, a.closed, policy.confidence)
    _, mediation_upper = wilson_interval(a.mediated, a.cases, policy.confidence)
    # A due case without a first reply is slower than any reply: it joins the
    # overflow bucket, so ignoring hard cases cannot improve the quantiles.
    replied = list(accumulate(a.reply_hours))
    replied[OVERFLOW_BUCKET] += a.cases_due - a.first_replies
    median = cumulative_quantile(replied, REPLY_HOUR_EDGES, 0.5)
    p90 = cumulative_quantile(replied, REPLY_HOUR_EDGES, 0.9)
    figures: dict[str, Figure] = {
        "cases": a.cases,
        "cases_due": a.cases_due,
        "first_replies": a.first_replies,
        "replies_within_deadline": a.replies_within_deadline,
        "closed": a.closed,
        "resolved": a.resolved,
        "mediated": a.mediated,
        "ratings": a.ratings,
        "within_deadline_share": _share(a.replies_within_deadline, a.cases_due),
        "within_deadline_lower": within_lower if a.cases_due else None,
        "first_reply_hours_median": median,
        "first_reply_hours_p90": p90,
        "resolution_rate": _share(a.resolved, a.closed),
        "resolution_lower": resolution_lower if a.closed else None,
        "mediation_rate": _share(a.mediated, a.cases),
        "mediation_upper": mediation_upper if a.cases else None,
        **_resolution_days(a.resolution_days),
    }
    overall = 0.0
    for totals, (count_key, mean_key, shrunk_key) in zip(
        (a.service, a.reachability, a.reaction_time), _RATING_KEYS, strict=True
    ):
        figures[count_key] = totals.count
        figures[mean_key] = _share(totals.total, totals.count)
        shrunk = shrunk_mean(totals.total, totals.count, policy.prior_mean, policy.prior_weight)
        figures[shrunk_key] = shrunk
        overall += shrunk
    # Each dimension counts the same: a merchant cannot hide poor reachability behind
    # many service scores.
    figures["rating_overall"] = overall / len(RATING_DIMENSIONS)
    return figures


def _resolution_days(histogram: tuple[int, ...]) -> dict[str, Figure]:
    """How many resolutions were timed, and the median and 90th percentile of their days
    ("at most this many days"): None when none was timed, or beyond the last edge."""
    resolved = list(accumulate(histogram))
    return {
        "resolution_days_count": resolved[-1],
        "resolution_days_median": cumulative_quantile(resolved, RESOLUTION_DAY_EDGES, 0.5),
        "resolution_days_p90": cumulative_quantile(resolved, RESOLUTION_DAY_EDGES, 0.9),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
