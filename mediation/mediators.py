"""Who mediates: the registered mediators merged with the configured seed, and the
choice of one by load. Pure: the counts and records come from `mediator_store`.

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


def roster(records: Iterable[Mediator], seed: Sequence[str]) -> tuple[Mediator, ...]:
    """Every mediator: the records, then the seed's addresses without a record, in order."""
    found = {record.address.lower(): record for record in records}
    for address in seed:
        found.setdefault(address.lower(), Mediator(address.lower()))
    return tuple(found.values())


def choose(roster: Sequence[Mediator], open_cases: Mapping[str, int]) -> Mediator | None:
    """The mediator with the fewest open cases, skipping paused ones; a tie goes to the
    one listed first. None when nobody is free."""
    free = [mediator for mediator in roster if not mediator.paused]
    if not free:
        return None
    return min(free, key=lambda mediator: open_cases.get(mediator.address, 0))
