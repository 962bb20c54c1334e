"""Who mediates: the registered mediators merged with the configured seed, and the
choice of one by language and load. Pure: the counts and records come from
`mediator_store`.

The configuration's ``[mediation] mediators`` is the seed: an address listed there
and not yet registered mediates as if registered and active. A record wins over the
seed: a paused record is paused whatever the configuration says, and a record the
configuration does not list mediates all the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Mediator:
    """One mediator as assignment sees it."""

    address: str
    paused: bool = False
    language: str | None = None
    """The language the mediator writes in; None: the operator's default."""


def roster(records: Iterable[Mediator], seed: Sequence[str]) -> tuple[Mediator, ...]:
    """Every mediator: the records, then the seed's addresses without a record, in order."""
    found = {record.address.lower(): record for record in records}
    for address in seed:
        found.setdefault(address.lower(), Mediator(address.lower()))
    return tuple(found.values())


def choose(
    roster: Sequence[Mediator],
    open_cases: Mapping[str, int],
    language: str | None = None,
    default_language: str | None = None,
) -> Mediator | None:
    """The mediator with the fewest open cases, skipping paused ones, among those who
    write in the case's `language` where any is free (the parties read the mediator's
    own words as written); a tie goes to the one listed first. None when nobody is free."""
    free = [mediator for mediator in roster if not mediator.paused]
    speaking = [m for m in free if (m.language or default_language) == language]
    if not free:
        return None
    return min(speaking or free, key=lambda mediator: open_cases.get(mediator.address, 0))
