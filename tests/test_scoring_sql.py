"""The SQL form of the first-reply bucket gives the same bucket as scoring, on both backends."""

from __future__ import annotations

from sqlalchemy import Engine, text

from scoring import REPLY_HOUR_EDGES, reply_hours_bucket, reply_hours_bucket_sql

HOUR = 3600


def test_sql_bucket_matches_the_python_bucket(engine: Engine) -> None:
    """For every edge, one second before, on and after it (and 0), SQLite and PostgreSQL
    put a reply in the bucket `reply_hours_bucket` names."""
    seconds = sorted(
        {0, 1} | {max(0, edge * HOUR + delta) for edge in REPLY_HOUR_EDGES for delta in (-1, 0, 1)}
    )
    # Every piece of this SQL is a whole number we made, nothing from outside.
    rows_sql = " UNION ALL ".join(f"SELECT CAST({value} AS BIGINT) AS s" for value in seconds)
    query = text(f"SELECT s, {reply_hours_bucket_sql('s')} FROM ({rows_sql}) AS t")  # noqa: S608
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    assert len(rows) == len(seconds)
    for value, bucket in rows:
        assert bucket == reply_hours_bucket(value), value
