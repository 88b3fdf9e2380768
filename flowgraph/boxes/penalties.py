"""Regularisers Omega(theta) over the weight matrices W(k) (never the biases)."""

from __future__ import annotations

import numpy as np

from ..core.box import Box


def _float_weights(box: Box, Ws) -> np.dtype:
    """The common float dtype of the weights; integer or boolean arrays are refused (their
    squares and sums would wrap around or overflow silently)."""
    for i, W in enumerate(Ws):
        if not np.issubdtype(np.asarray(W).dtype, np.floating):
            raise TypeError(
                f"{type(box).__name__}: {box.input_name(i)} has dtype {np.asarray(W).dtype}; "
                "a penalty takes floating-point weights (make it a Parameter, or cast it)"
            )
    return np.result_type(*Ws)


class L2Penalty(Box):
    """L2 regularisation (weight decay) over any number of weight children W(1) .. W(K).

    fprop:  Omega = sum_k ||W(k)||_F^2 = sum_k sum_ij (W(k)_ij)^2       scalar
    bprop:  grad_W(k) = 2 W(k) * grad_Omega
    """

    arity = None
    input_names = ("W",)

    code_fprop = "{out} = sum(np.vdot(W, W) for W in ({all},))"
    code_bprop = ("np.multiply({x}, 2 * {g}, out={gx})",)

    def fprop(self, *Ws):
        dtype = _float_weights(self, Ws)
        work = np.promote_types(dtype, np.float32)  # float16 squares summed in float32
        return np.asarray(
            sum(np.vdot(W.astype(work, copy=False), W.astype(work, copy=False)) for W in Ws),
            dtype=dtype,
        )

    def bprop(self, inputs, omega, grad_omega, out=None):
        """``out``: one step-plan buffer (or None) per W(k), written in place where given."""
        if out is not None:
            c = 2 * grad_omega
            return tuple(
                (W * c).astype(W.dtype, copy=False)
                if o is None or o.dtype != np.result_type(W, c)
                else np.multiply(W, c, out=o)
                for W, o in zip(inputs, out)
            )
        return tuple((W * (2 * grad_omega)).astype(W.dtype, copy=False) for W in inputs)

    def fprop_kernel(self, inputs, out):
        """fprop's sum of squares for float32/64 weights of one dtype."""
        dtype = np.result_type(*inputs)
        if dtype not in (np.float32, np.float64) or any(W.dtype != dtype for W in inputs):
            return None
        vdot, asarray = np.vdot, np.asarray
        return lambda *Ws: asarray(sum(vdot(W, W) for W in Ws), dtype=dtype)

    def bprop_kernel(self, inputs, omega, grad_omega, needs, out):
        """bprop's out= path: 2 W(k) grad_Omega into the buffers (weights of one dtype)."""
        c = 2 * grad_omega
        for W, o, k in zip(inputs, out, needs):
            if k and (o is None or not o.dtype == W.dtype == np.result_type(W, c)):
                return None
        multiply, pairs = np.multiply, tuple(zip(out, needs))

        def l2(inputs, omega, grad_omega):
            c = 2 * grad_omega
            return tuple(multiply(W, c, out=o) if k else None for W, (o, k) in zip(inputs, pairs))

        return l2

    def fprop_jvp(self, inputs, tangents, omega):
        """R{Omega} = sum_k 2 <W(k), R{W(k)}>."""
        dtype = np.result_type(*inputs)
        work = np.promote_types(dtype, np.float32)
        R = sum(
            2 * np.vdot(W.astype(work, copy=False), RW.astype(work, copy=False))
            for W, RW in zip(inputs, tangents)
        )
        return np.asarray(R, dtype=dtype)

    def bprop_jvp(self, inputs, tangents, omega, Romega, grad_omega, Rgrad_omega):
        """R{grad_W(k)} = 2 R{W(k)} grad_Omega + 2 W(k) R{grad_Omega}."""
        return tuple(
            (2 * RW * grad_omega + 2 * W * Rgrad_omega).astype(W.dtype, copy=False)
            for W, RW in zip(inputs, tangents)
        )

    def sample_inputs(self, rng):
        return rng.standard_normal((3, 4)), rng.standard_normal((2, 3))


class L1Penalty(Box):
    """L1 regularisation over any number of weight children W(1) .. W(K).

    fprop:  Omega = sum_k sum_ij |W(k)_ij|                               scalar
    bprop:  grad_W(k) = sign(W(k)) * grad_Omega, with
            sign(W)_ij = 1[W_ij > 0] - 1[W_ij < 0]   (a kink at W_ij = 0, where 0 is used)
    """

    arity = None
    input_names = ("W",)

    def fprop(self, *Ws):
        dtype = _float_weights(self, Ws)
        work = np.promote_types(dtype, np.float32)  # float16 summed in float32
        return np.asarray(sum(np.abs(W).sum(dtype=work) for W in Ws), dtype=dtype)

    def bprop(self, inputs, omega, grad_omega):
        return tuple((np.sign(W) * grad_omega).astype(W.dtype, copy=False) for W in inputs)

    def fprop_jvp(self, inputs, tangents, omega):
        """R{Omega} = sum_k <sign(W(k)), R{W(k)}>."""
        dtype = np.result_type(*inputs)
        work = np.promote_types(dtype, np.float32)
        R = sum(
            np.vdot(np.sign(W).astype(work, copy=False), RW.astype(work, copy=False))
            for W, RW in zip(inputs, tangents)
        )
        return np.asarray(R, dtype=dtype)

    def bprop_jvp(self, inputs, tangents, omega, Romega, grad_omega, Rgrad_omega):
        """R{grad_W(k)} = sign(W(k)) R{grad_Omega}  (|W|'' = 0 away from the kink at 0)."""
        return tuple((np.sign(W) * Rgrad_omega).astype(W.dtype, copy=False) for W in inputs)

    def sample_inputs(self, rng):
        Ws = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
        for W in Ws:
            W[np.abs(W) < 0.05] = 0.5  # keep away from the kink at 0
        return Ws
