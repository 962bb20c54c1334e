"""The seal's lifecycle (pre-check, trial, certification year) and the merchant's reasons."""

from __future__ import annotations

from datetime import date

import pytest

from scoring import (
    MerchantAggregate,
    RatingTotals,
    ScoringPolicy,
    SealPhase,
    SealRecord,
    Tier,
    add_months,
    assess,
    seal_status,
)
from scoring.aggregates import BUCKET_COUNT

POLICY = ScoringPolicy()


def gold_merchant() -> MerchantAggregate:
    five = RatingTotals(40, 200)
    return MerchantAggregate(
        "shop",
        cases=100,
        cases_due=100,
        first_replies=100,
        replies_within_deadline=100,
        reply_hours=(0, 0, 100) + (0,) * (BUCKET_COUNT - 3),
        closed=100,
        resolved=100,
        ratings=40,
        service=five,
        reachability=five,
        reaction_time=five,
    )


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),
        (date(2026, 12, 31), 2, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),
    ],
)
def test_add_months_keeps_the_day_or_takes_the_months_last(
    day: date, months: int, expected: date
) -> None:
    """Months are calendar months; a day the target month lacks becomes its last day."""
    assert add_months(day, months) == expected


def test_no_precheck_means_no_seal_whatever_the_figures() -> None:
    """Gold figures without a passed pre-check give tier none with that reason; the
    earned tier is still computed and told."""
    assessment = assess(gold_merchant(), POLICY, seal=SealRecord(), on=date(2026, 11, 26))
    assert assessment.tier is Tier.NONE
    assert assessment.earned_tier is Tier.GOLD
    assert assessment.seal.phase is SealPhase.PRECHECK_MISSING
    assert assessment.reasons("de")[:3] == [
        "Derzeit kein Siegel.",
        "Die Vorprüfung ist noch nicht bestanden; ohne sie wird kein Siegel vergeben.",
        "Nach den Messwerten wäre es Gold.",
    ]
    assert assessment.reasons("en")[1] == (
        "The pre-check has not been passed yet; without it no seal is awarded."
    )


def test_a_precheck_recorded_for_a_later_day_does_not_count_yet() -> None:
    """A pre-check dated after the scoring day is not passed on that day."""
    record = SealRecord(precheck_passed_on=date(2026, 12, 1))
    assert seal_status(record, date(2026, 11, 30), POLICY).phase is SealPhase.PRECHECK_MISSING
    assert seal_status(record, date(2026, 12, 1), POLICY).phase is SealPhase.ACTIVE


def test_trial_collects_ratings_but_shows_no_seal_for_two_months() -> None:
    """From 15 November the trial runs to 14 January inclusive: tier none with reason
    "trial"; on 15 January the earned tier is shown."""
    record = SealRecord(precheck_passed_on=date(2026, 11, 10), trial_started_on=date(2026, 11, 15))
    during = assess(gold_merchant(), POLICY, seal=record, on=date(2027, 1, 14))
    assert during.tier is Tier.NONE
    assert during.seal.phase is SealPhase.TRIAL
    assert during.seal.trial_ends_on == date(2027, 1, 15)
    assert during.figures["ratings"] == 40  # counted during the trial
    assert during.reasons("de")[1] == (
        "Testphase: Bewertungen werden gesammelt und zählen für das erste Siegel;"
        " ein Siegel wird ab dem 15.01.2027 angezeigt."
    )
    assert during.reasons("en")[1].endswith("a seal is shown from 15 January 2027.")
    after = assess(gold_merchant(), POLICY, seal=record, on=date(2027, 1, 15))
    assert after.tier is Tier.GOLD
    assert after.seal.valid_from == date(2027, 1, 15)


def test_certification_lapses_after_one_year_until_a_recheck() -> None:
    """Pre-checked on 5 January 2026 (no trial): valid through 4 January 2027; from
    5 January 2027 a re-check is due; a re-check recorded on 10 January 2027 renews it."""
    record = SealRecord(precheck_passed_on=date(2026, 1, 5))
    last_day = assess(gold_merchant(), POLICY, seal=record, on=date(2027, 1, 4))
    assert last_day.tier is Tier.GOLD
    assert "Die Zertifizierung gilt bis einschließlich 04.01.2027." in last_day.reasons("de")
    lapsed = assess(gold_merchant(), POLICY, seal=record, on=date(2027, 1, 5))
    assert lapsed.tier is Tier.NONE
    assert lapsed.seal.phase is SealPhase.RECHECK_DUE
    assert "The certification expired on 5 January 2027; a re-check is needed for a seal." in (
        lapsed.reasons("en")
    )
    rechecked = SealRecord(precheck_passed_on=date(2027, 1, 10))
    renewed = seal_status(rechecked, date(2027, 6, 1), POLICY)
    assert renewed.phase is SealPhase.ACTIVE
    assert renewed.valid_until == date(2028, 1, 10)


