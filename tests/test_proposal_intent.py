"""Answers to a mediator's proposal: only an explicit statement accepts or rejects.

An acceptance by both parties closes the case as settled and a rejection ends the
proposal, so an undecided, conditional or negated answer, and one the intent model is
not sure of, must be a message. The verdict rules (`classifier.verdicts`) are read
first; the model decides the rest only at `[classifier] proposal_threshold` or above.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import classifier
from classifier.records import OTHER
from classifier.verdict_words import ACCEPT, REJECT
from classifier.verdicts import verdict_hits
from mailflow import casework, parsing
from mailflow.config import ConfigError, load, parse
from tests.answers import read, settled

REPO = Path(__file__).resolve().parents[1]

# What a black-box tester sent by SMTP, and what the service did with it before.
TESTER = [
    "We are still checking this internally.",  # was: ProposalRejected, reject 0.68
    "Ich lehne den Vorschlag nicht ab, brauche aber noch Bedenkzeit.",  # reject 0.76
    "Einverstanden wären wir nur, wenn der Kunde das Regal vorher zurückschickt.",  # accept
]
CLEAR = [
    ("Ja, wir nehmen den Vorschlag an.", "accept"),
    ("I accept the proposal.", "accept"),
    ("Wir lehnen den Vorschlag ab.", "reject"),
    ("No, I do not accept this.", "reject"),
    ("Einverstanden, wir erstatten den Betrag.", "accept"),
    ("Mit dem Vorschlag sind wir nicht einverstanden.", "reject"),
    ("Den Vorschlag nehme ich nicht an, 20 € sind zu wenig.", "reject"),
    ("We don’t accept this; the item was used.", "reject"),
]
UNDECIDED = [
    "Wir prüfen das noch und melden uns innerhalb der Frist.",
    "Das müssen wir intern noch klären.",
    "Ich brauche etwas Bedenkzeit.",
    "Kann ich mir das bis nächste Woche überlegen?",
    "I need more time to think about it.",
    "Let me think it over, I'll get back to you.",
    "Our legal team is still reviewing the proposal.",
    "I don't reject the proposal, but I need some time.",
    "Den Vorschlag nehmen wir noch nicht an.",
]
CONDITIONAL = [
    "Wir nehmen den Vorschlag an, aber nur, wenn die Abholung kostenlos ist.",
    "Unter der Bedingung, dass der Händler die Rücksendung zahlt, stimme ich zu.",
    "Einverstanden, vorausgesetzt das Geld ist bis Freitag da.",
    "Wir sind einverstanden, sofern der Kunde die Rechnung mitschickt.",
    "I accept only if they also refund the postage.",
    "We agree to the proposal provided that the customer returns the shelf first.",
    "We will accept on condition that the refund goes to the original card.",
    "As long as I can keep the chair, I accept.",
    "I would accept if the shop pays for the courier.",
]
NEGATED_REJECTION = [
    "Ich lehne den Vorschlag nicht ab.",
    "Ablehnen möchte ich den Vorschlag nicht.",
    "We are not rejecting it.",
]


def _answer(text: str) -> str | None:
    return settled(text, "proposal")


# ------------------------------------------------------------------ the verdict rules


@pytest.mark.parametrize("text", TESTER + UNDECIDED + CONDITIONAL + NEGATED_REJECTION)
def test_undecided_conditional_and_negated_rejections_are_no_verdict(text: str) -> None:
    """The rules settle these as no answer, whatever the model would say."""
    assert _answer(text) == OTHER


@pytest.mark.parametrize(("text", "intent"), CLEAR)
def test_explicit_verdicts_are_stated(text: str, intent: str) -> None:
    """An explicit acceptance or rejection, and a negated acceptance ("nicht
    einverstanden", "I do not accept"), which is a clear rejection."""
    assert _answer(text) == (ACCEPT if intent == "accept" else REJECT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A negated rejection followed by an acceptance accepts.
        ("Ich lehne ihn nicht ab – im Gegenteil, ich nehme ihn an.", ACCEPT),
        ("I don't reject it, I accept it.", ACCEPT),
        # A concession is no condition; a condition in another sentence is none either.
        ("Ich nehme an, auch wenn es mir schwerfällt.", ACCEPT),
        ("I accept, even if it is less than I wanted.", ACCEPT),
        ("Wir nehmen den Vorschlag an. Falls Sie Fragen haben, melden Sie sich.", ACCEPT),
        ("Keine Einwände.", ACCEPT),
        # An idiom's negator says yes; "niemand" says no (a review found both read the
        # other way round: a rejection, and an acceptance nobody gave).
        ("Yes. I couldn't agree more.", ACCEPT),
        ("Niemand hier ist einverstanden.", REJECT),
        ("Einverstanden ist aber noch niemand.", OTHER),
        ("Kommt für uns nicht in Frage.", REJECT),
        # A verdict in a question, reported of another party or about a fact is none.
        ("Was passiert, wenn ich ablehne?", None),
        ("Annehmen? Sicher nicht. Ich lehne ab.", REJECT),
        ("If I accept, do I have to send the oven back?", None),
        ("I agree with the customer that the parcel was late.", None),
        ("Ich nehme an, dass der Händler zahlt.", None),
        # Partial, or both at once: no verdict.
        ("Ich bin nicht ganz einverstanden.", OTHER),
        ("I accept the refund but not the return at my cost.", OTHER),
        ("I accept the refund. I reject the voucher.", OTHER),
        ("Gegenvorschlag: 60 € statt 40 €.", OTHER),
        ("Wir lehnen ab. Gegenvorschlag: 60 €.", REJECT),
    ],
)
def test_the_rules_read_what_is_said(text: str, expected: str | None) -> None:
    assert _answer(text) == expected


