"""Business time: deadlines in business hours and days of a regional calendar.

A `BusinessCalendar` knows a time zone, the opening hours of each weekday, the
public holidays of a region (from the `holidays` package) and extra closed dates.
Every computation happens in local wall time (zoneinfo), so a deadline keeps its
wall-clock position across a daylight-saving change; results are aware UTC.

Business hours are counted on the wall clock: an opening window that contained a DST
jump (only possible with night-time opening hours) counts its wall-clock length.
A local time that does not exist (inside a spring-forward gap) resolves to the
moment the clock jumps to.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import holidays

OpeningHours = tuple[tuple[time, time] | None, ...]
"""Opening window (opens, closes) for each weekday, Monday first; None when closed."""


def opening_hours(opens: time, closes: time, weekdays: Iterable[int] = range(5)) -> OpeningHours:
    """The same opening window on the given weekdays (0 = Monday), closed on the others."""
    open_days = set(weekdays)
    return tuple((opens, closes) if day in open_days else None for day in range(7))


MONDAY_TO_FRIDAY_9_TO_5 = opening_hours(time(9), time(17))


@dataclass(frozen=True)
class BusinessCalendar:
    """When a business is open: time zone, weekly opening hours, holidays, closed dates."""

    timezone: str = "Europe/Berlin"
    hours: OpeningHours = MONDAY_TO_FRIDAY_9_TO_5
    country: str = "DE"
    subdivision: str | None = "NI"
    closed_dates: frozenset[date] = frozenset()
    _zone: zoneinfo.ZoneInfo = field(init=False, repr=False, compare=False)
    _holidays_by_year: dict[int, frozenset[date]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        try:
            zone = zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        object.__setattr__(self, "_zone", zone)
        if len(self.hours) != 7:
            raise ValueError("opening hours need one entry per weekday, Monday first")
        if all(window is None for window in self.hours):
            raise ValueError("a business calendar needs at least one open weekday")
        for window in self.hours:
            if window is not None and not window[0] < window[1]:
                opens, closes = (moment.strftime("%H:%M") for moment in window)
                raise ValueError(f"opening window {opens}-{closes} must open before it closes")
        try:
            _check_region(self.country, self.subdivision)
        except NotImplementedError as error:
            raise ValueError(f"unknown holiday region: {error}") from None

    @classmethod
    def from_region(
        cls,
        region: str,
        timezone: str = "Europe/Berlin",
        hours: OpeningHours = MONDAY_TO_FRIDAY_9_TO_5,
        closed_dates: frozenset[date] = frozenset(),
    ) -> BusinessCalendar:
        """A calendar named like ``DE-NI``: ISO 3166 country, optionally ``-`` subdivision."""
        country, _, subdivision = region.partition("-")
        return cls(timezone, hours, country, subdivision or None, closed_dates)

    # --- days -----------------------------------------------------------------

    def holidays_in(self, year: int) -> frozenset[date]:
        """The public holidays of the region in `year` (computed once per year)."""
        cached = self._holidays_by_year.get(year)
        if cached is None:
            cached = self._holidays_by_year[year] = _holidays(self.country, self.subdivision, year)
        return cached

    def is_business_day(self, day: date) -> bool:
        return (
            self.hours[day.weekday()] is not None
            and day not in self.closed_dates
            and day not in self.holidays_in(day.year)
        )

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The opening window of `day` as naive local datetimes, or None when closed."""
        if not self.is_business_day(day):
            return None
        opens, closes = self.hours[day.weekday()]  # type: ignore[misc]
        return datetime.combine(day, opens), datetime.combine(day, closes)

    # --- conversions ----------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError(f"naive datetime {moment!r}: business time needs aware datetimes")
        return moment.astimezone(self._zone).replace(tzinfo=None)

    def _utc(self, local: datetime) -> datetime:
        return local.replace(tzinfo=self._zone).astimezone(UTC)

    # --- arithmetic -----------------------------------------------------------

    def add_business_hours(self, start: datetime, hours: float) -> datetime:
        """The moment `hours` business hours after `start`.

        A start outside business hours counts from the next opening, so adding 0
        rolls `start` into business hours. Work that ends exactly at closing time
        ends then, not at the next opening.
        """
        if hours < 0:
            raise ValueError("hours must not be negative")
        cursor = self._local(start)
        remaining = timedelta(hours=hours)
        day = cursor.date()
        while True:
            window = self._window(day)
            if window is not None:
                opens, closes = window
                begin = max(cursor, opens)
                if begin < closes:
                    if remaining <= closes - begin:
                        return self._utc(begin + remaining)
                    remaining -= closes - begin
            day += timedelta(days=1)
            cursor = datetime.combine(day, time.min)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """The deadline `days` business days after `start`.

        `start` is first rolled into business hours; the result is the same wall-clock
        time on the `days`-th following business day, clamped into that day's opening
        window when its hours differ.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        rolled = self._local(self.add_business_hours(start, 0))
        day = rolled.date()
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        opens, closes = self._window(day)  # type: ignore[misc]
        return self._utc(min(max(datetime.combine(day, rolled.time()), opens), closes))

    def add_calendar_days(self, start: datetime, days: int) -> datetime:
        """The same local wall-clock time `days` calendar days after `start`."""
        return self._utc(self._local(start) + timedelta(days=days))

    def business_hours_between(self, start: datetime, end: datetime) -> float:
        """Business hours from `start` to `end`; negative when `end` is before `start`."""
        if end < start:
            return -self.business_hours_between(end, start)
        first, last = self._local(start), self._local(end)
        total = timedelta()
        day = first.date()
        while day <= last.date():
            window = self._window(day)
            if window is not None:
                begin, finish = max(window[0], first), min(window[1], last)
                if begin < finish:
                    total += finish - begin
            day += timedelta(days=1)
        return total / timedelta(hours=1)


@lru_cache(maxsize=64)
def _check_region(country: str, subdivision: str | None) -> None:
    holidays.country_holidays(country, subdiv=subdivision)


@lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    """A region's public holidays in `year`, computed once per process (calendars are
    made often: each merchant's and the default one)."""
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())
