"""Tiers from aggregates: every threshold edge of every tier, minimum samples, hysteresis.

All tests use the default policy (docs/scoring.md). A "strong" merchant meets every Gold
threshold by far; each test moves one figure to exactly a tier's threshold (just met) and
one step beyond it (just missed).
"""

from __future__ import annotations

import random
from datetime import date

import pytest

from scoring import (
    CRITERIA,
    Assessment,
    MerchantAggregate,
    RatingTotals,
    ScoringPolicy,
    SealRecord,
    Tier,
    assess,
)
from scoring.aggregates import BUCKET_COUNT, OVERFLOW_BUCKET
from scoring.figures import measure
from scoring.tiers import earned_tier, explain

POLICY = ScoringPolicy()
ON = date(2026, 11, 26)
CERTIFIED = SealRecord(precheck_passed_on=date(2026, 6, 1))


def hours(buckets: dict[int, int]) -> tuple[int, ...]:
    counts = [0] * BUCKET_COUNT
    for bucket, count in buckets.items():
        counts[bucket] = count
    return tuple(counts)


def ratings(count: int, total_each: int | None = None) -> dict[str, object]:
    totals = RatingTotals(count, 5 * count if total_each is None else total_each)
    return {"ratings": count, "service": totals, "reachability": totals, "reaction_time": totals}


def merchant(cases: int = 100, **changes: object) -> MerchantAggregate:
    """`cases` cases, all answered within 2 business hours and resolved, none mediated,
    40 ratings of 5: Gold by far, unless `changes` say otherwise."""
    values: dict[str, object] = {
        "merchant": "shop",
        "cases": cases,
        "cases_due": cases,
        "first_replies": cases,
        "replies_within_deadline": cases,
        "reply_hours": hours({2: cases}),
        "closed": cases,
        "resolved": cases,
        "mediated": 0,
        **ratings(40),
    }
    values.update(changes)
    return MerchantAggregate(**values)  # type: ignore[arg-type]


def tier_of(aggregate: MerchantAggregate, previous: Tier = Tier.NONE) -> Assessment:
    return assess(aggregate, POLICY, seal=CERTIFIED, on=ON, previous_tier=previous)


def check(assessment: Assessment, tier: Tier, figure: str):  # type: ignore[no-untyped-def]
    (found,) = [c for c in assessment.explanation if c.tier is tier and c.figure == figure]
    return found


BELOW = {Tier.GOLD: Tier.SILBER, Tier.SILBER: Tier.BRONZE, Tier.BRONZE: Tier.NONE}

