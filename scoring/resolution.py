"""Time to resolution: from a complaint to its resolution, as a histogram of days.

The process speed a shopper asks about ("how long until it is sorted out?"): for every
case opened in the window and resolved (closed as `closed_resolved` or
`closed_settled`) by the scoring day, the calendar time from its opening to its
closing. Like the first-reply time it reaches scoring as a histogram over fixed
buckets, so that SQL counts and Python never sees a case: `resolution_days_bucket`
is the reference, `resolution_days_bucket_sql` the same expression for SQLite and
PostgreSQL over an integer column (or expression) of seconds.

Calendar days, not business hours: the case stores when it opened and closed, and a
shopper waits through weekends too. The figure is shown and explained with the tier;
it is not judged against a threshold (docs/scoring.md, section 3.1).
"""

from __future__ import annotations

from scoring import buckets

SECONDS_PER_DAY = 86400

RESOLUTION_DAY_EDGES: tuple[int, ...] = (
    *range(31),
    35, 42, 49, 56, 63, 70, 77, 84, 90, 120, 180, 365,
)  # fmt: skip
"""Upper edges, in days, of the resolution histogram's buckets: bucket 0 holds cases
resolved within the same instant (0 seconds), bucket d (1 to 30) more than d-1 and at
most d days, then weeks up to the 90 days that the ADR rule gives a mediation, and a
year. One more bucket, the overflow, holds resolutions after more than a year."""

OVERFLOW_BUCKET = len(RESOLUTION_DAY_EDGES)
BUCKET_COUNT = OVERFLOW_BUCKET + 1

_EDGE_SECONDS = tuple(edge * SECONDS_PER_DAY for edge in RESOLUTION_DAY_EDGES)


def resolution_days_bucket(seconds: int) -> int:
    """The histogram bucket of a case resolved `seconds` after it was opened."""
    return buckets.bucket(seconds, _EDGE_SECONDS)


def resolution_days_bucket_sql(seconds: str) -> str:
    """`resolution_days_bucket` as an SQL expression over integer `seconds` (a column
    or an expression), the same on SQLite and PostgreSQL. A case closes after it
    opened, so the seconds are never negative."""
    return buckets.bucket_sql(seconds, RESOLUTION_DAY_EDGES, SECONDS_PER_DAY, 30)
