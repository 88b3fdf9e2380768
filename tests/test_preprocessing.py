"""Preprocessing: a library object fitted on the training part, saved as JSON, applied again
with the same statistics; shifted copies of training images."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph import datasets
from flowgraph.preprocessing import Preprocessing, PreprocessingError, default_kind


@pytest.fixture(scope="module")
def digits():
    X, y = datasets.load_digits()
    return X, y


def test_auto_follows_the_dataset():
    assert [default_kind(d) for d in ("digits", "mnist", "moons", None)] == [
        "scale", "none", "standardize", "standardize"]  # fmt: skip


def test_scale_for_digits_is_one_sixteenth(digits):
    X, _ = digits
    pre = Preprocessing.fit(X[:100], "auto", dataset="digits")
    assert pre.kind == "scale" and pre.factor == 1 / 16
    assert np.array_equal(pre.transform(X), X / 16)
    assert Preprocessing.fit(np.array([[-4.0, 2.0]]), "scale").factor == 0.25


def test_standardize_uses_the_training_statistics_only(rng):
    X_train = rng.normal(3.0, 2.0, size=(500, 4))
    X_test = rng.normal(-5.0, 9.0, size=(50, 4))
    pre = Preprocessing.fit(X_train, "standardize")
    Z = pre.transform(X_train)
    assert np.allclose(Z.mean(axis=0), 0, atol=1e-12) and np.allclose(Z.std(axis=0), 1)
    expected = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    assert np.allclose(pre.transform(X_test), expected)


def test_float32_inputs_stay_float32(rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    for kind in ("scale", "standardize", "none"):
        assert Preprocessing.fit(X, kind).transform(X).dtype == np.float32


def test_shifted_copies_move_each_image_by_one_pixel():
    img = np.arange(1, 10, dtype=float).reshape(1, 9)  # a 3 x 3 image 1..9
    pre = Preprocessing("none", image_shape=(3, 3))
    X, y = pre.augment(img, np.array([7]))
    assert X.shape == (5, 9) and list(y) == [7] * 5
    down = X[1].reshape(3, 3)  # moved down: the top row is blank, the bottom row fell off
    assert down.tolist() == [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    right = X[3].reshape(3, 3)
    assert right.tolist() == [[0, 1, 2], [0, 4, 5], [0, 7, 8]]
    assert np.array_equal(X[0], img[0])
    with pytest.raises(PreprocessingError, match="3 x 3 = 9 pixels"):
        pre.augment(np.zeros((2, 8)), np.zeros(2))
    assert Preprocessing("none").augment(img, np.array([7]))[0] is not None


@pytest.mark.parametrize("kind", ["none", "scale", "standardize"])
def test_round_trip_through_json(kind, rng):
    import json

    X = rng.normal(size=(30, 5))
    pre = Preprocessing.fit(X, kind, image_shape=None if kind != "scale" else (1, 5))
    back = Preprocessing.from_dict(json.loads(json.dumps(pre.to_dict())))
    assert back == pre
    assert np.array_equal(back.transform(X), pre.transform(X))


@pytest.mark.parametrize(
    "bad",
    [None, [], {}, {"kind": "whiten"}, {"kind": "scale"}, {"kind": "scale", "factor": -1},
     {"kind": "scale", "factor": "x"}, {"kind": "standardize", "mean": [0.0]},
     {"kind": "standardize", "mean": [0.0], "scale": [0.0]},
     {"kind": "none", "image_shape": "8x8"}, {"kind": "none", "image_shape": [8]}],
)  # fmt: skip
def test_malformed_descriptions_are_clear_errors(bad):
    with pytest.raises(ValueError):
        Preprocessing.from_dict(bad)


def test_fit_refuses_empty_or_non_matrix_inputs():
    with pytest.raises(PreprocessingError, match="shape"):
        Preprocessing.fit(np.zeros((0, 3)), "standardize")
    with pytest.raises(PreprocessingError, match="shape"):
        Preprocessing.fit(np.zeros(3), "scale")
