"""The matrix product, with NumPy's matmul semantics (``a @ b``: 1-D operands, stacks of
matrices, broadcast batch axes), and the transpose (``x.T``). Linear is b + h W^T.
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like, unbroadcast


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

    def fprop_kernel(self, inputs, out):
        """fprop's out= path for matrices (N, K) @ (K, M) of one dtype."""
        a, b = inputs
        if out is None or a.ndim != 2 or b.ndim != 2 or not a.dtype == b.dtype == out.dtype:
            return None
        matmul = np.matmul
        return lambda a, b: matmul(a, b, out=out)

    def bprop_kernel(self, inputs, y, grad_y, needs, out):
        """bprop's out= path for matrices of one dtype, each gradient only where needed."""
        a, b = inputs
        out_a, out_b = out
        if a.ndim != 2 or b.ndim != 2 or not a.dtype == b.dtype == grad_y.dtype:
            return None
        if (needs[0] and out_a is None) or (needs[1] and out_b is None):
            return None
        matmul, want_a, want_b = np.matmul, needs[0], needs[1]

        def matmul_bprop(inputs, y, grad_y):
            a, b = inputs
            return (
                matmul(grad_y, b.T, out=out_a) if want_a else None,
                matmul(a.T, grad_y, out=out_b) if want_b else None,
            )

        return matmul_bprop

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
