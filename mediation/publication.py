"""The operator's release of Lob & Tadel for the certificate page, one rule for both
kinds of text: the Lob & Tadel entries (`feedback_store.Feedback`) and the texts of a
rating (`rating_store.Rating`).

A text is shown only when its author agreed (`publish_consent`) and the operator
released it (`released_at`); refused (`rejected_at`), it is never shown. Each store
keeps the columns on its own table and asks here for the queries: what waits for a
decision (oldest first), what may be shown (newest first, the texts, language and day
only), and the decision itself.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select
from sqlmodel import Session, SQLModel

Row = TypeVar("Row", bound=SQLModel)


def decide(
    session: Session, model: type[Row], row_id: int, action: str, by: str, now: datetime
) -> Row | None:
    """Record the operator's `action` ("released" or "rejected") on one row; None when
    there is no such row. The last decision stands: it clears the other, so that an
    operator can take back a release (reject it) or a refusal (release it)."""
    assert action in ("released", "rejected")
    other = "rejected" if action == "released" else "released"
    found = session.get(model, row_id)
    if found is not None:
        setattr(found, f"{action}_at", now)
        setattr(found, f"{action}_by", by)
        setattr(found, f"{other}_at", None)
        setattr(found, f"{other}_by", None)
        session.add(found)
        session.flush()
    return found


def waiting(
    session: Session, model: type[Row], *conditions: ColumnElement[bool], limit: int = 200
) -> list[Row]:
    """Rows with consent (and `conditions`) that are neither released nor refused."""
    table: Any = model
    query = (
        select(model)
        .where(
            table.publish_consent,
            table.released_at.is_(None),
            table.rejected_at.is_(None),
            *conditions,
        )
        .order_by(table.received_at, table.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def published(
    session: Session,
    model: type[SQLModel],
    language: Any,
    merchant_id: int,
    since: datetime,
    limit: int,
    join: tuple[Any, Any] | None = None,
) -> list[dict[str, Any]]:
    """The newest consented and released texts about a merchant since `since`: praise,
    criticism, language (the column `language`, of the table `join` adds) and day."""
    table: Any = model
    query: Select[Any] = select(table.praise, table.criticism, language, table.received_at)
    if join is not None:
        query = query.join(*join)
    query = (
        query.where(
            table.merchant_id == merchant_id,
            table.received_at >= since,
            table.publish_consent,
            table.released_at.is_not(None),
            table.rejected_at.is_(None),
        )
        .order_by(table.received_at.desc(), table.id.desc())
        .limit(limit)
    )
    return [
        {"praise": praise, "criticism": criticism, "language": lang, "received_at": at}
        for praise, criticism, lang, at in session.execute(query)
    ]
