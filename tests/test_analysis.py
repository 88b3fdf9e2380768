"""flowgraph.analysis: parameter vectors, Hessians, Newton, eigenvalues, landscapes."""

import warnings

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


def test_a_box_without_forward_rules_falls_back_on_finite_differences_and_says_so():
    class Cube(fg.Box):
        def fprop(self, a):
            return a**3

        def bprop(self, inputs, out, g):
            return (3 * inputs[0] ** 2 * g,)

    x = fg.Input("x")
    W = fg.Parameter(np.linspace(-1, 1, 4).reshape(2, 2), "W")
    loss = fg.L2Penalty()(Cube()(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b"))))
    graph = fg.Graph(loss)
    feed = {x: np.ones((3, 2))}
    assert A.missing_jvp_rules(graph) == ["'cube1' (Cube)"]
    with pytest.warns(A.HessianFallbackWarning, match=r"Cube .*no forward-mode rules"):
        H = A.hessian(graph, feed=feed)
    np.testing.assert_allclose(H, A.hessian(graph, feed=feed, method="fd"), rtol=1e-12)
    assert H.shape == (6, 6) and np.abs(H).max() > 1
    v = np.arange(6.0)
    with pytest.warns(A.HessianFallbackWarning):
        np.testing.assert_allclose(A.hvp(graph, feed=feed, v=v), H @ v, rtol=1e-5, atol=1e-6)
    with pytest.warns(A.HessianFallbackWarning):
        spec = A.spectrum(graph, feed=feed)
    assert spec.method == "fd" and "finite differences" in str(spec)
    with pytest.warns(A.HessianFallbackWarning):
        step = A.newton_step(graph, feed=feed, apply=False)
    assert step.method == "fd" and step.counts == spec.counts
    # a box only on the way of the data (no parameter below it) needs no rules
    data_side = fg.Graph(fg.L2Penalty()(fg.Linear()(Cube()(x), W, fg.Parameter(np.ones(2), "c"))))
    assert A.missing_jvp_rules(data_side) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        A.hessian(data_side, feed=feed)


def test_the_hessian_module_keeps_no_table_of_boxes():
    import flowgraph.analysis.hessian as Hmod

    assert not hasattr(Hmod, "R_RULES")
    assert all(c.has_jvp() for c in (fg.Linear, fg.Tanh, fg.SoftmaxCrossEntropy, fg.Scale))


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


def test_eigenvalue_counts_are_relative_to_the_largest_magnitude():
    ev = np.array([-2.0, -1e-3, -3e-16, 2e-16, 0.5, 4.0])
    assert A.count_eigenvalues(ev) == (2, 2, 2)  # rounding-level values are zero
    assert A.count_eigenvalues(1e-9 * ev) == (2, 2, 2)  # the scale of the loss does not matter
    assert A.count_eigenvalues(ev, damping=1e-3) == (1, 1, 4)  # of H + 1e-3 I
    assert A.count_eigenvalues(ev, tol=1e-3) == (1, 3, 2)
    assert A.count_eigenvalues([]) == (0, 0, 0)


@pytest.mark.parametrize("damping", [0.0, 1e-6, 0.05])
def test_newton_and_spectrum_report_the_same_counts(damping):
    """At a saddle with exactly flat directions (tanh, all weights 0): ±1e-16 rounding noise
    counts as zero in both, and both count the eigenvalues of H + damping I."""
    X, y = data(n=30)
    model = fg.mlp([3, 4, 3], dtype=np.float64, seed=0)
    model.load_state({k: np.zeros_like(v) for k, v in model.state().items()})
    spec = A.spectrum(model, X, y, damping=damping)
    step = A.newton_step(model, X, y, damping=damping, apply=False)
    assert spec.counts == step.counts
    assert sum(spec.counts) == len(spec.eigenvalues) and spec.n_negative > 0
    shifted = spec.eigenvalues + damping
    scale = np.abs(shifted).max()
    assert spec.n_negative == np.sum(shifted < -1e-10 * scale)
    assert spec.n_zero == np.sum(np.abs(shifted) <= 1e-10 * scale)
    if damping == 0.0:
        assert spec.n_zero > 0  # flat directions at the symmetric point
        assert not step.positive_definite
        text = str(step)
        assert f"{step.n_negative} negative / {step.n_zero} zero" in text
    if damping == 0.05:  # all the small |lambda| < 0.05 lifted above 0
        assert spec.n_negative == np.sum(spec.eigenvalues < -0.05)
        assert "of H + 0.05 I" in str(spec)


# -- a model that is not an MLP: a tied-weight autoencoder ----------------------------------------
class TiedTranspose(fg.Box):
    """fprop: y = W^T;  bprop: grad_W = grad_y^T"""

    input_names = ("W",)

    def fprop(self, W):
        return W.T.copy()

    def bprop(self, inputs, y, grad_y):
        return (grad_y.T,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3)),)


