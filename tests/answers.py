"""A party's answer to one of our questions, read as the service reads it: by the verdict
rules alone (`settled`), or by the whole classifier below our question, quoted (`read`)."""

from __future__ import annotations

import classifier
from classifier.verdicts import verdict_answer, verdict_hits

# Per reply context: the subject of our question and its quoted last line.
QUESTIONS = {
    "proposal": (
        "Re: [SSG-2026-000101] Schlichtungsvorschlag",
        "> Bitte antworten Sie mit „annehmen“ oder „ablehnen“.",
    ),
    "solved_question": (
        "Re: [SSG-2026-000101] Kurze Rückfrage: Ist Ihr Problem gelöst?",
        "> Ist Ihr Problem gelöst? Bitte antworten Sie mit „gelöst“ oder „nicht gelöst“.",
    ),
}


def settled(text: str, context: str) -> str | None:
    """What the verdict rules alone settle (None: they leave it to the model)."""
    return verdict_answer(verdict_hits(text, context))


def read(
    model: classifier.Model, context: str, text: str, **thresholds: float
) -> classifier.Classification:
    subject, quote = QUESTIONS[context]
    return classifier.classify(
        subject, f"{text}\n\n{quote}", context=context, model=model, **thresholds
    )
