"""What Graph.bprop accepts from a box (issue 21, "no silent wrong number"): every gradient
has its child's shape, or bprop raises a BoxError naming the box, the child and both shapes;
a box returns one gradient per child; a Parameter's gradient has the Parameter's dtype, also
when float32 or float16 weights meet float64 data (mixed precision), on every path of the
Graph (a batch, one example with its rank-1 factors, a weight used twice)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


class LinearForgetsToSum(fg.Linear):
    """Linear whose bprop returns grad_b unsummed over the batch (N, out): the bug of issue 21."""

    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, _ = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W, grad_a


class TanhGivesARow(fg.Tanh):
    """Tanh whose gradient for its input (an intermediate node) has an extra leading axis."""

    def bprop(self, inputs, h, grad_h):
        return (((1 - h**2) * grad_h)[None],)


class TanhGivesTwo(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        return ((1 - h**2) * grad_h, None)


class TanhGivesAnArray(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        return (1 - h**2) * grad_h  # not a tuple


def layer(box, n, d_in=2, d_out=3, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((d_out, d_in)).astype(dtype), "W")
    b = fg.Parameter(np.zeros(d_out, dtype), "b")
    loss = fg.SoftmaxCrossEntropy()(box()(x, W, b, name="a"), y, name="loss")
    feed = {x: rng.standard_normal((n, d_in)), y: rng.integers(0, d_out, n)}
    return fg.Graph(loss), feed, W, b


@pytest.mark.parametrize("n", [4, 3, 2])
def test_an_unsummed_bias_gradient_is_a_box_error_at_bprop(n):
    graph, feed, W, b = layer(LinearForgetsToSum, n)
    graph.fprop(feed)
    with pytest.raises(fg.BoxError) as info:
        graph.bprop()
    msg = str(info.value)
    assert "'a' (LinearForgetsToSum)" in msg  # the box
    assert "child 'b' (Parameter)" in msg  # the child
    assert f"shape ({n}, 3)" in msg and "shape (3,)" in msg  # both shapes
    assert b.grad is None or b.grad.shape == b.value.shape  # nothing wrong was left behind


def test_a_broadcastable_wrong_shape_is_refused_too():
    # (1, 3) + (3,) would broadcast silently: still refused
    graph, feed, W, b = layer(LinearForgetsToSum, 1)
    graph.fprop(feed)
    with pytest.raises(fg.BoxError, match=r"shape \(1, 3\) for its child 'b'.*shape \(3,\)"):
        graph.bprop()


def test_a_wrong_shape_for_an_intermediate_node_is_refused():
    x = fg.Input("x")
    W = fg.Parameter(np.ones((3, 2)), "W")
    a = fg.Linear()(x, W, fg.Parameter(np.zeros(3), "b"), name="a")
    graph = fg.Graph(fg.SquaredError()(TanhGivesARow()(a, name="h"), fg.Input("t")))
    graph.fprop({"x": np.ones((4, 2)), "t": np.zeros((4, 3))})
    with pytest.raises(fg.BoxError, match=r"'h' \(TanhGivesARow\).*\(1, 4, 3\).*'a' \(Linear\)"):
        graph.bprop()


@pytest.mark.parametrize("box", [TanhGivesTwo, TanhGivesAnArray])
def test_one_gradient_per_child_or_a_box_error(box):
    x = fg.Input("x")
    W = fg.Parameter(np.ones((3, 2)), "W")
    h = box()(fg.Linear()(x, W, fg.Parameter(np.zeros(3), "b")), name="h")
    graph = fg.Graph(h.sum())
    graph.fprop({x: np.ones((1, 2))})
    with pytest.raises(fg.BoxError, match=rf"'h' \({box.__name__}\) returned .* its 1 children"):
        graph.bprop()


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("n", [5, 1])  # a batch, and one example (rank-1 factors)
def test_a_parameter_gradient_has_its_dtype_with_float64_data(dtype, n):
    graph, feed, W, b = layer(fg.Linear, n, dtype=dtype)
    graph.fprop(feed)  # x is float64: the boxes compute in float64
    graph.bprop()
    for p in (W, b):
        assert p.grad.dtype == dtype, p.name
    # the values are the float64 gradients, rounded once
    W64 = fg.Parameter(W.value.astype(np.float64), "W")
    b64 = fg.Parameter(b.value.astype(np.float64), "b")
    x, y = graph["x"], graph["y"]
    exact = fg.Graph(fg.SoftmaxCrossEntropy()(fg.Linear()(x, W64, b64), y))
    exact.fprop(feed)
    exact.bprop()
    np.testing.assert_array_equal(W.grad, W64.grad.astype(dtype))
    np.testing.assert_array_equal(b.grad, b64.grad.astype(dtype))


def test_matmul_and_a_weight_used_twice_keep_the_parameter_dtype():
    x = fg.Input("x")
    V = fg.Parameter(np.ones((2, 3), np.float32), "V")
    loss = ((x @ V) * (x @ V)).sum() + (V * 2.0).sum()
    graph = fg.Graph(loss)
    graph.fprop({x: np.arange(8.0).reshape(4, 2)})  # float64 data
    graph.bprop()
    assert V.grad.dtype == np.float32
    X = np.arange(8.0).reshape(4, 2)
    np.testing.assert_allclose(V.grad, 2 * X.T @ (X @ np.ones((2, 3))) + 2, rtol=1e-6)


def test_sgd_on_one_example_keeps_a_float32_weight_float32():
    graph, feed, W, b = layer(fg.Linear, 1, dtype=np.float32)
    before = W.value.copy()
    graph.fprop(feed)
    graph.bprop()
    assert W.grad_outer is not None  # the rank-1 fast path was taken
    expected = before - 0.5 * np.outer(
        *[np.asarray(f, np.float64) for f in (W.grad_outer.u, W.grad_outer.v)]
    )
    fg.SGD([W, b], lr=0.5).step()
    assert W.value.dtype == np.float32
    np.testing.assert_allclose(W.value, expected, rtol=1e-6, atol=1e-6)


def test_a_gradient_set_by_hand_takes_the_parameter_dtype():
    p = fg.Parameter(np.zeros(3, np.float32), "p")
    p.grad = np.array([0.1, 0.2, 0.3])  # float64
    assert p.grad.dtype == np.float32
    np.testing.assert_array_equal(p.grad, np.float32([0.1, 0.2, 0.3]))
    same = np.ones(3, np.float32)
    p.grad = same
    assert p.grad is same  # the right dtype already: no copy
