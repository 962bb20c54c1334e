"""What the public certificate page reads besides the seal's figures: complaints per
month, and the merchant's seal as the public sees it (held tier, withdrawn or not).

The figures themselves come from `mediation.figure_store` and `scoring`, as for the nightly
recompute; nothing here computes a figure a second way, and the complaints counted
leave out a merchant's own cases as the figures do (`figure_store.own_cases`). No
person is read: no customer, no address, no mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import and_, func, select
from sqlmodel import Session

from mediation.figure_store import own_cases
from mediation.seal import Seal
from mediation.storage import Case


def complaints_per_month(
    session: Session, merchant_id: int, edges: Sequence[datetime]
) -> list[int]:
    """Cases opened about a merchant between each pair of consecutive `edges` (the
    starts of the months, and the end of the last): one count per month, one query."""
    if len(edges) < 2:
        raise ValueError("need the start and the end of at least one month")
    opened = Case.opened_at
    columns = [
        func.count().filter(and_(opened >= start, opened < end))  # type: ignore[operator]
        for start, end in pairwise(edges)
    ]
    query = select(*columns).where(
        Case.merchant_id == merchant_id,
        opened >= edges[0],  # type: ignore[operator]
        opened < edges[-1],  # type: ignore[operator]
    )
    if own := own_cases(session, [merchant_id]):
        query = query.where(Case.id.not_in(sorted(own)))  # type: ignore[union-attr]
    return [int(count) for count in session.execute(query).one()]


@dataclass(frozen=True)
class PublicSeal:
    """The stored seal of a merchant, as far as the public side needs it."""

    tier: str
    """The tier held since the last recompute that changed it (``none`` without one)."""
    tier_since: datetime | None
    withdrawn: bool
    """The operator's latest pre-check record is a failed one: the seal was withdrawn
    (or never granted); the merchant has no public page."""


def public_seal(session: Session, merchant_id: int) -> PublicSeal:
    seal = session.get(Seal, merchant_id)
    if seal is None:
        return PublicSeal("none", None, withdrawn=False)
    withdrawn = seal.precheck_passed_on is None and seal.precheck_by is not None
    return PublicSeal(seal.tier, seal.tier_since, withdrawn)
