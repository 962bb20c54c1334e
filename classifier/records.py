"""Training and evaluation records: reading them, telling their task, hashing them, and
turning a record into the text a model sees.

Owns the record formats of `classifier/data/README.md` (complaints with a `category`, reply
intents with `context` and `intent`, automatic replies with `auto_reply` and `kind`), the
reply contexts (`PROPOSAL`, `SOLVED_QUESTION`) and answers (`POSITIVE`, `NEGATIVE`,
`OTHER`) with their intent labels, the merging of operator corrections, and `model_text`,
which every training, evaluation and classification path uses so that all of them see the
same text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from classifier.replies import Reply, extract_reply

DATA_DIR = Path(__file__).resolve().parent / "data"
TRAIN_DIR = DATA_DIR / "train"
EVAL_DIR = DATA_DIR / "eval"

CATEGORIES = (
    "delivery",
    "damaged_defective",
    "wrong_item",
    "return_refund",
    "payment_billing",
    "cancellation",
    "service_reachability",
    "privacy_data",
    "praise",
    "other",
)
# The reply contexts: what a reply answers, a mediator's proposal or "is your problem solved?".
PROPOSAL, SOLVED_QUESTION = "proposal", "solved_question"
INTENT_LABELS = {
    SOLVED_QUESTION: ("resolved", "not_resolved", "other"),
    PROPOSAL: ("accept", "reject", "other"),
}
# One intent model serves both contexts: "solved" and "accepted" are both a yes to what was
# asked, and each context alone has too few examples to learn how people say yes and no.
# OTHER: no answer (yet), neither yes nor no.
POSITIVE, NEGATIVE, OTHER = "positive", "negative", "other"
INTENT_BY_ANSWER = {
    context: {POSITIVE: yes, NEGATIVE: no, OTHER: other}
    for context, (yes, no, other) in INTENT_LABELS.items()
}
ANSWER_BY_INTENT = {
    context: {intent: answer for answer, intent in intents.items()}
    for context, intents in INTENT_BY_ANSWER.items()
}
AUTO_REPLY_LABELS = ("out_of_office", "ticket_ack", "delivery_failure", "human")

COMPLAINT, INTENT, AUTO_REPLY = "complaint", "intent", "auto_reply"

# A new part shorter than this ("siehe unten", "FYI") says nothing about the category of a
# complaint: the quoted or forwarded mail below it is what the customer complains about.
_MIN_NEW_TEXT_FOR_CATEGORY = 25
_UMLAUTS = (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("ß", "ss"))


class RecordError(ValueError):
    """A record that fits none of the formats, or a file that is not JSON Lines."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise RecordError(f"{path}:{number}: {error.msg}") from error
    return records


def read_records(directory: Path) -> list[dict[str, Any]]:
    """All records of the `*.jsonl` files in `directory`, in file-name order."""
    return [record for path in sorted(directory.glob("*.jsonl")) for record in read_jsonl(path)]


def task_of(record: Mapping[str, Any]) -> str:
    if "intent" in record:
        return INTENT
    if "auto_reply" in record or "kind" in record:
        return AUTO_REPLY
    if "category" in record:
        return COMPLAINT
    raise RecordError(f"record {record.get('id', '?')} has no category, intent or auto_reply")


def by_task(records: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    tasks: dict[str, list[Mapping[str, Any]]] = {COMPLAINT: [], INTENT: [], AUTO_REPLY: []}
    for record in records:
        tasks[task_of(record)].append(record)
    return tasks


def merge_corrections(
    records: Iterable[Mapping[str, Any]], corrections: Iterable[Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """Training records with operator corrections applied.

    A correction of a text that is in the training data replaces that record's label; any
    other correction is added as a record of its own.
    """
    merged = {_text_key(record): record for record in records}
    for correction in corrections:
        merged[_text_key(correction)] = correction
    return list(merged.values())


def _text_key(record: Mapping[str, Any]) -> tuple[str, str, str]:
    return (task_of(record), record.get("subject") or "", record.get("body") or "")


def records_sha256(records: Iterable[Mapping[str, Any]]) -> str:
    """A digest of the records that does not depend on their order or key order."""
    lines = sorted(json.dumps(record, sort_keys=True, ensure_ascii=False) for record in records)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def normalise(text: str) -> str:
    """Lower case, umlauts spelt out ("Rückerstattung" = "Rueckerstattung"), whitespace
    collapsed. (Numbers are made alike when the features are counted: every run of digits
    counts as "0", since order numbers and amounts are noise to the model.)"""
    text = text.lower()
    # str.replace is far faster than str.translate with a mapping of strings.
    for umlaut, spelt_out in _UMLAUTS:
        text = text.replace(umlaut, spelt_out)
    # str.split() and the regular expression \s agree on what whitespace is.
    return " ".join(text.split())


def model_text(subject: str, reply: Reply, task: str) -> str:
    """The text a model of `task` sees: the sender's own text (`Reply.own_text`, never a
    quoted line, not even one an interleaved reply answers), with the subject for
    complaints and automatic replies (a reply's subject is only "Re: <our question>")."""
    body = reply.own_text
    if task == COMPLAINT and category_reads_quote(reply):
        body = f"{body}\n{reply.quoted}"
    if task == INTENT:
        return normalise(body)
    return normalise(f"{subject}\n{body}")


def category_reads_quote(reply: Reply) -> bool:
    """Whether the category is read from the quote too, the own text being too short."""
    return bool(reply.quoted) and len(reply.own_text) < _MIN_NEW_TEXT_FOR_CATEGORY


def record_text(record: Mapping[str, Any], task: str) -> str:
    reply = extract_reply(record.get("body") or "")
    return model_text(record.get("subject") or "", reply, task)
