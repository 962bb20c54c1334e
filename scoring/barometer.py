"""The rating barometer (Bewertungsbarometer): what the public sees of a merchant's
ratings, computed once for the certificate page and ``siegel barometer``.

Per rating dimension the public figures are the plain mean of the scores given
(`rating_<dimension>_mean`, total / count), their count, the confidence interval of that
mean and how many ratings gave each score. The tier is judged on another number: the
mean pulled towards the prior while ratings are few (docs/scoring.md, section 2.2). It
is carried here as `tier_score`, never as a mean, so that no page or command shows it
as the merchant's mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scoring.figures import RATING_DIMENSIONS, Figure
from scoring.statistics import score_interval


@dataclass(frozen=True)
class DimensionRatings:
    """One rating dimension as the public sees it, and its score for the tier."""

    count: int
    """Ratings that gave this dimension a score."""
    mean: float | None
    """The plain mean of those scores (None without one): the public figure."""
    interval: tuple[float, float] | None
    """Lower and upper bound of the mean's confidence interval (None below two scores)."""
    scores: tuple[int, ...]
    """How many ratings gave 1, 2, 3, 4 and 5."""
    tier_score: float
    """The shrunk mean the tier is judged on (not shown as a mean)."""


@dataclass(frozen=True)
class RatingBarometer:
    """Every dimension's public figures, and the rating score the tier is judged on."""

    ratings: int
    dimensions: dict[str, DimensionRatings]
    tier_score: float
    """`rating_overall`: the average of the dimensions' shrunk means, judged."""

    def as_dict(self) -> dict[str, Any]:
        """For JSON: ``count``, ``tier_score`` and per dimension ``count``, ``mean``,
        ``interval`` ([lower, upper] or None), ``scores_1_to_5`` and ``tier_score``."""
        return {
            "count": self.ratings,
            "tier_score": self.tier_score,
            **{
                name: {
                    "count": shown.count,
                    "mean": shown.mean,
                    "interval": list(shown.interval) if shown.interval else None,
                    "scores_1_to_5": list(shown.scores),
                    "tier_score": shown.tier_score,
                }
                for name, shown in self.dimensions.items()
            },
        }


def rating_barometer(
    figures: Mapping[str, Figure], distribution: Mapping[str, Sequence[int]], confidence: float
) -> RatingBarometer:
    """The barometer from a merchant's measured `figures` (`scoring.measure`), its score
    `distribution` per dimension (five counts, for the scores 1 to 5) and the policy's
    `confidence`."""
    dimensions = {}
    for name in RATING_DIMENSIONS:
        counts = tuple(distribution[name])
        interval = score_interval(counts, confidence)
        mean = figures[f"rating_{name}_mean"]
        dimensions[name] = DimensionRatings(
            count=int(figures[f"rating_{name}_count"] or 0),
            mean=None if mean is None else float(mean),
            interval=None if interval is None else (interval[1], interval[2]),
            scores=counts,
            tier_score=float(figures[f"rating_{name}"] or 0),
        )
    return RatingBarometer(
        ratings=int(figures["ratings"] or 0),
        dimensions=dimensions,
        tier_score=float(figures["rating_overall"] or 0),
    )
