"""check_box: proof that it catches wrong gradients and names them, reports a broken bprop
(None, the wrong number or shape, NaN, inputs overwritten), leaves the caller's inputs alone,
and checks a box's forward-mode rules beside its bprop."""

from __future__ import annotations

import numpy as np
import pytest
from wrong_boxes import (
    WRONG_BOXES,
    CrossEntropyDividesTwice,
    CrossEntropyForgetsN,
    CubeWithoutRules,
    LinearNoGradB,
    LinearTransposedGradW,
    LinearTwoGradients,
    ReLUWrongWhenNegative,
    SoftmaxDiagonalOnly,
    TanhBpropJvpForgetsRh,
    TanhBpropJvpOffByAThousandth,
    TanhForwardOffByAThousandth,
    TanhForwardTwice,
    TanhInPlace,
    TanhNaN,
    TanhWrongDerivative,
    TanhWrongOnlyOffUniform,
    mlp_graph,
)

import flowgraph as fg
from flowgraph.check import all_box_classes


def test_test_boxes_do_not_join_the_package_list():
    found = all_box_classes()
    assert not any(cls in found for cls in WRONG_BOXES)
    assert all(cls.__module__.startswith("flowgraph.") for cls in found)


# -- wrong gradients, caught and named ------------------------------------------------------------


def test_labels_are_held_fixed_and_not_reported():
    report = fg.check_box(fg.SoftmaxCrossEntropy())
    assert [c.name for c in report.inputs] == ["a"]


@pytest.mark.parametrize(
    "box, inputs, wrong",
    [
        (TanhWrongDerivative(), None, "a"),
        (SoftmaxDiagonalOnly(), None, "a"),
        (CrossEntropyForgetsN(), None, "f"),
        (CrossEntropyDividesTwice(), None, "f"),
        (TanhWrongOnlyOffUniform(), None, "a"),
        (ReLUWrongWhenNegative(), None, "a"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, fg.Box) else None,
)
def test_wrong_gradients_are_caught_and_named(box, inputs, wrong):
    report = fg.check_box(box, inputs)
    assert not report.ok and not bool(report) and report.status == "fail"
    assert report.failing == [wrong], str(report)
    check = report.inputs[[c.name for c in report.inputs].index(wrong)]
    assert check.n_failed > 0 and check.status == "FAIL"
    assert check.analytic != pytest.approx(check.numeric, rel=1e-3)
    text = str(report)
    assert text.startswith(f"{type(box).__name__}: FAIL (wrong gradient for: {wrong})")
    assert f"worst {check.worst}" in text


def test_linear_with_transposed_grad_w_non_square():
    report = fg.check_box(LinearTransposedGradW())  # W is (5, 3): the shapes differ
    assert report.failing == ["W"], str(report)
    (W,) = [c for c in report.inputs if c.name == "W"]
    assert W.broken and "gradient has shape (3, 5), expected (5, 3)" in W.note
    assert "gradient has shape (3, 5)" in str(report)


def test_linear_with_transposed_grad_w_square():
    rng = np.random.default_rng(3)
    inputs = rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)
    assert fg.check_box(fg.Linear(), inputs).ok
    report = fg.check_box(LinearTransposedGradW(), inputs)  # same shape, values transposed
    assert report.failing == ["W"], str(report)
    (W,) = [c for c in report.inputs if c.name == "W"]
    assert not W.broken and W.n_failed == 6  # every off-diagonal element, none on it
    assert W.worst[0] != W.worst[1]


def test_other_broken_bprops_are_reported():
    report = fg.check_box(LinearNoGradB())
    assert report.failing == ["b"] and "returned None" in str(report)
    report = fg.check_box(LinearTwoGradients())
    assert not report.ok and "returned 2 gradients for 3 inputs" in str(report)
    report = fg.check_box(TanhInPlace())
    assert not report.ok and "wrote into its inputs" in str(report)
    report = fg.check_box(TanhNaN())
    assert not report.ok and "1 non-finite" in str(report)


def test_check_box_leaves_the_callers_inputs_alone():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    before = a.copy()
    report = fg.check_box(fg.Tanh(), [a])
    assert report.ok, str(report)  # float32 inputs are checked in float64
    assert a.dtype == np.float32 and np.array_equal(a, before)


def test_check_box_input_mistakes():
    report = fg.check_box(fg.Tanh(), [[[0.5, 1.0, -2.0]]])  # nested lists are arrays too
    assert report.ok and report.inputs[0].shape == (1, 3) and report.inputs[0].n_checked == 3
    report = fg.check_box(fg.Tanh(), [np.array([[0, 1]])])  # integers are held fixed
    assert report.inputs == [] and "nothing was checked" in str(report)
    with pytest.raises(fg.GraphError, match=r"Linear takes 3 children \(h, W, b\).*on 2"):
        fg.check_box(fg.Linear(), [np.ones((2, 2)), np.ones((2, 2))])
    graph, _ = mlp_graph()
    with pytest.raises(fg.FeedError, match="feed must map"):
        fg.check_graph(graph, [np.ones((5, 3))])