class TiedTransposeWithRules(TiedTranspose):
    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{W}^T"""
        return tangents[0].T

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """R{grad_W} = R{grad_y}^T"""
        return (Rgrad_y.T,)


def autoencoder(transpose=TiedTransposeWithRules, n=20, d=4, k=2, dtype=np.float64, seed=0):
    """x_hat = W^T tanh(W x + b) + c, loss = 1/(2N) sum_t ||x_hat_t - x_t||^2: one Parameter W
    used twice (encoder W, decoder W^T, gradients summed)."""
    rng = np.random.default_rng(seed)
    x = fg.Input("x")
    W = fg.Parameter(0.7 * rng.standard_normal((k, d)).astype(dtype), "W")
    b = fg.Parameter(0.1 * rng.standard_normal(k).astype(dtype), "b")
    c = fg.Parameter(0.1 * rng.standard_normal(d).astype(dtype), "c")
    h = fg.Tanh()(fg.Linear()(x, W, b))
    x_hat = fg.Linear()(h, transpose()(W), c, name="x_hat")
    err = fg.Add()(x_hat, fg.Scale(-1.0)(x))
    loss = fg.Scale(1 / (2 * n))(fg.L2Penalty()(err), name="loss")
    X = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.5
    return fg.Graph(loss), {"x": X.astype(dtype)}


def test_exact_hessian_of_an_autoencoder_with_tied_weights():
    assert fg.check_jvp(TiedTransposeWithRules()).ok
    graph, feed = autoencoder()
    assert A.missing_jvp_rules(graph) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # exact: no fallback
        He = A.hessian(graph, feed=feed)
    Hf = A.hessian(graph, feed=feed, method="fd")
    assert He.shape == (14, 14) and np.abs(He - He.T).max() < 1e-12
    np.testing.assert_allclose(He, Hf, rtol=0, atol=1e-6 * np.abs(He).max())
    v = np.random.default_rng(1).standard_normal(14)
    exact, fd = A.hvp(graph, feed=feed, v=v), A.hvp(graph, feed=feed, v=v, method="fd")
    assert np.linalg.norm(exact - fd) <= 1e-6 * np.linalg.norm(exact)
    np.testing.assert_allclose(exact, He @ v, rtol=1e-10, atol=1e-12)


def test_sharpness_spectrum_and_newton_on_an_autoencoder():
    graph, feed = autoencoder()
    H = A.hessian(graph, feed=feed)
    top = A.top_eigenvalues(graph, feed, k=2)  # the feed may come in X's place
    np.testing.assert_allclose(top, np.sort(np.linalg.eigvalsh(H))[::-1][:2], rtol=1e-6)
    spec = A.spectrum(graph, feed=feed)
    np.testing.assert_allclose(spec.eigenvalues, np.linalg.eigvalsh(H), atol=1e-12)
    assert spec.method == "exact"
    before = A.flatten(graph)
    losses = A.saddle_free_newton(graph, feed=feed, steps=15)
    assert losses[-1] < 0.5 * losses[0] and all(np.diff(losses) <= 1e-15)
    assert not np.allclose(A.flatten(graph), before)
    step = A.newton_step(graph, feed=feed, damping=1e-3, apply=False)
    assert step.counts == A.spectrum(graph, feed=feed, damping=1e-3).counts


def test_an_autoencoder_box_without_rules_falls_back_and_says_so():
    ruled, feed = autoencoder()
    plain, _ = autoencoder(transpose=TiedTranspose)
    assert A.missing_jvp_rules(plain) == ["'tiedtranspose1' (TiedTranspose)"]
    with pytest.warns(A.HessianFallbackWarning, match="TiedTranspose"):
        H = A.hessian(plain, feed=feed)
    He = A.hessian(ruled, feed=feed)
    np.testing.assert_allclose(H, He, rtol=0, atol=1e-6 * np.abs(He).max())
    with pytest.warns(A.HessianFallbackWarning):
        top = A.top_eigenvalues(plain, feed=feed)
    np.testing.assert_allclose(top, np.linalg.eigvalsh(He)[-1:], rtol=1e-6)


def test_a_float32_graph_is_analysed_in_float64_and_left_in_float32():
    g32, feed32 = autoencoder(dtype=np.float32)
    g64, feed64 = autoencoder(dtype=np.float64)
    before = [p.value.copy() for p in g32.parameters]
    np.testing.assert_allclose(
        A.hessian(g32, feed=feed32), A.hessian(g64, feed=feed64), rtol=0, atol=1e-5
    )
    for p, b in zip(g32.parameters, before):
        assert p.value.dtype == np.float32
        np.testing.assert_array_equal(p.value, b)
    damping = 0.1 - min(0.0, A.spectrum(g32, feed=feed32).eigenvalues.min())
    step = A.newton_step(g32, feed=feed32, damping=damping)
    assert step.positive_definite and step.applied and step.loss_after < step.loss_before
    assert step.applied and all(p.value.dtype == np.float32 for p in g32.parameters)
    with pytest.raises(A.AnalysisError, match="v must have shape"):
        A.hvp(g32, feed=feed32, v=np.ones(3))
    assert all(p.value.dtype == np.float32 for p in g32.parameters)


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


def test_second_order_tools_on_the_autoencoder_written_with_operators():
    """x_hat = tanh(x W^T + b) W + c with the box library's operators (MatMul, Transpose, Sum,
    Mean...): the same Hessian as the hand-built graph, exactly, and the tools agree."""
    graph, feed = autoencoder()
    x = fg.Input("x")
    W, b, c = (fg.Parameter(graph[name].value, name) for name in ("W", "b", "c"))
    x_hat = fg.tanh(x @ W.T + b) @ W + c
    loss = ((x_hat - x) ** 2).sum(axis=1).mean() * 0.5
    ops = fg.Graph(loss)
    assert A.missing_jvp_rules(ops) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every box on the way has its forward-mode rules
        H = A.hessian(ops, feed)
    np.testing.assert_allclose(H, A.hessian(graph, feed=feed), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        H, A.hessian(ops, feed, method="fd"), rtol=0, atol=1e-6 * np.abs(H).max()
    )
    np.testing.assert_allclose(A.top_eigenvalues(ops, feed), np.linalg.eigvalsh(H)[-1:], rtol=1e-8)
    assert A.spectrum(ops, feed).counts == A.newton_step(ops, feed, apply=False).counts


def test_second_order_tools_take_a_model_of_any_graph_not_only_an_mlp():
    """The tied-weight autoencoder as ``fg.Model(loss=, output=x_hat)`` (the box library's
    SquaredError, no classifier): hessian, spectrum, sharpness, Newton and saddle-free Newton
    take the Model and its feed as they take a Graph, and agree with the graph's figures."""
    graph, feed = autoencoder()
    x = fg.Input("x")
    W, b, c = (fg.Parameter(graph[name].value, name) for name in ("W", "b", "c"))
    x_hat = fg.tanh(x @ W.T + b) @ W + c
    model = fg.Model(loss=fg.SquaredError()(x_hat, x), output=x_hat)
    assert not model.classifier
    data = {"x": feed["x"]}
    H = A.hessian(model, feed=data)
    np.testing.assert_allclose(H, A.hessian(graph, feed=feed), rtol=0, atol=1e-12)
    eig = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(A.top_eigenvalues(model, feed=data), eig[-1:], rtol=1e-8)
    assert A.spectrum(model, feed=data).counts == A.spectrum(graph, feed=feed).counts
    theta0 = A.flatten(model).copy()
    report = A.newton_step(model, feed=data, apply=False)
    assert report.counts == A.spectrum(model, feed=data).counts
    np.testing.assert_array_equal(A.flatten(model), theta0)  # not applied: untouched
    before = model.loss_value(data)
    losses = A.saddle_free_newton(model, feed=data, steps=5)
    assert losses[0] == pytest.approx(before, rel=1e-12)
    assert model.loss_value(data) < before  # written back into the model's Parameters
    assert not np.array_equal(A.flatten(model), theta0)
