"""Reliability, family 2 (stale state, silent wrong numbers): the fused loss keeps its
precision. (A bprop never mixing values of two forward passes: tests/core/test_fprop_freshness.py.)

* SoftmaxCrossEntropy's loss keeps full relative precision when the label wins by far.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flowgraph as fg

# -- SoftmaxCrossEntropy's precision --------------------------------------------------------------


def exact_loss(a, y):
    """-log softmax(a)_y in extended precision, from log(1 + sum_{c != y} exp(a_c - a_y))."""
    a = np.asarray(a, dtype=np.longdouble)
    rows = np.arange(len(y))
    d = a - a[rows, y][:, None]
    d[rows, y] = -np.inf
    return np.mean(np.log1p(np.exp(d).sum(axis=1)))


def test_the_issue_example_keeps_its_relative_precision():
    a = np.array([[1e4, 1e4 - 30, 0.0, 0.0, 0.0]])
    loss = float(fg.SoftmaxCrossEntropy().fprop(a, np.array([0])))
    assert loss == pytest.approx(9.357622968839737e-14, rel=1e-14)  # log1p(exp(-30))


@pytest.mark.parametrize("margin", [1.0, 30.0, 200.0, 700.0])
@pytest.mark.parametrize("n", [1, 3])
def test_wide_margins_keep_full_relative_precision(margin, n):
    rng = np.random.default_rng(int(margin) + n)
    a = rng.standard_normal((n, 4))
    y = rng.integers(0, 4, size=n)
    a[np.arange(n), y] += margin  # the label wins by `margin`
    a += 5e3 * rng.standard_normal((n, 1))  # large logits too, shifted per row
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        warnings.simplefilter("error")
        loss = float(fg.SoftmaxCrossEntropy().fprop(a, y))
    exact = float(exact_loss(a, y))
    assert loss > 0 and loss == pytest.approx(exact, rel=1e-12, abs=0)


def test_a_losing_label_and_ties_are_exact_too():
    box = fg.SoftmaxCrossEntropy()
    a = np.array([[0.0, 1e4], [3.0, 3.0], [1.0, 1.0]])
    loss = float(box.fprop(a, np.array([0, 1, 0])))
    assert loss == pytest.approx((1e4 + 2 * np.log(2)) / 3, rel=1e-15)
    a = np.array([[2.0, 2.0, 2.0]])
    assert float(box.fprop(a, np.array([2]))) == pytest.approx(np.log(3), rel=1e-15)


def test_float32_loss_stays_float32_and_precise():
    a = np.array([[50.0, 20.0, 0.0]], dtype=np.float32)
    loss = fg.SoftmaxCrossEntropy().fprop(a, np.array([0]))
    assert loss.dtype == np.float32
    assert float(loss) == pytest.approx(float(exact_loss(a.astype(np.float64), [0])), rel=1e-6)
