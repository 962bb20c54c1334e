"""The figures SQL computes per merchant equal a plain count over the same cases, on
SQLite and PostgreSQL: the window, `at`, due cases, the reply histogram, ratings."""

from __future__ import annotations

import random
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from mailflow.db import session_scope
from mediation import figure_store
from mediation import rating_store as ratings
from mediation.storage import Case, CaseDeadline, Customer, Merchant
from mediation.workflow import Deadline, State
from scoring import MerchantAggregate, RatingTotals, reply_hours_bucket, resolution_days_bucket

AT = datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
START = datetime(2025, 11, 26, 3, 30, tzinfo=UTC)  # 12 months before AT
CLOSED = [state for state in State if state.startswith("closed_")]


def add_merchants(session: Session, *slugs: str) -> dict[str, int]:
    ids = {}
    for slug in slugs:
        merchant = Merchant(
            slug=slug, name=slug, support_addresses=[f"s@{slug}.test"], created_at=AT
        )
        session.add(merchant)
        session.flush()
        ids[slug] = merchant.id
    return ids  # type: ignore[return-value]


def add_customer(session: Session) -> int:
    customer = Customer(address="kunde@example.org", created_at=AT)
    session.add(customer)
    session.flush()
    return customer.id  # type: ignore[return-value]


def add_case(session: Session, number: int, merchant_id: int, customer_id: int, **values) -> Case:
    opened = values.pop("opened_at", AT - timedelta(days=30))
    if values.get("first_reply_business_hours") is not None:  # as the case service stores it
        values["first_reply_business_seconds"] = round(values["first_reply_business_hours"] * 3600)
    case = Case(
        ref=f"SSG-2026-{number:06d}",
        state=values.pop("state", State.AWAITING_MERCHANT),
        merchant_id=merchant_id,
        customer_id=customer_id,
        opened_at=opened,
        updated_at=opened,
        **values,
    )
    session.add(case)
    session.flush()
    return case


def test_every_count_is_taken_as_of_at_and_within_the_window(engine: Engine) -> None:
    """Cases opened before the window or after `at` do not count; a reply, a closing or a
    mediation after `at` does not count yet; a passed deadline makes a case due even
    before the sweep fired it; a withdrawal is not closed; a rating of text alone and a
    rating outside the window are no ratings; a merchant without cases gets zeros."""
    with session_scope(engine) as session:
        ids = add_merchants(session, "a-shop", "quiet-shop")
        customer = add_customer(session)
        a = ids["a-shop"]
        early = AT - timedelta(days=10)
        late = AT + timedelta(hours=1)
        add_case(session, 1, a, customer, opened_at=START - timedelta(seconds=1))  # before
        add_case(session, 2, a, customer, opened_at=late)  # after at
        replied = dict(first_reply_at=early, first_reply_business_hours=3.5)
        resolved = add_case(session, 3, a, customer, **replied, first_reply_within_deadline=True,
                            state=State.CLOSED_RESOLVED, closed_at=early)  # fmt: skip
        add_case(session, 4, a, customer, first_reply_at=late, first_reply_business_hours=1.0,
                 first_reply_within_deadline=True, state=State.CLOSED_SETTLED,
                 closed_at=late, mediation_started_at=late)  # fmt: skip
        missed = add_case(session, 5, a, customer, merchant_missed_deadline=True,
                          mediation_started_at=early, state=State.CLOSED_UNRESOLVED,
                          closed_at=early)  # fmt: skip
        withdrawn = add_case(session, 6, a, customer, state=State.CLOSED_WITHDRAWN, closed_at=early)
        pending = add_case(session, 7, a, customer)
        session.add(CaseDeadline(case_id=pending.id, kind=Deadline.MERCHANT_REPLY, due_at=AT))  # type: ignore[arg-type]
        waiting = add_case(session, 8, a, customer, opened_at=AT - timedelta(hours=2))
        session.add(CaseDeadline(case_id=waiting.id, kind=Deadline.MERCHANT_REPLY, due_at=late))  # type: ignore[arg-type]
        given = ratings.GivenRating(service=5, reachability=4, reaction_time=None)
        ratings.save(session, resolved.id, a, given, None, early)  # type: ignore[arg-type]
        text_only = ratings.GivenRating(praise="Nett")
        ratings.save(session, missed.id, a, text_only, None, early)  # type: ignore[arg-type]
        before = START - timedelta(days=1)
        ratings.save(session, withdrawn.id, a, ratings.GivenRating(service=1), None, before)  # type: ignore[arg-type]
    with Session(engine) as session:
        found = {row.merchant: row for row in figure_store.aggregates(session, AT, 12)}
    assert found["quiet-shop"] == MerchantAggregate("quiet-shop")
    assert found["a-shop"] == MerchantAggregate(
        "a-shop",
        cases=6,  # 3 to 8
        cases_due=3,  # 3 (replied), 5 (missed), 7 (deadline passed at `at`)
        first_replies=1,
        replies_within_deadline=1,
        reply_hours=(0, 0, 0, 0, 1),
        closed=2,  # 3 and 5; 4 closes after `at`, 6 was withdrawn
        resolved=1,
        mediated=1,  # 5; 4 enters mediation after `at`
        resolution_days=(0,) * 20 + (1,),  # 3: resolved 20 days after it was opened
        ratings=1,
        service=RatingTotals(1, 5),
        reachability=RatingTotals(1, 4),
    )


