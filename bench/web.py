"""Web benchmark: the certificate page of a merchant with 300 cases and 3,000 ratings.

Issue 12's target: the page renders in under 50 ms (median over the timed requests,
through the whole ASGI application in this process: routing, the SQL of
`mediation.figure_store` and `scoring` as the nightly recompute runs them, the template,
the security headers). The data is built first (not timed): one merchant, certified,
with 300 cases opened over the last twelve months (first replies, missed deadlines,
mediations, every closed state) and 3,000 ratings received in the window. A case has
one current rating, so the 3,000 ratings belong to 3,000 rated cases: the 300 of the
window and 2,700 opened before it (a late rating counts in the window it was given
in), as at a shop whose older customers rate late. Released Lob & Tadel is shown too.

    .venv/bin/python bench/web.py [--requests 200] [--budget-ms 50]

Prints the figures; the last line is one JSON object. Exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, insert
from sqlmodel import Session

from mailflow.config import Config, parse
from mailflow.db import session_scope
from mailflow.schema import open_database
from mediation import feedback_store, seal
from mediation.rating_store import Rating
from mediation.storage import Case, Customer, Merchant
from mediation.workflow import State

AT = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
SLUG = "moebel-fuchs"
CLOSED = (
    State.CLOSED_RESOLVED, State.CLOSED_SETTLED, State.CLOSED_UNRESOLVED,
    State.CLOSED_NO_RESPONSE, State.CLOSED_WITHDRAWN,
)  # fmt: skip


def build(engine: Engine, window_cases: int, ratings: int, seed: int = 12) -> None:
    """One certified merchant with `window_cases` cases in the window and `ratings`
    rated cases in all (the rest opened before the window)."""
    rng = random.Random(seed)
    with session_scope(engine) as session:
        merchant = Merchant(
            slug=SLUG, name="Möbel Fuchs", support_addresses=["support@moebel-fuchs.example"],
            domains=["moebel-fuchs.example"], created_at=AT - timedelta(days=800),
        )  # fmt: skip
        customer = Customer(address="kunde@example.org", created_at=AT)
        session.add_all([merchant, customer])
        session.flush()
        seal.record(session, merchant.id, "precheck-passed", date(2026, 6, 1), "bench", AT)  # type: ignore[arg-type]
        cases = [
            _case(rng, number, merchant.id, customer.id, number < window_cases)  # type: ignore[arg-type]
            for number in range(max(window_cases, ratings))
        ]
        session.execute(insert(Case), cases)
        ids = [row.id for row in session.query(Case.id).order_by(Case.id)]
        rows = [
            {
                "case_id": case_id, "merchant_id": merchant.id,
                "service": rng.choice((3, 4, 4, 5, 5)), "reachability": rng.choice((2, 4, 5)),
                "reaction_time": rng.choice((3, 4, 5, 5)), "praise": "", "criticism": "",
                "comment": "", "received_at": AT - timedelta(days=rng.uniform(1, 360)),
            }
            for case_id in ids[:ratings]
        ]  # fmt: skip
        session.execute(insert(Rating), rows)
        for number in range(20):
            entry = feedback_store.record(
                session, merchant_id=merchant.id, author=f"k{number}@example.org",
                language="de", praise="Schnelle Lieferung, freundlicher Service.",
                criticism="", source=feedback_store.Source.PRAISE_ADDRESS, mail_id=number,
                received_at=AT - timedelta(days=number * 9), merchant_named_by="bench",
            )  # fmt: skip
            feedback_store.consent(session, entry.id)  # type: ignore[arg-type]
            feedback_store.release(session, entry.id, "bench", AT)  # type: ignore[arg-type]


def _case(rng: random.Random, number: int, merchant_id: int, customer_id: int, recent: bool):  # type: ignore[no-untyped-def]
    days = rng.uniform(1, 360) if recent else rng.uniform(400, 700)
    opened = AT - timedelta(days=days)
    hours = rng.choice((0.5, 2, 3, 5, 8, 12, 20, 40))
    state = rng.choice(CLOSED)
    return {
        "ref": f"SSG-2026-{number + 1:06d}", "state": state, "merchant_id": merchant_id,
        "customer_id": customer_id, "language": "de", "subject": "", "opened_at": opened,
        "updated_at": opened, "first_reply_at": opened + timedelta(hours=hours),
        "first_reply_business_hours": hours, "first_reply_business_seconds": int(hours * 3600),
        "first_reply_within_deadline": hours <= 16, "merchant_missed_deadline": hours > 16,
        "mediation_started_at": opened + timedelta(days=3) if hours > 16 else None,
        "closed_at": opened + timedelta(days=rng.uniform(0.5, 30)),
        "needs_triage": False, "proposal_accepted_by": [], "version": 0,
    }  # fmt: skip


def measure(config: Config, engine: Engine, requests: int) -> list[float]:
    from starlette.testclient import TestClient

    from mailflow.web.app import create_app

    client = TestClient(create_app(config, engine, lambda: AT))
    for _ in range(5):  # warm: templates compiled, statements cached
        assert client.get(f"/siegel/{SLUG}").status_code == 200
    times = []
    for number in range(requests):
        language = "de" if number % 2 else "en"
        started = time.perf_counter()
        response = client.get(f"/siegel/{SLUG}?lang={language}")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--ratings", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--budget-ms", type=float, default=50.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # starlette's TestClient on httpx
    folder = Path(tempfile.mkdtemp(prefix="siegel-bench-web-"))
    try:
        raw = {"siegel": {"secret": "b" * 43, "data_dir": "data", "domain": "siegel.test"}}
        config = parse(raw, folder, {})
        engine = open_database(config.database_url)
        started = time.perf_counter()
        build(engine, args.cases, args.ratings)
        print(f"built in {time.perf_counter() - started:.1f} s ({engine.dialect.name})")
        with Session(engine) as session:
            cases = session.query(Case).count()
        times = measure(config, engine, args.requests)
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median = statistics.median(times)
    p90 = statistics.quantiles(times, n=10)[-1]
    within = median < args.budget_ms
    print(f"{cases} cases ({args.cases} in the window), {args.ratings} ratings")
    print(f"certificate page, {args.requests} requests: median {median:.1f} ms, "
          f"p90 {p90:.1f} ms, max {max(times):.1f} ms")  # fmt: skip
    print(f"budget {args.budget_ms:.0f} ms (median): {'met' if within else 'MISSED'}")
    print(json.dumps({
        "bench": "web", "cases_in_window": args.cases, "ratings": args.ratings,
        "requests": args.requests, "median_ms": round(median, 2), "p90_ms": round(p90, 2),
        "max_ms": round(max(times), 2), "budget_ms": args.budget_ms, "met": within,
    }))  # fmt: skip
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
