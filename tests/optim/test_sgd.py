"""SGD: the update, the lecture's momentum, its state, the proximal L1 step and the masks."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import optim
from flowgraph.optim import constant, inverse


def _params(seed: int = 0) -> list[fg.Parameter]:
    rng = np.random.default_rng(seed)
    return [fg.Parameter(rng.normal(size=(3, 2)), "W"), fg.Parameter(rng.normal(size=3), "b")]


def _grads(t: int) -> list[np.ndarray]:
    """A different, known gradient at every step t."""
    rng = np.random.default_rng(100 + t)
    return [rng.normal(size=(3, 2)), rng.normal(size=3)]


def test_plain_sgd_step():
    params = _params()
    theta0 = [p.value.copy() for p in params]
    opt = fg.SGD(params, 0.1)
    for p, g in zip(params, _grads(1)):
        p.grad = g
    opt.step()
    for p, th, g in zip(params, theta0, _grads(1)):
        np.testing.assert_allclose(p.value, th - 0.1 * g, rtol=1e-15)
    assert opt.t == 1


@pytest.mark.parametrize("schedule", [optim.constant(0.1), optim.inverse(0.1, 0.5)])
def test_momentum_is_the_lectures_averaged_gradient(schedule):
    """grad_bar(t) = grad(t) + beta grad_bar(t-1);  theta <- theta - alpha_t grad_bar(t)."""
    beta = 0.9
    params = _params()
    theta = [p.value.copy() for p in params]
    grad_bar = [np.zeros_like(th) for th in theta]
    opt = fg.SGD(params, schedule, momentum=beta)
    for t in (1, 2, 3):
        assert opt.lr == schedule(t)
        g = _grads(t)
        for p, gi in zip(params, g):
            p.grad = gi
        opt.step()
        grad_bar = [gi + beta * gb for gi, gb in zip(g, grad_bar)]
        theta = [th - schedule(t) * gb for th, gb in zip(theta, grad_bar)]
        for p, th in zip(params, theta):
            np.testing.assert_allclose(p.value, th, rtol=1e-13, atol=1e-15)
    # and momentum does change the path: plain SGD ends elsewhere
    plain = _params()
    opt_plain = fg.SGD(plain, schedule)
    for t in (1, 2, 3):
        for p, gi in zip(plain, _grads(t)):
            p.grad = gi
        opt_plain.step()
    assert not np.allclose(plain[0].value, params[0].value)


def test_sgd_lr_is_the_next_rate_and_schedule_by_name():
    params = _params()
    opt = fg.SGD(params, 0.2, schedule="inverse", decay=0.5, warmup=1)
    assert opt.schedule == optim.inverse(0.2, 0.5, warmup=1)
    assert opt.lr == 0.2  # alpha_1: warm-up
    for p, g in zip(params, _grads(1)):
        p.grad = g
    opt.step()
    assert opt.lr == pytest.approx(0.2 / 1.5)  # alpha_2 = alpha / (1 + delta * 1)
    assert "momentum=0.0" in repr(opt)


@pytest.mark.parametrize(
    "args, kwargs, error, message",
    [
        ((), {}, ValueError, "needs a learning rate"),
        ((0.1,), {"momentum": 1.0}, ValueError, r"momentum beta must lie in \[0, 1\)"),
        ((0.1,), {"momentum": -0.1}, ValueError, "momentum beta"),
        ((optim.constant(0.1),), {"schedule": optim.constant(0.1)}, ValueError, "once"),
        ((0.2,), {"schedule": optim.constant(0.1)}, ValueError, "disagrees"),
        ((None,), {"schedule": "power", "decay": 0.7}, ValueError, "needs lr"),
        ((0.1,), {"schedule": "power", "decay": 0.2}, ValueError, "0.5 < delta"),
        ((0.1,), {"l1_prox": 0.1}, ValueError, "l1_params"),
    ],
)
def test_sgd_arguments_are_checked(args, kwargs, error, message):
    with pytest.raises(error, match=message):
        fg.SGD(_params(), *args, **kwargs)


def test_sgd_needs_parameter_nodes():
    with pytest.raises(ValueError, match="no parameters"):
        fg.SGD([], 0.1)
    with pytest.raises(TypeError, match="Parameter"):
        fg.SGD([fg.Input("x")], 0.1)


def test_l1_prox_soft_thresholds_and_masks_stay_applied():
    W = fg.Parameter(np.array([[0.5, -0.5, 0.05], [-0.02, 1.0, 0.0]]), "W")
    mask = np.array([[1, 1, 1], [1, 0, 1]])
    opt = fg.SGD([W], 0.1, l1_prox=1.0, l1_params=[W], masks={W: mask})
    assert W.value[1, 1] == 0  # the mask applies at once
    W.grad = np.zeros_like(W.value)
    opt.step()
    # W <- sign(W) max(|W| - alpha lambda, 0), alpha lambda = 0.1
    np.testing.assert_allclose(W.value, [[0.4, -0.4, 0.0], [0.0, 0.0, 0.0]], atol=1e-15)
    W.grad = -np.ones_like(W.value)
    opt.step()
    assert W.value[1, 1] == 0  # pruned stays pruned
    with pytest.raises(ValueError, match="mask for W"):
        fg.SGD([W], 0.1, masks={W: np.ones(3)})


def test_sgd_state_without_and_with_momentum():
    W = fg.Parameter(np.ones((2, 2)), "W")
    W.grad = np.full((2, 2), 0.5)
    plain = fg.SGD([W], lr=0.1)
    plain.step()
    state = plain.state()
    assert state["t"] == 1 and state["velocity"] == [None]  # no momentum: no buffer
    heavy = fg.SGD([W], lr=0.1, momentum=0.9)
    heavy.step()
    state = heavy.state()
    assert state["t"] == 1
    np.testing.assert_array_equal(state["velocity"][0], np.full((2, 2), 0.5))
    state["velocity"][0][...] = 7.0  # a copy: the optimizer's own velocity is untouched
    np.testing.assert_array_equal(heavy.state()["velocity"][0], np.full((2, 2), 0.5))


def test_sgd_accepts_a_learning_rate_that_agrees_with_its_schedule():
    W = fg.Parameter(np.ones(2), "W")
    assert fg.SGD([W], lr=0.1, schedule=constant(0.1)).lr == 0.1
    assert fg.SGD([W], schedule=constant(0.2)).lr == 0.2


def test_sgd_without_warmup_uses_a_plain_constant_schedule():
    W = fg.Parameter(np.ones(2), "W")
    opt = fg.SGD([W], lr=0.1)
    assert opt.schedule == constant(0.1) and str(opt.schedule) == "alpha = 0.1"


# -- the proximal L1 step ------------------------------------------------------------------------


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("order", ["C", "F"])
def test_plain_sgd_on_rank_one_gradients_is_outer_subtract_from(dtype, order):
    """SGD updates a weight rank-1 as Outer.subtract_from does (BLAS ger), also after the
    weight's value is replaced (another array, another order)."""
    from flowgraph.core.rank1 import Outer

    rng = np.random.default_rng(0)
    W = fg.Parameter(np.asarray(rng.standard_normal((4, 3)), dtype=dtype, order=order), "W")
    opt = fg.SGD([W], lr=0.3)
    for step in range(4):
        if step == 2:  # a new array: its own ger (or none for Fortran order)
            W.value = np.array(W.value, order="F" if order == "C" else "C")
        u, v = rng.standard_normal(4).astype(dtype), rng.standard_normal(3).astype(dtype)
        ref = W.value.copy(order="K")  # (its order: ger for C order, NumPy for Fortran's)
        Outer(u, v).subtract_from(ref, 0.3)
        W.grad = Outer(u, v)
        opt.step()
        assert np.array_equal(W.value, ref)