# (tier, figure, aggregate exactly at the tier's threshold, aggregate one step beyond)
EDGES = [
    (Tier.GOLD, "cases", merchant(50), merchant(49)),
    (Tier.GOLD, "ratings", merchant(**ratings(30)), merchant(**ratings(29))),
    # Wilson lower bound of 92 of 100 is 0.8500, of 91 of 100 is 0.8377.
    (
        Tier.GOLD,
        "within_deadline_lower",
        merchant(replies_within_deadline=92),
        merchant(replies_within_deadline=91),
    ),
    (
        Tier.GOLD,
        "first_reply_hours_median",
        merchant(reply_hours=hours({4: 50, 5: 50})),
        merchant(reply_hours=hours({4: 49, 5: 51})),
    ),
    (
        Tier.GOLD,
        "first_reply_hours_p90",
        merchant(reply_hours=hours({2: 89, 16: 11})),
        merchant(reply_hours=hours({2: 89, 17: 11})),
    ),
    # Of 200 closed cases: 144 resolved give a lower bound of 0.6541, 143 of 0.6488.
    (Tier.GOLD, "resolution_lower", merchant(200, resolved=144), merchant(200, resolved=143)),
    # Of 200 cases: 28 mediated give an upper bound of 0.1949, 29 of 0.2005.
    (Tier.GOLD, "mediation_upper", merchant(200, mediated=28), merchant(200, mediated=29)),
    # 30 ratings summing to 132 per dimension: (132 + 3 * 5) / 35 = 4.2 exactly.
    (Tier.GOLD, "rating_overall", merchant(**ratings(30, 132)), merchant(**ratings(30, 131))),
    (Tier.SILBER, "cases", merchant(25), merchant(24)),
    (Tier.SILBER, "ratings", merchant(**ratings(15)), merchant(**ratings(14))),
    (
        Tier.SILBER,
        "within_deadline_lower",
        merchant(replies_within_deadline=84),
        merchant(replies_within_deadline=83),
    ),
    (
        Tier.SILBER,
        "first_reply_hours_median",
        merchant(reply_hours=hours({8: 50, 9: 50})),
        merchant(reply_hours=hours({8: 49, 9: 51})),
    ),
    (
        Tier.SILBER,
        "first_reply_hours_p90",
        merchant(reply_hours=hours({2: 89, 24: 11})),
        merchant(reply_hours=hours({2: 89, 25: 11})),
    ),
    (Tier.SILBER, "resolution_lower", merchant(200, resolved=114), merchant(200, resolved=113)),
    (Tier.SILBER, "mediation_upper", merchant(200, mediated=47), merchant(200, mediated=48)),
    # (61 + 15) / 20 = 3.8 exactly.
    (Tier.SILBER, "rating_overall", merchant(**ratings(15, 61)), merchant(**ratings(15, 60))),
    (Tier.BRONZE, "cases", merchant(10), merchant(9)),
    (Tier.BRONZE, "ratings", merchant(**ratings(5)), merchant(**ratings(4))),
    (
        Tier.BRONZE,
        "within_deadline_lower",
        merchant(replies_within_deadline=70),
        merchant(replies_within_deadline=69),
    ),
    (
        Tier.BRONZE,
        "first_reply_hours_median",
        merchant(reply_hours=hours({16: 50, 17: 50})),
        merchant(reply_hours=hours({16: 49, 17: 51})),
    ),
    (
        Tier.BRONZE,
        "first_reply_hours_p90",
        merchant(reply_hours=hours({2: 89, 40: 11})),
        merchant(reply_hours=hours({2: 89, 41: 11})),
    ),
    (Tier.BRONZE, "resolution_lower", merchant(200, resolved=84), merchant(200, resolved=83)),
    (Tier.BRONZE, "mediation_upper", merchant(200, mediated=76), merchant(200, mediated=77)),
    # (51 + 15) / 20 = 3.3 exactly.
    (Tier.BRONZE, "rating_overall", merchant(**ratings(15, 51)), merchant(**ratings(15, 50))),
]
EDGE_IDS = [f"{tier.value}-{figure}" for tier, figure, _, _ in EDGES]


def test_edges_cover_every_threshold_of_every_tier() -> None:
    """The edge table below has one row for each criterion of each tier."""
    covered = {(tier, figure) for tier, figure, _, _ in EDGES}
    expected = {(tier, c.figure) for tier in BELOW for c in CRITERIA}
    assert covered == expected


@pytest.mark.parametrize(("tier", "figure", "at", "beyond"), EDGES, ids=EDGE_IDS)
def test_threshold_just_met_earns_the_tier(
    tier: Tier, figure: str, at: MerchantAggregate, beyond: MerchantAggregate
) -> None:
    """A figure exactly at a tier's threshold meets it, and the merchant gets that tier."""
    assessment = tier_of(at)
    assert assessment.tier is tier
    entry = check(assessment, tier, figure)
    assert entry.met
    assert entry.margin == pytest.approx(0, abs=0.006)
    assert entry.margin >= -1e-9


@pytest.mark.parametrize(("tier", "figure", "at", "beyond"), EDGES, ids=EDGE_IDS)
def test_threshold_just_missed_costs_the_tier(
    tier: Tier, figure: str, at: MerchantAggregate, beyond: MerchantAggregate
) -> None:
    """One step beyond a tier's threshold misses it: the merchant gets the tier below,
    and the explanation names the figure, the threshold and the shortfall."""
    assessment = tier_of(beyond)
    assert assessment.tier is BELOW[tier]
    entry = check(assessment, tier, figure)
    assert not entry.met
    assert entry.margin < 0
    assert entry.threshold == getattr(POLICY.thresholds(tier), _setting(figure))


def _setting(figure: str) -> str:
    return next(c.setting for c in CRITERIA if c.figure == figure)


def test_a_handful_of_perfect_cases_cannot_buy_gold() -> None:
    """Nine perfect cases with nine perfect ratings earn nothing: too few to judge."""
    assessment = tier_of(merchant(9, **ratings(9)))
    assert assessment.tier is Tier.NONE
    assert assessment.figures["within_deadline_share"] == 1.0
    # The Wilson bound of 9 out of 9 is only 0.70, and 9 ratings of 5 shrink to 4.29.
    assert assessment.figures["within_deadline_lower"] == pytest.approx(0.7008, abs=1e-4)
    assert assessment.figures["rating_overall"] == pytest.approx(60 / 14)


