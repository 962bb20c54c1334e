"""Scoring benchmark: 10,000 merchants, 1,000,000 cases and 300,000 ratings in the real
tables, scored the way `siegel score` and the nightly recompute do.

Issue 5's target: scoring (the SQL aggregation of `mediation.figure_store` plus
`scoring.score_all`) under 10 s on this machine, resident memory under 500 MB. The
data is built first with SQLAlchemy Core executemany in chunks (not timed): merchants
of very different sizes (a few large shops, many small ones) and quality, cases over
thirteen months (so that the window cuts some off) with first replies, missed deadlines,
mediations and every closed state, open cases with a pending first-reply deadline, and
ratings of closed cases.

    .venv/bin/python bench/scoring.py [--merchants 10000] [--cases 1000000]
        [--ratings 300000] [--database-url URL] [--budget-seconds 10]

SQLite in a temporary directory by default; with `--database-url` (e.g. a PostgreSQL
URL) a database that already holds merchants is scored as it is, without building.
Exits 0 only if scoring stays within the budget (wall time: on PostgreSQL the work is
in the server) and peak resident memory under 500 MB.
"""

from __future__ import annotations

import argparse
import enum
import json
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from memory import peak_rss_mb  # bench/memory.py, beside this script
from sqlalchemy import JSON, Date, Engine, column, event, func, insert, select, table
from sqlmodel import Session

from mailflow.db import make_engine
from mailflow.schema import open_database
from mediation import figure_store, seal
from mediation.columns import UTCDateTime
from mediation.rating_store import Rating
from mediation.storage import Case, CaseDeadline, Customer, Merchant
from mediation.workflow import Deadline, State
from scoring import ScoringPolicy, Tier, score_all

AT = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
CHUNK = 20_000
MEMORY_LIMIT_MB = 500
CUSTOMERS = 200_000
CLOSING_STATES = (
    State.CLOSED_RESOLVED,
    State.CLOSED_SETTLED,
    State.CLOSED_UNRESOLVED,
    State.CLOSED_NO_RESPONSE,
    State.CLOSED_WITHDRAWN,
)


def _table(model: Any) -> Any:
    return model.__table__


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _insert(engine: Engine, model: Any, rows: Iterator[dict[str, Any]]) -> int:
    """Insert `rows` into `model`'s table in chunks, one transaction each (bounded
    memory), by Core executemany at the driver level: each value is converted as its
    column type would store it, once per column rather than through SQLAlchemy's
    per-value type processing, which would take longer than the load itself."""
    sqlite = engine.dialect.name == "sqlite"
    columns = _table(model).columns
    count = 0
    for chunk in _chunks(rows):
        names = list(chunk[0])
        convert = [_converter(columns[name].type, sqlite) for name in names]
        statement = insert(table(_table(model).name, *(column(name) for name in names)))
        sql = str(statement.compile(dialect=engine.dialect))
        values: list[Any] = [
            tuple(to(row[name]) for to, name in zip(convert, names, strict=True)) for row in chunk
        ]
        if engine.dialect.paramstyle != "qmark":
            values = [dict(zip(names, row, strict=True)) for row in values]
        with engine.begin() as connection:
            connection.exec_driver_sql(sql, values)
        count += len(chunk)
    return count


def _converter(column_type: Any, sqlite: bool) -> Any:
    """How a value of `column_type` reaches the driver."""
    if isinstance(column_type, UTCDateTime):
        if not sqlite:
            return lambda value: value
        # SQLAlchemy's SQLite DateTime storage format, in UTC.
        return lambda value: (
            value.astimezone(UTC).isoformat(" ", "microseconds")[:26] if value is not None else None
        )
    if isinstance(column_type, JSON):
        return json.dumps
    if isinstance(column_type, Date) and sqlite:
        return lambda value: value.isoformat() if value is not None else None
    # Enum members (state, tier, deadline kind) are stored by value.
    return lambda value: value.value if isinstance(value, enum.Enum) else value


def _merchants(count: int, rng: random.Random) -> list[tuple[float, float]]:
    """(share of the cases, quality 0..1) per merchant: Pareto sizes, uniform quality."""
    weights = [rng.paretovariate(1.2) for _ in range(count)]
    total = sum(weights)
    return [(weight / total, rng.random()) for weight in weights]


