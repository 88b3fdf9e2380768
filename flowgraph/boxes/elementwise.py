"""Element-wise boxes as NumPy spells them: maximum, minimum, where, clip, sin, cos, powers
with a node exponent, comparisons (masks without a gradient) and stop_gradient.

Children broadcast together as in NumPy; each gradient is summed back over the axes along
which its child was broadcast (``unbroadcast``).
"""

from __future__ import annotations

import operator

import numpy as np

from ..core.box import Box, NoGradient
from ..errors import ShapeError
from .common import grad_like, unbroadcast


def _back(grad, x):
    """``grad`` summed back to x's shape, in x's float dtype."""
    return grad_like(unbroadcast(grad, np.shape(x)), x)


def _broadcast(box: str, *xs) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(*(np.shape(x) for x in xs))
    except ValueError:
        raise ShapeError(
            f"{box} needs children whose shapes broadcast (NumPy rules), got "
            f"{[np.shape(x) for x in xs]}"
        ) from None


class Maximum(Box):
    """The element-wise larger of a and b, as ``np.maximum``.

    fprop:  y = max(a, b)                            broadcast shape
    bprop:  grad_a = grad_y where a >= b,  grad_b = grad_y where a < b (ties go to a)
    """

    arity = 2
    input_names = ("a", "b")
    compare = staticmethod(np.greater_equal)
    combine = staticmethod(np.maximum)

    def fprop(self, a, b):
        _broadcast(type(self).__name__, a, b)
        return np.asarray(self.combine(a, b))

    def _mask(self, a, b):
        return self.compare(a, b)

    def bprop(self, inputs, y, grad_y):
        a, b = inputs
        m = self._mask(a, b)
        return _back(np.where(m, grad_y, 0), a), _back(np.where(m, 0, grad_y), b)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{a} where a wins, R{b} elsewhere."""
        a, b = inputs
        Ry = np.where(self._mask(a, b), *tangents)
        return np.broadcast_to(Ry, np.shape(y)).astype(np.result_type(y), copy=True)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """The same selection of R{grad_y} (the mask does not move)."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal(3)


class Minimum(Maximum):
    """The element-wise smaller of a and b, as ``np.minimum`` (ties go to a).

    fprop:  y = min(a, b)
    bprop:  grad_a = grad_y where a <= b,  grad_b = grad_y where a > b
    """

    compare = staticmethod(np.less_equal)
    combine = staticmethod(np.minimum)


class Where(Box):
    """``np.where(cond, a, b)``: a where the condition holds, b elsewhere. The condition (a
    mask, e.g. from a comparison) gets no gradient.

    fprop:  y = cond ? a : b                          broadcast shape
    bprop:  grad_a = grad_y where cond,  grad_b = grad_y where not cond
    """

    arity = 3
    input_names = ("cond", "a", "b")

    def fprop(self, cond, a, b):
        _broadcast("Where", cond, a, b)
        return np.asarray(np.where(np.asarray(cond, dtype=bool), a, b))

    def bprop(self, inputs, y, grad_y):
        cond, a, b = inputs
        c = np.asarray(cond, dtype=bool)
        return None, _back(np.where(c, grad_y, 0), a), _back(np.where(c, 0, grad_y), b)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = cond ? R{a} : R{b}."""
        c = np.asarray(inputs[0], dtype=bool)
        Ry = np.where(c, tangents[1], tangents[2])
        return np.broadcast_to(Ry, np.shape(y)).astype(np.result_type(y), copy=True)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return rng.random((4, 3)) < 0.5, rng.standard_normal((4, 3)), rng.standard_normal(3)


class Clip(Box):
    """x limited to [lo, hi], as ``np.clip`` / ``torch.clamp`` (either bound may be None).

    fprop:  y = min(max(x, lo), hi)
    bprop:  grad_x = grad_y where lo <= x <= hi, 0 outside (torch's convention at the bounds)
    """

    def __init__(self, lo: float | None = None, hi: float | None = None):
        if lo is None and hi is None:
            raise ValueError("Clip needs lo or hi")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"Clip needs lo <= hi, got lo={lo!r} > hi={hi!r}")
        self.lo = None if lo is None else float(lo)
        self.hi = None if hi is None else float(hi)

    @classmethod
    def example(cls) -> Clip:
        return cls(-0.5, 0.7)

    def config(self) -> dict:
        return {"lo": self.lo, "hi": self.hi}

    def _inside(self, x):
        inside = np.ones(np.shape(x), dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return inside

    def fprop(self, x):
        return np.asarray(np.clip(x, self.lo, self.hi))

    def bprop(self, inputs, y, grad_y):
        return (np.where(self._inside(inputs[0]), grad_y, 0).astype(np.result_type(grad_y)),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} inside the bounds, 0 outside."""
        return np.where(self._inside(inputs[0]), tangents[0], 0)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)

    def __repr__(self) -> str:
        return f"Clip({self.lo!r}, {self.hi!r})"


