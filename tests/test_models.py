"""The mlp builder and Model: names, shapes, argument checks, the loss with its penalties."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import linear_regression

import flowgraph as fg


def _data(n: int = 12, d: int = 4, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % c


def test_names_shapes_and_config():
    model = fg.mlp([4, 7, 5, 3], activation="relu", seed=1)
    assert [p.name for p in model.parameters] == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert [p.value.shape for p in model.weights] == [(7, 4), (5, 7), (3, 5)]
    assert [p.value.shape for p in model.biases] == [(7,), (5,), (3,)]
    assert model.n_classes == 3 and model.dtype == np.float32
    for name in ("x", "y", "a1", "h1", "a2", "h2", "a3", "output", "loss"):
        assert model[name].name == name
    assert model.logits is model["a3"] and model.output is model["output"]
    assert model.config["sizes"] == [4, 7, 5, 3] and model.config["activation"] == "relu"
    assert "93 parameters" in repr(model) and "relu" in repr(model)  # 28+7+35+5+15+3


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(sizes=[4]), "at least an input size"),
        (dict(sizes=[4, 0, 3]), "all >= 1"),
        (dict(sizes=[4, 5, 1]), "at least 2 classes"),
        (dict(sizes=[4, 3], activation="softplus"), "unknown activation 'softplus'"),
        (dict(sizes=[4, 3], l2=-1.0), "l2 and l1 must be >= 0"),
        (dict(sizes=[4, 3], l1=-0.1), "l2 and l1 must be >= 0"),
        (dict(sizes=[4, 3], dtype=np.int32), "float type"),
        (dict(sizes=[4, 3], weight_init="xavier"), "unknown initialiser"),
    ],
)
def test_mlp_validates_its_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fg.mlp(**kwargs)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_predictions(activation):
    X, y = _data()
    model = fg.mlp([4, 6, 3], activation=activation, seed=0)
    P = model.predict_proba(X)
    assert P.shape == (12, 3) and P.dtype == np.float32
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)
    assert np.array_equal(model.predict(X), P.argmax(axis=1))
    assert model.error(X, y) == pytest.approx(np.mean(P.argmax(axis=1) != y))
    # batching inside predict_proba changes nothing
    np.testing.assert_allclose(model.predict_proba(X, batch_size=5), P, rtol=1e-6)
    # one row as a vector
    assert model.predict(X[0]).shape == (1,)


def test_prediction_input_shape_is_checked():
    model = fg.mlp([4, 3])
    with pytest.raises(ValueError, match=r"inputs of shape \(N, 4\), got \(2, 5\)"):
        model.predict(np.zeros((2, 5)))


def _by_hand(model: fg.Model, X, y, l2: float, l1: float) -> float:
    """1/N sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)|, in NumPy."""
    h = X
    n_layers = len(model.weights)
    for k, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        a = h @ W.value.T + b.value
        h = np.tanh(a) if k < n_layers else a
    a = h - h.max(axis=1, keepdims=True)
    log_f = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    nll = -log_f[np.arange(len(y)), y].mean()
    omega_l2 = sum(float((W.value**2).sum()) for W in model.weights)
    omega_l1 = sum(float(np.abs(W.value).sum()) for W in model.weights)
    return nll + l2 * omega_l2 + l1 * omega_l1


@pytest.mark.parametrize("l2, l1", [(0.0, 0.0), (0.03, 0.0), (0.0, 0.02), (0.03, 0.02)])
def test_loss_holds_the_penalties_on_weights_only(l2, l1):
    X, y = _data()
    model = fg.mlp([4, 6, 5, 3], l2=l2, l1=l1, dtype=np.float64, seed=2)
    for b in model.biases:  # biases far from 0: a penalty on them would show
        b.value += 3.0
    assert model.loss_value(X, y) == pytest.approx(_by_hand(model, X, y, l2, l1), rel=1e-12)
    if l2 or l1:
        plain = fg.mlp([4, 6, 5, 3], dtype=np.float64, seed=2)
        plain.load_state(model.state())
        assert model.loss_value(X, y) > plain.loss_value(X, y)
        # the gradient with respect to a bias is the same with or without the penalties...
        model.train_graph.fprop({model.x: X, model.y: y})
        model.train_graph.bprop()
        plain.train_graph.fprop({plain.x: X, plain.y: y})
        plain.train_graph.bprop()
        for b, b0 in zip(model.biases, plain.biases):
            np.testing.assert_allclose(b.grad, b0.grad, rtol=1e-12)
        # ...and for a weight it gains 2 l2 W + l1 sign(W)
        for W, W0 in zip(model.weights, plain.weights):
            extra = 2 * l2 * W.value + l1 * np.sign(W.value)
            np.testing.assert_allclose(W.grad, W0.grad + extra, rtol=1e-10, atol=1e-14)
        assert "nll" in model.graph.nodes


def test_state_round_trip_and_checks():
    model = fg.mlp([4, 5, 3], seed=0)
    other = fg.mlp([4, 5, 3], seed=1)
    X, _ = _data()
    assert not np.array_equal(model.predict_proba(X), other.predict_proba(X))
    other.load_state(model.state())
    assert np.array_equal(model.predict_proba(X), other.predict_proba(X))
    state = model.state()
    state["W1"][:] = 0  # a copy: the model is untouched
    assert model["W1"].value.any()
    with pytest.raises(KeyError, match="b2"):
        other.load_state({k: v for k, v in model.state().items() if k != "b2"})
    with pytest.raises(ValueError, match="W1: shape"):
        other.load_state({**model.state(), "W1": np.zeros((2, 2))})


# -- any graph as a Model -------------------------------------------------------------------------


def test_any_graph_is_a_model_with_roles():
    model = linear_regression()
    assert [i.name for i in model.inputs] == ["x", "t"]
    assert model.features == [model["x"]] and model.targets == [model["t"]]
    assert [p.name for p in model.parameters] == ["W", "b"]
    assert not model.classifier and model.labels is None and model.config == {}
    assert [n.name for n in model.predict_graph.order] == ["x", "W", "b", "f"]
    assert "t" not in model.predict_graph.nodes  # prediction needs no targets
    assert "loss 'loss'" in repr(model) and "4 parameters" in repr(model)
    model["W"].value[:] = [[1.0, 2.0, 3.0]]
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(model.forward({"x": X}), X @ [[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(model.forward(X), model.forward({"x": X, "t": np.zeros(2)}))
    assert model.loss_value({"x": X, "t": np.zeros((2, 1))}) == pytest.approx((8**2 + 26**2) / 4)
    with pytest.raises(fg.ModelError, match="classification output.*'f' \\(Linear\\)"):
        model.predict(X)
    with pytest.raises(AttributeError, match="no Input named 'y'"):
        model.y  # noqa: B018
    with pytest.raises(fg.FeedError, match="'z', which is not an Input"):
        model.forward({"x": X, "z": X})


def test_a_softmax_output_makes_a_classifier_whatever_the_names():
    rng = np.random.default_rng(0)
    pixels, label = fg.Input("pixels"), fg.Input("label")
    W = fg.Parameter(rng.normal(size=(3, 4)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    a = fg.Linear()(pixels, W, b, name="a")
    model = fg.Model(loss=fg.SoftmaxCrossEntropy()(a, label), output=fg.Softmax()(a, name="p"))
    assert model.classifier and model.labels is label
    X, y = rng.normal(size=(10, 4)), np.arange(10) % 3
    P = model.predict_proba({"pixels": X})
    assert P.shape == (10, 3)
    assert model.error(X, y) == model.error({"pixels": X, "label": y})  # (X, y) finds the roles
    assert model.error(X, y) == pytest.approx(np.mean(P.argmax(1) != y))
    with pytest.raises(fg.ModelError, match="pass labels="):
        fg.Model(loss=fg.Add()(model.loss, fg.SoftmaxCrossEntropy()(a, fg.Input("other"))),
                 output=model.output)  # fmt: skip


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
