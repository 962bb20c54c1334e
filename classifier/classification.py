"""Classifying a mail: the ordered chain of reply extraction, language, automatic-reply
rules and the models, with every step that fired recorded.

Owns `Classification`, `classify` and `classify_many`. The chain, for each mail:
1. reply extraction: only the sender's own text is classified (`Reply.own_text`: quotes,
   also the quoted lines an interleaved reply answers, and signatures stripped);
2. language of the own text;
3. automatic-reply text rules (`classifier.autoreply`); a decisive rule settles the kind;
4. the models: category (calibrated confidence; below the triage threshold the mail is
   marked for triage but keeps its label), reply intent when a context is given, and the
   automatic-reply model when no decisive rule fired.
Two answers act: to a proposal (accepted by both, the case closes settled) and to "is
your problem solved?" (solved closes the case for good, not solved sends it to
mediation). So for both the verdict rules (`verdicts.verdict_hits`: stated, denied,
reserved) decide first, and the intent model decides the rest only when it is at least
`proposal_threshold` sure of an acceptance or a rejection, `solved_threshold` sure of
"solved"; below that the reply answers nothing: it is a message, and the question stays
open. "Not solved" from the model alone needs no more than to be its reading: it is the
customer's right, and the rules have already taken every hedge out.
The batch path extracts all mails first, then featurises and scores all their texts with
a few array operations per batch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple

import numpy as np

from classifier import autoreply
from classifier import records as rec
from classifier.features import count_ngrams
from classifier.inference import LinearHead, row_sums
from classifier.intent_cues import intent_inputs
from classifier.language import decide_language, language_scores, language_scores_many
from classifier.model import Model, train
from classifier.records import OTHER, PROPOSAL, SOLVED_QUESTION
from classifier.replies import Reply, extract_reply
from classifier.verdict_words import RESOLVED
from classifier.verdicts import verdict_answer, verdict_hits

DEFAULT_TRIAGE_THRESHOLD = 0.6
# How sure the intent model alone must be to accept or reject a proposal (`[classifier]
# proposal_threshold`): a wrong verdict closes a case or ends a proposal, a missed one
# only leaves the reply to the mediator as a message. By cross-validation on the training
# data, no wrong verdict is left from 0.8 on.
DEFAULT_PROPOSAL_THRESHOLD = 0.9
# How sure the intent model alone must be that a customer's answer says "solved"
# (`[classifier] solved_threshold`): a wrong "solved" closes the case for good, a missed
# one asks the customer again. By cross-validation on the training data (with the verdict
# rules), no wrong "solved" is left from 0.8 on, and no wrong "not solved" at any
# probability: "not solved" from the model alone needs no threshold.
DEFAULT_SOLVED_THRESHOLD = 0.9
# The answers the model alone gives only at the context's threshold or above.
_SURE_ANSWERS = {PROPOSAL: frozenset(rec.INTENT_BY_ANSWER[PROPOSAL]) - {OTHER}}
_SURE_ANSWERS[SOLVED_QUESTION] = frozenset({RESOLVED})
# Mails featurised together: large enough to amortise the per-call costs of numpy, small
# enough that the arrays of one batch stay a few megabytes.
BATCH_SIZE = 256
_WORD = re.compile(r"\w")
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
    # The reply as a person reads it, for showing and forwarding: in an interleaved reply
    # with the quoted lines it answers (`Reply.new_text`).
    new_text: str
    # Only the lines the sender wrote (`Reply.own_text`): what every model and rule here
    # read, and all that may act (commands, answers, ratings).
    own_text: str


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
    proposal_threshold: float = DEFAULT_PROPOSAL_THRESHOLD,
    solved_threshold: float = DEFAULT_SOLVED_THRESHOLD,
) -> Classification:
    """Classify one mail's own text. `context` ("solved_question" or "proposal") asks for
    the reply intent (another raises ValueError); `model` defaults to one trained on the
    shipped data."""
    mail = {"subject": subject, "body": body, "html": html, "context": context}
    return classify_many(
        [mail],
        model=model,
        triage_threshold=triage_threshold,
        proposal_threshold=proposal_threshold,
        solved_threshold=solved_threshold,
    )[0]


def classify_many(
    mails: Sequence[Mapping[str, Any]],
    model: Model | None = None,
    triage_threshold: float = DEFAULT_TRIAGE_THRESHOLD,
    proposal_threshold: float = DEFAULT_PROPOSAL_THRESHOLD,
    solved_threshold: float = DEFAULT_SOLVED_THRESHOLD,
) -> list[Classification]:
    """Classify many mails (mappings with "subject", "body" and optional "html",
    "context"), featurising the texts of up to `BATCH_SIZE` mails at once. A context
    other than those of `records.INTENT_LABELS` (or None) is a caller's mistake: a
    ValueError naming it, before any mail is read."""
    for mail in mails:
        context = mail.get("context")
        if context is not None and context not in rec.INTENT_LABELS:
            known = " or ".join(map(repr, rec.INTENT_LABELS))
            raise ValueError(f"unknown reply context {context!r}: expected {known} or None")
    model = model or default_model()
    thresholds = _Thresholds(
        triage_threshold, {PROPOSAL: proposal_threshold, SOLVED_QUESTION: solved_threshold}
    )
    results: list[Classification] = []
    for start in range(0, len(mails), BATCH_SIZE):
        results.extend(_classify_batch(mails[start : start + BATCH_SIZE], model, thresholds))
    return results


class _Scores:
    """One head's answers for a batch: per text the best label, its probability, the
    runner-up, and every label's probability."""

    def __init__(self, head: LinearHead, probabilities: np.ndarray) -> None:
        self.labels = head.labels
        order = np.argsort(-probabilities, axis=1, kind="stable")
        self.best = order[:, 0].tolist()
        self.second = order[:, min(1, len(head.labels) - 1)].tolist()
        self.rows = probabilities.tolist()

    def label(self, row: int) -> str:
        return self.labels[self.best[row]]

    def probability(self, row: int) -> float:
        return self.rows[row][self.best[row]]

    def runner_up(self, row: int, names: Mapping[str, str] | None = None) -> str:
        label = self.labels[self.second[row]]
        return f"{names[label] if names else label} {self.rows[row][self.second[row]]:.2f}"

    def of(self, row: int, label: str) -> float:
        return self.rows[row][self.labels.index(label)] if label in self.labels else 0.0


