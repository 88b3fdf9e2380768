"""Data for training: the shipped handwritten digits, MNIST from IDX files, 2-D toy sets,
made-up words for character-level models, a user's own CSV or NPZ file (:func:`from_file`),
and the train / validation / test protocol.

    >>> from flowgraph import datasets
    >>> X, y = datasets.load_digits()
    >>> (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = datasets.split(X, y, seed=0)
    >>> X_tr, X_va, X_te, stats = datasets.standardize(X_tr, X_va, X_te)
    >>> X_tr.shape, X_va.shape, X_te.shape
    ((1257, 64), (270, 64), (270, 64))

Every random thing takes ``seed``: a non-negative int or a ``numpy.random.Generator``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .base import (
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    IDXFormatError,
    Seed,
    as_rng,
    check_int,
)
from .digits import DIGITS_SHAPE, load_digits
from .files import MAX_FILE_BYTES, from_file, is_data_file, parse_csv
from .mnist import (
    MNIST_FILES,
    MNIST_MIRRORS,
    MNIST_SHA256,
    default_data_dir,
    download_mnist,
    fetch,
    load_mnist,
    read_idx,
)
from .split import Standardizer, split, standardize
from .toy import make_blobs, make_circles, make_moons, make_spirals, make_xor
from .words import ALPHABET, char_contexts, make_words

__all__ = [
    "DATASETS",
    "get_dataset",
    "from_file",
    "is_data_file",
    "parse_csv",
    "MAX_FILE_BYTES",
    "load_digits",
    "load_mnist",
    "download_mnist",
    "read_idx",
    "fetch",
    "default_data_dir",
    "make_moons",
    "make_circles",
    "make_spirals",
    "make_xor",
    "make_blobs",
    "make_words",
    "char_contexts",
    "ALPHABET",
    "split",
    "standardize",
    "Standardizer",
    "DatasetError",
    "DatasetNotFoundError",
    "IDXFormatError",
    "DownloadError",
    "DIGITS_SHAPE",
    "MNIST_FILES",
    "MNIST_MIRRORS",
    "MNIST_SHA256",
]

# the names get_dataset knows, in the order a --help message lists them
DATASETS = ("digits", "moons", "circles", "spirals", "xor", "blobs", "mnist")

_TOY = {
    "moons": (make_moons, "two interleaving half circles"),
    "circles": (make_circles, "two concentric circles"),
    "spirals": (make_spirals, "two interleaved spiral arms"),
    "xor": (make_xor, "the XOR problem: opposite quadrants share a class"),
    "blobs": (make_blobs, "three Gaussian blobs"),
}
_DIGITS_SOURCE = (
    "E. Alpaydin and C. Kaynak (1998), Optical Recognition of Handwritten Digits, "
    "UCI Machine Learning Repository, https://doi.org/10.24432/C50P49 (CC BY 4.0)"
)
_MNIST_SOURCE = "Y. LeCun, C. Cortes and C. J. C. Burges, The MNIST database of handwritten digits"


def _subset(n_total: int, n_samples: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n_samples`` examples drawn without replacement (all when None)."""
    if n_samples is None:
        return np.arange(n_total)
    n = check_int("n_samples", n_samples, minimum=1)
    if n > n_total:
        raise DatasetError(f"n_samples={n} exceeds the {n_total} examples available")
    return np.sort(rng.permutation(n_total)[:n])


def get_dataset(
    name: str,
    *,
    data_dir: str | os.PathLike | None = None,
    seed: Seed = 0,
    n_samples: int | None = None,
    noise: float | None = None,
    download: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The data set called ``name`` (one of :data:`DATASETS`) as ``(X, y, info)``.

    X is (N, D) float (float64, float32 for MNIST; raw units: digits are pixel counts 0..16,
    MNIST pixels are in [0, 1]), y is (N,) int64 in [0, C). ``info`` is a JSON-ready dict:
    ``name``, ``n_samples``, ``n_features``, ``n_classes``, ``image_shape`` ([8, 8], [28, 28],
    or None for 2-D sets), ``test_start`` (MNIST: rows ``X[test_start:]`` are its official
    test set; None for the others), ``description`` and ``source``.

    ``n_samples`` sets the size of a 2-D set (default: its function's default) or draws that
    many examples (in file order) from digits or MNIST -- MNIST keeps its 6 : 1 ratio of
    training to test examples. ``seed`` makes both reproducible. ``data_dir`` is the directory
    of the MNIST files (default ``default_data_dir() / "mnist"``), fetched there first when
    ``download`` is true; other sets ignore both. ``noise`` (2-D sets only) is the standard
    deviation of the Gaussian noise added to the points (default: the function's).
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    rng = as_rng(seed)
    image_shape: list[int] | None = None
    test_start: int | None = None
    if key in _TOY:
        make, description = _TOY[key]
        kwargs: dict[str, Any] = {} if n_samples is None else {"n_samples": n_samples}
        if noise is not None:
            kwargs["noise"] = noise
        X, y = make(**kwargs, seed=rng)
        source = f"flowgraph.datasets.{make.__name__}"
        n_classes = int(y.max()) + 1
    elif noise is not None:
        raise DatasetError(f"noise is for the 2-D sets ({', '.join(_TOY)}); {key} has none")
    elif key == "digits":
        X, y = load_digits()
        keep = _subset(len(y), n_samples, rng)
        X, y = X[keep], y[keep]
        image_shape, n_classes = list(DIGITS_SHAPE), 10
        description, source = "8x8 handwritten digits", _DIGITS_SOURCE
    else:
        (X_tr, y_tr), (X_te, y_te) = load_mnist(data_dir, download=download)
        if n_samples is not None:
            n = check_int("n_samples", n_samples, minimum=1)
            n_train = min(len(y_tr), int(round(n * len(y_tr) / (len(y_tr) + len(y_te)))))
            keep_tr = _subset(len(y_tr), n_train, rng) if n_train else np.arange(0)
            keep_te = _subset(len(y_te), n - n_train, rng) if n > n_train else np.arange(0)
            X_tr, y_tr, X_te, y_te = X_tr[keep_tr], y_tr[keep_tr], X_te[keep_te], y_te[keep_te]
        X, y = np.concatenate([X_tr, X_te]), np.concatenate([y_tr, y_te])
        side = int(round(np.sqrt(X.shape[1])))
        image_shape = [side, side] if side * side == X.shape[1] else None
        test_start, n_classes = len(y_tr), 10
        description, source = "28x28 handwritten digits", _MNIST_SOURCE
    info = {
        "name": key,
        "n_samples": int(len(y)),
        "n_features": int(X.shape[1]),
        "n_classes": n_classes,
        "image_shape": image_shape,
        "test_start": test_start,
        "description": description,
        "source": source,
    }
    return X, y, info
