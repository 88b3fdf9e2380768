"""Data for the experiments, from :mod:`flowgraph.datasets`, scaled for analysis.

Digits are 8 x 8 images with pixel values 0 .. 16, scaled here to [0, 1] (X / 16; MNIST is
already in [0, 1]), so that an adversarial perturbation eps is a fraction of the pixel range.
2-D sets (moons, blobs, ...) are used as they are.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..datasets import get_dataset
from .params import AnalysisError

__all__ = ["load", "split", "n_classes"]


def load(
    name: str = "digits",
    *,
    seed: int = 0,
    n: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """A dataset as a dict: ``X`` (float64, images scaled to [0, 1]), ``y``, ``image_shape``
    (or None), ``n_classes``, ``name`` and ``source``. ``n`` keeps a random subset of n
    examples (drawn with ``seed``)."""
    X, y, info = get_dataset(name, seed=seed, data_dir=data_dir)
    X = np.asarray(X, dtype=np.float64)
    if info.get("name") == "digits":
        X = X / 16.0
    y = np.asarray(y).astype(np.int64)
    if n is not None and n < len(X):
        idx = np.random.default_rng(seed).permutation(len(X))[:n]
        X, y = X[idx], y[idx]
    shape = info.get("image_shape")
    return {
        "X": X,
        "y": y,
        "image_shape": tuple(shape) if shape else None,
        "n_classes": int(info.get("n_classes", int(y.max()) + 1)),
        "name": info.get("name", name),
        "source": info.get("source", name),
    }


def split(
    X: np.ndarray, y: np.ndarray, n_train: int, n_test: int | None = None, *, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A random training set of ``n_train`` examples and a test set of the next ``n_test``
    (default: all the rest)."""
    if n_train >= len(X):
        raise AnalysisError(f"n_train = {n_train} leaves no test data out of {len(X)} examples")
    idx = np.random.default_rng(seed).permutation(len(X))
    tr = idx[:n_train]
    te = idx[n_train:] if n_test is None else idx[n_train : n_train + n_test]
    return (X[tr], y[tr]), (X[te], y[te])


def n_classes(*ys: Any) -> int:
    """C, the number of classes the label arrays ``ys`` use together: max label + 1."""
    return int(max(np.max(y) for y in ys)) + 1
