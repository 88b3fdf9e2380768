"""Every box: found and checked automatically, its math against the lecture's formulas, and
its dtype kept from end to end."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes

ISSUE_BOXES = {
    "Linear",
    "Identity",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Softmax",
    "CrossEntropy",
    "SoftmaxCrossEntropy",
    "L2Penalty",
    "L1Penalty",
    "Add",
    "Scale",
}
BOX_CLASSES = all_box_classes()
BOX_IDS = [c.__name__ for c in BOX_CLASSES]


def strict_numerics():
    """Overflow, invalid operations and division by zero raise, and so does any warning."""
    return np.errstate(over="raise", invalid="raise", divide="raise")


# -- 1. every box is found and checked by itself ----------------------------------------------


def test_all_box_classes_holds_at_least_the_issue_boxes():
    names = [c.__name__ for c in BOX_CLASSES]
    assert ISSUE_BOXES <= set(names)
    assert len(names) == len(set(names)), "two box classes share a name"
    assert all(issubclass(c, fg.Box) and c is not fg.Box for c in BOX_CLASSES)


def test_all_box_classes_is_stable():
    assert all_box_classes() == BOX_CLASSES


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
def test_every_box_passes_the_checker(cls):
    report = fg.check_box(cls.example())
    assert report.ok, str(report)
    assert report.status == "pass", str(report)  # sample_inputs stay away from kinks
    if not cls.differentiable:  # a mask, an index, codes, a stopped gradient: None by design
        assert all(c.no_gradient for c in report.inputs), str(report)
        assert report.jvp is None or report.jvp.ok, str(report)
        return
    assert report.inputs, f"{cls.__name__} has no input the checker could check"
    assert all(c.n_checked > 0 for c in report.inputs)
    # ...and its forward-mode rules, which every box of the package has
    assert report.jvp is not None, f"{cls.__name__}: {report.jvp_note}"
    assert report.jvp.status == "pass" and len(report.jvp.checks) >= 2, str(report)


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
def test_every_box_passes_with_other_seeds(cls):
    for seed in (1, 2):
        report = fg.check_box(cls.example(), seed=seed)
        assert report.ok, str(report)


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
def test_every_box_states_its_math(cls):
    doc = cls.__doc__ or ""
    assert "fprop" in doc and "bprop" in doc, f"{cls.__name__}'s docstring states no math"


def test_a_box_without_sample_inputs_cannot_be_checked():
    class Cube(fg.Box):
        """fprop: y = x^3;  bprop: grad_x = 3 x^2 grad_y"""

        def fprop(self, x):
            return x**3

        def bprop(self, inputs, y, grad_y):
            return (3 * inputs[0] ** 2 * grad_y,)

    with pytest.raises(NotImplementedError, match=r"Cube .*sample_inputs"):
        fg.check_box(Cube())
    # ...while inputs given by hand are checked all the same
    assert fg.check_box(Cube(), [np.linspace(-1, 1, 5)]).ok
    # and a box defined outside the package does not join the package's list
    assert Cube not in all_box_classes()


def test_a_box_whose_constructor_needs_arguments_must_say_how_to_make_one():
    class Power(fg.Box):
        def __init__(self, p):
            self.p = p

    with pytest.raises(TypeError):
        Power.example()
    assert isinstance(fg.Scale.example(), fg.Scale)


# -- 2. the math of the boxes ---------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_saturates_without_overflow(dtype):
    a = np.array([[-1000.0, 0.0, 1000.0], [-50.0, 3.0, 50.0]], dtype=dtype)
    with warnings.catch_warnings(), strict_numerics():
        warnings.simplefilter("error")
        h = fg.Sigmoid().fprop(a)
        (grad_a,) = fg.Sigmoid().bprop([a], h, np.ones_like(h))
    assert h.dtype == dtype
    assert h[0, 0] == 0.0 and h[0, 1] == 0.5 and h[0, 2] == 1.0
    exact = 1 / (1 + np.exp(-a[1].astype(np.float64)))  # 1.9e-22 at a = -50: not 0
    np.testing.assert_allclose(h[1], exact, rtol=1e-14 if dtype == np.float64 else 1e-6)
    assert np.all(np.isfinite(grad_a)) and grad_a[0, 0] == 0.0 and grad_a[0, 2] == 0.0
    assert grad_a[0, 1] == 0.25  # g'(0) = 1/4


def test_softmax_is_stable_for_huge_logits():
    a = np.array([[1e4, 0.0, -1e4], [1e4, 1e4, 1e4 - 1.0]])
    with warnings.catch_warnings(), strict_numerics():
        warnings.simplefilter("error")
        f = fg.Softmax().fprop(a)
    np.testing.assert_array_equal(f[0], [1.0, 0.0, 0.0])
    e = np.exp([0.0, 0.0, -1.0])  # the second row, shifted by hand
    np.testing.assert_allclose(f[1], e / e.sum(), rtol=1e-14)
    np.testing.assert_allclose(f.sum(axis=1), 1.0, rtol=1e-15)


def test_softmax_bprop_is_the_full_jacobian(rng):
    a = rng.standard_normal((3, 4))
    grad_f = rng.standard_normal((3, 4))
    f = fg.Softmax().fprop(a)
    (grad_a,) = fg.Softmax().bprop([a], f, grad_f)
    for t in range(3):
        jacobian = np.diag(f[t]) - np.outer(f[t], f[t])  # d f_i / d a_j
        np.testing.assert_allclose(grad_a[t], jacobian.T @ grad_f[t], rtol=1e-12, atol=1e-15)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    a = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    y = np.array([0, 2])
    box = fg.SoftmaxCrossEntropy()
    with warnings.catch_warnings(), strict_numerics():
        warnings.simplefilter("error")
        loss = box.fprop(a, y)
        grad_a, grad_y = box.bprop([a, y], loss, np.array(1.0))
    # example 1: -log 1 = 0; example 2: -log e^(-2e4) = 2e4; the mean is 1e4
    assert float(loss) == pytest.approx(1e4, rel=1e-12)
    assert grad_y is None
    np.testing.assert_allclose(grad_a, [[0, 0, 0], [0.5, 0, -0.5]], atol=1e-15)


def test_softmax_cross_entropy_equals_cross_entropy_of_softmax(rng):
    a, y = rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    fused = fg.SoftmaxCrossEntropy().fprop(a, y)
    f = fg.Softmax().fprop(a)
    plain = fg.CrossEntropy().fprop(f, y)
    expected = np.mean([-np.log(f[t, y[t]]) for t in range(6)])
    assert float(fused) == pytest.approx(expected, rel=1e-13)
    assert float(plain) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("grad_loss", [1.0, 2.5])
def test_cross_entropy_bprop_is_minus_e_y_over_f_y_over_n(rng, grad_loss):
    n, c = 5, 4
    f = fg.Softmax().fprop(rng.standard_normal((n, c)))
    y = np.array([0, 3, 3, 1, 2])
    box = fg.CrossEntropy()
    grad_f, grad_y = box.bprop([f, y], box.fprop(f, y), np.array(grad_loss))
    expected = np.zeros((n, c))
    for t in range(n):
        e_y = np.eye(c)[y[t]]
        expected[t] = -e_y / f[t, y[t]] / n * grad_loss
    assert grad_y is None
    np.testing.assert_allclose(grad_f, expected, rtol=1e-14)


@pytest.mark.parametrize("grad_loss", [1.0, 0.3])
def test_softmax_cross_entropy_bprop_is_minus_e_y_minus_f_over_n(rng, grad_loss):
    n, c = 5, 3
    a, y = rng.standard_normal((n, c)), np.array([2, 0, 1, 1, 0])
    box = fg.SoftmaxCrossEntropy()
    grad_a, _ = box.bprop([a, y], box.fprop(a, y), np.array(grad_loss))
    f = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    expected = np.stack([-(np.eye(c)[y[t]] - f[t]) / n for t in range(n)]) * grad_loss
    np.testing.assert_allclose(grad_a, expected, rtol=1e-12, atol=1e-16)


def test_l2_penalty_is_the_squared_frobenius_norm_with_gradient_2w(rng):
    W1, W2 = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    box = fg.L2Penalty()
    omega = box.fprop(W1, W2)
    assert float(omega) == pytest.approx((W1**2).sum() + (W2**2).sum(), rel=1e-14)
    g1, g2 = box.bprop([W1, W2], omega, np.array(1.0))
    np.testing.assert_array_equal(g1, 2 * W1)
    np.testing.assert_array_equal(g2, 2 * W2)
    g1, _ = box.bprop([W1, W2], omega, np.array(0.5))
    np.testing.assert_allclose(g1, W1, rtol=1e-15)


def test_l1_penalty_is_the_sum_of_absolute_values_with_gradient_sign_w():
    W1 = np.array([[1.5, -2.0, 0.0], [0.25, -0.5, 3.0]])
    W2 = np.array([[-1.0, 2.0]])
    box = fg.L1Penalty()
    omega = box.fprop(W1, W2)
    assert float(omega) == pytest.approx(7.25 + 3.0)
    g1, g2 = box.bprop([W1, W2], omega, np.array(1.0))
    np.testing.assert_array_equal(g1, [[1, -1, 0], [1, -1, 1]])
    np.testing.assert_array_equal(g2, [[-1, 1]])


def test_linear_follows_the_lecture(rng):
    n, d_in, d_out = 4, 3, 2
    h, W, b = rng.standard_normal((n, d_in)), rng.standard_normal((d_out, d_in)), rng.random(2)
    grad_a = rng.standard_normal((n, d_out))
    box = fg.Linear()
    a = box.fprop(h, W, b)
    grad_h, grad_W, grad_b = box.bprop([h, W, b], a, grad_a)
    for t in range(n):  # one example at a time: a = b + W h, grad_W = grad_a h^T, ...
        np.testing.assert_allclose(a[t], b + W @ h[t], rtol=1e-14)
        np.testing.assert_allclose(grad_h[t], W.T @ grad_a[t], rtol=1e-13)
    np.testing.assert_allclose(grad_W, sum(np.outer(grad_a[t], h[t]) for t in range(n)), rtol=1e-13)
    np.testing.assert_allclose(grad_b, grad_a.sum(axis=0), rtol=1e-14)


def test_activations_derivatives(rng):
    a = rng.standard_normal((3, 4))
    a[0, 0] = 0.0
    grad_h = rng.standard_normal((3, 4))
    cases = {
        fg.Identity(): np.ones_like(a),
        fg.Tanh(): 1 - np.tanh(a) ** 2,
        fg.Sigmoid(): np.exp(-a) / (1 + np.exp(-a)) ** 2,
        fg.ReLU(): (a > 0).astype(float),
    }
    for box, g_prime in cases.items():
        (grad_a,) = box.bprop([a], box.fprop(a), grad_h)
        np.testing.assert_allclose(grad_a, grad_h * g_prime, rtol=1e-12, err_msg=repr(box))


def test_add_and_scale():
    x1, x2 = np.array([1.0, 2.0]), np.array([10.0, 20.0])
    add = fg.Add()
    s = add.fprop(x1, x2, x1)
    np.testing.assert_array_equal(s, [12.0, 24.0])
    grads = add.bprop([x1, x2, x1], s, np.array([1.0, -1.0]))
    assert len(grads) == 3 and all(np.array_equal(g, [1.0, -1.0]) for g in grads)
    single = add.fprop(x1)
    assert single is not x1 and np.array_equal(single, x1)
    with pytest.raises(fg.ShapeError, match=r"one shape.*\(2,\).*\(3,\)"):
        add.fprop(x1, np.ones(3))
    scale = fg.Scale(0.25)
    np.testing.assert_array_equal(scale.fprop(x2), [2.5, 5.0])
    np.testing.assert_array_equal(scale.bprop([x2], None, np.array([4.0, 8.0]))[0], [1.0, 2.0])
    for bad in (np.nan, np.inf, "0.1", [1.0]):
        with pytest.raises(ValueError, match="finite scalar"):
            fg.Scale(bad)


def test_boxes_never_write_into_their_arguments(rng):
    for cls in BOX_CLASSES:
        box = cls.example()
        inputs = box.sample_inputs(rng)
        before = [np.array(x, copy=True) for x in inputs]
        out = box.fprop(*inputs)
        out_before = np.array(out, copy=True)
        grad = rng.standard_normal(np.shape(out))
        grad_before = grad.copy()
        box.bprop(list(inputs), out, grad)
        for x, x0 in zip(inputs, before):
            np.testing.assert_array_equal(x, x0, err_msg=f"{cls.__name__} wrote into an input")
        np.testing.assert_array_equal(out, out_before, err_msg=cls.__name__)
        np.testing.assert_array_equal(grad, grad_before, err_msg=cls.__name__)


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
def test_float32_in_float32_out(cls, rng):
    box = cls.example()
    inputs = [
        x.astype(np.float32) if np.issubdtype(np.asarray(x).dtype, np.floating) else x
        for x in box.sample_inputs(rng)
    ]
    out = np.asarray(box.fprop(*inputs))
    if not cls.differentiable:  # masks, indices and codes have their own dtypes, no gradient
        assert box.bprop(inputs, out, np.ones(out.shape)) == (None,) * len(inputs)
        return
    assert out.dtype == np.float32, f"{cls.__name__}.fprop gave {out.dtype}"
    grads = box.bprop(inputs, out, np.ones_like(out))
    assert len(grads) == len(inputs)
    for x, g in zip(inputs, grads):
        if np.issubdtype(np.asarray(x).dtype, np.floating):
            assert g is not None
            assert np.asarray(g).dtype == np.float32, f"{cls.__name__}.bprop gave {g.dtype}"
            assert np.shape(g) == np.shape(x)
        else:
            assert g is None  # integer labels get no gradient


def test_a_box_class_of_a_doctest_is_not_one_of_the_package():
    namespace = {"__name__": "flowgraph.check.box", "fg": fg}
    exec("class DoctestTanh(fg.Tanh):\n    pass", namespace)  # as doctest runs an example
    kept = namespace["DoctestTanh"]  # (alive, as a cache keyed by class would keep it)
    assert kept.__module__ == "flowgraph.check.box"
    assert kept not in all_box_classes()
