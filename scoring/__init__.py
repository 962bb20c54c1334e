"""Seal tiers from measured service: pure (plain data in, assessment out; no database,
network or clock).

`assess` turns one merchant's `MerchantAggregate` (counts SQL computes cheaply) into an
`Assessment`: the tier, the figures, one explanation entry per threshold and the
reasons in German and English. docs/scoring.md explains every figure and threshold.
"""

from scoring.aggregates import (
    REPLY_HOUR_EDGES,
    MerchantAggregate,
    RatingTotals,
    reply_hours_bucket,
    reply_hours_bucket_sql,
)
from scoring.assessment import Assessment, assess, score_all
from scoring.barometer import DimensionRatings, RatingBarometer, rating_barometer
from scoring.lifecycle import SealPhase, SealRecord, SealStatus, add_months, seal_status
from scoring.policy import CRITERIA, PolicyError, ScoringPolicy, Tier, TierThresholds
from scoring.reasons import TIER_NAMES, days_text, figure_name, figure_text, threshold_text
from scoring.resolution import (
    RESOLUTION_DAY_EDGES,
    resolution_days_bucket,
    resolution_days_bucket_sql,
)
from scoring.statistics import score_interval
from scoring.tiers import Check

__all__ = [
    "CRITERIA",
    "REPLY_HOUR_EDGES",
    "RESOLUTION_DAY_EDGES",
    "TIER_NAMES",
    "Assessment",
    "Check",
    "DimensionRatings",
    "MerchantAggregate",
    "PolicyError",
    "RatingBarometer",
    "RatingTotals",
    "ScoringPolicy",
    "SealPhase",
    "SealRecord",
    "SealStatus",
    "Tier",
    "TierThresholds",
    "add_months",
    "assess",
    "days_text",
    "figure_name",
    "figure_text",
    "rating_barometer",
    "reply_hours_bucket",
    "reply_hours_bucket_sql",
    "resolution_days_bucket",
    "resolution_days_bucket_sql",
    "score_all",
    "score_interval",
    "seal_status",
    "threshold_text",
]
