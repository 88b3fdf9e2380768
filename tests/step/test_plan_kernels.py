"""The step plan's kernels (``fprop_kernel``, ``bprop_kernel``): from the second step
of a signature on, the boxes' arithmetic without their checks of shapes and dtypes. The same
bits as the checked boxes, every gradient readable, every bad input still refused with the
box's own message, and the checker holding each kernel to its box."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import two_layer_graph

import flowgraph as fg
from flowgraph.step.plan import StepPlan, kernels_of


def _mlp(dtype=np.float32, **kw):
    return fg.mlp([5, 7, 6, 3], dtype=dtype, seed=1, **kw)


def _feed(model, n=4, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return {model.x: rng.standard_normal((n, 5)).astype(dtype), model.y: rng.integers(0, 3, n)}


def _step(plan, feed):
    loss = float(plan.fprop(feed))
    plan.bprop()
    return loss


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("l2", [0.0, 1e-2])
def test_the_second_step_runs_kernels_only(n, l2):
    model = _mlp(l2=l2)
    plan = fg.step_plan(model.train_graph)
    plan.fprop(_feed(model, n))
    assert plan.buffers.kernels is None  # the first step: the checked boxes, which
    plan.bprop()
    assert plan.buffers.kernels is not None  # made the kernels of the later steps
    _step(plan, _feed(model, n, seed=1))
    boxes = [n.box.fprop for n in plan.nodes]
    assert not any(call in boxes for _, call, _ in plan.buffers.fsteps)  # no checked fprop


@pytest.mark.parametrize("kernels", [True, False])
def test_kernels_give_the_bits_of_the_checked_boxes(monkeypatch, kernels):
    """The same run with kernels and without (the checked boxes at every step)."""
    runs = []
    for use in (kernels, False):
        monkeypatch.setattr(StepPlan, "kernels", use)
        model = _mlp(np.float64, l2=1e-3)
        plan = fg.step_plan(model.train_graph)
        losses, grads = [], []
        for s in range(5):
            losses.append(_step(plan, _feed(model, 4 if s % 2 else 3, seed=s, dtype=np.float64)))
            grads.append([p.grad.copy() for p in model.parameters])
            for p in model.parameters:
                p.value -= 0.1 * p.grad
        runs.append((losses, grads))
    (la, ga), (lb, gb) = runs
    assert la == lb
    for a, b in zip(ga, gb):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_weight_read_twice_is_summed_with_kernels():
    rng = np.random.default_rng(0)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((4, 4)), "W")
    b = fg.Parameter(np.zeros(4), "b")
    h = fg.Tanh()(fg.Linear()(x, W, b, name="a1"), name="h1")
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(h, W, b, name="a2"), y)
    graph = fg.Graph(loss)
    plan = fg.step_plan(graph)
    for _ in range(4):
        feed = {x: rng.standard_normal((3, 4)), y: rng.integers(0, 4, 3)}
        got = _step(plan, feed), W.grad.copy(), b.grad.copy()
        assert float(graph.fprop(feed)) == got[0]
        graph.bprop()
        assert np.array_equal(W.grad, got[1]) and np.array_equal(b.grad, got[2])
    assert plan.buffers.kernels is not None


def test_gradients_stay_readable_and_the_data_get_none():
    model = _mlp()
    plan = fg.step_plan(model.train_graph)
    for s in range(3):
        _step(plan, _feed(model, seed=s))
    feed = _feed(model, seed=7)
    _step(plan, feed)
    planned = [p.grad.copy() for p in model.parameters]
    assert model.x.grad is None and model.y.grad is None
    model.train_graph.fprop(feed)
    model.train_graph.bprop(wrt=[model.x])  # unplanned: x gets a gradient
    assert model.x.grad is not None
    assert all(np.array_equal(a, p.grad) for a, p in zip(planned, model.parameters))
    _step(plan, feed)
    assert model.x.grad is None  # cleared again by the planned bprop
    assert all(np.array_equal(a, p.grad) for a, p in zip(planned, model.parameters))


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("bad", [3, -1, 99])
def test_labels_out_of_range_are_refused_at_a_later_step(n, bad):
    model = _mlp()
    plan = fg.step_plan(model.train_graph)
    for s in range(3):
        _step(plan, _feed(model, n, seed=s))
    feed = _feed(model, n, seed=5)
    feed[model.y] = feed[model.y].copy()
    feed[model.y][-1] = bad
    with pytest.raises(fg.LabelError, match=r"labels must lie in \[0, 3\)") as planned:
        plan.fprop(feed)
    assert "(SoftmaxCrossEntropy) (step plan)" in str(planned.value)
    with pytest.raises(fg.GraphError):
        plan.bprop()  # the failed fprop's values are refused
    assert _step(plan, _feed(model, n, seed=6)) == float(
        model.train_graph.fprop(_feed(model, n, seed=6))
    )  # and the next good step runs


def test_a_changed_shape_or_dtype_goes_back_to_the_checked_boxes():
    model = _mlp()
    plan = fg.step_plan(model.train_graph)
    for s in range(3):
        _step(plan, _feed(model, seed=s))
    W1 = model.parameters[0]
    good = W1.value
    W1.value = np.zeros((7, 4), np.float32)  # a weight of the wrong shape
    with pytest.raises(fg.ShapeError, match="Linear: h .* has 5 columns"):
        plan.fprop(_feed(model))
    W1.value = good.astype(np.float64)  # another dtype: the checked boxes, then kernels again
    loss = _step(plan, _feed(model))
    assert plan.buffers.kernels is None
    assert loss == float(model.train_graph.fprop(_feed(model)))
    W1.value = good
    feed = _feed(model)
    feed[model.x] = feed[model.x][:, :4]  # data of the wrong width
    with pytest.raises(fg.ShapeError, match="Linear"):
        plan.fprop(feed)
    feed = _feed(model)
    feed[model.y] = feed[model.y].astype(np.float32)  # float labels: soft targets, refused
    with pytest.raises(fg.FlowgraphError):
        plan.fprop(feed)


def test_a_failing_kernel_is_named_and_explained_by_its_box():
    class Flaky(fg.Tanh):
        def fprop_kernel(self, inputs, out):
            def kernel(a):
                raise ValueError("the kernel broke")

            return kernel

    rng = np.random.default_rng(0)
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.Sum()(Flaky()(fg.Linear()(x, W, b), name="h")))
    plan = fg.step_plan(graph)
    plan.fprop({x: np.ones((4, 2))})
    with pytest.raises(fg.BoxError, match="'h' .*step plan.*the kernel broke"):
        plan.fprop({x: np.ones((4, 2))})


def test_a_subclass_that_redefines_the_math_gets_no_kernel():
    class Doubled(fg.Tanh):
        def fprop(self, a):
            return 2 * np.tanh(a)

    class Kept(fg.Tanh):
        pass

    assert kernels_of(Doubled) == (False, True)  # its fprop is not the kernel's
    assert kernels_of(Kept) == (True, True)
    assert kernels_of(fg.Exp) == (False, False)  # a box without kernels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_folded_step_is_the_same_with_kernels(monkeypatch, dtype):
    X, y = fg.datasets.make_blobs(48, seed=0)
    results = []
    for use in (True, False):
        monkeypatch.setattr(StepPlan, "kernels", use)
        model = fg.mlp([2, 8, 8, 3], dtype=dtype, seed=0)
        opt = fg.SGD(model.parameters, lr=0.1, fold=True)
        fg.train(model, (X.astype(dtype), y), epochs=2, batch_size=8, optimizer=opt,
                 progress=False)  # fmt: skip
        results.append([p.value.copy() for p in model.parameters])
    for a, b in zip(*results):
        assert np.array_equal(a, b)


# -- the checker holds every kernel to its box -------------------------------------------------
class _WrongKernelTanh(fg.Tanh):
    """The right fprop and bprop; a bprop kernel that forgets the factor 1 - h^2."""

    def bprop_kernel(self, inputs, h, grad_h, needs, out):
        g = out[0]

        def kernel(inputs, h, grad_h):
            np.copyto(g, grad_h)
            return (g,)

        return kernel


class _StaleKernelTanh(fg.Tanh):
    """An fprop kernel that keeps its first inputs' result instead of reading its input."""

    def fprop_kernel(self, inputs, out):
        np.tanh(inputs[0], out=out)
        return lambda a: out


