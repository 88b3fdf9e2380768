"""What a box's fprop kernel leaves its bprop kernel (``shared=``, :mod:`flowgraph.step.calls`):
SoftmaxCrossEntropy's bprop takes the exp(a - m) of its step's fprop instead of computing it
again. The same bits as the checked boxes (one example, a batch, float64, scores with inf, two
losses in one graph), labels still checked, and the checker holding the pair to the box."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.step.calls import bprop_kernel_of, fprop_kernel_of, takes_shared


def _two_steps(graph, feeds):
    """(losses, gradients) of planned steps and of unplanned ones over the same feeds."""
    runs = []
    for planned in (True, False):
        graph.planned = fg.step_plan(graph) if planned else None
        params = graph.parameters
        start = [p.value.copy() for p in params]
        losses, grads = [], []
        for feed in feeds:
            losses.append(np.array(graph.fprop(feed)))
            graph.bprop()
            grads.append([p.grad.copy() for p in params])
            for p in params:
                p.value -= 0.1 * p.grad
        for p, v in zip(params, start):
            p.value = v
        runs.append((losses, grads))
    graph.planned = None
    return runs


def _same(run_a, run_b):
    (la, ga), (lb, gb) = run_a, run_b
    assert all(np.array_equal(a, b) for a, b in zip(la, lb))
    for a, b in zip(ga, gb):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_shared_exp_gives_the_bits_of_the_checked_boxes(dtype, n):
    model = fg.mlp([4, 6, 5], dtype=dtype, seed=2)
    rng = np.random.default_rng(n)
    feeds = [{model.x: rng.standard_normal((n, 4)).astype(dtype),
              model.y: rng.integers(0, 5, n)} for _ in range(4)]  # fmt: skip
    planned, unplanned = _two_steps(model.train_graph, feeds)
    _same(planned, unplanned)
    plan = fg.step_plan(model.train_graph)
    shared = [s for s in plan.buffers.shared.values() if "exp" in s]
    assert len(shared) == 1 and shared[0]["exp"].shape == (n, 5)  # the loss's node only


def test_two_losses_in_one_graph_keep_their_own_exp():
    rng = np.random.default_rng(0)
    x, y1, y2 = fg.Input("x"), fg.Input("y1"), fg.Input("y2")
    W = fg.Parameter(rng.standard_normal((4, 3)), "W")
    b = fg.Parameter(np.zeros(4), "b")
    V = fg.Parameter(rng.standard_normal((2, 4)), "V")
    c = fg.Parameter(np.zeros(2), "c")
    a = fg.Linear()(x, W, b)
    sce = fg.SoftmaxCrossEntropy()  # one box object, two nodes
    loss = sce(a, y1) + sce(fg.Linear()(fg.Tanh()(a), V, c), y2)
    graph = fg.Graph(loss)
    feeds = [{x: rng.standard_normal((3, 3)), y1: rng.integers(0, 4, 3),
              y2: rng.integers(0, 2, 3)} for _ in range(4)]  # fmt: skip
    _same(*_two_steps(graph, feeds))
    shared = fg.step_plan(graph).buffers.shared
    assert sorted(s["exp"].shape for s in shared.values() if "exp" in s) == [(3, 2), (3, 4)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("classes", [2, 9, 300])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_one_example_kernels_give_the_bits_of_the_checked_boxes(dtype, classes, scale):
    """N = 1: Linear adds b on its row, the loss divides its row by the row's sum and skips
    the product by a gradient of 1 (2 classes: a sum of one number; 300: NumPy's pairwise
    blocks); a loss scaled by 0.5 gets the product."""
    model = fg.mlp([7, 20, classes], dtype=dtype, seed=1)
    loss = model.train_graph.outputs[0]
    graph = model.train_graph if scale == 1.0 else fg.Graph(fg.Scale(scale)(loss))
    rng = np.random.default_rng(classes)
    feeds = [{model.x: rng.standard_normal((1, 7)).astype(dtype),
              model.y: rng.integers(0, classes, 1)} for _ in range(4)]  # fmt: skip
    planned, unplanned = _two_steps(graph, feeds)
    _same(planned, unplanned)
    assert fg.step_plan(graph).buffers.kernels is not None  # the later steps ran kernels


@pytest.mark.parametrize("n", [1, 3])
def test_labels_out_of_range_still_raise_and_the_next_step_is_right(n):
    model = fg.mlp([4, 6, 5], seed=0)
    plan = fg.step_plan(model.train_graph)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 4)).astype(np.float32)
    for _ in range(2):
        plan.fprop({model.x: X, model.y: np.zeros(n, int)})
        plan.bprop()
    with pytest.raises(fg.LabelError):
        plan.fprop({model.x: X, model.y: np.full(n, 5)})
    with pytest.raises(fg.GraphError):
        plan.bprop()
    feed = {model.x: X, model.y: np.arange(n) % 5}
    plan.fprop(feed)
    plan.bprop()
    planned = [p.grad.copy() for p in model.parameters]
    model.train_graph.fprop(feed)
    model.train_graph.bprop()
    assert all(np.array_equal(a, p.grad) for a, p in zip(planned, model.parameters))


@pytest.mark.parametrize("n", [1, 3])
def test_the_kernels_agree_with_bprop_on_scores_with_inf_and_nan(n):
    """exp(a_k - m) is put back as the fprop kernel found it (NaN where a_k is inf), not as 1."""
    box = fg.SoftmaxCrossEntropy()
    a = np.random.default_rng(0).standard_normal((n, 4))
    a[0, 1] = np.inf
    a[-1, 2] = np.nan if n > 1 else a[-1, 2]
    y = np.arange(n) % 4
    shared: dict = {}
    forward = fprop_kernel_of(box, [a, y], np.empty(()), shared)
    with np.errstate(invalid="ignore"):
        loss = forward(a, y)
        backward = bprop_kernel_of(box, [a, y], loss, np.array(1.0), (True, False),
                                   (np.empty_like(a), None), shared)  # fmt: skip
        got = backward([a, y], loss, np.array(1.0))[0]
        ref = box.bprop([a, y], box.fprop(a, y), np.array(1.0))[0]
    assert np.array_equal(got, ref, equal_nan=True)


def test_without_its_fprop_kernel_the_bprop_kernel_is_none():
    box = fg.SoftmaxCrossEntropy()
    a, y = np.zeros((2, 3)), np.array([0, 2])
    assert takes_shared(type(box).bprop_kernel) and takes_shared(type(box).fprop_kernel)
    out = (np.empty_like(a), None)
    assert box.bprop_kernel([a, y], np.array(0.0), np.array(1.0), (True, False), out) is None
    assert bprop_kernel_of(box, [a, y], np.array(0.0), np.array(1.0), (True, False), out,
                           {}) is None  # fmt: skip


class _StaleSharedSCE(fg.SoftmaxCrossEntropy):
    """A bprop kernel that keeps the first step's softmax instead of reading its step's."""

    def bprop_kernel(self, inputs, loss, grad_loss, needs, out, shared=None):
        kernel = super().bprop_kernel(inputs, loss, grad_loss, needs, out, shared)
        if kernel is None:
            return None
        first = kernel(inputs, loss, np.ones_like(loss))[0].copy()

        def stale(inputs, loss, grad_loss):
            np.multiply(first, grad_loss, out=out[0])
            return out[0], None

        return stale


def test_check_box_catches_a_bprop_kernel_that_keeps_its_first_step():
    report = fg.check_box(_StaleSharedSCE())
    assert not report.ok
    bad = [p for p in report.planned if not p.ok]
    assert bad and all(p.path == "bprop_kernel after fprop_kernel" for p in bad)
    assert "the next step's values" in str(report)


def test_check_box_holds_the_shared_pair_at_the_next_steps_values():
    report = fg.check_box(fg.SoftmaxCrossEntropy())
    assert report.ok, str(report)
    assert "bprop_kernel after fprop_kernel" in {p.path for p in report.planned}


@pytest.mark.parametrize("label_dtype", [np.int64, np.int32, np.uint8, np.uint64])
@pytest.mark.parametrize("n", [1, 6])
def test_labels_of_every_integer_dtype_index_the_flat_scores(label_dtype, n):
    model = fg.mlp([4, 6, 5], seed=1)
    rng = np.random.default_rng(3)
    feeds = [{model.x: rng.standard_normal((n, 4)).astype(np.float32),
              model.y: rng.integers(0, 5, n).astype(label_dtype)} for _ in range(3)]  # fmt: skip
    _same(*_two_steps(model.train_graph, feeds))
    report = fg.check_box(fg.SoftmaxCrossEntropy(), [rng.standard_normal((n, 5)),
                                                     np.arange(n).astype(label_dtype) % 5])
    assert report.ok, str(report)


@pytest.mark.parametrize("n_other", [4, 1, 2])
@pytest.mark.parametrize("n", [4, 1])
def test_a_bprop_after_the_graphs_own_fprop_gives_that_fprops_gradients(n, n_other):
    """The plan's kernels read what its own fprop left (the loss's exp, the buffers): after
    the graph's unplanned fprop on other data, the plan's bprop is the graph's bprop."""
    model = fg.mlp([3, 4, 5], dtype=np.float64, seed=0)
    graph, rng = model.train_graph, np.random.default_rng(n)
    plan = fg.step_plan(graph)
    mine = {model.x: rng.standard_normal((n, 3)), model.y: rng.integers(0, 5, n)}
    other = {model.x: rng.standard_normal((n_other, 3)), model.y: rng.integers(0, 5, n_other)}
    for _ in range(3):  # the later steps: kernels
        plan.fprop(mine)
        plan.bprop()
    assert plan.buffers.kernels is not None
    graph.fprop(other)
    plan.bprop()
    got = [p.grad.copy() for p in model.parameters]
    graph.fprop(other)
    graph.bprop()
    assert all(np.array_equal(a, p.grad) for a, p in zip(got, model.parameters))
    plan.fprop(mine)  # and the plan's own steps go on with its kernels
    plan.bprop()
    got = [p.grad.copy() for p in model.parameters]
    graph.fprop(mine)
    graph.bprop()
    assert all(np.array_equal(a, p.grad) for a, p in zip(got, model.parameters))


def test_a_plan_that_never_ran_fprop_bprops_the_graphs_own_fprop():
    model = fg.mlp([3, 4, 5], dtype=np.float64, seed=1)
    graph, rng = model.train_graph, np.random.default_rng(1)
    feed = {model.x: rng.standard_normal((2, 3)), model.y: np.array([0, 4])}
    graph.fprop(feed)
    fg.step_plan(graph).bprop()
    got = [p.grad.copy() for p in model.parameters]
    graph.fprop(feed)
    graph.bprop()
    assert all(np.array_equal(a, p.grad) for a, p in zip(got, model.parameters))
