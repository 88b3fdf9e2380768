"""SGD: the update, the lecture's momentum, the learning-rate schedules and their checks."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import optim


def test_constant_schedule():
    s = optim.constant(0.3)
    assert [s(t) for t in (1, 2, 100)] == [0.3, 0.3, 0.3]


@pytest.mark.parametrize("alpha, delta", [(0.5, 0.1), (0.02, 1e-3), (1.0, 0.0)])
def test_inverse_schedule(alpha, delta):
    s = optim.inverse(alpha, delta)
    for t in (1, 2, 7, 1000):
        assert s(t) == pytest.approx(alpha / (1 + delta * t), rel=1e-15)


@pytest.mark.parametrize("alpha, delta", [(0.5, 0.51), (0.1, 0.75), (2.0, 1.0)])
def test_power_schedule(alpha, delta):
    s = optim.power(alpha, delta)
    for t in (1, 2, 7, 1000):
        assert s(t) == pytest.approx(alpha / t**delta, rel=1e-15)


@pytest.mark.parametrize("delta", [0.5, 0.3, 0.0, -1.0, 1.01, 2.0])
def test_power_delta_outside_half_to_one_is_refused(delta):
    with pytest.raises(ValueError, match=r"0.5 < delta <= 1"):
        optim.power(0.1, delta)


@pytest.mark.parametrize(
    "make, formula",
    [
        (lambda: optim.constant(0.2, warmup=3), lambda s: 0.2),
        (lambda: optim.inverse(0.2, 0.5, warmup=3), lambda s: 0.2 / (1 + 0.5 * s)),
        (lambda: optim.power(0.2, 0.75, warmup=3), lambda s: 0.2 / s**0.75),
    ],
)
def test_warmup_keeps_alpha_fixed_then_decays(make, formula):
    s = make()
    assert [s(t) for t in (1, 2, 3)] == [0.2, 0.2, 0.2]
    # after the warm-up, the decay starts from its first step: t counts updates past warm-up
    for t in (4, 5, 10):
        assert s(t) == pytest.approx(formula(t - 3), rel=1e-15)


def test_schedule_arguments_are_checked():
    with pytest.raises(ValueError, match="alpha must be > 0"):
        optim.constant(0.0)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        optim.inverse(float("nan"), 0.1)
    with pytest.raises(ValueError, match="delta must be >= 0"):
        optim.inverse(0.1, -0.1)
    with pytest.raises(ValueError, match="warmup must be >= 0"):
        optim.constant(0.1, warmup=-1)
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        optim.make_schedule("cosine", 0.1)
    assert optim.make_schedule("power", 0.1, 0.6, 2) == optim.power(0.1, 0.6, 2)
    assert "alpha / (1 + delta t)" in str(optim.inverse(0.1, 0.01))


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
