"""Tests written to kill mutants that survived ``python -m benchmarks.mutation`` (see
benchmarks/RESULTS.md): each pins a behaviour no earlier test looked at."""

from __future__ import annotations

import numpy as np

import flowgraph as fg
from flowgraph.optim import constant, make_schedule


def test_a_constant_schedule_by_name_has_no_decrease_constant():
    s = make_schedule("constant", 0.1, delta=0.5)
    assert s == constant(0.1) and s.delta == 0.0
    assert make_schedule("inverse", 0.1, delta=0.5).delta == 0.5


def test_sgd_state_without_and_with_momentum():
    W = fg.Parameter(np.ones((2, 2)), "W")
    W.grad = np.full((2, 2), 0.5)
    plain = fg.SGD([W], lr=0.1)
    plain.step()
    assert plain.state() == {"t": 1, "velocity": None}
    heavy = fg.SGD([W], lr=0.1, momentum=0.9)
    heavy.step()
    state = heavy.state()
    assert state["t"] == 1
    np.testing.assert_array_equal(state["velocity"][0], np.full((2, 2), 0.5))
    state["velocity"][0][...] = 7.0  # a copy: the optimizer's own velocity is untouched
    np.testing.assert_array_equal(heavy.state()["velocity"][0], np.full((2, 2), 0.5))
