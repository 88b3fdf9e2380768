"""flowgraph.analysis.landscape: lines and planes through parameter space, and symmetries."""

import numpy as np
import pytest
from analysis_graphs import data

import flowgraph as fg
from flowgraph import analysis as A


def test_permuting_hidden_units_leaves_the_function_unchanged():
    X, _ = data(d=4)
    model = fg.mlp([4, 6, 5, 3], seed=0)
    before, theta = model.predict_proba(X), A.flatten(model)
    perm = np.random.default_rng(0).permutation(6)
    A.permute_hidden(model, 1, perm)
    A.permute_hidden(model, 2, np.arange(5)[::-1])
    np.testing.assert_allclose(model.predict_proba(X), before, rtol=1e-5, atol=1e-7)
    assert not np.allclose(A.flatten(model), theta)  # other parameters, same function
    with pytest.raises(A.AnalysisError, match="permutation of 0 .. 5"):
        A.permute_hidden(model, 1, [0, 0, 1, 2, 3, 4])
    with pytest.raises(A.AnalysisError, match="hidden layer, 1 .. 2"):
        A.permute_hidden(model, 3, np.arange(3))


def test_interpolate_ends_at_both_models_and_restores_parameters():
    X, y = data()
    a, b = fg.mlp([3, 4, 3], seed=0), fg.mlp([3, 4, 3], seed=1)
    ta, tb = A.flatten(a), A.flatten(b)
    out = A.interpolate(a, ta, tb, X, y, steps=5, valid=(X, y))
    assert out["alpha"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert out["loss"][0] == pytest.approx(a.loss_value(X, y), rel=1e-6)
    assert out["loss"][-1] == pytest.approx(b.loss_value(X, y), rel=1e-6)
    assert out["valid_error"][-1] == b.error(X, y)
    np.testing.assert_array_equal(A.flatten(a), ta)


def test_slice_2d_is_centred_on_theta_and_directions_are_filter_normalised():
    X, y = data()
    model = fg.mlp([3, 4, 3], seed=0)
    d1 = A.random_direction(model, 1)
    state, dstate = model.state(), A.unflatten(model, d1)
    np.testing.assert_allclose(
        np.linalg.norm(dstate["W1"], axis=1), np.linalg.norm(state["W1"], axis=1), rtol=1e-5
    )
    assert not np.any(dstate["b1"])
    s = A.slice_2d(model, X, y, d1, A.random_direction(model, 2), steps=5, span=0.5)
    assert s["loss"][2][2] == pytest.approx(model.loss_value(X, y), rel=1e-6)
    assert np.asarray(s["loss"]).shape == (5, 5)


def test_loss_rise_along_unit_directions_is_the_curvature_along_them():
    X, y = data()
    model = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    theta = A.flatten(model)
    r = 1e-3
    out = A.loss_rise(model, X, y, [r, -r], n_directions=1, seed=5)
    d = A.random_direction(model, np.random.default_rng(5), normalise=None)
    d /= np.linalg.norm(d)
    # (l(theta + r d) + l(theta - r d)) / 2 - l(theta) = r^2 d^T H d / 2 + O(r^4)
    curvature = float(d @ A.hvp(model, X, y, d))
    assert np.mean(out["mean"]) == pytest.approx(0.5 * r**2 * curvature, rel=1e-3)
    assert out["loss"] == model.loss_value(X, y) and out["radius"] == [r, -r]
    np.testing.assert_array_equal(A.flatten(model), theta)  # parameters restored
    filt = A.loss_rise(model, X, y, [0.0, 0.5], n_directions=3, normalise="filter", seed=5)
    assert filt["mean"][0] == 0.0 and filt["std"][0] == 0.0
    with pytest.raises(A.AnalysisError, match="n_directions"):
        A.loss_rise(model, X, y, [1.0], n_directions=0)