class _RoundingKernelSigmoid(fg.Sigmoid):
    """An fprop kernel with other arithmetic: right to rounding, not to the bit."""

    def fprop_kernel(self, inputs, out):
        def kernel(a):
            np.tanh(a / 2, out=out)
            np.multiply(out, 0.5, out=out)
            return np.add(out, 0.5, out=out)

        return kernel


@pytest.mark.parametrize(
    ("box", "path"),
    [
        (_WrongKernelTanh(), "bprop_kernel"),
        (_StaleKernelTanh(), "fprop_kernel"),
        (_RoundingKernelSigmoid(), "fprop_kernel"),
    ],
)
def test_check_box_catches_a_wrong_kernel(box, path):
    report = fg.check_box(box)
    assert not report.ok
    assert all(c.ok for c in report.inputs)  # bprop itself is right
    assert report.failing_planned and report.failing_planned[0].startswith(path)
    assert "wrong step-plan path" in report.title()
    assert "not the same bits" in str(report) or "differs" in str(report)


def test_check_box_holds_every_kernel_of_the_package_to_its_box():
    for box in (fg.Linear(), fg.Tanh(), fg.ReLU(), fg.Sigmoid(), fg.SoftmaxCrossEntropy(),
                fg.MatMul(), fg.L2Penalty(), fg.Scale(0.5)):  # fmt: skip
        report = fg.check_box(box)
        assert report.ok, str(report)
        kinds = {p.path for p in report.planned}
        assert {"fprop_kernel", "bprop_kernel"} <= kinds, (box, kinds)
        assert {p.n for p in report.planned} >= {1} or box.arity is None or box.arity == 1
    rng = np.random.default_rng(0)
    report = fg.check_box(fg.Add(), [rng.standard_normal((3, 2)), rng.standard_normal((3, 2))])
    assert report.ok and "bprop_kernel" in {p.path for p in report.planned}


