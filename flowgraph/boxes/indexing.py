"""Indexing boxes: ``x[...]`` with constant indices, gathers with indices that are nodes
(an embedding lookup ``C[ctx]``), ``take_along_axis`` and one-hot codes.

A gather reads some elements of x, possibly several times; its bprop scatters the gradient
back, summing over repeated indices (the chain rule's sum over the copies):

    y = x[index]                 grad_x[i] = sum over positions p with index(p) = i of grad_y[p]

The sum is a sparse matrix product for rows of a table (an embedding lookup; SciPy when
installed) and one ``np.bincount`` over flat positions otherwise, both faster than
``np.add.at`` (benchmarks/array_ops.py measures them against it and PyTorch).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ..core.box import Box, NoGradient
from ..errors import LabelError, ShapeError


@functools.cache
def _sparse() -> Any:
    """SciPy's sparse matrices (the optional ``fast`` extra), or None."""
    try:
        import scipy.sparse
    except ImportError:
        return None
    return scipy.sparse


def scatter_rows(grad: np.ndarray, idx: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The gradient of a table of ``shape`` whose rows ``idx`` (any shape of integers, already
    in [0, shape[0])) were read: ``grad`` (idx.shape + shape[1:]) summed into those rows.

    As a product: grad_table = S grad_rows with S the (V, M) matrix of ones at (idx[m], m),
    sparse (SciPy, when installed: one pass over the rows) or, without SciPy, one
    ``np.bincount`` over flat positions."""
    flat = np.ravel(idx)
    grad = np.asarray(grad)
    rows = grad.reshape(flat.size, -1)
    n, width = shape[0], rows.shape[1]
    sparse = _sparse()
    if sparse is not None and flat.size:
        work = np.float32 if grad.dtype == np.float16 else grad.dtype  # (no float16 in SciPy)
        ones = np.ones(flat.size, dtype=work)
        S = sparse.csr_matrix((ones, (flat, np.arange(flat.size))), shape=(n, flat.size))
        return np.asarray(S @ rows.astype(work, copy=False), dtype=grad.dtype).reshape(shape)
    positions = (flat[:, None] * width + np.arange(width)).ravel()
    return scatter_positions(rows.ravel(), positions, shape)


def scatter_positions(grad: np.ndarray, positions: np.ndarray, shape: tuple[int, ...]) -> Any:
    """The gradient of an array of ``shape`` whose flat positions ``positions`` (the shape of
    ``grad``) were read: ``grad`` summed into those positions (np.bincount)."""
    size = int(np.prod(shape, dtype=np.int64))
    flat = np.bincount(np.ravel(positions), weights=np.ravel(grad), minlength=size)
    return flat.reshape(shape).astype(grad.dtype, copy=False)


def _encode(item: Any) -> Any:
    """One index item as JSON: int, null (np.newaxis), "..." , {"slice": [..]} or {"array": ..}."""
    if item is None or isinstance(item, int):
        return item
    if item is Ellipsis:
        return "..."
    if isinstance(item, slice):
        return {"slice": [item.start, item.stop, item.step]}
    return {"array": np.asarray(item).tolist()}


def _decode(item: Any) -> Any:
    if item == "...":
        return Ellipsis
    if isinstance(item, dict) and "slice" in item:
        return slice(*item["slice"])
    if isinstance(item, dict) and "array" in item:
        return np.asarray(item["array"], dtype=np.int64)
    return item


def _normalise(index: Any) -> tuple:
    """An index as a tuple of ints, slices, None, Ellipsis and integer arrays (boolean masks
    become the integer arrays of their True positions, as NumPy reads them)."""
    items = index if isinstance(index, tuple) else (index,)
    out: list[Any] = []
    for item in items:
        if isinstance(item, (bool, np.bool_)):
            raise ShapeError(f"GetItem: a single boolean is not an index, got {item!r}")
        if isinstance(item, (int, np.integer)):
            out.append(int(item))
        elif item is None or item is Ellipsis or isinstance(item, slice):
            out.append(item)
        else:
            arr = np.asarray(item)
            if arr.dtype == bool:
                out.extend(np.nonzero(arr))
            elif arr.dtype.kind in "iu":
                out.append(arr.astype(np.int64))
            else:
                raise ShapeError(
                    f"GetItem: an index must hold ints, slices, None, ... or integer arrays, "
                    f"got {type(item).__name__} of dtype {arr.dtype}"
                )
    return tuple(out)


class GetItem(Box):
    """``x[index]`` with a constant index, as NumPy: basic slicing (ints, slices, ``None``,
    ``...``) and integer-array indexing (a gather). Repeated indices read an element several
    times; the gradient sums over them.

    fprop:  y = x[index]
    bprop:  grad_x = zeros like x, with grad_y added at index (summed over repeats)
    """

    def __init__(self, index: Any):
        if isinstance(index, dict) and "items" in index:  # read back from a model file
            index = tuple(_decode(i) for i in index["items"])
        self.index = _normalise(index)
        self.advanced = any(isinstance(i, np.ndarray) for i in self.index)

    @classmethod
    def example(cls) -> GetItem:
        return cls((np.array([0, 2, 2, 1]), slice(None, None, -1)))

    def config(self) -> dict:
        return {"index": {"items": [_encode(i) for i in self.index]}}

    def fprop(self, x):
        try:
            return np.asarray(np.asarray(x)[self.index])
        except IndexError as e:
            raise ShapeError(
                f"GetItem: index {self.describe_index()} does not fit x of shape "
                f"{np.shape(x)}: {e}"
            ) from None

    def scatter(self, grad, shape):
        """``grad`` (y's shape) added into zeros of x's shape at the index."""
        grad = np.asarray(grad)
        if not self.advanced:  # basic indexing reads each element at most once
            out = np.zeros(shape, dtype=grad.dtype)
            out[self.index] = grad
            return out
        if len(self.index) == 1:  # x[idx]: rows of a table (an embedding lookup)
            return scatter_rows(grad, self.index[0] % max(shape[0], 1), shape)
        positions = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
        return scatter_positions(grad, positions[self.index], shape)

    def bprop(self, inputs, y, grad_y):
        return (self.scatter(grad_y, np.shape(inputs[0])),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x}[index] (linear)."""
        return np.asarray(tangents[0])[self.index]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} scattered back (linear in grad_y)."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 4)),)

    def describe_index(self) -> str:
        def one(i):
            if isinstance(i, slice):
                parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
                return ":".join(parts[:2] if i.step is None else parts)
            if isinstance(i, np.ndarray):
                return f"array{tuple(i.shape)}"
            return "None" if i is None else ("..." if i is Ellipsis else str(i))

        return "[" + ", ".join(one(i) for i in self.index) + "]"

    def __repr__(self) -> str:
        return f"GetItem({self.describe_index()})"


def _check_indices(box: str, idx: Any, n: int, axis: int, shape: tuple) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise ShapeError(f"{box}: indices must be integers, got dtype {idx.dtype}")
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = idx[(idx < -n) | (idx >= n)]
        raise ShapeError(
            f"{box}: index {bad.ravel()[:5].tolist()} out of range for axis {axis} of size "
            f"{n} (x of shape {shape})"
        )
    return idx


class Take(Box):
    """Elements along ``axis`` at integer indices that are a node (``np.take``,
    ``torch.index_select``): the embedding lookup ``C[ctx]`` is ``Take(0)(C, ctx)``.

    fprop:  y[..., p, ...] = x[..., idx[p], ...]    y: x.shape[:axis] + idx.shape + x.shape[axis+1:]
    bprop:  grad_x = grad_y summed into the rows idx (repeats add up); idx gets no gradient
    """

    arity = 2
    input_names = ("x", "indices")

    def __init__(self, axis: int = 0):
        self.axis = int(axis)

    @classmethod
    def example(cls) -> Take:
        return cls(axis=0)

    def config(self) -> dict:
        return {"axis": self.axis}

    def _axis(self, x) -> int:
        nd = np.ndim(x)
        if not -nd <= self.axis < nd:
            raise ShapeError(f"Take: axis={self.axis} does not exist for x of shape {np.shape(x)}")
        return self.axis % nd

    def fprop(self, x, idx):
        axis = self._axis(x)
        idx = _check_indices("Take", idx, np.shape(x)[axis], axis, np.shape(x))
        return np.take(x, idx, axis=axis)

    def bprop(self, inputs, y, grad_y):
        x, idx = inputs
        axis, shape = self._axis(x), np.shape(x)
        n = shape[axis]
        idx = np.asarray(idx) % max(n, 1)
        if axis == 0:
            return scatter_rows(np.asarray(grad_y), idx, shape), None
        g = np.moveaxis(np.asarray(grad_y), tuple(range(axis, axis + idx.ndim)),
                        tuple(range(idx.ndim)))
        moved = (n,) + shape[:axis] + shape[axis + 1:]
        return np.moveaxis(scatter_rows(g, idx, moved), 0, axis), None

    def fprop_kernel(self, inputs, out):
        """fprop for x and indices of these shapes and dtypes: the indices checked (in range)
        at every step as fprop checks them, then the same gather, into ``out``."""
        x, idx = inputs
        if out is None or type(idx) is not np.ndarray or out.dtype != np.asarray(x).dtype:
            return None
        axis = self._axis(x)
        n, shape, take = np.shape(x)[axis], np.shape(x), np.take
        lo, hi = np.minimum.reduce, np.maximum.reduce

        def take_kernel(x, idx):
            if idx.size and (lo(idx, axis=None) < -n or hi(idx, axis=None) >= n):
                _check_indices("Take", idx, n, axis, shape)  # raises, as fprop
            return take(x, idx, axis=axis, out=out, mode="wrap")  # (in range: no wrapping)

        return take_kernel

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """bprop's scatter of grad_y into the rows read, for axis 0 (the embedding)."""
        x, idx = inputs
        if self._axis(x) != 0 or type(idx) is not np.ndarray or type(grad_y) is not np.ndarray:
            return None
        shape, n = np.shape(x), max(np.shape(x)[0], 1)

        def take_bprop(inputs, y, grad_y):
            return scatter_rows(grad_y, inputs[1] % n, shape), None

        return take_bprop

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} taken at the same indices."""
        return np.take(tangents[0], inputs[1], axis=self._axis(inputs[0]))

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} scattered back."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return rng.standard_normal((5, 3)), np.array([[0, 4, 4], [2, 0, 4]])

    def __repr__(self) -> str:
        return f"Take(axis={self.axis})"


class TakeAlongAxis(Box):
    """``np.take_along_axis(x, indices, axis)`` (``torch.gather``): per row, the elements at
    the given positions (each example's score for its label: ``axis=1`` with (N, 1) indices).

    fprop:  y[i, p] = x[i, idx[i, p]]       (for axis=1; any axis and ndim)
    bprop:  grad_x = grad_y summed into the positions read; indices get no gradient
    """

    arity = 2
    input_names = ("x", "indices")

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    @classmethod
    def example(cls) -> TakeAlongAxis:
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": self.axis}

    def fprop(self, x, idx):
        nd = np.ndim(x)
        if not -nd <= self.axis < nd or np.ndim(idx) != nd:
            raise ShapeError(
                f"TakeAlongAxis: axis={self.axis} with indices of shape {np.shape(idx)} does "
                f"not fit x of shape {np.shape(x)} (indices need x's number of axes)"
            )
        idx = _check_indices("TakeAlongAxis", idx, np.shape(x)[self.axis], self.axis,
                             np.shape(x))
        try:
            return np.take_along_axis(np.asarray(x), idx, axis=self.axis)
        except (ValueError, IndexError) as e:
            raise ShapeError(f"TakeAlongAxis: {e} (x {np.shape(x)}, indices {idx.shape})") from None

    def bprop(self, inputs, y, grad_y):
        x, idx = inputs
        shape = np.shape(x)
        positions = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
        read = np.take_along_axis(positions, np.asarray(idx), axis=self.axis)
        return scatter_positions(np.asarray(grad_y), read, shape), None

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} taken along the axis at the same indices."""
        return np.take_along_axis(tangents[0], np.asarray(inputs[1]), axis=self.axis)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} scattered back."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), np.array([[0, 2], [1, 1], [2, 2], [0, 0]])

    def __repr__(self) -> str:
        return f"TakeAlongAxis(axis={self.axis})"


