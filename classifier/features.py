"""Hashed word, character and cue n-grams of a whole batch of texts, counted with numpy.

Owns `NgramConfig`, `Counts` and `count_ngrams`, and the array tools they share with
`classifier.language`: `code_points`, `character_table`, `in_table` and `word_hashes`.
The features are word 1–2-grams, `char_wb` character n-grams (n-grams inside each word
padded with a space on both sides, as scikit-learn's `char_wb` analyzer forms them) and,
for reply intents, cue words (`classifier.intent_cues`), each hashed into its own block of
columns.

Hashing one n-gram at a time in Python costs about a microsecond each, over a thousand
per mail; here the whole batch is one array of code points, polynomial hashes are rolled
forward for all positions at once (words use prefix sums of the same polynomial, so a
word of any length costs a few array operations), invalid n-grams (crossing a word or a
text boundary) are masked out, and one sort counts every (text, column) pair. The hash is
a fixed function of the text, so counts are the same in every process (Python's own
`hash` is salted per process and could not be used).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

# Hashes are 32 bits wide (half the memory traffic of 64): they only pick one of at most
# 2**16 columns, where 32 bits leave collisions between distinct n-grams negligible.
# Arithmetic on uint32 arrays wraps around (mod 2**32) silently, as hashing wants.
_MULTIPLIER = np.uint32(0x01000193)  # FNV 32-bit prime: odd, so invertible mod 2**32
_INVERSE = np.uint32(pow(0x01000193, -1, 2**32))
_GOLDEN = np.uint32(0x9E3779B9)  # Fibonacci hashing: the top bits pick the column
_PAIR_SALT = 0x7F4A7C15
_ZERO = np.zeros(1, dtype=np.uint32)
_SPACE = 32
_TEXT_END = 0  # code point placed between texts; no n-gram may contain it
# Character classes (word characters, digits, letters) are looked up in tables of the
# Basic Multilingual Plane; code points above it (emoji) belong to none.
_TABLE_SIZE = 0x10000


@dataclass(frozen=True)
class NgramConfig:
    """Column counts of the three blocks (powers of two) and the character n-gram sizes."""

    word_columns: int = 2**15
    char_columns: int = 2**16
    char_min: int = 2
    char_max: int = 5
    cue_columns: int = 2**12

    def __post_init__(self) -> None:
        for name in ("word_columns", "char_columns", "cue_columns"):
            value = getattr(self, name)
            if value < 2 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two, not {value}")
        # A padded word's 1-grams are mostly the padding: n-grams start at two characters.
        if not 2 <= self.char_min <= self.char_max:
            raise ValueError("character n-gram sizes must satisfy 2 <= char_min <= char_max")

    @property
    def columns(self) -> int:
        return self.word_columns + self.char_columns + self.cue_columns

    @property
    def block_starts(self) -> tuple[int, int, int]:
        """First column of the word, character and cue blocks."""
        return 0, self.word_columns, self.word_columns + self.char_columns


@dataclass(frozen=True, eq=False)
class Counts:
    """How often each hashed n-gram occurs: one entry per (text, column) pair present,
    sorted by text, then column."""

    texts: int
    rows: np.ndarray  # int64
    columns: np.ndarray  # int64
    counts: np.ndarray  # float64


def count_ngrams(
    texts: Sequence[str],
    config: NgramConfig,
    word_texts: Sequence[str] | None = None,
    cue_texts: Sequence[str] | None = None,
) -> Counts:
    """Counts of the character n-grams of `texts`, the word 1–2-grams of `word_texts`
    (default: `texts`) and the space-separated cue words of `cue_texts` (default: none).

    Texts are normalised (`records.normalise`): words are separated by single spaces.
    Every run of digits counts as one "0": order numbers and amounts are noise.
    """
    if not texts:
        empty = np.zeros(0, dtype=np.int64)
        return Counts(0, empty, empty, np.zeros(0))
    shift = config.columns.bit_length()
    # Each n-gram becomes one key, text << shift | column: 32 bits suffice for a batch
    # (and sort twice as fast as 64), not always for a whole training set.
    key_type = np.uint32 if len(texts) << shift <= 1 << 32 else np.uint64
    word_start, char_start, cue_start = config.block_starts
    # " word word " per text: the single spaces pad each word on both sides.
    codes = _digits_alike(code_points(texts, padded=True))
    text_of = _text_prefixes(codes, shift, key_type)
    keys = _char_keys(codes, text_of, config, char_start)
    if word_texts is not None:
        codes = _digits_alike(code_points(word_texts))
        text_of = _text_prefixes(codes, shift, key_type)
    keys += _word_keys(codes, text_of, config.word_columns, word_start, pairs=True)
    if cue_texts is not None:
        codes = code_points(cue_texts)
        text_of = _text_prefixes(codes, shift, key_type)
        keys += _word_keys(codes, text_of, config.cue_columns, cue_start, pairs=False)
    return _tally(len(texts), np.concatenate(keys), shift)


def _digits_alike(codes: np.ndarray) -> np.ndarray:
    """Every run of digits (what the regular expression \\d+ matches) as one "0"."""
    digit = in_table(codes, character_table(r"\d"))
    repeated = np.zeros(len(codes), dtype=bool)
    np.logical_and(digit[1:], digit[:-1], out=repeated[1:])
    if repeated.any():
        codes, digit = codes[~repeated], digit[~repeated]
    return np.where(digit, np.uint32(ord("0")), codes)


def _text_prefixes(codes: np.ndarray, shift: int, key_type: type) -> np.ndarray:
    """For each position, the index of its text shifted into the high bits of a key."""
    return np.cumsum(codes == _TEXT_END, dtype=key_type) << key_type(shift)


def _tally(texts: int, keys: np.ndarray, shift: int) -> Counts:
    keys.sort()
    if not len(keys):
        empty = np.zeros(0, dtype=np.int64)
        return Counts(texts, empty, empty, np.zeros(0))
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty(len(starts))
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = len(keys) - starts[-1]
    unique = keys[starts]
    rows = (unique >> unique.dtype.type(shift)).astype(np.int64)
    columns = (unique & unique.dtype.type((1 << shift) - 1)).astype(np.int64)
    return Counts(texts, rows, columns, counts)


def _column(hashes: np.ndarray, salt: int, columns: int, start: int) -> np.ndarray:
    """Multiply-shift hashing: the top bits of (hash ^ salt) * golden ratio, plus the
    block's first column."""
    bits = np.uint32(32 - columns.bit_length() + 1)
    mixed = (hashes ^ np.uint32(salt)) * _GOLDEN
    mixed >>= bits
    mixed += np.uint32(start)
    return mixed


