"""Elementary functions, element-wise: exp, log, the square, a constant power and the
absolute value (each with its derivative written as its docstring's bprop).
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box


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
