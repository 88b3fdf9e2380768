"""Convolution and pooling boxes against torch.nn.functional in float64, at several strides,
paddings, kernel and channel counts; the checker on each; errors for bad shapes."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import boxes as B

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _grads(box, xs, G):
    y = box.fprop(*xs)
    return y, box.bprop(list(xs), y, G)


def _torch(fn, xs, G):
    ts = [torch.tensor(x, requires_grad=True) for x in xs]
    y = fn(*ts)
    return y.detach().numpy(), [g.numpy() for g in torch.autograd.grad(y, ts, torch.tensor(G))]


CONV = [  # (x shape, W shape, stride, padding, bias)
    ((2, 3, 7, 6), (4, 3, 3, 3), 1, 0, True),
    ((2, 3, 7, 6), (4, 3, 3, 2), 2, 1, True),
    ((1, 1, 8, 8), (2, 1, 5, 5), 1, 2, False),
    ((3, 2, 5, 5), (1, 2, 1, 1), (2, 1), (0, 1), True),
    ((2, 4, 6, 6), (3, 4, 2, 2), 2, 0, False),
]


@pytest.mark.parametrize("xs, ws, stride, padding, bias", CONV)
def test_conv2d_matches_torch(xs, ws, stride, padding, bias):
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(xs), rng.standard_normal(ws)] + \
        ([rng.standard_normal(ws[0])] if bias else [])
    box = B.Conv2d(stride, padding)
    y = box.fprop(*args)
    G = rng.standard_normal(y.shape)
    _, grads = _grads(box, args, G)
    ty, tgrads = _torch(lambda *t: F.conv2d(*t, stride=stride, padding=padding), args, G)
    np.testing.assert_allclose(y, ty, atol=1e-11)
    for g, tg in zip(grads, tgrads):
        np.testing.assert_allclose(g, tg, atol=1e-11)
    assert fg.check_box(box, inputs=tuple(args)).ok


POOL = [((2, 3, 6, 6), 2, None, 0), ((2, 2, 7, 5), 3, 2, 1), ((1, 2, 5, 5), (2, 3), 1, 0)]


@pytest.mark.parametrize("shape, k, stride, padding", POOL)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_matches_torch(kind, shape, k, stride, padding):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    box = (B.MaxPool2d if kind == "max" else B.AvgPool2d)(k, stride, padding)
    fn = F.max_pool2d if kind == "max" else F.avg_pool2d
    y = box.fprop(x)
    G = rng.standard_normal(y.shape)
    _, (g,) = _grads(box, [x], G)
    ty, (tg,) = _torch(lambda t: fn(t, k, stride, padding), [x], G)
    np.testing.assert_allclose(y, ty, atol=1e-12)
    np.testing.assert_allclose(g, tg, atol=1e-12)
    assert fg.check_box(box, inputs=(x,)).ok


@pytest.mark.parametrize(
    "box, xs, match",
    [
        (B.Conv2d(), ((2, 3, 2, 2), (4, 3, 3, 3)), r"kernel \(3, 3\) is larger than the padded"),
        (B.Conv2d(), ((2, 3, 5, 5), (4, 2, 3, 3)), "x has 3 channels .* W expects 2"),
        (B.Conv2d(), ((2, 3, 5), (4, 3, 3, 3)), r"x must be \(N, C, H, W\)"),
        (B.MaxPool2d(4), ((1, 1, 3, 3),), "larger than the padded input 3x3"),
    ],
)
def test_bad_shapes_are_one_error(box, xs, match):
    rng = np.random.default_rng(2)
    with pytest.raises(fg.ShapeError, match=match):
        box.fprop(*(rng.standard_normal(s) for s in xs))


def test_a_small_convnet_passes_check_graph():
    rng = np.random.default_rng(3)
    x, y = fg.Input("x"), fg.Input("y")
    K = fg.Parameter(rng.standard_normal((3, 1, 3, 3)) * 0.5, "K")
    c = fg.Parameter(np.zeros(3), "c")
    h = fg.relu(fg.conv2d(x, K, c, padding=1))
    h = fg.max_pool2d(h, 2).reshape(-1, 3 * 2 * 2)
    V = fg.Parameter(rng.standard_normal((3, 12)) * 0.3, "V")
    loss = fg.softmax_cross_entropy(h @ V.T, y)
    feed = {x: rng.standard_normal((4, 1, 4, 4)), y: np.array([0, 1, 2, 1])}
    assert fg.check_graph(fg.Graph(loss), feed).ok
