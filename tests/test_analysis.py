"""flowgraph.analysis: parameter vectors, Hessians, Newton, eigenvalues, landscapes."""

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import analysis as A


def data(n=24, d=3, c=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def quadratic_graph(n=12, d_in=3, d_out=2, seed=0):
    """loss = sum_{t,i} (b_i + W_i . x_t - T_ti)^2, built from boxes: a quadratic in (W, b)."""
    rng = np.random.default_rng(seed)
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(rng.standard_normal((d_out, d_in)), "W")
    b = fg.Parameter(rng.standard_normal(d_out), "b")
    r = fg.Add()(fg.Linear()(x, W, b), fg.Scale(-1.0)(t))
    loss = fg.L2Penalty()(r, name="loss")
    X, T = rng.standard_normal((n, d_in)), rng.standard_normal((n, d_out))
    return fg.Graph(loss), {x: X, t: T}, X, T


def quadratic_hessian(X, d_out):
    """The known answer: for each output i, d^2/d(W_i, b_i)^2 = 2 Z^T Z with Z = [X, 1]; the
    parameter vector is (W row-major, then b)."""
    n, d_in = X.shape
    ZZ = 2 * np.hstack([X, np.ones((n, 1))]).T @ np.hstack([X, np.ones((n, 1))])
    P = d_out * d_in + d_out
    H = np.zeros((P, P))
    for i in range(d_out):
        idx = [i * d_in + j for j in range(d_in)] + [d_out * d_in + i]
        H[np.ix_(idx, idx)] = ZZ
    return H


# -- parameter vectors ----------------------------------------------------------------------
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


# -- Hessians -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["exact", "fd"])
def test_hessian_of_a_quadratic_is_exact(method):
    graph, feed, X, _ = quadratic_graph()
    H = A.hessian(graph, feed=feed, method=method)
    np.testing.assert_allclose(H, quadratic_hessian(X, 2), rtol=0, atol=1e-8)


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "relu", "identity"])
def test_the_two_hessian_methods_agree(activation):
    X, y = data()
    model = fg.mlp([3, 4, 3], activation, l2=0.01, l1=0.003, dtype=np.float64, seed=2)
    He = A.hessian(model, X, y, method="exact")
    Hf = A.hessian(model, X, y, method="fd")
    assert np.abs(He - He.T).max() < 1e-12  # the R-operator's Hessian is symmetric
    np.testing.assert_allclose(He, Hf, rtol=0, atol=1e-7)
    assert np.abs(He).max() > 0.05  # a real Hessian, not zeros agreeing with zeros


def test_hessian_through_separate_softmax_and_crossentropy():
    rng = np.random.default_rng(3)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    b = fg.Parameter(rng.standard_normal(3), "b")
    V = fg.Parameter(rng.standard_normal((3, 3)), "V")
    c = fg.Parameter(np.zeros(3), "c")
    h = fg.Sigmoid()(fg.Linear()(x, W, b))
    f = fg.Softmax()(fg.Linear()(h, V, c))
    loss = fg.Add()(fg.CrossEntropy()(f, y), fg.Scale(0.1)(fg.L2Penalty()(W, V)))
    feed = {x: rng.standard_normal((10, 2)), y: rng.integers(0, 3, 10)}
    graph = fg.Graph(loss)
    np.testing.assert_allclose(
        A.hessian(graph, feed=feed), A.hessian(graph, feed=feed, method="fd"), atol=1e-7
    )


@pytest.mark.parametrize("method", ["exact", "fd"])
def test_hvp_equals_hessian_times_v(method):
    X, y = data()
    model = fg.mlp([3, 5, 3], l2=0.01, dtype=np.float64, seed=0)
    before = A.flatten(model)
    H = A.hessian(model, X, y)
    v = np.random.default_rng(0).standard_normal(H.shape[0])
    np.testing.assert_allclose(A.hvp(model, X, y, v, method=method), H @ v, atol=1e-7)
    np.testing.assert_array_equal(A.flatten(model), before)  # parameters left as they were


