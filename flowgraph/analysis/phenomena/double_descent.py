"""Double descent: the test error against the hidden width, past the interpolation threshold.

Belkin, Hsu, Ma, Mandal (2018, "Reconciling modern machine learning practice and the
bias-variance trade-off"): sweeping the hidden width H past the interpolation threshold
(H ~ N training points) the test error rises to a peak, then falls again. As in their
random-feature experiments, the first layer stays at its random values and the output layer
is the minimum-norm least-squares fit of the one-hot targets, the limit of gradient descent
from zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import mlp
from ..data import n_classes

__all__ = ["double_descent"]


def double_descent(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    widths: Sequence[int],
    *,
    activation: str = "relu",
    repeats: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Training and test error against the hidden width H of a random-feature network.

    For each H: f(x) = softmax(W(2) h(1)(x) + b(2)) with h(1) = g(W(1) x + b(1)) at its random
    (Glorot) initialisation; [W(2), b(2)] is the minimum-norm solution of the least-squares
    problem min sum_t ||a(2)(x_t) - e(y_t)||^2 (``numpy.linalg.lstsq``), which interpolates
    the training set once H + 1 >= N. The features come from the engine's fprop; errors are
    averaged over ``repeats`` random first layers. Also returned: the test squared error and
    ||W(2)||_F (medians over the repeats), which peak at the threshold.
    """
    X, y = np.asarray(train_data[0], dtype=np.float64), np.asarray(train_data[1])
    Xt, yt = np.asarray(test_data[0], dtype=np.float64), np.asarray(test_data[1])
    C = n_classes(y, yt)
    T = np.eye(C)[y]
    out: dict[str, Any] = {
        "width": [int(w) for w in widths],
        "n_train": len(y),
        "train_error": [],
        "test_error": [],
        "test_mse": [],
        "weight_norm": [],
    }
    for H in widths:
        tr, te, mse, norm = [], [], [], []
        for r in range(repeats):
            model = mlp([X.shape[1], int(H), C], activation, dtype=np.float64, seed=seed + r)
            model.predict_graph.fprop({model.x: X})  # type: ignore[union-attr]  # (mlp: an output)
            Phi = np.hstack([model["h1"].value, np.ones((len(X), 1))])
            B = np.linalg.lstsq(Phi, T, rcond=None)[0]  # minimum-norm least squares
            W2, b2 = model["W2"], model["b2"]
            W2.value, b2.value = B[:-1].T.copy(), B[-1].copy()
            tr.append(model.error(X, y))
            te.append(model.error(Xt, yt))
            model.predict_graph.fprop({model.x: Xt})  # type: ignore[union-attr]
            a = model.logits.value
            mse.append(float(np.mean(np.sum((a - np.eye(C)[yt]) ** 2, axis=1))))
            norm.append(float(np.linalg.norm(W2.value)))
        out["train_error"].append(float(np.mean(tr)))
        out["test_error"].append(float(np.mean(te)))
        out["test_mse"].append(float(np.median(mse)))  # medians: one unlucky draw of
        out["weight_norm"].append(float(np.median(norm)))  # W(1) can dominate a mean
    return out
