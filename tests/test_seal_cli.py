"""The operator's seal commands: records of the seal, scores as text and JSON, and
one-line answers to wrong arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.harness import Harness
from tests.sink import Sink


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink)
    running.add_merchant("teeladen", "Teeladen", "service@teeladen.test", "--language", "en")
    yield running
    running.stop()


def test_the_seal_records_are_kept_with_who_and_when(harness: Harness) -> None:
    """Pre-check, trial and certification are stored with the day and the checker; a
    failed re-check withdraws the passed pre-check; the history keeps every record."""
    for arguments in [
        ("precheck", "teeladen", "--passed", "--on", "2026-03-02", "--by", "Anna Prüfer"),
        ("trial", "teeladen", "--start", "2026-03-02", "--by", "Anna Prüfer"),
        ("certify", "teeladen", "--on", "2026-05-02", "--by", "Ben Zert"),
    ]:
        status, output, errors = harness.siegel("merchant", *arguments)
        assert status == 0, errors
        assert "teeladen: " in output
    shown = json.loads(harness.siegel("merchant", "seal", "teeladen", "--json")[1])
    assert (shown["precheck_passed_on"], shown["precheck_by"]) == ("2026-03-02", "Anna Prüfer")
    assert (shown["trial_started_on"], shown["certified_on"]) == ("2026-03-02", "2026-05-02")
    assert (
        harness.siegel("merchant", "precheck", "teeladen", "--failed", "--on", "2026-11-01")[0] == 0
    )
    shown = json.loads(harness.siegel("merchant", "seal", "teeladen", "--json")[1])
    assert shown["precheck_passed_on"] is None
    assert [(h["kind"], h["on"]) for h in shown["history"]] == [
        ("precheck-passed", "2026-03-02"),
        ("trial-started", "2026-03-02"),
        ("certified", "2026-05-02"),
        ("precheck-failed", "2026-11-01"),
    ]
    status, output, _ = harness.siegel("merchant", "seal", "teeladen")
    assert status == 0 and "precheck-failed 2026-11-01" in output


def test_score_explains_every_threshold_as_text_and_json(harness: Harness) -> None:
    """`siegel score` lists each merchant with its tier and phase; for one merchant it
    gives the reasons and every threshold; `--json` has the figures and explanation."""
    harness.siegel("merchant", "precheck", "teeladen", "--passed", "--on", "2026-03-02")
    harness.add_merchant("kaffeehaus", "Kaffeehaus", "service@kaffeehaus.test")
    status, output, _ = harness.siegel("score", "--at", "2026-11-26T04:00")
    lines = output.splitlines()
    assert status == 0 and [line.split()[:3] for line in lines] == [
        ["kaffeehaus", "none", "precheck-missing"],
        ["teeladen", "none", "active"],
    ]
    status, output, _ = harness.siegel("score", "--merchant", "teeladen", "--at", "2026-11-26")
    assert status == 0 and "Currently no seal." not in output  # the operator reads German
    assert "Derzeit kein Siegel." in output
    assert "bronze  cases" in output and "MISSED" in output
    [assessment] = json.loads(harness.siegel("score", "--merchant", "teeladen", "--json")[1])
    assert assessment["merchant"] == "teeladen" and assessment["tier"] == "none"
    assert assessment["figures"]["cases"] == 0 and assessment["figures"]["ratings"] == 0
    assert [e["figure"] for e in assessment["explanation"][:8]] == [
        "cases",
        "ratings",
        "within_deadline_lower",
        "first_reply_hours_median",
        "first_reply_hours_p90",
        "resolution_lower",
        "mediation_upper",
        "rating_overall",
    ]


@pytest.mark.parametrize(
    "arguments, status, complaint",
    [
        (("score", "--at", "gestern"), 2, "--at 'gestern': expected an ISO time"),
        (("score", "--merchant", "unbekannt"), 2, "--merchant 'unbekannt': unknown; one of"),
        (("barometer", "unbekannt"), 1, "no merchant unbekannt"),
        (("ratings", "unbekannt"), 1, "no merchant unbekannt"),
        (("merchant", "precheck", "teeladen", "--passed", "--on", "2.3.2026"), 2,
         "--on '2.3.2026': expected an ISO date"),
        (("merchant", "trial", "unbekannt", "--start", "2026-03-02"), 1, "no merchant unbekannt"),
        (("merchant", "precheck", "teeladen", "--passed", "--on", "2999-01-01"), 2,
         "--on 2999-01-01: a day after today"),
        (("merchant", "certify", "teeladen", "--on", "2999-01-01"), 2,
         "--on 2999-01-01: a day after today"),
        (("merchant", "trial", "teeladen", "--start", "1900-01-01"), 2,
         "--start 1900-01-01: before 2000-01-01, a typing error?"),
        (("merchant", "trial", "teeladen", "--start", "2099-01-01"), 2,
         "--start 2099-01-01: more than a year ahead"),
        (("merchant", "certify", "teeladen", "--on", "0999-12-31"), 2, "before 2000-01-01"),
    ],
)  # fmt: skip
def test_a_wrong_argument_is_one_line_and_an_exit_status(
    harness: Harness, arguments: tuple[str, ...], status: int, complaint: str
) -> None:
    """A bad time, date or filter value is a usage error (2); an unknown merchant named
    as the subject of a command a failure (1)."""
    code, output, errors = harness.siegel(*arguments)
    assert (code, output) == (status, "")
    assert complaint in errors and len(errors.strip().splitlines()) == 1


def test_precheck_needs_an_outcome(harness: Harness) -> None:
    """`merchant precheck` without --passed or --failed is refused by the parser: one
    line naming the options, exit 2."""
    code, output, errors = harness.siegel("merchant", "precheck", "teeladen")
    assert (code, output) == (2, "")
    assert "--passed" in errors and len(errors.strip().splitlines()) == 1
