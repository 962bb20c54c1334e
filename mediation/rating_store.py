"""Rating storage: each closed case's current rating and the ones it replaced.

The `case_ratings` room takes a rating (from the customer's mail, or a form) and
stores it here; scoring reads the rows (`mediation.figure_store`).

`Rating` holds one row per rated case, the current rating. A later rating of the same
case replaces it; the earlier one moves unchanged to `RatingHistory`, so nothing a
customer said is lost. The merchant is stored with the rating (a closed case keeps its
merchant), so that scoring aggregates ratings per merchant without reading cases.

Lob & Tadel of a rating reach the certificate page like the form's Lob & Tadel entries
(`feedback_store`): only with the customer's consent (`publish_consent`, asked by the
rating form) and after the operator released them (`waiting`, `release`, `reject`,
`published`).

The caller holds the case's row lock (`storage.load_case`), which serialises two
ratings of one case; the unique `case_id` backs that up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, or_, select
from sqlmodel import Field, Session, SQLModel

from mediation import publication
from mediation.columns import UTCDateTime
from mediation.storage import Case

TABLES = ("rating", "rating_history")
"""The tables of this module, in creation order."""

DIMENSIONS = ("service", "reachability", "reaction_time")
_LABELS = {
    "de": {
        "service": "Service",
        "reachability": "Erreichbarkeit",
        "reaction_time": "Reaktionszeit",
        "praise": "Lob",
        "criticism": "Tadel",
        "comment": "Anmerkung",
        "missing": "(keine Angabe)",
    },
    "en": {
        "service": "Service",
        "reachability": "Reachability",
        "reaction_time": "Reaction time",
        "praise": "Praise",
        "criticism": "Criticism",
        "comment": "Comment",
        "missing": "(not given)",
    },
}


def _text() -> Any:
    return Field(default="", sa_column=Column(Text, nullable=False))


def _utc(index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=False, index=index))


class Rating(SQLModel, table=True):
    """A case's current rating: 1-5 per dimension (None: not given), Lob & Tadel."""

    __tablename__ = "rating"
    # What scoring reads of a rating, in merchant order (mediation.figure_store).
    __table_args__ = (
        Index(
            "ix_rating_scoring",
            "merchant_id",
            "received_at",
            "service",
            "reachability",
            "reaction_time",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", unique=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    service: int | None = None
    reachability: int | None = None
    reaction_time: int | None = None
    praise: str = _text()
    criticism: str = _text()
    comment: str = _text()
    """Free text marked neither as praise nor as criticism."""
    publish_consent: bool = False
    """The customer agreed to have Lob & Tadel published (asked by the rating form)."""
    mail_id: int | None = None
    received_at: datetime = _utc(index=True)
    revision: int = 1
    """How many ratings the case has had; the earlier ones are in `rating_history`."""
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the operator released Lob & Tadel for publication; None: not released. A
    later rating of the case clears it (and `rejected_at`): its texts wait anew."""
    released_by: str | None = Field(default=None, max_length=200)
    rejected_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    """When the operator refused publication; None: not refused."""
    rejected_by: str | None = Field(default=None, max_length=200)


class RatingHistory(SQLModel, table=True):
    """A rating that a later one of the same case replaced, as it was."""

    __tablename__ = "rating_history"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    merchant_id: int = Field(foreign_key="merchant.id")
    service: int | None = None
    reachability: int | None = None
    reaction_time: int | None = None
    praise: str = _text()
    criticism: str = _text()
    comment: str = _text()
    publish_consent: bool = False
    mail_id: int | None = None
    received_at: datetime = _utc()
    revision: int = 1
    replaced_at: datetime = _utc()


@dataclass(frozen=True)
class GivenRating:
    """What a customer's rating said, as stored."""

    service: int | None = None
    reachability: int | None = None
    reaction_time: int | None = None
    praise: str = ""
    criticism: str = ""
    comment: str = ""
    publish_consent: bool = False
    """Only the rating form asks; a rating by mail gives no consent."""

    @property
    def scored(self) -> bool:
        """At least one dimension has a score (a rating of text alone does not count
        towards a merchant's minimum number of ratings)."""
        return any(getattr(self, name) is not None for name in DIMENSIONS)


_DECISION = ("released_at", "released_by", "rejected_at", "rejected_by")
"""The operator's decision on publishing a rating's Lob & Tadel (not kept in the history)."""


def save(
    session: Session,
    case_id: int,
    merchant_id: int,
    given: GivenRating,
    mail_id: int | None,
    at: datetime,
) -> Rating:
    """Store `given` as the case's current rating; an earlier one moves to the history."""
    current = session.scalars(select(Rating).where(Rating.case_id == case_id)).first()
    values = {name: getattr(given, name) for name in GivenRating.__dataclass_fields__}
    if current is None:
        current = Rating(
            case_id=case_id, merchant_id=merchant_id, mail_id=mail_id, received_at=at, **values
        )
    else:
        kept = current.model_dump(exclude={"id", *_DECISION})
        session.add(RatingHistory(**kept, replaced_at=at))
        for name, value in values.items():
            setattr(current, name, value)
        for name in _DECISION:  # new texts (or none): the operator decides again
            setattr(current, name, None)
        current.mail_id, current.received_at = mail_id, at
        current.revision += 1
    session.add(current)
    session.flush()
    return current


def current(session: Session, case_id: int) -> Rating | None:
    return session.scalars(select(Rating).where(Rating.case_id == case_id)).first()


def history(session: Session, case_id: int) -> list[RatingHistory]:
    """The replaced ratings of a case, oldest first."""
    query = select(RatingHistory).where(RatingHistory.case_id == case_id)
    return list(session.scalars(query.order_by(RatingHistory.revision)))  # type: ignore[arg-type]


def release(session: Session, rating_id: int, by: str, now: datetime) -> Rating | None:
    """The operator releases a rating's Lob & Tadel (shown only with consent)."""
    return publication.decide(session, Rating, rating_id, "released", by, now)


def reject(session: Session, rating_id: int, by: str, now: datetime) -> Rating | None:
    """The operator refuses to publish a rating's Lob & Tadel (its scores still count)."""
    return publication.decide(session, Rating, rating_id, "rejected", by, now)


def _has_text() -> Any:
    return or_(Rating.praise != "", Rating.criticism != "")


def waiting(session: Session, limit: int = 200) -> list[Rating]:
    """Ratings whose Lob & Tadel the operator has to decide on, oldest first: the
    customer agreed to publication (the rating form), there is text, and it is neither
    released nor refused."""
    return publication.waiting(session, Rating, _has_text(), limit=limit)


def published(
    session: Session, merchant_id: int, since: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The newest rated Lob & Tadel about a merchant since `since` that may be shown in
    public: consented and released. The texts, the case's language and the day only;
    never the customer, the case or the scores."""
    join = (Case, Case.id == Rating.case_id)
    return publication.published(session, Rating, Case.language, merchant_id, since, limit, join)


def summary(values: Mapping[str, object], language: str) -> str:
    """A rating as the customer reads it back: one line per score and text."""
    labels = _LABELS[language]
    lines = [f"{labels[name]}: {values.get(name) or labels['missing']}" for name in DIMENSIONS]
    lines += [
        f"{labels[name]}: {values[name]}"
        for name in ("praise", "criticism", "comment")
        if values.get(name)
    ]
    return "\n".join(lines)
