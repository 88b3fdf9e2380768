"""Function forms of the boxes: ``fg.tanh(x @ W1.T + b1)`` reads like the math.

Each function makes one node of one box, exactly as ``fg.Tanh()(a)`` does (the box is what
the checker verifies; these are spelling). A number or an array argument becomes a
:class:`~flowgraph.core.node.Constant`, as with the operators on nodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import boxes
from .core.node import Buffer, Constant, Mode, Node, RandomSource, as_node
from .errors import GraphError

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
    """The matrix product a b of (N, K) and (K, M), with ``np.matmul``'s rules for 1-D and
    batched N-D operands (a MatMul box; ``a @ b``)."""
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


def softmax(a: Any, axis: int = -1, *, name: str | None = None) -> Node:
    """The softmax of scores a along ``axis`` (row-wise on (N, C)), stable at |a| = 1e4, as
    ``torch.softmax(a, dim)`` (a Softmax box)."""
    return _one(boxes.Softmax(axis), a, name)


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


# -- array operations as NumPy and PyTorch spell them (issue 22) -------------------------------
__all__ += [
    "take_along_axis", "one_hot", "embedding", "take", "stack", "split", "swapaxes", "permute",
    "einsum", "maximum", "minimum", "where", "clip", "logsumexp", "log_softmax", "sin", "cos",
    "stop_gradient", "var", "std", "argmax", "argmin", "power", "amax", "amin", "equal",
    "not_equal",
]  # fmt: skip


def take_along_axis(x: Any, indices: Any, axis: int = -1, *, name: str | None = None) -> Node:
    """``np.take_along_axis(x, indices, axis)`` (``torch.gather``; a TakeAlongAxis box)."""
    return boxes.TakeAlongAxis(axis)(as_node(x), as_node(indices), name=name)


def take(x: Any, indices: Any, axis: int = 0, *, name: str | None = None) -> Node:
    """``np.take(x, indices, axis)``, indices a node (``torch.index_select``; a Take box)."""
    return boxes.Take(axis)(as_node(x), as_node(indices), name=name)


def embedding(indices: Any, weight: Any, *, name: str | None = None) -> Node:
    """Rows of the table ``weight`` (V, D) at integer ``indices`` of any shape, as
    ``torch.nn.functional.embedding``: shape indices.shape + (D,) (a Take box on axis 0)."""
    return boxes.Take(0)(as_node(weight), as_node(indices), name=name)


def one_hot(labels: Any, num_classes: int, *, name: str | None = None) -> Node:
    """One-hot float codes of integer labels, shape labels.shape + (C,) (a OneHot box)."""
    return _one(boxes.OneHot(num_classes), labels, name)


def stack(xs: Sequence[Any], axis: int = 0, *, name: str | None = None) -> Node:
    """Children of one shape stacked along a new axis, as ``np.stack`` (a Stack box)."""
    return boxes.Stack(axis)(*(as_node(x) for x in xs), name=name)


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Node]:
    """``np.split(x, indices_or_sections, axis)``: a list of nodes, one Split box each."""
    x = as_node(x)
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
    else:
        n = len(indices_or_sections) + 1
    return [boxes.Split(indices_or_sections, axis, part)(x) for part in range(n)]


def swapaxes(x: Any, axis1: int, axis2: int, *, name: str | None = None) -> Node:
    """Two axes exchanged, as ``np.swapaxes`` (a SwapAxes box)."""
    return _one(boxes.SwapAxes(axis1, axis2), x, name)


def permute(x: Any, axes: Sequence[int], *, name: str | None = None) -> Node:
    """The axes in the order ``axes``, as ``np.transpose(x, axes)`` (a Permute box)."""
    return _one(boxes.Permute(axes), x, name)


def einsum(spec: str, *operands: Any, name: str | None = None) -> Node:
    """``np.einsum(spec, *operands)`` (an Einsum box): ``fg.einsum("bij,bjk->bik", a, b)``."""
    return boxes.Einsum(spec)(*(as_node(x) for x in operands), name=name)


def maximum(a: Any, b: Any, *, name: str | None = None) -> Node:
    """The element-wise larger of a and b, as ``np.maximum`` (a Maximum box)."""
    return boxes.Maximum()(as_node(a), as_node(b), name=name)


def minimum(a: Any, b: Any, *, name: str | None = None) -> Node:
    """The element-wise smaller of a and b, as ``np.minimum`` (a Minimum box)."""
    return boxes.Minimum()(as_node(a), as_node(b), name=name)


def where(cond: Any, a: Any, b: Any, *, name: str | None = None) -> Node:
    """a where ``cond`` holds, b elsewhere, as ``np.where`` (a Where box)."""
    return boxes.Where()(as_node(cond), as_node(a), as_node(b), name=name)


def clip(x: Any, lo: float | None = None, hi: float | None = None, *, name=None) -> Node:
    """x limited to [lo, hi], as ``np.clip`` / ``torch.clamp`` (a Clip box)."""
    return _one(boxes.Clip(lo, hi), x, name)


def logsumexp(x: Any, axis=None, keepdims: bool = False, *, name: str | None = None) -> Node:
    """log sum exp over ``axis``, stable (a LogSumExp box)."""
    return _one(boxes.LogSumExp(axis, keepdims), x, name)


def log_softmax(a: Any, axis: int = -1, *, name: str | None = None) -> Node:
    """log softmax over ``axis``, stable at |a| = 1e4 (a LogSoftmax box)."""
    return _one(boxes.LogSoftmax(axis), a, name)


def sin(x: Any, *, name: str | None = None) -> Node:
    """sin(x), element-wise (a Sin box)."""
    return _one(boxes.Sin(), x, name)


def cos(x: Any, *, name: str | None = None) -> Node:
    """cos(x), element-wise (a Cos box)."""
    return _one(boxes.Cos(), x, name)


def stop_gradient(x: Any, *, name: str | None = None) -> Node:
    """x, through which no gradient flows back (``x.detach()``; a StopGradient box)."""
    return _one(boxes.StopGradient(), x, name)


def amax(x: Any, axis=None, keepdims: bool = False, *, name: str | None = None) -> Node:
    """The largest element over ``axis``, as ``np.max`` (a Max box; ``x.max(axis)``)."""
    return _one(boxes.Max(axis, keepdims), x, name)


def amin(x: Any, axis=None, keepdims: bool = False, *, name: str | None = None) -> Node:
    """The smallest element over ``axis``, as ``np.min`` (a Min box; ``x.min(axis)``)."""
    return _one(boxes.Min(axis, keepdims), x, name)


def var(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, *, name=None) -> Node:
    """The variance over ``axis``, as ``np.var`` (ddof=0 by default; a Var box)."""
    return _one(boxes.Var(axis, keepdims, ddof), x, name)


def std(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, *, name=None) -> Node:
    """The standard deviation over ``axis``, as ``np.std``: sqrt of a Var box (a Pow(0.5))."""
    return _one(boxes.Pow(0.5), var(x, axis, ddof, keepdims), name)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, *, name=None) -> Node:
    """The index of the largest element along ``axis``, as ``np.argmax`` (no gradient)."""
    return _one(boxes.ArgMax(axis, keepdims), x, name)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, *, name=None) -> Node:
    """The index of the smallest element along ``axis``, as ``np.argmin`` (no gradient)."""
    return _one(boxes.ArgMin(axis, keepdims), x, name)


def equal(a: Any, b: Any, *, name: str | None = None) -> Node:
    """The mask a == b, as ``np.equal`` (a Compare box; ``==`` on nodes keeps identity)."""
    return boxes.Compare("==")(as_node(a), as_node(b), name=name)


def not_equal(a: Any, b: Any, *, name: str | None = None) -> Node:
    """The mask a != b, as ``np.not_equal`` (a Compare box)."""
    return boxes.Compare("!=")(as_node(a), as_node(b), name=name)


def power(x: Any, y: Any, *, name: str | None = None) -> Node:
    """x ** y with y a node or an array, as ``np.power`` (a Power box)."""
    return boxes.Power()(as_node(x), as_node(y), name=name)


# -- convolution and pooling, as torch.nn.functional (issue 23) -------------------------------
__all__ += ["conv2d", "max_pool2d", "avg_pool2d"]


def conv2d(x: Any, weight: Any, bias: Any = None, stride=1, padding=0, *, name=None) -> Node:
    """2-D convolution of x (N, C, H, W) with W (O, C, kh, kw) and bias (O,) or None, as
    ``torch.nn.functional.conv2d`` (a Conv2d box)."""
    children = [as_node(x), as_node(weight)] + ([] if bias is None else [as_node(bias)])
    return boxes.Conv2d(stride, padding)(*children, name=name)


def max_pool2d(x: Any, kernel_size, stride=None, padding=0, *, name=None) -> Node:
    """The maximum of each window, as ``torch.nn.functional.max_pool2d`` (a MaxPool2d box)."""
    return _one(boxes.MaxPool2d(kernel_size, stride, padding), x, name)


def avg_pool2d(x: Any, kernel_size, stride=None, padding=0, *, name=None) -> Node:
    """The mean of each window, as ``torch.nn.functional.avg_pool2d`` (an AvgPool2d box)."""
    return _one(boxes.AvgPool2d(kernel_size, stride, padding), x, name)


# -- randomness, modes and state, as torch.nn.functional (issue 23) ---------------------------
__all__ += ["dropout", "batch_norm", "layer_norm", "uniform_like", "normal_like"]


def uniform_like(x: Any, key: Node | None = None, *, name: str | None = None) -> Node:
    """Uniform draws in [0, 1) of x's shape from the RandomSource ``key`` (a new one when None:
    the Graph fills every RandomSource from the step's generator)."""
    return boxes.Uniform()(as_node(x), RandomSource() if key is None else key, name=name)


