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
from scoring.lifecycle import SealPhase, SealRecord, SealStatus, add_months, seal_status
from scoring.policy import CRITERIA, PolicyError, ScoringPolicy, Tier, TierThresholds
from scoring.tiers import Check

__all__ = [
    "CRITERIA",
    "REPLY_HOUR_EDGES",
    "Assessment",
    "Check",
    "MerchantAggregate",
    "PolicyError",
    "RatingTotals",
    "ScoringPolicy",
    "SealPhase",
    "SealRecord",
    "SealStatus",
    "Tier",
    "TierThresholds",
    "add_months",
    "assess",
    "reply_hours_bucket",
    "reply_hours_bucket_sql",
    "score_all",
    "seal_status",
]
