"""Wrong boxes for the checker's tests, each a bug a student could write, and a small graph
(the lecture's MLP with a loss) to put one in."""

from __future__ import annotations

import numpy as np
from helper_boxes import Cube

import flowgraph as fg


class TanhWrongDerivative(fg.Tanh):
    """g'(a) written as 1 - h instead of 1 - h^2."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * (1 - h),)


class SoftmaxDiagonalOnly(fg.Softmax):
    """The Jacobian's diagonal f (1 - f) only: the off-diagonal -f_i f_j is forgotten."""

    def bprop(self, inputs, f, grad_f):
        return (grad_f * f * (1 - f),)


class LinearTransposedGradW(fg.Linear):
    """grad_W returned as h^T grad_a, the transpose of grad_a^T h."""

    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, grad_b = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W.T, grad_b


class CrossEntropyForgetsN(fg.CrossEntropy):
    """-e(y) / f_y without the 1/N of the batch mean: off by a factor N."""

    def bprop(self, inputs, loss, grad_loss):
        grad_f, _ = super().bprop(inputs, loss, grad_loss)
        return grad_f * inputs[0].shape[0], None


class CrossEntropyDividesTwice(fg.CrossEntropy):
    """-e(y) / f_y / N^2: the other way to be off by a factor N."""

    def bprop(self, inputs, loss, grad_loss):
        grad_f, _ = super().bprop(inputs, loss, grad_loss)
        return grad_f / inputs[0].shape[0], None


class TanhWrongOnlyOffUniform(fg.Tanh):
    """Right for a uniform output gradient (the error, grad_h - mean(grad_h), vanishes), wrong
    for any other: only a non-uniform projection of the output can see it."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * (1 - h * h) + (grad_h - grad_h.mean()),)


class TanhWrongInOneElement(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        g = grad_h * (1 - h * h)
        g[7, 3] += 0.5
        return (g,)


class ReLUWrongWhenNegative(fg.ReLU):
    """g'(a) = 1 everywhere: wrong for every a < 0, whatever the kinks at 0."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h,)


class LinearNoGradB(fg.Linear):
    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, _ = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W, None


class LinearTwoGradients(fg.Linear):
    def bprop(self, inputs, output, grad_a):
        return super().bprop(inputs, output, grad_a)[:2]


class TanhInPlace(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        a = inputs[0]
        a *= 0  # writes into its input
        return (grad_h * (1 - h * h),)


class TanhNaN(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        g = grad_h * (1 - h * h)
        g[0, 0] = np.nan
        return (g,)


class LinearBiasGradAsRow(fg.Linear):
    """grad_b of shape (1, out): broadcasts silently when the Graph adds it up."""

    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, _ = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W, grad_a.sum(axis=0, keepdims=True)


WRONG_BOXES = [
    TanhWrongDerivative,
    SoftmaxDiagonalOnly,
    LinearTransposedGradW,
    CrossEntropyForgetsN,
    CrossEntropyDividesTwice,
    TanhWrongOnlyOffUniform,
    TanhWrongInOneElement,
    ReLUWrongWhenNegative,
    LinearNoGradB,
    LinearTwoGradients,
    TanhInPlace,
    TanhNaN,
    LinearBiasGradAsRow,
]


def mlp_graph(hidden_box=None, dtype=np.float64, seed=0):
    """The lecture's MLP (x -> a1 -> h1 -> a2 -> softmax cross-entropy + 0.1 L2) with
    ``hidden_box`` (default Tanh) at h1, and a feed of five examples: (graph, feed)."""
    rng = np.random.default_rng(seed)
    x, y = fg.Input("x"), fg.Input("y")

    def param(shape, name):
        return fg.Parameter(rng.standard_normal(shape).astype(dtype), name)

    W1, b1, W2, b2 = param((4, 3), "W1"), param(4, "b1"), param((3, 4), "W2"), param(3, "b2")
    h1 = (hidden_box or fg.Tanh())(fg.Linear()(x, W1, b1, name="a1"), name="h1")
    a2 = fg.Linear()(h1, W2, b2, name="a2")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(a2, y, name="nll"),
        fg.Scale(0.1)(fg.L2Penalty()(W1, W2)),
        name="loss",
    )
    feed = {x: rng.standard_normal((5, 3)).astype(dtype), y: np.array([0, 1, 2, 1, 0])}
    return fg.Graph(loss), feed


# -- wrong forward-mode rules (bprop right) ----------------------------------------------------


class TanhForwardTwice(fg.Tanh):
    """bprop right; fprop_jvp returns 2 R{h}."""

    def fprop_jvp(self, inputs, tangents, h):
        return 2 * (1 - h * h) * tangents[0]


class TanhForwardOffByAThousandth(fg.Tanh):
    def fprop_jvp(self, inputs, tangents, h):
        return 1.001 * (1 - h * h) * tangents[0]


class TanhBpropJvpForgetsRh(fg.Tanh):
    """R{grad_a} = (1 - h^2) R{grad_h}: the term -2 h R{h} grad_h is forgotten."""

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        return ((1 - h * h) * Rgrad_h,)


class TanhBpropJvpOffByAThousandth(fg.Tanh):
    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        (right,) = super().bprop_jvp(inputs, tangents, h, Rh, grad_h, Rgrad_h)
        return (1.001 * right,)


class CubeWithoutRules(Cube):
    """Cube under the name the reports print."""
