"""The Graph's gradients equal the lecture's backpropagation algorithm, written out in NumPy.

The objective is the lecture's  1/N sum_t -log f(x_t)_{y_t} + lambda Omega(theta)  with
Omega = sum_k ||W(k)||_F^2, for a network with L = 2 tanh hidden layers.
"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg

SIZES = (4, 6, 5, 3)  # input, two hidden layers, classes
L = len(SIZES) - 2  # number of hidden layers


def e(y: int, c: int) -> np.ndarray:
    """The one-hot vector e(y) of the lecture."""
    v = np.zeros(c)
    v[y] = 1.0
    return v


def lecture_backprop(X, Y, W, b, lam):
    """Gradients of the objective by the lecture's algorithm, one example at a time.

    W[k], b[k] for k = 1 .. L+1 (index 0 unused). Returns (objective, grad_W, grad_b).
    """
    n = len(X)
    grad_W = {k: np.zeros_like(W[k]) for k in W}
    grad_b = {k: np.zeros_like(b[k]) for k in b}
    total = 0.0
    for x, y in zip(X, Y):
        # forward propagation: a(k) = b(k) + W(k) h(k-1), h(k) = g(a(k)), f = softmax(a(L+1))
        h = {0: x}
        a = {}
        for k in range(1, L + 2):
            a[k] = b[k] + W[k] @ h[k - 1]
            if k <= L:
                h[k] = np.tanh(a[k])
        f = np.exp(a[L + 1] - a[L + 1].max())
        f /= f.sum()
        total += -np.log(f[y])
        # output gradient (before activation): -(e(y) - f(x))
        grad_a = -(e(y, len(f)) - f)
        for k in range(L + 1, 0, -1):
            # hidden layer parameters: grad_W(k) = grad_a(k) h(k-1)^T, grad_b(k) = grad_a(k)
            grad_W[k] += np.outer(grad_a, h[k - 1]) / n  # the batch mean: 1/N per example
            grad_b[k] += grad_a / n
            if k > 1:
                # hidden layer below: grad_h(k-1) = W(k)^T grad_a(k)
                grad_h = W[k].T @ grad_a
                # before activation: grad_a(k-1) = grad_h(k-1) ⊙ g'(a(k-1)) = ... ⊙ (1 - h^2)
                grad_a = grad_h * (1 - h[k - 1] ** 2)
    omega = sum((W[k] ** 2).sum() for k in W)
    for k in W:
        grad_W[k] += 2 * lam * W[k]  # the regulariser: grad of lambda ||W||^2 is 2 lambda W
    return total / n + lam * omega, grad_W, grad_b


def build_graph(W, b, lam):
    """The same network from boxes: Linear, Tanh, SoftmaxCrossEntropy, L2Penalty, Scale, Add."""
    x, y = fg.Input("x"), fg.Input("y")
    Wp = {k: fg.Parameter(W[k], f"W{k}") for k in W}
    bp = {k: fg.Parameter(b[k], f"b{k}") for k in b}
    h = x
    for k in range(1, L + 1):
        h = fg.Tanh()(fg.Linear()(h, Wp[k], bp[k], name=f"a{k}"), name=f"h{k}")
    a_out = fg.Linear()(h, Wp[L + 1], bp[L + 1], name=f"a{L + 1}")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(a_out, y, name="nll"),
        fg.Scale(lam)(fg.L2Penalty()(*Wp.values(), name="Omega"), name="lambda_Omega"),
        name="objective",
    )
    return fg.Graph(loss), x, y, Wp, bp


@pytest.mark.parametrize("seed, n, lam", [(0, 7, 0.01), (1, 1, 0.5), (2, 16, 0.0)])
def test_graph_equals_the_lecture_backprop(seed, n, lam):
    rng = np.random.default_rng(seed)
    W = {k: rng.normal(0, 0.8, (SIZES[k], SIZES[k - 1])) for k in range(1, L + 2)}
    b = {k: rng.normal(0, 0.3, SIZES[k]) for k in range(1, L + 2)}
    X = rng.standard_normal((n, SIZES[0]))
    Y = rng.integers(0, SIZES[-1], size=n)

    objective, grad_W, grad_b = lecture_backprop(X, Y, W, b, lam)
    graph, x, y, Wp, bp = build_graph(W, b, lam)
    value = graph.fprop({x: X, y: Y})
    graph.bprop()

    assert value.dtype == np.float64
    assert float(value) == pytest.approx(objective, rel=1e-12)
    for k in W:
        assert Wp[k].grad.dtype == np.float64
        np.testing.assert_allclose(Wp[k].grad, grad_W[k], rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bp[k].grad, grad_b[k], rtol=1e-10, atol=1e-12)
        # and they are not trivially equal: each gradient is far from zero
        assert np.abs(grad_W[k]).max() > 1e-3


def test_the_reference_itself_matches_finite_differences():
    """Guard against a reference that agrees with the Graph by sharing its mistake."""
    rng = np.random.default_rng(5)
    W = {k: rng.normal(0, 0.8, (SIZES[k], SIZES[k - 1])) for k in range(1, L + 2)}
    b = {k: rng.normal(0, 0.3, SIZES[k]) for k in range(1, L + 2)}
    X, Y, lam, eps = rng.standard_normal((3, SIZES[0])), np.array([0, 2, 1]), 0.1, 1e-6
    _, grad_W, grad_b = lecture_backprop(X, Y, W, b, lam)
    for params, grads in ((W, grad_W), (b, grad_b)):
        for k in params:
            for i in np.ndindex(params[k].shape):
                old = params[k][i]
                params[k][i] = old + eps
                f_plus = lecture_backprop(X, Y, W, b, lam)[0]
                params[k][i] = old - eps
                f_minus = lecture_backprop(X, Y, W, b, lam)[0]
                params[k][i] = old
                numeric = (f_plus - f_minus) / (2 * eps)
                assert grads[k][i] == pytest.approx(numeric, rel=1e-5, abs=1e-8)
