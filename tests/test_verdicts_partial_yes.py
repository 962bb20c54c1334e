"""A partial "yes" and a "yes" to another question close nothing (`classifier.verdicts`).

"Solved" closes the case as resolved for good and improves the merchant's figures, so
the merchant gains from a false "solved". A "yes" that goes on to name what is still
missing ("Ja, die Ware ist da, nur die Gutschrift fehlt noch"), "solved" said of one part
only ("Gelöst wurde nur die Frage der Rücksendung"), and a bare "yes" that takes an offer
the merchant asked about in its reply ("Dürfen wir Ihnen einen Gutschein schicken?" -
"Ja, gerne, schicken Sie mir den Gutschein") are read as "ja, aber die Rechnung fehlt
noch" is: no answer, whatever the model would say.
"""

from __future__ import annotations

import pytest

import classifier
from classifier.records import OTHER
from classifier.verdict_words import NOT_RESOLVED, RESOLVED
from classifier.verdicts import verdict_hits
from tests.answers import settled

SOLVED = "solved_question"

# (answer, the rule that must keep it from closing)
PARTIAL, REQUEST = "solved-partial", "solved-request"
PARTIAL_YES = [
    ("Ja, aber die Rechnung fehlt noch.", PARTIAL),
    ("Ja, die neue Mühle ist da, aber die Abholung der alten hat niemand organisiert.", PARTIAL),
    ("Yes, the tablet arrived, but nobody has picked up the broken one yet.", PARTIAL),
    ("Ja, die Ware ist da, nur die Gutschrift für das Porto fehlt noch.", PARTIAL),
    ("Gelöst wurde nur die Frage der Rücksendung, das Geld fehlt.", PARTIAL),
    ("Ja, die Ware ist da. Die Gutschrift fehlt mir noch.", PARTIAL),
    ("Yes, it arrived, however the charger hasn't been sent.", PARTIAL),
    ("Ja, die Lampe ist da, allerdings hat die alte bis heute niemand abgeholt.", PARTIAL),
    ("Yes, the goods arrived, only the postage refund is outstanding.", PARTIAL),
    ("Only the return was sorted, the money is missing.", PARTIAL),
    ("Ja, die Erstattung der Versandkosten steht aber noch aus.", PARTIAL),
    # A "yes" to the merchant's own question: it takes an offer, it says nothing solved.
    ("Ja, gerne, schicken Sie mir den Gutschein.", REQUEST),
    ("Yes please, send me the voucher.", REQUEST),
    ("Ja. Bitte schicken Sie mir den Gutschein.", REQUEST),
    ("Ja gerne.", REQUEST),
    ("Yes, I'd like the voucher.", REQUEST),
    ("Yes, send me the voucher.", REQUEST),
]
# Still "solved", and still "not solved".
CLEAR = [
    ("Ja.", RESOLVED),
    ("Ja, danke!", RESOLVED),
    ("Ja, das Problem ist gelöst.", RESOLVED),
    ("Yes, all sorted, thank you.", RESOLVED),
    ("Ja, alles erledigt, vielen Dank für die schnelle Hilfe.", RESOLVED),
    ("Yes, the refund arrived, thanks.", RESOLVED),
    ("Ja, die Ware ist angekommen, danke.", RESOLVED),
    ("Ja, danke. Hat zwar lange gedauert, aber jetzt ist alles gut.", RESOLVED),
    ("Ja, bitte schließen Sie den Fall.", RESOLVED),
    ("Yes, please close the case.", RESOLVED),
    ("Yes, I'd like to thank you for your help.", RESOLVED),
    ("Ja, danke, gerne wieder!", RESOLVED),
    ("It was solved only after three weeks.", RESOLVED),
    ("Honestly didn't think this would work but yes, they repaired it. Problem solved.", RESOLVED),
    ("Moin, jo, Fischpaket kam doch noch, war auch noch gut. Alles klar soweit.", RESOLVED),
    # A "yes" in so many words stays one, whatever else the reply asks (review findings)
    ("Ja gerne, alles erledigt.", RESOLVED),
    ("Ja bitte, den Fall können Sie schließen.", RESOLVED),
    ("Yes please, you can close it.", RESOLVED),
    ("Ja, gelöst. Bitte senden Sie mir keine Mails mehr.", RESOLVED),
    ("Ja, gelöst, ich möchte mich gerne bedanken.", RESOLVED),
    ("Yes, solved, I'd like a copy of the case file.", RESOLVED),
    ("Nein, noch nicht.", NOT_RESOLVED),
    ("Not yet, nobody has picked it up.", NOT_RESOLVED),
    ("Yes they replied, but no, the problem isn't solved.", NOT_RESOLVED),
    ("Nicht wirklich gelöst, nur verschoben.", NOT_RESOLVED),
]


@pytest.mark.parametrize(("text", "rule"), PARTIAL_YES)
def test_a_partial_yes_or_a_yes_to_an_offer_is_no_answer(text: str, rule: str) -> None:
    assert settled(text, SOLVED) == OTHER
    assert rule in [hit.rule for hit in verdict_hits(text, SOLVED)]


@pytest.mark.parametrize(("text", "expected"), CLEAR)
def test_clear_answers_stay_clear(text: str, expected: str) -> None:
    assert settled(text, SOLVED) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I'd like the mediation to start, please.",  # no "yes": the model reads it
        "Die andere Hälfte fehlt immer noch.",
    ],
)
def test_a_request_or_a_still_not_without_a_yes_is_left_to_the_model(text: str) -> None:
    assert settled(text, SOLVED) is None


@pytest.fixture(scope="module")
def model() -> classifier.Model:
    return classifier.default_model()


# The merchant's reply, forwarded to the customer with our question, asks a yes/no
# question of its own; the customer's reply quotes it.
SET_UP = [
    (
        "Ja, gerne, schicken Sie mir den Gutschein.",
        "> Dürfen wir Ihnen stattdessen einen Gutschein über 20 Euro schicken? "
        "Antworten Sie einfach mit Ja oder Nein.",
    ),
    (
        "Yes please, send me the voucher.",
        "> Would a 20 EUR store voucher in the meantime be OK for you? Just reply yes or no.",
    ),
]


@pytest.mark.parametrize(("text", "quote"), SET_UP + [(text, "") for text, _ in PARTIAL_YES[:5]])
def test_the_service_does_not_close_on_them(model: classifier.Model, text: str, quote: str) -> None:
    """Read as the service reads them: the rules decide, the model cannot close."""
    subject = "Re: [SSG-2026-000101] Kurze Rückfrage: Ist Ihr Problem gelöst?"
    ours = "> Ist Ihr Problem gelöst? Bitte antworten Sie mit „gelöst“ oder „nicht gelöst“."
    body = f"{text}\n\n{quote}\n{ours}" if quote else f"{text}\n\n{ours}"
    reading = classifier.classify(subject, body, context=SOLVED, model=model)
    assert reading.intent == "other"
    assert "intent-rules" in [rule["rule"] for rule in reading.rules]