class OneHot(NoGradient, Box):
    """One-hot codes of integer labels (``torch.nn.functional.one_hot``), as floats: a
    non-differentiable input to the rest of the graph.

    fprop:  y[t, c] = 1 if labels[t] == c else 0        labels (...), y (..., C)
    bprop:  none (labels are integers)
    """

    input_names = ("labels",)

    def __init__(self, num_classes: int, dtype: str = "float64"):
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
                or num_classes < 1:
            raise ValueError(f"OneHot needs num_classes >= 1, got {num_classes!r}")
        self.num_classes, self.dtype = int(num_classes), np.dtype(dtype).name

    @classmethod
    def example(cls) -> OneHot:
        return cls(4)

    def config(self) -> dict:
        return {"num_classes": self.num_classes, "dtype": self.dtype}

    def fprop(self, labels):
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise LabelError(f"OneHot: labels must be integers, got dtype {labels.dtype}")
        if labels.size and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = labels[(labels < 0) | (labels >= self.num_classes)]
            raise LabelError(
                f"OneHot: labels must lie in [0, {self.num_classes}), found "
                f"{bad.ravel()[:5].tolist()}"
            )
        return np.eye(self.num_classes, dtype=self.dtype)[labels]

    def sample_inputs(self, rng):
        return (rng.integers(0, 4, size=5),)

    def __repr__(self) -> str:
        return f"OneHot({self.num_classes})"
