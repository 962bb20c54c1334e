"""Fitting: idf weights from counts, and calibrated linear SVMs turned into plain arrays.

Owns `fit_idf`, `to_matrix`, `calibrated_svm`, `fit_head` and `head_of`. This is the only
module of the model that imports scikit-learn (`classifier.model.train` imports it when it
trains), so a process that only loads a saved model and classifies never pays for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from classifier.features import Counts, NgramConfig
from classifier.inference import LinearHead, Weights

_MAX_FOLDS = 5
_C = 0.5  # SVM regularisation, chosen by cross-validation


class TrainingError(ValueError):
    """Training records that cannot make a model (a label with a single example)."""


def fit_idf(counts: Counts, texts_per_block: Sequence[int], config: NgramConfig) -> np.ndarray:
    """Smoothed idf per column, as `TfidfTransformer(smooth_idf=True)` computes it:
    ln((1 + n) / (1 + df)), plus 1, where n counts the texts that use the block (every
    text has words and characters; only replies to a question have cues)."""
    frequency = np.bincount(counts.columns, minlength=config.columns).astype(np.float64)
    idf = np.empty(config.columns)
    edges = (*config.block_starts, config.columns)
    for texts, start, end in zip(texts_per_block, edges[:-1], edges[1:], strict=True):
        idf[start:end] = np.log((1.0 + texts) / (1.0 + frequency[start:end])) + 1.0
    return idf


def to_matrix(weights: Weights, columns: int) -> sp.csr_matrix:
    """The weights as a sparse matrix (texts × columns) for scikit-learn."""
    indptr = np.searchsorted(weights.rows, np.arange(weights.texts + 1))
    return sp.csr_matrix((weights.values, weights.columns, indptr), shape=(weights.texts, columns))


def calibrated_svm(labels: Sequence[str]) -> CalibratedClassifierCV:
    """A linear SVM whose scores are mapped to probabilities by sigmoid calibration on
    held-out folds (Platt scaling); one final SVM is kept, not one per fold."""
    smallest = min(Counter(labels).values())
    if smallest < 2:
        raise TrainingError("every label needs at least two training records")
    # A fixed seed: liblinear shuffles its coordinates, and the same data must give the
    # same model (and the same evaluation figures) every time.
    svm = LinearSVC(C=_C, class_weight="balanced", random_state=0)
    return CalibratedClassifierCV(
        svm, method="sigmoid", cv=min(_MAX_FOLDS, smallest), ensemble=False
    )


def fit_head(features: sp.csr_matrix, labels: Sequence[str]) -> LinearHead:
    """A calibrated linear SVM fitted on the features, as plain arrays."""
    return head_of(calibrated_svm(labels).fit(features, list(labels)))


def head_of(calibrated: CalibratedClassifierCV) -> LinearHead:
    """The arrays of a fitted calibrated SVM (coefficients as float32: half the memory,
    and the scores agree to about 1e-6)."""
    (inner,) = calibrated.calibrated_classifiers_
    svm = inner.estimator
    if list(svm.classes_) != list(calibrated.classes_):
        raise TrainingError("the SVM and its calibration disagree on the order of the labels")
    return LinearHead(
        labels=tuple(str(label) for label in calibrated.classes_),
        coef=np.ascontiguousarray(svm.coef_.T, dtype=np.float32),
        intercept=np.asarray(svm.intercept_, dtype=np.float64),
        a=np.array([calibrator.a_ for calibrator in inner.calibrators], dtype=np.float64),
        b=np.array([calibrator.b_ for calibrator in inner.calibrators], dtype=np.float64),
    )
