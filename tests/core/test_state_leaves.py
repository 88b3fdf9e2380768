"""The leaves of randomness, mode and state: what the Graph fills before each fprop and
updates after each step (idea 2: everything a box reads is a child)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


def test_the_graph_lists_and_fills_its_state_leaves():
    x = fg.Input("x")
    k1, k2, mode = fg.RandomSource(), fg.RandomSource(), fg.Mode()
    u1, u2 = fg.uniform_like(x, k1), fg.normal_like(x, k2)
    buf = fg.Buffer(np.zeros(3), "running")
    buf.update = buf + x.mean(axis=0)
    graph = fg.Graph([u1 + u2 + buf, fg.Dropout(0.5)(x, u1, mode)])
    assert graph.randoms == [k1, k2] and graph.modes == [mode] and graph.buffers == [buf]
    assert any(n is buf.update for n in graph.order)  # the update is computed in every fprop
    assert (k1.name, mode.name, buf.name) == ("random1", "mode1", "running")
    X = np.ones((2, 3))
    graph.fprop({x: X}, rng=np.random.default_rng(0))
    assert not np.array_equal(k1.value, k2.value)  # each RandomSource its own key
    assert mode.value and graph.training
    first = u1.value.copy()
    graph.fprop({x: X}, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(u1.value, first)  # the same generator, the same draws
    graph.update_buffers()
    np.testing.assert_array_equal(buf.value, np.ones(3))
    graph.eval()
    graph.fprop({x: X})
    assert not mode.value


def test_buffers_hold_floats_and_updates_are_nodes():
    with pytest.raises(fg.GraphError, match="floating-point"):
        fg.Buffer(np.zeros(3, int), "n")
    with pytest.raises(fg.GraphError, match="update must be a node"):
        fg.Buffer(np.zeros(3), "n", update=np.ones(3))
