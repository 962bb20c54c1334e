"""Lob & Tadel storage: the praise and criticism of a shop taken outside any case (by
the `feedback` room, from mail to ``lob@`` or praise at the complaint address).

A `Feedback` row is one mail's praise or criticism about one merchant (None until its
author names the shop, asked by mail at the row's own signed address). Nothing here
opens a case, reaches the merchant or enters mediation; the merchant's barometer counts
the rows (`counts`). A text is published on the certificate page only with the
author's consent (`publish_consent`) and after the operator released it (`release`):
`published` reads those, and never the author.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, func, select
from sqlmodel import Field, Session, SQLModel

from mediation import publication
from mediation.columns import UTCDateTime

TABLES = ("feedback",)
"""The tables of this module, in creation order."""

MAX_TEXT_CHARS = 4000
"""What is kept of one entry's text (the raw mail is stored anyway)."""


class Source(enum.StrEnum):
    """Where an entry came in."""

    PRAISE_ADDRESS = "praise-address"
    COMPLAINT_ADDRESS = "complaint-address"
    WEB_FORM = "web-form"
    """The Lob & Tadel form, confirmed by its author (`mail_id` 0: no mail)."""


class Feedback(SQLModel, table=True):
    """One mail's Lob & Tadel about one merchant (None: not yet named)."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int | None = Field(default=None, foreign_key="merchant.id", index=True)
    author: str = Field(max_length=320)
    language: str = Field(default="de", max_length=8)
    praise: str = Field(default="", sa_column=Column(Text, nullable=False))
    criticism: str = Field(default="", sa_column=Column(Text, nullable=False))
    source: str = Field(max_length=32)
    mail_id: int = Field(index=True)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    merchant_named_by: str | None = Field(default=None, max_length=64)
    """How the merchant was found: a routing rule, or "author" when asked for."""
    publish_consent: bool = False
    """The author agreed to have the text shown on the merchant's certificate page."""
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the operator released the text for publication; None: not released."""
    released_by: str | None = Field(default=None, max_length=200)
    rejected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the operator refused publication; None: not refused."""
    rejected_by: str | None = Field(default=None, max_length=200)


def record(
    session: Session,
    *,
    merchant_id: int | None,
    author: str,
    language: str,
    praise: str,
    criticism: str,
    source: Source,
    mail_id: int,
    received_at: datetime,
    merchant_named_by: str | None,
) -> Feedback:
    entry = Feedback(
        merchant_id=merchant_id,
        author=author,
        language=language,
        praise=praise[:MAX_TEXT_CHARS],
        criticism=criticism[:MAX_TEXT_CHARS],
        source=str(source),
        mail_id=mail_id,
        received_at=received_at,
        merchant_named_by=merchant_named_by,
    )
    session.add(entry)
    session.flush()
    return entry


def entry(session: Session, feedback_id: int) -> Feedback | None:
    return session.get(Feedback, feedback_id, with_for_update=True)


def name_merchant(session: Session, found: Feedback, merchant_id: int) -> None:
    """The author named the shop of an entry that had none."""
    found.merchant_id, found.merchant_named_by = merchant_id, "author"
    session.add(found)
    session.flush()


def counts(session: Session, merchant_id: int, since: datetime) -> dict[str, int]:
    """Entries with praise and with criticism about a merchant since `since`."""
    query = select(
        func.count().filter(Feedback.praise != ""),
        func.count().filter(Feedback.criticism != ""),
    ).where(Feedback.merchant_id == merchant_id, Feedback.received_at >= since)
    praise, criticism = session.execute(query).one()
    return {"praise": int(praise), "criticism": int(criticism)}


def _set(session: Session, feedback_id: int, **values: Any) -> Feedback | None:
    found = session.get(Feedback, feedback_id)
    if found is not None:
        for name, value in values.items():
            setattr(found, name, value)
        session.add(found)
        session.flush()
    return found


def consent(session: Session, feedback_id: int, given: bool = True) -> Feedback | None:
    """Record the author's consent to publish (or its withdrawal) on one entry."""
    return _set(session, feedback_id, publish_consent=given)


def release(session: Session, feedback_id: int, by: str, now: datetime) -> Feedback | None:
    """The operator releases one entry for publication (shown only with consent)."""
    return publication.decide(session, Feedback, feedback_id, "released", by, now)


def reject(session: Session, feedback_id: int, by: str, now: datetime) -> Feedback | None:
    """The operator refuses one entry's publication (it still counts on the barometer)."""
    return publication.decide(session, Feedback, feedback_id, "rejected", by, now)


def waiting(session: Session, limit: int = 200) -> list[Feedback]:
    """Entries the operator has to decide on, oldest first: their author agreed to
    publication, they name a shop, and they are neither released nor refused."""
    named = Feedback.merchant_id.is_not(None)  # type: ignore[union-attr]
    return publication.waiting(session, Feedback, named, limit=limit)


def published(
    session: Session, merchant_id: int, since: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The newest entries about a merchant since `since` that may be shown in public:
    consented and released. Only what a shopper may read: the texts, the language and
    the day; never the author or the mail."""
    return publication.published(session, Feedback, Feedback.language, merchant_id, since, limit)


def listing(session: Session, merchant_id: int | None = None) -> list[dict[str, Any]]:
    """Entries newest first, for the operator (`siegel feedback`)."""
    query = select(Feedback).order_by(Feedback.received_at.desc(), Feedback.id.desc())  # type: ignore[union-attr]
    if merchant_id is not None:
        query = query.where(Feedback.merchant_id == merchant_id)
    return [row.model_dump() for row in session.scalars(query)]