def test_unknown_box_has_no_r_rule():
    class Cube(fg.Box):
        def fprop(self, a):
            return a**3

        def bprop(self, inputs, out, g):
            return (3 * inputs[0] ** 2 * g,)

    x = fg.Input("x")
    W = fg.Parameter(np.ones((2, 2)), "W")
    loss = fg.L2Penalty()(Cube()(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b"))))
    graph = fg.Graph(loss)
    feed = {x: np.ones((3, 2))}
    with pytest.raises(A.AnalysisError, match="no R-operator rule for box Cube"):
        A.hessian(graph, feed=feed)
    assert A.hessian(graph, feed=feed, method="fd").shape == (6, 6)  # fd still works


def test_float32_models_are_analysed_in_float64():
    X, y = data()
    m32 = fg.mlp([3, 4, 3], seed=0)
    m64 = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    np.testing.assert_allclose(A.hessian(m32, X, y), A.hessian(m64, X, y), atol=1e-6)
    assert m32.dtype == np.float32


# -- Newton ---------------------------------------------------------------------------------
def test_newton_reaches_the_minimum_of_a_quadratic_in_one_step():
    graph, feed, X, T = quadratic_graph()
    report = A.newton_step(graph, feed=feed)
    assert report.positive_definite and report.applied
    Z = np.hstack([X, np.ones((len(X), 1))])
    B = np.linalg.lstsq(Z, T, rcond=None)[0]  # the least-squares solution, (d_in + 1, d_out)
    W, b = graph.parameters
    np.testing.assert_allclose(W.value, B[:-1].T, atol=1e-10)
    np.testing.assert_allclose(b.value, B[-1], atol=1e-10)
    np.testing.assert_allclose(report.loss_after, np.sum((Z @ B - T) ** 2), rtol=1e-10)
    assert report.loss_after < report.loss_before


def test_newton_converges_quickly_on_logistic_regression():
    X, y = data(n=40, d=2, c=2)
    model = fg.mlp([2, 2], l2=0.01, dtype=np.float64, seed=0)
    A.set_flat(model, np.zeros(6))  # theta = 0, where iteratively reweighted least squares starts
    norms = []
    for _ in range(6):
        # softmax is unchanged when a constant is added to both biases: a flat direction,
        # so the Hessian is singular without a little damping
        r = A.newton_step(model, X, y, damping=1e-8)
        assert r.applied
        norms.append(r.grad_norm)
    assert norms[-1] < 1e-12 < 0.1 < norms[0]
    assert norms[3] < norms[2] ** 1.5  # quadratic convergence near the minimum


def test_newton_reports_an_indefinite_hessian_and_does_not_step():
    X, y = data()
    model = fg.mlp([3, 4, 3], dtype=np.float64, seed=2)
    before = A.flatten(model)
    r = A.newton_step(model, X, y)
    assert not r.positive_definite and r.n_negative > 0 and not r.applied
    assert "NOT positive definite" in str(r)
    np.testing.assert_array_equal(A.flatten(model), before)
    forced = A.newton_step(model, X, y, allow_indefinite=True)
    assert forced.applied and not np.allclose(A.flatten(model), before)


# -- eigenvalues ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lanczos", "power"])
def test_top_eigenvalues_match_the_full_spectrum(method):
    X, y = data()
    model = fg.mlp([3, 5, 3], l2=0.01, dtype=np.float64, seed=0)
    exact = np.sort(np.linalg.eigvalsh(A.hessian(model, X, y)))[::-1][:3]
    got = A.top_eigenvalues(model, X, y, 3, method=method, seed=1)
    np.testing.assert_allclose(got, exact, rtol=1e-5)


def test_zero_weights_with_tanh_are_a_saddle_point():
    """The lecture: with tanh, all weights 0 makes every weight gradient 0 — a saddle point."""
    X, y = data(n=30)
    model = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    state = {k: np.zeros_like(v) for k, v in model.state().items()}
    freq = np.bincount(y, minlength=3) / len(y)
    state["b2"] = np.log(freq)  # softmax(b2) = class frequencies: the best constant output
    model.load_state(state)
    spec = A.spectrum(model, X, y)
    assert spec.grad_norm < 1e-12
    assert spec.kind == "saddle point" and spec.n_negative > 0 and spec.n_positive > 0
    assert spec.n_negative == spec.n_positive - 2  # +/- pairs, and the 2 positive b2 ones


# -- landscape ------------------------------------------------------------------------------
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
