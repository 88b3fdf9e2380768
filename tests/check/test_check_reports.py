"""The checker's reports: the rows, titles and verdicts of BoxReport, GraphReport and
JVPReport as text, and the same as HTML tables in Jupyter (PASS green, FAIL red)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


def test_report_of_a_right_box():
    report = fg.check_box(fg.Linear())
    assert report.ok and bool(report) and report.status == "pass"
    assert report.box == "Linear" and report.failing == []
    assert [c.name for c in report.inputs] == ["h", "W", "b"]
    h, W, b = fg.Linear().sample_inputs(np.random.default_rng(0))
    for check, x in zip(report.inputs, (h, W, b)):
        assert check.shape == x.shape
        assert check.n_checked == x.size and check.n_failed == 0 and check.n_kinks == 0
        assert 0 <= check.max_abs_err < 1e-7 and 0 <= check.max_rel_err < 1e-5
        assert isinstance(check.worst, tuple) and len(check.worst) == x.ndim
        assert all(0 <= i < s for i, s in zip(check.worst, x.shape))
        assert check.analytic == pytest.approx(check.numeric, rel=1e-5, abs=1e-7)
        assert check.ok and check.status == "PASS"
    text = str(report)
    lines = text.splitlines()
    assert lines[0] == "Linear: PASS"
    assert "max abs" in lines[1] and "max rel" in lines[1]
    assert [line.split()[0] for line in lines[2:5]] == ["h", "W", "b"]
    assert all("PASS" in line and "worst" in line for line in lines[2:5])
    # 7 patterns of needs over (h, W, b), at the sample's N = 4 and at N = 1
    paths = "paths the Graph takes (bprop_needed) at N = 1, 4: 14 of 14 equal bprop"
    assert lines[5].strip() == paths
    assert len(report.paths) == 14 and all(p.ok for p in report.paths)


def test_the_report_of_a_right_box_shows_its_forward_mode_rules():
    report = fg.check_box(fg.Linear())
    assert report.ok and report.jvp is not None and report.jvp.ok
    assert [c.what for c in report.jvp.checks] == [
        "fprop_jvp", "bprop_jvp: grad_h", "bprop_jvp: grad_W", "bprop_jvp: grad_b"
    ]  # fmt: skip
    assert all(c.status == "PASS" and c.n_checked > 0 for c in report.jvp.checks)
    lines = str(report).splitlines()
    at = lines.index("  forward-mode rules (fprop_jvp, bprop_jvp) along a random tangent: PASS")
    assert "max abs" in lines[at + 1] and "elements" in lines[at + 1]
    assert [line.split()[0] for line in lines[at + 2 :]] == ["fprop_jvp"] + ["bprop_jvp:"] * 3
    assert all(" PASS " in line for line in lines[at + 2 :])


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
