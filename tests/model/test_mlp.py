"""The one MLP builder, fg.mlp: names, shapes, argument checks, the loss with its penalties, and
its parts (the configs a file holds, the shapes they imply)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.model.mlp import check_config, from_config, layers, parameter_shapes, penalized


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


@pytest.mark.parametrize(
    "change, message",
    [
        ({"sizes": [4, 2.0]}, "sizes must be a list of at least two whole numbers"),
        ({"sizes": [4, True]}, "sizes must be a list"),
        ({"sizes": [4]}, "sizes must be a list"),
        ({"activation": "swish"}, "unknown activation 'swish'"),
        ({"l2": -0.5}, "l2 must be a number >= 0"),
        ({"l1": "0"}, "l1 must be a number >= 0"),
        ({"weight_init": "xavier"}, "unknown initialiser"),
        ({"weight_init": 3}, "weight_init must be an initialiser's name"),
        ({"seed": 1.5}, "seed must be a whole number or null"),
        ({"dtype": "int32"}, "dtype int32 is not a float type"),
        ({"dtype": ["float32"]}, "unknown dtype"),
    ],
)
def test_a_config_read_back_is_checked_field_by_field(change, message):
    config = {**fg.mlp([4, 5, 3], l2=0.1).config, **change}
    with pytest.raises(ValueError, match=message):
        check_config(config)


def test_a_config_rebuilds_its_mlp_and_implies_its_shapes_before_building():
    model = fg.mlp([4, 5, 3], activation="relu", l2=0.1, dtype=np.float64, seed=3)
    config = json.loads(json.dumps(model.config))  # as a file holds it
    assert check_config(config) == config
    shapes = parameter_shapes(config["sizes"], config["dtype"])
    assert shapes == {p.name: (p.value.dtype.str, p.value.shape) for p in model.parameters}
    again = from_config(config)
    assert again.config == model.config and repr(again) == repr(model)
    assert [n.name for n in again.graph.order] == [n.name for n in model.graph.order]
    assert all(not p.value.any() for p in again.parameters)  # zeros, to be filled
    again.load_state(model.state())
    X = np.random.default_rng(0).normal(size=(6, 4))
    np.testing.assert_array_equal(again.forward(X), model.forward(X))


def test_the_layers_and_penalties_are_the_builders_parts():
    """layers() + penalized() with another data loss: the same names, the same draws."""
    x, t = fg.Input("x"), fg.Input("t")
    rng = np.random.default_rng(5)
    f, hidden, weights, biases = layers(
        x, [2, 3, 1], "tanh", fg.init.get("glorot_uniform"), rng, np.float64, last="f"
    )
    loss = penalized(fg.SquaredError(), f, t, weights, 0.5, 0.0, name="mse")
    assert [h.name for h in hidden] == ["h1"] and f.name == "f" and loss.name == "loss"
    assert {"mse", "l2_term"} <= set(fg.Graph(loss).nodes)
    assert [W.name for W in weights] == ["W1", "W2"] and [b.name for b in biases] == ["b1", "b2"]
    reference = fg.mlp([2, 3, 2], dtype=np.float64, seed=5)  # W1 is the first draw of both
    np.testing.assert_array_equal(weights[0].value, reference["W1"].value)
    bare = penalized(fg.SquaredError(), f, t, weights, 0.0, 0.0, name="mse")
    assert bare.name == "loss" and isinstance(bare.box, fg.SquaredError)
