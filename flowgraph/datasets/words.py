"""Made-up words for character-level models (Bengio et al., 2003, on letters), generated
here so that no file or network is needed.

Each word is one to three syllables, a syllable an onset, a vowel and sometimes a coda, drawn
with unequal frequencies (``th`` and ``r`` common, ``qu`` rare; ``q`` is always followed by
``u``), so the next letter depends on the ones before it and a model of the context has
something to learn:

    >>> from flowgraph import datasets
    >>> words = datasets.make_words(5, seed=0)
    >>> len(words), all(w.isalpha() and w.islower() for w in words)
    (5, True)
    >>> X, y = datasets.char_contexts(["ab"], block_size=2)
    >>> X.tolist(), y.tolist()        # '.' (0) pads the start and marks the end
    ([[0, 0], [0, 1], [1, 2]], [1, 2, 0])
"""

from __future__ import annotations

import numpy as np

from .base import DatasetError, Seed, as_rng, check_int

__all__ = ["ALPHABET", "make_words", "char_contexts"]

# the tokens: '.' (start and end of a word) then the 26 letters, index = position here
ALPHABET = ".abcdefghijklmnopqrstuvwxyz"

_ONSETS = ("b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "j", "k", "l", "m", "n", "p",
           "pl", "qu", "r", "s", "sh", "st", "t", "th", "tr", "v", "w", "z", "")  # fmt: skip
_ONSET_WEIGHTS = (3, 1, 3, 2, 3, 1, 2, 2, 1, 2, 1, 2, 4, 4, 4, 2, 1, 0.5, 4, 4, 2, 1, 4, 3,
                  1, 1, 1, 0.5, 3)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "y", "ee", "ou", "ai")
_VOWEL_WEIGHTS = (6, 6, 4, 4, 2, 1, 1, 1, 1)
_CODAS = ("", "n", "r", "s", "l", "t", "nd", "st", "m", "x")
_CODA_WEIGHTS = (10, 3, 3, 2, 2, 2, 1, 1, 1, 0.3)


def _pick(rng: np.random.Generator, items: tuple[str, ...], weights: tuple[float, ...]) -> str:
    p = np.asarray(weights, dtype=np.float64)
    return items[int(rng.choice(len(items), p=p / p.sum()))]


def make_words(n_words: int = 1000, *, seed: Seed = 0) -> list[str]:
    """``n_words`` made-up lower-case words (repeats possible, as in a real corpus), the same
    for the same ``seed``: syllables of onset + vowel + coda, one to three per word."""
    n = check_int("n_words", n_words, minimum=1)
    rng = as_rng(seed)
    words = []
    for _ in range(n):
        syllables = int(rng.choice(3, p=[0.3, 0.5, 0.2])) + 1
        words.append("".join(_pick(rng, _ONSETS, _ONSET_WEIGHTS) + _pick(rng, _VOWELS,
                             _VOWEL_WEIGHTS) + _pick(rng, _CODAS, _CODA_WEIGHTS)
                             for _ in range(syllables)))  # fmt: skip
    return words


def char_contexts(words: list[str], block_size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Bengio's training pairs: for every letter of every word (and its end), the indices of
    the ``block_size`` letters before it (X, (N, block_size) int64, '.' = 0 before the word's
    start) and its own index (y, (N,) int64; 0 for the end of the word). Indices are
    positions in :data:`ALPHABET`."""
    block = check_int("block_size", block_size, minimum=1)
    X, y = [], []
    for word in words:
        bad = sorted(set(word) - set(ALPHABET[1:]))
        if bad:
            raise DatasetError(f"char_contexts: word {word!r} holds {bad}, not letters a-z")
        context = [0] * block
        for ch in word + ".":
            i = ALPHABET.index(ch)
            X.append(context)
            y.append(i)
            context = context[1:] + [i]
    return np.array(X, dtype=np.int64).reshape(-1, block), np.array(y, dtype=np.int64)
