"""Reliability, family 2 (stale state, silent wrong numbers): a bprop never mixes values of
two forward passes, and the fused loss keeps its precision.

* a failed fprop leaves nothing a later bprop can use;
* a graph's bprop after another graph sharing its nodes ran fprop (a Model's train and
  predict graphs) raises instead of computing gradients from mixed values;
* SoftmaxCrossEntropy's loss keeps full relative precision when the label wins by far.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flowgraph as fg


def small_graph(check_finite=False):
    x, y = fg.Input("x"), fg.Input("y")
    rng = np.random.default_rng(0)
    W1, b1 = fg.Parameter(rng.standard_normal((4, 2)), "W1"), fg.Parameter(np.zeros(4), "b1")
    W2, b2 = fg.Parameter(rng.standard_normal((2, 4)), "W2"), fg.Parameter(np.zeros(2), "b2")
    h = fg.Tanh()(fg.Linear()(x, W1, b1, name="a1"), name="h1")
    a2 = fg.Linear()(h, W2, b2, name="a2")
    loss = fg.SoftmaxCrossEntropy()(a2, y, name="loss")
    return fg.Graph(loss, check_finite=check_finite), x, y, a2


def test_bprop_after_a_failed_fprop_raises():
    graph, x, y, _ = small_graph()
    graph.fprop({x: np.ones((3, 2)), y: np.array([0, 1, 0])})
    graph.bprop()  # fine: one successful pass
    with pytest.raises(fg.FlowgraphError):
        graph.fprop({x: np.ones((3, 5)), y: np.array([0, 1, 0])})  # wrong width: a1 fails
    with pytest.raises(fg.GraphError, match="last fprop failed"):
        graph.bprop()
    # the values of a1 and below are the new (failed) pass's, loss is the old one's: no mix
    graph.fprop({x: np.ones((3, 2)), y: np.array([0, 1, 0])})
    graph.bprop()
    assert graph["W1"].grad.shape == (4, 2)


def test_bprop_after_a_failed_feed_raises():
    graph, x, y, _ = small_graph()
    graph.fprop({x: np.ones((3, 2)), y: np.array([0, 1, 0])})
    with pytest.raises(fg.FeedError):
        graph.fprop({x: np.ones((3, 2))})  # y missing
    with pytest.raises(fg.GraphError, match="last fprop failed"):
        graph.bprop()


def test_bprop_after_an_fprop_stopped_by_check_finite_raises():
    graph, x, y, _ = small_graph(check_finite=True)
    graph.fprop({x: np.ones((3, 2)), y: np.array([0, 1, 0])})
    with pytest.raises(fg.NonFiniteError):
        graph.fprop({x: np.full((3, 2), np.nan), y: np.array([0, 1, 0])})
    with pytest.raises(fg.GraphError, match="last fprop failed"):
        graph.bprop()


def test_bprop_before_any_fprop_still_says_so():
    graph, *_ = small_graph()
    with pytest.raises(fg.GraphError, match="bprop before fprop"):
        graph.bprop()


def test_another_graph_over_shared_nodes_invalidates_this_ones_values():
    graph, x, y, a2 = small_graph()
    scores = fg.Graph(a2)  # shares every node but the loss
    feed = {x: np.ones((3, 2)), y: np.array([0, 1, 0])}
    graph.fprop(feed)
    scores.fprop({x: np.zeros((5, 2))})  # rewrites x, a1, h1, a2 with another batch
    with pytest.raises(fg.GraphError, match=r"node 'x' \(Input\) holds a value from anoth"):
        graph.bprop()
    graph.fprop(feed)  # its own pass again: fine
    graph.bprop()
    np.testing.assert_array_equal(graph["x"].value, feed[x])


def test_the_other_graph_is_refused_too():
    graph, x, y, a2 = small_graph()
    scores = fg.Graph(a2)
    scores.fprop({x: np.zeros((5, 2))})
    graph.fprop({x: np.ones((3, 2)), y: np.array([0, 1, 0])})
    with pytest.raises(fg.GraphError, match="another fprop"):
        scores.bprop(grad_output=np.ones((3, 2)))


def test_a_shared_intermediate_node_is_enough():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 2)), "W"), fg.Parameter(np.zeros(2), "b")
    h = fg.Tanh()(fg.Linear()(x, W, b), name="h")
    first = fg.Graph(fg.L2Penalty()(h))
    second = fg.Graph(fg.L1Penalty()(h))
    first.fprop({x: np.ones((1, 2))})
    second.fprop({x: -np.ones((4, 2))})
    with pytest.raises(fg.GraphError, match="another fprop"):
        first.bprop()


def test_model_train_and_predict_graphs():
    model = fg.mlp([2, 4, 3], seed=0)
    X, y = np.ones((5, 2)), np.array([0, 1, 2, 0, 1])
    model.train_graph.fprop({model.x: X, model.y: y})
    model.predict_proba(np.zeros((7, 2)))  # the predict graph's fprop, over shared nodes
    with pytest.raises(fg.GraphError, match="another fprop"):
        model.train_graph.bprop()
    model.train_graph.fprop({model.x: X, model.y: y})
    model.train_graph.bprop()
    grads = [p.grad.copy() for p in model.parameters]
    # the gradients are those of this batch alone, as from a fresh model
    fresh = fg.mlp([2, 4, 3], seed=0)
    fresh.train_graph.fprop({fresh.x: X, fresh.y: y})
    fresh.train_graph.bprop()
    for g, p in zip(grads, fresh.parameters):
        np.testing.assert_array_equal(g, p.grad)


def test_training_still_works_with_evaluation_in_between():
    model = fg.mlp([2, 4, 2], seed=0)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 2)), (rng.standard_normal(40) > 0).astype(int)
    opt = fg.SGD(model.parameters, lr=0.1)
    history = fg.train(model, (X, y), (X, y), epochs=2, batch_size=8, optimizer=opt, progress=False)
    assert np.all(np.isfinite(history.train_loss))


# -- SoftmaxCrossEntropy's precision --------------------------------------------------------------


def exact_loss(a, y):
    """-log softmax(a)_y in extended precision, from log(1 + sum_{c != y} exp(a_c - a_y))."""
    a = np.asarray(a, dtype=np.longdouble)
    rows = np.arange(len(y))
    d = a - a[rows, y][:, None]
    d[rows, y] = -np.inf
    return np.mean(np.log1p(np.exp(d).sum(axis=1)))


def test_the_issue_example_keeps_its_relative_precision():
    a = np.array([[1e4, 1e4 - 30, 0.0, 0.0, 0.0]])
    loss = float(fg.SoftmaxCrossEntropy().fprop(a, np.array([0])))
    assert loss == pytest.approx(9.357622968839737e-14, rel=1e-14)  # log1p(exp(-30))


@pytest.mark.parametrize("margin", [1.0, 30.0, 200.0, 700.0])
@pytest.mark.parametrize("n", [1, 3])
def test_wide_margins_keep_full_relative_precision(margin, n):
    rng = np.random.default_rng(int(margin) + n)
    a = rng.standard_normal((n, 4))
    y = rng.integers(0, 4, size=n)
    a[np.arange(n), y] += margin  # the label wins by `margin`
    a += 5e3 * rng.standard_normal((n, 1))  # large logits too, shifted per row
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = float(fg.SoftmaxCrossEntropy().fprop(a, y))
    exact = float(exact_loss(a, y))
    assert loss > 0 and loss == pytest.approx(exact, rel=1e-12, abs=0)


def test_a_losing_label_and_ties_are_exact_too():
    box = fg.SoftmaxCrossEntropy()
    a = np.array([[0.0, 1e4], [3.0, 3.0], [1.0, 1.0]])
    loss = float(box.fprop(a, np.array([0, 1, 0])))
    assert loss == pytest.approx((1e4 + 2 * np.log(2)) / 3, rel=1e-15)
    a = np.array([[2.0, 2.0, 2.0]])
    assert float(box.fprop(a, np.array([2]))) == pytest.approx(np.log(3), rel=1e-15)


def test_float32_loss_stays_float32_and_precise():
    a = np.array([[50.0, 20.0, 0.0]], dtype=np.float32)
    loss = fg.SoftmaxCrossEntropy().fprop(a, np.array([0]))
    assert loss.dtype == np.float32
    assert float(loss) == pytest.approx(float(exact_loss(a.astype(np.float64), [0])), rel=1e-6)
