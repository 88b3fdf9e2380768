"""Dividing a data set into training, validation and test parts, and standardising features.

The lecture's protocol: fit the parameters theta on the training set, choose the
hyper-parameters (lambda, alpha, delta, the number of hidden units, when to stop) on the
validation set, and report the error on the test set once. Anything fitted to data --
including the mean and the standard deviation used to standardise the inputs -- is fitted on
the training part only, then applied unchanged to the other two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .base import DatasetError, Seed, as_rng, check_float

__all__ = ["split", "standardize", "Standardizer"]

Part = tuple[np.ndarray, np.ndarray]


def _round(x: float) -> int:
    return int(math.floor(x + 0.5))


def _allocate(total: int, quotas: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Integers n_c <= caps_c summing to ``total``, each within one of quota_c where the caps
    allow: floors first, then the leftover units to the largest fractional parts (ties to the
    first class, so the result does not depend on the seed)."""
    counts = np.minimum(np.floor(quotas).astype(np.int64), caps)
    order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
    left = total - int(counts.sum())
    while left != 0:
        step = 1 if left > 0 else -1
        room = counts < caps if step > 0 else counts > 0
        takers = [c for c in (order if step > 0 else order[::-1]) if room[c]][: abs(left)]
        if not takers:  # unreachable when total <= caps.sum(): split() checks the sizes
            raise DatasetError(f"cannot place {total} examples in classes of sizes {caps}")
        counts[takers] += step
        left -= step * len(takers)
    return counts


def split(
    X: np.ndarray,
    y: np.ndarray,
    *,
    valid: float = 0.15,
    test: float = 0.15,
    seed: Seed = 0,
    stratify: bool = True,
) -> tuple[Part, Part, Part]:
    """Split ``(X, y)`` into ``((X_train, y_train), (X_valid, y_valid), (X_test, y_test))``.

    The test and validation parts hold round(test N) and round(valid N) of the N examples,
    the training part the rest; the three are disjoint and together hold every example once.
    With ``stratify`` each class c of size N_c contributes about test N_c and valid N_c
    examples (the totals stay exact; leftover units go to the classes with the largest
    fractional parts), so every part has the class proportions of the whole. Which examples
    go where, and the order of the rows in each part, are drawn from ``seed``.
    """
    X, y = np.asarray(X), np.asarray(y)
    if y.ndim != 1:
        raise DatasetError(f"y must be a 1-D array of labels, got shape {y.shape}")
    if X.ndim < 1 or len(X) != len(y):
        raise DatasetError(f"X and y must have the same length, got shapes {X.shape} and {y.shape}")
    valid = check_float("valid", valid, low=0.0, high=1.0, high_open=True)
    test = check_float("test", test, low=0.0, high=1.0, high_open=True)
    if valid + test >= 1.0:
        raise DatasetError(
            f"valid + test must be below 1 to leave a training part, got {valid + test:g}"
        )
    N = len(y)
    n_test, n_valid = _round(test * N), _round(valid * N)
    if N - n_test - n_valid < 1:
        raise DatasetError(
            f"{N} examples are too few: valid={valid:g} and test={test:g} take "
            f"{n_valid} + {n_test}, leaving no training example"
        )
    rng = as_rng(seed)
    if stratify:
        classes, inverse = np.unique(y, return_inverse=True)
        members = [np.flatnonzero(inverse == c) for c in range(len(classes))]
        sizes = np.array([len(m) for m in members], dtype=np.int64)
        n_test_c = _allocate(n_test, test * sizes, sizes)
        n_valid_c = _allocate(n_valid, valid * sizes, sizes - n_test_c)
        parts: list[list[np.ndarray]] = [[], [], []]
        for m, nt, nv in zip(members, n_test_c, n_valid_c):
            m = rng.permutation(m)
            parts[0].append(m[nt + nv :])
            parts[1].append(m[nt : nt + nv])
            parts[2].append(m[:nt])
        index = [rng.permutation(np.concatenate(p)) for p in parts]
    else:
        order = rng.permutation(N)
        index = [order[n_test + n_valid :], order[n_test : n_test + n_valid], order[:n_test]]
    train, val, tst = ((X[i], y[i]) for i in index)
    return train, val, tst


