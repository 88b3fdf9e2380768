"""A differential test of every box against torch.autograd, in float64: fprop against the
same function written in PyTorch, bprop against torch's vector-Jacobian product."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _axis(box):
    return box.axis if isinstance(box.axis, int) else tuple(box.axis) if box.axis else None


def _reduce(op, x, box):
    axis = _axis(box)
    return op(x) if axis is None else op(x, dim=axis, keepdim=box.keepdims)


def _crammer_singer(a, y):
    a_y = a.gather(1, y[:, None])[:, 0]
    rivals = a.masked_fill(F.one_hot(y, a.shape[1]).bool(), float("-inf"))
    return torch.clamp(1 + rivals.max(dim=1).values - a_y, min=0).mean()


def _sum_all(*ts):
    total = ts[0]
    for t in ts[1:]:
        total = total + t
    return total


def _gather_positions(box, x):
    """x[index] written as torch's own gather of flat positions (its backward: index_put with
    accumulate, independent of flowgraph's scatter)."""
    positions = np.arange(x.numel()).reshape(tuple(x.shape))[box.index]
    return x.reshape(-1)[torch.as_tensor(positions)]


def _take(box, x, i):
    y = torch.movedim(x, box.axis, 0)[i]
    return torch.movedim(y, tuple(range(i.ndim)), tuple(range(box.axis % x.ndim,
                                                                box.axis % x.ndim + i.ndim)))


def _axes(box):
    return None if box.axis is None else box.axis if isinstance(box.axis, int) else \
        tuple(box.axis)


def _extreme(op, box, x):
    axis = _axes(box)
    return op(x) if axis is None and not box.keepdims else op(
        x, dim=tuple(range(x.ndim)) if axis is None else axis, keepdim=box.keepdims)


COMPARE = {"<": torch.lt, "<=": torch.le, ">": torch.gt, ">=": torch.ge, "==": torch.eq,
           "!=": torch.ne}  # fmt: skip


def _batch_norm(box, x, gamma, beta, rm, rv, mode):
    """torch's batch norm: batch statistics (running ones copied: torch updates them in
    place) while training; the running statistics, written out, in evaluation (so that
    their gradients are torch's too)."""
    if mode:
        return F.batch_norm(x, rm.detach().clone(), rv.detach().clone(), gamma, beta,
                            training=True, eps=box.eps)
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return (x - rm.reshape(shape)) / torch.sqrt(rv.reshape(shape) + box.eps) * \
        gamma.reshape(shape) + beta.reshape(shape)


def _running_stat(box, r, x):
    """torch's running statistic: F.batch_norm updates the running tensors in place."""
    rm, rv = torch.zeros(x.shape[1], dtype=x.dtype), torch.ones(x.shape[1], dtype=x.dtype)
    (rm if box.stat == "mean" else rv).copy_(r.detach())
    F.batch_norm(x.detach(), rm, rv, training=True, momentum=box.momentum)
    return rm if box.stat == "mean" else rv


