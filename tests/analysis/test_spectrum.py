"""flowgraph.analysis.spectrum: the eigenvalues of H, the largest few, and their counts."""

import numpy as np
import pytest
from analysis_graphs import autoencoder, data

import flowgraph as fg
from flowgraph import analysis as A


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
