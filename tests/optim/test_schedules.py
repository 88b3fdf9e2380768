"""Learning-rate schedules alpha_t: constant, inverse, power, the warm-up, their checks and
their names (the one table SCHEDULES)."""

from __future__ import annotations

import pytest

from flowgraph import optim
from flowgraph.optim import constant, make_schedule


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


def test_a_constant_schedule_by_name_has_no_decrease_constant():
    s = make_schedule("constant", 0.1, delta=0.5)
    assert s == constant(0.1) and s.delta == 0.0
    assert make_schedule("inverse", 0.1, delta=0.5).delta == 0.5
    # delta defaults to 0: an inverse schedule without it keeps alpha
    assert make_schedule("inverse", 0.1).delta == 0.0 and make_schedule("inverse", 0.1)(9) == 0.1