def _plain_steps(params, lr, rng, steps=3):
    """(the values plain SGD gives, those of theta -= alpha_t * grad as written) per step."""
    opt = fg.SGD(params, lr=lr)
    for t in range(1, steps + 1):
        grads = [rng.normal(size=p.value.shape).astype(p.value.dtype) for p in params]
        alpha = opt.schedule(t)
        with np.errstate(over="ignore", invalid="ignore"):
            want = [p.value.copy() for p in params]
            for w, g in zip(want, grads):  # (in place, as SGD writes it)
                w -= alpha * g
            for p, g in zip(params, grads):
                p.grad = g
            opt.step()
        yield [p.value for p in params], want


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("lr", [optim.inverse(0.1, 0.5), optim.constant(0.3)])
def test_plain_sgd_is_theta_minus_alpha_grad_to_the_bit(dtype, lr):
    """Plain SGD keeps alpha_t as a number of the gradient's dtype while it stays: the same
    bits as ``theta -= alpha_t * grad`` with the Python float, whether alpha changes at every
    step or stays, for a small parameter and a large one (which goes through a scratch
    array from the second step)."""
    rng = np.random.default_rng(3)
    small = fg.Parameter(rng.normal(size=7).astype(dtype), "b")
    large = fg.Parameter(rng.normal(size=(80, 60)).astype(dtype), "W")  # (scratch: >= 4096)
    for got, want in _plain_steps([small, large], lr, rng):
        assert all(g.dtype == dtype and np.array_equal(g, w) for g, w in zip(got, want))


def test_an_alpha_beyond_the_dtype_is_left_to_numpy_as_it_was():
    """alpha = 1e6 overflows float16: SGD multiplies by the Python float, as before (NumPy 2
    casts it to inf; NumPy 1.23 computes alpha * grad in float32)."""
    rng = np.random.default_rng(4)
    small = fg.Parameter(rng.normal(size=7).astype(np.float16), "b")
    for got, want in _plain_steps([small], 1e6, rng):
        assert got[0].dtype == np.float16 and np.array_equal(got[0], want[0], equal_nan=True)
