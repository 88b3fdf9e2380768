"""Element-wise activation functions h = g(a) and their derivatives g'(a).

Each bprop is the lecture's  grad_a = grad_h ⊙ [..., g'(a_j), ...]  (element-wise product),
with g'(a) written from the output h = g(a) where that is cheaper.

Tanh, ReLU and Sigmoid take ``out=`` (fprop: an array of h's shape and dtype; bprop: a tuple
with one array for grad_a): a Graph's step plan (:mod:`flowgraph.step.plan`) hands them its
buffers, and the same operations write there.
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box

# up to this many elements a kernel subtracts from an array of ones rather than the number 1
# (NumPy converts a number at every call, about 0.3 us: the work itself at that size)
SMALL_ONES = 4096


class Identity(Box):
    """Linear activation.

    fprop:  h = g(a) = a                      any shape
    bprop:  g'(a) = 1, so grad_a = grad_h
    """

    input_names = ("a",)

    def fprop(self, a):
        return a

    def bprop(self, inputs, h, grad_h):
        return (grad_h,)

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = R{a}."""
        return tangents[0]

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        """R{grad_a} = R{grad_h}."""
        return (Rgrad_h,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class Sigmoid(Box):
    """Logistic sigmoid.

    fprop:  h = sigm(a) = 1 / (1 + exp(-a))   any shape; computed from e = exp(-|a|) <= 1
            as 1 / (1 + e) for a >= 0 and e / (1 + e) for a < 0, the same function, which
            never overflows (a = ±1000 gives 1 and 0, no warning) and keeps full relative
            precision in both tails (sigm(-50) = 1.9e-22, not 0)
    bprop:  g'(a) = g(a) (1 - g(a)), so grad_a = grad_h ⊙ h ⊙ (1 - h)
    """

    input_names = ("a",)

    code_fprop = ("e = np.exp(-np.abs({0})); {out}[...] = np.where({0} >= 0, 1, e); "
                  "{out} /= 1 + e")  # fmt: skip
    code_bprop = ("np.multiply({g}, {out}, out={gx}); np.multiply({gx}, 1 - {out}, out={gx})",)

    def fprop(self, a, out=None):
        e = np.exp(-np.abs(a))  # in (0, 1]: cannot overflow
        if out is not None and out.dtype == e.dtype:
            h = out
            h[...] = np.where(a >= 0, 1, e)
        else:
            h = np.where(a >= 0, 1, e)
        h /= 1 + e
        return h

    def bprop(self, inputs, h, grad_h, out=None):
        if out is not None and out[0] is not None:  # ((grad_h * h) * (1 - h)), in place
            g = np.multiply(grad_h, h, out=out[0])
            return (np.multiply(g, 1 - h, out=g),)
        return (grad_h * h * (1 - h),)

    def fprop_kernel(self, inputs, out):
        """fprop's out= path, bound to ``out``."""
        if out is None or out.dtype != inputs[0].dtype:
            return None
        exp, absolute, where, divide = np.exp, np.abs, np.where, np.divide

        def sigmoid(a):
            e = exp(-absolute(a))
            out[...] = where(a >= 0, 1, e)
            return divide(out, 1 + e, out=out)  # (h /= 1 + e)

        return sigmoid

    def bprop_kernel(self, inputs, h, grad_h, needs, out):
        """bprop's out= path, bound to ``out``."""
        g = out[0]
        if g is None or not g.dtype == h.dtype == grad_h.dtype:
            return None
        multiply, result = np.multiply, (g,)

        def sigmoid(inputs, h, grad_h):
            multiply(grad_h, h, out=g)
            multiply(g, 1 - h, out=g)
            return result

        return sigmoid

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = h ⊙ (1 - h) ⊙ R{a}."""
        return h * (1 - h) * tangents[0]

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        """R{grad_a} = R{grad_h} ⊙ h ⊙ (1 - h) + grad_h ⊙ (1 - 2 h) ⊙ R{h}."""
        return (Rgrad_h * h * (1 - h) + grad_h * (1 - 2 * h) * Rh,)

    def sample_inputs(self, rng):
        return (2 * rng.standard_normal((4, 3)),)


class Tanh(Box):
    """Hyperbolic tangent.

    fprop:  h = tanh(a) = (exp(2a) - 1) / (exp(2a) + 1)     any shape
    bprop:  g'(a) = 1 - g(a)^2, so grad_a = grad_h ⊙ (1 - h^2)
    """

    input_names = ("a",)

    code_fprop = "np.tanh({0}, out={out})"
    code_bprop = ("np.multiply({out}, {out}, out={gx}); np.subtract(1, {gx}, out={gx}); "
                  "np.multiply({g}, {gx}, out={gx})",)  # fmt: skip

    def fprop(self, a, out=None):
        return np.tanh(a, out=out)

    def bprop(self, inputs, h, grad_h, out=None):
        if out is not None and out[0] is not None:  # the same three operations, in place
            g = np.multiply(h, h, out=out[0])
            np.subtract(1, g, out=g)
            return (np.multiply(grad_h, g, out=g),)
        return (grad_h * (1 - h * h),)

    def fprop_kernel(self, inputs, out):
        """fprop's out= path, bound to ``out``."""
        if out is None or out.dtype != inputs[0].dtype:
            return None
        tanh = np.tanh
        return lambda a: tanh(a, out=out)

    def bprop_kernel(self, inputs, h, grad_h, needs, out):
        """bprop's out= path, bound to ``out``: the same three operations, in place."""
        g = out[0]
        if g is None or not g.dtype == h.dtype == grad_h.dtype:
            return None
        multiply, subtract, result = np.multiply, np.subtract, (g,)
        # 1 - h^2 with the 1 as an array of ones where g is small: the same subtraction,
        # without converting the number 1 at each call (most of the call at that size)
        one = np.ones_like(g) if g.size <= SMALL_ONES else 1

        def tanh(inputs, h, grad_h):
            multiply(h, h, out=g)
            subtract(one, g, out=g)
            multiply(grad_h, g, out=g)
            return result

        return tanh

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = (1 - h^2) ⊙ R{a}."""
        return (1 - h * h) * tangents[0]

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        """R{grad_a} = R{grad_h} ⊙ (1 - h^2) - 2 grad_h ⊙ h ⊙ R{h}."""
        return (Rgrad_h * (1 - h * h) - 2 * grad_h * h * Rh,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 3)),)


class ReLU(Box):
    """Rectified linear unit.

    fprop:  h = max(0, a)                     any shape
    bprop:  g'(a) = 1 if a > 0 else 0 (a kink at a = 0, where 0 is used),
            so grad_a = grad_h ⊙ 1[a > 0]
    """

    input_names = ("a",)

    code_fprop = "np.maximum({0}, 0, out={out})"
    code_bprop = ("np.multiply({g}, {out} > 0, out={gx})",)

    def fprop(self, a, out=None):
        return np.maximum(a, 0, out=out)

    def bprop(self, inputs, h, grad_h, out=None):
        if out is not None and out[0] is not None:
            return (np.multiply(grad_h, h > 0, out=out[0]),)
        return (grad_h * (h > 0),)

    def fprop_kernel(self, inputs, out):
        """fprop's out= path, bound to ``out``."""
        if out is None or out.dtype != inputs[0].dtype:
            return None
        maximum = np.maximum
        return lambda a: maximum(a, 0, out=out)

    def bprop_kernel(self, inputs, h, grad_h, needs, out):
        """bprop's out= path, bound to ``out``."""
        g = out[0]
        if g is None or not g.dtype == h.dtype == grad_h.dtype:
            return None
        multiply, greater, result = np.multiply, np.greater, (g,)

        def relu(inputs, h, grad_h):
            multiply(grad_h, greater(h, 0), out=g)
            return result

        return relu

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = 1[a > 0] ⊙ R{a}."""
        return tangents[0] * (h > 0)

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        """R{grad_a} = R{grad_h} ⊙ 1[a > 0]  (g''(a) = 0 away from the kink)."""
        return (Rgrad_h * (h > 0),)

    def sample_inputs(self, rng):
        a = rng.standard_normal((4, 3))
        a[np.abs(a) < 0.05] = 0.5  # keep away from the kink at 0
        return (a,)


class Softplus(Box):
    """Softplus, a smooth ReLU whose derivative is the sigmoid.

    fprop:  h = log(1 + exp(a)) = max(a, 0) + log(1 + exp(-|a|))     any shape; the second
            form never overflows (a = ±1e4 gives 1e4 and 0)
    bprop:  g'(a) = sigm(a), so grad_a = grad_h ⊙ sigm(a)
    """

    input_names = ("a",)

    def fprop(self, a):
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

    def bprop(self, inputs, h, grad_h):
        return (grad_h * Sigmoid().fprop(inputs[0]),)

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = sigm(a) ⊙ R{a}."""
        return Sigmoid().fprop(inputs[0]) * tangents[0]

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, R_grad_h):
        """R{grad_a} = sigm(a) R{grad_h} + sigm(a)(1 - sigm(a)) R{a} grad_h."""
        s = Sigmoid().fprop(inputs[0])
        return (s * R_grad_h + s * (1 - s) * tangents[0] * grad_h,)

    def sample_inputs(self, rng):
        return (2 * rng.standard_normal((4, 3)),)


