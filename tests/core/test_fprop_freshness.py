"""A bprop never mixes values of two forward passes.

* a failed fprop leaves nothing a later bprop can use;
* a graph's bprop after another graph sharing its nodes ran fprop (a Model's train and
  predict graphs) raises instead of computing gradients from mixed values.
"""

from __future__ import annotations

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
