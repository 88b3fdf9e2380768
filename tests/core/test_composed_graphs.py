"""The five graphs of notebook 9 ("Composing graphs"), small: each trains with fg.train, saves
and loads with identical outputs, renders, and passes check_graph."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


def _logistic(rng):
    x, t = fg.Input("x"), fg.Input("t")
    w, b = fg.Parameter(rng.normal(size=(1, 2)), "w"), fg.Parameter(np.zeros(1), "b")
    logit = (x @ w.T + b).reshape(-1)
    model = fg.Model(loss=fg.SigmoidCrossEntropy()(logit, t), output=fg.sigmoid(logit))
    X = rng.normal(size=(40, 2))
    return model, {"x": X, "t": (X[:, 0] > 0).astype(np.int64)}


def _linear(rng):
    x, t = fg.Input("x"), fg.Input("t")
    W, b = fg.Parameter(np.zeros((1, 3)), "W"), fg.Parameter(np.zeros(1), "b")
    f = fg.Linear()(x, W, b)
    X = rng.normal(size=(40, 3))
    return fg.Model(loss=fg.SquaredError()(f, t), output=f), {"x": X, "t": X @ [[1.0], [2], [3]]}


def _tied_autoencoder(rng):
    x = fg.Input("x")
    W = fg.Parameter(rng.normal(0, 0.3, (3, 6)), "W")
    b, c = fg.Parameter(np.zeros(3), "b"), fg.Parameter(np.zeros(6), "c")
    x_hat = fg.tanh(x @ W.T + b) @ W + c
    return fg.Model(loss=fg.SquaredError()(x_hat, x), output=x_hat), {"x": rng.normal(size=(30, 6))}


def _residual(rng):
    h, Wb, bb = fg.Input("h"), fg.Input("W"), fg.Input("b")
    block = fg.Block(fg.Graph(h + fg.tanh(h @ Wb.T + bb)), inputs=[h, Wb, bb], name="residual")
    x, y = fg.Input("x"), fg.Input("y")
    z = x
    for k in (1, 2, 3):
        z = block(z, fg.Parameter(rng.normal(0, 0.3, (4, 4)), f"W{k}"),
                  fg.Parameter(np.zeros(4), f"b{k}"))  # fmt: skip
    V = fg.Parameter(rng.normal(0, 0.5, (3, 4)), "V")
    a = z @ V.T
    model = fg.Model(loss=fg.SoftmaxCrossEntropy()(a, y), output=fg.Softmax()(a))
    return model, {"x": rng.normal(size=(30, 4)), "y": rng.integers(0, 3, 30)}


def _two_heads(rng):
    x, y, t = fg.Input("x"), fg.Input("y"), fg.Input("t")
    W, b = fg.Parameter(rng.normal(0, 0.5, (5, 4)), "W"), fg.Parameter(np.zeros(5), "b")
    trunk = fg.tanh(x @ W.T + b)
    scores = fg.Linear()(trunk, fg.Parameter(rng.normal(0, 0.5, (3, 5)), "Wc"),
                         fg.Parameter(np.zeros(3), "bc"))  # fmt: skip
    value = fg.Linear()(trunk, fg.Parameter(rng.normal(0, 0.5, (1, 5)), "Wv"),
                        fg.Parameter(np.zeros(1), "bv"))  # fmt: skip
    loss = fg.SoftmaxCrossEntropy()(scores, y) + fg.SquaredError()(value, t)
    model = fg.Model(loss=loss, output=fg.Softmax()(scores), labels=y)
    X = rng.normal(size=(30, 4))
    return model, {"x": X, "y": rng.integers(0, 3, 30), "t": X[:, :1]}


GRAPHS = [_logistic, _linear, _tied_autoencoder, _residual, _two_heads]


@pytest.mark.parametrize("build", GRAPHS, ids=lambda f: f.__name__[1:])
def test_train_save_load_render_check(build, tmp_path):
    rng = np.random.default_rng(0)
    model, feed = build(rng)
    before = model.loss_value(feed)
    fg.train(model, feed, epochs=20, batch_size=10, progress=False,
             optimizer=fg.SGD(model.parameters, lr=0.05))  # fmt: skip
    assert model.loss_value(feed) < before  # it learnt something
    loaded = fg.load_model(fg.save_model(model, tmp_path / "m.npz"))
    inputs = {i.name: feed[i.name] for i in model.features}
    assert np.array_equal(model.forward(inputs), loaded.forward(inputs))
    assert loaded.loss_value(feed) == model.loss_value(feed)
    svg = fg.render(model.graph, tmp_path / "g.svg")
    assert svg.read_text().lstrip().startswith(("<?xml", "<svg"))
    small = {k: v[:5] for k, v in feed.items()}
    assert fg.check_graph(model.train_graph, small).ok


def test_a_tied_weight_receives_the_sum_of_its_two_parents_gradients():
    rng = np.random.default_rng(1)
    model, feed = _tied_autoencoder(rng)
    graph = model.train_graph
    graph.fprop(feed)
    graph.bprop()
    W = next(p for p in model.parameters if p.name == "W")
    parents = [n for n in graph.order if any(c is W for c in n.children)]
    assert len(parents) == 2
    total = sum(g for n in parents for c, g in zip(n.children, n.box.bprop(
        [c.value for c in n.children], n.value, n.grad)) if c is W)  # fmt: skip
    assert np.allclose(W.grad, total)
