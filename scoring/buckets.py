"""Histogram buckets over fixed upper edges, in Python and as SQL: the one way scoring
turns a duration into a bucket (first-reply hours, days to resolution).

Bucket 0 holds exactly 0; bucket i holds more than edge i-1 and at most edge i units;
one more bucket, the overflow, holds more than the last edge. Up to `whole` units the
edges are the whole units 0, 1, 2, ..., which SQL computes by rounding up with integer
division; above, one comparison per edge. The same expression runs on SQLite and
PostgreSQL (integer division truncates in both).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence


def bucket(seconds: int, edge_seconds: Sequence[int]) -> int:
    """The bucket of `seconds` among upper edges given in seconds."""
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds}")
    return bisect_left(edge_seconds, seconds)


def bucket_sql(seconds: str, edges: Sequence[int], unit: int, whole: int) -> str:
    """`bucket` as an SQL CASE over the integer expression `seconds`, for `edges` in
    units of `unit` seconds that are the whole units 0 to `whole` first."""
    first = edges.index(whole)
    branches = [f"WHEN {seconds} <= {whole * unit} THEN ({seconds} + {unit - 1}) / {unit}"]
    branches += [
        f"WHEN {seconds} <= {edge * unit} THEN {index}"
        for index, edge in enumerate(edges)
        if index > first
    ]
    return f"CASE {' '.join(branches)} ELSE {len(edges)} END"
