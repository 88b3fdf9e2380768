"""Tests written to kill mutants that survived ``python -m benchmarks.mutation`` (see
benchmarks/RESULTS.md): each pins a behaviour no earlier test looked at."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


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


def test_has_jvp_needs_both_forward_rules():
    class OnlyFprop(fg.Box):  # (not a subclass of Tanh: Tanh has both rules of its own)
        def fprop(self, a):
            return np.tanh(a)

        def fprop_jvp(self, inputs, tangents, output):
            return (1 - output**2) * tangents[0]

    assert not fg.Box.has_jvp() and not OnlyFprop.has_jvp()

    class Both(OnlyFprop):
        def bprop_jvp(self, inputs, tangents, output, output_tangent, grad_output, gt):
            return (gt,)

    assert Both.has_jvp()




def test_linear_hints_at_reshape_only_for_a_single_example():
    W, b = np.ones((2, 3)), np.zeros(2)
    with pytest.raises(fg.ShapeError, match=r"x.reshape\(1, -1\)"):
        fg.Linear().fprop(np.ones(3), W, b)
    with pytest.raises(fg.ShapeError) as info:
        fg.Linear().fprop(np.ones((1, 1, 3)), W, b)
    assert "reshape" not in str(info.value)


def test_cross_entropy_labels_may_exceed_the_number_of_rows():
    f = np.full((2, 5), 0.2)
    loss = fg.CrossEntropy().fprop(f, np.array([4, 3]))  # 5 classes, 2 examples
    assert float(loss) == pytest.approx(-np.log(0.2))
