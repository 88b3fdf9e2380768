"""Box numerics, no silent wrong number: each box keeps its input dtype and gives each
gradient in its own input's dtype (mixed precision included); the losses and reductions of a
float16 batch accumulate and divide in float32 (N past float16's largest number, 65,504);
Pow's slopes at 0 are torch's; an axis the input lacks is refused at fprop; concat joins
along axis 0 as np.concatenate; integer weights are refused by the penalties."""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes
from flowgraph.core import Outer

FLOATS = (np.float16, np.float32, np.float64)
BOXES = all_box_classes()
F16 = np.finfo(np.float16)


def _is_float(x) -> bool:
    return np.asarray(x).dtype.kind == "f"


def _cast(inputs, dtypes):
    """``inputs`` with the float ones cast to ``dtypes`` (one per float input, in order)."""
    it = iter(dtypes)
    return tuple(np.asarray(x).astype(next(it)) if _is_float(x) else x for x in inputs)


def _dtype_cases():
    """Every box with every assignment of float16/32/64 to its float inputs: one dtype for
    all of them, and every mixture (float16 parameters meeting float64 data)."""
    for cls in BOXES:
        inputs = cls.example().sample_inputs(np.random.default_rng(0))
        for dtypes in itertools.product(FLOATS, repeat=sum(map(_is_float, inputs))):
            names = "-".join(np.dtype(d).name for d in dtypes)
            yield pytest.param(cls, dtypes, id=f"{cls.__name__}-{names}")


def _assert_grads_in_input_dtypes(box, inputs, grads, where):
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if isinstance(g, Outer):
            g = g.materialize()
        if _is_float(x) and g is not None:
            assert np.asarray(g).dtype == x.dtype, (
                f"{type(box).__name__}.{where}: the gradient of {box.input_name(i)} "
                f"({x.dtype}) is {np.asarray(g).dtype}"
            )
            assert np.shape(g) == np.shape(x)


@pytest.mark.parametrize("cls, dtypes", list(_dtype_cases()))
def test_every_box_keeps_its_inputs_dtype_and_gives_each_gradient_its_inputs(cls, dtypes):
    box = cls.example()
    rng = np.random.default_rng(1)
    inputs = _cast(box.sample_inputs(rng), dtypes)
    y = box.fprop(*inputs)
    if not cls.differentiable:  # a mask, an index, codes: their own dtype, and no gradient
        assert box.bprop(inputs, y, np.ones(np.shape(y))) == (None,) * len(inputs)
        return
    expected = np.result_type(*(x for x in inputs if _is_float(x)))
    assert np.asarray(y).dtype == expected, f"{box!r} on {dtypes} gives {np.asarray(y).dtype}"
    grad_y = rng.standard_normal(np.shape(y)).astype(expected)
    _assert_grads_in_input_dtypes(box, inputs, box.bprop(inputs, y, grad_y), "bprop")
    needs = [True] * len(inputs)
    fast = box.bprop_needed(inputs, y, grad_y, needs)
    _assert_grads_in_input_dtypes(box, inputs, fast, "bprop_needed")
    if not cls.has_jvp():
        return
    tangents = tuple(
        rng.standard_normal(np.shape(x)).astype(x.dtype if _is_float(x) else expected)
        for x in inputs
    )
    Ry = box.fprop_jvp(inputs, tangents, y)
    assert np.asarray(Ry).dtype == expected, f"{box!r}.fprop_jvp gives {np.asarray(Ry).dtype}"
    R_grad_y = rng.standard_normal(np.shape(y)).astype(expected)
    R_grads = box.bprop_jvp(inputs, tangents, y, Ry, grad_y, R_grad_y)
    _assert_grads_in_input_dtypes(box, inputs, R_grads, "bprop_jvp")


