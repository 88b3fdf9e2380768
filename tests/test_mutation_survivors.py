"""Tests written to kill mutants that survived ``python -m benchmarks.mutation`` (see
benchmarks/RESULTS.md): each pins a behaviour no earlier test looked at."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.optim import constant, make_schedule


def test_a_constant_schedule_by_name_has_no_decrease_constant():
    s = make_schedule("constant", 0.1, delta=0.5)
    assert s == constant(0.1) and s.delta == 0.0
    assert make_schedule("inverse", 0.1, delta=0.5).delta == 0.5
    # delta defaults to 0: an inverse schedule without it keeps alpha
    assert make_schedule("inverse", 0.1).delta == 0.0 and make_schedule("inverse", 0.1)(9) == 0.1


def test_sgd_state_without_and_with_momentum():
    W = fg.Parameter(np.ones((2, 2)), "W")
    W.grad = np.full((2, 2), 0.5)
    plain = fg.SGD([W], lr=0.1)
    plain.step()
    state = plain.state()
    assert state["t"] == 1 and state["velocity"] == [None]  # no momentum: no buffer
    heavy = fg.SGD([W], lr=0.1, momentum=0.9)
    heavy.step()
    state = heavy.state()
    assert state["t"] == 1
    np.testing.assert_array_equal(state["velocity"][0], np.full((2, 2), 0.5))
    state["velocity"][0][...] = 7.0  # a copy: the optimizer's own velocity is untouched
    np.testing.assert_array_equal(heavy.state()["velocity"][0], np.full((2, 2), 0.5))


def test_sgd_accepts_a_learning_rate_that_agrees_with_its_schedule():
    W = fg.Parameter(np.ones(2), "W")
    assert fg.SGD([W], lr=0.1, schedule=constant(0.1)).lr == 0.1
    assert fg.SGD([W], schedule=constant(0.2)).lr == 0.2


class Weighted(fg.Box):
    """fprop: y = w ⊙ x;  bprop: grad_x = w ⊙ grad_y, wrong by +1e-3 in every element."""

    def __init__(self, w):
        self.w = w

    def fprop(self, x):
        return self.w * x

    def bprop(self, inputs, y, grad_y):
        return (self.w * grad_y + 1e-3,)


def test_the_worst_element_is_the_worst_relative_to_its_tolerance():
    # an error of 1e-3 is 1e-6 of a gradient of ~1000 (within tolerance) but 100% of one of
    # ~1e-3: that element is the worst, although the absolute errors are the same
    box = Weighted(np.array([[1000.0, 1e-3]]))
    x = np.array([[0.5, 0.5]])
    report = fg.check_box(box, [x])
    assert report.inputs[0].worst == (0, 1), str(report)


def test_inputs_of_one_example_are_not_cut_again():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((1, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    report = fg.check_box(fg.Linear(), inputs)
    assert len(report.paths) == 7 and {p.n for p in report.paths} == {1}


def test_check_graph_default_seed_is_zero():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    graph = fg.Graph(fg.Softmax()(fg.Linear()(x, W, b)))  # non-scalar: a random projection
    feed = {x: np.random.default_rng(0).standard_normal((4, 3))}
    default, zero, one = (
        fg.check_graph(graph, feed, **kw) for kw in ({}, {"seed": 0}, {"seed": 1})
    )
    assert [c.analytic for c in default.parameters] == [c.analytic for c in zero.parameters]
    assert [c.analytic for c in default.parameters] != [c.analytic for c in one.parameters]


class IgnoresItsSecondInput(fg.Box):
    """fprop: y = 2 x (z unused);  bprop: grad_x = 2 grad_y, and None for z (its true 0)."""

    arity = 2
    input_names = ("x", "z")

    def fprop(self, x, z):
        return 2 * x

    def bprop(self, inputs, y, grad_y):
        return 2 * grad_y, None


def test_none_for_an_input_whose_gradient_is_zero_is_no_failure():
    report = fg.check_box(IgnoresItsSecondInput(), [np.ones((2, 2)), np.ones((2, 2))])
    assert report.ok, str(report)
    (x, z) = report.inputs
    assert z.no_gradient and not z.broken and z.n_failed == 0


class LinearDoublesGradB(fg.Linear):
    def bprop_needed(self, inputs, output, grad_a, needs):
        grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
        return grad_h, grad_W, None if grad_b is None else 2 * grad_b


def test_a_wrong_path_says_by_how_much_relative_to_bprop():
    (bad, *_) = fg.check_box(LinearDoublesGradB()).failing_paths
    assert "(relative to its largest: 1)" in bad.line()  # 2 grad_b - grad_b = grad_b


def test_glorot_uniform_default_seed_is_zero():
    from flowgraph.init import glorot_uniform

    np.testing.assert_array_equal(glorot_uniform((3, 4)), glorot_uniform((3, 4), rng=0))
    assert not np.array_equal(glorot_uniform((3, 4)), glorot_uniform((3, 4), rng=1))


def test_linear_hints_at_reshape_only_for_a_single_example():
    W, b = np.ones((2, 3)), np.zeros(2)
    with pytest.raises(fg.ShapeError, match=r"x.reshape\(1, -1\)"):
        fg.Linear().fprop(np.ones(3), W, b)
    with pytest.raises(fg.ShapeError) as info:
        fg.Linear().fprop(np.ones((1, 1, 3)), W, b)
    assert "reshape" not in str(info.value)


def test_relative_errors_in_the_report():
    # grad twice too large: |2g - g| / |2g| = 1/2 exactly, for every element
    class TanhTwice(fg.Tanh):
        def bprop(self, inputs, h, grad_h):
            return (2 * grad_h * (1 - h * h),)

    report = fg.check_box(TanhTwice(), [np.array([[0.3, -0.7]])])
    assert report.inputs[0].max_rel_err == pytest.approx(0.5, rel=1e-6)
    # a gradient that is exactly zero, numerically too: relative error 0, not 0/0
    report = fg.check_box(fg.ReLU(), [np.array([[-1.0, -2.0]])])
    assert report.inputs[0].max_rel_err == 0.0 and report.ok


def test_a_scalar_output_is_projected_by_one():
    # the gradient compared (and reported) is d Omega / d W itself, 2 W for L2
    W = np.array([[0.5, -1.5]])
    report = fg.check_box(fg.L2Penalty(), [W])
    (c,) = report.inputs
    assert c.analytic == pytest.approx(2 * W[c.worst], rel=1e-12)


def test_cross_entropy_labels_may_exceed_the_number_of_rows():
    f = np.full((2, 5), 0.2)
    loss = fg.CrossEntropy().fprop(f, np.array([4, 3]))  # 5 classes, 2 examples
    assert float(loss) == pytest.approx(-np.log(0.2))


def test_sgd_without_warmup_uses_a_plain_constant_schedule():
    W = fg.Parameter(np.ones(2), "W")
    opt = fg.SGD([W], lr=0.1)
    assert opt.schedule == constant(0.1) and str(opt.schedule) == "alpha = 0.1"
