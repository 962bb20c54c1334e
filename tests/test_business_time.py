"""Business time: weekends, Lower Saxony holidays, DST changes in Europe/Berlin."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from mediation.business_time import BusinessCalendar, opening_hours

BERLIN = ZoneInfo("Europe/Berlin")
CALENDAR = BusinessCalendar()  # Europe/Berlin, Mon-Fri 09:00-17:00, DE-NI holidays


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


def test_deadline_skips_the_weekend() -> None:
    """Two business days from Friday afternoon end on Tuesday at the same wall time."""
    deadline = CALENDAR.add_business_days(berlin(2026, 11, 20, 15), 2)
    assert deadline == berlin(2026, 11, 24, 15)
    assert deadline.tzinfo is UTC


def test_business_hours_continue_after_the_weekend() -> None:
    """Three business hours from Friday 16:00 end on Monday 11:00."""
    assert CALENDAR.add_business_hours(berlin(2026, 11, 20, 16), 3) == berlin(2026, 11, 23, 11)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (berlin(2026, 11, 20, 17, 30), berlin(2026, 11, 25, 9)),  # Friday after closing
        (berlin(2026, 11, 21, 10), berlin(2026, 11, 25, 9)),  # Saturday
        (berlin(2026, 11, 23, 7), berlin(2026, 11, 25, 9)),  # Monday before opening
        (berlin(2026, 11, 23, 17), berlin(2026, 11, 26, 9)),  # Monday exactly at closing
    ],
)
def test_start_outside_business_hours_rolls_to_next_opening(
    start: datetime, expected: datetime
) -> None:
    """A deadline started outside business hours counts from the next opening."""
    assert CALENDAR.add_business_days(start, 2) == expected


def test_reformation_day_is_a_holiday_in_lower_saxony_not_in_bavaria() -> None:
    """31 Oct (Reformationstag) shifts a Lower Saxony deadline; Bavaria works that day."""
    thursday = berlin(2025, 10, 30, 10)
    assert not CALENDAR.is_business_day(date(2025, 10, 31))
    assert CALENDAR.add_business_days(thursday, 2) == berlin(2025, 11, 4, 10)
    bavaria = BusinessCalendar.from_region("DE-BY")
    assert bavaria.add_business_days(thursday, 2) == berlin(2025, 11, 3, 10)


def test_christmas_holidays_and_extra_closed_dates() -> None:
    """25/26 Dec are holidays; extra closed dates (24 and 31 Dec) are skipped as well."""
    wednesday = berlin(2026, 12, 23, 14)
    assert CALENDAR.add_business_days(wednesday, 2) == berlin(2026, 12, 28, 14)
    closed = BusinessCalendar(closed_dates=frozenset({date(2026, 12, 24), date(2026, 12, 31)}))
    assert closed.add_business_days(wednesday, 2) == berlin(2026, 12, 29, 14)
    assert closed.add_business_days(wednesday, 4) == berlin(2027, 1, 4, 14)  # 1 Jan too


def test_spring_dst_change_keeps_the_wall_clock_position() -> None:
    """Across the last Sunday of March a deadline keeps 15:00 local, one hour less elapses."""
    friday = berlin(2026, 3, 27, 15)  # CET, UTC+1
    deadline = CALENDAR.add_business_days(friday, 2)
    assert deadline == datetime(2026, 3, 31, 13, tzinfo=UTC)  # 15:00 CEST, UTC+2
    assert deadline.astimezone(BERLIN).hour == 15
    assert deadline - friday == timedelta(days=4, hours=-1)
    assert CALENDAR.business_hours_between(friday, deadline) == 16


def test_autumn_dst_change_keeps_the_wall_clock_position() -> None:
    """Across the last Sunday of October business hours resume at 09:00 CET on Monday."""
    friday = berlin(2026, 10, 23, 16)  # CEST, UTC+2
    end = CALENDAR.add_business_hours(friday, 2)
    assert end == datetime(2026, 10, 26, 9, tzinfo=UTC)  # 10:00 CET, UTC+1
    assert CALENDAR.business_hours_between(friday, end) == 2


def test_calendar_days_keep_the_wall_clock_time_across_dst() -> None:
    """Fourteen calendar days across the spring change end at the same local time."""
    start = berlin(2026, 3, 20, 12)
    end = CALENDAR.add_calendar_days(start, 14)
    assert end.astimezone(BERLIN) == berlin(2026, 4, 3, 12)
    assert end - start == timedelta(days=14, hours=-1)


def test_business_hours_between_is_antisymmetric_and_counts_only_open_time() -> None:
    """Friday 16:00 to Monday 10:00 is two business hours; the reverse is minus two."""
    friday, monday = berlin(2026, 11, 20, 16), berlin(2026, 11, 23, 10)
    assert CALENDAR.business_hours_between(friday, monday) == 2
    assert CALENDAR.business_hours_between(monday, friday) == -2
    assert CALENDAR.business_hours_between(friday, friday) == 0


def test_ending_exactly_at_closing_time_stays_on_that_day() -> None:
    """A full business day from an opening ends at that day's closing, not the next opening."""
    assert CALENDAR.add_business_hours(berlin(2026, 11, 23, 9), 8) == berlin(2026, 11, 23, 17)


