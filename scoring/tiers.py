"""Which tier the figures earn: every threshold of every tier checked, with hysteresis.

A tier is earned when every one of its thresholds is met; the earned tier is the best
such tier. Hysteresis keeps a tier from flapping on one case: every tier up to the
previously held one is judged with a tolerance (a held tier is lost only when a figure
misses by more than the tolerance), every tier above it strictly (a merchant rises
only when every threshold is met without tolerance).

`earned_tier` is the fast path (no explanation built) that nightly scoring of every
merchant uses; `explain` gives every check. Both compare through `_shortfall`.
"""

from __future__ import annotations

from typing import NamedTuple

from scoring.figures import Figure
from scoring.policy import ScoringPolicy, Tier

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

    @property
    def met_within_tolerance_only(self) -> bool:
        """Met only thanks to hysteresis: the threshold itself was missed."""
        return self.met and self.margin is not None and self.margin < -_NOISE

    def as_dict(self) -> dict[str, object]:
        tier, figure, value, comparison, threshold, tolerance, met, margin = self
        return {
            "tier": tier.value,
            "figure": figure,
            "value": value,
            "comparison": comparison,
            "threshold": threshold,
            "tolerance": tolerance,
            "limit": self.limit,
            "met": met,
            "margin": margin,
        }


def _margin(value: float, comparison: str, threshold: float) -> float:
    """How far `value` lies on the good side of `threshold` (negative: missed by)."""
    return value - threshold if comparison == ">=" else threshold - value


def earned_tier(
    figures: dict[str, Figure], policy: ScoringPolicy, previous_tier: Tier = Tier.NONE
) -> Tier:
    """The best tier whose every threshold the figures meet."""
    earned = Tier.NONE
    previous_rank = previous_tier.rank
    for tier, rules in policy.rules:
        held = tier.rank <= previous_rank
        for figure, comparison, threshold, tolerance in rules:
            value = figures[figure]
            if value is None:
                return earned
            slack = tolerance + _NOISE if held else _NOISE
            if _margin(value, comparison, threshold) < -slack:
                # Thresholds grow stricter with the tier (checked in the policy), so no
                # higher tier can be met either.
                return earned
        earned = tier
    return earned


def explain(
    figures: dict[str, Figure], policy: ScoringPolicy, previous_tier: Tier = Tier.NONE
) -> tuple[Check, ...]:
    """Every threshold of every tier applied to the figures, lowest tier first."""
    checks = []
    # tuple.__new__ skips NamedTuple's Python-level constructor: a third of the time
    # when `siegel score --json` explains every merchant.
    new = tuple.__new__
    for tier, rules in policy.rules:
        held = tier.rank <= previous_tier.rank
        for figure, comparison, threshold, tolerance in rules:
            value = figures[figure]
            applied = tolerance if held else 0.0
            if value is None:
                met, margin = False, None
            else:
                margin = _margin(value, comparison, threshold)
                met = margin >= -applied - _NOISE
            checks.append(
                new(Check, (tier, figure, value, comparison, threshold, applied, met, margin))
            )
    return tuple(checks)
