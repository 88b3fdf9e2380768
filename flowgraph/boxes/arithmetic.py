"""Arithmetic boxes to compose graphs with: element-wise operations that broadcast like
NumPy, the matrix product, reductions, reshaping, exp and log.

Broadcasting copies a child along axes it lacks (or has of length 1); the chain rule's sum
over those copies is ``unbroadcast``: the gradient summed back to the child's shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.box import Box, grad_like, unbroadcast
from ..errors import ShapeError

AxisError = getattr(np, "exceptions", np).AxisError  # (np.exceptions: NumPy 1.25+)


def _grad_of(grad: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``grad`` summed back to x's shape (``unbroadcast``), in x's float dtype (``grad_like``)."""
    return grad_like(unbroadcast(grad, np.shape(x)), x)


def _float_dtype(x: np.ndarray) -> np.dtype:
    """The float dtype a box computes x in: x's own when it is a float, else float64 (as NumPy
    promotes integers meeting a Python float)."""
    dtype = np.asarray(x).dtype
    return dtype if dtype.kind == "f" else np.dtype(np.float64)


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


class MatMul(Box):
    """Matrix product with NumPy's matmul semantics (``a @ b``; Linear is h W^T + b).

    fprop:  y = a b                            a: (N, K), b: (K, M), y: (N, M)
    bprop:  grad_a = grad_y b^T  (N, K),  grad_b = a^T grad_y  (K, M)

    As ``np.matmul``: a 1-D a is a row (K,) -> (1, K) and a 1-D b a column (K,) -> (K, 1),
    the added axis dropped from y; N-D operands are stacks of matrices over their leading
    (batch) axes, which broadcast: a (B, 1, N, K) @ b (C, K, M) -> y (B, C, N, M). Each
    gradient is the per-matrix formula above, summed over the batch axes along which its
    operand was broadcast (the chain rule's sum over the copies).
    """

    arity = 2
    input_names = ("a", "b")

    code_fprop = "np.matmul({0}, {1}, out={out})"
    code_bprop = ("np.matmul({g}, {1}.T, out={gx})", "np.matmul({0}.T, {g}, out={gx})")

    def fprop(self, a, b, out=None):
        """``out``: a step plan's buffer of y's shape and dtype (the same product, there)."""
        if np.ndim(a) == 2 and np.ndim(b) == 2 and np.shape(a)[1] == np.shape(b)[0]:
            if out is not None and a.dtype == b.dtype == out.dtype:
                return np.matmul(a, b, out=out)
            return a @ b  # the MLP's hot path: (N, K) @ (K, M), nothing else checked
        sa, sb = np.shape(a), np.shape(b)
        if not sa or not sb or sa[-1] != sb[-2 if len(sb) > 1 else 0]:
            raise ShapeError(
                f"MatMul needs a of shape (..., N, K) or (K,) and b of shape (..., K, M) or "
                f"(K,), with the same K, got a {sa} and b {sb}"
            )
        try:
            np.broadcast_shapes(sa[:-2], sb[:-2])
        except ValueError:
            raise ShapeError(
                f"MatMul: the batch axes of a {sa} and b {sb} do not broadcast: "
                f"{sa[:-2]} against {sb[:-2]}"
            ) from None
        return np.asarray(np.matmul(a, b))

    def bprop(self, inputs, y, grad_y, out=None):
        """``out``: (grad_a buffer or None, grad_b buffer or None), as for fprop."""
        a, b = inputs
        if a.ndim == 2 and b.ndim == 2:
            if out is not None and a.dtype == b.dtype == grad_y.dtype:
                out_a, out_b = out
                return (
                    grad_y @ b.T if out_a is None else np.matmul(grad_y, b.T, out=out_a),
                    a.T @ grad_y if out_b is None else np.matmul(a.T, grad_y, out=out_b),
                )
            return grad_like(grad_y @ b.T, a), grad_like(a.T @ grad_y, b)
        return self.grad_a(a, b, grad_y), self.grad_b(a, b, grad_y)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{a} b + a R{b}."""
        (a, b), (Ra, Rb) = inputs, tangents
        return grad_like(np.asarray(np.matmul(Ra, b) + np.matmul(a, Rb)), y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_a} = R{grad_y} b^T + grad_y R{b}^T;  R{grad_b} = R{a}^T grad_y + a^T R{grad_y}
        (each per matrix, summed over broadcast batch axes)."""
        (a, b), (Ra, Rb) = inputs, tangents
        R_grad_a = self.grad_a(a, b, R_grad_y) + self.grad_a(a, Rb, grad_y)
        R_grad_b = self.grad_b(Ra, b, grad_y) + self.grad_b(a, b, R_grad_y)
        return grad_like(R_grad_a, a), grad_like(R_grad_b, b)

    @staticmethod
    def _as_matrices(a, b, g):
        """a, b and the gradient g of a @ b as stacks of matrices: a 1-D a is the row (1, K) and
        a 1-D b the column (K, 1), the axis NumPy's matmul removes from y put back into g."""
        a2 = a[None, :] if np.ndim(a) == 1 else a
        b2 = b[:, None] if np.ndim(b) == 1 else b
        g = np.asarray(g)
        if np.ndim(a) == 1:
            g = g[..., None, :] if np.ndim(b) > 1 else g[..., None]
        if np.ndim(b) == 1:
            g = g[..., None]
        return a2, b2, g

    @classmethod
    def grad_a(cls, a, b, g):
        """grad_a = g b^T per matrix, summed over the batch axes a was broadcast along."""
        a2, b2, g2 = cls._as_matrices(a, b, g)
        grad = unbroadcast(g2 @ np.swapaxes(b2, -1, -2), a2.shape)
        return grad_like(grad.reshape(np.shape(a)), a)

    @classmethod
    def grad_b(cls, a, b, g):
        """grad_b = a^T g per matrix, summed over the batch axes b was broadcast along."""
        a2, b2, g2 = cls._as_matrices(a, b, g)
        grad = unbroadcast(np.swapaxes(a2, -1, -2) @ g2, b2.shape)
        return grad_like(grad.reshape(np.shape(b)), b)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal((3, 2))