def test_certification_year_starts_after_the_trial() -> None:
    """With a trial, the first certification year starts when the trial ends."""
    record = SealRecord(precheck_passed_on=date(2026, 1, 5), trial_started_on=date(2026, 1, 5))
    status = seal_status(record, date(2026, 3, 5), POLICY)
    assert (status.phase, status.valid_from, status.valid_until) == (
        SealPhase.ACTIVE,
        date(2026, 3, 5),
        date(2027, 3, 5),
    )
    assert seal_status(record, date(2027, 3, 5), POLICY).phase is SealPhase.RECHECK_DUE


def test_an_explicit_certification_date_starts_the_year() -> None:
    """A certification recorded after the pre-check starts the validity year, and one
    recorded for a future day does not count yet."""
    record = SealRecord(precheck_passed_on=date(2026, 1, 5), certified_on=date(2026, 4, 1))
    assert seal_status(record, date(2027, 2, 1), POLICY).valid_until == date(2027, 4, 1)
    assert seal_status(record, date(2026, 3, 1), POLICY).valid_until == date(2027, 1, 5)


def test_trial_and_certification_lengths_follow_the_policy() -> None:
    """A one-month trial and a six-month certification change the dates accordingly."""
    policy = ScoringPolicy(trial_months=1, certification_months=6)
    record = SealRecord(precheck_passed_on=date(2026, 1, 5), trial_started_on=date(2026, 1, 5))
    status = seal_status(record, date(2026, 2, 5), policy)
    assert status.phase is SealPhase.ACTIVE
    assert status.valid_until == date(2026, 8, 5)


def test_reasons_name_each_missed_threshold_of_the_next_tier() -> None:
    """A Silber merchant reads, per missed Gold threshold, the figure, its value and the
    threshold, with German decimal commas and English decimal points."""
    aggregate = MerchantAggregate(
        "shop",
        cases=100,
        cases_due=100,
        first_replies=100,
        replies_within_deadline=88,
        reply_hours=(0,) * 6 + (100,) + (0,) * (BUCKET_COUNT - 7),
        closed=100,
        resolved=100,
        ratings=40,
        service=RatingTotals(40, 200),
        reachability=RatingTotals(40, 200),
        reaction_time=RatingTotals(40, 200),
    )
    record = SealRecord(precheck_passed_on=date(2026, 6, 1))
    assessment = assess(aggregate, POLICY, seal=record, on=date(2026, 11, 26))
    assert assessment.tier is Tier.SILBER
    assert assessment.reasons("de") == [
        "Ihre Stufe: Silber.",
        "Die Zertifizierung gilt bis einschließlich 31.05.2027.",
        "Für Gold fehlt: Anteil der Erstantworten innerhalb der Frist (untere"
        " Vertrauensgrenze) ist 80,2 %, nötig sind mindestens 85,0 %.",
        "Für Gold fehlt: Median der Zeit bis zur ersten Antwort ist 6 Geschäftsstunden,"
        " nötig sind höchstens 4 Geschäftsstunden.",
    ]
    assert assessment.reasons("en")[2:] == [
        "For Gold: the share of first replies within the deadline (lower confidence bound)"
        " is 80.2 %, it needs to be at least 85.0 %.",
        "For Gold: the median time to the first reply is 6 business hours, it needs to be"
        " at most 4 business hours.",
    ]


def test_reasons_for_no_tier_name_the_bronze_thresholds() -> None:
    """A merchant without cases reads why it misses Bronze, including "not measurable"."""
    record = SealRecord(precheck_passed_on=date(2026, 6, 1))
    assessment = assess(MerchantAggregate("new"), POLICY, seal=record, on=date(2026, 11, 26))
    reasons = assessment.reasons("en")
    assert reasons[0] == "Currently no seal."
    assert "For Bronze: the number of cases in the window is 0, it needs to be at least 10." in (
        reasons
    )
    assert any("is not measurable" in reason for reason in reasons)


def test_reasons_refuse_an_unknown_language() -> None:
    """Only German and English exist; anything else is an error, not a silent default."""
    record = SealRecord(precheck_passed_on=date(2026, 6, 1))
    assessment = assess(gold_merchant(), POLICY, seal=record, on=date(2026, 11, 26))
    with pytest.raises(ValueError, match="language"):
        assessment.reasons("fr")