def test_shrinkage_needs_many_good_ratings_for_gold() -> None:
    """Thirty ratings of 4.3 on average shrink to 4.11, below Gold's 4.2; three hundred
    of the same shrink to 4.28 and reach it."""
    few = tier_of(merchant(**ratings(30, 129)))
    many = tier_of(merchant(**ratings(300, 1290)))
    assert few.figures["rating_service_mean"] == pytest.approx(4.3)
    assert few.figures["rating_overall"] == pytest.approx(144 / 35)
    assert few.tier is Tier.SILBER
    assert many.figures["rating_overall"] == pytest.approx(1305 / 305)
    assert many.tier is Tier.GOLD


def test_rating_dimensions_weigh_the_same() -> None:
    """A poor reachability score pulls the overall mean down by a third of its gap."""
    poor = RatingTotals(40, 80)
    assessment = tier_of(merchant(reachability=poor))
    expected = (2 * (200 + 15) / 45 + (80 + 15) / 45) / 3
    assert assessment.figures["rating_overall"] == pytest.approx(expected)
    assert assessment.figures["rating_reachability_mean"] == 2.0


def test_unanswered_due_cases_count_as_slowest_replies() -> None:
    """A merchant that answers 85 of 100 due cases fast but ignores 15 has a p90 beyond
    the last bucket: ignoring hard cases does not make it look quick."""
    aggregate = merchant(first_replies=85, replies_within_deadline=85, reply_hours=hours({1: 85}))
    assessment = tier_of(aggregate)
    assert assessment.figures["first_reply_hours_median"] == 1
    assert assessment.figures["first_reply_hours_p90"] is None
    assert not check(assessment, Tier.BRONZE, "first_reply_hours_p90").met
    assert assessment.tier is Tier.NONE


def test_cases_not_yet_due_are_not_judged_late() -> None:
    """Cases still inside their deadline count for nothing but the case total."""
    aggregate = merchant(
        cases=110,
        cases_due=100,
        first_replies=100,
        replies_within_deadline=100,
        closed=100,
        resolved=100,
        reply_hours=hours({2: 100}),
    )
    assessment = tier_of(aggregate)
    assert assessment.figures["within_deadline_share"] == 1.0
    assert assessment.tier is Tier.GOLD


def test_a_merchant_without_cases_has_no_measurable_figures() -> None:
    """No cases: shares and quantiles are None, every threshold is missed, no tier."""
    assessment = tier_of(MerchantAggregate("new-shop"))
    for figure in (
        "within_deadline_lower",
        "first_reply_hours_median",
        "resolution_lower",
        "mediation_upper",
    ):
        assert assessment.figures[figure] is None
    assert assessment.figures["rating_overall"] == POLICY.prior_mean
    assert assessment.tier is Tier.NONE
    assert all(not c.met for c in assessment.explanation if c.figure != "rating_overall")


# ---------------------------------------------------------------------------- hysteresis


def test_held_gold_survives_a_miss_within_the_tolerance() -> None:
    """Holding Gold, 91 of 100 in time (bound 0.838, 0.012 short of 0.85, tolerance 0.03)
    keeps Gold; the explanation shows the tolerance and the negative margin."""
    aggregate = merchant(replies_within_deadline=91)
    assert tier_of(aggregate).tier is Tier.SILBER
    held = tier_of(aggregate, previous=Tier.GOLD)
    assert held.tier is Tier.GOLD
    entry = check(held, Tier.GOLD, "within_deadline_lower")
    assert entry.met
    assert entry.tolerance == POLICY.hysteresis_share
    assert entry.limit == pytest.approx(0.82)
    assert entry.margin == pytest.approx(0.8377 - 0.85, abs=1e-4)
    assert any(r.startswith("Gold bleibt, obwohl") for r in held.reasons("de"))
    assert any(r.startswith("Gold is kept although") for r in held.reasons("en"))


def test_held_gold_falls_when_the_miss_exceeds_the_tolerance() -> None:
    """Holding Gold, 89 of 100 in time (bound 0.814, 0.036 short) loses Gold."""
    assessment = tier_of(merchant(replies_within_deadline=89), previous=Tier.GOLD)
    assert assessment.tier is Tier.SILBER


