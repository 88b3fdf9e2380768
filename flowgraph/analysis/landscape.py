"""The loss landscape: lines and planes through parameter space, and its symmetries.

Goodfellow, Vinyals and Saxe (ICLR 2015, "Qualitatively characterizing neural network
optimization problems") evaluate the loss along the straight line from the initialisation
theta_0 to the solution theta_1,

    theta(alpha) = (1 - alpha) theta_0 + alpha theta_1,

and find it decreases smoothly and monotonically: no local minima or barriers on the way.
``slice_2d`` evaluates the loss on a plane theta + alpha d_1 + beta d_2 through a solution,
along two random directions normalised unit by unit ("filter normalisation": each unit's
incoming weights rescaled to the norm of that unit's weights in theta, so the picture does not
depend on each layer's scale; Li, Xu, Taylor, Studer, Goldstein, NeurIPS 2018).

``loss_rise`` measures flatness without a Hessian: the mean increase of the loss at a fixed
distance r from a solution along random directions, ~ r^2 tr(H) / (2P) for small r.

``permute_hidden`` shows why there is no single global optimum: permuting the hidden units of
a layer (the rows of W(k) and b(k) and the columns of W(k+1)) gives the same function
f(x; theta) — the hidden unit parameters are not identifiable.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..model import Model
from .params import AnalysisError, as_generator, flatten, set_flat, unflatten

__all__ = ["interpolate", "random_direction", "loss_rise", "slice_2d", "permute_hidden"]


def _evaluate(model: Model, X: Any, y: Any) -> tuple[float, float]:
    loss = model.loss_value(X, y)
    return loss, model.error(X, y)


def interpolate(
    model: Model,
    theta_a: Any,
    theta_b: Any,
    X: Any,
    y: Any,
    steps: int = 25,
    *,
    span: tuple[float, float] = (0.0, 1.0),
    valid: tuple[Any, Any] | None = None,
) -> dict[str, list[float]]:
    """Loss and error along theta(alpha) = (1 - alpha) theta_a + alpha theta_b.

    ``steps`` values of alpha evenly spaced over ``span`` (e.g. (-0.5, 1.5) to look past both
    ends). Returns ``alpha``, ``loss`` (the regularised training loss on X, y) and ``error``,
    and ``valid_loss``, ``valid_error`` on ``valid = (X, y)`` when given (Goodfellow et al.
    2015). The model's parameters are restored afterwards.
    """
    theta_a, theta_b = flatten_like(model, theta_a), flatten_like(model, theta_b)
    if steps < 2:
        raise AnalysisError(f"steps must be >= 2, got {steps}")
    alphas = np.linspace(span[0], span[1], int(steps))
    out: dict[str, list[float]] = {"alpha": alphas.tolist(), "loss": [], "error": []}
    if valid is not None:
        out["valid_loss"], out["valid_error"] = [], []
    saved = flatten(model)
    try:
        for a in alphas:
            set_flat(model, (1 - a) * theta_a + a * theta_b)
            loss, err = _evaluate(model, X, y)
            out["loss"].append(loss)
            out["error"].append(err)
            if valid is not None:
                vl, ve = _evaluate(model, *valid)
                out["valid_loss"].append(vl)
                out["valid_error"].append(ve)
    finally:
        set_flat(model, saved)
    return out


def flatten_like(model: Model, theta: Any) -> np.ndarray:
    """theta as a float64 vector of the model's size (a state dict is flattened)."""
    if isinstance(theta, dict):
        theta = np.concatenate([np.ravel(theta[p.name]) for p in model.parameters])
    theta = np.asarray(theta, dtype=np.float64)
    n = sum(p.value.size for p in model.parameters)
    if theta.shape != (n,):
        raise AnalysisError(f"a parameter vector of this model has shape ({n},), got {theta.shape}")
    return theta


def random_direction(
    model: Model,
    seed: int | np.random.Generator = 0,
    *,
    theta: Any = None,
    normalise: str | None = "filter",
) -> np.ndarray:
    """A random direction d in parameter space, d ~ N(0, I), as a vector like ``flatten``.

    ``normalise="filter"``: each row i of each weight matrix (unit i's incoming weights) is
    rescaled to ||d_i|| = ||W_i|| in theta (default: the model's current parameters) and the
    biases' entries are set to 0 (Li et al. 2018); ``"layer"``: each whole matrix rescaled to
    ||W(k)||_F; ``None``: unnormalised.
    """
    rng = as_generator(seed)
    theta = flatten(model) if theta is None else flatten_like(model, theta)
    state = unflatten(model, theta)
    parts = []
    for p in model.parameters:
        W = state[p.name].astype(np.float64)
        d = rng.standard_normal(W.shape)
        if normalise == "filter":
            if W.ndim == 2:
                d *= np.linalg.norm(W, axis=1, keepdims=True) / np.linalg.norm(
                    d, axis=1, keepdims=True
                )
            else:
                d[:] = 0.0
        elif normalise == "layer":
            if W.ndim == 2:
                d *= np.linalg.norm(W) / np.linalg.norm(d)
            else:
                d[:] = 0.0
        elif normalise is not None:
            raise AnalysisError(f"unknown normalise={normalise!r}; choose 'filter', 'layer', None")
        parts.append(d.ravel())
    return np.concatenate(parts)


