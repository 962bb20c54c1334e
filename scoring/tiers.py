"""Which tier the figures earn: every threshold of every tier checked, with hysteresis.

A tier is earned when every one of its thresholds is met; the earned tier is the best
such tier. Hysteresis keeps a tier from flapping on one case: every tier up to the
previously held one is judged with a tolerance (a held tier is lost only when a figure
misses by more than the tolerance), every tier above it strictly (a merchant rises
only when every threshold is met without tolerance).
"""

from __future__ import annotations

from typing import NamedTuple

from scoring.figures import Figure
from scoring.policy import CRITERIA, SEAL_TIERS, ScoringPolicy, Tier

# Differences this small are floating-point noise (4.2 - 0.1 is 4.1000000000000005).
_NOISE = 1e-9


class Check(NamedTuple):
    """One threshold of one tier, applied to one figure: met or missed, and by how much."""

    tier: Tier
    figure: str
    value: Figure
    comparison: str  # ">=" (at least) or "<=" (at most)
    threshold: float
    tolerance: float  # hysteresis allowed for a held tier; 0 when judged strictly
    met: bool
    margin: float | None  # distance from the threshold, positive on the good side

    @property
    def limit(self) -> float:
        """The threshold after tolerance: the value the figure was compared with."""
        if self.comparison == ">=":
            return self.threshold - self.tolerance
        return self.threshold + self.tolerance

    def as_dict(self) -> dict[str, object]:
        return {**self._asdict(), "tier": self.tier.value, "limit": self.limit}


def judge(
    figures: dict[str, Figure], policy: ScoringPolicy, previous_tier: Tier = Tier.NONE
) -> tuple[Tier, tuple[Check, ...]]:
    """The earned tier and every check behind it, lowest tier first."""
    checks: list[Check] = []
    earned = Tier.NONE
    for tier in SEAL_TIERS:
        held = tier.rank <= previous_tier.rank
        thresholds = policy.thresholds(tier)
        all_met = True
        for criterion in CRITERIA:
            threshold = getattr(thresholds, criterion.setting)
            tolerance = policy.tolerance(criterion, threshold) if held else 0.0
            value = figures[criterion.figure]
            if value is None:
                met, margin = False, None
            elif criterion.comparison == ">=":
                margin = value - threshold
                met = margin >= -tolerance - _NOISE
            else:
                margin = threshold - value
                met = margin >= -tolerance - _NOISE
            all_met = all_met and met
            checks.append(
                Check(
                    tier,
                    criterion.figure,
                    value,
                    criterion.comparison,
                    threshold,
                    tolerance,
                    met,
                    margin,
                )
            )
        if all_met:
            earned = tier
    return earned, tuple(checks)
