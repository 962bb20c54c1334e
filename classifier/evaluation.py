"""How good the classifier is: per-class precision, recall and F1, confusion matrices,
macro-F1 per language, and accuracies, on an evaluation set or by cross-validation.

Owns `evaluate` and `cross_validate`. Both judge what `classify_many` answers (rules and
models together), so the figures describe the classifier as the service uses it.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from classifier import records as rec
from classifier.classification import classify_many
from classifier.model import Model, train

CATEGORY = "category"
AUTO_REPLY_KIND = "auto_reply_kind"
AUTO_REPLY = "auto_reply"


@dataclass(frozen=True)
class TaskReport:
    task: str
    labels: tuple[str, ...]
    per_class: dict[str, dict[str, float]]  # label -> precision, recall, f1, support
    confusion: tuple[tuple[int, ...], ...]  # rows: true label, columns: predicted
    accuracy: float
    macro_f1: float
    macro_f1_by_language: dict[str, float]
    accuracy_by_language: dict[str, float]
    count: int

    def to_text(self) -> str:
        lines = [
            f"== {self.task}: {self.count} mails, accuracy {self.accuracy:.3f}, "
            f"macro-F1 {self.macro_f1:.3f}",
            "   by language: "
            + ", ".join(
                f"{language} macro-F1 {f1:.3f} accuracy {self.accuracy_by_language[language]:.3f}"
                for language, f1 in sorted(self.macro_f1_by_language.items())
            ),
            f"   {'label':<22} {'precision':>9} {'recall':>7} {'F1':>6} {'support':>7}",
        ]
        for label in self.labels:
            row = self.per_class[label]
            lines.append(
                f"   {label:<22} {row['precision']:>9.3f} {row['recall']:>7.3f} "
                f"{row['f1']:>6.3f} {int(row['support']):>7}"
            )
        width = max(4, *(len(str(n)) for row in self.confusion for n in row))
        lines.append("   confusion (rows true, columns predicted, same order as above):")
        lines.extend(
            "   " + " ".join(f"{n:>{width}}" for n in row) + f"  {label}"
            for label, row in zip(self.labels, self.confusion, strict=True)
        )
        return "\n".join(lines)


@dataclass(frozen=True)
class Evaluation:
    reports: dict[str, TaskReport]

    def to_text(self) -> str:
        return "\n\n".join(report.to_text() for report in self.reports.values())


Outcome = tuple[str, str, str, str]  # task, language, true label, predicted label


def evaluate(model: Model, records: Iterable[Mapping[str, Any]]) -> Evaluation:
    """Figures for `model` on `records` (any mix of the three formats)."""
    return _report(_outcomes(model, list(records)))


def cross_validate(
    records: Iterable[Mapping[str, Any]], folds: int = 5, seed: int = 0
) -> Evaluation:
    """Figures from `folds`-fold cross-validation: each record is judged by a model that
    was trained without it. Folds are stratified by task, language and label."""
    records = list(records)
    fold_of = _stratified_folds(records, folds, seed)
    outcomes: list[Outcome] = []
    for fold in range(folds):
        training = [r for r, f in zip(records, fold_of, strict=True) if f != fold]
        held_out = [r for r, f in zip(records, fold_of, strict=True) if f == fold]
        outcomes.extend(_outcomes(train(training), held_out))
    return _report(outcomes)


def _stratified_folds(records: Sequence[Mapping[str, Any]], folds: int, seed: int) -> list[int]:
    groups: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for index, record in enumerate(records):
        groups[(rec.task_of(record), record.get("language", ""), _label(record))].append(index)
    shuffler = random.Random(seed)
    fold_of = [0] * len(records)
    offset = 0
    for key in sorted(groups):
        members = groups[key]
        shuffler.shuffle(members)
        for position, index in enumerate(members):
            fold_of[index] = (offset + position) % folds
        offset += len(members)
    return fold_of


def _label(record: Mapping[str, Any]) -> str:
    task = rec.task_of(record)
    if task == rec.COMPLAINT:
        return record["category"]
    if task == rec.INTENT:
        return f"{record['context']}:{record['intent']}"
    return record["kind"]


def _outcomes(model: Model, records: list[Mapping[str, Any]]) -> list[Outcome]:
    mails = [
        {
            "subject": record.get("subject") or "",
            "body": record.get("body") or "",
            "context": record.get("context"),
        }
        for record in records
    ]
    outcomes = []
    for record, result in zip(records, classify_many(mails, model=model), strict=True):
        language = record.get("language", "?")
        task = rec.task_of(record)
        if task == rec.COMPLAINT:
            outcomes.append((CATEGORY, language, record["category"], str(result.category)))
        elif task == rec.INTENT:
            name = f"intent:{record['context']}"
            outcomes.append((name, language, record["intent"], str(result.intent)))
        else:
            outcomes.append((AUTO_REPLY_KIND, language, record["kind"], result.auto_reply_kind))
            truth = "auto" if record["kind"] != "human" else "human"
            outcomes.append((AUTO_REPLY, language, truth, "auto" if result.auto_reply else "human"))
    return outcomes


def _report(outcomes: list[Outcome]) -> Evaluation:
    by_task: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_task[outcome[0]].append(outcome)
    return Evaluation({task: _task_report(task, items) for task, items in by_task.items()})


def _task_report(task: str, outcomes: list[Outcome]) -> TaskReport:
    truth = [o[2] for o in outcomes]
    predicted = [o[3] for o in outcomes]
    labels = tuple(sorted(set(truth) | set(predicted)))
    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(labels), zero_division=0
    )
    per_class = {
        label: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": float(support[i]),
        }
        for i, label in enumerate(labels)
    }
    matrix = confusion_matrix(truth, predicted, labels=list(labels))
    by_language_f1 = {}
    by_language_accuracy = {}
    for language in sorted({o[1] for o in outcomes}):
        chosen = [o for o in outcomes if o[1] == language]
        true_labels = [o[2] for o in chosen]
        by_language_f1[language] = float(
            f1_score(
                true_labels,
                [o[3] for o in chosen],
                labels=sorted(set(true_labels)),
                average="macro",
                zero_division=0,
            )
        )
        by_language_accuracy[language] = _accuracy(chosen)
    return TaskReport(
        task=task,
        labels=labels,
        per_class=per_class,
        confusion=tuple(tuple(int(n) for n in row) for row in matrix),
        accuracy=_accuracy(outcomes),
        macro_f1=float(
            f1_score(truth, predicted, labels=sorted(set(truth)), average="macro", zero_division=0)
        ),
        macro_f1_by_language=by_language_f1,
        accuracy_by_language=by_language_accuracy,
        count=len(outcomes),
    )


def _accuracy(outcomes: Sequence[Outcome]) -> float:
    return sum(o[2] == o[3] for o in outcomes) / len(outcomes) if outcomes else 0.0