class Sin(Box):
    """sin(x), element-wise.

    fprop:  y = sin(x)
    bprop:  grad_x = cos(x) grad_y
    """

    def fprop(self, x):
        return np.sin(x)

    def bprop(self, inputs, y, grad_y):
        return (np.cos(inputs[0]) * grad_y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = cos(x) R{x}."""
        return np.cos(inputs[0]) * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = -sin(x) R{x} grad_y + cos(x) R{grad_y}."""
        x, Rx = inputs[0], tangents[0]
        return (-np.sin(x) * Rx * grad_y + np.cos(x) * R_grad_y,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Cos(Box):
    """cos(x), element-wise.

    fprop:  y = cos(x)
    bprop:  grad_x = -sin(x) grad_y
    """

    def fprop(self, x):
        return np.cos(x)

    def bprop(self, inputs, y, grad_y):
        return (-np.sin(inputs[0]) * grad_y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = -sin(x) R{x}."""
        return -np.sin(inputs[0]) * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = -cos(x) R{x} grad_y - sin(x) R{grad_y}."""
        x, Rx = inputs[0], tangents[0]
        return (-np.cos(x) * Rx * grad_y - np.sin(x) * R_grad_y,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Power(Box):
    """x to a power that is itself a node, as ``np.power`` / ``torch.pow`` (``x ** y``,
    ``2 ** x``); for a constant exponent, Pow(p) is cheaper.

    fprop:  z = x^y                                  broadcast shape
    bprop:  grad_x = y x^(y-1) grad_z,   grad_y = z log(x) grad_z   (0 where x = 0, y >= 0,
            as torch; x < 0 has no real log, so its grad_y is NaN, as torch)
    """

    arity = 2
    input_names = ("x", "y")

    def fprop(self, x, y):
        _broadcast("Power", x, y)
        return np.asarray(np.power(x, y))

    def _grad_y_factor(self, x, y, z):
        with np.errstate(divide="ignore", invalid="ignore"):
            f = z * np.log(x)
        return np.where((x == 0) & (y >= 0), 0, f)

    def bprop(self, inputs, z, grad_z):
        x, y = inputs
        with np.errstate(divide="ignore", invalid="ignore"):
            dx = np.where(y == 0, 0, y * np.power(x, y - 1))
        return _back(dx * grad_z, x), _back(self._grad_y_factor(x, y, z) * grad_z, y)

    def fprop_jvp(self, inputs, tangents, z):
        """R{z} = y x^(y-1) R{x} + z log(x) R{y}."""
        (x, y), (Rx, Ry) = inputs, tangents
        dx = np.where(y == 0, 0, y * np.power(x, y - 1))
        return (dx * Rx + self._grad_y_factor(x, y, z) * Ry).astype(np.result_type(z))

    def bprop_jvp(self, inputs, tangents, z, Rz, grad_z, R_grad_z):
        """Product rule on both formulas of bprop (x > 0)."""
        (x, y), (Rx, Ry) = inputs, tangents
        lx = np.log(x)
        dx = y * np.power(x, y - 1)
        R_dx = Ry * np.power(x, y - 1) + y * np.power(x, y - 1) * ((y - 1) * Rx / x + lx * Ry)
        dy = z * lx
        R_dy = Rz * lx + z * Rx / x
        return _back(R_dx * grad_z + dx * R_grad_z, x), _back(R_dy * grad_z + dy * R_grad_z, y)

    def sample_inputs(self, rng):
        return rng.uniform(0.5, 2.0, (4, 3)), rng.standard_normal(3)


COMPARISONS = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}  # fmt: skip


class Compare(NoGradient, Box):
    """A comparison ``a < b`` (or ``<=, >, >=, ==, !=``) as a boolean mask: a value without a
    gradient, for ``where``, masking and counting.

    fprop:  y = a op b                               bool, broadcast shape
    bprop:  none (piecewise constant)
    """

    arity = 2
    input_names = ("a", "b")

    def __init__(self, op: str = "<"):
        if op not in COMPARISONS:
            raise ValueError(f"Compare: op must be one of {sorted(COMPARISONS)}, got {op!r}")
        self.op = op

    @classmethod
    def example(cls) -> Compare:
        return cls(">")

    def config(self) -> dict:
        return {"op": self.op}

    def fprop(self, a, b):
        _broadcast(f"Compare({self.op!r})", a, b)
        return np.asarray(COMPARISONS[self.op](a, b))

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal(3)

    def __repr__(self) -> str:
        return f"Compare({self.op!r})"


class StopGradient(Box):
    """The identity in the forward pass with no gradient in the backward pass
    (``jax.lax.stop_gradient``, ``tensor.detach()``): a target that must not move.

    fprop:  y = x
    bprop:  none, on purpose (``differentiable = False``: the checker verifies exactly that)
    """

    differentiable = False

    def fprop(self, x):
        return np.array(x, copy=True)

    def bprop(self, inputs, y, grad_y):
        return (None,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x}: the value moves with x; only the gradient is stopped."""
        return np.array(tangents[0], copy=True)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return (None,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)
