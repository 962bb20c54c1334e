"""The seal end to end: a merchant's cases and ratings arrive as real mail (SMTP in,
worker, relay to the sink), `siegel score --apply` gives it a tier and mails it the
reasons; when it stops answering, the sweep escalates its cases and it loses the tier.
The public barometer carries figures only, nothing about a person.

The thresholds are lowered in the test's [scoring] section (Bronze from four cases and
three ratings), so that a handful of mails is a meaningful sample.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.harness import Harness, addressed_to, compose, plain
from tests.sink import Received, Sink
from tests.test_cases_e2e import MERCHANT, REF

SCORING = {
    "bronze_min_cases": 4,
    "bronze_min_ratings": 3,
    "bronze_min_within_deadline": 0.4,
    "bronze_min_resolution": 0.3,
    "bronze_max_mediation": 0.6,
}
CUSTOMERS = [f"kundin{n}@example.org" for n in range(8)]
PRAISE = "Sehr freundlicher Kundendienst"


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, sink: Sink) -> Iterator[Harness]:
    running = Harness(engine, tmp_path, sink, scoring=SCORING)
    running.add_merchant("moebel-fuchs", "Möbel Fuchs", MERCHANT, "--language", "de")
    yield running
    running.stop()


def complain(harness: Harness, customer: str) -> tuple[str, Received]:
    """A complaint about the merchant; its reference and the mail the merchant got."""
    text = "Mein Sofa kam mit einem Riss im Bezug an. Bitte um Ersatz.\n\nViele Grüße\nKundin"
    to = "beschwerde+moebel-fuchs@siegel.test"
    harness.send(compose(f"Kundin <{customer}>", to, "Sofa beschädigt", text))
    [forward] = addressed_to(harness.process(), MERCHANT)
    found = REF.search(forward.message["Subject"])
    assert found
    return found.group(1), forward


def served_and_rated(harness: Harness, customer: str, rating: str) -> str:
    """The merchant answers, the customer says solved and rates: a good case."""
    ref, forward = complain(harness, customer)
    harness.send(harness.reply(forward, MERCHANT, "Wir tauschen den Bezug kostenlos aus."))
    [forwarded] = addressed_to(harness.process(), customer)
    harness.send(harness.reply(forwarded, customer, "Ja, danke, das Problem ist gelöst."))
    # One mail: the case is closed as resolved, and the rating request is in it.
    [request] = addressed_to(harness.process(), customer)
    assert "Wie zufrieden" in plain(request)
    harness.send(harness.reply(request, customer, rating))
    assert [kind for _, kind in harness.sent(harness.process())] == ["customer.rating_thanks"]
    return ref


def scored(harness: Harness, *arguments: str) -> dict:
    status, output, errors = harness.siegel(
        "score", "--merchant", "moebel-fuchs", "--json", *arguments
    )
    assert status == 0, errors
    [assessment] = json.loads(output)
    return assessment


def test_a_merchant_earns_a_tier_by_mail_and_loses_it_when_it_stops_answering(
    harness: Harness,
) -> None:
    """Four complaints answered at once, solved and rated: with a passed pre-check the
    merchant reaches Bronze and is told so with the reasons. Then four complaints go
    unanswered; past their deadlines the sweep sends them to mediation, and the next
    recompute takes the tier away, again with the reasons."""
    assert (
        harness.siegel("merchant", "precheck", "moebel-fuchs", "--passed", "--by", "Prüfer")[0] == 0
    )
    ratings = [
        f"Service: 5\nErreichbarkeit: 5\nReaktionszeit: 4\nLob: {PRAISE}",
        "5 4 5",
        "Service: sehr gut, Erreichbarkeit: gut, Reaktionszeit: sehr gut",
        "4/5/5\n\nDanke!",
    ]
    for customer, rating in zip(CUSTOMERS[:4], ratings, strict=True):
        served_and_rated(harness, customer, rating)

    before = scored(harness)
    assert (before["tier"], before["previous_tier"]) == ("bronze", "none")
    figures = before["figures"]
    assert (figures["cases"], figures["ratings"], figures["replies_within_deadline"]) == (4, 4, 4)
    assert (figures["resolved"], figures["mediated"]) == (4, 0)
    assert len(before["explanation"]) == 24
    assert {entry["tier"] for entry in before["explanation"]} == {"bronze", "silber", "gold"}

    status, output, _ = harness.siegel("score", "--apply")
    assert status == 0 and "moebel-fuchs: none → bronze (mail queued)" in output
    [earned] = harness.process()
    assert harness.sent([earned]) == [(MERCHANT, "merchant.tier_changed")]
    text = " ".join(plain(earned).split())
    assert "bisher kein Siegel, jetzt Bronze" in text
    assert "- Ihre Stufe: Bronze." in text and "Für Silber fehlt: Zahl der Fälle" in text

    unanswered = [complain(harness, customer)[0] for customer in CUSTOMERS[4:]]
    deadlines = [
        datetime.fromisoformat(harness.case(ref)["deadlines"]["merchant_reply"])
        for ref in unanswered
    ]
    after_deadlines = max(deadlines) + timedelta(minutes=1)
    harness.sweep(after_deadlines)
    assert {harness.case(ref)["state"] for ref in unanswered} == {"in_mediation"}

    at = after_deadlines.isoformat()
    dropped = scored(harness, "--at", at)
    assert (dropped["tier"], dropped["previous_tier"]) == ("none", "bronze")
    assert dropped["figures"]["cases_due"] == 8 and dropped["figures"]["mediated"] == 4
    missed = {e["figure"] for e in dropped["explanation"] if e["tier"] == "bronze" and not e["met"]}
    assert {"within_deadline_lower", "mediation_upper"} <= missed
    assert harness.siegel("score", "--apply", "--at", at)[0] == 0
    [lost] = harness.process()
    assert harness.sent([lost]) == [(MERCHANT, "merchant.tier_changed")]
    text = " ".join(plain(lost).split())
    assert "bisher Bronze, jetzt kein Siegel" in text and "- Derzeit kein Siegel." in text
    assert "Für Bronze fehlt: Anteil der Erstantworten innerhalb der Frist" in text

    status, output, _ = harness.siegel("merchant", "seal", "moebel-fuchs", "--json")
    history = json.loads(output)["history"]
    assert [(h["kind"], h["tier_after"]) for h in history] == [
        ("precheck-passed", None),
        ("tier-changed", "bronze"),
        ("tier-changed", "none"),
    ]
    assert history[0]["actor"] == "Prüfer"
    assert history[2]["assessment"]["figures"]["cases"] == 8


def test_the_barometer_shows_figures_and_no_personal_data(harness: Harness) -> None:
    """`siegel barometer --json`: tier, counts, shares, reply times, rating means and
    their distribution; no customer's name, address or words, no merchant address."""
    harness.siegel("merchant", "precheck", "moebel-fuchs", "--passed")
    ref = served_and_rated(
        harness, CUSTOMERS[0], f"Service: 5\nErreichbarkeit: 4\nReaktionszeit: 4\nLob: {PRAISE}"
    )
    status, output, errors = harness.siegel("barometer", "moebel-fuchs", "--json")
    assert status == 0, errors
    barometer = json.loads(output)
    assert barometer["merchant"] == "moebel-fuchs" and barometer["tier"] == "none"
    assert barometer["figures"]["cases"] == 1 and barometer["figures"]["resolved"] == 1
    rated = barometer["ratings"]
    assert rated["count"] == 1 and rated["service"]["mean"] == 5
    assert rated["reachability"]["scores_1_to_5"] == [0, 0, 0, 1, 0]
    personal = [CUSTOMERS[0], "Kundin", PRAISE, MERCHANT, "Riss", ref, "@"]
    assert [word for word in personal if word in output] == []
