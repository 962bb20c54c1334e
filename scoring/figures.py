"""The measured figures of one merchant: shares with their Wilson bounds, first-reply
time quantiles, shrunk rating means, and the sample sizes behind them.

`measure` turns a `MerchantAggregate` into a flat dict of named figures, the same
names the explanation and the JSON output use. A figure that cannot be measured (no
due case, no closed case) is None.
"""

from __future__ import annotations

from scoring.aggregates import OVERFLOW_BUCKET, REPLY_HOUR_EDGES, MerchantAggregate
from scoring.policy import ScoringPolicy
from scoring.statistics import histogram_quantile, shrunk_mean, wilson_interval

Figure = int | float | None
RATING_DIMENSIONS = ("service", "reachability", "reaction_time")


def measure(aggregate: MerchantAggregate, policy: ScoringPolicy) -> dict[str, Figure]:
    """Every figure of `aggregate` under `policy` (confidence, rating prior)."""
    a = aggregate
    within_lower, _ = wilson_interval(a.replies_within_deadline, a.cases_due, policy.confidence)
    resolution_lower, _ = wilson_interval(a.resolved, a.closed, policy.confidence)
    _, mediation_upper = wilson_interval(a.mediated, a.cases, policy.confidence)
    # A due case without a first reply is slower than any reply: it joins the
    # overflow bucket, so ignoring hard cases cannot improve the quantiles.
    hours = list(a.reply_hours)
    hours[OVERFLOW_BUCKET] += a.cases_due - a.first_replies
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
        "first_reply_hours_median": histogram_quantile(hours, REPLY_HOUR_EDGES, 0.5),
        "first_reply_hours_p90": histogram_quantile(hours, REPLY_HOUR_EDGES, 0.9),
        "resolution_rate": _share(a.resolved, a.closed),
        "resolution_lower": resolution_lower if a.closed else None,
        "mediation_rate": _share(a.mediated, a.cases),
        "mediation_upper": mediation_upper if a.cases else None,
    }
    shrunk = []
    for dimension in RATING_DIMENSIONS:
        totals = getattr(a, dimension)
        figures[f"rating_{dimension}_count"] = totals.count
        figures[f"rating_{dimension}_mean"] = _share(totals.total, totals.count)
        value = shrunk_mean(totals.total, totals.count, policy.prior_mean, policy.prior_weight)
        figures[f"rating_{dimension}"] = value
        shrunk.append(value)
    # Each dimension counts the same: a merchant cannot hide poor reachability behind
    # many service scores.
    figures["rating_overall"] = sum(shrunk) / len(shrunk)
    return figures


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None
