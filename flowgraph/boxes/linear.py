"""The affine box of a layer: the pre-activation a(k) = b(k) + W(k) h(k-1)."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..core.rank1 import Outer
from ..errors import ShapeError


class Linear(Box):
    """Pre-activation of layer k from the layer below, its weights and its biases.

    Children ``(h, W, b)`` with ``h = h(k-1)`` of shape (N, H_{k-1}), ``W = W(k)`` of shape
    (H_k, H_{k-1}) — ``W_ij`` joins unit i of layer k to unit j of layer k-1 — and
    ``b = b(k)`` of shape (H_k,).

    fprop:  a(k) = b(k) + W(k) h(k-1)            batched: a = h W^T + b,  (N, H_k)

    bprop, with grad_a = grad of the loss at a(k), shape (N, H_k):
        grad_h = W^T grad_a           batched: grad_a W,              (N, H_{k-1})
        grad_W = grad_a h^T           summed over the batch: grad_a^T h, (H_k, H_{k-1})
        grad_b = grad_a               summed over the batch,          (H_k,)

    Each gradient comes back in its child's float dtype (mixed precision: float32 W and b
    meeting float64 data get float32 gradients, the dtype of the values they update).

    ``out=`` (fprop: an array of a's shape and dtype; ``bprop_needed``: one array or None per
    input) is where a Graph's step plan wants the results written (:mod:`flowgraph.step.plan`):
    the same arithmetic, in its buffers; ignored when the dtypes are mixed.
    """

    arity = 3
    input_names = ("h", "W", "b")

    # the step plan's lines (flowgraph.step.code): the same operations as below
    code_fprop = "np.dot({0}, {1}.T, out={out}); {out} += {2}"
    code_bprop = (
        "np.dot({g}, {1}, out={gx})",
        "np.dot({g}.T, {0}, out={gx})",
        "np.add.reduce({g}, axis=0, out={gx})",
    )

    def fprop(self, h, W, b, out=None):
        try:  # x.ndim is np.ndim(x) for an array, without the call
            wrong = h.ndim != 2 or W.ndim != 2 or b.ndim != 1
        except AttributeError:  # not arrays (np.ndim converts them)
            wrong = np.ndim(h) != 2 or np.ndim(W) != 2 or np.ndim(b) != 1
        if wrong:
            raise ShapeError(
                f"Linear needs h of shape (N, in), W of shape (out, in) and b of shape (out,); "
                f"got h {np.shape(h)}, W {np.shape(W)}, b {np.shape(b)}"
                + (
                    " (a single example x of shape (in,) is x.reshape(1, -1))"
                    if np.ndim(h) == 1
                    else ""
                )
            )
        if h.shape[1] != W.shape[1] or b.shape[0] != W.shape[0]:
            raise ShapeError(
                f"Linear: h {h.shape} has {h.shape[1]} columns, W {W.shape} expects "
                f"{W.shape[1]} inputs and {W.shape[0]} outputs, b {b.shape} has {b.shape[0]}; "
                "W must be (out, in) and b (out,)"
            )
        # np.dot, not matmul: for 2-D arrays the same BLAS product, with less dispatch per
        # call (a visible share of a small network's step)
        if out is not None and h.dtype == W.dtype == b.dtype == out.dtype:
            a = np.dot(h, W.T, out=out)  # the plan's buffer: the same product, in place
        else:
            a = np.dot(h, W.T)
        if b.dtype is a.dtype or b.dtype == a.dtype or np.can_cast(b.dtype, a.dtype):
            a += b
        else:  # b of a wider dtype (float64 biases, float32 data): a's dtype is promoted
            a = a + b
        return a

    @staticmethod
    def _like(g, x):
        """g in x's dtype when x is a float array (integer data keep the float gradient)."""
        return g.astype(x.dtype, copy=False) if x.dtype.kind == "f" else g

    def bprop(self, inputs, output, grad_a):
        h, W, b = inputs
        grad_h = np.dot(grad_a, W)
        grad_W = np.dot(grad_a.T, h)
        grad_b = grad_a.sum(axis=0)
        return self._like(grad_h, h), self._like(grad_W, W), self._like(grad_b, b)

    def fprop_jvp(self, inputs, tangents, output):
        """R{a} = R{b} + R{W} h + W R{h}        batched: R{h} W^T + h R{W}^T + R{b}."""
        (h, W, _), (Rh, RW, Rb) = inputs, tangents
        return self._like(Rh @ W.T + h @ RW.T + Rb, output)

    def bprop_jvp(self, inputs, tangents, output, output_tangent, grad_a, Rgrad_a):
        """Product rule on bprop: R{grad_h} = R{grad_a} W + grad_a R{W},
        R{grad_W} = R{grad_a}^T h + grad_a^T R{h}, R{grad_b} = sum_t R{grad_a} (no fast path)."""
        (h, W, b), (Rh, RW, _) = inputs, tangents
        R_grad_h, R_grad_W = Rgrad_a @ W + grad_a @ RW, Rgrad_a.T @ h + grad_a.T @ Rh
        R_grad_b = Rgrad_a.sum(axis=0)
        return self._like(R_grad_h, h), self._like(R_grad_W, W), self._like(R_grad_b, b)

    def bprop_needed(self, inputs, output, grad_a, needs, out=None):
        """``bprop`` with two fast paths (``bprop`` is their test oracle):

        * no grad_h = grad_a W when h needs none (h = x, the data, below the first layer);
        * one example (N = 1): grad_W = grad_a h^T is a rank-1 matrix, returned as its factors
          (an :class:`Outer`) for SGD to apply in one in-place BLAS update.
        """
        if type(self).bprop is not Linear.bprop:  # a subclass redefined the math: use it
            return self.bprop(inputs, output, grad_a)
        h, W, b = inputs
        dtype = grad_a.dtype  # (`is` first: one dtype is usually one object, cheaper than ==)
        mixed = not (dtype is h.dtype and dtype is W.dtype and dtype is b.dtype) and not (
            dtype == h.dtype == W.dtype == b.dtype
        )
        if out is not None and not mixed and grad_a.shape[0] != 1:  # into the plan's buffers
            out_h, out_W, out_b = out
            return (
                np.dot(grad_a, W, out=out_h) if needs[0] else None,
                np.dot(grad_a.T, h, out=out_W) if needs[1] else None,
                np.add.reduce(grad_a, axis=0, out=out_b) if needs[2] else None,
            )
        if not mixed:  # one dtype: the gradients need no cast (the common case, no calls)
            grad_h = np.dot(grad_a, W) if needs[0] else None
            if grad_a.shape[0] == 1:  # one example: nothing to sum over the batch
                g = grad_a[0]  # (one view for both: the same memory as two would be)
                return grad_h, Outer(g, h[0]) if needs[1] else None, g if needs[2] else None
            grad_W = np.dot(grad_a.T, h) if needs[1] else None
            return grad_h, grad_W, grad_a.sum(axis=0) if needs[2] else None
        like = self._like  # mixed precision: each gradient in its child's dtype
        grad_h = like(np.dot(grad_a, W), h) if needs[0] else None
        if grad_a.shape[0] == 1:  # one example: nothing to sum over the batch
            grad_W = Outer(like(grad_a[0], W), like(h[0], W)) if needs[1] else None
            grad_b = like(grad_a[0], b) if needs[2] else None
        else:
            grad_W = like(np.dot(grad_a.T, h), W) if needs[1] else None
            grad_b = like(grad_a.sum(axis=0), b) if needs[2] else None
        return grad_h, grad_W, grad_b

    # -- the step plan's kernels: the out= paths above, the checks done at the first step ---
    def fprop_kernel(self, inputs, out):
        """a = h W^T into ``out``, then a += b (fprop's out= path), for one dtype. For one
        example the sum is written on the row out[0]: the same additions, without the cost
        of broadcasting b over a batch of one (it is most of the call at that size)."""
        h, W, b = inputs
        if out is None or not h.dtype == W.dtype == b.dtype == out.dtype:
            return None
        dot, add = np.dot, np.add
        if out.shape[0] == 1:
            row = out[0]

            def linear_one(h, W, b):
                dot(h, W.T, out=out)
                add(row, b, out=row)  # (a += b)
                return out

            return linear_one

        def linear(h, W, b):
            dot(h, W.T, out=out)
            return add(out, b, out=out)  # (a += b)

        return linear

    def bprop_kernel(self, inputs, output, grad_a, needs, out):
        """bprop_needed's paths with ``needs`` fixed: grad_h = grad_a W, grad_W = grad_a^T h
        and grad_b = sum_t grad_a into the buffers; for one example grad_W as its factors
        (an Outer) and grad_b the row grad_a[0], as bprop_needed gives them."""
        h, W, b = inputs
        if not grad_a.dtype == h.dtype == W.dtype == b.dtype:
            return None
        out_h, out_W, out_b = out
        batch = grad_a.shape[0] != 1  # (one example: grad_W and grad_b need no buffer)
        if any(k and o is None for k, o in zip(needs, (out_h, batch and out_W, batch and out_b))):
            return None
        dot, reduce = np.dot, np.add.reduce
        want_h, want_W, want_b = needs
        if grad_a.shape[0] == 1:  # one example: the rank-1 gradient, kept as its factors

            def linear_one(inputs, output, grad_a):
                h = inputs[0]
                return (
                    dot(grad_a, inputs[1], out=out_h) if want_h else None,
                    Outer(grad_a[0], h[0]) if want_W else None,
                    grad_a[0] if want_b else None,
                )

            return linear_one

        def linear(inputs, output, grad_a):
            h, W, _ = inputs
            return (
                dot(grad_a, W, out=out_h) if want_h else None,
                dot(grad_a.T, h, out=out_W) if want_W else None,
                reduce(grad_a, axis=0, out=out_b) if want_b else None,
            )

        return linear

    def folds_weight_gradient(self) -> bool:
        """Whether grad_W is grad_a^T h as written here, so that a step plan may fold plain
        SGD's update into that product (W <- W - alpha grad_a^T h, :mod:`flowgraph.step.plan`):
        not for a subclass that redefines bprop."""
        return type(self).bprop is Linear.bprop and type(self).bprop_needed is Linear.bprop_needed

    def sample_inputs(self, rng):
        n, d_in, d_out = 4, 3, 5
        return (
            rng.standard_normal((n, d_in)),
            rng.standard_normal((d_out, d_in)),
            rng.standard_normal(d_out),
        )
