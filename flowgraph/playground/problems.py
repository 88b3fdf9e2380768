"""The playground's data: the 2-D sets of :mod:`flowgraph.datasets`, surfaces to regress, features.

Every set lives in the plane's square [-1.5, 1.5]^2 (``DOMAIN``): the classification sets of
``flowgraph.datasets`` are shifted and scaled to about [-1, 1]^2, with ``noise`` the standard
deviation in the plane's units. The regression surfaces t = s(x1, x2), with values in
[-1, 1], are sampled at points uniform in [-1, 1]^2 with Gaussian noise on t.

The input features phi(x) the network sees (the page's choice, in this order):
x1, x2, x1^2, x2^2, x1 x2, sin(pi x1), sin(pi x2).
"""

from __future__ import annotations

import math

import numpy as np

from .. import datasets
from .settings import Settings

__all__ = ["DOMAIN", "FEATURE_LABELS", "make_data", "features", "grid", "surface"]

DOMAIN = 1.5  # the plane shown is [-DOMAIN, DOMAIN]^2
FEATURE_LABELS = {
    "x1": "x₁",
    "x2": "x₂",
    "x1sq": "x₁²",
    "x2sq": "x₂²",
    "x1x2": "x₁x₂",
    "sinx1": "sin(πx₁)",
    "sinx2": "sin(πx₂)",
}

# (shift, scale) taking each flowgraph.datasets set to about [-1, 1]^2: x -> (x - shift) / scale
_PLACEMENT = {
    "moons": ((0.5, 0.25), 1.5),
    "circles": ((0.0, 0.0), 1.0),
    "spirals": ((0.0, 0.0), 1.0),
    "xor": ((0.0, 0.0), 1.0),
    "blobs": ((0.0, 0.0), 2.5),
}
_MAKERS = {
    "moons": datasets.make_moons,
    "circles": datasets.make_circles,
    "spirals": datasets.make_spirals,
    "xor": datasets.make_xor,
    "blobs": datasets.make_blobs,
}


def surface(name: str, X: np.ndarray) -> np.ndarray:
    """The regression target s(x1, x2) in [-1, 1] for each row of X, shape (N,).

    plane:  (x1 + x2) / 2
    bumps:  exp(-|x - c|^2 / 0.18) - exp(-|x + c|^2 / 0.18),  c = (0.45, 0.45)
    saddle: x1 x2
    waves:  sin(pi x1) cos(pi x2 / 2)
    """
    x1, x2 = X[:, 0], X[:, 1]
    if name == "plane":
        return (x1 + x2) / 2
    if name == "bumps":
        c = 0.45
        return np.exp(-((x1 - c) ** 2 + (x2 - c) ** 2) / 0.18) - np.exp(
            -((x1 + c) ** 2 + (x2 + c) ** 2) / 0.18
        )
    if name == "saddle":
        return x1 * x2
    if name == "waves":
        return np.sin(math.pi * x1) * np.cos(math.pi * x2 / 2)
    raise ValueError(f"unknown surface {name!r}")


def make_data(s: Settings) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The training and test parts ``(X, y)`` for settings ``s``, drawn from ``s.seed``.

    ``ratio`` percent of the ``n`` points (of an upload: its points) train, the rest test; the
    clicked ``points`` join the training part. Classification labels are int64 in [0, C); regression
    targets are float64 of shape (N, 1)."""
    rng = np.random.default_rng(s.seed)
    y: np.ndarray  # int64 labels or float64 targets
    if s.data:  # an uploaded CSV: its points, split as the generated ones are
        D = np.asarray(s.data, dtype=np.float64)
        X, y = D[:, :2], D[:, 2].astype(np.int64)
    elif s.problem == "classification":
        shift, scale = _PLACEMENT[s.dataset]
        X, y = _MAKERS[s.dataset](s.n, noise=s.noise * scale, seed=rng)
        X = (X - np.asarray(shift)) / scale
    else:
        X = rng.uniform(-1.0, 1.0, (s.n, 2))
        y = surface(s.dataset, X) + rng.normal(0.0, s.noise, s.n) * (s.noise > 0)
    n = len(X)
    order = rng.permutation(n)
    n_train = min(max(1, round(n * s.ratio / 100)), n - 1)
    tr, te = order[:n_train], order[n_train:]
    X_tr, y_tr, X_te, y_te = X[tr], y[tr], X[te], y[te]
    if s.points:
        P = np.asarray(s.points, dtype=np.float64)
        X_tr = np.concatenate([X_tr, P[:, :2]])
        y_tr = np.concatenate([y_tr, P[:, 2].astype(y_tr.dtype)])
    if s.problem == "regression":
        y_tr, y_te = y_tr.reshape(-1, 1), y_te.reshape(-1, 1)
    return (X_tr, y_tr), (X_te, y_te)


def features(X: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """phi(x): the chosen features of each row (x1, x2) of X, shape (N, len(names))."""
    x1, x2 = X[:, 0], X[:, 1]
    columns = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1sq": lambda: x1 * x1,
        "x2sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sinx1": lambda: np.sin(math.pi * x1),
        "sinx2": lambda: np.sin(math.pi * x2),
    }
    return np.column_stack([columns[n]() for n in names])


def grid(size: int) -> np.ndarray:
    """The centres of a size x size grid over the plane, row by row from the top (x2 = +D)
    down, x1 from left to right: shape (size * size, 2), as an image is laid out."""
    step = 2 * DOMAIN / size
    c = -DOMAIN + step * (np.arange(size) + 0.5)
    x1, x2 = np.meshgrid(c, c[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])
