"""Boxes that move elements without changing them: stack, split, swapaxes and permuted axes.
Each bprop moves the gradient back the same way (these maps are linear and invertible on
what they touch).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like


def _axis(box: str, axis: int, ndim: int, shape: tuple) -> int:
    if not -ndim <= axis < ndim:
        raise ShapeError(f"{box}: axis={axis} does not exist for an array of shape {shape}")
    return axis % ndim


class Permute(Box):
    """The axes of x in another order, as ``np.transpose(x, axes)`` / ``x.permute(*axes)``.

    fprop:  y = transpose(x, axes)
    bprop:  grad_x = transpose(grad_y, argsort(axes))
    """

    def __init__(self, axes: Sequence[int]):
        self.axes = tuple(int(a) for a in axes)

    @classmethod
    def example(cls) -> Permute:
        return cls((1, 2, 0))

    def config(self) -> dict:
        return {"axes": list(self.axes)}

    def _check(self, x) -> tuple[int, ...]:
        nd = np.ndim(x)
        axes = tuple(a % nd if -nd <= a < nd else a for a in self.axes)
        if sorted(axes) != list(range(nd)):
            raise ShapeError(
                f"Permute: axes {self.axes} are not a permutation of the {nd} axes of x "
                f"(shape {np.shape(x)})"
            )
        return axes

    def fprop(self, x):
        return np.transpose(x, self._check(x))

    def bprop(self, inputs, y, grad_y):
        return (np.transpose(grad_y, np.argsort(self._check(inputs[0]))),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = transpose(R{x}, axes)."""
        return np.transpose(tangents[0], self._check(inputs[0]))

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3, 4)),)

    def __repr__(self) -> str:
        return f"Permute({self.axes})"


