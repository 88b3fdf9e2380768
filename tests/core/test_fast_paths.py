"""Every speed fast path against its plain oracle: Linear.bprop_needed against Linear.bprop,
the rank-1 gradient (Outer) against the array it stands for, SGD's in-place BLAS update
against ``W - alpha * grad``, and a whole batch-of-one training step against plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.core import Box
from flowgraph.core.rank1 import Outer


@pytest.mark.parametrize("n", [1, 4])
@pytest.mark.parametrize("needs", [(True, True, True), (False, True, True), (True, False, False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_bprop_needed_matches_bprop(n, needs, dtype):
    rng = np.random.default_rng(n)
    h = rng.standard_normal((n, 5)).astype(dtype)
    W = rng.standard_normal((3, 5)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    g = rng.standard_normal((n, 3)).astype(dtype)
    box = fg.Linear()
    a = box.fprop(h, W, b)
    plain = box.bprop((h, W, b), a, g)
    fast = box.bprop_needed((h, W, b), a, g, needs)
    for need, p, f in zip(needs, plain, fast):
        if not need:
            assert f is None
            continue
        if isinstance(f, Outer):
            assert n == 1
            f = f.materialize()
        assert f.dtype == dtype and f.shape == p.shape
        np.testing.assert_allclose(f, p, rtol=1e-6)
    if n == 1 and needs[1]:
        assert isinstance(fast[1], Outer)  # the fast path is taken


def test_base_bprop_needed_is_bprop():
    box = fg.Tanh()
    a = np.linspace(-2, 2, 6).reshape(2, 3)
    h = box.fprop(a)
    g = np.ones_like(a)
    np.testing.assert_array_equal(
        box.bprop_needed((a,), h, g, (True,))[0], box.bprop((a,), h, g)[0]
    )
    assert Box.bprop_needed is not fg.Linear.bprop_needed


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_outer_subtract_from_is_w_minus_alpha_outer(dtype, order):
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal(4).astype(dtype), rng.standard_normal(6).astype(dtype)
    W = np.asarray(rng.standard_normal((4, 6)), dtype=dtype, order=order)
    expected = W - dtype(0.3) * np.outer(u, v)
    Outer(u, v).subtract_from(W, 0.3)  # C order: BLAS ger in place; F order: NumPy fallback
    assert W.dtype == dtype
    np.testing.assert_allclose(W, expected, rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert Outer(u, v).shape == (4, 6)


def _one_example_graph(dtype):
    model = fg.mlp([5, 4, 3], dtype=dtype, seed=3)
    x = np.random.default_rng(1).standard_normal((1, 5)).astype(dtype)
    return model, x, np.array([2])


def test_graph_keeps_rank1_factors_and_grad_reads_the_array():
    model, x, y = _one_example_graph(np.float64)
    g = model.train_graph
    g.fprop({model.x: x, model.y: y})
    g.bprop()
    W1 = model["W1"]
    assert isinstance(W1.grad_outer, Outer)  # kept as factors by bprop...
    grad = W1.grad  # ...and built on first access
    assert W1.grad_outer is None and isinstance(grad, np.ndarray)
    # the oracle: the same gradient from Linear.bprop on the recorded values
    a1 = model["a1"]
    plain = fg.Linear().bprop([c.value for c in a1.children], a1.value, a1.grad)[1]
    np.testing.assert_allclose(grad, plain, rtol=1e-12)
    assert model["b1"].grad_outer is None and model["b1"].grad.shape == (4,)


def test_batch_of_one_step_matches_plain_sgd():
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        fast, x, y = _one_example_graph(dtype)
        plain, _, _ = _one_example_graph(dtype)
        opt = fg.SGD(fast.parameters, lr=0.5)
        for m in (fast, plain):
            m.train_graph.fprop({m.x: x, m.y: y})
            m.train_graph.bprop()
        grads = [p.grad.copy() for p in plain.parameters]  # materialised: the plain update
        opt.step()
        for p, q, gq in zip(fast.parameters, plain.parameters, grads):
            assert p.value.dtype == dtype
            np.testing.assert_allclose(p.value, q.value - 0.5 * gq, rtol=rtol)


def test_shared_weight_with_two_rank1_contributions_adds_them():
    W = fg.Parameter(np.arange(6.0).reshape(2, 3) / 10, "W")
    b = fg.Parameter(np.zeros(2), "b")
    x1, x2, y = fg.Input("x1"), fg.Input("x2"), fg.Input("y")
    a = fg.Add()(fg.Linear()(x1, W, b), fg.Linear()(x2, W, b))
    loss = fg.SoftmaxCrossEntropy()(a, y)
    g = fg.Graph(loss)
    feed = {x1: np.array([[1.0, 2.0, 3.0]]), x2: np.array([[-1.0, 0.5, 2.0]]), y: np.array([1])}
    g.fprop(feed)
    g.bprop()
    grad_a = a.grad
    expected = np.outer(grad_a[0], feed[x1][0]) + np.outer(grad_a[0], feed[x2][0])
    np.testing.assert_allclose(W.grad, expected, rtol=1e-12)
    np.testing.assert_allclose(b.grad, 2 * grad_a[0], rtol=1e-12)


def test_input_gradient_still_computed_when_asked():
    model, x, y = _one_example_graph(np.float64)
    g = model.train_graph
    g.fprop({model.x: x, model.y: y})
    g.bprop()
    assert model.x.grad is None  # the data needs no gradient: the first layer skips grad_h
    g.bprop(wrt=[model.x])
    W1 = model["W1"].value
    np.testing.assert_allclose(model.x.grad, model["a1"].grad @ W1, rtol=1e-12)


def test_momentum_and_check_finite_read_the_materialised_gradient():
    fast, x, y = _one_example_graph(np.float64)
    opt = fg.SGD(fast.parameters, lr=0.1, momentum=0.9)
    ref, _, _ = _one_example_graph(np.float64)  # hand-written momentum SGD on plain arrays
    vel = [np.zeros_like(p.value) for p in ref.parameters]
    for _ in range(3):
        fast.train_graph.fprop({fast.x: x, fast.y: y})
        fast.train_graph.bprop(check_finite=True)
        opt.step()
        ref.train_graph.fprop({ref.x: x, ref.y: y})
        ref.train_graph.bprop()
        for p, v in zip(ref.parameters, vel):
            v *= 0.9
            v += np.array(p.grad)
            p.value = p.value - 0.1 * v
    for p, r in zip(fast.parameters, ref.parameters):
        np.testing.assert_allclose(p.value, r.value, rtol=1e-12)


def test_a_subclass_that_redefines_bprop_is_not_bypassed_by_the_fast_path():
    class HalfGradLinear(fg.Linear):
        def bprop(self, inputs, output, grad_a):
            return tuple(0.5 * g for g in super().bprop(inputs, output, grad_a))

    W = fg.Parameter(np.ones((2, 3)), "W")
    b = fg.Parameter(np.zeros(2), "b")
    x, y = fg.Input("x"), fg.Input("y")
    a = HalfGradLinear()(x, W, b)
    g = fg.Graph(fg.SoftmaxCrossEntropy()(a, y))
    xv = np.array([[1.0, 2.0, 3.0]])
    g.fprop({x: xv, y: np.array([0])})
    g.bprop()
    assert W.grad_outer is None
    np.testing.assert_allclose(W.grad, 0.5 * np.outer(a.grad[0], xv[0]), rtol=1e-12)


def test_cached_plan_still_gives_zero_gradients_to_unreached_or_ungiven_parameters():
    class NoGradForW(fg.Linear):  # a box that gives W no gradient at all
        def bprop(self, inputs, output, grad_a):
            grad_h, _, grad_b = super().bprop(inputs, output, grad_a)
            return grad_h, None, grad_b

    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(np.ones((2, 3)), "W")
    b = fg.Parameter(np.zeros(2), "b")
    unused = fg.Parameter(np.ones(4), "unused")
    loss = fg.SoftmaxCrossEntropy()(NoGradForW()(x, W, b), y)
    g = fg.Graph([loss, fg.Scale(2.0)(unused)])  # 'unused' does not feed the loss
    for _ in range(2):  # the second call runs on the cached plan
        g.fprop({x: np.ones((3, 3)), y: np.array([0, 1, 1])})
        g.bprop()
        np.testing.assert_array_equal(W.grad, np.zeros((2, 3)))
        np.testing.assert_array_equal(unused.grad, np.zeros(4))
        assert b.grad.shape == (2,) and np.any(b.grad != 0)


# -- the unplanned step's own fast paths (issue 20): each taken only where it is exact ---------
def test_a_transposed_rank1_gradient_is_a_box_error_at_bprop():
    """The Graph keeps an Outer as a Parameter's gradient only when its shape is W's: factors
    in the wrong order are refused by bprop, naming the box and both shapes."""

    class OuterTransposed(fg.Linear):
        def bprop_needed(self, inputs, output, grad_a, needs, out=None):
            grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
            return grad_h, Outer(grad_W.v, grad_W.u), grad_b

    W = fg.Parameter(np.ones((2, 3)), "W")
    b = fg.Parameter(np.zeros(2), "b")
    x, y = fg.Input("x"), fg.Input("y")
    g = fg.Graph(fg.SoftmaxCrossEntropy()(OuterTransposed()(x, W, b, name="a"), y))
    g.fprop({x: np.array([[1.0, 2.0, 3.0]]), y: np.array([0])})
    with pytest.raises(fg.BoxError, match=r"'a' \(OuterTransposed\).*shape \(3, 2\).*'W'"):
        g.bprop()


def test_a_rank1_gradient_for_a_node_that_is_no_parameter_is_built():
    """An Outer for an intermediate node (not a Parameter) reaches it as the array."""

    class OuterForH(fg.Linear):  # grad_h of a one-example batch given as factors (1, in)
        def bprop_needed(self, inputs, output, grad_a, needs, out=None):
            grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
            return Outer(np.ones(1), grad_h[0]), grad_W, grad_b

    rng = np.random.default_rng(0)
    x, y = fg.Input("x"), fg.Input("y")
    W0, b0 = fg.Parameter(rng.standard_normal((3, 2)), "W0"), fg.Parameter(np.zeros(3), "b0")
    W, b = fg.Parameter(rng.standard_normal((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    h = fg.Tanh()(fg.Linear()(x, W0, b0), name="h")
    g = fg.Graph(fg.SoftmaxCrossEntropy()(OuterForH()(h, W, b, name="a"), y))
    g.fprop({x: rng.standard_normal((1, 2)), y: np.array([1])})
    g.bprop()
    assert type(h.grad) is np.ndarray
    np.testing.assert_array_equal(h.grad, g["a"].grad @ W.value)


def test_linear_with_equal_dtypes_that_are_not_one_object_takes_the_one_dtype_path():
    """float32 with metadata is == float32 but another object: the gradients are bprop's
    (comparing dtypes by `is` is only the quick way to the answer of ==)."""
    f32m = np.dtype(np.float32, metadata={"unit": "m"})
    assert f32m == np.float32 and f32m is not np.dtype(np.float32)
    rng = np.random.default_rng(1)
    h = rng.standard_normal((4, 5)).astype(f32m)
    W = rng.standard_normal((3, 5)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32)
    box = fg.Linear()
    a = box.fprop(h, W, b)
    fast_path = box.bprop_needed((h, W, b), a, g, (True,) * 3)
    for fast, plain in zip(fast_path, box.bprop((h, W, b), a, g)):
        assert fast.dtype == np.float32
        np.testing.assert_array_equal(fast, plain)


def test_linear_refuses_wrong_ranks_of_values_that_are_not_arrays():
    """Linear reads .ndim of arrays; anything else goes through np.ndim, as before."""
    with pytest.raises(fg.ShapeError, match=r"got h \(3,\), W \(2, 3\), b \(2,\).*reshape"):
        fg.Linear().fprop([1.0, 2.0, 3.0], np.ones((2, 3)), np.zeros(2))
    with pytest.raises(fg.ShapeError, match=r"got h \(1, 3\), W \(2, 3\), b \(\)"):
        fg.Linear().fprop(np.ones((1, 3)), np.ones((2, 3)), 0.5)
    a = fg.Linear().fprop(np.ones((1, 3)), np.ones((2, 3)), np.zeros(2))
    np.testing.assert_array_equal(a, [[3.0, 3.0]])