class _Thresholds(NamedTuple):
    triage: float
    sure: Mapping[str, float]  # per reply context: how sure the intent model alone must be


def _classify_batch(
    mails: Sequence[Mapping[str, Any]], model: Model, thresholds: _Thresholds
) -> list[Classification]:
    replies = [extract_reply(mail.get("body") or "", mail.get("html")) for mail in mails]
    subjects = [mail.get("subject") or "" for mail in mails]
    contexts = [mail.get("context") for mail in mails]
    texts: dict[str, int] = {}
    category_rows, auto_rows = [], []
    for subject, reply in zip(subjects, replies, strict=True):
        row = texts.setdefault(rec.model_text(subject, reply, rec.COMPLAINT), len(texts))
        category_rows.append(row)
        # Same text unless the category had to read the quote.
        if rec.category_reads_quote(reply):
            row = texts.setdefault(rec.model_text(subject, reply, rec.AUTO_REPLY), len(texts))
        auto_rows.append(row)
    weights = model.featuriser.weights(count_ngrams(list(texts), model.config))
    # In the order of `Model.text_heads`: category, then automatic reply.
    probabilities = iter(model.text_heads.probabilities(weights))
    category = _Scores(model.category, next(probabilities)) if model.category else None
    auto_kind = _Scores(model.auto_reply, next(probabilities)) if model.auto_reply else None
    intent_rows = [index for index, context in enumerate(contexts) if context in rec.INTENT_LABELS]
    intent = _intents(model, replies, contexts, intent_rows) if model.intent else None
    intent_row_of = {index: position for position, index in enumerate(intent_rows)}
    languages = language_scores_many(
        [f"{subject}\n{reply.own_text}" for subject, reply in zip(subjects, replies, strict=True)]
    )
    return [
        _decide(
            subjects[index],
            reply,
            languages[index],
            contexts[index],
            (category, category_rows[index]),
            (auto_kind, auto_rows[index]),
            (intent, intent_row_of.get(index)),
            thresholds,
        )
        for index, reply in enumerate(replies)
    ]


