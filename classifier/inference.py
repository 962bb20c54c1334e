"""Fast prediction with the fitted scikit-learn objects' own parameters.

Owns `FastFeaturiser` and `FastCalibrated`. scikit-learn validates its input on every call,
which costs milliseconds per call and would make one mail take over 5 ms; these classes
do the same arithmetic directly on the fitted arrays (shared with the estimators, not
copied): sublinear tf, idf and L2 normalisation as `TfidfTransformer` does, then the SVM's
decision function and the sigmoid calibrators, normalised as `CalibratedClassifierCV`
does. Tests check both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfTransformer

from classifier.features import NgramConfig, ngram_counts


class FastFeaturiser:
    """Texts to tf-idf features: hashed n-gram counts, then per block (words, characters)
    sublinear tf, idf weights and L2 normalisation, as the fitted `TfidfTransformer`s do."""

    def __init__(
        self, config: NgramConfig, word_tfidf: TfidfTransformer, char_tfidf: TfidfTransformer
    ) -> None:
        self.config = config
        self._blocks = [(t.idf_, t.sublinear_tf) for t in (word_tfidf, char_tfidf)]

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        return self.from_counts(ngram_counts(texts, self.config))

    def from_counts(self, counts: tuple[sp.csr_matrix, sp.csr_matrix]) -> sp.csr_matrix:
        blocks = []
        for block, (idf, sublinear) in zip(counts, self._blocks, strict=True):
            weighted = block.astype(np.float64, copy=True)
            if sublinear:
                np.log(weighted.data, out=weighted.data)
                weighted.data += 1.0
            weighted.data *= idf[weighted.indices]
            _normalise_rows(weighted)
            blocks.append(weighted)
        return sp.hstack(blocks, format="csr")


def _normalise_rows(matrix: sp.csr_matrix) -> None:
    rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(rows, weights=matrix.data**2, minlength=matrix.shape[0]))
    norms[norms == 0.0] = 1.0
    matrix.data /= norms[rows]


class FastCalibrated:
    """Calibrated probabilities of a fitted `CalibratedClassifierCV(LinearSVC,
    method="sigmoid", ensemble=False)`."""

    def __init__(self, calibrated: CalibratedClassifierCV) -> None:
        (inner,) = calibrated.calibrated_classifiers_
        svm = inner.estimator
        self.labels = [str(label) for label in calibrated.classes_]
        self._coef = svm.coef_.T
        self._intercept = svm.intercept_
        self._a = np.array([calibrator.a_ for calibrator in inner.calibrators])
        self._b = np.array([calibrator.b_ for calibrator in inner.calibrators])
        positions = {label: index for index, label in enumerate(calibrated.classes_)}
        self._columns = np.array([positions[label] for label in svm.classes_])
        if len(self.labels) == 2:
            self._columns = np.array([1])

    def predict_proba(self, features: sp.csr_matrix) -> np.ndarray:
        scores = np.asarray(features @ self._coef) + self._intercept
        calibrated = 1.0 / (1.0 + np.exp(self._a * scores + self._b))
        proba = np.zeros((features.shape[0], len(self.labels)))
        proba[:, self._columns] = calibrated
        if len(self.labels) == 2:
            proba[:, 0] = 1.0 - proba[:, 1]
            return proba
        total = proba.sum(axis=1, keepdims=True)
        uniform = np.full_like(proba, 1.0 / len(self.labels))
        return np.divide(proba, total, out=uniform, where=total != 0)