def _char_keys(
    codes: np.ndarray, text_of: np.ndarray, config: NgramConfig, start: int
) -> list[np.ndarray]:
    is_end = codes == _TEXT_END
    not_space = codes != _SPACE
    rolling = codes
    valid = ~is_end
    length = len(codes) - config.char_min + 1  # starts of the shortest n-grams
    hashes = np.zeros((config.char_max - config.char_min + 1, length), dtype=np.uint32)
    valids = np.zeros(hashes.shape, dtype=bool)
    for size in range(2, config.char_max + 1):
        rolling = rolling[:-1] * _MULTIPLIER + codes[size - 1 :]
        # Spaces may only pad the ends of an n-gram; no n-gram crosses into another text.
        valid = valid[:-1] & ~is_end[size - 1 :]
        if size > 2:
            valid &= not_space[size - 2 : size - 2 + len(valid)]
        if size >= config.char_min:
            # The sizes side by side (shorter rows of longer n-grams padded as invalid),
            # so that hashing and packing are one operation each.
            hashes[size - config.char_min, : len(rolling)] = rolling
            valids[size - config.char_min, : len(valid)] = valid
    salts = np.arange(config.char_min, config.char_max + 1, dtype=np.uint32)[:, None]
    columns = _column(hashes ^ salts, 0, config.char_columns, start)
    return [(text_of[:length] | columns)[valids]]


