"""Reliability, family 1, what is left here: the L1 proximal step of SGD is pinned. (The
checker's own tests moved into tests/check/ and tests/cli/test_cli_gradcheck.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.optim import inverse

# -- the L1 proximal step of SGD (optim.py is tested here for its proximal step only) ---------


def test_l1_proximal_step_shrinks_only_the_named_weights_by_alpha_t_lambda():
    W = fg.Parameter(np.array([[0.5, -0.5, 0.02], [-0.01, 2.0, 0.0]]), "W")
    b = fg.Parameter(np.array([0.5, -0.01]), "b")
    W.grad, b.grad = np.zeros_like(W.value), np.zeros_like(b.value)
    schedule = inverse(0.1, 1.0)  # alpha_t = 0.1 / (1 + t): 0.05, then 0.0333...
    lam = 0.5
    opt = fg.SGD([W, b], schedule, l1_prox=lam, l1_params=[W])
    expected = W.value.copy()
    for t in (1, 2):
        alpha_t = 0.1 / (1 + t)
        shrink = alpha_t * lam
        expected = np.sign(expected) * np.maximum(np.abs(expected) - shrink, 0)
        opt.step()
        W.grad, b.grad = np.zeros_like(W.value), np.zeros_like(b.value)
        np.testing.assert_allclose(W.value, expected, rtol=1e-15, atol=1e-17)
    np.testing.assert_array_equal(b.value, [0.5, -0.01])  # biases are not named: untouched
    assert W.value[0, 2] == 0.0 and W.value[1, 0] == 0.0  # exactly zero, not tiny
    assert W.value[0, 0] == pytest.approx(0.5 - 0.5 * (0.05 + 0.1 / 3))


def test_l1_proximal_step_follows_the_gradient_step():
    W = fg.Parameter(np.array([[1.0, -1.0]]), "W")
    W.grad = np.array([[0.2, 0.2]])
    opt = fg.SGD([W], lr=0.5, l1_prox=0.1, l1_params=[W])
    opt.step()  # W - 0.5 * grad = [0.9, -1.1], then shrunk by 0.05
    np.testing.assert_allclose(W.value, [[0.85, -1.05]], rtol=1e-15)


def test_l1_proximal_step_with_the_rank_one_fast_path():
    x = fg.Input("x")
    W, b = fg.Parameter(np.array([[0.3, -0.2]]), "W"), fg.Parameter(np.zeros(1), "b")
    graph = fg.Graph(fg.L2Penalty()(fg.Linear()(x, W, b)))
    graph.fprop({x: np.array([[1.0, 2.0]])})
    graph.bprop()
    assert W.grad_outer is not None  # one example: grad_W kept as factors
    grad_W = W.grad_outer.materialize()
    before = W.value.copy()
    fg.SGD([W, b], lr=0.1, l1_prox=0.2, l1_params=[W]).step()
    step = before - 0.1 * grad_W
    np.testing.assert_allclose(W.value, np.sign(step) * np.maximum(np.abs(step) - 0.02, 0))
