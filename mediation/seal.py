"""The seal of each merchant in storage: the operator's records, the tier it holds, and
the history of both; and the mail that tells a merchant its tier changed.

`Seal` is one row per merchant: the latest passed pre-check or re-check (date and by
whom), the trial's start, an explicit certification date, the tier held and the one
before it. `SealHistory` logs every record the operator made and every tier change,
a change with the whole assessment (figures, every threshold) as JSON, so that any
tier a merchant was told can be recomputed later.

`apply_tiers` stores the tiers of a recompute: a change is written by a conditional
update on the tier read before (two recomputes at once change and mail it once), and
its mail is returned for the caller to enqueue in the same transaction. Nothing here
reads the clock.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Text, select, update
from sqlmodel import Field, Session, SQLModel

from mediation import templates
from mediation.columns import UTCDateTime
from mediation.outgoing import OutgoingMail
from mediation.storage import Merchant
from scoring import TIER_NAMES, Assessment, SealRecord, Tier

TABLES = ("seal", "seal_history")
"""The tables of this module, in creation order."""

_TEMPLATES = Path(__file__).resolve().parent / "templates"


def _utc(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


class Seal(SQLModel, table=True):
    """What the operator recorded about a merchant's seal, and the tier it holds."""

    __tablename__ = "seal"

    merchant_id: int = Field(
        primary_key=True, foreign_key="merchant.id", sa_column_kwargs={"autoincrement": False}
    )
    precheck_passed_on: date | None = None
    """The latest passed pre-check or re-check; None: none passed (or the last failed)."""
    precheck_by: str | None = Field(default=None, max_length=200)
    trial_started_on: date | None = None
    certified_on: date | None = None
    """An explicitly recorded certification date (the year runs from the latest of this,
    the pre-check and the trial's end)."""
    tier: str = Field(default=Tier.NONE, max_length=10)
    """The tier held since the last recompute that changed it."""
    previous_tier: str = Field(default=Tier.NONE, max_length=10)
    tier_since: datetime | None = _utc()
    updated_at: datetime | None = _utc()

    def record(self) -> SealRecord:
        return SealRecord(self.precheck_passed_on, self.trial_started_on, self.certified_on)


class SealHistory(SQLModel, table=True):
    """One entry of a seal's history: an operator's record or a tier change."""

    __tablename__ = "seal_history"

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    at: datetime = _utc(nullable=False)
    kind: str = Field(max_length=30)
    """``precheck-passed``, ``precheck-failed``, ``trial-started``, ``certified`` or
    ``tier-changed``."""
    actor: str = Field(max_length=200)
    on: date | None = None
    """The day an operator's record names."""
    tier_before: str | None = Field(default=None, max_length=10)
    tier_after: str | None = Field(default=None, max_length=10)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    assessment: dict = Field(default={}, sa_column=Column(JSON, nullable=False))


# ------------------------------------------------------------------ operator records


def seal_of(session: Session, merchant_id: int, now: datetime) -> Seal:
    """The merchant's seal row, created (holding no tier) when it has none yet."""
    seal = session.get(Seal, merchant_id)
    if seal is None:
        seal = Seal(merchant_id=merchant_id, updated_at=now)
        session.add(seal)
        session.flush()
    return seal


def record(
    session: Session, merchant_id: int, kind: str, on: date | None, by: str, now: datetime
) -> Seal:
    """Record a pre-check (passed or failed), a trial's start or a certification."""
    seal = seal_of(session, merchant_id, now)
    match kind:
        case "precheck-passed":
            seal.precheck_passed_on, seal.precheck_by = on, by
        case "precheck-failed":
            seal.precheck_passed_on, seal.precheck_by = None, by
        case "trial-started":
            seal.trial_started_on = on
        case "certified":
            seal.certified_on = on
        case _:
            raise ValueError(f"unknown seal record {kind!r}")
    seal.updated_at = now
    session.add(seal)
    session.add(SealHistory(merchant_id=merchant_id, at=now, kind=kind, actor=by, on=on))
    session.flush()
    return seal


