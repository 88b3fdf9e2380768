"""The box library to compose with: broadcasting, forward-mode rules, constructor round trips
and the numerics of the new losses. (Each box is also found and checked by test_every_box.py.)"""

from __future__ import annotations

import inspect
import json
import warnings

import numpy as np
import pytest
from helper_boxes import check_jvp

import flowgraph as fg
from flowgraph.boxes import unbroadcast
from flowgraph.check import all_box_classes

BOX_CLASSES = all_box_classes()
JVP_CLASSES = [c for c in BOX_CLASSES if c.has_jvp() and c.differentiable]  # (masks: no slope)
NEW_BOXES = {
    "Sub", "Neg", "Mul", "Div", "MatMul", "Transpose", "Sum", "Mean", "Reshape", "Concat",
    "Exp", "Log", "Square", "Pow", "Abs", "SquaredError", "SigmoidCrossEntropy", "Hinge",
    "Softplus", "LeakyReLU", "Block",
}  # fmt: skip

# shapes that broadcast: a matrix with a row vector, a column, a scalar, and both ways round
BROADCASTS = [
    ((4, 3), (3,)),
    ((4, 3), (4, 1)),
    ((4, 1), (1, 3)),
    ((), (4, 3)),
    ((3,), (4, 3)),
    ((2, 4, 3), (4, 1)),
    ((4, 3), (4, 3)),
]


def test_every_new_box_is_found_and_has_forward_mode_rules():
    names = {c.__name__ for c in BOX_CLASSES}
    assert NEW_BOXES <= names, NEW_BOXES - names
    with_jvp = {c.__name__ for c in JVP_CLASSES}
    assert NEW_BOXES <= with_jvp, NEW_BOXES - with_jvp


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("cls", [fg.Add, fg.Sub, fg.Mul, fg.Div], ids=lambda c: c.__name__)
def test_element_wise_boxes_broadcast_and_sum_gradients_back(cls, shapes, rng):
    a, b = (rng.standard_normal(s) for s in shapes)
    b = np.sign(b) * (0.5 + np.abs(b))  # Div: away from 0
    out = cls().fprop(a, b)
    assert out.shape == np.broadcast_shapes(*shapes)
    report = fg.check_box(cls(), [a, b])
    assert report.ok and report.status == "pass", str(report)
    grads = cls().bprop([a, b], out, np.ones_like(out))
    assert [np.shape(g) for g in grads] == [np.shape(a), np.shape(b)]


def test_add_stays_n_ary_with_broadcasting(rng):
    xs = [rng.standard_normal(s) for s in [(4, 3), (3,), (4, 1), ()]]
    report = fg.check_box(fg.Add(), xs)
    assert report.ok, str(report)
    g = np.ones((4, 3))
    grads = fg.Add().bprop(xs, fg.Add().fprop(*xs), g)
    np.testing.assert_array_equal(grads[1], [4.0, 4.0, 4.0])
    np.testing.assert_array_equal(grads[2], [[3.0]] * 4)
    assert float(grads[3]) == 12.0


def test_shapes_that_do_not_broadcast_are_named():
    with pytest.raises(fg.ShapeError, match=r"Mul .*broadcast.*\(4, 3\).*\(2,\)"):
        fg.Mul().fprop(np.ones((4, 3)), np.ones(2))


def test_unbroadcast_sums_over_leading_and_unit_axes():
    g = np.arange(24.0).reshape(2, 4, 3)
    np.testing.assert_array_equal(unbroadcast(g, (3,)), g.sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, (4, 1)), g.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (1, 1, 3)), g.sum(axis=(0, 1))[None, None])
    assert unbroadcast(g, ()).shape == () and float(unbroadcast(g, ())) == g.sum()
    assert unbroadcast(g, g.shape) is g  # nothing to sum: no copy