def _word_keys(
    codes: np.ndarray, text_of: np.ndarray, columns: int, start: int, *, pairs: bool
) -> list[np.ndarray]:
    """Words (runs of letters and digits) and, with `pairs`, each word with the next one
    of the same text. Cue texts pass `pairs=False` and split on spaces only."""
    if pairs:
        in_word = in_table(codes, character_table(r"[^\W_]"))
    else:
        in_word = (codes != _SPACE) & (codes != _TEXT_END)
    words, first = word_hashes(codes, in_word)
    prefix = text_of[first]
    keys = [prefix | _column(words, 0, columns, start)]
    if pairs:
        same_text = prefix[:-1] == prefix[1:]
        joined = words[:-1][same_text] * _MULTIPLIER + words[1:][same_text]
        keys.append(prefix[:-1][same_text] | _column(joined, _PAIR_SALT, columns, start))
    return keys


def word_hashes(codes: np.ndarray, in_word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A 32-bit polynomial hash of each run of `in_word` positions, and where each starts.

    Prefix sums of c[i] * M**-i give sum(c[i] * M**(last - i)) over a word's letters: the
    same hash wherever the word stands, for words of any length.
    """
    before = np.concatenate(([False], in_word[:-1]))
    after = np.concatenate((in_word[1:], [False]))
    first = np.flatnonzero(in_word & ~before)
    last = np.flatnonzero(in_word & ~after)
    forward, backward = _powers(len(codes))
    prefix = np.concatenate((_ZERO, np.cumsum(codes * backward, dtype=np.uint32)))
    return (prefix[last + 1] - prefix[first]) * forward[last], first


_power_cache: list[np.ndarray] = []


def _powers(length: int) -> tuple[np.ndarray, np.ndarray]:
    """M**i and M**-i (mod 2**32) for i < length, computed once and grown on demand."""
    if not _power_cache or len(_power_cache[0]) < length:
        size = max(length, 1 << 16)
        forward = np.cumprod(np.full(size, _MULTIPLIER, dtype=np.uint32), dtype=np.uint32)
        backward = np.cumprod(np.full(size, _INVERSE, dtype=np.uint32), dtype=np.uint32)
        # Index i holds M**i: shift by one and start at M**0 = 1.
        _power_cache[:] = [
            np.concatenate(([np.uint32(1)], forward[:-1])),
            np.concatenate(([np.uint32(1)], backward[:-1])),
        ]
    return _power_cache[0][:length], _power_cache[1][:length]


def code_points(pieces: Sequence[str], *, padded: bool = False) -> np.ndarray:
    """All pieces as one uint32 array of code points, each piece followed by `_TEXT_END`
    (and, if `padded`, preceded and followed by a space)."""
    joined = " " + " \0 ".join(pieces) + " \0" if padded else "\0".join(pieces) + "\0"
    return np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)


@cache
def character_table(character_class: str) -> np.ndarray:
    """For each code point of the Basic Multilingual Plane, whether the regular expression
    `character_class` (one character) matches it."""
    every = "".join(map(chr, range(_TABLE_SIZE)))
    marked = re.sub(character_class, "\x01", every).encode("utf-32-le", "surrogatepass")
    table = np.frombuffer(marked, dtype=np.uint32) == 1
    table[1] = re.fullmatch(character_class, "\x01") is not None
    table[_TABLE_SIZE - 1] = False  # stands for every code point above the table
    return table


def in_table(codes: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Whether each code point is in the table; code points above it (emoji) are looked
    up as U+FFFF, which is no character and in no table."""
    return table[np.minimum(codes, _TABLE_SIZE - 1)]
