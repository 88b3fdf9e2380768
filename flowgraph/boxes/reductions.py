"""Reductions over axes as NumPy spells them: max and min (``x.max(axis, keepdims)``),
logsumexp and log_softmax (stable at |a| = 1e4), the variance, and argmax/argmin as values.

Ties in max and min: the gradient goes to ONE element, the first in C order among the equal
maxima (as ``np.argmax`` picks it); the finite-difference checker samples away from ties as
it does from kinks. (PyTorch's ``amax`` splits it evenly; ``torch.max(dim)`` also picks one.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.box import Box, NoGradient
from ..errors import ShapeError
from .common import softmax

Axis = int | Sequence[int] | None


def reduced_axes(box: str, axis: Axis, ndim: int, shape: tuple) -> tuple[int, ...]:
    """``axis`` (None, an int or ints) as a sorted tuple of non-negative axes of an array of
    ``ndim`` axes; an axis that does not exist is a ShapeError naming the box and the shape."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= int(a) < ndim:
            raise ShapeError(f"{box}: axis={a} does not exist for an array of shape {shape}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ShapeError(f"{box}: axis {axis} repeats an axis")
    return tuple(sorted(out))


def _axis_config(axis: Axis) -> int | list[int] | None:
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return [int(a) for a in axis]


def expand(g: np.ndarray, axes: tuple[int, ...], keepdims: bool) -> np.ndarray:
    """A reduced array ``g`` with the reduced ``axes`` put back as length-1 axes."""
    return np.asarray(g) if keepdims else np.expand_dims(g, axes)


class AxisReduction:
    """What reductions share (a mixin, not a box): ``axis`` (None: every axis) and NumPy's
    ``keepdims``, their config, and the reduced axes of an input."""

    def __init__(self, axis: Axis = None, keepdims: bool = False):
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(int(a) for a in axis)
        self.keepdims = bool(keepdims)

    @classmethod
    def example(cls):
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": _axis_config(self.axis), "keepdims": self.keepdims}

    def axes(self, x) -> tuple[int, ...]:
        return reduced_axes(type(self).__name__, self.axis, np.ndim(x), np.shape(x))

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 4)),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis!r}, keepdims={self.keepdims!r})"


def winner_mask(x: np.ndarray, axes: tuple[int, ...], pick) -> np.ndarray:
    """A boolean mask of x's shape with one True per reduced slice: the element ``pick``
    (np.argmax or np.argmin) chooses over ``axes`` (the first in C order among ties)."""
    x = np.asarray(x)
    keep = [i for i in range(x.ndim) if i not in axes]
    order = keep + list(axes)
    moved = np.transpose(x, order)
    flat = moved.reshape(moved.shape[: len(keep)] + (-1,))
    mask = np.zeros(flat.shape, dtype=bool)
    np.put_along_axis(mask, pick(flat, axis=-1)[..., None], True, axis=-1)
    return np.transpose(mask.reshape(moved.shape), np.argsort(order))


class Max(AxisReduction, Box):
    """The largest element over ``axis``, as ``np.max`` / ``x.max(axis, keepdims)``.

    fprop:  y = max_{i in axis} x_i
    bprop:  grad_x = grad_y at the maximum of each slice (one element on ties), 0 elsewhere
    """

    _pick = staticmethod(np.argmax)  # (private: autodoc would show NumPy's docstrings)
    _reduce = staticmethod(np.max)

    def fprop(self, x):
        axes = self.axes(x)
        if np.size(x) == 0:
            raise ShapeError(f"{type(self).__name__}: x of shape {np.shape(x)} is empty")
        return np.asarray(self._reduce(x, axis=axes, keepdims=self.keepdims))

    def bprop(self, inputs, y, grad_y):
        x = inputs[0]
        axes = self.axes(x)
        mask = winner_mask(x, axes, self._pick)
        return (np.where(mask, expand(grad_y, axes, self.keepdims), 0).astype(grad_y.dtype),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} at the maximum of each slice."""
        x = inputs[0]
        axes = self.axes(x)
        mask = winner_mask(x, axes, self._pick)
        return np.sum(np.where(mask, tangents[0], 0), axis=axes, keepdims=self.keepdims)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} at the maximum (the mask does not move)."""
        return self.bprop(inputs, y, R_grad_y)