@dataclass(frozen=True, eq=False)
class Standardizer:
    """Per-feature standardisation z_j = (x_j - mu_j) / sigma_j, with mu and sigma fitted on
    the training set: mu_j = (1/T) sum_t x_tj, sigma_j = sqrt((1/T) sum_t (x_tj - mu_j)^2).

    A feature constant on the training set (sigma_j ~ 0, e.g. a pixel that is always blank) is
    only centred, sigma_j = 1, so nothing is divided by zero. ``to_dict``/``from_dict`` give
    plain lists for a JSON file, so a saved model can re-apply the same statistics.
    """

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Standardizer:
        """mu and sigma of each column of the training inputs X, of shape (T, D)."""
        X = _as_matrix(X, "X")
        if len(X) == 0:
            raise DatasetError("cannot fit a Standardizer on an empty training set")
        X64 = X.astype(np.float64)
        mean = X64.mean(axis=0)
        std = X64.std(axis=0)
        constant = std <= 1e-12 * np.maximum(1.0, np.abs(mean))
        return cls(mean, np.where(constant, 1.0, std))

    @property
    def n_features(self) -> int:
        return len(self.mean)

    def transform(self, X: np.ndarray, *, check_finite: bool = True) -> np.ndarray:
        """(X - mu) / sigma, in X's float dtype (float64 for integer X). ``check_finite=False``
        lets NaN and inf through, in place (for a caller that names them itself)."""
        X = self._check(X, finite=check_finite)
        dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
        return ((X - self.mean) / self.scale).astype(dtype, copy=False)

    def inverse_transform(self, Z: np.ndarray) -> np.ndarray:
        """mu + sigma Z: back to the original units."""
        Z = self._check(Z)
        dtype = Z.dtype if np.issubdtype(Z.dtype, np.floating) else np.dtype(np.float64)
        return (Z * self.scale + self.mean).astype(dtype, copy=False)

    def to_dict(self) -> dict[str, list[float]]:
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Standardizer:
        try:
            mean = np.asarray(d["mean"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (KeyError, TypeError, ValueError) as e:
            raise DatasetError(f"not a Standardizer description (keys mean, scale): {e}") from e
        if mean.ndim != 1 or mean.shape != scale.shape:
            raise DatasetError(
                f"mean and scale must be 1-D of equal length, got {mean.shape} and {scale.shape}"
            )
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
            raise DatasetError("mean must be finite and scale finite and positive")
        return cls(mean, scale)

    def _check(self, X: np.ndarray, *, finite: bool = True) -> np.ndarray:
        X = _as_matrix(X, "X", finite=finite)
        if X.shape[1] != self.n_features:
            raise DatasetError(
                f"X has {X.shape[1]} features, the Standardizer was fitted on {self.n_features}"
            )
        return X


def _as_matrix(X: np.ndarray, name: str, *, finite: bool = True) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise DatasetError(f"{name} must be a 2-D array (examples x features), got shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.number) and not np.iscomplexobj(X)):
        raise DatasetError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if finite and not np.all(np.isfinite(X)):
        raise DatasetError(f"{name} holds NaN or infinite values")
    return X


def standardize(train_X: np.ndarray, *others: np.ndarray) -> tuple[np.ndarray | Standardizer, ...]:
    """Fit a :class:`Standardizer` on ``train_X`` alone and apply it to it and to ``others``.

    Returns the transformed arrays in the order given, then the Standardizer::

        X_train, X_valid, X_test, stats = standardize(X_train, X_valid, X_test)
    """
    stats = Standardizer.fit(train_X)
    return (stats.transform(train_X), *(stats.transform(X) for X in others), stats)
