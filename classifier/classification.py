"""Classifying a mail: the ordered chain of reply extraction, language, automatic-reply
rules and the models, with every step that fired recorded.

Owns `Classification`, `classify` and `classify_many`. The chain, for each mail:
1. reply extraction: only the new part is classified (quotes and signatures stripped);
2. language of the new part;
3. automatic-reply text rules (`classifier.autoreply`); a decisive rule settles the kind;
4. the models: category (calibrated confidence; below the triage threshold the mail is
   marked for triage but keeps its label), reply intent when a context is given, and the
   automatic-reply model when no decisive rule fired.
The batch path extracts all mails first and vectorises all their texts in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from classifier import autoreply
from classifier import records as rec
from classifier.inference import FastCalibrated
from classifier.language import decide_language, language_scores
from classifier.model import Model, train
from classifier.replies import Reply, extract_reply

DEFAULT_TRIAGE_THRESHOLD = 0.6
# Mails vectorised together: large enough to amortise the per-call costs, small enough
# that the n-gram arrays of one batch stay a few megabytes.
BATCH_SIZE = 256
# The automatic-reply model must be this sure before it overrides "human"; a missed
# auto-reply only delays a clock stop, a false one stops a merchant's clock unfairly.
AUTO_REPLY_MODEL_THRESHOLD = 0.5
# With an evidence-only rule of the same kind, this much model probability suffices.
AUTO_REPLY_EVIDENCE_THRESHOLD = 0.3


@dataclass(frozen=True)
class Classification:
    category: str | None
    confidence: float
    language: str
    intent: str | None
    auto_reply: bool
    auto_reply_kind: str  # "out_of_office", "ticket_ack", "delivery_failure" or "human"
    needs_triage: bool
    rules: tuple[dict[str, str], ...]  # {"rule": dashed id, "detail": why}, in chain order
    new_text: str


@cache
def default_model() -> Model:
    """A model trained on the data shipped in `classifier/data/train` (once per process)."""
    return train(rec.read_records(rec.TRAIN_DIR))


def classify(
    subject: str,
    body: str,
    html: str | None = None,
    context: str | None = None,
    model: Model | None = None,
    triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
) -> Classification:
    """Classify one mail's new part. `context` ("solved_question" or "proposal") asks for
    the reply intent; `model` defaults to one trained on the shipped data."""
    mail = {"subject": subject, "body": body, "html": html, "context": context}
    return classify_many([mail], model=model, triage_threshold=triage_threshold)[0]


def classify_many(
    mails: Sequence[Mapping[str, Any]],
    model: Model | None = None,
    triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
) -> list[Classification]:
    """Classify many mails (mappings with "subject", "body" and optional "html",
    "context"), vectorising the texts of up to `BATCH_SIZE` mails in one call."""
    model = model or default_model()
    results: list[Classification] = []
    for start in range(0, len(mails), BATCH_SIZE):
        results.extend(_classify_batch(mails[start : start + BATCH_SIZE], model, triage_threshold))
    return results


def _classify_batch(
    mails: Sequence[Mapping[str, Any]], model: Model, triage_threshold: float
) -> list[Classification]:
    replies = [extract_reply(mail.get("body") or "", mail.get("html")) for mail in mails]
    subjects = [mail.get("subject") or "" for mail in mails]
    texts: dict[str, int] = {}

    def row_of(text: str) -> int:
        return texts.setdefault(text, len(texts))

    category_rows, auto_rows, intent_rows = [], [], []
    for subject, reply, mail in zip(subjects, replies, mails, strict=True):
        category_text = rec.model_text(subject, reply, rec.COMPLAINT)
        category_rows.append(row_of(category_text))
        # Same text unless the category had to read the quote.
        if rec.category_reads_quote(reply):
            auto_rows.append(row_of(rec.model_text(subject, reply, rec.AUTO_REPLY)))
        else:
            auto_rows.append(category_rows[-1])
        context = mail.get("context")
        intent_rows.append(row_of(rec.model_text(subject, reply, rec.INTENT)) if context else -1)
    features = model.featuriser.transform(list(texts))
    category = _predict(model.fast_category, features, category_rows)
    auto_kind = _predict(model.fast_auto_reply, features, auto_rows)
    intent_by_mail: dict[int, Prediction] = {}
    for context, classifier in model.fast_intent.items():
        chosen = [i for i, mail in enumerate(mails) if mail.get("context") == context]
        predictions = _predict(classifier, features, [intent_rows[i] for i in chosen]) or []
        intent_by_mail.update(zip(chosen, predictions, strict=True))
    return [
        _decide(
            subject,
            reply,
            mail.get("context"),
            category[index] if category else None,
            auto_kind[index] if auto_kind else None,
            intent_by_mail.get(index),
            triage_threshold,
        )
        for index, (subject, reply, mail) in enumerate(zip(subjects, replies, mails, strict=True))
    ]


# Label, probability, runner-up description, probability of every label.
Prediction = tuple[str, float, str, dict[str, float]]


def _predict(
    classifier: FastCalibrated | None, features: Any, rows: list[int]
) -> list[Prediction] | None:
    if classifier is None or not rows:
        return None
    labels, matrix = classifier.labels, classifier.predict_proba(features[rows])
    predictions = []
    for row in matrix:
        order = row.argsort()[::-1]
        best, second = order[0], order[1] if len(order) > 1 else order[0]
        runner_up = f"{labels[second]} {row[second]:.2f}"
        everything = {label: float(p) for label, p in zip(labels, row, strict=True)}
        predictions.append((labels[best], float(row[best]), runner_up, everything))
    return predictions


def _decide(
    subject: str,
    reply: Reply,
    context: str | None,
    category: Prediction | None,
    auto_kind: Prediction | None,
    intent: Prediction | None,
    triage_threshold: float,
) -> Classification:
    rules: list[dict[str, str]] = []
    for marker in reply.markers:
        rules.append({"rule": marker, "detail": f"new text {len(reply.new_text)} characters"})
    if rec.category_reads_quote(reply):
        rules.append(
            {"rule": "quote-fallback", "detail": "new text too short: category from the quote"}
        )
    scores = language_scores(f"{subject}\n{reply.new_text}")
    language = decide_language(scores)
    rules.append(
        {
            "rule": "language",
            "detail": f"{language} (" + ", ".join(f"{k} {v:g}" for k, v in scores.items()) + ")",
        }
    )
    hits = autoreply.match_auto_reply(subject, reply.new_text)
    rules.extend({"rule": hit.rule, "detail": hit.detail} for hit in hits)
    kind = autoreply.decisive_kind(hits)
    if kind is None and auto_kind is not None:
        label, probability, runner_up, everything = auto_kind
        rules.append(
            {"rule": "auto-reply-model", "detail": f"{label} {probability:.2f} (next {runner_up})"}
        )
        if label != autoreply.HUMAN and probability >= AUTO_REPLY_MODEL_THRESHOLD:
            kind = label
        else:
            # A rule that is only evidence tips a model that is undecided about its kind.
            supported = [
                k
                for k in autoreply.evidence_kinds(hits)
                if everything.get(k, 0.0) >= AUTO_REPLY_EVIDENCE_THRESHOLD
            ]
            kind = supported[0] if supported else None
    kind = kind or autoreply.HUMAN
    if category is None:
        label, confidence = None, 0.0
        rules.append({"rule": "category-model", "detail": "no category model trained"})
    else:
        label, confidence, runner_up, _ = category
        rules.append(
            {"rule": "category-model", "detail": f"{label} {confidence:.2f} (next {runner_up})"}
        )
    needs_triage = confidence < triage_threshold
    if needs_triage:
        rules.append(
            {"rule": "low-confidence", "detail": f"{confidence:.2f} < {triage_threshold:.2f}"}
        )
    intent_label = None
    if context is not None:
        if intent is None:
            rules.append({"rule": "intent-model", "detail": f"no intent model for {context!r}"})
        else:
            intent_label, probability, runner_up, _ = intent
            rules.append(
                {
                    "rule": "intent-model",
                    "detail": f"{intent_label} {probability:.2f} (next {runner_up}; {context})",
                }
            )
    return Classification(
        category=label,
        confidence=confidence,
        language=language,
        intent=intent_label,
        auto_reply=kind != autoreply.HUMAN,
        auto_reply_kind=kind,
        needs_triage=needs_triage,
        rules=tuple(rules),
        new_text=reply.new_text,
    )