@pytest.mark.parametrize(
    "box",
    [
        fg.Sum(),
        fg.Sum(axis=1),
        fg.Sum(axis=(0, 2), keepdims=True),
        fg.Mean(),
        fg.Mean(axis=-1, keepdims=True),
        fg.Mean(axis=[0, 1]),
        fg.Reshape((6, -1)),
        fg.Reshape(24),
        fg.Transpose(),
        fg.Concat(axis=0),
        fg.Concat(axis=2),
        fg.Pow(3),
        fg.Pow(-0.5),
        fg.LeakyReLU(0.2),
    ],
    ids=repr,
)
def test_configurations_pass_the_checker(box, rng):
    x = rng.uniform(0.5, 2.0, (2, 4, 3))
    inputs = [x, rng.standard_normal((2, 4, 1)) if box.config().get("axis") == 2 else x]
    if not isinstance(box, fg.Concat):
        inputs = [x]
    elif box.axis == 0:
        inputs = [x, rng.standard_normal((1, 4, 3))]
    report = fg.check_box(box, inputs)
    assert report.ok and report.status == "pass", str(report)


def test_sum_and_mean_agree_with_numpy(rng):
    x = rng.standard_normal((2, 4, 3))
    for axis in (None, 0, 1, (0, 2)):
        for keepdims in (False, True):
            np.testing.assert_allclose(
                fg.Sum(axis, keepdims).fprop(x), np.sum(x, axis=axis, keepdims=keepdims)
            )
            np.testing.assert_allclose(
                fg.Mean(axis, keepdims).fprop(x), np.mean(x, axis=axis, keepdims=keepdims)
            )
    (g,) = fg.Mean().bprop([x], fg.Mean().fprop(x), np.array(1.0))
    np.testing.assert_allclose(g, np.full(x.shape, 1 / 24))
    g[0, 0, 0] = 5.0  # a fresh array: whoever gets it may write into it


def test_matmul_and_shape_errors(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(fg.MatMul().fprop(a, b), a @ b)
    with pytest.raises(fg.ShapeError, match=r"MatMul .*\(4, 3\).*\(2, 3\)"):
        fg.MatMul().fprop(a, b.T)
    with pytest.raises(fg.ShapeError, match=r"Reshape .*\(4, 3\).*\(5, -1\)"):
        fg.Reshape((5, -1)).fprop(a)
    with pytest.raises(fg.ShapeError, match=r"Concat along axis 1 .*\(4, 3\).*\(2, 2\)"):
        fg.Concat(axis=1).fprop(a, np.ones((2, 2)))
    for bad in (np.nan, "2", True):
        with pytest.raises(ValueError, match="Pow needs"):
            fg.Pow(bad)


# -- constructors round-trip through JSON --------------------------------------------------------


PLAIN = [c for c in BOX_CLASSES if c.__name__ != "Block"]  # a Block holds a graph: test_block


@pytest.mark.parametrize("cls", PLAIN, ids=[c.__name__ for c in PLAIN])
def test_config_rebuilds_the_box_through_json(cls, rng):
    box = cls.example()
    config = json.loads(json.dumps(box.config()))
    again = cls(**config)
    assert again.config() == box.config()
    inputs = box.sample_inputs(rng)
    np.testing.assert_array_equal(again.fprop(*inputs), box.fprop(*inputs))


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=[c.__name__ for c in BOX_CLASSES])
def test_every_box_with_constructor_arguments_says_how_to_rebuild_itself(cls):
    takes = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    if cls.__init__ is not object.__init__ and takes:
        assert cls.config is not fg.Box.config, f"{cls.__name__}({takes}) defines no config()"


def test_config_of_axes_and_shapes_survives_lists():
    assert fg.Sum(**json.loads(json.dumps(fg.Sum((0, 1), True).config()))).axis == (0, 1)
    assert fg.Reshape(**json.loads(json.dumps(fg.Reshape((-1, 2)).config()))).shape == (-1, 2)


# -- forward mode: the directional derivatives of fprop and of bprop -------------------------------


@pytest.mark.parametrize("cls", JVP_CLASSES, ids=[c.__name__ for c in JVP_CLASSES])
@pytest.mark.parametrize("seed", [0, 1])
def test_forward_mode_rules_match_finite_differences(cls, seed):
    rng = np.random.default_rng(seed)
    box = cls.example()
    check_jvp(box, box.sample_inputs(rng), rng)


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("cls", [fg.Add, fg.Sub, fg.Mul, fg.Div], ids=lambda c: c.__name__)
def test_forward_mode_rules_broadcast(cls, shapes, rng):
    a, b = (rng.standard_normal(s) for s in shapes)
    check_jvp(cls(), [a, np.sign(b) * (0.5 + np.abs(b))], rng)


# -- the new losses and units --------------------------------------------------------------------


def strict():
    return np.errstate(over="raise", invalid="raise", divide="raise")