def test_a_tier_is_not_gained_within_the_tolerance() -> None:
    """Holding Silber, a Gold threshold missed by less than the tolerance keeps Silber:
    rising needs every threshold met without tolerance."""
    aggregate = merchant(replies_within_deadline=91)
    assessment = tier_of(aggregate, previous=Tier.SILBER)
    assert assessment.tier is Tier.SILBER
    assert check(assessment, Tier.GOLD, "within_deadline_lower").tolerance == 0
    assert tier_of(merchant(replies_within_deadline=92), previous=Tier.SILBER).tier is Tier.GOLD


def test_one_late_case_does_not_flap_the_tier() -> None:
    """A Gold merchant at the edge (92 of 100) whose next case is late (92 of 101) stays
    Gold; without the previous tier the same figures give Silber."""
    edge = merchant(replies_within_deadline=92)
    assert tier_of(edge).tier is Tier.GOLD
    one_more_late = merchant(101, replies_within_deadline=92, reply_hours=hours({2: 100, 30: 1}))
    assert tier_of(one_more_late).tier is Tier.SILBER
    assert tier_of(one_more_late, previous=Tier.GOLD).tier is Tier.GOLD


def test_minimum_samples_have_a_relative_tolerance() -> None:
    """Holding Gold (50 cases needed, tolerance 10 %), 45 cases keep it, 44 do not."""
    assert tier_of(merchant(45), previous=Tier.GOLD).tier is Tier.GOLD
    assert tier_of(merchant(44), previous=Tier.GOLD).tier is Tier.SILBER
    assert tier_of(merchant(45)).tier is Tier.SILBER


def test_hours_tolerance_keeps_a_held_tier() -> None:
    """Holding Gold (median at most 4 h, tolerance 2 h), a median of 6 h keeps it, 7 h
    does not."""
    assert tier_of(merchant(reply_hours=hours({6: 100})), previous=Tier.GOLD).tier is Tier.GOLD
    assert tier_of(merchant(reply_hours=hours({7: 100})), previous=Tier.GOLD).tier is Tier.SILBER


def test_a_fall_lands_on_a_lower_tier_judged_with_tolerance() -> None:
    """Falling from Gold, the tiers below are judged with the tolerance too (a merchant
    that held Gold held what Silber asks): 83 of 100 in time (bound 0.744, Silber wants
    0.75) gives Silber, not Bronze."""
    aggregate = merchant(replies_within_deadline=83)
    assert tier_of(aggregate).tier is Tier.BRONZE
    assert tier_of(aggregate, previous=Tier.GOLD).tier is Tier.SILBER


def test_fast_tier_agrees_with_the_explanation() -> None:
    """On a thousand random merchants and previous tiers, the tier is the best one whose
    every explained threshold is met."""
    rng = random.Random(4711)
    for _ in range(1000):
        cases = rng.randint(0, 300)
        due = rng.randint(0, cases)
        replied = rng.randint(0, due)
        counts = [0] * BUCKET_COUNT
        for _ in range(replied):
            counts[min(OVERFLOW_BUCKET, int(rng.expovariate(1 / rng.choice((3, 12, 40)))))] += 1
        closed = rng.randint(0, cases)
        rated = rng.randint(0, 80)
        totals = RatingTotals(rated, rng.randint(rated, 5 * rated))
        aggregate = MerchantAggregate(
            "shop",
            cases=cases,
            cases_due=due,
            first_replies=replied,
            replies_within_deadline=rng.randint(0, replied),
            reply_hours=tuple(counts),
            closed=closed,
            resolved=rng.randint(0, closed),
            mediated=rng.randint(0, cases // 3),
            ratings=rated,
            service=totals,
            reachability=totals,
            reaction_time=totals,
        )
        previous = rng.choice(list(Tier))
        figures = measure(aggregate, POLICY)
        checks = explain(figures, POLICY, previous)
        met = [t for t in BELOW if all(c.met for c in checks if c.tier is t)]
        expected = max(met, key=lambda t: t.rank, default=Tier.NONE)
        assert earned_tier(figures, POLICY, previous) is expected


def test_explanation_has_one_entry_per_threshold() -> None:
    """Three tiers times eight criteria: 24 entries, each naming tier, figure, value,
    comparison, threshold, tolerance, limit, met and margin."""
    entries = [c.as_dict() for c in tier_of(merchant()).explanation]
    assert len(entries) == 3 * len(CRITERIA)
    assert set(entries[0]) == {
        "tier", "figure", "value", "comparison", "threshold",
        "tolerance", "limit", "met", "margin",
    }  # fmt: skip
