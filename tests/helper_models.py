"""Models and model files that several test files use (the tests folder is on sys.path:
``from helper_models import linear_regression``; ``--boxes helper_models:HalfSquaredError`` on
the command line)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

import flowgraph as fg
from flowgraph.io.format import canonical


class HalfSquaredError(fg.Box):
    """l = 1/N sum_t ||f_t - t_t||^2 / 2; grad_f = (f - t) / N, grad_t = -(f - t) / N."""

    arity = 2
    input_names = ("f", "t")

    def fprop(self, f, t):
        return np.asarray(0.5 * np.sum((f - t) ** 2) / len(f), dtype=f.dtype)

    def bprop(self, inputs, loss, grad_loss):
        f, t = inputs
        grad_f = grad_loss * (f - t) / len(f)
        return grad_f, -grad_f

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 2)), rng.standard_normal((4, 2))


def two_layer_graph(activation: fg.Box, seed: int = 0) -> tuple[fg.Graph, dict]:
    """x (5, 3) -> Linear(W1, b1) -> ``activation`` (node "h") -> Linear(W2, b2) ->
    SoftmaxCrossEntropy with labels y in {0, 1}, float64: the graph and its feed (by name)."""
    rng = np.random.default_rng(seed)
    x, y = fg.Input("x"), fg.Input("y")
    W1 = fg.Parameter(rng.standard_normal((4, 3)), "W1")
    b1 = fg.Parameter(np.zeros(4), "b1")
    W2 = fg.Parameter(rng.standard_normal((2, 4)), "W2")
    b2 = fg.Parameter(np.zeros(2), "b2")
    h = activation(fg.Linear()(x, W1, b1), name="h")
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(h, W2, b2), y)
    return fg.Graph(loss), {"x": rng.standard_normal((5, 3)), "y": rng.integers(0, 2, 5)}


def linear_regression(d: int = 3, dtype=np.float64) -> fg.Model:
    """f = W x + b (W of shape (1, d)) under the user box HalfSquaredError: a Model that is
    not an MLP and that needs ``boxes=`` to load."""
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(np.zeros((1, d), dtype=dtype), "W")
    b = fg.Parameter(np.zeros(1, dtype=dtype), "b")
    f = fg.Linear()(x, W, b, name="f")
    return fg.Model(loss=HalfSquaredError()(f, t, name="loss"), output=f)


# -- models to save, and model files to read and forge ------------------------------------------


def trained_mlp(dtype=np.float32, **kwargs) -> tuple[fg.Model, np.ndarray]:
    """An MLP [4, 6, 3] trained 3 epochs on 60 separable examples, and their inputs X."""
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = rng.normal(size=(60, 4)) + np.eye(3, 4)[y]
    model = fg.mlp([4, 6, 3], dtype=dtype, seed=1, **kwargs)
    fg.train(
        model, (X, y), epochs=3, batch_size=10, optimizer=fg.SGD(model.parameters, 0.1),
        progress=False,
    )  # fmt: skip
    return model, X


def regression_model():
    """linear_regression() with drawn weights, and its user box class."""
    model = linear_regression()
    rng = np.random.default_rng(0)
    model["W"].value[:] = rng.normal(size=(1, 3))
    model["b"].value[:] = 0.5
    return model, HalfSquaredError


def residual_model():
    """A residual MLP: one Block used three times, each use with its own Parameters; a
    constant inside the block (0.5) and one outside (an array)."""
    rng = np.random.default_rng(0)
    h, W, b = fg.Input("h"), fg.Input("W"), fg.Input("b")
    res = fg.Block(fg.Graph(h + fg.tanh(h @ W.T + b) * 0.5), [h, W, b], name="res")
    x, t = fg.Input("x"), fg.Input("t")
    z = x
    for k in range(1, 4):
        Wk = fg.Parameter(rng.normal(size=(4, 4)) * 0.3, f"W{k}")
        z = res(z, Wk, fg.Parameter(np.zeros(4), f"b{k}"), name=f"res{k}")
    f = z @ fg.Parameter(rng.normal(size=(4, 1)), "V") + np.array([0.1])
    return fg.Model(loss=fg.SquaredError()(f, t, name="loss"), output=f)


def file_meta(path) -> dict:
    """The description (``__meta__``) of a model file."""
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__meta__"]))


def file_arrays(path) -> dict:
    """The arrays of a model file, by member name, without ``__meta__``."""
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files if k != "__meta__"}


def write_file(path, meta, arrays, *, rehash: bool = True) -> None:
    """Write a model file by hand; ``rehash`` recomputes the description's digest (a forger
    who knows the format), so that the checks behind it are the ones tested."""
    if rehash:
        meta["sha256_meta"] = hashlib.sha256(canonical(meta)).hexdigest()
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def rewrite_file(path, edit) -> None:
    """Load every array of the .npz, let ``edit`` change the dict, write it back."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    edit(arrays)
    np.savez(path, **arrays)


def edit_file_meta(path, change) -> None:
    """Let ``change`` edit a model file's description in place (its digest not recomputed)."""

    def edit(arrays):
        meta = json.loads(str(arrays["__meta__"]))
        change(meta)
        arrays["__meta__"] = np.array(json.dumps(meta))

    rewrite_file(path, edit)


def sgd_steps(model, feeds, plan=None, lr=0.1):
    """(losses, parameters after) of plain SGD steps theta -= lr grad over ``feeds`` (dicts),
    through ``plan`` (a step plan's fprop and bprop) or the model's graph itself: the two
    runs the planned-step tests hold equal to the bit."""
    graph = model.train_graph
    losses = []
    for feed in feeds:
        if plan is not None:
            losses.append(float(plan.fprop(feed)))
            plan.bprop()
        else:
            losses.append(float(graph.fprop(feed)))
            graph.bprop()
        for p in model.parameters:
            p.value -= lr * p.grad
    return losses, [p.value.copy() for p in model.parameters]
