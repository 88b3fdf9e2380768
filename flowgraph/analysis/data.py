"""Data for the experiments: flowgraph.datasets when it is installed, synthetic otherwise.

Digits are 8 x 8 images with pixel values 0 .. 16, scaled here to [0, 1] (X / 16), so that an
adversarial perturbation eps is a fraction of the pixel range.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .params import AnalysisError

__all__ = ["load", "synthetic_digits", "synthetic_blobs", "split"]


def synthetic_digits(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Ten classes of noisy 8 x 8 images in [0, 1] (a stand-in when the digits are missing):
    each class is a random smooth prototype; each example its prototype plus noise."""
    rng = np.random.default_rng(seed)
    protos = rng.random((10, 8, 8))
    k = np.array([0.25, 0.5, 0.25])
    for _ in range(2):  # smooth: strokes rather than salt and pepper
        protos = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 1, protos)
        protos = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 2, protos)
    protos = (protos - protos.min(axis=(1, 2), keepdims=True)) / np.ptp(
        protos, axis=(1, 2), keepdims=True
    )
    y = rng.integers(0, 10, n)
    X = protos[y].reshape(n, 64) + 0.35 * rng.standard_normal((n, 64))
    return np.clip(X, 0, 1), y


def synthetic_blobs(
    n: int = 200, seed: int = 0, n_classes: int = 3, dim: int = 2, noise: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: class c centred on a point of the unit circle (dim 2) or at random."""
    rng = np.random.default_rng(seed)
    if dim == 2:
        ang = 2 * np.pi * np.arange(n_classes) / n_classes
        centres = 2 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    else:
        centres = 2 * rng.standard_normal((n_classes, dim))
    y = rng.integers(0, n_classes, n)
    return centres[y] + noise * rng.standard_normal((n, dim)), y


def _from_datasets(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, dict] | None:
    try:
        from .. import datasets  # written alongside; optional here
    except ImportError:
        return None
    get = getattr(datasets, "get_dataset", None)
    if get is None:
        return None
    X, y, info = get(name, seed=seed)
    info = dict(info) if isinstance(info, dict) else {}
    return np.asarray(X, dtype=np.float64), np.asarray(y).astype(np.int64), info


def load(name: str = "digits", *, seed: int = 0, n: int | None = None) -> dict[str, Any]:
    """(X, y) of a dataset as a dict with ``X``, ``y``, ``image_shape`` (or None), ``source``.

    ``digits``: flowgraph.datasets' digits scaled to [0, 1], or, if that module is absent,
    ``synthetic_digits``. ``blobs`` and any other name known to flowgraph.datasets work too
    (``blobs`` falls back to ``synthetic_blobs``). ``n`` keeps a random subset of n examples.
    """
    got = _from_datasets(name, seed)
    if got is not None:
        X, y, info = got
        if name == "digits" and X.max() > 1.0:
            X = X / 16.0
        source = f"flowgraph.datasets:{name}"
    elif name == "digits":
        X, y = synthetic_digits(1797, seed)
        source = "synthetic digits (flowgraph.datasets not available)"
    elif name == "blobs":
        X, y = synthetic_blobs(300, seed)
        source = "synthetic blobs (flowgraph.datasets not available)"
    else:
        raise AnalysisError(
            f"unknown dataset {name!r} (flowgraph.datasets is not available; use digits or blobs)"
        )
    if n is not None and n < len(X):
        idx = np.random.default_rng(seed).permutation(len(X))[:n]
        X, y = X[idx], y[idx]
    image_shape = (8, 8) if X.shape[1] == 64 else None
    return {"X": X, "y": y, "image_shape": image_shape, "source": source, "name": name}


def split(
    X: np.ndarray, y: np.ndarray, n_train: int, n_test: int | None = None, *, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """A random training set of n_train examples and a test set of the next n_test (default:
    all the rest)."""
    if n_train >= len(X):
        raise AnalysisError(f"n_train = {n_train} leaves no test data out of {len(X)} examples")
    idx = np.random.default_rng(seed).permutation(len(X))
    tr = idx[:n_train]
    te = idx[n_train:] if n_test is None else idx[n_train : n_train + n_test]
    return (X[tr], y[tr]), (X[te], y[te])
