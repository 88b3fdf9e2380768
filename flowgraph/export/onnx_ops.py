"""The table of ONNX counterparts: box class -> the function writing its ONNX node(s).

Each emitter is called as ``emit(g, node, inputs, output)``: ``g`` the graph being written
(:class:`~flowgraph.export.onnx.OnnxWriter`: ``g.op(op_type, inputs, output, **attributes)``
adds a node and returns its output's name, ``g.const(array, hint)`` an initializer's name,
``g.dtype`` the exported float dtype), ``node`` the flowgraph node (its box holds the
constants: an axis, a slope, an exponent), ``inputs`` the ONNX names of its children's values
in order and ``output`` the name its value must get. The ONNX operator computes the box's
fprop, the same function of the same arrays:

    Linear         a = h W^T + b               Gemm(h, W, b, transB=1)
    Tanh, Sigmoid, ReLU, Exp, Log, Abs, Neg, Identity    the same names
    Softplus       max(a, 0) + log(1 + exp(-|a|))    Relu, Abs, Neg, Exp, Add, Log
    LeakyReLU      a if a > 0 else slope a     LeakyRelu(alpha=slope)
    Softmax        exp(a_c) / sum exp(a_c')    Softmax(axis=-1), row by row
    Add (n-ary)    x_1 + ... + x_n             Sum (NumPy broadcasting, as ONNX's)
    Sub, Mul, Div, MatMul                      the same names (NumPy broadcasting)
    Scale(c)       c x                         Mul(x, c)
    Square         x^2                         Mul(x, x);   Pow(p): Pow(x, p)
    Transpose      axes reversed               Transpose (no perm: reversed)
    Sum, Mean      over axis (all: None)       ReduceSum, ReduceMean (keepdims as the box's)
    Reshape        C order, -1 inferred        Reshape (allowzero when a 0 is asked for)
    Concat(axis)                               Concat(axis)

    Conv2d, MaxPool2d, AvgPool2d               Conv, MaxPool, AveragePool (NCHW, symmetric pads)
    Flatten(1), Permute, Stack, Einsum         Flatten, Transpose(perm), Unsqueeze + Concat,
                                               Einsum
    Max, Min, LogSumExp, LogSoftmax            ReduceMax, ReduceMin, ReduceLogSumExp,
                                               LogSoftmax
    Maximum, Minimum, Clip, Sin, Cos, Power    Max, Min, Clip, Sin, Cos, Pow

    Take, TakeAlongAxis, SwapAxes, Split       Gather, GatherElements, Transpose(perm), Slice
    Compare, Where, StopGradient               Less ... Equal (Not for !=), Where, Identity
    ArgMax, ArgMin, OneHot, Var                ArgMax, ArgMin (int64), OneHot, ReduceMean of
                                               the squared deviations (times n / (n - ddof))
    Dropout, BatchNorm                         evaluation mode, as predict computes: Identity
                                               of x, BatchNormalization with the running
                                               statistics (an emitter's ``reads`` lists the
                                               children it reads; the others are not written)

Indices (Take, TakeAlongAxis) are cast to int64 and conditions (Where) to bool in the file, so
they may be fed as floats. (onnxruntime runs Conv and AveragePool in float32 only: export a
convnet with ``dtype=np.float32``.) Adding a box is one entry in :data:`ONNX_OPS`. A box is
looked up by its exact class: a subclass computes something else until it has an entry of its
own. Blocks are not in the table: their inner graph is written in their place
(:mod:`flowgraph.export.onnx`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, cast

import numpy as np

from ..boxes import (
    Abs,
    Add,
    ArgMax,
    ArgMin,
    AvgPool2d,
    BatchNorm,
    Clip,
    Compare,
    Concat,
    Conv2d,
    Cos,
    Div,
    Dropout,
    Einsum,
    Exp,
    Flatten,
    Identity,
    LeakyReLU,
    Linear,
    Log,
    LogSoftmax,
    LogSumExp,
    MatMul,
    Max,
    Maximum,
    MaxPool2d,
    Mean,
    Min,
    Minimum,
    Mul,
    Neg,
    OneHot,
    Permute,
    Pow,
    Power,
    ReLU,
    Reshape,
    Scale,
    Sigmoid,
    Sin,
    Softmax,
    Softplus,
    Split,
    Square,
    Stack,
    StopGradient,
    Sub,
    Sum,
    SwapAxes,
    Take,
    TakeAlongAxis,
    Tanh,
    Transpose,
    Var,
    Where,
)
from ..core import Box, Constant, Mode, Node

__all__ = ["Emitter", "ONNX_OPS", "same", "reads", "emitter_for"]

# (writer, node, input names, output name) -> None
Emitter = Callable[[Any, Node, list, str], None]


def same(op_type: str, **attributes: Any) -> Emitter:
    """The emitter of a box whose ONNX operator takes the same inputs in the same order."""

    def emit(g: Any, node: Node, inputs: list, output: str) -> None:
        g.op(op_type, inputs, output, **attributes)

    emit.__name__ = f"same_{op_type}"
    return emit


def linear(g: Any, node: Node, inputs: list, output: str) -> None:
    """a = h W^T + b: Gemm(h, W, b) with W transposed (Gemm's C is broadcast over rows)."""
    g.op("Gemm", inputs, output, transB=1)


def add(g: Any, node: Node, inputs: list, output: str) -> None:
    """x_1 + ... + x_n: Add for two, Sum for more (both broadcast as NumPy), Identity for one."""
    op = {1: "Identity", 2: "Add"}.get(len(inputs), "Sum")
    g.op(op, inputs, output)


def scale(g: Any, node: Node, inputs: list, output: str) -> None:
    """c x: Mul(x, c)."""
    g.op("Mul", [inputs[0], g.const(np.asarray(cast(Scale, node.box).c), "c")], output)


def square(g: Any, node: Node, inputs: list, output: str) -> None:
    """x^2: Mul(x, x)."""
    g.op("Mul", [inputs[0], inputs[0]], output)


def power(g: Any, node: Node, inputs: list, output: str) -> None:
    """x^p: Pow(x, p), p a scalar of the exported float dtype."""
    g.op("Pow", [inputs[0], g.const(np.asarray(cast(Pow, node.box).p), "p")], output)


def softplus(g: Any, node: Node, inputs: list, output: str) -> None:
    """max(a, 0) + log(1 + exp(-|a|)), the box's own form (it never overflows; onnxruntime
    has no float64 Softplus)."""
    a = inputs[0]
    tail = g.op("Exp", [g.op("Neg", [g.op("Abs", [a])])])
    g.op("Add", [g.op("Relu", [a]), g.op("Log", [g.op("Add", [g.const(1.0, "one"), tail])])],
         output)  # fmt: skip


def leaky_relu(g: Any, node: Node, inputs: list, output: str) -> None:
    """a if a > 0 else slope a: LeakyRelu(alpha=slope)."""
    g.op("LeakyRelu", inputs, output, alpha=float(cast(LeakyReLU, node.box).slope))


def softmax(g: Any, node: Node, inputs: list, output: str) -> None:
    """Row by row over the last axis, as the box (opset >= 13: over that axis alone)."""
    g.op("Softmax", inputs, output, axis=-1)


def _axes(axis: int | tuple[int, ...]) -> np.ndarray:
    return np.asarray([axis] if isinstance(axis, int) else list(axis), dtype=np.int64)


def reduce_sum(g: Any, node: Node, inputs: list, output: str) -> None:
    """sum over the box's axes (all for None): ReduceSum, its axes an input (opset >= 13)."""
    box = cast(Sum, node.box)
    axes = [] if box.axis is None else [g.const(_axes(box.axis), "axes", cast=False)]
    g.op("ReduceSum", [inputs[0], *axes], output, keepdims=int(box.keepdims))


def reduce_mean(g: Any, node: Node, inputs: list, output: str) -> None:
    """mean over the box's axes (all for None): ReduceMean, its axes an attribute (opset 17)."""
    box = cast(Mean, node.box)
    axes = {} if box.axis is None else {"axes": _axes(box.axis).tolist()}
    g.op("ReduceMean", inputs, output, keepdims=int(box.keepdims), **axes)


def reshape(g: Any, node: Node, inputs: list, output: str) -> None:
    """The same elements in the box's shape; a 0 means an empty axis, as in NumPy (allowzero),
    not ONNX's default 'copy this axis'."""
    box = cast(Reshape, node.box)
    shape = np.asarray(box.shape, dtype=np.int64)
    zero = {"allowzero": 1} if 0 in box.shape else {}
    g.op("Reshape", [inputs[0], g.const(shape, "shape", cast=False)], output, **zero)


def concat(g: Any, node: Node, inputs: list, output: str) -> None:
    """The children joined along the box's axis."""
    g.op("Concat", inputs, output, axis=cast(Concat, node.box).axis)


def conv(g: Any, node: Node, inputs: list, output: str) -> None:
    """The box's cross-correlation: Conv(x, W[, b]) with its strides and symmetric pads."""
    box = cast(Conv2d, node.box)
    (ph, pw), (kh, kw) = box.padding, node.children[1].value.shape[2:] if \
        node.children[1].value is not None else (None, None)
    attrs: dict[str, Any] = {"strides": list(box.stride), "pads": [ph, pw, ph, pw]}
    if kh is not None:
        attrs["kernel_shape"] = [kh, kw]
    g.op("Conv", inputs, output, **attrs)


def pool(op_type: str) -> Emitter:
    """MaxPool / AveragePool with the box's kernel, strides and pads (average counts the
    zero padding, as the box and torch's default)."""

    def emit(g: Any, node: Node, inputs: list, output: str) -> None:
        box = cast("MaxPool2d | AvgPool2d", node.box)
        (ph, pw) = box.padding
        extra = {"count_include_pad": 1} if op_type == "AveragePool" else {}
        g.op(op_type, inputs, output, kernel_shape=list(box.kernel_size),
             strides=list(box.stride), pads=[ph, pw, ph, pw], **extra)

    emit.__name__ = f"pool_{op_type}"
    return emit


def flatten(g: Any, node: Node, inputs: list, output: str) -> None:
    """Every axis from start_dim on joined into one: ONNX Flatten's axis (2-D result) when
    start_dim is 1; other start dims need the rank, unknown here."""
    if cast(Flatten, node.box).start_dim != 1:
        raise NotImplementedError("Flatten with start_dim other than 1")
    g.op("Flatten", inputs, output, axis=1)


def reduce(op_type: str) -> Emitter:
    """ReduceMax / ReduceMin / ReduceLogSumExp over the box's axes (opset 17: an attribute)."""

    def emit(g: Any, node: Node, inputs: list, output: str) -> None:
        box = cast("Max | LogSumExp", node.box)  # Min is a Max
        axes = {} if box.axis is None else {"axes": _axes(box.axis).tolist()}
        g.op(op_type, inputs, output, keepdims=int(box.keepdims), **axes)

    emit.__name__ = f"reduce_{op_type}"
    return emit


def log_softmax(g: Any, node: Node, inputs: list, output: str) -> None:
    """log softmax over the box's axis."""
    g.op("LogSoftmax", inputs, output, axis=cast(LogSoftmax, node.box).axis)


def clip(g: Any, node: Node, inputs: list, output: str) -> None:
    """Clip(x, lo, hi), each bound an input (absent for None)."""
    box = cast(Clip, node.box)
    lo = g.const(np.asarray(box.lo), "lo") if box.lo is not None else ""
    hi = g.const(np.asarray(box.hi), "hi") if box.hi is not None else ""
    g.op("Clip", [inputs[0], lo, hi], output)


def permute(g: Any, node: Node, inputs: list, output: str) -> None:
    """Transpose with the box's permutation."""
    g.op("Transpose", inputs, output, perm=list(cast(Permute, node.box).axes))


def stack(g: Any, node: Node, inputs: list, output: str) -> None:
    """Each child with a new axis (Unsqueeze), then joined along it (Concat)."""
    box = cast(Stack, node.box)
    axis = g.const(np.asarray([box.axis], dtype=np.int64), "axis", cast=False)
    g.op("Concat", [g.op("Unsqueeze", [x, axis]) for x in inputs], output, axis=box.axis)


def einsum(g: Any, node: Node, inputs: list, output: str) -> None:
    """Einsum with the box's explicit spec."""
    g.op("Einsum", inputs, output, equation=cast(Einsum, node.box).spec)


def reads(*children: int) -> Callable[[Emitter], Emitter]:
    """Mark an emitter as reading only these children (the others, such as a dropout's
    random draws, are not written to the file)."""

    def mark(emit: Emitter) -> Emitter:
        emit.reads = children  # type: ignore[attr-defined]
        return emit

    return mark


def _rank(node: Node) -> int:
    """The rank of a node's value: after an fprop, or from the Inputs' declared shapes."""
    shape = node.shape
    if shape is None:
        raise NotImplementedError(
            f"the rank of {node.describe()} is unknown: run model.forward(X) once, or declare "
            "the Inputs' shapes (fg.Input('x', shape=(None, ...)))"
        )
    return len(shape)


def _evaluation(node: Node) -> None:
    """The file computes the prediction in evaluation mode: the mode must be a Mode leaf
    (False in the prediction graph) or a false Constant, not something computed or fed."""
    mode = node.children[-1]
    if not (isinstance(mode, Mode) or (isinstance(mode, Constant) and not mode.value)):
        raise NotImplementedError(
            f"{node.describe()} reads its mode from {mode.describe()}: the file computes the "
            "evaluation mode only, given by a fg.Mode leaf"
        )


def take(g: Any, node: Node, inputs: list, output: str) -> None:
    """np.take(x, idx, axis): Gather, the indices cast to int64."""
    idx = g.op("Cast", [inputs[1]], to=g.INT64)
    g.op("Gather", [inputs[0], idx], output, axis=cast(Take, node.box).axis)


def take_along_axis(g: Any, node: Node, inputs: list, output: str) -> None:
    """np.take_along_axis(x, idx, axis) (idx of x's rank): GatherElements."""
    idx = g.op("Cast", [inputs[1]], to=g.INT64)
    g.op("GatherElements", [inputs[0], idx], output, axis=cast(TakeAlongAxis, node.box).axis)


def swapaxes(g: Any, node: Node, inputs: list, output: str) -> None:
    """Two axes exchanged: Transpose with that permutation (the rank from the node's shape)."""
    box, n = cast(SwapAxes, node.box), _rank(node)
    perm = list(range(n))
    a, b = box.axis1 % n, box.axis2 % n
    perm[a], perm[b] = perm[b], perm[a]
    g.op("Transpose", inputs, output, perm=perm)


def split(g: Any, node: Node, inputs: list, output: str) -> None:
    """One part of np.split: Slice along the axis, between the part's bounds."""
    shape = node.children[0].shape
    if shape is None or any(d is None for d in shape):
        raise NotImplementedError(f"the shape of {node.children[0].describe()} is unknown")
    axis, lo, hi = cast(Split, node.box)._bounds(shape)
    consts = [g.const(np.asarray([v], np.int64), k, cast=False)
              for k, v in (("starts", lo), ("ends", hi), ("axes", axis))]  # fmt: skip
    g.op("Slice", [inputs[0], *consts], output)


_COMPARE = {"<": "Less", "<=": "LessOrEqual", ">": "Greater", ">=": "GreaterOrEqual",
            "==": "Equal"}  # fmt: skip


def compare(g: Any, node: Node, inputs: list, output: str) -> None:
    """The mask a < b (...) as a boolean tensor; != is Not(Equal)."""
    op = cast(Compare, node.box).op
    if op == "!=":
        g.op("Not", [g.op("Equal", inputs)], output)
    else:
        g.op(_COMPARE[op], inputs, output)
    g.kinds[output] = g.BOOL


def where(g: Any, node: Node, inputs: list, output: str) -> None:
    """np.where(cond, a, b): Where, the condition cast to bool."""
    g.op("Where", [g.op("Cast", [inputs[0]], to=g.BOOL), inputs[1], inputs[2]], output)


def arg(op_type: str) -> Emitter:
    """ArgMax / ArgMin (int64) along the box's axis; None: of the flattened array."""

    def emit(g: Any, node: Node, inputs: list, output: str) -> None:
        box = cast("ArgMax | ArgMin", node.box)
        x, axis, keep = inputs[0], box.axis, int(box.keepdims)
        if axis is None:  # np.argmax of the flattened array (keepdims: every axis kept)
            x = g.op("Reshape", [x, g.const(np.asarray([-1], np.int64), "flat", cast=False)])
            if keep:
                n = _rank(node.children[0])
                flat = g.op(op_type, [x], axis=0, keepdims=0)
                g.op("Reshape", [flat, g.const(np.ones(n, np.int64), "ones", cast=False)],
                     output)  # fmt: skip
                g.kinds[output] = g.INT64
                return
            axis = 0
        g.op(op_type, [x], output, axis=axis, keepdims=keep)
        g.kinds[output] = g.INT64

    emit.__name__ = f"arg_{op_type}"
    return emit


def one_hot(g: Any, node: Node, inputs: list, output: str) -> None:
    """np.eye(C)[labels]: OneHot with depth C along a new last axis, off 0 and on 1 (made in
    float32, the type onnxruntime implements, then cast to the file's float type)."""
    depth = g.const(np.asarray(cast(OneHot, node.box).num_classes, np.int64), "depth",
                    cast=False)  # fmt: skip
    labels = g.op("Cast", [inputs[0]], to=g.INT64)
    off_on = g.const(np.asarray([0.0, 1.0], np.float32), "off_on", cast=False)
    hot = g.op("OneHot", [labels, depth, off_on], axis=-1)
    g.op("Cast", [hot], output, to=g.FLOAT)


def var(g: Any, node: Node, inputs: list, output: str) -> None:
    """np.var: the mean of the squared deviations over the axes, times n / (n - ddof)."""
    box, x = cast(Var, node.box), inputs[0]
    n = _rank(node.children[0])
    axes = list(range(n)) if box.axis is None else [a % n for a in _axes(box.axis).tolist()]
    d = g.op("Sub", [x, g.op("ReduceMean", [x], axes=axes, keepdims=1)])
    v = g.op("ReduceMean", [g.op("Mul", [d, d])], None if box.ddof else output, axes=axes,
             keepdims=int(box.keepdims))  # fmt: skip
    if box.ddof:
        shape = node.children[0].shape
        if shape is None or any(shape[a] is None for a in axes):
            raise NotImplementedError(f"the shape of {node.children[0].describe()} is unknown")
        count = math.prod(int(shape[a] or 0) for a in axes)
        g.op("Mul", [v, g.const(np.asarray(count / (count - box.ddof)), "ddof")], output)


@reads(0)
def dropout(g: Any, node: Node, inputs: list, output: str) -> None:
    """Evaluation mode: y = x (the draws are not written)."""
    _evaluation(node)
    g.op("Identity", [inputs[0]], output)


@reads(0, 1, 2, 3, 4)
def batch_norm(g: Any, node: Node, inputs: list, output: str) -> None:
    """Evaluation mode: y = gamma (x - running_mean) / sqrt(running_var + eps) + beta, ONNX's
    BatchNormalization (channels on axis 1, as the box)."""
    _evaluation(node)
    g.op("BatchNormalization", inputs[:5], output, epsilon=cast(BatchNorm, node.box).eps)


ONNX_OPS: dict[type[Box], Emitter] = {
    Linear: linear,
    Identity: same("Identity"),
    Sigmoid: same("Sigmoid"),
    Tanh: same("Tanh"),
    ReLU: same("Relu"),
    Softplus: softplus,
    LeakyReLU: leaky_relu,
    Softmax: softmax,
    Exp: same("Exp"),
    Log: same("Log"),
    Abs: same("Abs"),
    Neg: same("Neg"),
    Add: add,
    Sub: same("Sub"),
    Mul: same("Mul"),
    Div: same("Div"),
    MatMul: same("MatMul"),
    Transpose: same("Transpose"),
    Scale: scale,
    Square: square,
    Pow: power,
    Sum: reduce_sum,
    Mean: reduce_mean,
    Reshape: reshape,
    Concat: concat,
    Conv2d: conv,
    MaxPool2d: pool("MaxPool"),
    AvgPool2d: pool("AveragePool"),
    Flatten: flatten,
    Max: reduce("ReduceMax"),
    Min: reduce("ReduceMin"),
    LogSumExp: reduce("ReduceLogSumExp"),
    LogSoftmax: log_softmax,
    Maximum: same("Max"),
    Minimum: same("Min"),
    Clip: clip,
    Sin: same("Sin"),
    Cos: same("Cos"),
    Power: same("Pow"),
    Permute: permute,
    Stack: stack,
    Einsum: einsum,
    Take: take,
    TakeAlongAxis: take_along_axis,
    SwapAxes: swapaxes,
    Split: split,
    Compare: compare,
    Where: where,
    StopGradient: same("Identity"),
    ArgMax: arg("ArgMax"),
    ArgMin: arg("ArgMin"),
    OneHot: one_hot,
    Var: var,
    Dropout: dropout,
    BatchNorm: batch_norm,
}


def emitter_for(box: Box) -> Emitter | None:
    """The emitter of ``box``'s exact class, or None when it has no ONNX counterpart."""
    return ONNX_OPS.get(type(box))
