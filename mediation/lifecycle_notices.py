"""The seal's lifecycle mails to merchants: the trial ends soon (the rating system is
paid from the third month), the certification ends soon, a re-check is due.

`due` is pure: from a merchant's seal status on a day it names the notices due, each
with the day it is about (the trial's end, the certification's end). `LifecycleNotice`
records each notice sent, unique per merchant, kind and day, so that the nightly run
sends each one once; a new pre-check moves the certification's end, and the notice
about the new end is a new one. The mails are rendered by `form_mails` in the
merchant's language.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel

from mediation import form_mails, templates
from mediation.columns import UTCDateTime
from mediation.outgoing import OutgoingMail
from mediation.storage import Merchant
from scoring import SealPhase, SealStatus

TABLES = ("lifecycle_notice",)
"""The tables of this module, in creation order."""


class Kind(enum.StrEnum):
    TRIAL_ENDING = "trial_ending"
    CERTIFICATION_EXPIRING = "certification_expiring"
    RECHECK_DUE = "recheck_due"


class LifecycleNotice(SQLModel, table=True):
    """A lifecycle mail sent to a merchant (once per kind and day it is about)."""

    __tablename__ = "lifecycle_notice"
    __table_args__ = (UniqueConstraint("merchant_id", "kind", "about", name="uq_lifecycle_once"),)

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    kind: str = Field(max_length=40)
    about: date
    """The day the notice is about: the trial's or the certification's end."""
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


@dataclass(frozen=True)
class Due:
    kind: Kind
    about: date


def due(status: SealStatus, on: date, trial_days: int, expiry_days: int) -> list[Due]:
    """The notices due on day `on` for a seal in `status`."""
    trial_ends, valid_until = status.trial_ends_on, status.valid_until
    if status.phase is SealPhase.TRIAL and trial_ends and (trial_ends - on).days <= trial_days:
        return [Due(Kind.TRIAL_ENDING, trial_ends)]
    active = status.phase is SealPhase.ACTIVE
    if active and valid_until and (valid_until - on).days <= expiry_days:
        return [Due(Kind.CERTIFICATION_EXPIRING, valid_until)]
    if status.phase is SealPhase.RECHECK_DUE and status.valid_until is not None:
        return [Due(Kind.RECHECK_DUE, status.valid_until)]
    return []


def sent(session: Session, merchant_id: int, notice: Due) -> bool:
    query = select(LifecycleNotice.id).where(
        LifecycleNotice.merchant_id == merchant_id,
        LifecycleNotice.kind == str(notice.kind),
        LifecycleNotice.about == notice.about,
    )
    return session.execute(query).first() is not None


def record(session: Session, merchant_id: int, notice: Due, at: datetime) -> None:
    kind = str(notice.kind)
    session.add(LifecycleNotice(merchant_id=merchant_id, kind=kind, about=notice.about, sent_at=at))
    session.flush()


def history(session: Session, merchant_id: int) -> list[dict[str, Any]]:
    query = select(LifecycleNotice).where(LifecycleNotice.merchant_id == merchant_id)
    return [row.model_dump() for row in session.scalars(query.order_by(LifecycleNotice.id))]  # type: ignore[arg-type]


def mail(merchant: Merchant, notice: Due, on: date, certificate_url: str) -> OutgoingMail | None:
    """The notice to `merchant`'s first support address, in its language (None: none)."""
    if not merchant.support_addresses:
        return None
    language = merchant.language if merchant.language in templates.LANGUAGES else "de"
    values = {
        "merchant_name": merchant.name,
        "day": templates.calendar_day(notice.about, language),
        "days": str(max(0, (notice.about - on).days)),
        "certificate_url": certificate_url,
    }
    return form_mails.compose(
        "lifecycle", f"merchant.{notice.kind}", language, values, merchant.support_addresses[0]
    )
