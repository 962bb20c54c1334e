"""The scoring policy: tiers, their thresholds, the statistics' settings, the seal's dates.

`ScoringPolicy` holds every number that decides a tier; its defaults are the documented
defaults of the ``[scoring]`` section of config.toml, whose keys are the flat names of
`ScoringPolicy.to_flat` (``gold_min_cases``, ``confidence``, ...). `CRITERIA` is the
ordered table of what a tier is judged on: one row per threshold of each tier.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from scoring.aggregates import REPLY_HOUR_EDGES


class Tier(StrEnum):
    """A seal tier, from none to Gold."""

    NONE = "none"
    BRONZE = "bronze"
    SILBER = "silber"
    GOLD = "gold"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Tier.NONE: 0, Tier.BRONZE: 1, Tier.SILBER: 2, Tier.GOLD: 3}
SEAL_TIERS = (Tier.BRONZE, Tier.SILBER, Tier.GOLD)
"""The tiers a merchant can hold, lowest first."""


class PolicyError(ValueError):
    """A scoring setting is out of range; `key` is its flat config name."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


@dataclass(frozen=True)
class TierThresholds:
    """What a merchant must reach for one tier (all of it)."""

    min_cases: int
    min_ratings: int
    min_within_deadline: float
    """Lower Wilson bound of the share of due cases answered within the deadline."""
    max_median_hours: float
    max_p90_hours: float
    min_resolution: float
    """Lower Wilson bound of the share of closed cases that were resolved or settled."""
    max_mediation: float
    """Upper Wilson bound of the share of cases that needed mediation."""
    min_rating: float
    """Shrunk mean of the three rating dimensions (1 to 5)."""


@dataclass(frozen=True)
class Criterion:
    """One kind of threshold: which figure, which setting, which way, which tolerance."""

    figure: str
    setting: str
    comparison: str  # ">=": the figure must reach the threshold; "<=": stay below it
    tolerance: str  # "sample", "share", "hours" or "rating": the hysteresis setting


class Rule(NamedTuple):
    """A criterion with one tier's threshold filled in, ready to compare figures with."""

    figure: str
    comparison: str
    threshold: float
    tolerance: float  # applies only while the tier is held


CRITERIA: tuple[Criterion, ...] = (
    Criterion("cases", "min_cases", ">=", "sample"),
    Criterion("ratings", "min_ratings", ">=", "sample"),
    Criterion("within_deadline_lower", "min_within_deadline", ">=", "share"),
    Criterion("first_reply_hours_median", "max_median_hours", "<=", "hours"),
    Criterion("first_reply_hours_p90", "max_p90_hours", "<=", "hours"),
    Criterion("resolution_lower", "min_resolution", ">=", "share"),
    Criterion("mediation_upper", "max_mediation", "<=", "share"),
    Criterion("rating_overall", "min_rating", ">=", "rating"),
)

BRONZE = TierThresholds(
    min_cases=10,
    min_ratings=5,
    min_within_deadline=0.60,
    max_median_hours=16,
    max_p90_hours=40,
    min_resolution=0.35,
    max_mediation=0.45,
    min_rating=3.3,
)
SILBER = TierThresholds(
    min_cases=25,
    min_ratings=15,
    min_within_deadline=0.75,
    max_median_hours=8,
    max_p90_hours=24,
    min_resolution=0.50,
    max_mediation=0.30,
    min_rating=3.8,
)
GOLD = TierThresholds(
    min_cases=50,
    min_ratings=30,
    min_within_deadline=0.85,
    max_median_hours=4,
    max_p90_hours=16,
    min_resolution=0.65,
    max_mediation=0.20,
    min_rating=4.2,
)


