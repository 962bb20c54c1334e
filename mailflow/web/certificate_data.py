"""Everything the certificate page of one merchant shows, read in one session.

The figures are the nightly recompute's (`sealwork.assess`: `mediation.figure_store` in SQL,
`scoring` in Python), as of the request's time; the held tier is the stored one
(`mediation.seal`), the score distribution `figure_store.rating_distribution`, the months
and the public seal `mediation.certificate_store`, the released Lob & Tadel of the
form and of ratings (`feedback_store.published`, `rating_store.published`). Nothing
about a person is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from mailflow import sealwork
from mailflow.config import Config
from mediation import certificate_store, feedback_store, figure_store, rating_store, storage
from mediation.certificate_store import PublicSeal
from mediation.storage import Merchant
from scoring import Assessment, add_months

MONTHS_SHOWN = 12
FEEDBACK_SHOWN = 10


@dataclass(frozen=True)
class Certificate:
    merchant: Merchant
    seal: PublicSeal
    assessment: Assessment
    distribution: dict[str, list[int]]
    """Per rating dimension, how many ratings gave 1, 2, 3, 4 and 5."""
    months: list[tuple[date, int]]
    """The first day of each of the last twelve months, with the complaints opened in it."""
    feedback: list[dict[str, Any]]
    as_of: datetime
    window_start: datetime


def month_edges(at: datetime, timezone: str, count: int = MONTHS_SHOWN) -> list[datetime]:
    """The starts of the last `count` calendar months in the operator's time zone (the
    month of `at` the last), and the start of the next: `count + 1` aware datetimes."""
    zone = ZoneInfo(timezone)
    first = at.astimezone(zone).date().replace(day=1)
    return [
        datetime.combine(add_months(first, offset), datetime.min.time(), zone)
        for offset in range(-count + 1, 2)
    ]


def published(session: Session, merchant_id: int, since: datetime) -> list[dict[str, Any]]:
    """The newest released Lob & Tadel, from the form and from ratings, in one list
    (newest first, `FEEDBACK_SHOWN` at most): texts, language and day only."""
    entries = feedback_store.published(session, merchant_id, since, FEEDBACK_SHOWN)
    entries += rating_store.published(session, merchant_id, since, FEEDBACK_SHOWN)
    entries.sort(key=lambda entry: entry["received_at"], reverse=True)
    return entries[:FEEDBACK_SHOWN]


def find_merchant(session: Session, slug: str) -> Merchant | None:
    return storage.merchant_by_slug(session, slug)


def load(session: Session, config: Config, merchant: Merchant, at: datetime) -> Certificate:
    """The certificate of `merchant` as of `at`."""
    assert merchant.id is not None
    window = config.scoring.policy.window_months
    start = figure_store.window_start(at, window)
    [assessment] = sealwork.assess(session, config, at, merchant.slug)
    edges = month_edges(at, config.siegel.timezone)
    counts = certificate_store.complaints_per_month(session, merchant.id, edges)
    return Certificate(
        merchant=merchant,
        seal=certificate_store.public_seal(session, merchant.id),
        assessment=assessment,
        distribution=figure_store.rating_distribution(session, merchant.id, at, window),
        months=[(edge.date(), count) for edge, count in zip(edges, counts, strict=False)],
        feedback=published(session, merchant.id, start),
        as_of=at,
        window_start=start,
    )
