"""flowgraph.analysis.phenomena: each surprising property of trained networks, measured on
small data (memorisation, L1 sparsity, double descent, bias and variance, critical points,
batch size and sharpness)."""

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph.analysis import data as D


@pytest.fixture(scope="module")
def digits():
    d = D.load("digits")
    return D.split(d["X"], d["y"], 150, n_test=300, seed=0)


def test_random_labels_are_memorised_on_a_small_set(digits):
    (X, y), test = digits
    r = A.memorization((X[:50], y[:50]), test, hidden=(128,), epochs=40, batch_size=8, every=10)
    assert r["random"]["final_train_error"] == 0.0  # 100% training accuracy on random labels
    assert r["random"]["final_test_error"] > 0.6  # near chance, 0.9
    assert r["true"]["final_test_error"] < 0.4
    assert sorted(A.random_labels(y[:50], 1)) == sorted(y[:50])


def test_l1_proximal_step_gives_exact_zeros_and_subgradients_do_not(digits):
    train, test = digits
    r = A.l1_sparsity(train, test, lambdas=[5e-2], hidden=(16,), epochs=10)
    assert r["l1_proximal"]["fraction_zero"][0] > 0.2
    assert r["l1_subgradient"]["fraction_zero"][0] == 0.0
    assert r["l2"]["fraction_zero"][0] == 0.0


def test_sgd_proximal_step_is_soft_thresholding():
    W = fg.Parameter(np.array([[0.5, -0.05, 0.02, -1.0]]), "W")
    W.grad = np.zeros_like(W.value)
    opt = fg.SGD([W], lr=0.1, l1_prox=1.0, l1_params=[W])  # shrink by alpha lambda = 0.1
    opt.step()
    np.testing.assert_allclose(W.value, [[0.4, 0.0, 0.0, -0.9]])
    assert np.count_nonzero(W.value) == 2


def test_double_descent_interpolates_past_the_threshold(digits):
    (X, y), test = digits
    n = 40
    r = A.double_descent((X[:n], y[:n]), test, [5, 20, n - 1, 2 * n, 8 * n], repeats=2)
    assert r["train_error"][-1] == 0.0 and r["train_error"][0] > 0
    peak = int(np.argmax(r["weight_norm"]))
    assert r["width"][peak] == n - 1  # the norm of the fit explodes at H + 1 = N
    assert r["test_error"][2] > r["test_error"][-1]  # the second descent


def test_bias_variance_decomposition_is_exact(digits):
    train, test = digits
    r = A.bias_variance(train, test, l2_values=[0.0, 0.3], n_boot=3, hidden=(8,), epochs=3)
    for b, v, m in zip(r["bias2"], r["variance"], r["mse"]):
        assert b + v == pytest.approx(m, rel=1e-9)
        assert v > 0
    assert r["bias2"][1] > r["bias2"][0]  # a strong penalty underfits: more bias


def test_critical_points_and_saddle_free_newton():
    X, y = fg.datasets.make_blobs(40, seed=0)
    model = fg.mlp([2, 3, 3], "tanh", l2=1e-3, dtype=np.float64, seed=0)
    zero = {k: np.zeros_like(v) for k, v in model.state().items()}
    zero["b2"] = np.log(np.bincount(y, minlength=3) / len(y))
    model.load_state(zero)
    start = A.flatten(model)
    found = A.critical_points(model, X, y, [start + 1e-3])
    assert len(found) == 1 and found[0]["kind"] == "saddle point" and found[0]["n_negative"] > 0
    # saddle-free Newton descends the negative curvature instead: to a minimum
    A.set_flat(model, start + 0.1 * np.random.default_rng(0).standard_normal(start.size))
    losses = A.saddle_free_newton(model, X, y, steps=60)
    spec = A.spectrum(model, X, y)
    assert losses[-1] < found[0]["loss"] - 0.5
    assert spec.grad_norm < 1e-8 and spec.n_negative == 0


def test_batch_size_sharpness_reports_each_run(digits):
    train, test = digits
    r = A.batch_size_sharpness(train, test, batch_sizes=(8, 150), epochs=(2, 10), hidden=(8,))
    assert len(r["sharpness"]) == 2 and all(s > 0 for s in r["sharpness"])
    model = fg.mlp([64, 8, 10], dtype=np.float64)
    A.set_flat(model, r["theta"][0])
    assert model.error(*test) == r["test_error"][0]


def test_batch_size_sharpness_stops_each_run_at_the_target_loss(digits):
    train, test = digits
    r = A.batch_size_sharpness(train, test, batch_sizes=(8, 150), epochs=(40, 1000),
                               hidden=(8,), lr=0.5, target_loss=0.3)  # fmt: skip
    assert r["reached_target"] == [True, True]
    assert all(0.2 < loss <= 0.3 for loss in r["train_loss"])
    assert r["steps"][0] < 40 * 19 and r["steps"][1] < 1000
    model = fg.mlp([64, 8, 10], dtype=np.float64)
    A.set_flat(model, r["theta"][1])
    assert model.loss_value(*train) == r["train_loss"][1]
    short = A.batch_size_sharpness(train, test, batch_sizes=(150,), epochs=2, hidden=(8,),
                                   target_loss=1e-6)  # fmt: skip
    assert short["reached_target"] == [False] and short["epochs"] == [2]