def test_random_cases_give_the_figures_of_a_plain_count(engine: Engine) -> None:
    """Three hundred random cases of five merchants: the SQL aggregates, histogram
    included, equal the same figures counted case by case in Python."""
    rng = random.Random(26)
    slugs = [f"shop-{n}" for n in range(5)]
    expected = {slug: _Reference() for slug in slugs}
    with session_scope(engine) as session:
        ids = add_merchants(session, *slugs)
        customer = add_customer(session)
        for number in range(300):
            slug = rng.choice(slugs)
            values = _random_case(rng)
            case = add_case(session, number, ids[slug], customer, **values)
            score = rng.choice([None, 1, 2, 3, 4, 5])
            rated = values.get("closed_at") is not None and rng.random() < 0.5
            if rated:
                received = AT - timedelta(days=rng.uniform(-5, 400))
                given = ratings.GivenRating(service=score, reaction_time=rng.randint(1, 5))
                ratings.save(session, case.id, ids[slug], given, None, received)  # type: ignore[arg-type]
                expected[slug].rate(given, received)
            expected[slug].count(values)
    with Session(engine) as session:
        found = {row.merchant: row for row in figure_store.aggregates(session, AT, 12)}
    for slug in slugs:
        assert asdict(found[slug]) == asdict(expected[slug].aggregate(slug)), slug


def _random_case(rng: random.Random) -> dict:
    opened = AT - timedelta(days=rng.uniform(-3, 380))
    values: dict = {"opened_at": opened}
    if rng.random() < 0.7:
        # Whole and fractional hours, edges included: the buckets must agree exactly.
        hours = rng.choice([0, 0.5, 1, 3.9997, 16, 16.0002, 47.5, 48, 48.001, 60, 160, 200])
        values |= {
            "first_reply_at": opened + timedelta(hours=rng.uniform(0, 300)),
            "first_reply_business_hours": hours,
            "first_reply_within_deadline": hours <= 16,
        }
    values["merchant_missed_deadline"] = rng.random() < 0.3
    if rng.random() < 0.3:
        values["mediation_started_at"] = opened + timedelta(days=rng.uniform(0, 20))
    if rng.random() < 0.8:
        values["state"] = rng.choice(CLOSED)
        values["closed_at"] = opened + timedelta(days=rng.uniform(0, 40))
    return values


class _Reference:
    """The figures of one merchant, counted case by case."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(
            ("cases", "cases_due", "first_replies", "replies_within_deadline", "closed",
             "resolved", "mediated", "ratings"), 0,
        )  # fmt: skip
        self.buckets: dict[int, int] = {}
        self.resolutions: dict[int, int] = {}
        self.scores: dict[str, list[int]] = {name: [] for name in ratings.DIMENSIONS}

    def count(self, case: dict) -> None:
        if not START <= case["opened_at"] <= AT:
            return
        c = self.counts
        c["cases"] += 1
        reply_at = case.get("first_reply_at")
        replied = reply_at is not None and reply_at <= AT
        if replied:
            c["first_replies"] += 1
            c["replies_within_deadline"] += case["first_reply_within_deadline"]
            bucket = reply_hours_bucket(round(case["first_reply_business_hours"] * 3600))
            self.buckets[bucket] = self.buckets.get(bucket, 0) + 1
        c["cases_due"] += replied or case["merchant_missed_deadline"]
        closed_at = case.get("closed_at")
        if closed_at is not None and closed_at <= AT and case["state"] != State.CLOSED_WITHDRAWN:
            c["closed"] += 1
            if case["state"] in (State.CLOSED_RESOLVED, State.CLOSED_SETTLED):
                c["resolved"] += 1
                seconds = round((closed_at - case["opened_at"]).total_seconds())
                bucket = resolution_days_bucket(seconds)
                self.resolutions[bucket] = self.resolutions.get(bucket, 0) + 1
        started = case.get("mediation_started_at")
        c["mediated"] += started is not None and started <= AT

    def rate(self, given: ratings.GivenRating, received: datetime) -> None:
        if START <= received <= AT:
            self.counts["ratings"] += given.scored
            for name in ratings.DIMENSIONS:
                if getattr(given, name) is not None:
                    self.scores[name].append(getattr(given, name))

    def aggregate(self, slug: str) -> MerchantAggregate:
        totals = {
            name: RatingTotals(len(values), sum(values)) for name, values in self.scores.items()
        }
        return MerchantAggregate(
            slug,
            **self.counts,
            reply_hours=_histogram(self.buckets),
            resolution_days=_histogram(self.resolutions),
            **totals,
        )


def _histogram(buckets: dict[int, int]) -> tuple[int, ...]:
    histogram = [0] * (max(buckets, default=-1) + 1)
    for bucket, count in buckets.items():
        histogram[bucket] = count
    return tuple(histogram)