def test_check_graph_checks_the_kernels_of_the_path_the_graph_takes():
    graph, feed = two_layer_graph(_WrongKernelTanh())
    report = fg.check_graph(graph, feed)
    assert not report.ok
    assert not report.boxes["h"].ok and report.boxes["h"].failing_planned
    assert all(c.ok for c in report.parameters)  # bprop (unplanned) is right
    good = fg.check_graph(fg.mlp([3, 4, 2], dtype=np.float64, seed=0).train_graph, feed)
    assert good.ok
    assert all(r.planned for r in good.boxes.values())  # every box of the MLP has its paths


def test_the_character_model_runs_on_kernels_with_the_same_bits():
    """Embedding (Take), Flatten, Linear, Tanh, Linear, SoftmaxCrossEntropy: all kernels."""
    words = fg.datasets.make_words(200, seed=0)
    X, y = fg.datasets.char_contexts(words, block_size=3)
    runs = []
    for planned in (False, True):
        net = fg.nn.Sequential(fg.nn.Embedding(27, 4), fg.nn.Flatten(), fg.nn.Linear(12, 16),
                               fg.nn.Tanh(), fg.nn.Linear(16, 27))  # fmt: skip
        x, t = fg.Input("x"), fg.Input("y")
        graph = fg.Graph(fg.softmax_cross_entropy(net(x), t))
        params = graph.parameters
        for i, p in enumerate(params):  # the same weights in both runs
            p.value = np.random.default_rng(i).standard_normal(p.value.shape).astype(np.float32)
        graph.planned = fg.step_plan(graph) if planned else None
        losses = []
        for s in range(4):
            feed = {x: X[8 * s : 8 * s + 8], t: y[8 * s : 8 * s + 8]}
            losses.append(float(graph.fprop(feed)))
            graph.bprop()
            for p in params:
                p.value -= 0.1 * p.grad
        runs.append((losses, [p.value.copy() for p in params]))
        if planned:
            assert fg.step_plan(graph).buffers.kernels is not None
            feed = {x: X[:8].copy(), t: y[:8]}
            feed[x][0, 0] = 27  # no such letter
            with pytest.raises(fg.ShapeError, match="out of range"):
                graph.fprop(feed)
    (la, pa), (lb, pb) = runs
    assert la == lb and all(np.array_equal(a, b) for a, b in zip(pa, pb))
