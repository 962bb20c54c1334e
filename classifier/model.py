"""The trained classifier: what it is made of, how it is trained, saved and loaded.

Owns `Model`, `train`, `save` and `load`. Texts become hashed word 1–2-grams and `char_wb`
2–5-grams (`classifier.features`; character n-grams cope with German compounds, missing
umlauts and typos), weighted by two scikit-learn `TfidfTransformer`s (words, characters).
These features are shared by three sets of linear models with calibrated probabilities
(`CalibratedClassifierCV` over a `LinearSVC`, sigmoid): the complaint category, the reply
intent (one model per context, since the labels depend on what was asked) and the kind of
automatic reply. Hashing keeps the model small and quick to load: no vocabulary is stored.

Models are saved with skops, never pickle: the `.skops` file holds only scikit-learn types
from an allowlist plus plain numbers and strings, and a JSON file beside it holds the
metadata (model version, scikit-learn version, sha256 of the training data, training date)
and the sha256 of the `.skops` file. `load` refuses a file whose digest, versions or
types do not match.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sklearn
import skops
import skops.io
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.svm import LinearSVC

from classifier import records as rec
from classifier.features import NgramConfig, ngram_counts
from classifier.inference import FastCalibrated, FastFeaturiser

# Bump when the saved layout or the meaning of the features changes.
MODEL_VERSION = "siegel-classifier-1"

# The only types a saved model may contain beyond those skops trusts by default.
TRUSTED_TYPES = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.svm._classes.LinearSVC",
        "sklearn.calibration.CalibratedClassifierCV",
        "builtins.NoneType",
    }
)
_MAX_FOLDS = 5
_C = 0.5  # SVM regularisation, chosen by cross-validation


class ModelError(Exception):
    """A model file that is missing, tampered with, or made by another version."""


@dataclass(frozen=True)
class Model:
    """The fitted scikit-learn objects (what is saved) and their fast prediction paths."""

    config: NgramConfig
    word_tfidf: TfidfTransformer
    char_tfidf: TfidfTransformer
    category: CalibratedClassifierCV | None
    intent: dict[str, CalibratedClassifierCV] = field(default_factory=dict)
    auto_reply: CalibratedClassifierCV | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    featuriser: FastFeaturiser = field(init=False, repr=False, compare=False)
    fast_category: FastCalibrated | None = field(init=False, repr=False, compare=False)
    fast_intent: dict[str, FastCalibrated] = field(init=False, repr=False, compare=False)
    fast_auto_reply: FastCalibrated | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        def fast(classifier: CalibratedClassifierCV | None) -> FastCalibrated | None:
            return FastCalibrated(classifier) if classifier is not None else None

        # Frozen: the derived fields are set once, here.
        featuriser = FastFeaturiser(self.config, self.word_tfidf, self.char_tfidf)
        object.__setattr__(self, "featuriser", featuriser)
        object.__setattr__(self, "fast_category", fast(self.category))
        object.__setattr__(
            self, "fast_intent", {context: fast(c) for context, c in self.intent.items()}
        )
        object.__setattr__(self, "fast_auto_reply", fast(self.auto_reply))


def new_classifier(labels: Sequence[str]) -> CalibratedClassifierCV:
    """A linear SVM whose scores are mapped to probabilities by sigmoid calibration on
    held-out folds (Platt scaling); one final SVM is kept, not one per fold."""
    smallest = min(Counter(labels).values())
    if smallest < 2:
        raise rec.RecordError("every label needs at least two training records")
    svm = LinearSVC(C=_C, class_weight="balanced")
    # An int (stratified folds) rather than a splitter object keeps the saved file free of
    # types outside the allowlist.
    return CalibratedClassifierCV(
        svm, method="sigmoid", cv=min(_MAX_FOLDS, smallest), ensemble=False
    )


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
    records = list(records)
    corrections = list(corrections)
    config = config or NgramConfig()
    tasks = rec.by_task(rec.merge_corrections(records, corrections))
    texts = {task: [rec.record_text(r, task) for r in items] for task, items in tasks.items()}
    unique = list(dict.fromkeys(text for task_texts in texts.values() for text in task_texts))
    row_of = {text: row for row, text in enumerate(unique)}
    word_counts, char_counts = ngram_counts(unique, config)
    word_tfidf = TfidfTransformer(sublinear_tf=True).fit(word_counts)
    char_tfidf = TfidfTransformer(sublinear_tf=True).fit(char_counts)
    features = FastFeaturiser(config, word_tfidf, char_tfidf).from_counts(
        (word_counts, char_counts)
    )

    def fitted(task_texts: list[str], labels: list[str]) -> CalibratedClassifierCV | None:
        if not task_texts or len(set(labels)) < 2:
            return None
        rows = [row_of[text] for text in task_texts]
        return new_classifier(labels).fit(features[rows], labels)

    category = fitted(texts[rec.COMPLAINT], [r["category"] for r in tasks[rec.COMPLAINT]])
    intent = {}
    for context in rec.INTENT_LABELS:
        chosen = [i for i, r in enumerate(tasks[rec.INTENT]) if r["context"] == context]
        model = fitted(
            [texts[rec.INTENT][i] for i in chosen],
            [tasks[rec.INTENT][i]["intent"] for i in chosen],
        )
        if model is not None:
            intent[context] = model
    auto_reply = fitted(*auto_reply_training_set(tasks, texts))
    metadata = {
        "model_version": MODEL_VERSION,
        "sklearn_version": sklearn.__version__,
        "skops_version": skops.__version__,
        "training_sha256": rec.records_sha256(records),
        "corrections_sha256": rec.records_sha256(corrections),
        "trained_at": trained_at.isoformat() if trained_at else None,
        "counts": {task: len(items) for task, items in tasks.items()},
        "corrections": len(corrections),
        "features": asdict(config),
    }
    return Model(config, word_tfidf, char_tfidf, category, intent, auto_reply, metadata)


def auto_reply_training_set(
    tasks: Mapping[str, list[Mapping[str, Any]]], texts: Mapping[str, list[str]]
) -> tuple[list[str], list[str]]:
    """Automatic-reply examples, plus every complaint and reply as a human example: the
    model runs on all mail, and a complaint about a parcel that "could not be delivered"
    must not look like a bounce."""
    labelled = tasks[rec.AUTO_REPLY]
    if not labelled:
        return [], []
    auto_texts = list(texts[rec.AUTO_REPLY])
    labels = [r["kind"] for r in labelled]
    for task in (rec.COMPLAINT, rec.INTENT):
        auto_texts.extend(texts[task])
        labels.extend(["human"] * len(texts[task]))
    return auto_texts, labels


def save(model: Model, path: Path) -> None:
    """Write `path` (skops) and `path` + ".json" (metadata and the file's sha256)."""
    path = Path(path)
    payload = {
        "word_tfidf": model.word_tfidf,
        "char_tfidf": model.char_tfidf,
        "category": model.category,
        "intent": dict(model.intent),
        "auto_reply": model.auto_reply,
        "metadata_json": json.dumps(model.metadata, sort_keys=True),
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
        untrusted = set(skops.io.get_untrusted_types(file=path))
        unexpected = untrusted - TRUSTED_TYPES
        if unexpected:
            raise ModelError(f"{path} contains types outside the allowlist: {sorted(unexpected)}")
        payload = skops.io.load(path, trusted=sorted(untrusted))
    except ModelError:
        raise
    except Exception as error:  # skops raises many kinds on a damaged archive
        raise ModelError(f"cannot load {path}: {error}") from error
    if json.loads(payload["metadata_json"]) != sidecar:
        raise ModelError(f"metadata inside {path} differs from the metadata beside it")
    return Model(
        NgramConfig(**sidecar["features"]),
        payload["word_tfidf"],
        payload["char_tfidf"],
        payload["category"],
        dict(payload["intent"]),
        payload["auto_reply"],
        sidecar,
    )


def check_metadata(metadata: Mapping[str, Any]) -> None:
    """Refuse a model from another model version or another scikit-learn version (a
    fitted estimator is only guaranteed to work with the version that made it)."""
    if metadata.get("model_version") != MODEL_VERSION:
        raise ModelError(
            f"model version {metadata.get('model_version')!r}, expected {MODEL_VERSION!r}"
        )
    if metadata.get("sklearn_version") != sklearn.__version__:
        raise ModelError(
            f"model made with scikit-learn version {metadata.get('sklearn_version')!r}, "
            f"running {sklearn.__version__!r}: train it again"
        )


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()