# each box's function written with PyTorch's own operations: (box, *tensors) -> tensor
TORCH = {
    "Linear": lambda box, h, W, b: h @ W.T + b,
    "Identity": lambda box, a: a,
    "Sigmoid": lambda box, a: torch.sigmoid(a),
    "Tanh": lambda box, a: torch.tanh(a),
    "ReLU": lambda box, a: torch.relu(a),
    "Softmax": lambda box, a: torch.softmax(a, dim=box.axis),
    "CrossEntropy": lambda box, f, y: F.nll_loss(torch.log(f), y),
    "SoftmaxCrossEntropy": lambda box, a, y: F.cross_entropy(a, y),
    "NLLLoss": lambda box, z, y: F.nll_loss(
        z, y, weight=None if box.weight is None else torch.tensor(box.weight, dtype=z.dtype),
        ignore_index=-100 if box.ignore_index is None else box.ignore_index,
        reduction=box.reduction),
    "L2Penalty": lambda box, *Ws: _sum_all(*[(W**2).sum() for W in Ws]),
    "L1Penalty": lambda box, *Ws: _sum_all(*[W.abs().sum() for W in Ws]),
    "Add": lambda box, *xs: _sum_all(*xs),
    "Scale": lambda box, x: box.c * x,
    "Sub": lambda box, a, b: a - b,
    "Neg": lambda box, x: -x,
    "Mul": lambda box, a, b: a * b,
    "Div": lambda box, a, b: a / b,
    "MatMul": lambda box, a, b: a @ b,
    "Transpose": lambda box, x: x.permute(*reversed(range(x.ndim))),
    "Sum": lambda box, x: _reduce(torch.sum, x, box),
    "Mean": lambda box, x: _reduce(torch.mean, x, box),
    "Reshape": lambda box, x: x.reshape(box.shape),
    "Concat": lambda box, *xs: torch.cat(xs, dim=box.axis),
    "Exp": lambda box, x: torch.exp(x),
    "Log": lambda box, x: torch.log(x),
    "Square": lambda box, x: torch.square(x),
    "Pow": lambda box, x: x**box.p,
    "Abs": lambda box, x: torch.abs(x),
    "Softplus": lambda box, a: F.softplus(a),
    "LeakyReLU": lambda box, a: F.leaky_relu(a, box.slope),
    "SquaredError": lambda box, f, t: ((f - t) ** 2).sum() / (2 * len(f)),
    "SigmoidCrossEntropy": lambda box, a, y: (
        F.binary_cross_entropy_with_logits(a, y.double(), reduction="sum") / len(a)
    ),
    "Hinge": lambda box, a, y: _crammer_singer(a, y),
    # Block.example(): y = h + ((h W^T) + b)^2 / 4
    "Block": lambda box, h, W, b: h + ((h @ W.T) + b) ** 2 / 4,
    # the array operations (issue 22)
    "GetItem": _gather_positions,
    "Take": _take,
    "TakeAlongAxis": lambda box, x, i: torch.take_along_dim(x, i, dim=box.axis),
    "OneHot": lambda box, labels: F.one_hot(labels, box.num_classes).double(),
    "Max": lambda box, x: _extreme(torch.amax, box, x),
    "Min": lambda box, x: _extreme(torch.amin, box, x),
    "LogSumExp": lambda box, x: torch.logsumexp(
        x, dim=tuple(range(x.ndim)) if box.axis is None else _axes(box), keepdim=box.keepdims),
    "LogSoftmax": lambda box, a: torch.log_softmax(a, dim=box.axis),
    "Var": lambda box, x: torch.var(x, dim=_axes(box), correction=box.ddof, keepdim=box.keepdims),
    "ArgMax": lambda box, x: torch.argmax(x, dim=box.axis, keepdim=box.keepdims),
    "ArgMin": lambda box, x: torch.argmin(x, dim=box.axis, keepdim=box.keepdims),
    "Maximum": lambda box, a, b: torch.maximum(a, b),
    "Minimum": lambda box, a, b: torch.minimum(a, b),
    "Where": lambda box, c, a, b: torch.where(c.bool(), a, b),
    "Clip": lambda box, x: torch.clamp(x, box.lo, box.hi),
    "Sin": lambda box, x: torch.sin(x),
    "Cos": lambda box, x: torch.cos(x),
    "Power": lambda box, x, y: torch.pow(x, y),
    "Compare": lambda box, a, b: COMPARE[box.op](a, b),
    "StopGradient": lambda box, x: x.detach(),
    "Permute": lambda box, x: x.permute(*box.axes),
    "SwapAxes": lambda box, x: torch.swapaxes(x, box.axis1, box.axis2),
    "Stack": lambda box, *xs: torch.stack(xs, dim=box.axis),
    "Split": lambda box, x: torch.tensor_split(
        x, box.sections if isinstance(box.sections, int) else list(box.sections),
        dim=box.axis)[box.part],
    "Flatten": lambda box, x: torch.flatten(x, box.start_dim),
    "Einsum": lambda box, *xs: torch.einsum(box.spec, *xs),
    "Conv2d": lambda box, x, W, *b: F.conv2d(x, W, b[0] if b else None, box.stride, box.padding),
    "MaxPool2d": lambda box, x: F.max_pool2d(x, box.kernel_size, box.stride, box.padding),
    "AvgPool2d": lambda box, x: F.avg_pool2d(x, box.kernel_size, box.stride, box.padding),
    # randomness, modes and state (issue 23): the draws are NumPy's generator's by definition
    "Uniform": lambda box, like, key: torch.tensor(
        np.random.default_rng(key.numpy()).random(tuple(like.shape))),
    "Normal": lambda box, like, key: torch.tensor(
        np.random.default_rng(key.numpy()).standard_normal(tuple(like.shape))),
    "Dropout": lambda box, x, u, mode: x * (u >= box.p) / (1 - box.p) if mode else x,
    "BatchNorm": _batch_norm,
    "RunningStat": lambda box, r, x, mode: _running_stat(box, r, x) if mode else r,
}

