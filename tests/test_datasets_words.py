"""flowgraph.datasets.make_words and char_contexts: made-up words for character models,
reproducible from a seed, and Bengio's (context, next letter) pairs."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph import datasets as ds


def test_words_are_lower_case_letters_and_reproducible():
    words = ds.make_words(300, seed=3)
    assert len(words) == 300
    assert all(w.isalpha() and w.islower() and w.isascii() for w in words)
    assert words == ds.make_words(300, seed=3)
    assert words != ds.make_words(300, seed=4)
    assert all("q" not in w or "qu" in w for w in words)


def test_the_next_letter_depends_on_the_previous_one():
    X, y = ds.char_contexts(ds.make_words(2000, seed=0), block_size=1)
    V = len(ds.ALPHABET)
    joint = np.zeros((V, V))
    np.add.at(joint, (X[:, 0], y), 1)
    p_next = joint.sum(0) / joint.sum()
    p_given = joint / np.maximum(joint.sum(1, keepdims=True), 1)
    rows = joint.sum(1) > 0
    H_next = -np.sum(p_next[p_next > 0] * np.log(p_next[p_next > 0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        H_cond = -np.nansum(joint[rows] / joint.sum() * np.log(p_given[rows]))
    assert H_cond < H_next - 0.3  # a bigram model has something to learn


def test_contexts_pad_with_the_end_token_and_end_each_word():
    X, y = ds.char_contexts(["abc", "z"], block_size=3)
    assert X.dtype == np.int64 and y.dtype == np.int64
    assert X.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 2], [1, 2, 3], [0, 0, 0], [0, 0, 26]]
    assert y.tolist() == [1, 2, 3, 0, 26, 0]
    assert "".join(ds.ALPHABET[i] for i in y[:4]) == "abc."


def test_bad_words_and_sizes_are_refused():
    with pytest.raises(ds.DatasetError, match="'Ab1'"):
        ds.char_contexts(["Ab1"])
    with pytest.raises(ds.DatasetError):
        ds.make_words(0)
    with pytest.raises(ds.DatasetError):
        ds.char_contexts(["ab"], block_size=0)