def loss_rise(
    model: Model,
    X: Any,
    y: Any,
    radii: Sequence[float],
    *,
    n_directions: int = 10,
    normalise: str | None = None,
    seed: int | np.random.Generator = 0,
) -> dict[str, Any]:
    """The loss increase l(theta + r d) - l(theta) along random directions d, at each radius r.

    ``normalise=None``: d is uniform on the unit sphere (||d|| = 1), so r is the Euclidean
    distance moved and, for small r, the mean rise is r^2 tr(H) / (2P): the mean curvature.
    ``"filter"`` or ``"layer"``: d from :func:`random_direction` scaled unit by unit (or layer
    by layer) to the weights, so r is a relative size (Li et al. 2018). The same
    ``n_directions`` directions serve every radius. Returns ``radius``, ``mean`` and ``std``
    (over the directions) of the rise, and ``loss`` at theta. theta is the model's current
    parameters, restored afterwards.
    """
    if n_directions < 1:
        raise AnalysisError(f"n_directions must be >= 1, got {n_directions}")
    rng = as_generator(seed)
    theta = flatten(model)
    base = model.loss_value(X, y)
    dirs = []
    for _ in range(int(n_directions)):
        d = random_direction(model, rng, theta=theta, normalise=normalise)
        dirs.append(d / np.linalg.norm(d) if normalise is None else d)
    rise = np.zeros((len(radii), len(dirs)))
    try:
        for i, r in enumerate(radii):
            for j, d in enumerate(dirs):
                set_flat(model, theta + float(r) * d)
                rise[i, j] = model.loss_value(X, y) - base
    finally:
        set_flat(model, theta)
    return {
        "radius": [float(r) for r in radii],
        "mean": rise.mean(axis=1).tolist(),
        "std": rise.std(axis=1).tolist(),
        "loss": float(base),
    }


def slice_2d(
    model: Model,
    X: Any,
    y: Any,
    d1: Any,
    d2: Any,
    *,
    theta: Any = None,
    span: float = 1.0,
    steps: int = 21,
) -> dict[str, Any]:
    """The loss and error on the plane theta + alpha d1 + beta d2, alpha, beta in [-span, span].

    Returns ``alpha``, ``beta`` (each ``steps`` values) and ``loss``, ``error`` as nested lists
    indexed [i_beta][i_alpha]. theta defaults to the model's current parameters, which are
    restored afterwards.
    """
    theta = flatten(model) if theta is None else flatten_like(model, theta)
    d1, d2 = flatten_like(model, d1), flatten_like(model, d2)
    grid = np.linspace(-span, span, int(steps))
    loss = np.zeros((len(grid), len(grid)))
    err = np.zeros_like(loss)
    saved = flatten(model)
    try:
        for i, b in enumerate(grid):
            for j, a in enumerate(grid):
                set_flat(model, theta + a * d1 + b * d2)
                loss[i, j], err[i, j] = _evaluate(model, X, y)
    finally:
        set_flat(model, saved)
    return {
        "alpha": grid.tolist(),
        "beta": grid.tolist(),
        "loss": loss.tolist(),
        "error": err.tolist(),
    }


def permute_hidden(
    model: Model, layer: int, perm: Sequence[int] | np.ndarray, *, inplace: bool = True
) -> dict[str, np.ndarray]:
    """Permute the hidden units of layer k = ``layer`` (1 .. L): unit i becomes unit perm[i].

    New parameters W'(k) = W(k)[perm], b'(k) = b(k)[perm], W'(k+1) = W(k+1)[:, perm]: the
    same function f(x; theta') = f(x; theta) with different parameters. Returns the new state;
    ``inplace`` (default) also loads it into the model.
    """
    n_layers = sum(1 for p in model.parameters if p.name.startswith("W"))
    if not (1 <= int(layer) <= n_layers - 1):
        raise AnalysisError(
            f"layer must be a hidden layer, 1 .. {n_layers - 1} for this model, got {layer}"
        )
    k = int(layer)
    state = model.state()
    names = (f"W{k}", f"b{k}", f"W{k + 1}")
    if any(n not in state for n in names):
        raise AnalysisError(f"permute_hidden needs parameters named {names} (an mlp Model)")
    width = state[f"W{k}"].shape[0]
    perm = np.asarray(perm)  # type: ignore[assignment]
    if perm.shape != (width,) or not np.array_equal(np.sort(perm), np.arange(width)):
        raise AnalysisError(
            f"perm must be a permutation of 0 .. {width - 1} (layer {k} has "
            f"{width} hidden units), got {perm.tolist()}"
        )
    state[f"W{k}"] = state[f"W{k}"][perm]
    state[f"b{k}"] = state[f"b{k}"][perm]
    state[f"W{k + 1}"] = state[f"W{k + 1}"][:, perm]
    if inplace:
        model.load_state(state)
    return state
