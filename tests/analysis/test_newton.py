"""flowgraph.analysis.newton: the (damped) Newton step and saddle-free Newton."""

import numpy as np
import pytest
from analysis_graphs import autoencoder, data, quadratic_graph

import flowgraph as fg
from flowgraph import analysis as A


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