# ------------------------------------------------------------------ with the model


@pytest.fixture(scope="module")
def model() -> classifier.Model:
    return classifier.default_model()


def _intent(model: classifier.Model, text: str, **options: float) -> classifier.Classification:
    return read(model, "proposal", text, **options)


@pytest.mark.parametrize("text", TESTER + UNDECIDED[:3] + CONDITIONAL[:3])
def test_the_tester_sentences_are_messages(model: classifier.Model, text: str) -> None:
    """Read as the service reads them: no acceptance, no rejection."""
    reading = _intent(model, text)
    assert reading.intent == "other"
    assert "intent-rules" in [rule["rule"] for rule in reading.rules]


@pytest.mark.parametrize(("text", "intent"), CLEAR)
def test_clear_answers_still_act(model: classifier.Model, text: str, intent: str) -> None:
    assert _intent(model, text).intent == intent


@pytest.mark.parametrize("text", ["Hmm.", "Geht klar.", "Schade.", "Sounds good."])
def test_the_model_alone_decides_only_when_sure(model: classifier.Model, text: str) -> None:
    """No rule fires on these: below the threshold the model's verdict is a message; at
    a threshold of 0.5 its own label stands."""
    strict, loose = _intent(model, text), _intent(model, text, proposal_threshold=0.5)
    [said] = [rule["detail"] for rule in loose.rules if rule["rule"] == "intent-model"]
    label, probability = said.split()[0], float(said.split()[1])
    assert not [rule for rule in loose.rules if rule["rule"].startswith("proposal-")]
    assert loose.intent == label
    if label != "other" and probability < classifier.DEFAULT_PROPOSAL_THRESHOLD:
        assert strict.intent == "other"
        assert "intent-unsure" in [rule["rule"] for rule in strict.rules]


def test_the_solved_question_has_rules_of_its_own(model: classifier.Model) -> None:
    """The proposal's words are not read in an answer to "is your problem solved?", nor
    its threshold: that question has its own (tests/test_solved_intent.py)."""
    reading = classifier.classify(
        "Re: Ist Ihr Problem gelöst?",
        "Ja, gelöst, danke! Den Vorschlag nehme ich an.",
        context="solved_question",
        model=model,
        proposal_threshold=1.0,
    )
    assert reading.intent == "resolved"
    assert not [rule for rule in reading.rules if rule["rule"].startswith(("proposal", "intent-u"))]


# ------------------------------------------------------------------ configuration
# Both thresholds of `[classifier]`: the proposal's and that of "is your problem solved?"
# (tests/test_solved_intent.py), each with a reply that no rule reads.
THRESHOLDS = [
    ("proposal_threshold", "DEFAULT_PROPOSAL_THRESHOLD", "proposal", "Geht klar."),
    ("solved_threshold", "DEFAULT_SOLVED_THRESHOLD", "solved_question", "Hmm."),
]
KEYS = [key for key, *_ in THRESHOLDS]


@pytest.mark.parametrize(("key", "default"), [(key, default) for key, default, *_ in THRESHOLDS])
def test_the_shipped_config_states_the_default_threshold(key: str, default: str) -> None:
    config = load(REPO / "config.toml", environ={})
    assert getattr(config.classifier, key) == getattr(classifier, default)
    assert getattr(parse({}, REPO, {}).classifier, key) == getattr(config.classifier, key)


@pytest.mark.parametrize("key", [*KEYS, "praise_threshold"])
@pytest.mark.parametrize("value", [0.3, 1.5, "hoch"])
def test_a_wrong_threshold_names_its_key(key: str, value: object, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        parse({"classifier": {key: value}}, tmp_path, {})
    assert error.value.key == f"[classifier] {key}"


@pytest.mark.parametrize(("key", "context", "text"), [(k, c, t) for k, _, c, t in THRESHOLDS])
def test_the_cases_read_with_the_configured_threshold(
    model: classifier.Model,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    key: str,
    context: str,
    text: str,
) -> None:
    """`casework.Reader`, through which the cases call the classifier, passes it on."""
    monkeypatch.setattr(casework, "model", lambda config: model)
    raw = (
        b"From: kunde@example.org\r\nTo: fall@siegel.test\r\nSubject: Re: Fall\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode() + b"\r\n"
    )
    readings = {
        threshold: casework.Reader(
            parsing.parse(raw), parse({"classifier": {key: threshold}}, tmp_path, {})
        )(context)
        for threshold in (0.5, 1.0)
    }
    loose = classifier.classify("Re: Fall", text, context=context, model=model, **{key: 0.5})
    assert readings[1.0].intent == "other"
    assert readings[0.5].intent == loose.intent != "other"


def test_the_rules_read_a_long_text_in_linear_time() -> None:
    """A merchant's mail of 100 KB without a full stop costs milliseconds, not minutes:
    every look around a verdict word stays within a few words."""
    started = time.perf_counter()
    verdict_hits("wir lehnen nicht einverstanden an " * 3000, "proposal")
    verdict_hits("a " * 50_000, "proposal")
    assert time.perf_counter() - started < 2.0
