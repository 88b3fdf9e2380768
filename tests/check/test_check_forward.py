"""check_jvp: every box's forward-mode rules (fprop_jvp, bprop_jvp) against central
differences of fprop and bprop, found automatically; wrong rules named, kinks apart."""

from __future__ import annotations

import numpy as np
import pytest
from helper_boxes import Cube

import flowgraph as fg
from flowgraph.check import all_box_classes, check_jvp
from flowgraph.core.forward import JVPError

JVP_CLASSES = [c for c in all_box_classes() if c.has_jvp()]


JVP_IDS = [c.__name__ for c in JVP_CLASSES]


@pytest.mark.parametrize("cls", JVP_CLASSES, ids=JVP_IDS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_box_with_forward_rules_passes_check_jvp(cls, seed):
    report = check_jvp(cls.example(), rng=seed)
    assert report.ok, str(report)
    assert report.checks[0].what == "fprop_jvp"
    if cls.differentiable:  # (a box without a gradient has no bprop to differentiate)
        assert any(c.what.startswith("bprop_jvp") for c in report.checks), str(report)


class GoodCube(Cube):
    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = 3 x^2 R{x}"""
        return 3 * inputs[0] ** 2 * tangents[0]

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """R{grad_x} = 6 x R{x} grad_y + 3 x^2 R{grad_y}"""
        x, Rx = inputs[0], tangents[0]
        return (6 * x * Rx * grad_y + 3 * x**2 * Rgrad_y,)


class ForgetsTheSecondDerivative(GoodCube):
    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """(wrong: treats 3 x^2 as a constant)"""
        return (3 * inputs[0] ** 2 * Rgrad_y,)


class WrongForward(GoodCube):
    def fprop_jvp(self, inputs, tangents, y):
        """(wrong: 2 x^2 R{x})"""
        return 2 * inputs[0] ** 2 * tangents[0]


def test_check_jvp_passes_right_rules_and_names_wrong_ones():
    assert check_jvp(GoodCube()).ok
    bad = check_jvp(ForgetsTheSecondDerivative())
    assert not bad.ok and bad.failing == ["bprop_jvp: grad_x"]
    text = str(bad)
    assert "ForgetsTheSecondDerivative" in text and "FAIL" in text and "worst" in text
    fwd = check_jvp(WrongForward())
    assert "fprop_jvp" in fwd.failing


class RaisingRules(GoodCube):
    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, Rgrad_y):
        """(broken)"""
        return (tangents[0] @ np.ones((5, 5)),)


def test_check_jvp_reports_a_rule_that_raises():
    report = check_jvp(RaisingRules())
    assert not report.ok and report.checks[0].ok
    assert "raised ValueError" in str(report) and report.failing == ["bprop_jvp"]


def test_check_jvp_refuses_a_box_without_rules():
    assert not Cube.has_jvp() and GoodCube.has_jvp()
    with pytest.raises(JVPError, match="Cube defines no forward-mode rules"):
        check_jvp(Cube())


def test_check_jvp_holds_labels_fixed():
    report = check_jvp(fg.SoftmaxCrossEntropy())
    assert [c.what for c in report.checks] == ["fprop_jvp", "bprop_jvp: grad_a"]


# -- where the box is not smooth, or its input does not move ----------------------------------


def test_check_jvp_reports_kinks_apart_and_still_fails_a_wrong_rule():
    a = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 0.0]])
    report = check_jvp(fg.ReLU(), [a])
    assert report.ok and report.status == "kink", str(report)
    assert [(c.n_kinks, c.n_failed, c.n_checked) for c in report.checks] == [(3, 0, 6)] * 2
    assert "3 at kinks" in str(report) and "KINK" in str(report)
    W = np.array([[0.0, 1.0], [-1.0, 0.0]])  # sign(W) jumps at 0: bprop_jvp's kinks
    report = check_jvp(fg.L1Penalty(), [W])
    assert report.ok and report.checks[1].n_kinks == 2, str(report)
    assert not check_jvp(WrongForward(), [np.array([[0.0, 1.0, -1.0]])]).ok


def test_check_jvp_judges_steep_points_with_smaller_steps():
    f = np.array([[1e-7, 1 - 1e-7], [3e-6, 1 - 3e-6], [0.4, 0.6]])  # f - eps leaves the domain
    report = check_jvp(fg.CrossEntropy(), [f, np.array([0, 0, 1])])
    assert report.ok and report.status == "pass", str(report)


def test_check_jvp_of_an_integer_input_with_a_gradient():
    # x / 2 in a graph: the 2 is an integer Constant; bprop gives it a gradient, which moves
    # with x although the 2 does not
    report = check_jvp(fg.Div(), [np.array([0.5, -1.5]), 2])
    assert report.ok, str(report)
    assert [c.what for c in report.checks] == [
        "fprop_jvp",
        "bprop_jvp: grad_a",
        "bprop_jvp: grad_b",
    ]


def test_check_jvp_can_leave_bprop_jvp_out():
    report = check_jvp(ForgetsTheSecondDerivative(), bprop_jvp=False)
    assert report.ok and [c.status for c in report.checks] == ["PASS", "SKIP"]


@pytest.mark.parametrize("factor", [2.0, 1.001])
def test_check_jvp_catches_a_rule_wrong_by_a_factor(factor):
    class Scaled(GoodCube):
        def fprop_jvp(self, inputs, tangents, y):
            return factor * super().fprop_jvp(inputs, tangents, y)

    report = check_jvp(Scaled())
    assert report.failing == ["fprop_jvp"] and report.checks[0].n_failed == 6, str(report)