@pytest.mark.parametrize("n", [1, 5])  # 1: Linear's rank-1 fast path (an Outer)
@pytest.mark.parametrize("param_dtype", [np.float16, np.float32])
def test_parameters_meeting_float64_data_get_gradients_in_their_own_dtype(param_dtype, n):
    rng = np.random.default_rng(2)
    W = fg.Parameter(rng.standard_normal((3, 4)).astype(param_dtype), "W")
    b = fg.Parameter(rng.standard_normal(3).astype(param_dtype), "b")
    V = fg.Parameter(rng.standard_normal((3, 2)).astype(param_dtype), "V")
    x, y = fg.Input("x"), fg.Input("y")
    graph = fg.Graph(fg.softmax_cross_entropy(fg.tanh(fg.linear(x, W, b)) @ V, y))
    feed = {x: rng.standard_normal((n, 4)), y: rng.integers(0, 2, n)}
    graph.fprop(feed)
    graph.bprop()
    grads = {p.name: p.grad for p in (W, b, V)}
    for p in (W, b, V):
        assert p.grad.dtype == param_dtype, f"{p.name}.grad is {p.grad.dtype}"
    # the same numbers as an all-float64 graph of the same values, to the parameters' precision
    for p in (W, b, V):
        p.value = p.value.astype(np.float64)
    graph.fprop(feed)
    graph.bprop()
    tol = 20 * np.finfo(param_dtype).eps
    for p in (W, b, V):
        np.testing.assert_allclose(grads[p.name], p.grad, rtol=tol, atol=tol)


# -- float16 batches past 65,504: losses and means sum and divide in float32 -----------------


def _probabilities(scores):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _large_batch(box, n, rng):
    """Inputs for a batch of n examples (a batch of the shapes sample_inputs gives for 4)."""
    scores, labels = rng.standard_normal((n, 5)), rng.integers(0, 5, n)
    batches = {
        fg.SoftmaxCrossEntropy: lambda: (scores, labels),
        fg.CrossEntropy: lambda: (_probabilities(scores), labels),
        fg.NLLLoss: lambda: (np.log(_probabilities(scores)), labels),
        fg.Hinge: lambda: (scores, labels),
        fg.SigmoidCrossEntropy: lambda: (2 * scores[:, 0], labels % 2),
        fg.SquaredError: lambda: (scores[:, :2], rng.standard_normal((n, 2))),
        fg.L2Penalty: lambda: (0.01 * scores, 0.01 * rng.standard_normal((n, 2))),
        fg.L1Penalty: lambda: (0.01 * scores, 0.01 * rng.standard_normal((n, 2))),
        fg.Sum: lambda: (0.01 * scores,),
        fg.Mean: lambda: (scores,),
    }
    return batches[type(box)]()


REDUCING = [
    fg.SoftmaxCrossEntropy(), fg.CrossEntropy(), fg.Hinge(), fg.SigmoidCrossEntropy(),
    fg.SquaredError(), fg.L2Penalty(), fg.L1Penalty(), fg.Sum(), fg.Mean(), fg.Mean(axis=0),
    fg.Sum(axis=0), fg.NLLLoss(), fg.NLLLoss.example(),
]  # fmt: skip


def test_the_large_batch_cases_cover_every_box_that_reduces_to_one_number():
    covered = {type(box) for box in REDUCING}
    scalar = {
        cls
        for cls in BOXES
        if np.ndim(cls.example().fprop(*cls.example().sample_inputs(np.random.default_rng(0)))) == 0
    }
    assert scalar <= covered, f"add a large float16 batch for {scalar - covered}"


def _assert_float16_close(got, want, what):
    """got (float16) is want (float64) rounded to float16, within one float16 step."""
    got = np.asarray(got)
    assert got.dtype == np.float16, f"{what} is {got.dtype}"
    assert np.all(np.isfinite(got)), f"{what} has NaN or inf: {got.ravel()[:5]}"
    np.testing.assert_allclose(
        got.astype(np.float64), want, rtol=F16.eps, atol=F16.smallest_subnormal, err_msg=what
    )


@pytest.mark.parametrize("n", [70_000, 300_000])
@pytest.mark.parametrize("box", REDUCING, ids=repr)
def test_float16_batches_larger_than_65504_reduce_as_in_float64(box, n):
    rng = np.random.default_rng(3)
    x16 = _cast(_large_batch(box, n, rng), itertools.repeat(np.float16))
    x64 = _cast(x16, itertools.repeat(np.float64))  # the same numbers, exactly
    y16, y64 = box.fprop(*x16), box.fprop(*x64)
    _assert_float16_close(y16, y64, f"{box!r} at N = {n}")
    g16 = box.bprop(x16, y16, np.ones_like(y16))
    g64 = box.bprop(x64, y64, np.ones_like(y64))
    for i, (a, b) in enumerate(zip(g16, g64)):
        if b is not None:
            _assert_float16_close(a, b, f"{box!r}'s gradient of {box.input_name(i)}, N = {n}")
    tangents = tuple(
        rng.standard_normal(np.shape(x)).astype(np.float16) for x in x16
    )  # labels' tangents are unused
    Ry16 = box.fprop_jvp(x16, tangents, y16)
    Ry64 = box.fprop_jvp(x64, _cast(tangents, itertools.repeat(np.float64)), y64)
    _assert_float16_close(Ry16, Ry64, f"{box!r}.fprop_jvp at N = {n}")


