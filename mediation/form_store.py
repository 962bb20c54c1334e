"""Storage of the web forms: used rating links, and Lob & Tadel entries waiting for
their author's confirmation (double opt-in).

`RatingLinkUse` records each rating link that rated its case (by the SHA-256 of its
token, `rating_links.digest`; the primary key makes a second use fail even when two
submissions race). The rating itself goes to `rating_store` like a rating by mail.

`FeedbackRequest` is an entry of the Lob & Tadel form before its author confirmed it:
nothing in it counts or is shown anywhere. The confirmation link carries a random token
whose SHA-256 is stored here; confirming copies the entry into `feedback_store` (where
it waits for the operator's release) and keeps the request as the record of the
opt-in. The requests also count the form's use per address and per client (rate
limits); the client is kept only as a keyed hash.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, func, select
from sqlmodel import Field, Session, SQLModel

from mediation.columns import UTCDateTime
from mediation.storage import Case

TABLES = ("rating_link_use", "feedback_request")
"""The tables of this module, in creation order."""


def _utc(nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class RatingLinkUse(SQLModel, table=True):
    """A rating link that rated its case: used, so refused from then on."""

    __tablename__ = "rating_link_use"

    token_digest: str = Field(primary_key=True, max_length=64)
    case_id: int = Field(foreign_key="cases.id", index=True)
    used_at: datetime = _utc()


class FeedbackRequest(SQLModel, table=True):
    """A Lob & Tadel entry from the web form, waiting for (or past) its confirmation."""

    __tablename__ = "feedback_request"

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchant.id", index=True)
    address: str = Field(max_length=320)
    address_key: str = Field(max_length=320, index=True)
    """The address as counted by the rate limit (lower case)."""
    client_key: str = Field(max_length=64, index=True)
    """A keyed hash of the client's IP address (the rate limit per client)."""
    language: str = Field(default="de", max_length=8)
    praise: str = Field(default="", sa_column=Column(Text, nullable=False))
    criticism: str = Field(default="", sa_column=Column(Text, nullable=False))
    publish_consent: bool = False
    confirm_digest: str = Field(max_length=64, unique=True)
    created_at: datetime = _utc(index=True)
    expires_at: datetime = _utc()
    confirmed_at: datetime | None = _utc(nullable=True)
    feedback_id: int | None = Field(default=None, foreign_key="feedback.id")
    """The `feedback` entry the confirmation created."""


# ------------------------------------------------------------------ rating links


def case_by_ref(session: Session, ref: str) -> Case | None:
    """The case `ref` for reading (a rating link's page; the rating locks it)."""
    return session.scalars(select(Case).where(Case.ref == ref.upper())).first()


def link_use(session: Session, token_digest: str) -> RatingLinkUse | None:
    return session.get(RatingLinkUse, token_digest)


def use_link(session: Session, token_digest: str, case_id: int, at: datetime) -> None:
    """Record that a link rated its case (an IntegrityError if it already did)."""
    session.add(RatingLinkUse(token_digest=token_digest, case_id=case_id, used_at=at))
    session.flush()


# ------------------------------------------------------------------ Lob & Tadel requests


def add_request(session: Session, request: FeedbackRequest) -> FeedbackRequest:
    session.add(request)
    session.flush()
    return request


def requests_since(
    session: Session,
    since: datetime,
    *,
    address_key: str | None = None,
    client_key: str | None = None,
) -> int:
    """How many requests came from `address_key` (or from `client_key`) since `since`."""
    query = select(func.count()).select_from(FeedbackRequest)
    query = query.where(FeedbackRequest.created_at >= since)  # type: ignore[arg-type, operator]
    if address_key is not None:
        query = query.where(FeedbackRequest.address_key == address_key)
    if client_key is not None:
        query = query.where(FeedbackRequest.client_key == client_key)
    return int(session.execute(query).scalar_one())


def pending_same(
    session: Session, merchant_id: int, address_key: str, praise: str, criticism: str, now: datetime
) -> FeedbackRequest | None:
    """An unconfirmed, unexpired request with the same shop, address and texts: the same
    form sent twice (a double click, the back button)."""
    query = select(FeedbackRequest).where(
        FeedbackRequest.merchant_id == merchant_id,
        FeedbackRequest.address_key == address_key,
        FeedbackRequest.praise == praise,
        FeedbackRequest.criticism == criticism,
        FeedbackRequest.confirmed_at.is_(None),  # type: ignore[union-attr]
        FeedbackRequest.expires_at > now,  # type: ignore[arg-type, operator]
    )
    return session.scalars(query).first()


def request_by_digest(session: Session, confirm_digest: str) -> FeedbackRequest | None:
    """The request of a confirmation token, locked for this unit of work."""
    query = select(FeedbackRequest).where(FeedbackRequest.confirm_digest == confirm_digest)
    return session.scalars(query.with_for_update()).first()


def confirmed(session: Session, request: FeedbackRequest, feedback_id: int, at: datetime) -> None:
    request.confirmed_at, request.feedback_id = at, feedback_id
    session.add(request)
    session.flush()