class LeakyReLU(Box):
    """Leaky rectified linear unit with a constant ``slope`` for negative inputs.

    fprop:  h = a if a > 0 else slope a       any shape
    bprop:  g'(a) = 1 if a > 0 else slope (a kink at a = 0, where slope is used),
            so grad_a = grad_h ⊙ [1 if a > 0 else slope]
    """

    input_names = ("a",)

    def __init__(self, slope: float = 0.01):
        if isinstance(slope, bool) or not isinstance(slope, (int, float, np.number)):
            raise ValueError(f"LeakyReLU needs a finite scalar slope, got {slope!r}")
        if not np.isfinite(slope):
            raise ValueError(f"LeakyReLU needs a finite scalar slope, got {slope!r}")
        self.slope = float(slope)

    @classmethod
    def example(cls) -> LeakyReLU:
        return cls(0.1)

    def config(self) -> dict:
        return {"slope": self.slope}

    def _g_prime(self, a):
        # in a's float dtype (float16 stays float16; integers meet a float slope: float64)
        dtype = np.asarray(a).dtype
        return np.where(a > 0, 1, self.slope).astype(dtype if dtype.kind == "f" else np.float64)

    def fprop(self, a):
        return a * self._g_prime(a)

    def bprop(self, inputs, h, grad_h):
        return (grad_h * self._g_prime(inputs[0]),)

    def fprop_jvp(self, inputs, tangents, h):
        """R{h} = g'(a) ⊙ R{a}."""
        return tangents[0] * self._g_prime(inputs[0])

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, R_grad_h):
        """R{grad_a} = g'(a) ⊙ R{grad_h}."""
        return (R_grad_h * self._g_prime(inputs[0]),)

    def sample_inputs(self, rng):
        a = rng.standard_normal((4, 3))
        a[np.abs(a) < 0.05] = 0.5  # keep away from the kink at 0
        return (a,)

    def __repr__(self) -> str:
        return f"LeakyReLU({self.slope!r})"