def test_softmax_cross_entropy_of_300000_float16_scores_in_a_graph_is_the_float64_loss():
    rng = np.random.default_rng(4)
    a, y = fg.Input("a"), fg.Input("y")
    graph = fg.Graph(fg.softmax_cross_entropy(a, y))
    scores = rng.standard_normal((300_000, 5)).astype(np.float16)
    labels = rng.integers(0, 5, 300_000)
    loss16 = graph.fprop({a: scores, y: labels})
    graph.bprop(wrt=[a])
    grad16 = a.grad
    loss64 = graph.fprop({a: scores.astype(np.float64), y: labels})
    graph.bprop(wrt=[a])
    _assert_float16_close(loss16, loss64, "loss")
    _assert_float16_close(grad16, a.grad, "gradient")


# -- Pow: p x^(p-1), exactly 0 where p = 0 (x^0 = 1), as torch.autograd ---------------------

POWERS = [0, 1, 2, 3, -1, -2, 0.5, 1.5, 2.5, -0.5]
XS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])


@pytest.mark.parametrize("p", [0, 1, 2, 3])
def test_whole_powers_have_the_slopes_of_central_differences_at_and_around_0(p):
    box, h = fg.Pow(p), 1e-4
    x = XS
    ones = np.ones_like(x)
    (slope,) = box.bprop([x], box.fprop(x), ones)
    difference = (box.fprop(x + h) - box.fprop(x - h)) / (2 * h)
    np.testing.assert_allclose(slope, difference, rtol=1e-6, atol=1e-6)
    # and the second derivative (bprop_jvp with R{x} = 1) is that of the slopes
    (curvature,) = box.bprop_jvp([x], [ones], box.fprop(x), slope, ones, np.zeros_like(x))
    (up,) = box.bprop([x + h], box.fprop(x + h), ones)
    (down,) = box.bprop([x - h], box.fprop(x - h), ones)
    np.testing.assert_allclose(curvature, (up - down) / (2 * h), rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(slope)) and np.all(np.isfinite(curvature))


def test_x_to_the_0_in_a_graph_has_gradient_0_at_0():
    x = fg.Input("x")
    graph = fg.Graph((x**0 + x**1).sum(), check_finite=True)
    graph.fprop({x: np.array([0.0, 1.0, -3.0])})
    graph.bprop(wrt=[x])
    np.testing.assert_array_equal(x.grad, np.ones(3))  # 0 from x^0, 1 from x^1


def _torch_pow_derivatives(torch, p, x, g, Rx, Rg):
    """x^p, its vector-Jacobian product with g, and the directional derivative of that
    product, all from torch.autograd (x^p is element-wise: each Jacobian is diagonal, so a
    vector-Jacobian product with v is also the Jacobian-vector product with v)."""
    xt, gt = torch.tensor(x, requires_grad=True), torch.tensor(g, requires_grad=True)
    yt = xt**p
    (grad,) = torch.autograd.grad(yt, xt, gt, create_graph=True)
    (Ry,) = torch.autograd.grad(yt, xt, torch.tensor(Rx), retain_graph=True)
    if grad.requires_grad:  # for p = 0 torch's gradient is a constant 0
        d_x, d_g = (
            torch.autograd.grad(grad, w, torch.tensor(v), retain_graph=True, allow_unused=True)[0]
            for w, v in ((xt, Rx), (gt, Rg))
        )
        d_x = torch.zeros_like(xt) if d_x is None else d_x
        R_grad = d_x + d_g
    else:
        R_grad = torch.zeros_like(xt)
    return [t.detach().numpy() for t in (yt, grad, Ry, R_grad)]