def test_squared_error_is_half_the_mean_squared_norm(rng):
    f, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss = fg.SquaredError().fprop(f, t)
    expected = np.mean([np.sum((f[i] - t[i]) ** 2) / 2 for i in range(5)])
    assert float(loss) == pytest.approx(expected, rel=1e-14)
    grad_f, grad_t = fg.SquaredError().bprop([f, t], loss, np.array(1.0))
    np.testing.assert_allclose(grad_f, (f - t) / 5)
    np.testing.assert_allclose(grad_t, -(f - t) / 5)
    with pytest.raises(fg.ShapeError, match=r"SquaredError .*\(5, 3\).*\(5,\)"):
        fg.SquaredError().fprop(f, t[:, 0])


def test_sigmoid_cross_entropy_is_stable_at_huge_logits():
    a = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    y = np.array([1, 0, 0, 1, 1])
    box = fg.SigmoidCrossEntropy()
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        loss = box.fprop(a, y)
        grad_a, grad_y = box.bprop([a, y], loss, np.array(1.0))
    # right with confidence: 0; wrong by 1e4: 1e4 each; a = 0: log 2
    assert float(loss) == pytest.approx((2e4 + np.log(2)) / 5, rel=1e-12)
    np.testing.assert_allclose(grad_a, [0, 0, 0.2, -0.2, -0.1], atol=1e-15)
    assert grad_y is None
    p = 1 / (1 + np.exp(-0.3))
    assert float(box.fprop(np.array([0.3]), np.array([1]))) == pytest.approx(-np.log(p))


def test_sigmoid_cross_entropy_rejects_bad_labels():
    with pytest.raises(fg.LabelError, match="0 or 1"):
        fg.SigmoidCrossEntropy().fprop(np.zeros(3), np.array([0, 2, 1]))
    # float targets are soft targets (issue 22), probabilities in [0, 1]
    with pytest.raises(fg.LabelError, match=r"in \[0, 1\], found \[1.5\]"):
        fg.SigmoidCrossEntropy().fprop(np.zeros(3), np.array([0.0, 1.5, 1.0]))
    with pytest.raises(fg.ShapeError, match=r"\(3,\).*\(3, 1\)"):
        fg.SigmoidCrossEntropy().fprop(np.zeros(3), np.zeros((3, 1), dtype=int))


def test_softplus_is_stable_and_its_slope_is_the_sigmoid():
    a = np.array([-1e4, -30.0, 0.0, 30.0, 1e4])
    with warnings.catch_warnings(), strict():
        warnings.simplefilter("error")
        h = fg.Softplus().fprop(a)
        (g,) = fg.Softplus().bprop([a], h, np.ones(5))
    np.testing.assert_allclose(h, [0.0, np.log1p(np.exp(-30.0)), np.log(2), 30.0, 1e4])
    np.testing.assert_allclose(g, fg.Sigmoid().fprop(a))


def test_hinge_upper_bounds_the_classification_error(rng):
    a = rng.standard_normal((200, 4))
    y = rng.integers(0, 4, size=200)
    loss = float(fg.Hinge().fprop(a, y))
    error = np.mean(np.argmax(a, axis=1) != y)
    assert loss >= error > 0
    # Crammer-Singer by hand for one row: only the best rival counts
    row, label = np.array([[0.5, 1.0, 0.2]]), np.array([0])
    assert float(fg.Hinge().fprop(row, label)) == pytest.approx(1 + 1.0 - 0.5)
    grad, none = fg.Hinge().bprop([row, label], None, np.array(1.0))
    np.testing.assert_array_equal(grad, [[-1.0, 1.0, 0.0]])
    assert none is None
    assert float(fg.Hinge().fprop(np.array([[3.0, 1.0, 0.2]]), label)) == 0.0


def test_leaky_relu_keeps_a_slope_for_negative_inputs():
    a = np.array([-2.0, -0.5, 0.5, 3.0])
    np.testing.assert_allclose(fg.LeakyReLU(0.1).fprop(a), [-0.2, -0.05, 0.5, 3.0])
    (g,) = fg.LeakyReLU(0.1).bprop([a], None, np.ones(4))
    np.testing.assert_allclose(g, [0.1, 0.1, 1, 1])
    with pytest.raises(ValueError, match="slope"):
        fg.LeakyReLU(np.inf)