def _case_rows(
    profiles: list[tuple[float, float]], cases: int, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """`cases` cases spread over the merchants by their share, as the case service
    stores them."""
    number = 0
    for index, (share, quality) in enumerate(profiles):
        for _ in range(max(1, round(share * cases))):
            number += 1
            yield _case(number, index + 1, quality, rng)


def _case(number: int, merchant_id: int, quality: float, rng: random.Random) -> dict[str, Any]:
    opened = AT - timedelta(days=rng.uniform(0, 400))
    row: dict[str, Any] = {
        "ref": f"SSG-B-{number:08d}",
        "merchant_id": merchant_id,
        "customer_id": rng.randint(1, CUSTOMERS),
        "language": "de",
        "subject": "Lieferung",
        "opened_at": opened,
        "updated_at": opened,
        "merchant_given_at": opened,
        "proposal_accepted_by": [],
        "needs_triage": False,
        "version": 0,
        "first_reply_at": None,
        "first_reply_seconds": None,
        "first_reply_business_hours": None,
        "first_reply_business_seconds": None,
        "first_reply_within_deadline": None,
        "merchant_missed_deadline": False,
        "mediation_started_at": None,
        "closed_at": None,
        "state": State.AWAITING_MERCHANT,
    }
    if opened > AT - timedelta(days=3) and rng.random() < 0.5:
        return row  # still waiting for the merchant
    if rng.random() < 0.7 + 0.3 * quality:
        hours = rng.expovariate(1 / (2 + 20 * (1 - quality)))
        replied = opened + timedelta(hours=hours * 3)
        row |= {
            "first_reply_at": replied,
            "first_reply_seconds": hours * 3 * 3600,
            "first_reply_business_hours": hours,
            "first_reply_business_seconds": round(hours * 3600),
            "first_reply_within_deadline": hours <= 16,
            "merchant_missed_deadline": hours > 16,
        }
    else:
        row["merchant_missed_deadline"] = True
    if row["merchant_missed_deadline"] or rng.random() < 0.3 * (1 - quality):
        row["mediation_started_at"] = opened + timedelta(days=3)
    if rng.random() < 0.95:
        good = rng.random() < 0.4 + 0.55 * quality
        state = rng.choice(CLOSING_STATES[:2] if good else CLOSING_STATES[2:])
        row |= {"state": state, "closed_at": opened + timedelta(days=rng.uniform(1, 30))}
    else:
        row["state"] = (
            State.IN_MEDIATION if row["mediation_started_at"] else State.AWAITING_CUSTOMER
        )
    return row


def build(url: str, merchants: int, cases: int, ratings: int, seed: int = 5) -> None:
    """Fill an empty database: the secondary indexes are dropped for the load and built
    again after it (one sort each instead of a million random inserts); on SQLite the
    load skips fsync and gets a larger page cache (the data is thrown away anyway)."""
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _bulk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-100000")
            cursor.close()

    indexes = [index for model in (Case, Customer, Rating) for index in _table(model).indexes]
    with engine.begin() as connection:
        for index in indexes:
            index.drop(connection)
    _load(engine, merchants, cases, ratings, random.Random(seed))
    with engine.begin() as connection:
        for index in indexes:
            index.create(connection)
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _load(engine: Engine, merchants: int, cases: int, ratings: int, rng: random.Random) -> None:
    profiles = _merchants(merchants, rng)
    now = AT - timedelta(days=500)
    _insert(
        engine,
        Merchant,
        (
            {"slug": f"shop-{i:05d}", "name": f"Shop {i}", "support_addresses": [f"s@shop{i}.test"],
             "domains": [], "language": "de", "created_at": now}
            for i in range(merchants)
        ),
    )  # fmt: skip
    _insert(
        engine,
        Customer,
        (
            {"address": f"k{i}@example.org", "name": "", "language": "de", "created_at": now}
            for i in range(CUSTOMERS)
        ),
    )
    _insert(engine, Case, _case_rows(profiles, cases, rng))
    with engine.connect() as connection:
        waiting = connection.execute(
            select(Case.id, Case.opened_at).where(Case.state == State.AWAITING_MERCHANT)
        ).all()
    _insert(
        engine,
        CaseDeadline,
        (
            {
                "case_id": case_id,
                "kind": Deadline.MERCHANT_REPLY,
                "due_at": opened + timedelta(days=2),
            }
            for case_id, opened in waiting
        ),
    )
    _insert(engine, Rating, _rating_rows(engine, profiles, ratings, rng))
    _insert(
        engine,
        seal.Seal,
        (
            {"merchant_id": i + 1, "precheck_passed_on": date(2026, 1, 5),
             "tier": Tier.SILBER if i % 2 else Tier.NONE, "previous_tier": Tier.NONE}
            for i in range(merchants)
        ),
    )  # fmt: skip


def _rating_rows(
    engine: Engine, profiles: list[tuple[float, float]], ratings: int, rng: random.Random
) -> Iterator[dict[str, Any]]:
    """`ratings` ratings of closed cases, their scores following the merchant's quality."""
    closed = (
        select(Case.id, Case.merchant_id, Case.closed_at)
        .where(Case.closed_at.is_not(None))  # type: ignore[union-attr]
        .order_by(Case.id)  # the same cases rated on every database
    )
    # The rated cases are read first and the connection closed: on SQLite a reader
    # inside BEGIN IMMEDIATE would keep the inserts below waiting.
    with engine.connect() as connection:
        total = connection.execute(
            select(func.count()).select_from(closed.order_by(None).subquery())
        ).scalar_one()
        share = min(1.0, ratings * 1.02 / total)
        chosen = [row for row in connection.execute(closed) if rng.random() < share][:ratings]
    for case_id, merchant_id, closed_at in chosen:
        mean = 1.5 + 3.4 * profiles[merchant_id - 1][1]
        scores = [min(5, max(1, round(rng.gauss(mean, 0.8)))) for _ in range(3)]
        yield {
            "case_id": case_id, "merchant_id": merchant_id,
            "service": scores[0], "reachability": scores[1], "reaction_time": scores[2],
            "praise": "", "criticism": "", "comment": "",
            "received_at": closed_at + timedelta(days=1), "revision": 1,
            "publish_consent": False,
        }  # fmt: skip


def _timed(step: Any, *args: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = step(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def score(engine: Engine, policy: ScoringPolicy) -> tuple[list, float, float, float, float]:
    """What `sealwork.assess` does for `siegel score` and the nightly recompute: the
    figures and seal records from SQL, then every assessment. Returns the assessments
    and the wall and CPU seconds of both steps."""

    def read(session: Session) -> tuple[list, tuple]:
        return figure_store.aggregates(session, AT, policy.window_months), seal.records(session)

    with Session(engine) as session:
        (aggregates, (records, held)), sql_wall, sql_cpu = _timed(read, session)
    assessments, wall, cpu = _timed(
        lambda: score_all(aggregates, policy, seals=records, on=AT.date(), previous_tiers=held)
    )
    return assessments, sql_wall, sql_cpu, wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--merchants", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--ratings", type=int, default=300_000)
    parser.add_argument("--database-url", help="default: SQLite in a temporary directory")
    parser.add_argument("--budget-seconds", type=float, default=10.0)
    args = parser.parse_args()
    folder = None if args.database_url else Path(tempfile.mkdtemp(prefix="siegel-bench-"))
    url = args.database_url or f"sqlite:///{folder}/siegel.db"
    try:
        engine = open_database(url)
        with engine.connect() as connection:
            existing = connection.execute(select(func.count()).select_from(Merchant)).scalar_one()
        if existing:
            print(f"scoring the {existing} merchants already in the database")
        else:
            _, build_wall, _ = _timed(build, url, args.merchants, args.cases, args.ratings)
            print(f"built in {build_wall:.1f} s ({engine.dialect.name})")
        with engine.connect() as connection:
            cases = connection.execute(select(func.count()).select_from(Case)).scalar_one()
            rated = connection.execute(select(func.count()).select_from(Rating)).scalar_one()
        policy = ScoringPolicy()
        assessments, sql_wall, sql_cpu, wall, cpu = score(engine, policy)
        _, explain_wall, _ = _timed(lambda: [(a.explanation, a.reasons("de")) for a in assessments])
        engine.dispose()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    tiers = {tier.value: 0 for tier in Tier}
    for assessment in assessments:
        tiers[assessment.tier.value] += 1
    rss_mb = peak_rss_mb()
    elapsed = sql_wall + wall
    print(f"{len(assessments)} merchants, {cases} cases, {rated} ratings")
    print(f"SQL aggregation: {sql_wall:.3f} s wall, {sql_cpu:.3f} s CPU in this process")
    print(f"assessment (score_all): {wall:.3f} s wall, {cpu:.3f} s CPU")
    print(f"explanations and reasons, every merchant (not budgeted): {explain_wall:.3f} s")
    print("tiers: " + ", ".join(f"{name} {count}" for name, count in tiers.items()))
    print(f"peak resident memory {rss_mb:.0f} MB (limit {MEMORY_LIMIT_MB} MB)")
    within = elapsed <= args.budget_seconds and rss_mb < MEMORY_LIMIT_MB
    verdict = "met" if within else "MISSED"
    print(f"scoring {elapsed:.3f} s wall; budget {args.budget_seconds:.1f} s: {verdict}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
