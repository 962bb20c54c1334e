"""Which monthly reports were sent: one row per month and recipient, so that the nightly
run sends each once (a unique key, written in the transaction that enqueues the mail)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint, select
from sqlmodel import Field, Session, SQLModel

from mediation.columns import UTCDateTime

TABLES = ("monthly_report",)
OPERATOR = "*operator*"
"""The `merchant` of the operator's report (a slug never has asterisks)."""


class MonthlyReport(SQLModel, table=True):
    """A monthly report that was sent."""

    __tablename__ = "monthly_report"
    __table_args__ = (UniqueConstraint("month", "merchant", name="uq_monthly_report"),)

    id: int | None = Field(default=None, primary_key=True)
    month: str = Field(max_length=7)
    """``YYYY-MM``."""
    merchant: str = Field(max_length=64)
    """The merchant's slug, or `OPERATOR`."""
    sent_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def sent(session: Session, month: str) -> set[str]:
    """Who got the report of `month` already (slugs, `OPERATOR`)."""
    query = select(MonthlyReport.merchant).where(MonthlyReport.month == month)
    return set(session.scalars(query))


def mark_sent(session: Session, month: str, merchant: str, at: datetime) -> None:
    session.add(MonthlyReport(month=month, merchant=merchant, sent_at=at))
    session.flush()