class Min(Max):
    """The smallest element over ``axis``, as ``np.min`` / ``x.min(axis, keepdims)``.

    fprop:  y = min_{i in axis} x_i
    bprop:  grad_x = grad_y at the minimum of each slice (one element on ties), 0 elsewhere
    """

    _pick = staticmethod(np.argmin)
    _reduce = staticmethod(np.min)


class LogSumExp(AxisReduction, Box):
    """log sum exp over ``axis``, stable (the maximum is subtracted first), as
    ``scipy.special.logsumexp`` / ``torch.logsumexp``.

    fprop:  y = m + log sum_i exp(x_i - m),   m = max_i x_i
    bprop:  grad_x = softmax(x) grad_y       (softmax over the reduced axes)
    """

    def fprop(self, x):
        axes = self.axes(x)
        m = np.max(x, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        y = m + np.log(np.sum(np.exp(x - m), axis=axes, keepdims=True))
        return np.asarray(y if self.keepdims else np.squeeze(y, axis=axes))

    def bprop(self, inputs, y, grad_y):
        x = inputs[0]
        axes = self.axes(x)
        return (softmax(x, axes) * expand(grad_y, axes, self.keepdims),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = <softmax(x), R{x}> over the reduced axes."""
        axes = self.axes(inputs[0])
        p = softmax(inputs[0], axes)
        return np.sum(p * tangents[0], axis=axes, keepdims=self.keepdims)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{p} grad_y + p R{grad_y},  R{p} = p (R{x} - <p, R{x}>)."""
        x, Rx = inputs[0], tangents[0]
        axes = self.axes(x)
        p = softmax(x, axes)
        Rp = p * (Rx - np.sum(p * Rx, axis=axes, keepdims=True))
        g, Rg = expand(grad_y, axes, self.keepdims), expand(R_grad_y, axes, self.keepdims)
        return (Rp * g + p * Rg,)


class LogSoftmax(Box):
    """log softmax over ``axis`` (default the last), stable at |a| = 1e4 (never log of an
    underflowed probability), as ``torch.log_softmax`` / ``scipy.special.log_softmax``.

    fprop:  y = a - logsumexp(a)              same shape as a
    bprop:  grad_a = grad_y - softmax(a) sum(grad_y)     (sums over the axis)
    """

    input_names = ("a",)

    def __init__(self, axis: int = -1):
        self.axis = int(axis)

    @classmethod
    def example(cls) -> LogSoftmax:
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": self.axis}

    def _axes(self, a) -> tuple[int, ...]:
        return reduced_axes("LogSoftmax", self.axis, np.ndim(a), np.shape(a))

    def fprop(self, a):
        axes = self._axes(a)
        shifted = a - np.max(a, axis=axes, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))

    def bprop(self, inputs, y, grad_y):
        axes = self._axes(inputs[0])
        return (grad_y - np.exp(y) * np.sum(grad_y, axis=axes, keepdims=True),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{a} - <softmax(a), R{a}>."""
        axes = self._axes(inputs[0])
        Ra = tangents[0]
        return Ra - np.sum(np.exp(y) * Ra, axis=axes, keepdims=True)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_a} = R{grad_y} - R{p} s - p R{s},  p = exp(y), R{p} = p R{y}, s = sum grad_y."""
        axes = self._axes(inputs[0])
        p = np.exp(y)
        s = np.sum(grad_y, axis=axes, keepdims=True)
        Rs = np.sum(R_grad_y, axis=axes, keepdims=True)
        return (R_grad_y - p * Ry * s - p * Rs,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 4)),)

    def __repr__(self) -> str:
        return f"LogSoftmax(axis={self.axis})"


