"""Two helpers of the boxes that broadcast or mix dtypes, offered to the box files by
:mod:`flowgraph.core.box` (which they import): :func:`unbroadcast`, the chain rule's sum over
the copies NumPy's broadcasting made, and :func:`grad_like`, a gradient in its value's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["unbroadcast", "grad_like"]


def unbroadcast(grad: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """The gradient of a child of shape ``shape`` that NumPy broadcast to ``grad.shape``:
    ``grad`` summed over the leading axes the child lacks and over the axes where it has
    length 1 (each element was used once per copy; the chain rule sums over the copies).
    A float16 gradient is summed in float32 and rounded once, back to float16."""
    shape = tuple(shape)
    if np.shape(grad) == shape:
        return grad
    grad = np.asarray(grad)
    dtype = grad.dtype
    work = np.float32 if dtype == np.float16 else None
    lead = grad.ndim - len(shape)
    if lead:
        grad = np.add.reduce(grad, axis=tuple(range(lead)), dtype=work)
    ones = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if ones:
        grad = np.add.reduce(grad, axis=ones, keepdims=True, dtype=work)
    return grad.reshape(shape).astype(dtype, copy=False)


def grad_like(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A gradient (or a tangent) ``grad`` of x's shape in the dtype of x, the value it belongs
    to, when x is a float array: under mixed precision a float16 parameter meeting float64
    data gets a float16 gradient, the dtype of the value it updates. An integer or
    Python-number x (data, a constant) keeps the float array NumPy computed: rounding it to
    integers would be a wrong number."""
    dtype = getattr(x, "dtype", None)
    if dtype is None or dtype.kind != "f" or getattr(grad, "dtype", dtype) == dtype:
        return grad
    return np.asarray(grad).astype(dtype)
