"""Bias and variance of the predicted probabilities against the L2 strength.

Retrain on bootstrap resamples of the training set; the expected squared error of the
predicted probabilities splits exactly into squared bias and variance::

    E_D ||f_D(x) - e(y)||^2 = ||f_bar(x) - e(y)||^2 + E_D ||f_D(x) - f_bar(x)||^2,

f_bar(x) = E_D f_D(x), averaged over test points. A stronger penalty lambda Omega(theta)
trades variance for bias.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import mlp
from ...optim import SGD
from ...training import train
from ..data import n_classes
from ..params import as_generator

__all__ = ["bias_variance"]


def bias_variance(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    l2_values: Sequence[float] = (0.0, 1e-3, 1e-2, 1e-1),
    n_boot: int = 8,
    hidden: Sequence[int] = (32,),
    activation: str = "tanh",
    epochs: int = 30,
    batch_size: int = 16,
    lr: float = 0.05,
    reseed: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """Squared bias and variance of the predicted probabilities against the L2 strength lambda.

    For each lambda, ``n_boot`` networks (same initialisation) are trained on bootstrap
    resamples D_b of the training set; with f_b(x) their probabilities on test point x,
    f_bar = mean_b f_b and e(y) the one-hot label::

        bias^2   = mean_x ||f_bar(x) - e(y)||^2
        variance = mean_x mean_b ||f_b(x) - f_bar(x)||^2

    and their sum is the mean squared error mean_x mean_b ||f_b(x) - e(y)||^2 exactly.
    ``reseed``: each retraining also starts from a fresh random initialisation (the variance
    then covers everything that changes from one training run to the next); otherwise all
    start from the same theta_0 and only the training set varies.
    """
    X, y = train_data
    Xt, yt = test_data
    C = n_classes(y, yt)
    E = np.eye(C)[np.asarray(yt)]
    rng = as_generator(seed)
    boots = [rng.integers(0, len(X), len(X)) for _ in range(n_boot)]
    out: dict[str, Any] = {
        "l2": [float(v) for v in l2_values],
        "bias2": [],
        "variance": [],
        "mse": [],
        "test_error": [],
        "ensemble_test_error": [],
    }
    for lam in l2_values:
        probs, errs = [], []
        for b, idx in enumerate(boots):
            init_seed = seed + b if reseed else seed
            model = mlp([X.shape[1], *hidden, C], activation, l2=lam, seed=init_seed)
            opt = SGD(model.parameters, lr=lr, momentum=0.9)
            train(
                model,
                (X[idx], y[idx]),
                epochs=epochs,
                batch_size=batch_size,
                optimizer=opt,
                seed=seed + b,
                progress=False,
            )
            probs.append(model.predict_proba(Xt).astype(np.float64))
            errs.append(model.error(Xt, yt))
        P = np.stack(probs)  # (B, N, C)
        f_bar = P.mean(axis=0)
        out["bias2"].append(float(np.mean(np.sum((f_bar - E) ** 2, axis=1))))
        out["variance"].append(float(np.mean(np.sum((P - f_bar) ** 2, axis=2))))
        out["mse"].append(float(np.mean(np.sum((P - E) ** 2, axis=2))))
        out["test_error"].append(float(np.mean(errs)))
        out["ensemble_test_error"].append(float(np.mean(f_bar.argmax(axis=1) != yt)))
    return out
