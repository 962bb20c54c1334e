"""A merchant's assessment: tier, figures, one explanation entry per threshold, reasons.

`assess` is the whole of scoring for one merchant: measure the figures, judge every
threshold of every tier (with hysteresis from the previous tier), then apply the
seal's lifecycle (pre-check, trial, certification). `score_all` does it for many.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from scoring.aggregates import MerchantAggregate
from scoring.figures import Figure, measure
from scoring.lifecycle import SealPhase, SealRecord, SealStatus, seal_status
from scoring.policy import SEAL_TIERS, ScoringPolicy, Tier
from scoring.reasons import Reason, render
from scoring.tiers import Check, earned_tier, explain


@dataclass(frozen=True)
class Assessment:
    """The tier a merchant holds on a day, and everything needed to recompute it."""

    merchant: str
    tier: Tier
    """The tier shown: the earned tier while the seal is active, else none."""
    earned_tier: Tier
    """The tier the figures earn, whatever the lifecycle says."""
    previous_tier: Tier
    figures: dict[str, Figure]
    seal: SealStatus
    policy: ScoringPolicy = field(repr=False, compare=False)

    # The explanation and the reasons are built when first asked for: nightly scoring
    # of every merchant needs only the tier, and a mail only for tiers that changed.
    @cached_property
    def explanation(self) -> tuple[Check, ...]:
        """Every threshold of every tier: figure, value, threshold, met, margin."""
        return explain(self.figures, self.policy, self.previous_tier)

    @cached_property
    def notes(self) -> tuple[Reason, ...]:
        """The reasons as data, in the order a merchant reads them."""
        return _notes(
            self.earned_tier, self.tier, self.explanation, self.seal, self.resolution_days
        )

    @property
    def resolution_days(self) -> tuple[Figure, Figure] | None:
        """Median and 90th percentile of the days to resolution; None: nothing resolved
        (or not measured)."""
        if not self.figures.get("resolution_days_count"):
            return None
        return self.figures["resolution_days_median"], self.figures["resolution_days_p90"]

    def reasons(self, language: str) -> list[str]:
        """The reasons for the tier as sentences in `language` ("de" or "en")."""
        cases_due = int(self.figures["cases_due"] or 0)
        return [render(note, language, cases_due) for note in self.notes]

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON: merchant, tier, figures, explanation, seal."""
        return {
            "merchant": self.merchant,
            "tier": self.tier.value,
            "earned_tier": self.earned_tier.value,
            "previous_tier": self.previous_tier.value,
            "seal": {
                "phase": self.seal.phase.value,
                "trial_ends_on": _iso(self.seal.trial_ends_on),
                "valid_from": _iso(self.seal.valid_from),
                "valid_until": _iso(self.seal.valid_until),
            },
            "figures": dict(self.figures),
            "explanation": [check.as_dict() for check in self.explanation],
        }


def assess(
    aggregate: MerchantAggregate,
    policy: ScoringPolicy,
    *,
    seal: SealRecord,
    on: date,
    previous_tier: Tier = Tier.NONE,
) -> Assessment:
    """Assess one merchant on the day `on`, given the tier it held before."""
    figures = measure(aggregate, policy)
    earned = earned_tier(figures, policy, previous_tier)
    status = seal_status(seal, on, policy)
    return Assessment(
        merchant=aggregate.merchant,
        tier=earned if status.shows_seal else Tier.NONE,
        earned_tier=earned,
        previous_tier=previous_tier,
        figures=figures,
        seal=status,
        policy=policy,
    )


def score_all(
    aggregates: Iterable[MerchantAggregate],
    policy: ScoringPolicy,
    *,
    seals: Mapping[str, SealRecord],
    on: date,
    previous_tiers: Mapping[str, Tier],
) -> list[Assessment]:
    """Assess every merchant; one without a seal record has no pre-check, one without a
    previous tier held none."""
    no_record = SealRecord()
    return [
        assess(
            aggregate,
            policy,
            seal=seals.get(aggregate.merchant, no_record),
            on=on,
            previous_tier=previous_tiers.get(aggregate.merchant, Tier.NONE),
        )
        for aggregate in aggregates
    ]


def _notes(
    earned: Tier,
    tier: Tier,
    checks: tuple[Check, ...],
    status: SealStatus,
    resolved: tuple[Figure, Figure] | None = None,
) -> tuple[Reason, ...]:
    """Headline, lifecycle, then the thresholds that keep the merchant from the next
    tier up, and any threshold of its tier met only within the hysteresis tolerance;
    last the time to resolution, shown but not judged, when it was measured."""
    notes = [Reason("tier", tier=tier) if tier is not Tier.NONE else Reason("no-tier")]
    if status.phase is SealPhase.PRECHECK_MISSING:
        notes.append(Reason("precheck-missing"))
    elif status.phase is SealPhase.TRIAL:
        notes.append(Reason("trial", day=status.trial_ends_on))
    elif status.phase is SealPhase.RECHECK_DUE:
        notes.append(Reason("recheck-due", day=status.valid_until))
    elif status.valid_until is not None:
        notes.append(Reason("valid-until", day=status.last_valid_day))
    if not status.shows_seal and earned is not Tier.NONE:
        notes.append(Reason("earned-hidden", tier=earned))
    notes += [
        Reason("tier-held", check=check)
        for check in checks
        if check.tier is earned and check.met_within_tolerance_only
    ]
    if earned is Tier.GOLD:
        notes.append(Reason("all-met", tier=earned))
    else:
        target = SEAL_TIERS[earned.rank]
        notes += [
            Reason("threshold-missed", check=check)
            for check in checks
            if check.tier is target and not check.met
        ]
    if resolved is not None:
        notes.append(Reason("resolution-time", days=resolved))
    return tuple(notes)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None