def normal_like(x: Any, key: Node | None = None, *, name: str | None = None) -> Node:
    """Standard normal draws of x's shape (the reparametrisation trick's noise), as
    :func:`uniform_like`."""
    return boxes.Normal()(as_node(x), RandomSource() if key is None else key, name=name)


def dropout(x: Any, p: float = 0.5, key: Node | None = None, mode: Node | None = None, *,
            name: str | None = None) -> Node:
    """Inverted dropout, as ``torch.nn.functional.dropout``: y = x (u >= p) / (1 - p) while
    training, x in evaluation (a Dropout box on x, uniform draws from the RandomSource ``key``
    and the Mode leaf ``mode``; new leaves when None, which the Graph fills)."""
    box = boxes.Dropout(p)  # refuses p outside [0, 1) before any node is made
    x = as_node(x)
    return box(x, uniform_like(x, key), Mode() if mode is None else mode, name=name)


def batch_norm(x: Any, running_mean: Buffer, running_var: Buffer, weight: Any = None,
               bias: Any = None, mode: Node | None = None, momentum: float | None = 0.1,
               eps: float = 1e-5, *, name: str | None = None) -> Node:
    """Batch normalisation of x (N, C) or (N, C, H, W), as ``torch.nn.functional.batch_norm``
    (a BatchNorm box): batch statistics while training, the running ones in evaluation.

    ``running_mean`` and ``running_var`` are Buffers of shape (C,); with a ``momentum`` their
    updates are set here, as torch updates them in a training forward: RunningStat nodes whose
    values ``graph.update_buffers()`` copies in after the optimiser's step. ``weight`` and
    ``bias`` (gamma, beta; None: 1 and 0) and ``mode`` (a Mode leaf; None: a new one)."""
    x = as_node(x)
    C = np.shape(running_mean.value)
    for b in (running_mean, running_var):
        if not isinstance(b, Buffer):
            raise GraphError(f"batch_norm: running statistics must be Buffers, got {b!r}")
        if momentum is not None and b.update is not None:
            raise GraphError(f"batch_norm: {b.describe()} already has an update (a Buffer "
                             "updated by two batch norms): pass momentum=None to the second")
    dtype = running_mean.value.dtype
    gamma = Constant(np.ones(C, dtype)) if weight is None else as_node(weight)
    beta = Constant(np.zeros(C, dtype)) if bias is None else as_node(bias)
    mode = Mode() if mode is None else mode
    y = boxes.BatchNorm(eps)(x, gamma, beta, running_mean, running_var, mode, name=name)
    if momentum is not None:
        running_mean.update = boxes.RunningStat(momentum, "mean")(running_mean, x, mode)
        running_var.update = boxes.RunningStat(momentum, "var")(running_var, x, mode)
    return y


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5, *, name: str | None = None) -> Node:
    """Normalisation over the last axes, as ``torch.nn.functional.layer_norm``:

        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias     over the normalised axes

    built of boxes (Mean, Var, Pow, Mul, Add), each checked."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    x = as_node(x)
    axes = tuple(range(-len(shape), 0))
    centred = x - mean(x, axis=axes, keepdims=True)
    y = centred * (var(x, axis=axes, keepdims=True) + eps) ** -0.5
    y = y if weight is None else y * as_node(weight)
    return y if bias is None else boxes.Add()(y, as_node(bias), name=name)


# -- losses as torch.nn.functional spells them: options, soft targets (issue 22) ---------------
__all__ += ["nll_loss", "cross_entropy", "binary_cross_entropy_with_logits"]


def nll_loss(
    log_probs: Any, y: Any, weight=None, ignore_index: int | None = -100, reduction="mean", *,
    name: str | None = None,
) -> Node:
    """-log p_{t,y_t} from log-probabilities (N, C) and integer labels (N,), as
    ``torch.nn.functional.nll_loss`` (its defaults: label -100 ignored, the weighted mean;
    an NLLLoss box)."""
    box = boxes.NLLLoss(reduction, weight, ignore_index)
    return box(as_node(log_probs), as_node(y), name=name)


def cross_entropy(
    a: Any, y: Any, weight=None, ignore_index: int | None = -100, reduction="mean", *,
    name: str | None = None,
) -> Node:
    """-log softmax(a)_y from scores (N, C) and integer labels (N,) or soft targets (N, C)
    (rows of probabilities), as ``torch.nn.functional.cross_entropy`` (a SoftmaxCrossEntropy
    box; as in torch, an ignored label other than -100 needs integer labels)."""
    box = boxes.SoftmaxCrossEntropy(reduction, weight, ignore_index)
    return box(as_node(a), as_node(y), name=name)


def binary_cross_entropy_with_logits(
    a: Any, y: Any, weight=None, reduction="mean", *, name: str | None = None
) -> Node:
    """-[y log sigm(a) + (1 - y) log(1 - sigm(a))] from logits and 0/1 labels or soft targets
    in [0, 1], as ``torch.nn.functional.binary_cross_entropy_with_logits`` (its default: the
    mean over every element; a SigmoidCrossEntropy box)."""
    return boxes.SigmoidCrossEntropy(reduction, weight)(as_node(a), as_node(y), name=name)
