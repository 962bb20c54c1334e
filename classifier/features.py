"""Hashed word and character n-gram counts for a whole batch of texts, computed with numpy.

Owns `ngram_counts`: word 1–2-grams and `char_wb` character n-grams (n-grams inside each
word padded with a space on both sides, as scikit-learn's `char_wb` analyzer forms them),
each hashed into a fixed number of columns. scikit-learn's `HashingVectorizer` builds and
hashes every n-gram as a Python string (about a microsecond each, over a thousand per
mail); here the whole batch is one array of code points, n-gram hashes are rolled forward
for all positions at once, and invalid n-grams (crossing a word or a text boundary) are
masked out. The hash is a fixed function of the text, so counts are the same in every
process (Python's own `hash` is salted per process and could not be used).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a 64-bit prime: spreads the rolling hash
_SPACE = 32
_TEXT_END = 0  # code point placed between texts; no n-gram may contain it
_NON_WORD = re.compile(r"[\W_]+")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class NgramConfig:
    word_columns: int = 2**15
    char_columns: int = 2**16
    char_min: int = 2
    char_max: int = 5

    @property
    def columns(self) -> int:
        return self.word_columns + self.char_columns


def ngram_counts(texts: Sequence[str], config: NgramConfig) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Count matrices (texts × columns) of hashed word n-grams and char_wb n-grams."""
    return _word_counts(texts, config.word_columns), _char_counts(texts, config)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        values = values ^ (values >> np.uint64(30))
        values = values * np.uint64(0xBF58476D1CE4E5B9)
        values = values ^ (values >> np.uint64(27))
        values = values * np.uint64(0x94D049BB133111EB)
        return values ^ (values >> np.uint64(31))


def _code_points(pieces: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """All pieces as one uint64 array of code points separated by `_TEXT_END`, and the
    index of the text each position belongs to."""
    joined = chr(_TEXT_END).join(pieces) + chr(_TEXT_END)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(piece) + 1 for piece in pieces), dtype=np.int64, count=len(pieces))
    return codes, np.repeat(np.arange(len(pieces)), lengths)


def _counts(rows: np.ndarray, columns: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sp.csr_matrix((data, (rows, columns)), shape=shape)
    matrix.sum_duplicates()
    return matrix


def _char_counts(texts: Sequence[str], config: NgramConfig) -> sp.csr_matrix:
    # " word word " per text: the single spaces pad each word on both sides.
    pieces = [" " + " ".join(_WHITESPACE.split(text.strip())) + " " for text in texts]
    codes, text_of = _code_points(pieces)
    spaces = np.concatenate(([0], np.cumsum(codes == _SPACE)))
    ends = np.concatenate(([0], np.cumsum(codes == _TEXT_END)))
    rows, columns = [], []
    rolling = codes.copy()
    for size in range(1, config.char_max + 1):
        if size > 1:
            with np.errstate(over="ignore"):
                rolling = rolling[:-1] * _MULTIPLIER + codes[size - 1 :]
        if size < config.char_min:
            continue
        starts = np.arange(len(rolling))
        # Spaces may only pad the ends of an n-gram; no n-gram crosses into another text.
        inner_spaces = spaces[starts + size - 1] - spaces[np.minimum(starts + 1, starts + size - 1)]
        valid = (inner_spaces == 0) & (ends[starts + size] == ends[starts])
        hashed = _mix(rolling[valid] ^ np.uint64(size * 0x9E3779B97F4A7C15 % 2**64))
        rows.append(text_of[: len(rolling)][valid])
        columns.append((hashed % np.uint64(config.char_columns)).astype(np.int64))
    return _counts(np.concatenate(rows), np.concatenate(columns), (len(texts), config.char_columns))


def _word_counts(texts: Sequence[str], size: int) -> sp.csr_matrix:
    pieces = [_NON_WORD.sub(" ", text).strip() for text in texts]
    codes, text_of = _code_points(pieces)
    in_word = (codes != _SPACE) & (codes != _TEXT_END)
    starts = in_word & ~np.concatenate(([False], in_word[:-1]))
    if not starts.any():
        return sp.csr_matrix((len(texts), size))
    word_of = np.cumsum(starts) - 1
    start_positions = np.flatnonzero(starts)
    offsets = np.arange(len(codes)) - start_positions[np.maximum(word_of, 0)]
    # A word's hash: the sum of its letters hashed with their position (order matters).
    letters = _mix(codes ^ (offsets.astype(np.uint64) << np.uint64(32)))[in_word]
    word_hash = _mix(np.add.reduceat(letters, np.flatnonzero(starts[in_word])))
    word_text = text_of[start_positions]
    same_text = word_text[:-1] == word_text[1:]
    with np.errstate(over="ignore"):
        pairs = _mix(word_hash[:-1][same_text] * _MULTIPLIER + word_hash[1:][same_text])
    rows = np.concatenate((word_text, word_text[:-1][same_text]))
    columns = (np.concatenate((word_hash, pairs)) % np.uint64(size)).astype(np.int64)
    return _counts(rows, columns, (len(texts), size))
