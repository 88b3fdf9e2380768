"""What several box families share: NumPy helpers, no box and no engine.

Broadcasting and dtypes: :func:`unbroadcast` (the chain rule's sum over the copies NumPy's
broadcasting made), :func:`grad_like` and :func:`grad_in` (a gradient in its value's dtype),
:func:`working` (the dtype a loss computes in). Labels and scores of the classification
losses: :func:`check_scores`, :func:`check_labels`, :func:`label_entries` (and
:func:`row_starts`, :func:`flat_labels`: the same entries as flat indices). The softmax:
:func:`softmax`, :func:`softmax_jvp`, :func:`log_softmax`.

A box file imports the core's Box, the errors and this module, nothing else
(``tests/boxes/test_box_files.py``): what two families need is written once, here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import LabelError, ShapeError

__all__ = [
    "unbroadcast", "grad_like", "grad_in", "working", "wide_float", "check_scores",
    "check_labels", "check_labels_ignoring", "label_entries", "row_starts", "flat_labels",
    "softmax", "softmax_jvp", "log_softmax",
]  # fmt: skip

_ndarray = np.ndarray


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


def check_labels(y: np.ndarray, n: int, n_classes: int, box: str) -> None:
    """Refuse labels ``y`` that are not N integers in [0, n_classes), naming ``box``."""
    array = isinstance(y, np.ndarray)
    dtype = y.dtype if array else np.asarray(y).dtype
    if dtype.kind not in "iu":  # signed or unsigned integers (np.issubdtype, but cheaper)
        raise LabelError(
            f"{box}: labels y must be integers in [0, {n_classes}), got dtype "
            f"{np.asarray(y).dtype} (convert with y.astype(int))"
        )
    if (y.shape != (n,)) if array else (np.ndim(y) != 1 or len(y) != n):
        raise ShapeError(f"{box}: labels y must have shape ({n},), got {np.shape(y)}")
    if not n:
        return
    if n == 1:  # one label: no reductions needed
        lo = hi = y[0]
    else:
        lo, hi = y.min(), y.max()
    if lo < 0 or hi >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)]
        raise LabelError(
            f"{box}: labels must lie in [0, {n_classes}) for {n_classes} classes; "
            f"found {bad[:5].tolist()}"
        )


def check_labels_ignoring(y, n: int, n_classes: int, box: str, ignore: int | None) -> None:
    """check_labels, but the label ``ignore`` (None: none) is allowed anywhere."""
    if ignore is None or np.asarray(y).dtype.kind not in "iu" or np.shape(y) != (n,):
        return check_labels(y, n, n_classes, box)
    bad = y[(y != ignore) & ((y < 0) | (y >= n_classes))]
    if bad.size:
        raise LabelError(
            f"{box}: labels must lie in [0, {n_classes}) for {n_classes} classes or be the "
            f"ignored label {ignore}; found {bad[:5].tolist()}"
        )


def label_entries(y: np.ndarray) -> tuple:
    """The entries (t, y_t), one per row t: ``a[label_entries(y)]`` is each example's score
    for its label. One example (per-example SGD) gets plain integers: no fancy indexing."""
    if len(y) == 1:
        return 0, int(y[0])
    return np.arange(len(y)), y


def row_starts(n: int, n_classes: int) -> np.ndarray:
    """t C for each row t of n rows of C scores: + y_t, the flat index of entry (t, y_t)."""
    return np.arange(n, dtype=np.intp) * n_classes


def flat_labels(starts: np.ndarray, y: np.ndarray) -> np.ndarray:
    """t C + y_t as intp, for labels already checked in range (so the cast is exact: uint64
    labels plus intp starts would make float64, and take wants intp at NumPy 1.23)."""
    return np.add(starts, y, dtype=np.intp, casting="unsafe")


def check_scores(a: np.ndarray, box: str, what: str) -> None:
    """Refuse scores ``a`` (``what``, for the message) that are not of shape (N, C)."""
    if np.ndim(a) != 2:
        raise ShapeError(f"{box}: {what} must have shape (N, C), got {np.shape(a)}")


def working(*xs: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """(the dtype a loss computes in, the dtype it returns) for inputs ``xs``: it returns the
    promoted float dtype of its inputs (NumPy rules; integers make float64) and computes in
    it, but float16 in float32: a float16 sum of N terms overflows past 65,504 and N itself is
    inf in float16 from N = 65,520 (the mean was then 0 or NaN), so the sum and the 1/N are
    taken in float32 and the result rounded once."""
    dtype = getattr(xs[0], "dtype", None)
    if len(xs) == 1 and dtype is not None and dtype.kind == "f" and dtype.itemsize >= 4:
        return dtype, dtype  # float32, float64: the per-example fast path
    out = np.result_type(*(np.asarray(x).dtype for x in xs))
    if out.kind != "f":
        out = np.dtype(np.float64)
    return np.promote_types(out, np.float32), out


def wide_float(x: object) -> bool:
    """x is a plain float32 or float64 (or wider) array: ``working(x)`` is (x.dtype, x.dtype),
    so a loss computes in x's own dtype and needs neither cast nor ``grad_in``."""
    return type(x) is _ndarray and x.dtype.kind == "f" and x.dtype.itemsize >= 4


def grad_in(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A gradient as the gradient of input x: in x's dtype when x is a float array (float16
    logits get a float16 gradient, computed in float32), else as computed."""
    dtype = np.asarray(x).dtype
    return g.astype(dtype, copy=False) if dtype.kind == "f" else g


def softmax(a: np.ndarray, axis: int | tuple[int, ...] = -1,
            out: np.ndarray | None = None) -> np.ndarray:
    """softmax(a)_c = exp(a_c) / sum_c' exp(a_c') along ``axis`` (row-wise by default), stable:
    the maximum along the axis is subtracted first (written into ``out`` when given, an array
    of a's shape and dtype). ``axis`` may be a tuple of axes. Integers are computed in the
    float dtype ``np.exp`` would give them."""
    if a.dtype.kind != "f":
        a = np.asarray(a, dtype=np.result_type(a, np.float16))
    # the ufuncs' reduce: a.max and a.sum, without the methods' Python-level wrappers
    e = np.subtract(a, np.maximum.reduce(a, axis=axis, keepdims=True), out=out)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=axis, keepdims=True)
    return e


def softmax_jvp(f: np.ndarray, Ra: np.ndarray, axis: int = -1) -> np.ndarray:
    """R{f} for f = softmax(a) along ``axis``: (diag(f) - f f^T) R{a} = f ⊙ (R{a} - <f, R{a}>)."""
    return f * (Ra - (f * Ra).sum(axis=axis, keepdims=True))


def log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise log softmax(a)_c = a_c - m - log sum_c' exp(a_c' - m), m the row maximum:
    never the log of an underflowed probability."""
    shifted = a - np.maximum.reduce(a, axis=-1, keepdims=True)
    return shifted - np.log(np.add.reduce(np.exp(shifted), axis=-1, keepdims=True))