class Var(AxisReduction, Box):
    """The variance over ``axis``, as ``np.var(x, axis, ddof=ddof)`` (NumPy's default ddof=0;
    ``torch.var`` defaults to the unbiased ddof=1: pass ``ddof=1``).

    fprop:  y = 1/(n - ddof) sum_i (x_i - mean(x))^2        n elements per slice
    bprop:  grad_x = 2 (x - mean(x)) / (n - ddof) grad_y
    """

    def __init__(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0):
        super().__init__(axis, keepdims)
        self.ddof = int(ddof)

    def config(self) -> dict:
        return {**super().config(), "ddof": self.ddof}

    def _n(self, x, axes) -> int:
        n = int(np.prod([np.shape(x)[a] for a in axes], dtype=np.int64))
        if n - self.ddof <= 0:
            raise ShapeError(f"Var: {n} elements per slice with ddof={self.ddof} (x {np.shape(x)})")
        return n

    def fprop(self, x):
        axes = self.axes(x)
        self._n(x, axes)
        return np.asarray(np.var(x, axis=axes, ddof=self.ddof, keepdims=self.keepdims))

    def bprop(self, inputs, y, grad_y):
        x = inputs[0]
        axes = self.axes(x)
        d = x - np.mean(x, axis=axes, keepdims=True)
        return (2 * d / (self._n(x, axes) - self.ddof) * expand(grad_y, axes, self.keepdims),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = 2/(n - ddof) sum_i (x_i - mean(x)) R{x_i}."""
        x = inputs[0]
        axes = self.axes(x)
        d = x - np.mean(x, axis=axes, keepdims=True)
        k = 2 / (self._n(x, axes) - self.ddof)
        return k * np.sum(d * tangents[0], axis=axes, keepdims=self.keepdims)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = 2/(n - ddof) [(R{x} - mean(R{x})) grad_y + (x - mean(x)) R{grad_y}]."""
        x, Rx = inputs[0], tangents[0]
        axes = self.axes(x)
        k = 2 / (self._n(x, axes) - self.ddof)
        d = x - np.mean(x, axis=axes, keepdims=True)
        Rd = Rx - np.mean(Rx, axis=axes, keepdims=True)
        g, Rg = expand(grad_y, axes, self.keepdims), expand(R_grad_y, axes, self.keepdims)
        return (k * (Rd * g + d * Rg),)

    def __repr__(self) -> str:
        return f"Var(axis={self.axis!r}, keepdims={self.keepdims!r}, ddof={self.ddof})"


class ArgMax(NoGradient, Box):
    """The index of the largest element along ``axis`` (None: of the flattened array), as
    ``np.argmax``: integers, a value without a gradient (a prediction, a mask's index).

    fprop:  y = argmax_{i} x_i
    bprop:  none (piecewise constant)
    """

    _pick = staticmethod(np.argmax)

    def __init__(self, axis: int | None = None, keepdims: bool = False):
        self.axis = None if axis is None else int(axis)
        self.keepdims = bool(keepdims)

    @classmethod
    def example(cls):
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": self.axis, "keepdims": self.keepdims}

    def fprop(self, x):
        if self.axis is not None:
            reduced_axes(type(self).__name__, self.axis, np.ndim(x), np.shape(x))
        if np.size(x) == 0:
            raise ShapeError(f"{type(self).__name__}: x of shape {np.shape(x)} is empty")
        return np.asarray(self._pick(x, axis=self.axis, keepdims=self.keepdims))

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 4)),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis!r})"


class ArgMin(ArgMax):
    """The index of the smallest element along ``axis``, as ``np.argmin``.

    fprop:  y = argmin_{i} x_i
    bprop:  none (piecewise constant)
    """

    _pick = staticmethod(np.argmin)


# -- the sums and means of the library, as np.sum and np.mean --------------------


