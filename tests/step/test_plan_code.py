"""``print(fg.step_plan(graph))``: the planned step as the straight-line code it runs, and the
checker verifying the planned path (a box's wrong ``out=`` is caught)."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import two_layer_graph

import flowgraph as fg
from flowgraph.step.plan import StepPlan


@pytest.fixture(autouse=True)
def _buffer_every_value(monkeypatch):
    """Small test graphs: every value and gradient through out= (the plan skips small ones)."""
    monkeypatch.setattr(StepPlan, "small", 0)


def test_the_plan_prints_fprop_lines_then_bprop_lines_in_reverse():
    model = fg.mlp([2, 3, 2], seed=0)
    plan = fg.step_plan(model.train_graph)
    X, y = np.ones((4, 2), np.float32), np.array([0, 1, 1, 0])
    for _ in range(2):
        plan.fprop({model.x: X, model.y: y})
        plan.bprop()
    text = str(plan)
    lines = text.splitlines()
    fprop, bprop = lines.index("# fprop"), lines.index("# bprop, in reverse order")
    assert fprop < bprop
    body = [line.split("  #")[0].strip() for line in lines]
    assert body[fprop + 1] == "np.dot(x, W1.T, out=a1); a1 += b1"
    assert body[fprop + 2] == "np.tanh(a1, out=h1)"
    assert "grad_loss = 1" in body[bprop + 1]
    order = [body.index(s) for s in (
        "np.dot(grad_a2.T, h1, out=grad_W2)",  # the top layer first
        "np.dot(grad_a2, W2, out=grad_h1)",
        "np.dot(grad_a1.T, x, out=grad_W1)",
    )]  # fmt: skip
    assert order[0] > bprop and order[2] > order[1] and order[2] > order[0]
    assert "grad_x" not in text  # the data get no gradient
    assert "# inputs: x (4, 2) float32, y (4,) int64" in text
    assert "(4, 3) float32" in lines[fprop + 1]


def test_the_plan_shows_a_second_gradient_added_in_place():
    x = fg.Input("x")
    W = fg.Parameter(np.eye(2), "W")
    b = fg.Parameter(np.zeros(2), "b")
    out = fg.Linear()(fg.Tanh()(fg.Linear()(x, W, b, name="a1"), name="h1"), W, b, name="a2")
    graph = fg.Graph(fg.Sum()(out, name="s"))
    text = str(fg.step_plan(graph))
    assert "grad_W += grad_W_from_a1" in text
    assert "np.dot(grad_a1.T, x, out=grad_W_from_a1)" in text


class _WrongOutTanh(fg.Tanh):
    """A Tanh whose out= path forgets the factor 1 - h^2: right without out, wrong with."""

    def bprop(self, inputs, h, grad_h, out=None):
        if out is not None and out[0] is not None:
            np.copyto(out[0], grad_h)
            return (out[0],)
        return super().bprop(inputs, h, grad_h)


def test_check_graph_verifies_the_planned_path_and_catches_a_wrong_out():
    graph, feed = two_layer_graph(_WrongOutTanh())
    assert fg.check_graph(graph, feed, boxes=False).ok  # unplanned: out= never runs
    graph.planned = fg.step_plan(graph)  # fprop and bprop() now run the step plan, buffers and all
    report = fg.check_graph(graph, feed, boxes=False)
    assert not report.ok
    bad = {c.name for c in report.parameters if not c.ok}
    assert "W1" in bad and "W2" not in bad


def test_check_graph_passes_on_the_planned_path_of_the_hot_boxes():
    rng = np.random.default_rng(1)
    model = fg.mlp([3, 5, 4, 3], "relu", dtype=np.float64, seed=0, l2=1e-2)
    model.train_graph.planned = fg.step_plan(model.train_graph)
    X, y = rng.standard_normal((6, 3)), rng.integers(0, 3, 6)
    report = fg.check_graph(model.train_graph, {model.x: X, model.y: y})
    assert report.ok
    assert fg.step_plan(model.train_graph).memory  # the plan ran


def test_fg_train_gives_the_same_parameters_planned_or_not():
    X, y = fg.datasets.make_blobs(60, seed=0)
    results = []
    for check_finite in (True, False):  # check_finite: the graph's own fprop and bprop
        model = fg.mlp([2, 6, 3], seed=0)
        model.train_graph.check_finite = check_finite
        fg.train(model, (X, y), epochs=3, batch_size=8, optimizer=fg.SGD(model.parameters,
                 lr=0.1), progress=False)  # fmt: skip
        results.append([p.value.copy() for p in model.parameters])
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_the_plan_names_its_kernels_and_the_rank_one_fold():
    model = fg.mlp([2, 3, 2], seed=0)
    plan = fg.step_plan(model.train_graph)
    assert "kernels" not in str(plan)  # no step yet
    plan.fold(fg.SGD(model.parameters, lr=0.1, fold=True))
    plan.fprop({model.x: np.ones((1, 2), np.float32), model.y: np.array([1])})
    plan.bprop()
    text = str(plan)
    assert "# from the second step of these shapes: the kernels of a1, h1, a2, loss" in text
    assert "ger(-lr, grad_a1[0], x[0], a=W1)" in text
