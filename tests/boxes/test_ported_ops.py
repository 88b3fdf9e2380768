"""Ported op suites: the cases of tinygrad's ``test/test_ops.py``, HIPS autograd's
``tests/test_numpy.py`` / ``test_scalar_ops.py`` / ``test_systematic.py`` and Chainer's
``tests/chainer_tests/functions_tests`` that flowgraph's operations cover, written anew (the
shapes, axes and options of each case re-expressed, not their code) as graphs of fg's public
operations, with torch.autograd as the oracle in float64: the value of each graph and the
gradient of every float input under a random cotangent must agree.

Counts (kept true by ``test_the_counts_in_this_docstring_are_the_cases``):

    origin      cases   disagreements
    tinygrad       66               0
    autograd       55               0
    chainer        59               0

Left out, because flowgraph cannot express them: einsum with a repeated subscript in one
operand (a diagonal, "ii->i"), and ops flowgraph has no box for (pad, cumsum, prod, sort,
flip, roll, erf/gelu, dropout's random draws, batch norm). Ties (max, min, maximum, abs and
relu at 0) are sampled away from, as the checker does: at a tie torch splits the gradient
where flowgraph gives it to one element (documented in boxes/reductions.py).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import flowgraph as fg

torch = pytest.importorskip("torch")
F = torch.nn.functional


class Case:
    """One ported case: ``fg_fn(*nodes)`` against ``torch_fn(*tensors)`` on inputs made from
    ``specs`` (a shape: standard normal; ("pos", shape): in [0.5, 2]; ("int", high, shape):
    integers in [0, high); an array as it is)."""

    def __init__(self, origin: str, name: str, fg_fn: Callable, torch_fn: Callable, *specs):
        self.origin, self.name, self.fg_fn, self.torch_fn, self.specs = (
            origin, name, fg_fn, torch_fn, specs)  # fmt: skip

    @property
    def id(self) -> str:
        return f"{self.origin}-{self.name}"

    def inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        out: list[Any] = []
        for s in self.specs:
            if isinstance(s, np.ndarray):
                out.append(s)
            elif s and s[0] == "pos":
                out.append(rng.uniform(0.5, 2.0, s[1]))
            elif s and s[0] == "int":
                out.append(rng.integers(0, s[1], s[2]))
            else:
                out.append(rng.standard_normal(s))
        return out


def _soft(n, c, seed=0):
    e = np.exp(np.random.default_rng(seed).standard_normal((n, c)))
    return e / e.sum(axis=1, keepdims=True)


def _distinct(shape, seed=0):
    """Values at least 0.1 apart (max, min, kinks: no ties within finite differences); two
    seeds never share a value (their grids are offset by 0.05)."""
    rng = np.random.default_rng(seed)
    return (rng.permutation(int(np.prod(shape))) * 0.1 - 1).reshape(shape) + 0.01 + 0.05 * seed


T = torch
C = Case
# -- tinygrad: test/test_ops.py (TestOps), the cases its Tensor ops share with flowgraph ------
TINYGRAD = [
    C("tinygrad", "add", lambda a, b: a + b, lambda a, b: a + b, (45, 65), (45, 65)),
    C("tinygrad", "add_broadcast", lambda a, b: a + b, lambda a, b: a + b, (45, 65), (65,)),
    C("tinygrad", "add_scalar", lambda a: a + 2, lambda a: a + 2, (45, 65)),
    C("tinygrad", "sub", lambda a, b: a - b, lambda a, b: a - b, (45, 65), (45, 65)),
    C("tinygrad", "rsub_scalar", lambda a: 3 - a, lambda a: 3 - a, (45, 65)),
    C("tinygrad", "mul", lambda a, b: a * b, lambda a, b: a * b, (64, 64), (64, 64)),
    C("tinygrad", "mul_scalar", lambda a: a * 2, lambda a: a * 2, (64, 64)),
    C("tinygrad", "div", lambda a, b: a / b, lambda a, b: a / b, (45, 65), ("pos", (45, 65))),
    C("tinygrad", "rdiv_scalar", lambda a: 2 / a, lambda a: 2 / a, ("pos", (45, 65))),
    C("tinygrad", "pow_scalar", lambda a: a**2.5, lambda a: a**2.5, ("pos", (45, 65))),
    C("tinygrad", "pow_node", lambda a, b: a**b, lambda a, b: a**b, ("pos", (45, 65)),
      (45, 65)),
    C("tinygrad", "rpow", lambda a: 2**a, lambda a: 2**a, (45, 65)),
    C("tinygrad", "sqrt", fg.sqrt, T.sqrt, ("pos", (45, 65))),
    C("tinygrad", "square", fg.square, T.square, (45, 65)),
    C("tinygrad", "neg", lambda a: -a, lambda a: -a, (45, 65)),
    C("tinygrad", "abs", abs, T.abs, _distinct((45, 65))),
    C("tinygrad", "relu", fg.relu, T.relu, _distinct((45, 65))),
    C("tinygrad", "leakyrelu", lambda a: fg.leaky_relu(a, 0.01),
      lambda a: F.leaky_relu(a, 0.01), _distinct((45, 65))),
    C("tinygrad", "exp", fg.exp, T.exp, (45, 65)),
    C("tinygrad", "log", fg.log, T.log, ("pos", (45, 65))),
    C("tinygrad", "sigmoid", fg.sigmoid, T.sigmoid, (45, 65)),
    C("tinygrad", "softplus", fg.softplus, F.softplus, (45, 65)),
    C("tinygrad", "tanh", fg.tanh, T.tanh, (45, 65)),
    C("tinygrad", "sin", fg.sin, T.sin, (45, 65)),
    C("tinygrad", "cos", fg.cos, T.cos, (45, 65)),
    C("tinygrad", "sum", lambda a: a.sum(), lambda a: a.sum(), (45, 3)),
    C("tinygrad", "sum_axis", lambda a: a.sum(axis=(1, 2)), lambda a: a.sum(dim=(1, 2)),
      (3, 4, 5, 6)),
    C("tinygrad", "sum_keepdim", lambda a: a.sum(axis=1, keepdims=True),
      lambda a: a.sum(dim=1, keepdim=True), (3, 4, 5)),
    C("tinygrad", "mean", lambda a: a.mean(), lambda a: a.mean(), (3, 4, 5)),
    C("tinygrad", "mean_axis", lambda a: a.mean(axis=(1, 2)), lambda a: a.mean(dim=(1, 2)),
      (3, 4, 5, 6)),
    C("tinygrad", "max", lambda a: a.max(), lambda a: a.max(), _distinct((45, 3))),
    C("tinygrad", "max_axis_keepdim", lambda a: a.max(axis=1, keepdims=True),
      lambda a: a.amax(dim=1, keepdim=True), _distinct((3, 4, 5))),
    C("tinygrad", "min", lambda a: a.min(axis=0), lambda a: a.amin(dim=0), _distinct((45, 3))),
    C("tinygrad", "var", lambda a: a.var(axis=1, ddof=1), lambda a: a.var(dim=1),
      (45, 65)),
    C("tinygrad", "std", lambda a: a.std(ddof=1), lambda a: a.std(), (45, 65)),
    C("tinygrad", "logsumexp", lambda a: fg.logsumexp(a, axis=1),
      lambda a: T.logsumexp(a, dim=1), (45, 65)),
    C("tinygrad", "log_softmax", fg.log_softmax, lambda a: F.log_softmax(a, dim=-1), (45, 65)),
    C("tinygrad", "log_softmax_axis0", lambda a: fg.log_softmax(a, axis=0),
      lambda a: F.log_softmax(a, dim=0), (45, 65)),
    C("tinygrad", "softmax", fg.softmax, lambda a: F.softmax(a, dim=-1), (45, 65)),
    C("tinygrad", "softmax_axis0", lambda a: fg.softmax(a, axis=0),
      lambda a: F.softmax(a, dim=0), (10, 10, 10)),
    C("tinygrad", "dot_1d", lambda a, b: a @ b, lambda a, b: a @ b, (65,), (65,)),
    C("tinygrad", "matmul_vec_mat", lambda a, b: a @ b, lambda a, b: a @ b, (65,), (65, 45)),
    C("tinygrad", "matmul", lambda a, b: a @ b, lambda a, b: a @ b, (45, 65), (65, 100)),
    C("tinygrad", "matmul_batched", lambda a, b: a @ b, lambda a, b: a @ b, (4, 45, 65),
      (4, 65, 45)),
    C("tinygrad", "matmul_broadcast", lambda a, b: a @ b, lambda a, b: a @ b, (4, 1, 5, 6),
      (3, 6, 2)),
    C("tinygrad", "einsum_matmul", lambda a, b: fg.einsum("ij,jk->ik", a, b),
      lambda a, b: T.einsum("ij,jk->ik", a, b), (5, 6), (6, 7)),
    C("tinygrad", "einsum_batched", lambda a, b: fg.einsum("bij,bjk->bik", a, b),
      lambda a, b: T.einsum("bij,bjk->bik", a, b), (3, 5, 6), (3, 6, 7)),
    C("tinygrad", "einsum_trace_free_sum", lambda a: fg.einsum("ij->", a),
      lambda a: T.einsum("ij->", a), (5, 6)),
    C("tinygrad", "transpose", lambda a: a.transpose(1, 0, 2), lambda a: a.permute(1, 0, 2),
      (3, 4, 5)),
    C("tinygrad", "permute", lambda a: a.permute((3, 0, 2, 1)),
      lambda a: a.permute(3, 0, 2, 1), (1, 2, 3, 4)),
    C("tinygrad", "reshape_minus_one", lambda a: a.reshape(-1, 4), lambda a: a.reshape(-1, 4),
      (4, 3, 6, 6)),
    C("tinygrad", "flatten", lambda a: a.flatten(1), lambda a: a.flatten(1), (4, 3, 6, 6)),
    C("tinygrad", "slice", lambda a: a[1:3, ::2], lambda a: a[1:3, ::2], (4, 6)),
    C("tinygrad", "slice_negative_none", lambda a: a[None, -2:, ..., 1],
      lambda a: a[None, -2:, ..., 1], (4, 5, 6)),
    C("tinygrad", "gather", lambda a, i: fg.take_along_axis(a, i, axis=1),
      lambda a, i: T.gather(a, 1, i), (4, 5, 3), ("int", 5, (4, 2, 3))),
    C("tinygrad", "cat", lambda a, b: fg.concat([a, b], axis=1),
      lambda a, b: T.cat([a, b], dim=1), (4, 3), (4, 5)),
    C("tinygrad", "stack", lambda a, b: fg.stack([a, b], axis=1),
      lambda a, b: T.stack([a, b], dim=1), (45, 65), (45, 65)),
    C("tinygrad", "clip", lambda a: fg.clip(a, -0.8, 0.8), lambda a: T.clamp(a, -0.8, 0.8),
      _distinct((45, 65))),
    C("tinygrad", "maximum", fg.maximum, T.maximum, _distinct((45, 65)),
      _distinct((45, 65), 1)),
    C("tinygrad", "where", lambda c, a, b: fg.where(c > 0, a, b),
      lambda c, a, b: T.where(c > 0, a, b), (45, 65), (45, 65), (45, 65)),
    C("tinygrad", "cmp_lt", lambda a, b: a < b, lambda a, b: a < b, (45, 65), (45, 65)),
    C("tinygrad", "cmp_ge_broadcast", lambda a, b: a >= b, lambda a, b: a >= b, (45, 65),
      (65,)),
    C("tinygrad", "cmp_eq", fg.equal, T.eq, ("int", 3, (45, 65)), ("int", 3, (45, 65))),
    C("tinygrad", "argmax", lambda a: fg.argmax(a, axis=1), lambda a: T.argmax(a, dim=1),
      _distinct((45, 65))),
    C("tinygrad", "cross_entropy", lambda a, y: fg.cross_entropy(a, y),
      lambda a, y: F.cross_entropy(a, y), (32, 10), ("int", 10, (32,))),
    C("tinygrad", "binary_crossentropy_logits",
      lambda a, y: fg.binary_cross_entropy_with_logits(a, y),
      lambda a, y: F.binary_cross_entropy_with_logits(a, y), (32, 10), _soft(32, 10)),
]

# -- HIPS autograd: tests/test_numpy.py, test_scalar_ops.py, test_systematic.py --------------
AUTOGRAD = [
    C("autograd", f"binary_{op}_{sa}_{sb}", f, g, sa, ("pos", sb))
    for op, f, g in [
        ("add", lambda a, b: a + b, lambda a, b: a + b),
        ("subtract", lambda a, b: a - b, lambda a, b: a - b),
        ("multiply", lambda a, b: a * b, lambda a, b: a * b),
        ("true_divide", lambda a, b: a / b, lambda a, b: a / b),
        ("maximum", fg.maximum, T.maximum),
    ]
    for sa, sb in [((3,), (3,)), ((2, 3), (3,)), ((1, 3), (2, 1)), ((), (2, 3))]
] + [
    C("autograd", "power_arrays", lambda a, b: a**b, lambda a, b: a**b, ("pos", (2, 3)),
      (2, 3)),
    C("autograd", "sum_3d_axis", lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), (2, 3, 4)),
    C("autograd", "sum_negative_axis", lambda a: a.sum(axis=-1, keepdims=True),
      lambda a: a.sum(dim=-1, keepdim=True), (2, 3, 4)),
    C("autograd", "mean_axis", lambda a: a.mean(axis=0), lambda a: a.mean(dim=0), (5, 3)),
    C("autograd", "var_ddof", lambda a: a.var(axis=1, ddof=1),
      lambda a: a.var(dim=1, correction=1), (5, 4)),
    C("autograd", "std_keepdims", lambda a: a.std(axis=0, keepdims=True),
      lambda a: a.std(dim=0, correction=0, keepdim=True), (5, 4)),
    C("autograd", "max_axis", lambda a: a.max(axis=1), lambda a: a.amax(dim=1),
      _distinct((3, 4, 5))),
    C("autograd", "min_keepdims", lambda a: a.min(axis=(0, 2), keepdims=True),
      lambda a: a.amin(dim=(0, 2), keepdim=True), _distinct((3, 4, 5))),
    C("autograd", "dot_matrix_vector", lambda a, b: a @ b, lambda a, b: a @ b, (4, 5), (5,)),
    C("autograd", "dot_vector_matrix", lambda a, b: a @ b, lambda a, b: a @ b, (5,), (5, 4)),
    C("autograd", "matmul_3d_2d", lambda a, b: a @ b, lambda a, b: a @ b, (2, 3, 4), (4, 5)),
    C("autograd", "matmul_vec_3d", lambda a, b: a @ b, lambda a, b: a @ b, (4,), (2, 4, 5)),
    C("autograd", "tensordot_as_einsum", lambda a, b: fg.einsum("ijk,jkl->il", a, b),
      lambda a, b: T.tensordot(a, b, dims=([1, 2], [0, 1])), (2, 3, 4), (3, 4, 5)),
    C("autograd", "einsum_outer", lambda a, b: fg.einsum("i,j->ij", a, b),
      lambda a, b: T.einsum("i,j->ij", a, b), (3,), (4,)),
    C("autograd", "einsum_transpose", lambda a: fg.einsum("ij->ji", a),
      lambda a: T.einsum("ij->ji", a), (3, 4)),
    C("autograd", "einsum_bilinear", lambda x, A, y: fg.einsum("i,ij,j->", x, A, y),
      lambda x, A, y: T.einsum("i,ij,j->", x, A, y), (3,), (3, 4), (4,)),
    C("autograd", "einsum_three", lambda a, b, c: fg.einsum("ij,jk,kl->il", a, b, c),
      lambda a, b, c: T.einsum("ij,jk,kl->il", a, b, c), (2, 3), (3, 4), (4, 5)),
    C("autograd", "transpose_axes", lambda a: a.transpose(2, 0, 1),
      lambda a: a.permute(2, 0, 1), (2, 3, 4)),
    C("autograd", "swapaxes", lambda a: a.swapaxes(0, 2), lambda a: a.swapaxes(0, 2),
      (2, 3, 4)),
    C("autograd", "reshape", lambda a: a.reshape((6, -1)), lambda a: a.reshape(6, -1),
      (2, 3, 4)),
    C("autograd", "concatenate", lambda a, b: fg.concat([a, b], axis=0),
      lambda a, b: T.cat([a, b], 0), (2, 3), (4, 3)),
    C("autograd", "stack_axis_last", lambda a, b: fg.stack([a, b], axis=-1),
      lambda a, b: T.stack([a, b], -1), (2, 3), (2, 3)),
    C("autograd", "split_sections", lambda a: fg.split(a, 3, axis=1)[1],
      lambda a: T.tensor_split(a, 3, dim=1)[1], (2, 6)),
    C("autograd", "split_indices", lambda a: fg.split(a, [1, 4], axis=0)[2],
      lambda a: T.tensor_split(a, [1, 4], dim=0)[2], (6, 2)),
    C("autograd", "index_int_array_repeated", lambda a: a[np.array([0, 2, 0, 0])],
      lambda a: a[T.tensor([0, 2, 0, 0])], (4, 3)),
    C("autograd", "index_slices", lambda a: a[:, 1:], lambda a: a[:, 1:], (4, 3)),
    C("autograd", "clip", lambda a: fg.clip(a, -0.5, 0.3), lambda a: T.clamp(a, -0.5, 0.3),
      _distinct((4, 5))),
    C("autograd", "where", lambda a, b: fg.where(a > b, a, b * 2),
      lambda a, b: T.where(a > b, a, b * 2), _distinct((3, 4)), _distinct((3, 4), 1)),
    C("autograd", "abs", abs, T.abs, _distinct((3, 4))),
    C("autograd", "greater_mask_times", lambda a, b: (a > b) * a,
      lambda a, b: (a > b) * a, _distinct((3, 4)), _distinct((3, 4), 1)),
    C("autograd", "scalar_sin_cos", lambda a: fg.sin(a) * fg.cos(a),
      lambda a: T.sin(a) * T.cos(a), (5,)),
    C("autograd", "scalar_exp_log", lambda a: fg.log(fg.exp(a) + 1),
      lambda a: T.log(T.exp(a) + 1), (5,)),
    C("autograd", "scalar_tanh_power", lambda a: fg.tanh(a) ** 3, lambda a: T.tanh(a) ** 3, (5,)),
    C("autograd", "logsumexp_scipy", lambda a: fg.logsumexp(a), lambda a: T.logsumexp(
        a, dim=(0, 1)), (3, 4)),
    C("autograd", "logsumexp_keepdims", lambda a: fg.logsumexp(a, axis=0, keepdims=True),
      lambda a: T.logsumexp(a, dim=0, keepdim=True), (3, 4)),
]

# -- Chainer: tests/chainer_tests/functions_tests (activation, array, math, loss, ...) -------
CHAINER = [
    C("chainer", f"softmax_axis{axis}", lambda a, ax=axis: fg.softmax(a, axis=ax),
      lambda a, ax=axis: F.softmax(a, dim=ax), (2, 3, 4))
    for axis in (0, 1, 2)
] + [
    C("chainer", f"log_softmax_axis{axis}", lambda a, ax=axis: fg.log_softmax(a, axis=ax),
      lambda a, ax=axis: F.log_softmax(a, dim=ax), (2, 3, 4))
    for axis in (0, 1, 2)
] + [
    C("chainer", f"matmul_{sa}_{sb}", lambda a, b: a @ b, lambda a, b: a @ b, sa, sb)
    for sa, sb in [((2, 5), (5, 10)), ((3, 2, 5), (3, 5, 4)), ((3, 2, 5), (5, 4)),
                   ((2, 5), (3, 5, 4)), ((5,), (5,)), ((2, 1, 2, 5), (3, 5, 4))]
] + [
    C("chainer", f"sum_axis{axis}_keepdims{k}", lambda a, ax=axis, k=k: a.sum(ax, k),
      lambda a, ax=axis, k=k: a.sum(dim=ax, keepdim=k), (3, 2, 4))
    for axis in (0, 1, 2, -1, (0, 1)) for k in (False, True)
] + [
    C("chainer", f"max_axis{axis}", lambda a, ax=axis: a.max(axis=ax),
      lambda a, ax=axis: a.amax(dim=ax), _distinct((3, 2, 4)))
    for axis in (0, 1, 2, -1, (1, 2))
] + [
    C("chainer", "greater_equal", lambda a, b: a >= b, lambda a, b: a >= b, (3, 2), (3, 2)),
    C("chainer", "not_equal", fg.not_equal, T.ne, ("int", 2, (3, 2)), ("int", 2, (3, 2))),
    C("chainer", "argmin_keepdims", lambda a: fg.argmin(a, axis=0, keepdims=True),
      lambda a: T.argmin(a, dim=0, keepdim=True), _distinct((3, 2))),
    C("chainer", "relu", fg.relu, F.relu, _distinct((3, 2))),
    C("chainer", "leaky_relu", lambda a: fg.leaky_relu(a, 0.2),
      lambda a: F.leaky_relu(a, 0.2), _distinct((3, 2))),
    C("chainer", "sigmoid", fg.sigmoid, T.sigmoid, (3, 2)),
    C("chainer", "tanh", fg.tanh, T.tanh, (3, 2)),
    C("chainer", "softplus", fg.softplus, F.softplus, (3, 2)),
    C("chainer", "linear", lambda x, W, b: fg.linear(x, W, b),
      lambda x, W, b: F.linear(x, W, b), (4, 3), (2, 3), (2,)),
    C("chainer", "concat_axis1", lambda a, b: fg.concat([a, b], axis=1),
      lambda a, b: T.cat([a, b], 1), (2, 3, 4), (2, 5, 4)),
    C("chainer", "stack_axis1", lambda a, b: fg.stack([a, b], axis=1),
      lambda a, b: T.stack([a, b], 1), (3, 4), (3, 4)),
    C("chainer", "split_axis", lambda a: fg.split(a, [2, 3], axis=1)[0],
      lambda a: T.tensor_split(a, [2, 3], dim=1)[0], (3, 5)),
    C("chainer", "get_item_ellipsis", lambda a: a[..., 1], lambda a: a[..., 1], (4, 3, 2)),
    C("chainer", "get_item_advanced", lambda a: a[np.array([[0, 1], [1, 1]])],
      lambda a: a[T.tensor([[0, 1], [1, 1]])], (4, 3)),
    C("chainer", "transpose", lambda a: a.transpose(), lambda a: a.permute(2, 1, 0), (4, 3, 2)),
    C("chainer", "swapaxes", lambda a: a.swapaxes(0, 1), lambda a: a.swapaxes(0, 1), (4, 3, 2)),
    C("chainer", "reshape", lambda a: a.reshape((2, 2, 3)), lambda a: a.reshape(2, 2, 3),
      (4, 3)),
    C("chainer", "where", lambda c, a, b: fg.where(c < 0, a, b),
      lambda c, a, b: T.where(c < 0, a, b), (3, 2), (3, 2), (3, 2)),
    C("chainer", "minimum", fg.minimum, T.minimum, _distinct((3, 2)), _distinct((3, 2), 1)),
    C("chainer", "clip", lambda a: fg.clip(a, -0.75, 0.75), lambda a: T.clamp(a, -0.75, 0.75),
      _distinct((3, 2))),
    C("chainer", "sqrt", fg.sqrt, T.sqrt, ("pos", (3, 2))),
    C("chainer", "square", fg.square, T.square, (3, 2)),
    C("chainer", "absolute", abs, T.abs, _distinct((3, 2))),
    C("chainer", "logsumexp_axis", lambda a: fg.logsumexp(a, axis=(0, 2)),
      lambda a: T.logsumexp(a, dim=(0, 2)), (3, 2, 4)),
    C("chainer", "softmax_cross_entropy", lambda a, y: fg.cross_entropy(a, y),
      lambda a, y: F.cross_entropy(a, y), (4, 3), ("int", 3, (4,))),
    C("chainer", "softmax_cross_entropy_weight_ignore",
      lambda a, y: fg.cross_entropy(a, y, weight=(1.0, 2.0, 0.5), ignore_index=1,
                                    reduction="sum"),
      lambda a, y: F.cross_entropy(a, y, weight=T.tensor([1.0, 2.0, 0.5], dtype=T.float64),
                                   ignore_index=1, reduction="sum"),
      (6, 3), np.array([0, 1, 2, 1, 0, 2])),
    C("chainer", "softmax_cross_entropy_none", lambda a, y: fg.cross_entropy(
        a, y, reduction="none"), lambda a, y: F.cross_entropy(a, y, reduction="none"),
      (4, 3), ("int", 3, (4,))),
    C("chainer", "sigmoid_cross_entropy", lambda a, y: fg.binary_cross_entropy_with_logits(
        a, y, reduction="none"), lambda a, y: F.binary_cross_entropy_with_logits(
        a, y.double(), reduction="none"), (4, 3), ("int", 2, (4, 3))),
    C("chainer", "mean_squared_error", lambda f, t: fg.squared_error(f, t),
      lambda f, t: ((f - t) ** 2).sum() / (2 * len(f)), (4, 3), (4, 3)),
    C("chainer", "convolution_2d", lambda x, W, b: fg.conv2d(x, W, b, stride=2, padding=1),
      lambda x, W, b: F.conv2d(x, W, b, stride=2, padding=1), (2, 3, 5, 5), (2, 3, 3, 3),
      (2,)),
    C("chainer", "average_pooling_2d", lambda x: fg.avg_pool2d(x, 2),
      lambda x: F.avg_pool2d(x, 2), (2, 3, 4, 4)),
    C("chainer", "max_pooling_2d", lambda x: fg.max_pool2d(x, 2), lambda x: F.max_pool2d(x, 2),
      _distinct((2, 3, 4, 4))),
]

CASES = TINYGRAD + AUTOGRAD + CHAINER


def disagreement(case: Case, seed: int = 0) -> str | None:
    """None when flowgraph and torch agree on ``case`` (value, and the gradient of every float
    input under a random cotangent), else what differs."""
    rng = np.random.default_rng(seed)
    xs = case.inputs(rng)
    nodes = [fg.Input(f"x{i}") for i in range(len(xs))]
    out = case.fg_fn(*nodes)
    graph = fg.Graph(out)
    value = np.asarray(graph.fprop(dict(zip(nodes, xs))))
    ts = [T.tensor(x, requires_grad=np.asarray(x).dtype.kind == "f") for x in xs]
    expected = case.torch_fn(*ts)
    if value.shape != tuple(expected.shape):
        return f"shape {value.shape} against torch's {tuple(expected.shape)}"
    if not np.allclose(value, expected.detach().numpy(), rtol=1e-10, atol=1e-12):
        return "values differ"
    floats = [(n, t) for n, t, x in zip(nodes, ts, xs) if np.asarray(x).dtype.kind == "f"]
    if not expected.requires_grad or not floats:
        return None
    R = rng.standard_normal(value.shape)
    graph.bprop(wrt=[n for n, _ in floats], grad_output=R)
    grads = T.autograd.grad(expected, [t for _, t in floats], T.tensor(R), allow_unused=True)
    for (node, _), g in zip(floats, grads):
        want = np.zeros(node.grad.shape) if g is None else g.numpy()
        if not np.allclose(node.grad, want, rtol=1e-9, atol=1e-11):
            return f"gradient of {node.name} differs by {np.max(np.abs(node.grad - want)):.2e}"
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_ported_case_agrees_with_torch(case):
    assert disagreement(case) is None, disagreement(case)


def test_case_names_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


def test_the_counts_in_this_docstring_are_the_cases():
    counts = Counter(c.origin for c in CASES)
    table = dict(re.findall(r"^\s+(\w+)\s+(\d+)\s+0$", __doc__, re.M))
    assert {k: int(v) for k, v in table.items()} == dict(counts)
