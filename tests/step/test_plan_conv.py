"""The convolution and pooling boxes in the planned step (issue 24): their kernels
(``fprop_kernel``, ``bprop_kernel``, flowgraph/boxes/conv.py) make the convnet of
benchmarks/conv_models.py run on kernels, to the bit of the unplanned graph, step after step;
the checker holds each kernel to its box."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import sgd_steps

import flowgraph as fg
from flowgraph import boxes as B
from flowgraph import nn


def _convnet(side, dtype, seed=0):
    """The convnet of benchmarks/conv_models.py, for side x side images."""
    rng = np.random.default_rng(seed)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, rng=rng, dtype=dtype), nn.MaxPool2d(2), nn.ReLU(),
        nn.Conv2d(8, 16, 3, padding=1, rng=rng, dtype=dtype), nn.MaxPool2d(2), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * (side // 4) ** 2, 10, rng=rng, dtype=dtype),
    )  # fmt: skip
    return net


def _variants(side, dtype, seed=0):
    """Strides, paddings, a conv without bias, overlapping and padded pooling, mean pooling."""
    rng = np.random.default_rng(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, rng=rng, dtype=dtype), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1),
        nn.Conv2d(4, 5, (2, 3), stride=(1, 2), padding=(0, 1), bias=False, rng=rng,
                  dtype=dtype),
        nn.AvgPool2d(2, stride=1, padding=1), nn.Tanh(),
        nn.Conv2d(5, 3, 1, rng=rng, dtype=dtype), nn.MaxPool2d(2, stride=1),
        nn.Flatten(),
    )  # fmt: skip
    x = fg.Input("x")
    width = fg.Graph(net(x)).fprop({x: np.zeros((1, 2, side, side), dtype)}).shape[1]
    return nn.Sequential(net, nn.Linear(width, 4, rng=rng, dtype=dtype))


def _model(net):
    x, t = fg.Input("x"), fg.Input("y")
    a = net(x)
    return fg.Model(loss=fg.softmax_cross_entropy(a, t), output=fg.softmax(a))


def _train(model, batches, planned, lr=0.05):
    plan = fg.step_plan(model.train_graph) if planned else None
    feeds = [{model.x: X, model.y: y} for X, y in batches]
    return (*sgd_steps(model, feeds, plan, lr), plan)


def _batches(n, channels, side, dtype, classes, steps=4, seed=1):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n, channels, side, side)).astype(dtype),
             rng.integers(0, classes, n)) for _ in range(steps)]  # fmt: skip


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["convnet", "variants"])
def test_the_planned_convnet_is_the_unplanned_one_to_the_bit(case, dtype):
    make, channels, classes = (_convnet, 1, 10) if case == "convnet" else (_variants, 2, 4)
    side, n = (12, 6) if case == "convnet" else (9, 5)
    batches = _batches(n, channels, side, dtype, classes)
    ref_losses, ref_params, _ = _train(_model(make(side, dtype)), batches, False)
    losses, params, plan = _train(_model(make(side, dtype)), batches, True)
    assert losses == ref_losses
    assert all(np.isfinite(losses)) and len(set(losses)) == len(losses)  # (steps were taken)
    for p, r in zip(params, ref_params):
        assert p.dtype == dtype and np.array_equal(p, r)
        assert np.array_equal(np.signbit(p), np.signbit(r))
    assert plan.buffers.kernels is not None  # the whole bprop ran on kernels
    boxes = {type(node.box) for node, *_ in plan.buffers.kernels.steps}
    assert {B.Conv2d, B.MaxPool2d} <= boxes
    assert case == "convnet" or B.AvgPool2d in boxes
    checked = [node.box.fprop for node in plan.nodes]
    assert not any(call in checked for _, call, _ in plan.buffers.fsteps)  # fprop: kernels


BOXES = [  # (box, input shapes): strides, paddings, a conv without bias, windows that tile
    (B.Conv2d(1, 1), [(4, 3, 6, 6), (5, 3, 3, 3), (5,)]),  # x_pad, or not, or overlap
    (B.Conv2d(2, 1), [(2, 3, 7, 6), (4, 3, 3, 2), (4,)]),
    (B.Conv2d(1, 0), [(2, 3, 7, 6), (4, 3, 3, 2)]),
    (B.Conv2d((2, 1), (0, 1)), [(3, 2, 5, 5), (1, 2, 1, 1), (1,)]),
    (B.MaxPool2d(2), [(2, 3, 6, 6)]),
    (B.MaxPool2d(2), [(2, 3, 7, 6)]),
    (B.MaxPool2d(3, 2, 1), [(2, 2, 7, 5)]),
    (B.MaxPool2d((2, 3), 1), [(1, 2, 5, 5)]),
    (B.AvgPool2d(2), [(2, 3, 6, 6)]),
    (B.AvgPool2d(3, 2, 1), [(2, 2, 7, 5)]),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("box, shapes", BOXES, ids=lambda v: repr(v) if isinstance(v, fg.Box)
                         else "x".join(map(str, v[0])))  # fmt: skip
def test_the_kernels_pass_the_checker(box, shapes, dtype):
    rng = np.random.default_rng(0)
    args = tuple(rng.standard_normal(s).astype(dtype) for s in shapes)
    report = fg.check_box(box, inputs=args)
    assert report.ok, str(report)
    paths = {c.path for c in report.planned}
    assert {"fprop_kernel", "bprop_kernel"} <= paths
    if isinstance(box, B.Conv2d):  # grad_W from the columns the fprop kernel left
        assert "bprop_kernel after fprop_kernel" in paths


@pytest.mark.parametrize("box", [B.MaxPool2d(2), B.MaxPool2d(3, 2, 1), B.MaxPool2d(2, 1)])
def test_max_pooling_kernels_send_ties_to_the_first_maximum(box):
    """Windows with equal maxima (small integers): the gradient goes to the first in row
    order, through the kernels as through bprop."""
    x = np.random.default_rng(3).integers(0, 3, (2, 2, 6, 6)).astype(np.float32)
    report = fg.check_box(box, inputs=(x,))
    assert report.ok, str(report)
    y = box.fprop(x)
    g = np.ones_like(y)
    kernel = box.bprop_kernel([x], y, g, (True,), (np.empty_like(x),))
    got = kernel([x], y, g)[0]
    assert np.array_equal(got, box.bprop([x], y, g)[0])
    assert got.sum() == g.sum()  # each window's gradient went to one element


def test_a_conv_bprop_kernel_without_its_columns_is_none():
    rng = np.random.default_rng(0)
    box = B.Conv2d(1, 1)
    xs = [rng.standard_normal(s).astype(np.float32) for s in [(2, 3, 5, 5), (4, 3, 3, 3), (4,)]]
    y = box.fprop(*xs)
    g = np.ones_like(y)
    bufs = tuple(np.empty_like(v) for v in xs)
    for shared in (None, {}):  # grad_W reads the fprop kernel's columns: none there
        assert box.bprop_kernel(xs, y, g, (True, True, True), bufs, shared=shared) is None
    shared: dict = {}
    forward = box.fprop_kernel(xs, np.empty_like(y), shared=shared)
    assert "cols" in shared
    assert np.array_equal(forward(*xs), y)
    kernel = box.bprop_kernel(xs, y, g, (True, True, True), bufs, shared=shared)
    ref = box.bprop(xs, y, g)
    assert all(np.array_equal(a, b) for a, b in zip(kernel(xs, y, g), ref))
    # without W's gradient nothing is read from shared: a kernel all the same
    kernel = box.bprop_kernel(xs, y, g, (True, False, True), bufs, shared={})
    got = kernel(xs, y, g)
    assert got[1] is None and np.array_equal(got[0], ref[0]) and np.array_equal(got[2], ref[2])


def test_mixed_dtypes_get_no_conv_kernel():
    rng = np.random.default_rng(0)
    box = B.Conv2d()
    xs = [rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3)).astype(np.float32)]
    y = box.fprop(*xs)
    assert box.fprop_kernel(xs, np.empty_like(y), shared={}) is None
    assert B.MaxPool2d(2).fprop_kernel([np.ones((1, 1, 4, 4), int)], np.empty((1, 1, 2, 2))) \
        is None