@dataclass(frozen=True)
class ScoringPolicy:
    """Every number that decides a tier. Defaults: docs/scoring.md explains each."""

    window_months: int = 12
    """Rolling window: cases opened and ratings given in the last this many months."""
    confidence: float = 0.95
    """Confidence of the Wilson bounds on which shares are judged."""
    prior_mean: float = 3.0
    """The mean rating assumed before any rating arrives (the middle of 1 to 5)."""
    prior_weight: float = 5.0
    """How many ratings the prior counts as: a rating mean is pulled towards
    `prior_mean` as if this many ratings of it had been given."""
    hysteresis_sample: float = 0.10
    """A held tier's minimum case and rating counts may be missed by this share."""
    hysteresis_share: float = 0.03
    """A held tier's share thresholds may be missed by this much (3 percentage points)."""
    hysteresis_hours: float = 2.0
    """A held tier's first-reply hour limits may be exceeded by this many hours."""
    hysteresis_rating: float = 0.1
    """A held tier's rating threshold may be missed by this much."""
    trial_months: int = 2
    certification_months: int = 12
    bronze: TierThresholds = field(default=BRONZE)
    silber: TierThresholds = field(default=SILBER)
    gold: TierThresholds = field(default=GOLD)
    rules: tuple[tuple[Tier, tuple[Rule, ...]], ...] = field(init=False, repr=False, compare=False)
    """Each tier (lowest first) with its rules, one per criterion: the thresholds as
    scoring applies them, built once here so that scoring a merchant looks nothing up."""

    def __post_init__(self) -> None:
        _check(self)
        rules = tuple(
            (tier, tuple(self._rule(criterion, tier) for criterion in CRITERIA))
            for tier in SEAL_TIERS
        )
        object.__setattr__(self, "rules", rules)

    def _rule(self, criterion: Criterion, tier: Tier) -> Rule:
        threshold = getattr(self.thresholds(tier), criterion.setting)
        return Rule(
            criterion.figure,
            criterion.comparison,
            threshold,
            self.tolerance(criterion, threshold),
        )

    def thresholds(self, tier: Tier) -> TierThresholds:
        if tier is Tier.NONE:
            raise ValueError("the tier none has no thresholds")
        return getattr(self, tier.value)

    def tolerance(self, criterion: Criterion, threshold: float) -> float:
        """How far a held tier may miss `threshold` of `criterion` (hysteresis)."""
        if criterion.tolerance == "sample":
            return threshold * self.hysteresis_sample
        return getattr(self, f"hysteresis_{criterion.tolerance}")

    def to_flat(self) -> dict[str, int | float]:
        """The policy as flat config keys: ``confidence``, ``gold_min_cases``, ..."""
        flat: dict[str, int | float] = {}
        for item in dataclasses.fields(self):
            if not item.init:
                continue
            value = getattr(self, item.name)
            if isinstance(value, TierThresholds):
                for name, setting in dataclasses.asdict(value).items():
                    flat[f"{item.name}_{name}"] = setting
            else:
                flat[item.name] = value
        return flat

    @classmethod
    def from_flat(cls, values: Mapping[str, int | float]) -> ScoringPolicy:
        """A policy from flat config keys; missing keys keep their defaults.

        Raises `PolicyError` naming the key of an unknown or out-of-range setting.
        """
        defaults = cls().to_flat()
        for key, value in values.items():
            if key not in defaults:
                raise PolicyError(key, "unknown key")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(key, f"expected a number, got {value!r}")
        merged = defaults | dict(values)
        tiers = {
            tier.value: TierThresholds(
                **{
                    item.name: merged[f"{tier.value}_{item.name}"]
                    for item in dataclasses.fields(TierThresholds)
                }
            )
            for tier in SEAL_TIERS
        }
        prefixes = tuple(f"{tier}_" for tier in tiers)
        plain = {key: value for key, value in merged.items() if not key.startswith(prefixes)}
        return cls(**plain, **tiers)


def _check(policy: ScoringPolicy) -> None:
    whole = ("window_months", "trial_months", "certification_months")
    for name in whole:
        value = getattr(policy, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PolicyError(name, f"must be a whole number of at least 1, got {value!r}")
    if not 0 < policy.confidence < 1:
        raise PolicyError("confidence", f"must lie between 0 and 1, got {policy.confidence}")
    if not 1 <= policy.prior_mean <= 5:
        raise PolicyError("prior_mean", f"must lie between 1 and 5, got {policy.prior_mean}")
    if policy.prior_weight <= 0:
        raise PolicyError("prior_weight", f"must be greater than 0, got {policy.prior_weight}")
    if not 0 <= policy.hysteresis_sample < 1:
        raise PolicyError("hysteresis_sample", "must lie in [0, 1)")
    for name in ("hysteresis_share", "hysteresis_hours", "hysteresis_rating"):
        if getattr(policy, name) < 0:
            raise PolicyError(name, "must not be negative")
    for tier in SEAL_TIERS:
        _check_tier(tier, policy.thresholds(tier))
    # Gold is the strictest: a merchant that meets a tier meets every tier below it.
    for lower, higher in itertools.pairwise(SEAL_TIERS):
        for criterion in CRITERIA:
            low = getattr(policy.thresholds(lower), criterion.setting)
            high = getattr(policy.thresholds(higher), criterion.setting)
            laxer = high < low if criterion.comparison == ">=" else high > low
            if laxer:
                raise PolicyError(
                    f"{higher.value}_{criterion.setting}",
                    f"{high} is laxer than {lower.value}'s {low}",
                )


def _check_tier(tier: Tier, thresholds: TierThresholds) -> None:
    def fail(name: str, problem: str) -> None:
        raise PolicyError(f"{tier.value}_{name}", problem)

    for name in ("min_cases", "min_ratings"):
        value = getattr(thresholds, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            fail(name, f"must be a whole number of at least 0, got {value!r}")
    if thresholds.min_cases < 1:
        fail("min_cases", "must be at least 1: no tier without cases")
    for name in ("min_within_deadline", "min_resolution", "max_mediation"):
        if not 0 <= getattr(thresholds, name) <= 1:
            fail(name, "must be a share between 0 and 1")
    for name in ("max_median_hours", "max_p90_hours"):
        if getattr(thresholds, name) not in REPLY_HOUR_EDGES:
            # Reply times are counted in these buckets: a limit between two edges
            # could not be judged exactly.
            fail(name, "must be whole hours from 0 to 48, or 56, 64, 72, 80, 96, 120 or 160")
    if thresholds.max_median_hours > thresholds.max_p90_hours:
        fail("max_median_hours", "must not exceed max_p90_hours")
    if not 1 <= thresholds.min_rating <= 5:
        fail("min_rating", "must lie between 1 and 5")