def _intents(
    model: Model, replies: list[Reply], contexts: list[str | None], chosen: list[int]
) -> _Scores | None:
    """The intent head's answers for the mails at `chosen` (which name a context)."""
    if not chosen or model.intent is None:
        return None
    texts = [rec.model_text("", replies[index], rec.INTENT) for index in chosen]
    words, cues = zip(
        *(intent_inputs(text, str(contexts[i])) for text, i in zip(texts, chosen, strict=True)),
        strict=True,
    )
    counts = count_ngrams(texts, model.config, words, cues)
    scores = row_sums(model.featuriser.weights(counts), model.intent.coef)
    return _Scores(model.intent, model.intent.probabilities(scores))


Reading = tuple[_Scores | None, int | None]  # a head's answers and the mail's row in them


def _decide(
    subject: str,
    reply: Reply,
    scores: dict[str, float],
    context: str | None,
    category: Reading,
    auto_kind: Reading,
    intent: Reading,
    thresholds: _Thresholds,
) -> Classification:
    triage_threshold = thresholds.triage
    # One rule per cut of the reply reader, with the line it cut at (docs/replies.md).
    own = "" if reply.own_text == reply.new_text else f", own text {len(reply.own_text)}"
    rules: list[dict[str, str]] = [
        {
            "rule": cut.rule,
            "detail": f"{f'line {cut.line}' if cut.line else 'all'} of the {cut.part} part; "
            f"new text {len(reply.new_text)} characters{own}",
        }
        for cut in reply.cuts
    ]
    if rec.category_reads_quote(reply):
        rules.append(
            {"rule": "quote-fallback", "detail": "new text too short: category from the quote"}
        )
    language = decide_language(scores)
    evidence = f"de {scores['de']:g}, en {scores['en']:g}, other {scores['other']:g}"
    rules.append({"rule": "language", "detail": f"{language} ({evidence})"})
    # Automatic mail never acts, so its rules may read what a person would not have
    # seen or confirmed too (a ticket system's hidden preheader, a text part of its own).
    hits = autoreply.match_auto_reply(
        subject, "\n".join(filter(None, (reply.own_text, reply.unconfirmed, reply.hidden)))
    )
    rules.extend({"rule": hit.rule, "detail": hit.detail} for hit in hits)
    kind = autoreply.decisive_kind(hits)
    auto_scores, auto_row = auto_kind
    if kind is None and auto_scores is not None and auto_row is not None:
        label, probability = auto_scores.label(auto_row), auto_scores.probability(auto_row)
        rules.append(
            {
                "rule": "auto-reply-model",
                "detail": f"{label} {probability:.2f} (next {auto_scores.runner_up(auto_row)})",
            }
        )
        if label != autoreply.HUMAN and probability >= AUTO_REPLY_MODEL_THRESHOLD:
            kind = label
        else:
            # A rule that is only evidence tips a model that is undecided about its kind.
            supported = [
                k
                for k in sorted(autoreply.evidence_kinds(hits, tipping=True))
                if auto_scores.of(auto_row, k) >= AUTO_REPLY_EVIDENCE_THRESHOLD
            ]
            kind = supported[0] if supported else None
    kind = kind or autoreply.HUMAN
    category_scores, category_row = category
    if category_scores is None or category_row is None:
        label, confidence = None, 0.0
        rules.append({"rule": "category-model", "detail": "no category model trained"})
    else:
        label = category_scores.label(category_row)
        confidence = category_scores.probability(category_row)
        runner_up = category_scores.runner_up(category_row)
        rules.append(
            {"rule": "category-model", "detail": f"{label} {confidence:.2f} (next {runner_up})"}
        )
    needs_triage = confidence < triage_threshold
    if needs_triage:
        rules.append(
            {"rule": "low-confidence", "detail": f"{confidence:.2f} < {triage_threshold:.2f}"}
        )
    intent_label = None
    if context is not None and _in_another_language(reply.own_text):
        # Neither the verdict rules nor the model read other languages: "Sí, está
        # resuelto" came out as "not solved". The mail is passed on, no answer taken.
        rules.append({"rule": "language-unread", "detail": f"no intent read ({context})"})
        intent_label = rec.OTHER
    elif context is not None:
        sure = thresholds.sure.get(context, 0.0)
        intent_label = _intent(context, reply.own_text, intent, sure, rules)
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
        own_text=reply.own_text,
    )


