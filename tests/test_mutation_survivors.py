"""Tests written to kill mutants that survived ``python -m benchmarks.mutation`` (see
benchmarks/RESULTS.md): each pins a behaviour no earlier test looked at."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_sgd_accepts_a_learning_rate_that_agrees_with_its_schedule():
    W = fg.Parameter(np.ones(2), "W")
    assert fg.SGD([W], lr=0.1, schedule=constant(0.1)).lr == 0.1
    assert fg.SGD([W], schedule=constant(0.2)).lr == 0.2


def test_node_repr_names_the_box_or_the_leaf_kind():
    x = fg.Input("x")
    h = fg.Tanh()(x, name="h")
    assert repr(h) == "<Tanh node 'h'>" and repr(x) == "<Input node 'x'>"
    fg.Graph(h).fprop({x: np.zeros((2, 3))})
    assert repr(h) == "<Tanh node 'h', shape=(2, 3)>"


def test_the_other_graph_hint_only_for_a_node_of_the_same_name():
    x, other_x, z = fg.Input("x"), fg.Input("x"), fg.Input("z")
    graph = fg.Graph(fg.Add()(fg.Tanh()(x), z))
    with pytest.raises(fg.FeedError, match="another node named 'x'"):
        graph.fprop({other_x: np.ones(2), z: np.ones(2)})
    with pytest.raises(fg.FeedError, match="no value fed for Input 'x'") as info:
        graph.fprop({z: np.ones(2)})  # z is this graph's own node, of another name: no hint
    assert "another node" not in str(info.value)
