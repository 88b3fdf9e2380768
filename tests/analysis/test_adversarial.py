"""flowgraph.analysis.adversarial: input gradients and the fast gradient sign method."""

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph.analysis import data as D


@pytest.fixture(scope="module")
def digits():
    d = D.load("digits")
    return D.split(d["X"], d["y"], 150, n_test=300, seed=0)


def test_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = fg.mlp([5, 4, 3], dtype=np.float64, seed=0)
    X, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    g = A.input_gradient(model, X, y)
    eps = 1e-6
    for t, j in [(0, 0), (3, 2), (5, 4)]:
        Xp, Xm = X.copy(), X.copy()
        Xp[t, j] += eps
        Xm[t, j] -= eps
        # each example's own loss l_t = N * (its share of the mean loss)
        fd = (model.loss_value(Xp, y) - model.loss_value(Xm, y)) * len(X) / (2 * eps)
        assert g[t, j] == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_fgsm_increases_the_loss_and_stays_in_range(digits):
    (X, y), (Xt, yt) = digits
    model = fg.mlp([64, 20, 10], seed=0)
    A.train_masked(model, None, (X, y), epochs=5, batch_size=16, lr=0.05)
    X_adv = A.fgsm(model, Xt, yt, 0.1)
    assert model.loss_value(X_adv, yt) > model.loss_value(Xt, yt) + 0.1
    assert X_adv.min() >= 0 and X_adv.max() <= 1
    assert np.abs(X_adv - Xt).max() <= 0.1 + 1e-6
    curve = A.accuracy_vs_eps(model, Xt, yt, [0.0, 0.1, 0.2])
    assert curve["accuracy_fgsm"][0] == pytest.approx(1 - model.error(Xt, yt))
    assert curve["accuracy_fgsm"][2] < curve["accuracy_fgsm"][1] < curve["accuracy_fgsm"][0]
    assert curve["accuracy_random"][2] > curve["accuracy_fgsm"][2]  # the direction matters
