"""Changes to a registered merchant: applied, and recorded with who, when, old and new.

``siegel merchant set SLUG --FIELD VALUE`` writes through `change`; every field that
really changes gets one row in `merchant_change` (created by a step in
`mailflow.migrations.MIGRATIONS`), which ``siegel merchant show`` lists. A slug is never
changed: it is in every complaint address printed next to the seal.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, select
from sqlmodel import Field, Session, SQLModel

from mediation.columns import UTCDateTime
from mediation.storage import Merchant

TABLES = ("merchant_change",)
FIELDS = (
    "name",
    "name_aliases",
    "support_addresses",
    "domains",
    "order_pattern",
    "language",
    "calendar_region",
    "timezone",
    "opening_hours",
)
"""Every field of a merchant that may change (all but its slug)."""


class MerchantChange(SQLModel, table=True):
    """One changed field of a merchant."""

    __tablename__ = "merchant_change"

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=200)
    field: str = Field(max_length=40)
    old: Any = Field(default=None, sa_column=Column(JSON, nullable=True))
    new: Any = Field(default=None, sa_column=Column(JSON, nullable=True))


def change(
    session: Session, merchant: Merchant, values: Mapping[str, Any], actor: str, now: datetime
) -> list[MerchantChange]:
    """Set `values` (fields of `FIELDS`) on `merchant`; returns the changes recorded (none
    for a value it already has)."""
    changes = []
    for name, new in values.items():
        if name not in FIELDS:
            raise ValueError(f"a merchant has no field {name!r} that may change")
        old = getattr(merchant, name)
        if old == new:
            continue
        setattr(merchant, name, new)
        changes.append(
            MerchantChange(
                merchant_id=merchant.id,  # type: ignore[arg-type]
                at=now,
                actor=actor,
                field=name,
                old=list(old) if isinstance(old, list) else old,
                new=list(new) if isinstance(new, list) else new,
            )
        )
    session.add(merchant)
    session.add_all(changes)
    session.flush()
    return changes


def history(session: Session, merchant_id: int) -> list[MerchantChange]:
    query = select(MerchantChange).where(MerchantChange.merchant_id == merchant_id)
    return list(session.scalars(query.order_by(MerchantChange.id)))  # type: ignore[arg-type]
