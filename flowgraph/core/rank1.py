"""The one rank-1 fast path: a gradient u v^T kept as its two factors.

Training on one example at a time (N = 1), Linear's weight gradient grad_W = grad_a h^T is a
rank-1 matrix. Kept as its factors (an :class:`Outer`), SGD applies W <- W - alpha u v^T as one
in-place BLAS rank-1 update (``?ger``) instead of building the (m, n) array and reading it
back. Linear returns it from ``bprop_needed``; the Graph keeps it only as a Parameter's one
and only gradient (any sum materializes it); ``Parameter.grad`` builds the array on first read.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

__all__ = ["Outer"]


class Outer:
    """A rank-1 matrix u v^T kept as its two factors, u of shape (m,) and v of shape (n,).

    A fast path for one example at a time: Linear's grad_W = grad_a h^T is such a matrix, and
    SGD's update W <- W - alpha u v^T is then one BLAS rank-1 update in place (``?ger``), one
    pass over W instead of building the (m, n) gradient and reading it back. The Graph keeps
    an Outer only as a Parameter's gradient; ``Parameter.grad`` builds the array on first
    access, so nobody outside the Graph and the optimizer ever sees one.
    """

    __slots__ = ("u", "v")

    def __init__(self, u: np.ndarray, v: np.ndarray):
        self.u, self.v = u, v

    @property
    def shape(self) -> tuple[int, int]:
        return (self.u.shape[0], self.v.shape[0])

    def materialize(self, dtype: Any = None) -> np.ndarray:
        """The (m, n) array u v^T (in ``dtype``, default the factors' own)."""
        out = np.outer(self.u, self.v)
        return out if dtype is None else out.astype(dtype, copy=False)

    def subtract_from(self, W: np.ndarray, alpha: float) -> None:
        """W <- W - alpha u v^T, in place (with SciPy's BLAS ``sger``/``dger`` when present)."""
        ger = _blas_ger(W.dtype.char) if W.flags.c_contiguous else None
        if ger is None:
            W -= alpha * self.materialize()
            return
        a = W.T  # Fortran-ordered (n, m): BLAS updates it in place as a += -alpha v u^T
        out = ger(-alpha, self.v, self.u, a=a, overwrite_a=True)
        if out is not a:  # BLAS worked on a copy (never for float32/float64 contiguous W)
            W[...] = out.T


@functools.cache
def _blas_ger(dtype_char: str) -> Any:
    """SciPy's BLAS rank-1 update for a dtype (``'f'`` float32, ``'d'`` float64), or None."""
    try:
        from scipy.linalg import blas
    except ImportError:  # SciPy is optional: Outer.subtract_from falls back on NumPy
        return None
    return {"f": blas.sger, "d": blas.dger}.get(dtype_char)
