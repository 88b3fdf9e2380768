"""Glue boxes for composing objectives: loss + lambda * Omega."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import Box


class Add(Box):
    """Sum of any number of children of one shape (e.g. the loss and a weighted penalty).

    fprop:  s = x_1 + x_2 + ... + x_n
    bprop:  grad_x_i = grad_s for every i
    """

    arity = None
    min_arity = 1
    input_names = ("x",)

    def fprop(self, *xs):
        shape = np.shape(xs[0])
        for x in xs[1:]:
            if np.shape(x) != shape:
                raise ShapeError(
                    f"Add needs children of one shape, got {[np.shape(x) for x in xs]}"
                )
        s = xs[0] + xs[1] if len(xs) > 1 else np.array(xs[0], copy=True)
        for x in xs[2:]:
            s = s + x
        return s

    def bprop(self, inputs, s, grad_s):
        return tuple(grad_s for _ in inputs)

    def sample_inputs(self, rng):
        return tuple(rng.standard_normal((3, 2)) for _ in range(3))


class Scale(Box):
    """Multiplication by a constant c, such as the regularisation strength lambda.

    fprop:  y = c x                           any shape
    bprop:  grad_x = c grad_y
    """

    input_names = ("x",)

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
        # c in a's float precision. From dtypes, not arrays: NumPy 1.x's value-based casting
        # treats a 0-d float64 array like a scalar and would round c to float32.
        return np.asarray(self.c, dtype=np.result_type(np.asarray(a).dtype, np.float32))

    def fprop(self, x):
        return x * self._c_like(x)

    def bprop(self, inputs, y, grad_y):
        return (grad_y * self._c_like(grad_y),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 2)),)

    def __repr__(self) -> str:
        return f"Scale({self.c!r})"