# -- forward-mode rules (fprop_jvp, bprop_jvp), checked with bprop ------------------------------


@pytest.mark.parametrize(
    "cls, rule",
    [
        (TanhForwardTwice, "fprop_jvp"),
        (TanhForwardOffByAThousandth, "fprop_jvp"),
        (TanhBpropJvpForgetsRh, "bprop_jvp: grad_a"),
        (TanhBpropJvpOffByAThousandth, "bprop_jvp: grad_a"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else None,
)
def test_a_wrong_forward_mode_rule_fails_check_box(cls, rule):
    report = fg.check_box(cls())
    assert all(c.ok for c in report.inputs) and all(p.ok for p in report.paths)  # bprop is right
    assert not report.ok and report.status == "fail", str(report)
    assert report.failing == [rule] and report.failing_rules == [rule]
    assert report.failing_inputs == []
    text = str(report)
    assert text.startswith(f"{cls.__name__}: FAIL (wrong forward-mode rule: {rule})")
    assert "forward-mode rules (fprop_jvp, bprop_jvp) along a random tangent: FAIL" in text
    (row,) = [line for line in text.splitlines() if line.strip().startswith(rule)]
    assert "12/12 failed" in row and row.split()[-1] != "PASS" and "FAIL" in row
    # jvp=False: the same box passes, and its report says nothing of forward mode
    off = fg.check_box(cls(), jvp=False)
    assert off.ok and off.jvp is None and "forward-mode" not in str(off)


def test_a_box_without_forward_mode_rules_says_so_and_passes():
    report = fg.check_box(CubeWithoutRules())
    assert report.ok and report.status == "pass" and report.jvp is None
    (line,) = [x for x in str(report).splitlines() if "forward-mode" in x]
    assert line.strip().startswith("forward-mode rules (fprop_jvp, bprop_jvp): none")
    # a Block has rules only when every inner box has them: per instance
    x = fg.Input("x")
    block = fg.Block(fg.Graph(CubeWithoutRules()(fg.tanh(x))), inputs=[x])
    assert fg.Block.has_jvp() and not block.has_jvp()
    report = fg.check_box(block, [np.linspace(-1, 1, 6)])
    assert report.ok and report.jvp is None and "none" in report.jvp_note
    x2 = fg.Input("x")
    good = fg.Block(fg.Graph(fg.tanh(x2) * x2), inputs=[x2])
    report = fg.check_box(good, [np.linspace(-1, 1, 6)])
    assert report.ok and report.jvp is not None and report.jvp.ok, str(report)


def test_bprop_jvp_is_not_judged_while_bprop_is_wrong():
    # bprop_jvp is the derivative of bprop: a wrong bprop is reported once, as itself
    report = fg.check_box(TanhWrongDerivative())
    assert report.failing == ["a"] and report.failing_rules == []
    fprop_rule, bprop_rule = report.jvp.checks
    assert fprop_rule.what == "fprop_jvp" and fprop_rule.status == "PASS"
    assert bprop_rule.what == "bprop_jvp" and bprop_rule.status == "SKIP"
    assert "not checked: bprop is wrong" in str(report)


def test_forward_mode_rules_at_kinks_are_reported_apart():
    a = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 0.0]])
    report = fg.check_box(fg.ReLU(), [a])
    assert report.ok and report.status == "kink", str(report)
    assert [c.n_kinks for c in report.jvp.checks] == [3, 3]  # R{h}, and bprop jumps at 0
    assert report.jvp.status == "kink"

    class ReLUForwardTwice(fg.ReLU):
        def fprop_jvp(self, inputs, tangents, h):
            return 2 * (inputs[0] > 0) * tangents[0]

    report = fg.check_box(ReLUForwardTwice(), [a])  # the kinks hide nothing: a = 1.5 fails
    assert report.failing == ["fprop_jvp"] and report.jvp.checks[0].n_failed == 1


def test_forward_mode_rules_near_a_pole_are_judged_with_smaller_steps():
    # R{grad_f} of -log f_y at f_y = 1e-8: -1/f jumps sign within eps of it
    f = np.full((3, 4), (1 - 1e-8) / 3)
    f[:, 0] = 1e-8
    report = fg.check_box(fg.CrossEntropy(), [f, np.zeros(3, dtype=int)])
    assert report.ok and report.status == "pass", str(report)




# -- an input whose gradient is zero -------------------------------------------------------------


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
