"""The seal's lifecycle from recorded dates: pre-check, trial, certification, re-check.

Pure: every date is passed in. The phases, checked in this order:

1. ``precheck-missing``: no passed pre-check (on or before the day) means no seal.
2. ``trial``: from the trial's start for `trial_months` months ratings are collected
   and count, but no seal is shown.
3. ``recheck-due``: a certification is valid for `certification_months` months from
   its start, the latest of: the passed pre-check or re-check, the end of the trial,
   an explicitly recorded certification date. On the day it ends the seal lapses
   until a re-check is recorded (which starts a new period).
4. ``active``: the earned tier is shown.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from scoring.policy import ScoringPolicy


class SealPhase(StrEnum):
    PRECHECK_MISSING = "precheck-missing"
    TRIAL = "trial"
    RECHECK_DUE = "recheck-due"
    ACTIVE = "active"


@dataclass(frozen=True)
class SealRecord:
    """What the operator recorded about a merchant's seal."""

    precheck_passed_on: date | None = None
    """The latest passed pre-check or re-check."""
    trial_started_on: date | None = None
    certified_on: date | None = None
    """An explicitly recorded certification date, if any."""


@dataclass(frozen=True)
class SealStatus:
    phase: SealPhase
    trial_ends_on: date | None = None
    """The first day after the trial."""
    valid_from: date | None = None
    valid_until: date | None = None
    """The first day on which the certification no longer holds."""

    @property
    def shows_seal(self) -> bool:
        return self.phase is SealPhase.ACTIVE

    @property
    def last_valid_day(self) -> date | None:
        """The last day the certification holds: what "valid up to and including" shows."""
        return self.valid_until - timedelta(days=1) if self.valid_until else None


def add_months(day: date, months: int) -> date:
    """`day` moved by whole calendar months; a day the month lacks becomes its last day
    (31 January plus one month is 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def seal_status(record: SealRecord, on: date, policy: ScoringPolicy) -> SealStatus:
    """The phase of a merchant's seal on the day `on`."""
    checked = record.precheck_passed_on
    if checked is None or checked > on:
        return SealStatus(SealPhase.PRECHECK_MISSING)
    trial_ends_on = None
    if record.trial_started_on is not None:
        trial_ends_on = add_months(record.trial_started_on, policy.trial_months)
        if on < trial_ends_on:
            return SealStatus(SealPhase.TRIAL, trial_ends_on=trial_ends_on)
    starts = [checked, trial_ends_on, record.certified_on]
    valid_from = max(start for start in starts if start is not None and start <= on)
    valid_until = add_months(valid_from, policy.certification_months)
    phase = SealPhase.RECHECK_DUE if on >= valid_until else SealPhase.ACTIVE
    return SealStatus(phase, trial_ends_on, valid_from, valid_until)
