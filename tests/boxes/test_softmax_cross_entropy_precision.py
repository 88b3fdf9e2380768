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


# -- the unplanned step's fast paths (issue 20): the same bits as the general computation ------
class Scores(np.ndarray):
    """An ndarray subclass: SoftmaxCrossEntropy takes its general path (casts, _working)."""


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_one_example_gives_the_bits_of_that_example_twice(dtype):
    """N = 1 skips the sum of one term and the division by 1: the loss is the mean of a batch
    holding the row twice (x + x and / 2 are exact) and the gradient twice that batch's row
    (float16, computed in float32, takes the general path)."""
    rng = np.random.default_rng(7)
    box = fg.SoftmaxCrossEntropy()
    for scale in (1e-3, 1.0, 30.0):
        a = (scale * rng.standard_normal((1, 5))).astype(dtype)
        for y in range(5):
            one, two = np.array([y]), np.array([y, y])
            loss1, loss2 = box.fprop(a, one), box.fprop(np.vstack([a, a]), two)
            assert loss1.dtype == dtype and loss1.shape == ()
            assert loss1.tobytes() == loss2.tobytes()
            g1 = box.bprop((a, one), loss1, np.array(1, dtype))[0]
            g2 = box.bprop((np.vstack([a, a]), two), loss2, np.array(1, dtype))[0]
            assert g1.dtype == dtype
            if dtype != np.float16:  # (float16 rounds halves of tiny gradients to subnormals)
                np.testing.assert_array_equal(g1[0], 2 * g2[0])


def test_a_certain_win_costs_plus_zero():
    """One example whose label wins by far: the loss is +0.0, as the sum over the batch gives."""
    a = np.array([[0.0, -1e4]])
    loss = fg.SoftmaxCrossEntropy().fprop(a, np.array([0]))
    assert loss == 0 and not np.signbit(loss)


@pytest.mark.parametrize("n", [1, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_arrays_and_the_general_path_agree_bit_for_bit(n, dtype):
    """The fast path (a plain float32/float64 array: no cast, no conversion of the gradient)
    gives the bits of the general one (an ndarray subclass), for any grad_loss given."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, 4)).astype(dtype)
    y = rng.integers(0, 4, n)
    box = fg.SoftmaxCrossEntropy()
    loss = box.fprop(a, y)
    assert loss.tobytes() == np.asarray(box.fprop(a.view(Scores), y)).tobytes()
    for g in (np.array(1, dtype), np.array(0.3, np.float64), 0.7, np.float32(2.5)):
        fast = box.bprop((a, y), loss, g)[0]
        general = box.bprop((a.view(Scores), y), loss, g)[0]
        assert type(fast) is np.ndarray and fast.dtype == dtype
        np.testing.assert_array_equal(fast, np.asarray(general))


def test_the_fast_path_still_refuses_bad_labels_and_scores():
    box = fg.SoftmaxCrossEntropy()
    a = np.zeros((2, 3), np.float32)
    with pytest.raises(fg.LabelError, match=r"must lie in \[0, 3\).*found \[3\]"):
        box.fprop(a, np.array([0, 3]))
    with pytest.raises(fg.LabelError, match=r"must lie in \[0, 3\).*found \[-1\]"):
        box.fprop(a[:1], np.array([-1]))
    with pytest.raises(fg.LabelError, match="labels y must be integers"):
        box.fprop(a, np.array([0.0, 1.0]))
    with pytest.raises(fg.ShapeError, match=r"labels y must have shape \(2,\), got \(3,\)"):
        box.fprop(a, np.array([0, 1, 2]))
    with pytest.raises(fg.ShapeError, match=r"labels y must have shape \(2,\), got \(3,\)"):
        fg.CrossEntropy().fprop(np.full((2, 3), 1 / 3), [0, 1, 2])  # (a list: np.ndim, len)
    with pytest.raises(fg.ShapeError, match=r"a must have shape \(N, C\), got \(3,\)"):
        box.fprop(a[0], np.array([0, 1, 2]))
