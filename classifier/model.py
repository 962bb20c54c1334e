"""The trained classifier: what it is made of, how it is trained, saved and loaded.

Owns `Model`, `train`, `save` and `load`. Texts become hashed word 1–2-grams, `char_wb`
2–5-grams (`classifier.features`; character n-grams cope with German compounds, missing
umlauts and typos) and, for replies to a question, cue words (`classifier.intent_cues`),
weighted by tf-idf per block. Three calibrated linear models (`CalibratedClassifierCV`
over a `LinearSVC`, sigmoid) read them: the complaint category, the kind of automatic
reply, and the answer to a question (yes, no or other), which one model learns for both
questions we ask ("is your problem solved?", "do you accept the proposal?").

A model is plain arrays (`classifier.inference`): scikit-learn is imported to train, never
to load or classify. Models are saved with skops, never pickle: the `.skops` file holds
only dicts, lists, strings, numbers and numeric arrays, all types skops trusts by default,
and a JSON file beside it holds the metadata (model version, scikit-learn and skops
versions, sha256 of the training data and corrections, training date) and the sha256 of
the `.skops` file. `load` refuses a file whose digest or versions do not match, and reads
the archive with `classifier.skops_format`, which refuses any other type.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import metadata as distributions
from pathlib import Path
from typing import Any

import numpy as np

from classifier import records as rec
from classifier import skops_format
from classifier.features import NgramConfig, count_ngrams
from classifier.inference import Featuriser, Heads, LinearHead
from classifier.intent_cues import intent_inputs
from classifier.replies import Reply, extract_reply

# Bump when the saved layout or the meaning of the features changes, or when the shipped
# training data changes what a saved model must learn: `load` then refuses a saved model
# and the service trains a new one at its start (`mailflow.casework.model`; after that,
# `siegel classifier train` brings the operators' corrections back in). 3: answers to a
# proposal that are undecided, conditional or a negated rejection (intents_extra.md), and
# the intent cues read a typographic apostrophe ("don’t") as one. 4: answers to "is your
# problem solved?" that hedge, are conditional or only partly yes (intents_extra.md).
MODEL_VERSION = "siegel-classifier-4"
# Weight of the cue block next to the word and character blocks (each L2-normalised to 1),
# chosen by cross-validation on the training intents.
CUE_SCALE = 0.4
HEAD_NAMES = ("category", "auto_reply", "intent")


class ModelError(Exception):
    """A model file that is missing, tampered with, or made by another version."""


@dataclass(frozen=True, eq=False)
class Model:
    """idf weights and the three heads (any may be missing when its task had no data)."""

    config: NgramConfig
    idf: np.ndarray
    category: LinearHead | None
    auto_reply: LinearHead | None
    intent: LinearHead | None
    metadata: dict[str, Any] = field(default_factory=dict)
    featuriser: Featuriser = field(init=False, repr=False)
    # The category and automatic-reply heads read the same text: scored in one pass.
    text_heads: Heads = field(init=False, repr=False)

    def __post_init__(self) -> None:
        scales = (1.0, 1.0, CUE_SCALE)
        # Frozen: the derived fields are set once, here.
        object.__setattr__(self, "featuriser", Featuriser(self.config, self.idf, scales))
        present = [head for head in (self.category, self.auto_reply) if head is not None]
        object.__setattr__(self, "text_heads", Heads(present))


def train(
    records: Iterable[Mapping[str, Any]],
    corrections: Iterable[Mapping[str, Any]] = (),
    *,
    trained_at: datetime | None = None,
    config: NgramConfig | None = None,
) -> Model:
    """Train all models on the records (any mix of the three formats) and corrections.

    A task without records, or with a single label, gets no model; `classify` then
    reports that it was not run.
    """
    from classifier import training  # scikit-learn is imported only to train

    records = list(records)
    corrections = list(corrections)
    config = config or NgramConfig()
    tasks = rec.by_task(rec.merge_corrections(records, corrections))
    inputs: dict[tuple[str, str, str], int] = {}

    def row(char_text: str, word_text: str | None = None, cue_text: str = "") -> int:
        key = (char_text, char_text if word_text is None else word_text, cue_text)
        return inputs.setdefault(key, len(inputs))

    replies = {task: [_reply(r) for r in items] for task, items in tasks.items()}
    category_rows = [
        row(rec.model_text(r.get("subject") or "", reply, rec.COMPLAINT))
        for r, reply in zip(tasks[rec.COMPLAINT], replies[rec.COMPLAINT], strict=True)
    ]
    intent_rows = []
    for r, reply in zip(tasks[rec.INTENT], replies[rec.INTENT], strict=True):
        text = rec.model_text("", reply, rec.INTENT)
        intent_rows.append(row(text, *intent_inputs(text, r["context"])))
    auto_rows, auto_labels = [], []
    if tasks[rec.AUTO_REPLY]:
        # Every complaint and reply is a human example too: the model runs on all mail,
        # and a complaint about a parcel that "could not be delivered" is no bounce.
        for task in (rec.AUTO_REPLY, rec.COMPLAINT, rec.INTENT):
            for r, reply in zip(tasks[task], replies[task], strict=True):
                auto_rows.append(row(rec.model_text(r.get("subject") or "", reply, rec.AUTO_REPLY)))
                auto_labels.append(r["kind"] if task == rec.AUTO_REPLY else "human")
    char_texts, word_texts, cue_texts = zip(*inputs, strict=True) if inputs else ((), (), ())
    counts = count_ngrams(char_texts, config, word_texts, cue_texts)
    idf = training.fit_idf(counts, (len(inputs), len(inputs), len(set(intent_rows))), config)
    featuriser = Featuriser(config, idf, (1.0, 1.0, CUE_SCALE))
    features = training.to_matrix(featuriser.weights(counts), config.columns)

    def fitted(rows: list[int], labels: list[str]) -> LinearHead | None:
        if len(set(labels)) < 2:
            return None
        return training.fit_head(features[rows], labels)

    category = fitted(category_rows, [r["category"] for r in tasks[rec.COMPLAINT]])
    answers = [rec.ANSWER_BY_INTENT[r["context"]][r["intent"]] for r in tasks[rec.INTENT]]
    intent = fitted(intent_rows, answers)
    auto_reply = fitted(auto_rows, auto_labels)
    metadata = {
        "model_version": MODEL_VERSION,
        "sklearn_version": _version("scikit-learn"),
        "skops_version": _version("skops"),
        "training_sha256": rec.records_sha256(records),
        "corrections_sha256": rec.records_sha256(corrections),
        "trained_at": trained_at.isoformat() if trained_at else None,
        "counts": {task: len(items) for task, items in tasks.items()},
        "corrections": len(corrections),
        "features": asdict(config),
    }
    return Model(config, idf, category, auto_reply, intent, metadata)


def _reply(record: Mapping[str, Any]) -> Reply:
    return extract_reply(record.get("body") or "")


def save(model: Model, path: Path) -> None:
    """Write `path` (skops) and `path` + ".json" (metadata and the file's sha256)."""
    import skops.io  # imports scikit-learn: only the process that saves pays for it

    path = Path(path)
    heads = {name: getattr(model, name) for name in HEAD_NAMES}
    payload = {
        "metadata_json": json.dumps(model.metadata, sort_keys=True),
        "idf": model.idf,
        "heads": {name: head.to_arrays() for name, head in heads.items() if head is not None},
    }
    skops.io.dump(payload, path)
    sidecar = dict(model.metadata, file_sha256=_file_sha256(path))
    metadata_path(path).write_text(json.dumps(sidecar, indent=2, sort_keys=True) + "\n")


def load(path: Path) -> Model:
    """Load a model saved by `save`, after checking digest, versions and contained types."""
    path = Path(path)
    try:
        sidecar = json.loads(metadata_path(path).read_text())
    except (OSError, ValueError) as error:
        raise ModelError(f"no readable metadata beside {path}: {error}") from error
    expected_digest = sidecar.pop("file_sha256", None)
    try:
        actual_digest = _file_sha256(path)
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error}") from error
    if actual_digest != expected_digest:
        raise ModelError(f"{path} does not match the sha256 in its metadata (changed or damaged)")
    check_metadata(sidecar)
    try:
        payload = skops_format.read(path)
        if json.loads(payload["metadata_json"]) != sidecar:
            raise ModelError(f"metadata inside {path} differs from the metadata beside it")
        heads = {name: LinearHead.from_arrays(arrays) for name, arrays in payload["heads"].items()}
        config = NgramConfig(**sidecar["features"])
        _check_shapes(config, payload["idf"], heads)
        return Model(
            config,
            payload["idf"],
            heads.get("category"),
            heads.get("auto_reply"),
            heads.get("intent"),
            sidecar,
        )
    except skops_format.UnsupportedContent as error:
        raise ModelError(f"cannot load {path}: {error}") from error
    except (KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{path} is not laid out as a {MODEL_VERSION} model: {error}") from error


def _check_shapes(config: NgramConfig, idf: Any, heads: Mapping[str, LinearHead]) -> None:
    if getattr(idf, "shape", None) != (config.columns,):
        raise ValueError("idf weights do not match the feature columns")
    for name, head in heads.items():
        scores = 1 if len(head.labels) == 2 else len(head.labels)
        shapes = (head.coef.shape, head.intercept.shape, head.a.shape, head.b.shape)
        if name not in HEAD_NAMES or shapes != ((config.columns, scores), *[(scores,)] * 3):
            raise ValueError(f"head {name!r} does not match the feature columns or its labels")


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """Refuse a model from another model version or another scikit-learn version (the
    arrays are what that version's training made of the data; train again after an
    upgrade)."""
    if metadata.get("model_version") != MODEL_VERSION:
        raise ModelError(
            f"model version {metadata.get('model_version')!r}, expected {MODEL_VERSION!r}"
        )
    installed = _version("scikit-learn")
    if metadata.get("sklearn_version") != installed:
        raise ModelError(
            f"model made with scikit-learn version {metadata.get('sklearn_version')!r}, "
            f"running {installed!r}: train it again"
        )


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _version(distribution: str) -> str:
    """An installed package's version, read without importing the package."""
    return distributions.version(distribution)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
