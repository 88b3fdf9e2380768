"""The forward-mode sweep: fg.jvp on whole graphs, against finite differences and against
bprop, its errors, and which boxes have forward-mode rules."""

from __future__ import annotations

import numpy as np
import pytest
from helper_boxes import Cube

import flowgraph as fg
from flowgraph.core.forward import JVPError


def small_net(seed=0):
    rng = np.random.default_rng(seed)
    x, y = fg.Input("x"), fg.Input("y")
    W1 = fg.Parameter(rng.standard_normal((4, 3)), "W1")
    b1 = fg.Parameter(rng.standard_normal(4), "b1")
    W2 = fg.Parameter(rng.standard_normal((2, 4)), "W2")
    b2 = fg.Parameter(rng.standard_normal(2), "b2")
    a2 = fg.Linear()(fg.Tanh()(fg.Linear()(x, W1, b1)), W2, b2, name="a2")
    loss = fg.Add()(fg.SoftmaxCrossEntropy()(a2, y), fg.Scale(0.1)(fg.L2Penalty()(W1, W2)))
    feed = {x: rng.standard_normal((5, 3)), y: rng.integers(0, 2, 5)}
    return fg.Graph([loss, a2]), feed, rng


def test_jvp_is_the_directional_derivative_of_fprop():
    graph, feed, rng = small_net()
    v = {p: rng.standard_normal(p.value.shape) for p in graph.parameters}
    v["x"] = rng.standard_normal((5, 3))  # an Input, by name
    values, tangents = fg.jvp(graph, feed, v)
    values = [np.array(v_) for v_ in values]  # (the node values change at the next fprop)
    eps = 1e-6

    def at(r):
        saved = [p.value.copy() for p in graph.parameters]
        for p in graph.parameters:
            p.value = p.value + r * v[p]
        moved = {graph["x"]: feed[graph["x"]] + r * v["x"], graph["y"]: feed[graph["y"]]}
        out = [np.array(o) for o in graph.fprop(moved)]
        for p, s in zip(graph.parameters, saved):
            p.value = s
        return out

    plus, minus = at(eps), at(-eps)
    for tangent, p_, m_ in zip(tangents, plus, minus):
        np.testing.assert_allclose(tangent, (p_ - m_) / (2 * eps), rtol=1e-6, atol=1e-8)
    assert tangents[1].shape == (5, 2) and np.shape(tangents[0]) == ()
    np.testing.assert_array_equal(values[1], at(0.0)[1])


def test_forward_and_reverse_mode_agree():
    """u^T (J v) = (J^T u)^T v: one jvp along v against one bprop seeded with u."""
    graph, feed, rng = small_net(1)
    a2 = graph["a2"]
    v = {p: rng.standard_normal(p.value.shape) for p in graph.parameters}
    _, (_, Ja2) = fg.jvp(graph, feed, v)
    u = rng.standard_normal(Ja2.shape)
    graph.fprop(feed)
    graph.bprop(output=a2, grad_output=u)
    reverse = sum(np.vdot(p.grad, v[p]) for p in graph.parameters)
    np.testing.assert_allclose(np.vdot(u, Ja2), reverse, rtol=1e-12)


def test_jvp_of_one_output_and_untouched_outputs():
    x = fg.Input("x")
    W = fg.Parameter(np.eye(2), "W")
    out = fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b"))
    value, tangent = fg.jvp(fg.Graph(out), {x: np.ones((1, 2))}, {"W": np.ones((2, 2))})
    np.testing.assert_array_equal(value, [[1.0, 1.0]])
    np.testing.assert_array_equal(tangent, [[2.0, 2.0]])  # R{a} = R{W} h
    res = fg.jvp(fg.Graph(out), {x: np.ones((1, 2))}, {})
    np.testing.assert_array_equal(res.tangents, np.zeros((1, 2)))


def test_jvp_of_an_owner_of_a_graph_feeds_it_through_its_as_feed():
    """Anything with a ``graph`` and an ``as_feed`` (a Model: the core knows none) has its
    feed pass through ``as_feed(feed, graph="all", what="jvp")``, where a Model's
    preprocessing turns x into x'; an owner without ``as_feed`` is fed as it is."""
    x = fg.Input("x")
    W = fg.Parameter(np.eye(2), "W")
    graph = fg.Graph(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b")))
    calls = []

    class Owner:
        def __init__(self, graph):
            self.graph = graph

        def as_feed(self, feed, *, graph, what):
            calls.append((graph, what))
            return {x: 10 * feed["x"]}  # a "preprocessing" that scales by 10

    value, tangent = fg.jvp(Owner(graph), {"x": np.ones((1, 2))}, {"W": np.ones((2, 2))})
    assert calls == [("all", "jvp")]
    np.testing.assert_array_equal(value, [[10.0, 10.0]])
    np.testing.assert_array_equal(tangent, [[20.0, 20.0]])  # R{a} = R{W} x'

    class Bare:
        pass

    bare = Bare()
    bare.graph = graph
    value, _ = fg.jvp(bare, {x: np.ones((1, 2))}, {})
    np.testing.assert_array_equal(value, [[1.0, 1.0]])


def test_jvp_errors_name_what_is_wrong():
    graph, feed, _ = small_net()
    with pytest.raises(JVPError, match=r"'W9'.*Inputs and Parameters: \[.*'W1'"):
        fg.jvp(graph, feed, {"W9": np.ones((4, 3))})
    with pytest.raises(JVPError, match=r"'W1' \(Parameter\) has shape \(3, 4\).*\(4, 3\)"):
        fg.jvp(graph, feed, {"W1": np.ones((3, 4))})
    with pytest.raises(JVPError, match=r"'a2' \(Linear\), a box's output"):
        fg.jvp(graph, feed, {"a2": np.ones((5, 2))})
    with pytest.raises(JVPError, match=r"'y' \(Input\) holds int64 values \(labels\?\)"):
        fg.jvp(graph, feed, {"y": np.ones(5)})
    with pytest.raises(JVPError, match="not in this graph"):
        fg.jvp(graph, feed, {fg.Parameter(np.ones(2), "W1"): np.ones(2)})
    x = fg.Input("x")
    W = fg.Parameter(np.ones((2, 2)), "W")
    g = fg.Graph(Cube()(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b"))))
    with pytest.raises(JVPError, match=r"box Cube defines no forward-mode rules.*'cube1'"):
        fg.jvp(g, {x: np.ones((1, 2))}, {W: np.ones((2, 2))})
    # ...but a box that no tangent reaches needs none
    g2 = fg.Graph(fg.Linear()(Cube()(x), W, fg.Parameter(np.zeros(2), "c")))
    _, t = fg.jvp(g2, {x: np.ones((1, 2))}, {W: np.ones((2, 2))})
    np.testing.assert_array_equal(t, [[2.0, 2.0]])


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