class SwapAxes(Box):
    """Two axes exchanged, as ``np.swapaxes`` / ``x.swapaxes(a, b)`` / ``torch.transpose``.

    fprop:  y = swapaxes(x, a, b)
    bprop:  grad_x = swapaxes(grad_y, a, b)
    """

    def __init__(self, axis1: int, axis2: int):
        self.axis1, self.axis2 = int(axis1), int(axis2)

    @classmethod
    def example(cls) -> SwapAxes:
        return cls(0, -1)

    def config(self) -> dict:
        return {"axis1": self.axis1, "axis2": self.axis2}

    def _swap(self, x):
        nd, shape = np.ndim(x), np.shape(x)
        a, b = _axis("SwapAxes", self.axis1, nd, shape), _axis("SwapAxes", self.axis2, nd, shape)
        return np.swapaxes(x, a, b)

    def fprop(self, x):
        return self._swap(x)

    def bprop(self, inputs, y, grad_y):
        return (self._swap(grad_y),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = swapaxes(R{x})."""
        return self._swap(tangents[0])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return (self._swap(R_grad_y),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3, 4)),)

    def __repr__(self) -> str:
        return f"SwapAxes({self.axis1}, {self.axis2})"


class Stack(Box):
    """Children of one shape stacked along a new ``axis``, as ``np.stack`` (the hidden states
    of a recurrent network's time steps).

    fprop:  y[..., i, ...] = x_i                     a new axis of length n
    bprop:  grad_x_i = grad_y[..., i, ...]
    """

    arity = None
    min_arity = 1
    input_names = ("x",)

    def __init__(self, axis: int = 0):
        self.axis = int(axis)

    @classmethod
    def example(cls) -> Stack:
        return cls(axis=1)

    def config(self) -> dict:
        return {"axis": self.axis}

    def fprop(self, *xs):
        shapes = {np.shape(x) for x in xs}
        if len(shapes) != 1:
            raise ShapeError(f"Stack needs children of one shape, got {[np.shape(x) for x in xs]}")
        _axis("Stack", self.axis, np.ndim(xs[0]) + 1, np.shape(xs[0]))
        return np.stack(xs, axis=self.axis)

    def bprop(self, inputs, y, grad_y):
        axis = self.axis % np.ndim(y)
        return tuple(grad_like(np.take(grad_y, i, axis=axis), x) for i, x in enumerate(inputs))

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = stack(R{x_i})."""
        return np.stack(tangents, axis=self.axis).astype(np.result_type(y), copy=False)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return tuple(rng.standard_normal((4, 3)) for _ in range(3))

    def __repr__(self) -> str:
        return f"Stack(axis={self.axis})"


class Split(Box):
    """Part ``part`` of ``np.split(x, indices_or_sections, axis)``: ``fg.split`` makes one
    node per part (a GRU's gates from one product, heads of attention).

    fprop:  y = np.split(x, indices_or_sections, axis)[part]
    bprop:  grad_x = zeros like x with grad_y where the part sits
    """

    def __init__(self, indices_or_sections: int | Sequence[int], axis: int = 0, part: int = 0):
        if isinstance(indices_or_sections, (int, np.integer)):
            self.sections: int | tuple[int, ...] = int(indices_or_sections)
            if self.sections < 1:
                raise ValueError(f"Split needs at least 1 section, got {self.sections}")
            n_parts = self.sections
        else:
            self.sections = tuple(int(i) for i in indices_or_sections)
            n_parts = len(self.sections) + 1
        if not 0 <= int(part) < n_parts:
            raise ValueError(f"Split: part {part} of {n_parts} parts does not exist")
        self.axis, self.part = int(axis), int(part)

    @classmethod
    def example(cls) -> Split:
        return cls(3, axis=1, part=1)

    def config(self) -> dict:
        sections = self.sections if isinstance(self.sections, int) else list(self.sections)
        return {"indices_or_sections": sections, "axis": self.axis, "part": self.part}

    def _bounds(self, shape) -> tuple[int, int, int]:
        axis = _axis("Split", self.axis, len(shape), shape)
        n = shape[axis]
        if isinstance(self.sections, int):
            if n % self.sections:
                raise ShapeError(
                    f"Split: axis {self.axis} of length {n} (x {shape}) does not divide into "
                    f"{self.sections} equal sections"
                )
            size = n // self.sections
            return axis, self.part * size, (self.part + 1) * size
        cuts = [0, *(min(max(c if c >= 0 else c + n, 0), n) for c in self.sections), n]
        return axis, cuts[self.part], max(cuts[self.part], cuts[self.part + 1])

    def _where(self, shape) -> tuple:
        axis, lo, hi = self._bounds(shape)
        return (slice(None),) * axis + (slice(lo, hi),)

    def fprop(self, x):
        return np.array(np.asarray(x)[self._where(np.shape(x))], copy=True)

    def bprop(self, inputs, y, grad_y):
        shape = np.shape(inputs[0])
        g = np.zeros(shape, dtype=np.result_type(grad_y))
        g[self._where(shape)] = grad_y
        return (g,)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = the same part of R{x}."""
        return np.asarray(tangents[0])[self._where(np.shape(inputs[0]))]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 6)),)

    def __repr__(self) -> str:
        return f"Split({self.sections!r}, axis={self.axis}, part={self.part})"


class Flatten(Box):
    """Every axis from ``start_dim`` on joined into one, as ``torch.flatten(x, start_dim)``
    (a convnet's feature maps (N, C, H, W) become rows (N, C H W) for a Linear layer).

    fprop:  y = reshape(x, x.shape[:start_dim] + (-1,))
    bprop:  grad_x = reshape(grad_y, x.shape)
    """

    def __init__(self, start_dim: int = 1):
        self.start_dim = int(start_dim)

    @classmethod
    def example(cls) -> Flatten:
        return cls(1)

    def config(self) -> dict:
        return {"start_dim": self.start_dim}

    def fprop(self, x):
        d = _axis("Flatten", self.start_dim, max(np.ndim(x), 1), np.shape(x))
        return np.reshape(x, np.shape(x)[:d] + (-1,))

    def bprop(self, inputs, y, grad_y):
        return (np.reshape(grad_y, np.shape(inputs[0])),)

    def fprop_kernel(self, inputs, out):
        """The same reshape, to the shape these inputs' shape gives (a view, as fprop's)."""
        x = inputs[0]
        if type(x) is not np.ndarray:
            return None
        shape, reshape = self.fprop(x).shape, np.reshape
        return lambda x: reshape(x, shape)

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """The same reshape of grad_y to x's shape."""
        shape, reshape = np.shape(inputs[0]), np.reshape
        return lambda inputs, y, grad_y: (reshape(grad_y, shape),)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = reshape(R{x})."""
        return np.reshape(tangents[0], np.shape(y))

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        return (rng.standard_normal((2, 3, 2, 2)),)

    def __repr__(self) -> str:
        return f"Flatten({self.start_dim})"


# -- reshaping and joining, as np.reshape and np.concatenate --------------------


AxisError = getattr(np, "exceptions", np).AxisError  # (np.exceptions: NumPy 1.25+)


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

    fprop_kernel = Flatten.fprop_kernel  # (the same reshape to fprop's shape)
    bprop_kernel = Flatten.bprop_kernel

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