def _in_another_language(own_text: str) -> bool:
    """Whether the writer's own words (not our subject, which a reply repeats) have more
    evidence of another language than of German or English."""
    scores = language_scores(own_text)
    return scores["other"] > max(scores["de"], scores["en"])


# fmt: off
_THANKS_WORDS = frozenset({
    "danke", "dank", "vielen", "herzlichen", "schön", "schoen", "sehr", "vielmals", "für",
    "fuer", "die", "ihre", "eure", "deine", "schnelle", "schnellen", "rasche", "prompte",
    "antwort", "rückmeldung", "rueckmeldung", "nachricht", "info", "information", "mail",
    "e", "mühe", "muehe", "alles", "klar", "ok", "okay", "oki", "liebe", "lieber",
    "lieben", "hallo", "guten", "tag", "mfg", "lg", "gruß", "gruss", "grüße", "gruesse",
    "viele", "freundlichen", "mit", "thanks", "thank", "you", "thx", "cheers", "many",
    "much", "so", "a", "lot", "for", "the", "your", "quick", "fast", "prompt", "kind",
    "reply", "answer", "response", "message", "update", "email", "hi", "hello", "regards",
    "best", "noted", "got", "it",
})
# fmt: on


def _only_thanks(text: str) -> bool:
    """Whether `text` says nothing but thanks (for the answer), an "ok" and greetings:
    every word one of those, but for a name of up to two words signing it."""
    words = re.findall(r"[^\W\d_]+", text)
    other = [word for word in words if word.lower() not in _THANKS_WORDS]
    signature = words[len(words) - len(other) :]
    return (
        len(other) <= 2
        and len(other) < len(words)
        and other == signature
        and all(word[0].isupper() for word in other)
    )


def _intent(
    context: str,
    own_text: str,
    intent: Reading,
    threshold: float,
    rules: list[dict[str, str]],
) -> str | None:
    """The answer of a reply in `context`, its rules appended to `rules`: the verdict
    rules first, then the model, which alone gives an answer that acts only when at
    least `threshold` sure of it."""
    if not _WORD.search(own_text):
        # Nothing of its own said (only quotes, hidden or unconfirmed text): no answer.
        rules.append({"rule": "no-own-text", "detail": f"no intent read ({context})"})
        return None
    names = rec.INTENT_BY_ANSWER[context]
    hits = verdict_hits(own_text, context)
    rules.extend({"rule": hit.rule, "detail": hit.detail} for hit in hits)
    settled = verdict_answer(hits)
    scores, row = intent
    answer = settled
    if scores is None or row is None:
        rules.append({"rule": "intent-model", "detail": f"no intent model for {context!r}"})
    else:
        probability = scores.probability(row)
        rules.append(
            {
                "rule": "intent-model",
                "detail": f"{names[scores.label(row)]} {probability:.2f} "
                f"(next {scores.runner_up(row, names)}; {context})",
            }
        )
        if settled is None:
            answer = scores.label(row)
            if context == SOLVED_QUESTION and answer == RESOLVED and _only_thanks(own_text):
                # "Danke für die schnelle Antwort!" is no "solved", however sure the
                # model: a stalling shop would collect such thanks as closed cases.
                rules.append({"rule": "solved-thanks-only", "detail": "thanks are no answer"})
                answer = OTHER
            elif answer in _SURE_ANSWERS[context] and probability < threshold:
                rules.append(
                    {
                        "rule": "intent-unsure",
                        "detail": f"{names[answer]} {probability:.2f} < {threshold:.2f}"
                        ": no answer, a message",
                    }
                )
                answer = OTHER
    if settled is not None:
        rules.append({"rule": "intent-rules", "detail": f"{names[settled]}, as the rules read it"})
    return names[answer] if answer is not None else None
