"""Feeds: data checked in one place, before the graph sees it. Nothing is broadcast; empty
or non-finite data is named as such."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import linear_regression

import flowgraph as fg


def _data(n: int = 12, d: int = 4, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % c


@pytest.mark.parametrize(
    "labels, message",
    [
        (np.zeros((12, 1), int), r"shape \(12,\), got \(12, 1\).*y.ravel"),
        (np.zeros(11, int), r"shape \(12,\), got \(11,\)"),
        (np.zeros(12), "must be integers, got dtype float64"),
        (np.array(["0"] * 12), "must be integers, got dtype <U1"),
        (np.full(12, 3), r"lie in \[0, 3\)"),
    ],
)
def test_error_never_broadcasts_labels(labels, message):
    X, _ = _data()
    model = fg.mlp([4, 3])
    with pytest.raises(fg.LabelError, match=message):
        model.error(X, labels)


def test_empty_or_non_finite_data_is_a_clear_error():
    X, y = _data()
    model = fg.mlp([4, 3])
    with pytest.raises(fg.DataError, match="no examples"):
        model.error(X[:0], y[:0])
    with pytest.raises(fg.DataError, match="no examples"):
        model.loss_value(X[:0], y[:0])
    X[5, 2] = np.inf
    with pytest.raises(fg.DataError, match=r"array 'x' holds inf at index \(5, 2\)"):
        model.predict(X)


def test_data_reaches_the_graph_as_one_feed_whatever_its_form():
    X, y = _data()
    model = fg.mlp([4, 3])
    forms = [(X, y), {"x": X, "y": y}, {model.x: X, model.y: y}]
    feeds = [model.as_feed(data) for data in forms] + [model.as_feed(X, y)]
    for feed in feeds:
        assert list(feed) == [model.x, model.y] and feed.model is model and feed.checked
        np.testing.assert_array_equal(feed[model.x], X.astype(np.float32))
        assert feed[model.y].dtype == np.int64
    predict = model.as_feed(X, graph="predict")  # no labels needed
    assert list(predict) == [model.x]
    assert list(model.as_feed(feeds[0], graph="predict")) == [model.x]  # a Feed, cut


def test_a_feed_names_what_is_wrong_with_it():
    X, y = _data()
    model = fg.mlp([4, 3])
    other = fg.Input("x")
    with pytest.raises(fg.FeedError, match="Input 'x' of another graph"):
        model.as_feed({other: X, "y": y})
    with pytest.raises(fg.FeedError, match="no array for Input 'y'"):
        model.as_feed({"x": X})
    with pytest.raises(TypeError, match="either a feed dict or \\(X, y\\)"):
        model.as_feed({"x": X}, y)
    with pytest.raises(fg.LabelError, match=r"labels y must have shape \(12,\), got \(11,\)"):
        model.as_feed(X, y[:11])
    regression = linear_regression(d=4)
    with pytest.raises(fg.DataError, match="x has 12, t has 11"):
        regression.as_feed({"x": X, "t": np.zeros((11, 1))})
    with pytest.raises(fg.DataError, match="dtype <U1"):
        model.as_feed({"x": X, "y": np.array(["a"] * 12)}, graph="all", check=True)
    with pytest.raises(ValueError, match="graph must be 'train', 'predict' or 'all'"):
        model.as_feed(X, y, graph="test")