def history(session: Session, merchant_id: int) -> list[SealHistory]:
    query = select(SealHistory).where(SealHistory.merchant_id == merchant_id)
    return list(session.scalars(query.order_by(SealHistory.id)))  # type: ignore[arg-type]


def records(
    session: Session, merchant_ids: Iterable[int] | None = None
) -> tuple[dict[str, SealRecord], dict[str, Tier]]:
    """Every merchant's seal record and held tier (or only those of `merchant_ids`), by
    slug (merchants without a row have neither: no pre-check, no tier)."""
    query = select(Merchant.slug, Seal).join(Seal, Seal.merchant_id == Merchant.id)  # type: ignore[arg-type]
    if merchant_ids is not None:
        query = query.where(Seal.merchant_id.in_(list(merchant_ids)))  # type: ignore[attr-defined]
    rows = session.execute(query)
    found: dict[str, SealRecord] = {}
    held: dict[str, Tier] = {}
    for slug, seal in rows:
        found[slug] = seal.record()
        held[slug] = Tier(seal.tier)
    return found, held


# ------------------------------------------------------------------ tier changes


@dataclass(frozen=True)
class TierChange:
    """A merchant whose tier changed, and the mail that tells it (None: no address)."""

    merchant: str
    before: Tier
    after: Tier
    mail: OutgoingMail | None


def apply_tiers(
    session: Session,
    assessments: Iterable[Assessment],
    merchants: Mapping[str, Merchant],
    now: datetime,
    window_months: int,
    web_url: str = "",
) -> list[TierChange]:
    """Store every changed tier with its history entry; the mails to send for them
    (linking to the certificate pages under `web_url`)."""
    table = Seal.__table__  # type: ignore[attr-defined]
    changes = []
    for assessment in assessments:
        if assessment.tier is assessment.previous_tier:
            continue
        merchant = merchants[assessment.merchant]
        seal_of(session, merchant.id, now)  # type: ignore[arg-type]
        changed = session.execute(
            update(table)
            .where(table.c.merchant_id == merchant.id, table.c.tier == assessment.previous_tier)
            .values(
                tier=assessment.tier,
                previous_tier=assessment.previous_tier,
                tier_since=now,
                updated_at=now,
            )
        ).rowcount
        if changed != 1:
            continue  # another recompute changed it first (and sent the mail)
        language = merchant.language if merchant.language in templates.LANGUAGES else "de"
        reasons = assessment.reasons(language)
        session.add(
            SealHistory(
                merchant_id=merchant.id,  # type: ignore[arg-type]
                at=now,
                kind="tier-changed",
                actor="system",
                tier_before=assessment.previous_tier,
                tier_after=assessment.tier,
                detail="\n".join(reasons),
                assessment=assessment.as_dict(),
            )
        )
        page = f"{web_url.rstrip('/')}/siegel/{merchant.slug}"
        mail = tier_mail(merchant, assessment, reasons, language, window_months, page)
        changes.append(TierChange(merchant.slug, assessment.previous_tier, assessment.tier, mail))
    session.flush()
    return changes


def tier_mail(
    merchant: Merchant,
    assessment: Assessment,
    reasons: list[str],
    language: str,
    window_months: int,
    certificate_url: str = "",
) -> OutgoingMail | None:
    """The mail telling `merchant` its new tier with the reasons and its certificate
    page, in its language."""
    if not merchant.support_addresses:
        return None
    names = TIER_NAMES[language]
    entry = _catalogue(language)["merchant"]["tier_changed"]
    values = {
        "merchant_name": merchant.name,
        "tier": names[assessment.tier],
        "previous_tier": names[assessment.previous_tier],
        "reasons": "\n".join(f"- {reason}" for reason in reasons),
        "window_months": str(window_months),
        "certificate_url": certificate_url,
    }
    rendered = templates.fill(entry, language, values)
    return OutgoingMail(
        to=merchant.support_addresses[0],
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        kind="merchant.tier_changed",
        language=language,
    )


@cache
def _catalogue(language: str) -> dict[str, dict[str, dict[str, str]]]:
    with (_TEMPLATES / f"seal_{language}.toml").open("rb") as handle:
        return tomllib.load(handle)