class Transpose(Box):
    """The transpose, axes reversed (``x.T``: W^T of a tied-weight autoencoder).

    fprop:  y = x^T                            x: (N, D), y: (D, N) (any ndim: axes reversed)
    bprop:  grad_x = grad_y^T
    """

    def fprop(self, x):
        return np.transpose(x)

    def bprop(self, inputs, y, grad_y):
        return (np.transpose(grad_y),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x}^T."""
        return np.transpose(tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y}^T."""
        return (np.transpose(R_grad_y),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


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


class Reshape(Box):
    """The same elements in another shape (C order), as ``np.reshape``; -1 lets one axis
    be inferred (``x.reshape(-1, 28 * 28)`` keeps the batch).

    fprop:  y = reshape(x, shape)
    bprop:  grad_x = reshape(grad_y, shape of x)
    """

    def __init__(self, shape: int | Sequence[int]):
        shape = (shape,) if isinstance(shape, (int, np.integer)) else shape
        self.shape = tuple(int(n) for n in shape)

    @classmethod
    def example(cls) -> Reshape:
        return cls((-1, 2))

    def config(self) -> dict:
        return {"shape": list(self.shape)}

    def fprop(self, x):
        try:
            return np.reshape(x, self.shape)
        except ValueError:
            raise ShapeError(
                f"Reshape cannot make an array of shape {np.shape(x)} ({np.size(x)} elements) "
                f"into shape {self.shape}"
            ) from None

    def bprop(self, inputs, y, grad_y):
        return (np.reshape(grad_y, np.shape(inputs[0])),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = reshape(R{x})."""
        return np.reshape(tangents[0], np.shape(y))

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = reshape(R{grad_y}, shape of x)."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)

    def __repr__(self) -> str:
        return f"Reshape({self.shape!r})"


class Concat(Box):
    """Any number of children joined along ``axis``, as ``np.concatenate`` (a skip
    connection's [h, x]; a two-headed network's shared features).

    fprop:  y = [x_1, x_2, ..., x_n]           along axis (0 by default, as NumPy); the
                                               other axes agree
    bprop:  grad_x_i = the slice of grad_y where x_i sits (in x_i's dtype)
    """

    arity = None
    min_arity = 1
    input_names = ("x",)

    def __init__(self, axis: int = 0):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concat needs an integer axis, got {axis!r}")
        self.axis = int(axis)

    @classmethod
    def example(cls) -> Concat:
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": self.axis}

    def fprop(self, *xs):
        for i, x in enumerate(xs):
            if not -np.ndim(x) <= self.axis < np.ndim(x):
                raise ShapeError(
                    f"Concat(axis={self.axis}): child {i} of shape {np.shape(x)} has no axis "
                    f"{self.axis} (children's shapes {[np.shape(x) for x in xs]})"
                )
        try:
            return np.concatenate(xs, axis=self.axis)
        except (ValueError, AxisError):
            raise ShapeError(
                f"Concat along axis {self.axis} needs children that agree on every other axis, "
                f"got {[np.shape(x) for x in xs]}"
            ) from None

    def bprop(self, inputs, y, grad_y):
        ends = np.cumsum([np.shape(x)[self.axis] for x in inputs])[:-1]
        return tuple(
            grad_like(g, x) for g, x in zip(np.split(grad_y, ends, axis=self.axis), inputs)
        )

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = [R{x_1}, ..., R{x_n}]."""
        return grad_like(self.fprop(*tangents), y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x_i} = the slice of R{grad_y} where x_i sits."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal((4, 1)), rng.standard_normal((4, 2))

    def __repr__(self) -> str:
        return f"Concat(axis={self.axis})"


class Exp(Box):
    """Element-wise exponential.

    fprop:  y = exp(x)                         any shape
    bprop:  grad_x = grad_y ⊙ exp(x) = grad_y ⊙ y
    """

    def fprop(self, x):
        return np.exp(x)

    def bprop(self, inputs, y, grad_y):
        return (grad_y * y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = y ⊙ R{x}."""
        return y * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = y ⊙ (R{grad_y} + grad_y ⊙ R{x})."""
        return (y * (R_grad_y + grad_y * tangents[0]),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Log(Box):
    """Element-wise natural logarithm (x > 0).

    fprop:  y = log(x)                         any shape
    bprop:  grad_x = grad_y / x
    """

    def fprop(self, x):
        return np.log(x)

    def bprop(self, inputs, y, grad_y):
        return (grad_y / inputs[0],)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} / x."""
        return tangents[0] / inputs[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} / x - grad_y ⊙ R{x} / x^2."""
        x, Rx = inputs[0], tangents[0]
        return (R_grad_y / x - grad_y * Rx / x**2,)

    def sample_inputs(self, rng):
        return (rng.uniform(0.5, 2.0, (4, 3)),)


class Square(Box):
    """Element-wise square (``x ** 2``).

    fprop:  y = x^2                            any shape
    bprop:  grad_x = 2 x ⊙ grad_y
    """

    def fprop(self, x):
        return x * x

    def bprop(self, inputs, y, grad_y):
        return (2 * inputs[0] * grad_y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = 2 x ⊙ R{x}."""
        return 2 * inputs[0] * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = 2 (R{x} ⊙ grad_y + x ⊙ R{grad_y})."""
        return (2 * (tangents[0] * grad_y + inputs[0] * R_grad_y),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Pow(Box):
    """Element-wise power with a constant exponent p (x > 0 unless p is a whole number).

    fprop:  y = x^p                            any shape
    bprop:  grad_x = p x^(p-1) ⊙ grad_y

    Each term c x^q of a derivative is exactly 0 when its coefficient c is 0, also where x^q
    is infinite (x = 0, q < 0): x^0 = 1 has slope 0 everywhere (not 0 * 0^-1 = NaN at 0),
    and x^1 = x has second derivative 0 (as torch.autograd gives).
    """

    def __init__(self, p: float | np.number):
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)) or not np.isfinite(p):
            raise ValueError(f"Pow needs a finite constant exponent, got {p!r}")
        self.p = p.item() if isinstance(p, np.number) else p

    @classmethod
    def example(cls) -> Pow:
        return cls(1.5)

    def config(self) -> dict:
        return {"p": self.p}

    @staticmethod
    def _term(c, x, q, v):
        """c x^q ⊙ v, exactly 0 (in v's dtype) when c = 0: never 0 * inf."""
        if c == 0:
            return np.zeros_like(v)
        return c * x**q * v

    def fprop(self, x):
        return x**self.p

    def bprop(self, inputs, y, grad_y):
        p, x = self.p, inputs[0]
        return (self._term(p, x, p - 1, grad_y),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = p x^(p-1) ⊙ R{x}."""
        p, x = self.p, inputs[0]
        return self._term(p, x, p - 1, tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = p x^(p-1) R{grad_y} + p (p-1) x^(p-2) R{x} grad_y."""
        p, x, Rx = self.p, inputs[0], tangents[0]
        return (self._term(p, x, p - 1, R_grad_y) + self._term(p * (p - 1), x, p - 2, Rx * grad_y),)

    def sample_inputs(self, rng):
        return (rng.uniform(0.5, 2.0, (4, 3)),)

    def __repr__(self) -> str:
        return f"Pow({self.p!r})"


class Abs(Box):
    """Element-wise absolute value.

    fprop:  y = |x|                            any shape
    bprop:  grad_x = sign(x) ⊙ grad_y          (a kink at x = 0, where sign(0) = 0 is used)
    """

    def fprop(self, x):
        return np.abs(x)

    def bprop(self, inputs, y, grad_y):
        return (np.sign(inputs[0]) * grad_y,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = sign(x) ⊙ R{x}."""
        return np.sign(inputs[0]) * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = sign(x) ⊙ R{grad_y}."""
        return (np.sign(inputs[0]) * R_grad_y,)

    def sample_inputs(self, rng):
        x = rng.standard_normal((4, 3))
        x[np.abs(x) < 0.05] = 0.5  # keep away from the kink at 0
        return (x,)
