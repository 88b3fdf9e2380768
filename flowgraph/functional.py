"""Function forms of the boxes: ``fg.tanh(x @ W1.T + b1)`` reads like the math.

Each function makes one node of one box, exactly as ``fg.Tanh()(a)`` does (the box is what
the checker verifies; these are spelling). A number or an array argument becomes a
:class:`~flowgraph.core.node.Constant`, as with the operators on nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import boxes
from .core.node import Node, as_node

__all__ = [
    "exp", "log", "tanh", "sigmoid", "relu", "softplus", "leaky_relu", "abs", "square",
    "sqrt", "matmul", "transpose", "concat", "sum", "mean", "reshape", "softmax",
    "squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy", "hinge", "linear",
]  # fmt: skip


def _one(box: boxes.Box, x: Any, name: str | None) -> Node:
    return box(as_node(x), name=name)


def exp(x: Any, *, name: str | None = None) -> Node:
    """exp(x), element-wise (an Exp box)."""
    return _one(boxes.Exp(), x, name)


def log(x: Any, *, name: str | None = None) -> Node:
    """log(x), element-wise, x > 0 (a Log box)."""
    return _one(boxes.Log(), x, name)


def tanh(a: Any, *, name: str | None = None) -> Node:
    """tanh(a), element-wise (a Tanh box)."""
    return _one(boxes.Tanh(), a, name)


def sigmoid(a: Any, *, name: str | None = None) -> Node:
    """sigm(a) = 1 / (1 + exp(-a)), element-wise (a Sigmoid box)."""
    return _one(boxes.Sigmoid(), a, name)


def relu(a: Any, *, name: str | None = None) -> Node:
    """max(0, a), element-wise (a ReLU box)."""
    return _one(boxes.ReLU(), a, name)


def softplus(a: Any, *, name: str | None = None) -> Node:
    """log(1 + exp(a)), element-wise (a Softplus box)."""
    return _one(boxes.Softplus(), a, name)


def leaky_relu(a: Any, slope: float = 0.01, *, name: str | None = None) -> Node:
    """a if a > 0 else slope a, element-wise (a LeakyReLU box)."""
    return _one(boxes.LeakyReLU(slope), a, name)


def abs(x: Any, *, name: str | None = None) -> Node:  # noqa: A001 (fg.abs, like np.abs)
    """|x|, element-wise (an Abs box)."""
    return _one(boxes.Abs(), x, name)


def square(x: Any, *, name: str | None = None) -> Node:
    """x^2, element-wise (a Square box)."""
    return _one(boxes.Square(), x, name)


def sqrt(x: Any, *, name: str | None = None) -> Node:
    """x^(1/2), element-wise, x > 0 (a Pow(0.5) box)."""
    return _one(boxes.Pow(0.5), x, name)


def matmul(a: Any, b: Any, *, name: str | None = None) -> Node:
    """The matrix product a b of (N, K) and (K, M) (a MatMul box; ``a @ b``)."""
    return boxes.MatMul()(as_node(a), as_node(b), name=name)


def transpose(x: Any, *, name: str | None = None) -> Node:
    """x^T (a Transpose box; ``x.T``)."""
    return _one(boxes.Transpose(), x, name)


def concat(xs: Sequence[Any], axis: int = 0, *, name: str | None = None) -> Node:
    """[x_1, ..., x_n] joined along ``axis`` (a Concat box), as ``np.concatenate``: axis 0
    by default (``axis=-1`` joins features, as a skip connection's [h, x])."""
    return boxes.Concat(axis)(*(as_node(x) for x in xs), name=name)


def sum(  # noqa: A001 (fg.sum, like np.sum)
    x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False, *, name=None
) -> Node:
    """The sum over ``axis`` (None: every element) (a Sum box; ``x.sum(axis)``)."""
    return _one(boxes.Sum(axis, keepdims), x, name)


def mean(
    x: Any, axis: int | Sequence[int] | None = None, keepdims: bool = False, *, name=None
) -> Node:
    """The mean over ``axis`` (None: every element) (a Mean box; ``x.mean(axis)``)."""
    return _one(boxes.Mean(axis, keepdims), x, name)


def reshape(x: Any, shape: int | Sequence[int], *, name: str | None = None) -> Node:
    """The same values in another shape (a Reshape box; ``x.reshape(shape)``)."""
    return _one(boxes.Reshape(shape), x, name)


def softmax(a: Any, *, name: str | None = None) -> Node:
    """The row-wise softmax of scores a of shape (N, C) (a Softmax box)."""
    return _one(boxes.Softmax(), a, name)


def linear(h: Any, W: Any, b: Any, *, name: str | None = None) -> Node:
    """The pre-activation b + W h, batched h W^T + b (a Linear box)."""
    return boxes.Linear()(as_node(h), as_node(W), as_node(b), name=name)


def squared_error(f: Any, t: Any, *, name: str | None = None) -> Node:
    """1/N sum_t ||f_t - t_t||^2 / 2 (a SquaredError box)."""
    return boxes.SquaredError()(as_node(f), as_node(t), name=name)


def sigmoid_cross_entropy(a: Any, y: Any, *, name: str | None = None) -> Node:
    """The binary cross-entropy of logits a and 0/1 labels y (a SigmoidCrossEntropy box)."""
    return boxes.SigmoidCrossEntropy()(as_node(a), as_node(y), name=name)


def softmax_cross_entropy(a: Any, y: Any, *, name: str | None = None) -> Node:
    """The mean -log softmax(a)_y of scores a and integer labels y (SoftmaxCrossEntropy)."""
    return boxes.SoftmaxCrossEntropy()(as_node(a), as_node(y), name=name)


def hinge(a: Any, y: Any, *, name: str | None = None) -> Node:
    """The Crammer-Singer multi-class hinge of scores a and integer labels y (a Hinge box)."""
    return boxes.Hinge()(as_node(a), as_node(y), name=name)
