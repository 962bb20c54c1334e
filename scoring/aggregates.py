"""What scoring reads about one merchant: counts and sums that SQL computes in one pass.

`MerchantAggregate` is the input row of `scoring.assess`: no per-case lists, so ten
thousand merchants with a million cases are scored from ten thousand small rows. The
first-reply times arrive as a histogram over the fixed buckets `REPLY_HOUR_EDGES`;
`reply_hours_bucket` is the reference for the bucket a reply falls in and
`reply_hours_bucket_sql` the same as an SQL expression for SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scoring import buckets, resolution

SECONDS_PER_HOUR = 3600

REPLY_HOUR_EDGES: tuple[int, ...] = (*range(49), 56, 64, 72, 80, 96, 120, 160)
"""Upper edges, in business hours, of the first-reply histogram's buckets. Bucket 0
holds replies after exactly 0 business hours (written before the merchant's opening
time); bucket i holds replies after more than edge i-1 and at most edge i hours. One
more bucket, the overflow, holds replies after more than the last edge. Whole hours
up to two business weeks keep every whole-hour threshold exact (see
`statistics.histogram_quantile`)."""

OVERFLOW_BUCKET = len(REPLY_HOUR_EDGES)
BUCKET_COUNT = OVERFLOW_BUCKET + 1

_EDGE_SECONDS = tuple(edge * SECONDS_PER_HOUR for edge in REPLY_HOUR_EDGES)
_SCALE = 5


def reply_hours_bucket(business_seconds: int) -> int:
    """The histogram bucket of a first reply that came after `business_seconds`."""
    return buckets.bucket(business_seconds, _EDGE_SECONDS)


def reply_hours_bucket_sql(seconds_column: str) -> str:
    """`reply_hours_bucket` as an SQL expression over an integer column of business
    seconds, the same on SQLite and PostgreSQL (integer division truncates both)."""
    return buckets.bucket_sql(seconds_column, REPLY_HOUR_EDGES, SECONDS_PER_HOUR, 48)


@dataclass(frozen=True)
class RatingTotals:
    """How many ratings gave a score in one dimension, and the sum of those scores."""

    count: int = 0
    total: int = 0

    def __post_init__(self) -> None:
        if self.count < 0 or not self.count <= self.total <= _SCALE * self.count:
            raise ValueError(f"{self.count} scores from 1 to {_SCALE} cannot sum to {self.total}")


@dataclass(frozen=True)
class MerchantAggregate:
    """One merchant's cases and ratings in the scoring window, as counts.

    `cases` are the cases opened in the window. A case is due once it has a first
    reply or its first-reply deadline has passed; `cases_due` counts those, and only
    they are judged on reply time (a case still inside its deadline is not late yet).
    `closed` counts closed cases except `closed_withdrawn` (a withdrawal says nothing
    about the merchant); `resolved` counts `closed_resolved` and `closed_settled`.
    `mediated` counts cases that ever entered mediation (by escalation or because the
    customer said "not solved"). `resolution_days` is the histogram of the resolved
    cases by days from opening to closing (`scoring.resolution`); left out (or all
    zeros) it was not measured. `ratings` counts the rated cases (the current rating
    of each); a dimension may have fewer scores when a rating left it out.
    """

    merchant: str
    cases: int = 0
    cases_due: int = 0
    first_replies: int = 0
    replies_within_deadline: int = 0
    reply_hours: tuple[int, ...] = field(default=())
    closed: int = 0
    resolved: int = 0
    mediated: int = 0
    resolution_days: tuple[int, ...] = field(default=())
    ratings: int = 0
    service: RatingTotals = RatingTotals()
    reachability: RatingTotals = RatingTotals()
    reaction_time: RatingTotals = RatingTotals()

    def __post_init__(self) -> None:
        histogram = tuple(self.reply_hours)
        if len(histogram) > BUCKET_COUNT:
            self._fail("reply_hours", f"has {len(histogram)} buckets, at most {BUCKET_COUNT}")
        # Trailing empty buckets may be left out.
        histogram += (0,) * (BUCKET_COUNT - len(histogram))
        object.__setattr__(self, "reply_hours", histogram)
        counts = [getattr(self, name) for name in _COUNTS]
        # type() rather than isinstance(): True is an int but no count. Checked as one
        # expression first, because ten thousand merchants pass here every night.
        if not all(type(value) is int for value in counts) or min(counts) < 0:
            for name, value in zip(_COUNTS, counts, strict=True):
                if type(value) is not int or value < 0:
                    self._fail(name, f"must be a whole number of at least 0, got {value!r}")
        if histogram and min(histogram) < 0:
            self._fail("reply_hours", "has a negative count")
        for smaller, larger in _ORDER:
            if getattr(self, smaller) > getattr(self, larger):
                self._fail(smaller, f"exceeds {larger}")
        if sum(histogram) != self.first_replies:
            self._fail("reply_hours", f"sums to {sum(histogram)}, not first_replies")
        self._check_resolution_days()
        for name in ("service", "reachability", "reaction_time"):
            if getattr(self, name).count > self.ratings:
                self._fail(name, "has more scores than there are ratings")

    def _check_resolution_days(self) -> None:
        days = tuple(self.resolution_days)
        if len(days) > resolution.BUCKET_COUNT:
            self._fail("resolution_days", f"has {len(days)} buckets, too many")
        days += (0,) * (resolution.BUCKET_COUNT - len(days))
        object.__setattr__(self, "resolution_days", days)
        if min(days) < 0:
            self._fail("resolution_days", "has a negative count")
        if sum(days) not in (0, self.resolved):
            self._fail("resolution_days", f"sums to {sum(days)}, not resolved")

    def _fail(self, name: str, problem: str) -> None:
        raise ValueError(f"merchant {self.merchant!r}: {name} {problem}")


_ORDER = (
    ("replies_within_deadline", "first_replies"),
    ("first_replies", "cases_due"),
    ("cases_due", "cases"),
    ("resolved", "closed"),
    ("closed", "cases"),
    ("mediated", "cases"),
)
_COUNTS = ("ratings", *dict.fromkeys(name for pair in _ORDER for name in pair))
