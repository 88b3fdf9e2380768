"""Arithmetic boxes to compose graphs with: ``+``, ``-``, ``*``, ``/`` and scaling,
element-wise, with children that broadcast like NumPy (the matrix product: matmul.py; sums
and means: reductions.py; reshaping: shapes.py; exp, log and powers: elementary.py).

Broadcasting copies a child along axes it lacks (or has of length 1); the chain rule's sum
over those copies is ``unbroadcast``: the gradient summed back to the child's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like, unbroadcast


def _grad_of(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``grad`` summed back to x's shape (``unbroadcast``), in x's float dtype (``grad_like``)."""
    return grad_like(unbroadcast(grad, np.shape(x)), x)


def _float_dtype(x: np.ndarray) -> np.dtype:
    """The float dtype a box computes x in: x's own when it is a float, else float64 (as NumPy
    promotes integers meeting a Python float)."""
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


def _broadcast_shape(box: str, xs: Sequence[np.ndarray]) -> tuple[int, ...]:
    shapes = [np.shape(x) for x in xs]
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ShapeError(
            f"{box} needs children of one shape or shapes that broadcast (NumPy rules), "
            f"got {shapes}"
        ) from None


def _sample_pair(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(4, 3) with (3,): b is broadcast over the batch, its gradient summed over it."""
    return rng.standard_normal((4, 3)), rng.standard_normal(3)


class Add(Box):
    """Sum of any number of children of one shape (e.g. the loss and a weighted penalty).

    Children of different shapes broadcast together as in NumPy (a bias b of shape (H,)
    added to a of shape (N, H)).

    fprop:  s = x_1 + x_2 + ... + x_n          the broadcast shape of the x_i
    bprop:  grad_x_i = grad_s, summed over the axes along which x_i was broadcast
    """

    arity = None
    min_arity = 1
    input_names = ("x",)

    code_fprop = "{out} = {plus}"
    code_bprop = ("{gx} = {g}",)

    def fprop(self, *xs, out=None):
        """``out``: a step plan's buffer of s's shape and dtype (the same sums, in place)."""
        shape = np.shape(xs[0])
        for x in xs[1:]:
            if np.shape(x) != shape:
                _broadcast_shape("Add", xs)
                break
        if out is not None and len(xs) > 1 and out.shape:  # (a scalar sum: fresh, cheaper)
            s = np.add(xs[0], xs[1], out=out)
            for x in xs[2:]:
                s += x
            return s
        s = xs[0] + xs[1] if len(xs) > 1 else np.array(xs[0], copy=True)
        for x in xs[2:]:
            s = s + x
        return s

    def bprop(self, inputs, s, grad_s):
        # loss + lambda Omega at every training step: attribute look-ups, not np.shape calls
        shape = grad_s.shape if type(grad_s) is np.ndarray else np.shape(grad_s)
        dtype = getattr(grad_s, "dtype", None)
        grads = []
        for x in inputs:
            if type(x) is np.ndarray:
                g = grad_s if x.shape == shape else unbroadcast(grad_s, x.shape)
                grads.append(g if x.dtype == dtype else grad_like(g, x))
            else:
                grads.append(unbroadcast(grad_s, np.shape(x)))
        return tuple(grads)

    def fprop_kernel(self, inputs, out):
        """fprop's sums for two or more children: into ``out`` (not for a scalar sum)."""
        if len(inputs) < 2:
            return None
        if out is None or not out.shape:

            def add_fresh(*xs):
                s = xs[0] + xs[1]
                for x in xs[2:]:
                    s = s + x
                return s

            return add_fresh
        add = np.add

        def add_into(*xs):
            s = add(xs[0], xs[1], out=out)
            for x in xs[2:]:
                s += x
            return s

        return add_into

    def bprop_kernel(self, inputs, s, grad_s, needs, out):
        """grad_s passed on to every child of its shape (an array: and dtype), as bprop
        passes it on where nothing was broadcast."""
        shape, dtype = np.shape(grad_s), getattr(grad_s, "dtype", None)
        for x in inputs:
            if np.shape(x) != shape or (type(x) is np.ndarray and x.dtype != dtype):
                return None
        k = len(inputs)
        return lambda inputs, s, grad_s: (grad_s,) * k

    def fprop_jvp(self, inputs, tangents, s):
        """R{s} = R{x_1} + ... + R{x_n}, broadcast."""
        Rs = tangents[0]
        for r in tangents[1:]:
            Rs = Rs + r
        return grad_like(np.broadcast_to(Rs, np.shape(s)).copy(), s)

    def bprop_jvp(self, inputs, tangents, s, Rs, grad_s, R_grad_s):
        """R{grad_x_i} = R{grad_s}, summed over x_i's broadcast axes."""
        return tuple(_grad_of(R_grad_s, x) for x in inputs)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((4, 1))


class Scale(Box):
    """Multiplication by a constant c, such as the regularisation strength lambda.

    fprop:  y = c x                           any shape
    bprop:  grad_x = c grad_y
    """

    input_names = ("x",)

    code_fprop = "{out} = c * {0}"
    code_bprop = ("{gx} = c * {g}",)

    def __init__(self, c: float):
        if not isinstance(c, (int, float, np.number)) or not np.isfinite(c):
            raise ValueError(f"Scale needs a finite scalar constant, got {c!r}")
        self.c = c

    @classmethod
    def example(cls) -> Scale:
        return cls(0.37)

    def config(self) -> dict:
        return {"c": float(self.c)}

    def _c_like(self, a):
        # c in a's float precision (float16 stays float16). From dtypes, not arrays: NumPy
        # 1.x's value-based casting treats a 0-d float64 array like a scalar.
        return np.asarray(self.c, dtype=_float_dtype(a))

    def fprop(self, x):
        return x * self._c_like(x)

    def bprop(self, inputs, y, grad_y):
        return (grad_y * self._c_like(grad_y),)

    def fprop_kernel(self, inputs, out):
        """c x with c in x's float dtype, which the signature fixes (c read at each call)."""
        dtype, asarray = _float_dtype(inputs[0]), np.asarray
        return lambda x: x * asarray(self.c, dtype=dtype)

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """c grad_y, as bprop."""
        dtype, asarray = _float_dtype(grad_y), np.asarray
        return lambda inputs, y, grad_y: (grad_y * asarray(self.c, dtype=dtype),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = c R{x}."""
        return self.fprop(tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """R{grad_x} = c R{grad_y}."""
        return self.bprop(inputs, y, Rgrad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 2)),)

    def __repr__(self) -> str:
        return f"Scale({self.c!r})"


class Sub(Box):
    """Difference of two children that broadcast together.

    fprop:  y = a - b                          the broadcast shape of a and b
    bprop:  grad_a = grad_y,  grad_b = -grad_y, each summed over its broadcast axes
    """

    arity = 2
    input_names = ("a", "b")

    def fprop(self, a, b):
        _broadcast_shape("Sub", (a, b))
        return a - b

    def bprop(self, inputs, y, grad_y):
        a, b = inputs
        return _grad_of(grad_y, a), _grad_of(-grad_y, b)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{a} - R{b}."""
        Ra, Rb = tangents
        return grad_like(np.broadcast_to(Ra - Rb, np.shape(y)).copy(), y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_a} = R{grad_y}, R{grad_b} = -R{grad_y}, each unbroadcast."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return _sample_pair(rng)


class Neg(Box):
    """Negation.

    fprop:  y = -x                             any shape
    bprop:  grad_x = -grad_y
    """

    def fprop(self, x):
        return -x

    def bprop(self, inputs, y, grad_y):
        return (-grad_y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = -R{x}."""
        return -tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = -R{grad_y}."""
        return (-R_grad_y,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Mul(Box):
    """Element-wise (Hadamard) product of two children that broadcast together (a gate).

    fprop:  y = a ⊙ b                          the broadcast shape of a and b
    bprop:  grad_a = grad_y ⊙ b,  grad_b = grad_y ⊙ a, each summed over its broadcast axes
    """

    arity = 2
    input_names = ("a", "b")

    def fprop(self, a, b):
        _broadcast_shape("Mul", (a, b))
        return a * b

    def bprop(self, inputs, y, grad_y):
        a, b = inputs
        return _grad_of(grad_y * b, a), _grad_of(grad_y * a, b)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{a} ⊙ b + a ⊙ R{b}."""
        (a, b), (Ra, Rb) = inputs, tangents
        return grad_like(Ra * b + a * Rb, y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_a} = R{grad_y} ⊙ b + grad_y ⊙ R{b} (and a, b swapped), unbroadcast."""
        (a, b), (Ra, Rb) = inputs, tangents
        R_grad_a = R_grad_y * b + grad_y * Rb
        R_grad_b = R_grad_y * a + grad_y * Ra
        return _grad_of(R_grad_a, a), _grad_of(R_grad_b, b)

    def sample_inputs(self, rng):
        return _sample_pair(rng)


class Div(Box):
    """Element-wise quotient of two children that broadcast together (b nowhere 0).

    fprop:  y = a / b                          the broadcast shape of a and b
    bprop:  grad_a = grad_y / b,  grad_b = -grad_y ⊙ a / b^2 = -grad_y ⊙ y / b,
            each summed over its broadcast axes
    """

    arity = 2
    input_names = ("a", "b")

    def fprop(self, a, b):
        _broadcast_shape("Div", (a, b))
        return a / b

    def bprop(self, inputs, y, grad_y):
        a, b = inputs
        return _grad_of(grad_y / b, a), _grad_of(-grad_y * y / b, b)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = (R{a} - y ⊙ R{b}) / b."""
        (_, b), (Ra, Rb) = inputs, tangents
        return grad_like((Ra - y * Rb) / b, y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_a} = R{grad_y} / b - grad_y R{b} / b^2,
        R{grad_b} = -(R{grad_y} a + grad_y R{a}) / b^2 + 2 grad_y a R{b} / b^3 (unbroadcast)."""
        (a, b), (Ra, Rb) = inputs, tangents
        R_grad_a = R_grad_y / b - grad_y * Rb / b**2
        R_grad_b = -(R_grad_y * a + grad_y * Ra) / b**2 + 2 * grad_y * a * Rb / b**3
        return _grad_of(R_grad_a, a), _grad_of(R_grad_b, b)

    def sample_inputs(self, rng):
        a, b = _sample_pair(rng)
        return a, np.sign(b) * (0.5 + np.abs(b))  # |b| >= 0.5: away from the pole at 0
