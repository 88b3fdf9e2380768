"""Adversarial examples: imperceptible changes of the input that change the prediction.

Szegedy et al. (ICLR 2014, "Intriguing properties of neural networks") found that a tiny,
carefully chosen perturbation makes a correctly classified image badly classified. The fast
gradient sign method (Goodfellow, Shlens, Szegedy, ICLR 2015) chooses it in one step from the
gradient of the loss with respect to the input, which the engine gives like any other
gradient: ``graph.bprop(wrt=[model.x])`` leaves d loss / d x in ``model.x.grad``:

    x_adv = x + eps * sign(grad_x l(f(x; theta), y))

(each pixel moved by eps in the direction that increases the loss the fastest, to first order).

For a model with a ``preprocessing``, X is given raw (as to ``model.predict``), and the
gradient, eps and the clipping range are those of the graph's input space x' (for the digits
scaled by 1/16, pixels in [0, 1]): x is mapped to x' once, perturbed there, and ``fgsm``
gives the perturbed inputs back in raw units (``Preprocessing.inverse_transform``), ready
for ``model.predict``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..model import Model
from .params import AnalysisError, as_generator

__all__ = ["input_gradient", "fgsm", "accuracy_vs_eps"]


def _data(model: Model, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """x' (the graph's input: X after the model's preprocessing, applied here once, by
    ``Model.as_feed``, which also checks the arrays) and y."""
    y = np.asarray(y)
    feed = model.as_feed((X, y), what="adversarial")
    X = np.ascontiguousarray(feed[model.x], dtype=model.dtype)
    if y.shape != (len(X),):
        raise AnalysisError(f"y must have shape ({len(X)},), got {y.shape}")
    return X, np.asarray(feed[model.y]).astype(np.int64)


def _gradient(model: Model, Xp: np.ndarray, y: np.ndarray) -> np.ndarray:
    graph = model.train_graph
    graph.fprop({model.x: Xp, model.y: y})
    graph.bprop(wrt=[model.x])
    return np.asarray(model.x.grad, dtype=np.float64) * len(Xp)


def _perturb(model: Model, Xp, y, eps: float, clip) -> np.ndarray:
    """x' + eps sign(grad_x' l), clipped, in the graph's input space."""
    if eps < 0:
        raise AnalysisError(f"eps must be >= 0, got {eps}")
    X_adv = Xp.astype(np.float64) + eps * np.sign(_gradient(model, Xp, y))
    if clip is not None:
        X_adv = np.clip(X_adv, clip[0], clip[1])
    return X_adv.astype(model.dtype)


def input_gradient(model: Model, X: Any, y: Any) -> np.ndarray:
    """grad_x l(f(x_t; theta), y_t) for every row x_t of X, shape (N, D), from one bprop.

    The training graph's loss is the mean 1/N sum_t l_t, whose gradient at x_t is (1/N)
    grad_x l_t; the returned rows are multiplied by N to give each example's own gradient.
    The gradient is with respect to the graph's Input x, that is x' for a model with a
    preprocessing (X raw, preprocessed once here).
    """
    return _gradient(model, *_data(model, X, y))


def fgsm(
    model: Model,
    X: Any,
    y: Any,
    eps: float,
    *,
    clip: tuple[float, float] | None = (0.0, 1.0),
) -> np.ndarray:
    """The fast gradient sign perturbation x + eps sign(grad_x l), clipped to ``clip``
    (the valid pixel range; None: no clipping). With a model's preprocessing, the step and
    ``clip`` are taken in x' and the result is given back raw, like X."""
    Xp, y = _data(model, X, y)
    X_adv = _perturb(model, Xp, y, eps, clip)
    if model.preprocessing is not None:
        X_adv = model.preprocessing.inverse_transform(X_adv).astype(model.dtype, copy=False)
    return X_adv


def accuracy_vs_eps(
    model: Model,
    X: Any,
    y: Any,
    eps_values: Any,
    *,
    clip: tuple[float, float] | None = (0.0, 1.0),
    seed: int | np.random.Generator = 0,
) -> dict[str, list[float]]:
    """Test accuracy under FGSM perturbations of size eps, and, as a control, under random
    sign perturbations x + eps s, s uniform in {-1, +1}^D, of the same size."""
    rng = as_generator(seed)
    X, y = _data(model, X, y)  # x', once: everything below is in the graph's input space

    def error(Xp: np.ndarray) -> float:  # on x' as it is: the preprocessing is not applied again
        return model.error(model.as_feed((Xp, y), what="accuracy_vs_eps", preprocess=False))

    out: dict[str, list[float]] = {"eps": [], "accuracy_fgsm": [], "accuracy_random": []}
    signs = rng.choice([-1.0, 1.0], size=X.shape)
    for eps in np.asarray(eps_values, dtype=float):
        X_adv = _perturb(model, X, y, float(eps), clip)
        X_rnd = X + eps * signs
        if clip is not None:
            X_rnd = np.clip(X_rnd, clip[0], clip[1])
        out["eps"].append(float(eps))
        out["accuracy_fgsm"].append(1.0 - error(X_adv))
        out["accuracy_random"].append(1.0 - error(X_rnd))
    return out
