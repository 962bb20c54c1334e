"""The shell side of the seal: every merchant scored from the database, tiers stored and
changes mailed, and the public rating barometer.

- `assess(session, config, at)`: the figures of every merchant (or one) aggregated in
  SQL (`mediation.figure_store`) and assessed by `scoring.score_all` with each merchant's
  seal record and the tier it holds (hysteresis).
- `recompute(engine, config, now)`: the nightly job and `siegel score --apply`: in one
  transaction, changed tiers are stored with their history and the merchants' mails
  go into the outbox. On PostgreSQL the transaction holds an advisory lock, so that of
  several worker processes whose schedulers fire at once one recomputes and the others
  skip (`wait=False`) or wait (the command); a tier change is written by a conditional
  update anyway, so a recompute after another one mails nothing twice.
  The same transaction sends the lifecycle mails that are due, once each
  (`lifecycle_work`).
- `barometer(session, config, slug, at)`: the public summary (Bewertungsbarometer):
  tier and figures only, nothing about a person; the ratings as the certificate page
  shows them (`scoring.rating_barometer`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlmodel import Session

from mailflow import lifecycle_work, outbox
from mailflow.config import Config
from mailflow.db import is_postgres, session_scope
from mediation import feedback_store as feedback
from mediation import figure_store, seal, storage
from scoring import Assessment, rating_barometer, score_all

log = logging.getLogger("mailflow.seal")

RECOMPUTE_LOCK = 7420003
"""The advisory lock key of the recompute (`mailflow.db` uses 7420001 for upgrades)."""

PUBLIC_COUNTS = (
    "cases",
    "cases_due",
    "first_replies",
    "replies_within_deadline",
    "closed",
    "resolved",
    "mediated",
)
PUBLIC_FIGURES = (
    "within_deadline_share",
    "first_reply_hours_median",
    "first_reply_hours_p90",
    "resolution_rate",
    "mediation_rate",
)


def scoring_day(config: Config, at: datetime) -> date:
    """The day `at` falls on in the operator's time zone: the day the seal is judged on."""
    return at.astimezone(ZoneInfo(config.siegel.timezone)).date()


def merchants_named(session: Session, slug: str | None) -> list[int] | None:
    """The id of merchant `slug` as a one-element list, or None (all) without a slug;
    LookupError for an unknown slug."""
    if slug is None:
        return None
    merchant = storage.merchant_by_slug(session, slug)
    if merchant is None:
        raise LookupError(f"no merchant {slug}")
    return [merchant.id]  # type: ignore[list-item]


def assess(
    session: Session, config: Config, at: datetime, slug: str | None = None
) -> list[Assessment]:
    """Every merchant's assessment as of `at` (only `slug`'s when given), by slug."""
    merchant_ids = merchants_named(session, slug)
    policy = config.scoring.policy
    aggregates = figure_store.aggregates(session, at, policy.window_months, merchant_ids)  # type: ignore[arg-type]
    records, held = seal.records(session, merchant_ids)
    return score_all(
        aggregates, policy, seals=records, on=scoring_day(config, at), previous_tiers=held
    )


@dataclass
class Recomputed:
    """What one recompute did."""

    assessed: int = 0
    changes: list[seal.TierChange] = field(default_factory=list)
    skipped: bool = False
    """Another process held the recompute lock (PostgreSQL, `wait=False`): nothing done."""
    lifecycle_mails: int = 0
    """Lifecycle mails enqueued (trial ending, certification expiring, re-check due)."""

    @property
    def mails(self) -> int:
        return sum(1 for change in self.changes if change.mail is not None)


def recompute(
    engine: Engine, config: Config, now: datetime, slug: str | None = None, wait: bool = True
) -> Recomputed:
    """Assess every merchant (or `slug`) as of `now`, store the changed tiers and enqueue
    the mails that tell the merchants, all in one transaction.

    On PostgreSQL one recompute runs at a time: the transaction takes an advisory lock,
    waiting for it, or with `wait=False` returning `skipped` when another holds it."""
    with session_scope(engine) as session:
        if is_postgres(engine):
            if not wait:
                taken = session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK}
                )
                if not taken:
                    return Recomputed(skipped=True)
            else:
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RECOMPUTE_LOCK})
        assessments = assess(session, config, now, slug)
        merchants = {merchant.slug: merchant for merchant in storage.merchants(session)}
        window = config.scoring.policy.window_months
        changes = seal.apply_tiers(
            session, assessments, merchants, now, window, config.web.public_url
        )
        for change in changes:
            if change.mail is not None:
                outbox.enqueue(session, change.mail, config, now)
        notices = lifecycle_work.send_due(session, config, now, scoring_day(config, now), slug)
    for change in changes:
        log.info("tier of %s: %s → %s", change.merchant, change.before, change.after)
    return Recomputed(len(assessments), changes, lifecycle_mails=notices)


def barometer(session: Session, config: Config, slug: str, at: datetime) -> dict[str, Any]:
    """The public figures of merchant `slug` as of `at`: its tier, counts, shares, reply
    times and rating means. Nothing about a person: no names, addresses or texts."""
    [assessment] = assess(session, config, at, slug)
    merchant = storage.merchant_by_slug(session, slug)
    assert merchant is not None and merchant.id is not None
    held = session.get(seal.Seal, merchant.id)
    policy = config.scoring.policy
    shown = assessment.figures
    distribution = figure_store.rating_distribution(session, merchant.id, at, policy.window_months)
    status = assessment.seal
    return {
        "merchant": merchant.slug,
        "tier": held.tier if held else "none",
        "tier_since": held.tier_since.isoformat() if held and held.tier_since else None,
        "seal": {
            "phase": status.phase.value,
            "valid_until": status.valid_until.isoformat() if status.valid_until else None,
        },
        "as_of": at.isoformat(),
        "window_start": figure_store.window_start(at, policy.window_months).isoformat(),
        "figures": {name: shown[name] for name in (*PUBLIC_COUNTS, *PUBLIC_FIGURES)},
        "feedback": feedback.counts(
            session, merchant.id, figure_store.window_start(at, policy.window_months)
        ),
        "ratings": rating_barometer(shown, distribution, policy.confidence).as_dict(),
    }