@pytest.mark.parametrize("p", POWERS)
def test_pow_and_its_derivatives_agree_with_torch_on_a_grid_through_0(p):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    box = fg.Pow(p)
    g, Rx, Rg = (rng.standard_normal(XS.shape) for _ in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        y = box.fprop(XS)
        (grad,) = box.bprop([XS], y, g)
        Ry = box.fprop_jvp([XS], [Rx], y)
        (R_grad,) = box.bprop_jvp([XS], [Rx], y, Ry, g, Rg)
    want = _torch_pow_derivatives(torch, p, XS, g, Rx, Rg)
    for what, got, expected in zip(
        ("x^p", "bprop", "fprop_jvp", "bprop_jvp"), (y, grad, Ry, R_grad), want
    ):
        np.testing.assert_allclose(
            got, expected, rtol=1e-12, atol=0, equal_nan=True, err_msg=f"Pow({p}).{what}"
        )


# -- axes: refused at fprop when the input lacks them; concat as np.concatenate ------------


def _axis_boxes():
    return [cls for cls in BOXES if "axis" in inspect.signature(cls.__init__).parameters]


def test_the_boxes_taking_an_axis_are_found():
    assert {fg.Sum, fg.Mean, fg.Concat} <= set(_axis_boxes())


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
@pytest.mark.parametrize("cls", _axis_boxes(), ids=lambda c: c.__name__)
def test_an_axis_the_input_lacks_is_a_shape_error_naming_box_axis_and_shape(cls, shape):
    ndim = len(shape)
    new = int(cls is fg.Stack)  # Stack's axis may name the new axis it makes
    for axis in (ndim + new, -ndim - 1 - new, ndim + 5):
        box = cls(**{**cls.example().config(), "axis": axis})
        if cls.arity == 2 and cls.input_names[1] == "indices":  # Take, TakeAlongAxis
            children = (np.ones(shape), np.zeros(shape, dtype=int))
        else:
            children = (np.ones(shape),) * (2 if cls.arity is None else 1)
        with pytest.raises(fg.ShapeError) as caught:
            box.fprop(*children)
        message = str(caught.value)
        assert cls.__name__ in message and f"axis={axis}" in message
        assert str(shape) in message, message


def test_sum_over_axis_0_of_a_0d_node_is_refused_at_fprop():
    x = fg.Input("x")
    graph = fg.Graph(x.sum(0))
    with pytest.raises(fg.ShapeError, match=r"Sum\(axis=0\).*shape \(\)"):
        graph.fprop({x: np.array(2.0)})
    with pytest.raises(fg.ShapeError, match=r"Mean\(axis=\(0, -2\)\) names an axis .* twice"):
        fg.Mean(axis=(0, -2)).fprop(np.ones((2, 3)))


@pytest.mark.parametrize("shapes", [[(2, 3), (4, 3)], [(2, 3), (2, 3)], [(1,), (3,), (2,)]])
def test_concat_joins_along_axis_0_by_default_as_np_concatenate(shapes):
    rng = np.random.default_rng(6)
    arrays = [rng.standard_normal(s) for s in shapes]
    nodes = [fg.Input(f"x{i}") for i in range(len(arrays))]
    graph = fg.Graph(fg.concat(nodes))
    got = graph.fprop(dict(zip(nodes, arrays)))
    np.testing.assert_array_equal(got, np.concatenate(arrays))
    np.testing.assert_array_equal(fg.Concat().fprop(*arrays), np.concatenate(arrays))


# -- penalties take float weights ---------------------------------------------------------


@pytest.mark.parametrize("penalty", [fg.L2Penalty(), fg.L1Penalty()])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.bool_])
def test_integer_arrays_fed_to_penalties_are_clear_errors(penalty, dtype):
    W = fg.Input("W")
    graph = fg.Graph(penalty(W))
    big = np.full((4, 4), 100, dtype=dtype)  # int8: 100^2 wraps around
    with pytest.raises(fg.BoxError, match="floating-point weights"):
        graph.fprop({W: big})


@pytest.mark.parametrize("axis", [1.5, True, "0", (0, 0), [1, 1.0]])
@pytest.mark.parametrize("cls", [fg.Sum, fg.Mean], ids=lambda c: c.__name__)
def test_an_axis_no_array_has_is_refused_when_the_box_is_made(cls, axis):
    with pytest.raises(ValueError, match="axis"):
        cls(axis=axis)