BOX_CLASSES = all_box_classes()


def compare(box, inputs, rng, ref=None):
    """fprop and bprop of ``box`` on ``inputs`` against PyTorch's, in float64."""
    ref = ref or TORCH[type(box).__name__]
    xs = [np.asarray(x) for x in inputs]
    ts = [
        torch.tensor(x, dtype=torch.float64, requires_grad=True)
        if np.issubdtype(x.dtype, np.floating)
        else torch.tensor(x, dtype=torch.long)
        for x in xs
    ]
    out = np.asarray(box.fprop(*xs))
    out_t = ref(box, *ts)
    np.testing.assert_allclose(out, out_t.detach().numpy(), rtol=1e-12, atol=1e-14)
    if not box.differentiable:  # a mask, an index, codes, a stopped gradient: no gradient
        assert box.bprop(xs, out, np.ones(out.shape)) == (None,) * len(xs)
        return
    R = rng.standard_normal(out.shape)
    grads = box.bprop(xs, out, R)
    floats = [t for t in ts if t.requires_grad]
    torch_grads = iter(
        torch.autograd.grad(out_t, floats, grad_outputs=torch.tensor(R), allow_unused=True)
    )
    assert len(grads) == len(xs)
    for i, (x, g) in enumerate(zip(xs, grads)):
        if not np.issubdtype(x.dtype, np.floating):
            assert g is None, f"{box}: integer input {i} must get no gradient"
            continue
        tg = next(torch_grads)
        expected = np.zeros_like(x) if tg is None else tg.numpy()
        np.testing.assert_allclose(
            g, expected, rtol=1e-11, atol=1e-13, err_msg=f"{box}: gradient of input {i}"
        )


def test_every_box_has_a_torch_reference():
    missing = {c.__name__ for c in BOX_CLASSES} - set(TORCH)
    assert not missing, f"add a PyTorch reference for {sorted(missing)}"


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=[c.__name__ for c in BOX_CLASSES])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fprop_and_bprop_agree_with_torch(cls, seed):
    rng = np.random.default_rng(seed)
    box = cls.example()
    compare(box, box.sample_inputs(rng), rng)


@pytest.mark.parametrize(
    "shapes", [((4, 3), (3,)), ((4, 3), (4, 1)), ((4, 1), (1, 3)), ((), (2, 4, 3))], ids=str
)
@pytest.mark.parametrize("cls", [fg.Add, fg.Sub, fg.Mul, fg.Div], ids=lambda c: c.__name__)
def test_broadcasting_agrees_with_torch(cls, shapes, rng):
    a, b = (rng.standard_normal(s) for s in shapes)
    compare(cls(), [a, np.sign(b) * (0.5 + np.abs(b))], rng)


@pytest.mark.parametrize(
    "box",
    [
        fg.Sum(),
        fg.Sum(axis=(0, 2), keepdims=True),
        fg.Mean(axis=1),
        fg.Mean(axis=-1, keepdims=True),
        fg.Reshape((6, -1)),
        fg.Transpose(),
        fg.Pow(3),
        fg.Pow(-1.5),
        fg.Scale(-2.0),
        fg.LeakyReLU(0.3),
    ],
    ids=repr,
)
def test_configurations_agree_with_torch(box, rng):
    compare(box, [rng.uniform(0.5, 2.0, (2, 4, 3))], rng)


def test_multi_label_sigmoid_cross_entropy_and_huge_logits_agree_with_torch(rng):
    a = rng.standard_normal((5, 3)) * 3
    compare(fg.SigmoidCrossEntropy(), [a, rng.integers(0, 2, size=(5, 3))], rng)
    compare(fg.SigmoidCrossEntropy(), [np.array([1e4, -1e4, 3.0]), np.array([0, 0, 1])], rng)


def test_a_block_with_two_outputs_agrees_with_torch(rng):
    h, W, V = fg.Input("h"), fg.Input("W"), fg.Input("V")
    z = h @ W.T
    block = fg.Block(fg.Graph([fg.tanh(z), fg.softplus(z) @ V.T]), [h, W, V], name="heads")
    inputs = [rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.standard_normal((2, 3))]
    compare(block.output(0), inputs, rng, ref=lambda box, h, W, V: torch.tanh(h @ W.T))
    compare(block.output(1), inputs, rng, ref=lambda box, h, W, V: F.softplus(h @ W.T) @ V.T)
