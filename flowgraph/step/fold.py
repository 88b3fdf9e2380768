"""Plain SGD folded into Linear's weight-gradient product (opt-in, :meth:`StepPlan.fold`):
W <- W - alpha grad_a^T h as one BLAS gemm with beta = 1, in place."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core.node import Node, Parameter
from ..core.rank1 import Outer

__all__ = ["fold_sgd_update", "foldable_weights"]


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


def foldable_weights(plan: Any, optimizer: Any) -> list[Parameter]:
    """:meth:`StepPlan.fold <flowgraph.step.plan.StepPlan.fold>`: the weights of ``plan``
    whose update ``optimizer`` (plain SGD) may make during bprop, now recorded in both (the
    previous fold undone first; none for None or an optimiser that is not plain SGD)."""
    for opt in {id(o): o for o in plan.folded.values()}.values():
        opt.folded = set()  # the previous fold's optimiser updates every weight again
    plan.folded.clear()
    plan.folded_ids = frozenset()
    if optimizer is None or not getattr(optimizer, "foldable", lambda: False)():
        return []
    readers: dict[int, list[Node]] = {}
    for n in plan.nodes:
        for c in n.children:
            readers.setdefault(id(c), []).append(n)
    mine = {id(p) for p in optimizer.parameters}
    done = []
    for node, needs in plan.bplan:
        folds = getattr(node.box, "folds_weight_gradient", None)  # Linear's grad_W
        if folds is None or not folds() or not needs[1]:
            continue
        W = node.children[1]
        if id(W) in mine and isinstance(W, Parameter) and len(readers[id(W)]) == 1:
            if W is not node.children[0] and W is not node.children[2]:
                plan.folded[id(W)] = optimizer
                done.append(W)
    optimizer.folded = {id(W) for W in done}
    plan.folded_ids = frozenset(optimizer.folded)
    return done
