"""Plain SGD folded into Linear's weight-gradient product (opt-in, :meth:`StepPlan.fold`):
W <- W - alpha grad_a^T h as one BLAS gemm with beta = 1, in place."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core.rank1 import Outer

__all__ = ["fold_sgd_update"]


@functools.cache
def _blas_gemm(dtype_char: str) -> Any:
    """SciPy's BLAS ``sgemm``/``dgemm`` (the ``fast`` extra), or None without SciPy."""
    try:
        from scipy.linalg import blas
    except ImportError:
        return None
    return {"f": blas.sgemm, "d": blas.dgemm}.get(dtype_char)


def fold_sgd_update(W: np.ndarray, alpha: float, grad_a: np.ndarray, h: np.ndarray) -> None:
    """W <- W - alpha grad_a^T h in place: Linear's grad_W = grad_a^T h and plain SGD's update
    in one product, ``gemm`` with beta = 1 writing into W (NumPy without SciPy). For one
    example the rank-1 update SGD makes of Linear's factors (BLAS ``ger``): the same bits as
    the unfolded step."""
    if grad_a.shape[0] == 1:
        Outer(grad_a[0], h[0]).subtract_from(W, alpha)
        return
    gemm = _blas_gemm(W.dtype.char) if W.flags.c_contiguous else None
    if gemm is not None and h.dtype == grad_a.dtype == W.dtype:
        # in Fortran order W^T (in, out) is W's memory: W^T <- W^T - alpha h^T grad_a
        c = gemm(-alpha, h.T, grad_a.T, beta=1.0, c=W.T, trans_b=1, overwrite_c=1)
        if c.base is not W and c is not W.T:  # BLAS worked on a copy (not for contiguous W)
            W[...] = c.T
        return
    W -= alpha * (grad_a.T @ h)
