"""Prediction with plain numpy arrays: tf-idf weights, linear scores and calibrated
probabilities, for a whole batch at once.

Owns `Featuriser` (counts to `Weights`), `LinearHead`, `Heads` and `row_sums`. The arrays
come from scikit-learn at training time (`classifier.training`): per column an idf weight,
per head the coefficients of a linear SVM and the sigmoid calibrators of
`CalibratedClassifierCV`. Prediction needs none of scikit-learn (whose import alone costs
over 100 MB and whose input validation costs milliseconds per call): weights are
sublinear tf × idf, L2-normalised and scaled per block, as `TfidfTransformer` does per
block; scores are the weights times the coefficients of each present column;
probabilities are the calibrators' sigmoids, normalised as `CalibratedClassifierCV`
normalises them. Tests check both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from classifier.features import Counts, NgramConfig


@dataclass(frozen=True, eq=False)
class Weights:
    """tf-idf weights of a batch: one entry per (text, column) present, sorted by text."""

    texts: int
    rows: np.ndarray
    columns: np.ndarray
    values: np.ndarray


class Featuriser:
    """Counts to tf-idf weights: per block (words, characters, cues) sublinear tf times
    idf, L2-normalised, then multiplied by the block's scale."""

    def __init__(self, config: NgramConfig, idf: np.ndarray, scales: Sequence[float]) -> None:
        self.config = config
        self.idf = idf
        self._starts = np.array(config.block_starts[1:], dtype=np.int64)
        self._scales = np.asarray(scales, dtype=np.float64)

    def weights(self, counts: Counts) -> Weights:
        values = np.log(counts.counts)
        values += 1.0
        values *= self.idf[counts.columns]
        block = np.searchsorted(self._starts, counts.columns, side="right")
        slot = counts.rows * len(self._scales) + block
        norms = np.sqrt(
            np.bincount(slot, weights=values * values, minlength=counts.texts * len(self._scales))
        )
        values /= norms[slot]
        values *= self._scales[block]
        return Weights(counts.texts, counts.rows, counts.columns, values)


@dataclass(frozen=True, eq=False)
class LinearHead:
    """One calibrated linear classifier: `coef` (columns × classes), `intercept`, and per
    class the sigmoid calibrator's `a` and `b` (probability = 1 / (1 + exp(a·s + b)))."""

    labels: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray
    a: np.ndarray
    b: np.ndarray

    def to_arrays(self) -> dict[str, Any]:
        """Plain lists and arrays for saving."""
        return {
            "labels": list(self.labels),
            "coef": self.coef,
            "intercept": self.intercept,
            "a": self.a,
            "b": self.b,
        }

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> LinearHead:
        return cls(
            tuple(arrays["labels"]), arrays["coef"], arrays["intercept"], arrays["a"], arrays["b"]
        )

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (texts × labels) from decision scores (texts × score
        columns: one per label, or a single one for two labels)."""
        calibrated = 1.0 / (1.0 + np.exp(self.a * (scores + self.intercept) + self.b))
        if len(self.labels) == 2:
            return np.hstack((1.0 - calibrated, calibrated))
        total = calibrated.sum(axis=1, keepdims=True)
        if total.all():
            return calibrated / total
        # Every sigmoid underflowed to 0: no evidence either way, all labels alike.
        uniform = np.full_like(calibrated, 1.0 / len(self.labels))
        return np.divide(calibrated, total, out=uniform, where=total != 0)


class Heads:
    """Several heads on the same features, scored with one pass over the weights."""

    def __init__(self, heads: Sequence[LinearHead]) -> None:
        self.heads = tuple(heads)
        self._coef = np.hstack([head.coef for head in self.heads]) if self.heads else None
        widths = [head.coef.shape[1] for head in self.heads]
        self._edges = np.cumsum([0, *widths])

    def probabilities(self, weights: Weights) -> list[np.ndarray]:
        """Per head, its probability matrix (texts × labels)."""
        if self._coef is None:
            return []
        scores = row_sums(weights, self._coef)
        return [
            head.probabilities(scores[:, start:end])
            for head, start, end in zip(self.heads, self._edges[:-1], self._edges[1:], strict=True)
        ]


def row_sums(weights: Weights, coef: np.ndarray) -> np.ndarray:
    """For each text, the sum over its columns of weight × coefficient row."""
    scores = np.zeros((weights.texts, coef.shape[1]))
    bounds = np.searchsorted(weights.rows, np.arange(weights.texts + 1)).tolist()
    # np.take copies whole rows; indexing with an array takes three times as long.
    rows = np.take(coef, weights.columns, axis=0)
    values = weights.values.astype(coef.dtype)
    for text, (start, end) in enumerate(pairwise(bounds)):
        if end > start:
            scores[text] = values[start:end] @ rows[start:end]
    return scores
