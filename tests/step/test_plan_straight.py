"""The later steps as straight-line code (:mod:`flowgraph.step.straight`): the loops over the
kernels unrolled, with the same calls in the same order, so the same bits; errors still name
the node; the code readable as ``source``."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.step.plan import StepPlan


def _run(monkeypatch, straight, make, feeds, fold=False):
    monkeypatch.setattr(StepPlan, "straight", straight)
    graph, params = make()
    plan = fg.step_plan(graph)
    opt = fg.SGD(params, lr=0.1, fold=fold)
    plan.fold(opt)
    losses, grads = [], []
    for feed in feeds(graph):
        losses.append(float(plan.fprop(feed)))
        plan.bprop()
        grads.append([None if p.grad is None else p.grad.copy() for p in params])
        opt.step()
    return losses, grads, [p.value.copy() for p in params], plan


def _mlp(n, dtype):
    def make():
        model = fg.mlp([3, 5, 4, 2], dtype=dtype, seed=3, l2=1e-3)
        make.model = model
        return model.train_graph, model.parameters

    def feeds(graph):
        rng = np.random.default_rng(0)
        m = make.model
        return [{m.x: rng.standard_normal((n if s % 3 else 2, 3)).astype(dtype),
                 m.y: rng.integers(0, 2, n if s % 3 else 2)} for s in range(6)]  # fmt: skip

    return make, feeds


def _shared_weight():
    x, y = fg.Input("x"), fg.Input("y")

    def make():  # (a weight read by two Linear boxes: its second gradient is added)
        W = fg.Parameter(np.random.default_rng(1).standard_normal((3, 3)), "W")
        b = fg.Parameter(np.zeros(3), "b")
        h = fg.Tanh()(fg.Linear()(x, W, b))
        return fg.Graph(fg.SoftmaxCrossEntropy()(fg.Linear()(h, W, b), y)), [W, b]

    def feeds(graph):
        r = np.random.default_rng(2)
        return [{x: r.standard_normal((4, 3)), y: r.integers(0, 3, 4)} for _ in range(4)]

    return make, feeds


@pytest.mark.parametrize(
    ("case", "fold"),
    [(_mlp(1, np.float32), False), (_mlp(4, np.float32), False), (_mlp(4, np.float64), False),
     (_mlp(1, np.float32), True), (_mlp(4, np.float64), True), (_shared_weight(), False)],
)  # fmt: skip
def test_the_straight_code_gives_the_bits_of_the_loops(monkeypatch, case, fold):
    make, feeds = case
    a = _run(monkeypatch, True, make, feeds, fold)
    b = _run(monkeypatch, False, make, feeds, fold)
    assert a[0] == b[0]
    for ga, gb in zip(a[1], b[1]):
        assert all((x is None and y is None) or np.array_equal(x, y) for x, y in zip(ga, gb))
    assert all(np.array_equal(x, y) for x, y in zip(a[2], b[2]))
    plan = a[3]
    assert "def fprop(stamp):" in plan.buffers.fprop.source
    assert "def backward(bufs):" in plan.buffers.kernels.run.source


def test_the_weight_read_twice_is_added_in_the_straight_code(monkeypatch):
    make, feeds = _shared_weight()
    *_, plan = _run(monkeypatch, True, make, feeds)
    assert "accumulate(bufs, " in plan.buffers.kernels.run.source


def test_a_failing_bprop_kernel_is_named_in_the_straight_code():
    class Flaky(fg.Tanh):
        def bprop_kernel(self, inputs, h, grad_h, needs, out):
            def kernel(inputs, h, grad_h):
                raise ValueError("the bprop kernel broke")

            return kernel

    rng = np.random.default_rng(0)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    h = Flaky()(fg.Linear()(x, W, b), name="h")
    graph = fg.Graph(fg.SoftmaxCrossEntropy()(h, y))  # (every box has kernels)
    plan = fg.step_plan(graph)
    feed = {x: np.ones((4, 2)), y: np.array([0, 1, 2, 0])}
    plan.fprop(feed)
    plan.bprop()  # the first bprop: the checked boxes, which make the kernels
    assert plan.buffers.kernels is not None
    plan.fprop(feed)
    with pytest.raises(fg.BoxError, match="bprop of node 'h' .*step plan.*bprop kernel broke"):
        plan.bprop()
