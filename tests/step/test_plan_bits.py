"""The planned step (``fg.step_plan(graph)``) against the Graph's own fprop and bprop: the same
arithmetic into other memory, so the same bits, step after step."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import sgd_steps

import flowgraph as fg
from flowgraph.step.plan import StepPlan


@pytest.fixture(autouse=True)
def _buffer_every_value(monkeypatch):
    """Small test graphs: every value and gradient through out= (the plan skips small ones)."""
    monkeypatch.setattr(StepPlan, "small", 0)


def _data(dtype, n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)).astype(dtype), rng.integers(0, 3, n)


def _train(model, X, y, planned, steps=5, batch=4, lr=0.1):
    starts = [(s * batch) % len(X) for s in range(steps)]
    feeds = [{model.x: X[i : i + batch], model.y: y[i : i + batch]} for i in starts]
    return sgd_steps(model, feeds, fg.step_plan(model.train_graph) if planned else None, lr)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("batch", [4, 1])
def test_planned_steps_give_the_same_bits(dtype, activation, batch):
    X, y = _data(dtype)
    runs = []
    for planned in (False, True):
        model = fg.mlp([5, 7, 6, 3], activation, dtype=dtype, seed=1, l2=1e-3)
        runs.append(_train(model, X, y, planned, steps=6, batch=batch))
    (loss_a, params_a), (loss_b, params_b) = runs
    assert loss_a == loss_b
    for a, b in zip(params_a, params_b):
        assert a.dtype == b.dtype == dtype
        assert np.array_equal(a, b)


def test_gradients_stay_inspectable_and_reuse_the_buffers():
    X, y = _data(np.float64)
    model = fg.mlp([5, 7, 3], dtype=np.float64, seed=0)
    plan = fg.step_plan(model.train_graph)
    W = model.parameters[0]
    seen = []
    for _ in range(3):
        plan.fprop({model.x: X[:4], model.y: y[:4]})
        plan.bprop()
        model.train_graph.fprop({model.x: X[:4], model.y: y[:4]})  # the unplanned reference
        model.train_graph.bprop()
        fresh = [p.grad for p in model.parameters]
        plan.fprop({model.x: X[:4], model.y: y[:4]})
        plan.bprop()
        for p, g in zip(model.parameters, fresh):
            assert p.grad is not g and np.array_equal(p.grad, g)  # its own, equal
        seen.append(W.grad)
    assert seen[1] is seen[2]  # the same buffer from step to step (after the first)


def test_a_smaller_last_batch_gets_its_own_buffers_and_the_same_bits():
    X, y = _data(np.float32, n=10)
    model = fg.mlp([5, 4, 3], seed=0)
    plan = fg.step_plan(model.train_graph)
    for lo, hi in ((0, 4), (4, 8), (8, 10), (0, 4), (8, 10)):
        feed = {model.x: X[lo:hi], model.y: y[lo:hi]}
        loss = float(plan.fprop(feed))
        plan.bprop()
        planned = [p.grad.copy() for p in model.parameters]
        assert loss == float(model.train_graph.fprop(feed))
        model.train_graph.bprop()
        for g, p in zip(planned, model.parameters):
            assert np.array_equal(g, p.grad)
    assert len(plan.memory) == 2
    plan.release()
    assert not plan.memory
    assert float(plan.fprop(feed)) == float(model.train_graph.fprop(feed))  # made again


def test_a_feed_by_names_is_checked_as_graph_fprop_checks_it():
    model = fg.mlp([5, 4, 3], seed=0)
    plan = fg.step_plan(model.train_graph)
    X, y = _data(np.float32)
    assert float(plan.fprop({"x": X, "y": y})) == float(model.train_graph.fprop({"x": X, "y": y}))
    with pytest.raises(fg.FeedError, match="no value fed"):
        plan.fprop({"x": X})
    with pytest.raises(fg.GraphError):
        plan.bprop()  # the failed fprop's values are refused


def test_a_weight_used_twice_sums_its_gradients_in_place():
    rng = np.random.default_rng(0)
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((3, 3)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    h = fg.Tanh()(fg.Linear()(x, W, b))
    out = fg.Linear()(h, W, b)  # W and b read twice: two gradients summed
    loss = (out * out).sum()
    graph = fg.Graph(loss)
    feed = {x: rng.standard_normal((4, 3))}
    plan = fg.step_plan(graph)
    for _ in range(3):
        plan.fprop(feed)
        plan.bprop()
        got = W.grad.copy(), b.grad.copy()
        graph.fprop(feed)
        graph.bprop()
        assert np.array_equal(got[0], W.grad) and np.array_equal(got[1], b.grad)
        W.value -= 0.01 * W.grad


def test_without_kernels_only_values_of_at_least_small_elements_get_buffers(monkeypatch):
    monkeypatch.setattr(StepPlan, "small", 64)
    monkeypatch.setattr(StepPlan, "kernels", False)
    X, y = _data(np.float64, n=16)
    model = fg.mlp([5, 8, 3], dtype=np.float64, seed=0)  # a1: 16 x 8 = 128, a2: 16 x 3 = 48
    plan = fg.step_plan(model.train_graph)
    feed = {model.x: X, model.y: y}
    kept = []
    for _ in range(3):
        plan.fprop(feed)
        plan.bprop()
        kept.append((model.train_graph["a1"].value, model.train_graph["a2"].value))
    assert kept[1][0] is kept[2][0]  # 128 elements: one buffer, reused
    assert kept[1][1] is not kept[2][1]  # 48: fresh at every step


def test_a_planned_graph_of_two_outputs_returns_both_and_bprops_the_plans_output():
    rng = np.random.default_rng(3)
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    h = fg.tanh(x @ W)
    loss, side = (h * h).sum(), h.mean()
    graph = fg.Graph([loss, side])
    X = rng.standard_normal((5, 3))
    expected = graph.fprop({x: X})
    graph.bprop()
    want = W.grad.copy()
    graph.planned = fg.step_plan(graph)
    got = graph.fprop({x: X})
    assert isinstance(got, list) and len(got) == 2
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    graph.bprop()
    np.testing.assert_array_equal(W.grad, want)
    graph.bprop(output=side)  # not the plan's output: the Graph's own bprop
    assert W.grad.shape == want.shape and not np.array_equal(W.grad, want)


def test_planned_takes_only_a_plan_of_the_same_graph():
    model, other = fg.mlp([2, 3, 2], seed=0), fg.mlp([2, 3, 2], seed=1)
    graph = model.train_graph
    for wrong in (True, fg.step_plan(other.train_graph)):
        with pytest.raises(fg.GraphError, match="step plan of this graph"):
            graph.planned = wrong
    graph.planned = fg.step_plan(graph)
    graph.planned = None  # back to the Graph's own loops
    assert graph.planned is None


def test_with_kernels_every_value_of_a_kernel_box_gets_a_buffer(monkeypatch):
    monkeypatch.setattr(StepPlan, "small", 64)
    X, y = _data(np.float64, n=16)
    model = fg.mlp([5, 8, 3], dtype=np.float64, seed=0)
    plan = fg.step_plan(model.train_graph)
    feed = {model.x: X, model.y: y}
    kept = []
    for _ in range(3):
        plan.fprop(feed)
        plan.bprop()
        kept.append((model.train_graph["a2"].value, model.parameters[-1].grad))
    assert kept[1][0] is kept[2][0]  # 48 elements: a kernel writes into its buffer
    assert kept[1][1] is kept[2][1]  # b2's gradient (3 elements) too