def test_custom_opening_hours_clamp_a_deadline_into_a_shorter_day() -> None:
    """With a short Saturday, a 16:00 deadline landing on Saturday moves to its closing."""
    weekdays = opening_hours(time(9), time(17))
    hours = (*weekdays[:5], (time(10), time(14)), None)
    shop = BusinessCalendar(hours=hours)
    assert shop.add_business_days(berlin(2026, 11, 20, 16), 1) == berlin(2026, 11, 21, 14)
    assert shop.add_business_days(berlin(2026, 11, 20, 9, 30), 1) == berlin(2026, 11, 21, 10)
    assert shop.business_hours_between(berlin(2026, 11, 20, 9), berlin(2026, 11, 23, 9)) == 12


def test_long_business_days_are_configurable() -> None:
    """A 07:00-19:00 calendar has twelve-hour business days."""
    long_days = BusinessCalendar(hours=opening_hours(time(7), time(19)))
    monday = berlin(2026, 11, 23, 7)
    assert long_days.add_business_hours(monday, 24) == berlin(2026, 11, 24, 19)
    assert long_days.business_hours_between(monday, long_days.add_business_days(monday, 2)) == 24


def test_business_hours_between_inverts_add_business_hours() -> None:
    """For many starts (weekends, holidays, both DST changes) and spans, the two agree."""
    start = berlin(2026, 3, 20, 0)
    checked = 0
    while start < berlin(2026, 4, 10, 0):
        for hours in (0.0, 0.25, 3.0, 8.0, 13.5, 16.0, 41.75):
            end = CALENDAR.add_business_hours(start, hours)
            assert CALENDAR.business_hours_between(start, end) == pytest.approx(hours, abs=1e-9)
            local = end.astimezone(BERLIN)
            assert CALENDAR.is_business_day(local.date())
            assert time(9) <= local.time() <= time(17)
            checked += 1
        start += timedelta(minutes=97)
    for autumn in (berlin(2026, 10, 22, 8) + timedelta(minutes=53 * i) for i in range(300)):
        for days in (1, 2, 5):
            deadline = CALENDAR.add_business_days(autumn, days)
            assert CALENDAR.business_hours_between(autumn, deadline) == pytest.approx(8 * days)
            checked += 1
    assert checked > 3000


def test_holidays_are_computed_once_per_year() -> None:
    """The holiday set of a year is cached: the second lookup returns the same object."""
    calendar = BusinessCalendar()
    first = calendar.holidays_in(2027)
    assert date(2027, 10, 31) in first  # Reformationstag, a Sunday in 2027
    assert calendar.holidays_in(2027) is first


def test_naive_datetimes_are_refused() -> None:
    """A naive datetime is a bug in the caller, not a local time to guess."""
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.add_business_days(datetime(2026, 11, 20, 15), 2)


@pytest.mark.parametrize(
    "options",
    [
        {"timezone": "Mars/Olympus"},
        {"country": "XX"},
        {"subdivision": "ZZ"},
        {"hours": (None,) * 7},
        {"hours": opening_hours(time(17), time(9))},
        {"hours": ((time(9), time(17)),) * 5},
    ],
)
def test_invalid_calendars_are_refused(options: dict) -> None:
    """A calendar that cannot compute a deadline is refused when it is built."""
    with pytest.raises(ValueError):
        BusinessCalendar(**options)
