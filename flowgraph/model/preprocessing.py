"""The input pipeline, as an object saved with the model: what was done to the training inputs
is done again, with the same statistics, to every input the model predicts on.

    scale:        x' = c x                    (digits: c = 1/16, pixel counts 0..16 to [0, 1])
    standardize:  x'_j = (x_j - mu_j) / sigma_j, mu and sigma of the training part
    none:         x' = x

and, for training images only, shifted copies: each image moved by one pixel up, down, left
and right (a digit moved by a pixel is the same digit), so the training set grows fivefold.
The statistics are fitted on the training part alone: the validation and test parts must not
leak into the choice of theta.

A model owns its preprocessing: ``model.preprocessing = pre`` makes every method that takes
data (``predict``, ``predict_proba``, ``forward``, ``error``, ``loss_value``, ``evaluate``, and
``fg.train`` for the training and validation data) apply x -> x' to the Input x, once, and
``fg.save_model`` / ``fg.load_model`` keep it with the model. Shifted copies are not part of
it: :meth:`Preprocessing.augment` is for the raw training images, before training.

    >>> import numpy as np
    >>> pre = Preprocessing.fit(np.array([[0.0, 2.0], [2.0, 6.0]]), "standardize")
    >>> pre.transform(np.array([[1.0, 4.0]]))
    array([[0., 0.]])
    >>> Preprocessing.from_dict(pre.to_dict()) == pre
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..datasets import Standardizer
from ..errors import FlowgraphError

__all__ = ["Preprocessing", "PreprocessingError", "KINDS", "default_kind"]

KINDS = ("none", "scale", "standardize")


class PreprocessingError(FlowgraphError, ValueError):
    """A preprocessing described wrongly (an unknown kind, a bad factor, a malformed file)."""


def default_kind(dataset: str | None) -> str:
    """What ``kind="auto"`` means for a dataset: digits are scaled by 1/16, MNIST (already in
    [0, 1]) left alone, everything else standardised."""
    return {"digits": "scale", "mnist": "none"}.get((dataset or "").lower(), "standardize")


class Preprocessing:
    """The inputs' transformation x -> x' (see the module docstring), fitted on training data.

    ``kind`` is none, scale or standardize; ``factor`` is c of scale; ``standardizer`` holds mu
    and sigma; ``image_shape`` (rows, cols), when set, makes :meth:`augment` add the four
    one-pixel shifts of every training image. ``transform`` is what a model's ``predict``
    applies (when set as ``model.preprocessing``); ``augment`` is for training only.
    """

    def __init__(
        self,
        kind: str = "none",
        *,
        factor: float = 1.0,
        standardizer: Standardizer | None = None,
        image_shape: Sequence[int] | None = None,
    ):
        if kind not in KINDS:
            raise PreprocessingError(f"unknown preprocessing {kind!r}; choose one of {KINDS}")
        if kind == "scale" and not (np.isfinite(factor) and factor > 0):
            raise PreprocessingError(f"scale needs a finite factor > 0, got {factor!r}")
        if kind == "standardize" and not isinstance(standardizer, Standardizer):
            raise PreprocessingError("standardize needs the fitted Standardizer (mu, sigma)")
        if image_shape is not None:
            image_shape = tuple(int(s) for s in image_shape)
            if len(image_shape) != 2 or min(image_shape) < 1:
                raise PreprocessingError(f"image_shape must be (rows, cols), got {image_shape}")
        self.kind = kind
        self.factor = float(factor) if kind == "scale" else 1.0
        self.standardizer = standardizer if kind == "standardize" else None
        self.image_shape: tuple[int, int] | None = image_shape  # type: ignore[assignment]

    @classmethod
    def fit(
        cls,
        X_train: Any,
        kind: str = "auto",
        *,
        dataset: str | None = None,
        factor: float | None = None,
        image_shape: Sequence[int] | None = None,
    ) -> Preprocessing:
        """Fit on the training inputs ``X_train`` (T, D). ``kind="auto"``: see
        :func:`default_kind`. ``scale`` takes ``factor``, else 1/16 for digits, else
        1 / max |x|. ``image_shape`` turns on the shifted copies of :meth:`augment`."""
        X = np.asarray(X_train)
        if X.ndim != 2 or len(X) == 0:
            raise PreprocessingError(f"fit needs training inputs of shape (T, D), got {X.shape}")
        kind = default_kind(dataset) if kind == "auto" else kind
        if kind == "scale" and factor is None:
            top = 16.0 if (dataset or "").lower() == "digits" else float(np.abs(X).max()) or 1.0
            factor = 1.0 / top
        std = Standardizer.fit(X) if kind == "standardize" else None
        return cls(kind, factor=1.0 if factor is None else factor, standardizer=std,
                   image_shape=image_shape)  # fmt: skip

    # -- applying it ------------------------------------------------------------------------------
    def transform(self, X: Any, *, check_finite: bool = True) -> np.ndarray:
        """x' for every row of X, in X's float dtype (float64 for integer X).
        ``check_finite=False``: NaN and inf pass through in place (a Model names them)."""
        X = np.asarray(X)
        if self.kind == "none":
            return X
        if self.kind == "scale":
            dtype = X.dtype if np.issubdtype(X.dtype, np.floating) else np.dtype(np.float64)
            return (X * np.asarray(self.factor, dtype=dtype)).astype(dtype, copy=False)
        assert self.standardizer is not None
        return self.standardizer.transform(X, check_finite=check_finite)

    def inverse_transform(self, Xp: Any) -> np.ndarray:
        """x from x' (to rounding): x = x' / c for scale, mu + sigma x' for standardize."""
        Xp = np.asarray(Xp)
        if self.kind == "none":
            return Xp
        if self.kind == "scale":
            dtype = Xp.dtype if np.issubdtype(Xp.dtype, np.floating) else np.dtype(np.float64)
            return (Xp / np.asarray(self.factor, dtype=dtype)).astype(dtype, copy=False)
        assert self.standardizer is not None
        return self.standardizer.inverse_transform(Xp)

    def input_width(self) -> int | None:
        """The number of features D this preprocessing takes, where it says (None: any)."""
        if self.standardizer is not None:
            return self.standardizer.n_features
        if self.image_shape is not None:
            return self.image_shape[0] * self.image_shape[1]
        return None

    def augment(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """The training set with 4 more copies of each image moved by one pixel (blank pixels
        enter at the edge); unchanged without ``image_shape``. Applied to raw inputs, before
        :meth:`transform`."""
        X, y = np.asarray(X), np.asarray(y)
        if self.image_shape is None:
            return X, y
        rows, cols = self.image_shape
        if X.ndim != 2 or X.shape[1] != rows * cols:
            raise PreprocessingError(
                f"shifted copies need images of {rows} x {cols} = {rows * cols} pixels per row, "
                f"got inputs of shape {X.shape}"
            )
        imgs = X.reshape(len(X), rows, cols)
        copies = [imgs]
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            moved = np.zeros_like(imgs)
            moved[:, max(dr, 0) : rows + min(dr, 0), max(dc, 0) : cols + min(dc, 0)] = imgs[
                :, max(-dr, 0) : rows + min(-dr, 0), max(-dc, 0) : cols + min(-dc, 0)
            ]
            copies.append(moved)
        return np.concatenate(copies).reshape(-1, rows * cols), np.tile(y, len(copies))

    # -- files ------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"kind": ..., ...}`` (what a model file stores)."""
        d: dict[str, Any] = {"kind": self.kind}
        if self.kind == "scale":
            d["factor"] = self.factor
        if self.standardizer is not None:
            d.update(self.standardizer.to_dict())
        if self.image_shape is not None:
            d["image_shape"] = list(self.image_shape)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> Preprocessing:
        """The inverse of :meth:`to_dict`; a malformed description is a PreprocessingError."""
        if not isinstance(d, dict) or not isinstance(d.get("kind"), str):
            raise PreprocessingError(f"not a preprocessing description: {d!r:.80}")
        kind = d["kind"]
        try:
            std = Standardizer.from_dict(d) if kind == "standardize" else None
            factor = float(d["factor"]) if kind == "scale" else 1.0
        except (KeyError, TypeError, ValueError) as e:
            raise PreprocessingError(f"a malformed {kind} preprocessing: {e}") from None
        shape = d.get("image_shape")
        if shape is not None and not (
            isinstance(shape, list) and all(isinstance(s, int) for s in shape)
        ):
            raise PreprocessingError(f"image_shape must be two integers, got {shape!r}")
        return cls(kind, factor=factor, standardizer=std, image_shape=shape)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Preprocessing) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        extra = f", factor={self.factor:g}" if self.kind == "scale" else ""
        extra += f", image_shape={self.image_shape}" if self.image_shape else ""
        return f"Preprocessing({self.kind!r}{extra})"
