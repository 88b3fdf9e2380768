"""flowgraph.analysis.params: theta as one vector, and the loss and its gradient at theta."""

import numpy as np
import pytest
from analysis_graphs import data

import flowgraph as fg
from flowgraph import analysis as A


def test_flatten_unflatten_round_trip():
    model = fg.mlp([4, 5, 3], seed=1)
    theta = A.flatten(model)
    assert theta.shape == (4 * 5 + 5 + 5 * 3 + 3,)
    state = A.unflatten(model, theta)
    for p in model.parameters:
        np.testing.assert_array_equal(state[p.name], p.value)
        assert state[p.name].dtype == p.value.dtype
    A.set_flat(model, theta * 2)
    np.testing.assert_allclose(A.flatten(model), theta * 2, rtol=1e-6)
    with pytest.raises(A.AnalysisError, match="vector of the 43 parameters"):
        A.unflatten(model, theta[:-1])


def test_flat_grad_is_the_graph_gradient():
    model = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    X, y = data()
    g = A.objective(model, X, y).grad()
    model.train_graph.fprop({model.x: X, model.y: y})
    model.train_graph.bprop()
    np.testing.assert_array_equal(g, np.concatenate([p.grad.ravel() for p in model.parameters]))
