"""The 1,797 handwritten digits of 8 x 8 pixels, shipped with the package (no network needed).

Source: the test set of "Optical Recognition of Handwritten Digits", E. Alpaydin and
C. Kaynak (1998), UCI Machine Learning Repository, https://doi.org/10.24432/C50P49,
licensed CC BY 4.0. 32 x 32 bitmaps of digits written by 13 people were divided into 4 x 4
blocks and the "on" pixels counted in each, so every pixel is an integer 0..16. The file
``data/digits.csv.gz`` is the copy distributed with scikit-learn, unchanged; see
``data/README.md``.
"""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from .base import DatasetError

__all__ = ["load_digits", "DIGITS_SHAPE"]

DIGITS_SHAPE = (8, 8)
_N, _D = 1797, 64


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The digits as ``(X, y)``: X of shape (1797, 64), float64 pixel counts in [0, 16]
    (row-major 8 x 8 images: ``X[t].reshape(8, 8)``), y of shape (1797,), int64 in 0..9.

    About 180 examples per class; the order is the file's. Scale X before training
    (X / 16, or :func:`flowgraph.datasets.standardize` fitted on the training part).
    """
    path = resources.files(__package__) / "data" / "digits.csv.gz"
    try:
        with path.open("rb") as raw, gzip.open(raw, "rt") as text:
            table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    except (OSError, EOFError, ValueError) as e:
        raise DatasetError(
            f"the digits file shipped with flowgraph ({path}) cannot be read ({e}); "
            "reinstall flowgraph"
        ) from e
    if table.shape != (_N, _D + 1) or table.min() < 0 or table[:, :_D].max() > 16:
        raise DatasetError(
            f"the digits file shipped with flowgraph ({path}) is damaged: expected {_N} rows of "
            f"{_D} pixels in 0..16 and a label, found shape {table.shape}; reinstall flowgraph"
        )
    X = np.ascontiguousarray(table[:, :_D])
    y = table[:, _D].astype(np.int64)
    return X, y