def _check_axes(box: str, axis: int | tuple[int, ...] | None, x: np.ndarray) -> None:
    """Refuse an axis x does not have (or one named twice). np.sum accepts axis 0 (and -1) on
    a 0-d array, a sum that bprop then cannot spread back: every axis is checked here."""
    if axis is None:
        return
    shape = np.shape(x)
    ndim = len(shape)
    axes = (axis,) if isinstance(axis, int) else axis
    bad = [a for a in axes if not -ndim <= a < ndim]
    if bad and not ndim:
        raise ShapeError(
            f"{box}(axis={axis!r}): its input has shape () (0-d, a single number) and no "
            "axis to reduce; use axis=None"
        )
    if bad:
        raise ShapeError(
            f"{box}(axis={axis!r}): its input of shape {shape} has no axis {bad[0]} "
            f"(its axes are {-ndim} .. {ndim - 1})"
        )
    if len({a % ndim for a in axes}) != len(axes):
        raise ShapeError(f"{box}(axis={axis!r}) names an axis of its input twice")


def _axes(axis: int | Sequence[int] | None) -> int | tuple[int, ...] | None:
    """An axis argument as NumPy takes it; a list (read back from JSON) becomes a tuple.
    What no array has is refused at once: a non-integer axis, or one axis named twice."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer, float, str)) else tuple(axis)
    if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
        raise ValueError(f"axis must be None, an integer or integers, got {axis!r}")
    if len(set(axes)) != len(axes):
        raise ValueError(f"axis names an axis twice: {axis!r}")
    return int(axis) if isinstance(axis, (int, np.integer)) else tuple(int(a) for a in axes)


class Sum(Box):
    """Sum of the elements over ``axis`` (None: all of them), as ``np.sum``.

    fprop:  y = sum_{i in axis} x_i            x's shape without those axes (kept as 1 with
                                               keepdims); float16 is summed in float32 and
                                               rounded once, to float16
    bprop:  grad_x = grad_y copied along the summed axes (every x_i has slope 1)

    An axis the input lacks is a ShapeError at fprop (np.sum takes axis 0 of a 0-d array,
    whose sum bprop could not spread back).
    """

    def __init__(self, axis: int | Sequence[int] | None = None, keepdims: bool = False):
        self.axis, self.keepdims = _axes(axis), bool(keepdims)

    @classmethod
    def example(cls) -> Sum:
        return cls(axis=0)

    def config(self) -> dict:
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"axis": axis, "keepdims": self.keepdims}

    def _spread(self, grad_y, x):
        """grad_y broadcast back over the reduced axes of x (a fresh, writable array)."""
        if not self.keepdims and self.axis is not None:
            grad_y = np.expand_dims(grad_y, self.axis)
        return np.broadcast_to(grad_y, np.shape(x)).copy()

    def _reduce(self, reduction, x):
        """``reduction`` (np.sum or np.mean) over the box's axes, a float16 x accumulated in
        float32 (float16 sums of many terms lose every digit, or overflow) and returned in
        float16."""
        _check_axes(type(self).__name__, self.axis, x)
        x = np.asarray(x)
        if x.dtype != np.float16:
            return np.asarray(reduction(x, axis=self.axis, keepdims=self.keepdims))
        y = reduction(x, axis=self.axis, keepdims=self.keepdims, dtype=np.float32)
        return np.asarray(y, dtype=np.float16)

    def fprop(self, x):
        return self._reduce(np.sum, x)

    def bprop(self, inputs, y, grad_y):
        return (self._spread(grad_y, inputs[0]),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = the same reduction of R{x} (linear)."""
        return self.fprop(tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} spread back over the reduced axes."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(axis={self.axis!r}, keepdims={self.keepdims!r})"


class Mean(Sum):
    """Mean of the elements over ``axis`` (None: all of them), as ``np.mean``.

    fprop:  y = 1/n sum_{i in axis} x_i        n the number of elements averaged
    bprop:  grad_x = grad_y / n copied along the averaged axes

    float16 is summed and divided in float32 (n = 70,000 is inf in float16, and 1/n would
    be 0), and rounded once to float16.
    """

    def fprop(self, x):
        return self._reduce(np.mean, x)

    def bprop(self, inputs, y, grad_y):
        x = inputs[0]
        n = np.size(x) // max(np.size(y), 1)
        grad_y = np.asarray(grad_y)
        if grad_y.dtype == np.float16:
            return (self._spread((grad_y.astype(np.float32) / n).astype(np.float16), x),)
        return (self._spread(grad_y / n, x),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)
