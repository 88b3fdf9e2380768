"""L1 sparsity: weights exactly 0 need the proximal step.

The lecture: L1 "pushes certain weights to be exactly 0", but only with a proximal
(soft-thresholding) step, W <- sign(W) max(|W| - alpha lambda, 0); plain subgradient steps
lambda sign(W) oscillate around 0 and never land on it. L2 shrinks weights without zeroing
any.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import MLP, mlp
from ...optim import SGD
from ...training import train
from ..data import n_classes

__all__ = ["l1_sparsity", "fraction_zero"]


def fraction_zero(model: MLP) -> float:
    """The fraction of weights (not biases) that are exactly 0."""
    total = sum(W.value.size for W in model.weights)
    return float(sum(np.count_nonzero(W.value == 0) for W in model.weights) / total)


def l1_sparsity(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    lambdas: Sequence[float] = (1e-4, 1e-3, 3e-3, 1e-2),
    hidden: Sequence[int] = (64,),
    activation: str = "tanh",
    epochs: int = 30,
    batch_size: int = 16,
    lr: float = 0.05,
    seed: int = 0,
) -> dict[str, Any]:
    """The fraction of weights exactly 0 and the test error, for each lambda, with three ways of
    regularising: "l1_subgradient" (lambda sum |W| in the loss, its gradient lambda sign(W) in
    the plain SGD step), "l1_proximal" (the same objective; after each gradient step on the
    data term, the proximal step W <- sign(W) max(|W| - alpha lambda, 0) of ``SGD(l1_prox=)``)
    and "l2" (lambda sum W^2). The weights of the largest lambda's models are returned too."""
    X, y = train_data
    C = n_classes(y, test_data[1])
    sizes = [X.shape[1], *hidden, C]
    methods = ("l1_subgradient", "l1_proximal", "l2")
    out: dict[str, Any] = {"lambda": [float(v) for v in lambdas]}
    for m in methods:
        out[m] = {"fraction_zero": [], "test_error": [], "weights": None}
    for lam in lambdas:
        for m in methods:
            if m == "l1_subgradient":
                model = mlp(sizes, activation, l1=lam, seed=seed)
                opt = SGD(model.parameters, lr=lr)
            elif m == "l1_proximal":
                model = mlp(sizes, activation, seed=seed)
                opt = SGD(model.parameters, lr=lr, l1_prox=lam, l1_params=model.weights)
            else:
                model = mlp(sizes, activation, l2=lam, seed=seed)
                opt = SGD(model.parameters, lr=lr)
            train(
                model,
                (X, y),
                epochs=epochs,
                batch_size=batch_size,
                optimizer=opt,
                seed=seed,
                progress=False,
            )
            out[m]["fraction_zero"].append(fraction_zero(model))
            out[m]["test_error"].append(model.error(*test_data))
            out[m]["weights"] = np.concatenate([W.value.ravel() for W in model.weights])
    return out
