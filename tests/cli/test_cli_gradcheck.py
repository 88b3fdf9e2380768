"""`flowgraph gradcheck`: one line per box and input and one for its forward-mode rules, exit 0
when all pass, 1 on a failure, 2 with one line for a user's mistake."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from helper_boxes import Cube

import flowgraph as fg
import flowgraph.check
from flowgraph.check import all_box_classes
from flowgraph.cli import main


def expected_rows(classes, jvp=True) -> list[tuple[str, str]]:
    """(box, input) for every floating-point input of every box, as the checker names them,
    then (box, "jvp") for its forward-mode rules."""
    rows = []
    for cls in classes:
        box = cls.example()
        floats = [
            box.input_name(i)
            for i, x in enumerate(box.sample_inputs(np.random.default_rng(0)))
            if np.issubdtype(np.asarray(x).dtype, np.floating)
        ]
        if not floats:  # (OneHot: integer labels only)
            rows.append((cls.__name__, "no"))
            continue
        rows += [(cls.__name__, name) for name in floats]
        if jvp:
            rows.append((cls.__name__, "jvp"))
    return rows


def test_gradcheck_every_box(capsys):
    status = main(["gradcheck"])
    out, err = capsys.readouterr()
    assert status == 0 and err == ""
    lines = out.strip().splitlines()
    classes = all_box_classes()
    rows = expected_rows(classes)
    assert len(lines) == len(rows) + 1
    assert [tuple(line.split()[:2]) for line in lines[:-1]] == rows
    by_design = "no gradient, by design (differentiable = False)"
    assert all(line.endswith(("PASS", by_design)) for line in lines[:-1])
    for line in lines[:-1]:
        if "max rel err" in line:
            assert float(line.split("max rel err")[1].split()[0]) < 1e-5
    assert lines[-1] == f"{len(classes)} of {len(classes)} boxes pass"


def test_gradcheck_named_boxes_any_case(capsys):
    assert main(["gradcheck", "tanh", "Linear", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [tuple(line.split()[:2]) for line in lines] == [
        ("Tanh", "a"),
        ("Tanh", "jvp"),
        ("Linear", "h"),
        ("Linear", "W"),
        ("Linear", "b"),
        ("Linear", "jvp"),
        ("2", "of"),
    ]
    # 12 elements of R{h} and of R{grad_a}: one line for both rules
    assert re.fullmatch(r"Tanh +jvp +max rel err +\S+ +24 checked +PASS", lines[1])


def test_no_jvp_leaves_the_forward_mode_rules_out(capsys):
    assert main(["gradcheck", "Tanh", "Linear", "--no-jvp"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[1] for line in lines[:-1]] == ["a", "h", "W", "b"]


def test_unknown_box_is_one_line_and_exit_2(capsys):
    assert main(["gradcheck", "Tanh", "Swish"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("flowgraph gradcheck: error: unknown box Swish; boxes are ")
    assert "SoftmaxCrossEntropy" in err


@pytest.mark.parametrize("eps", ["-1e-6", "0", "1e400", "inf", "nan", "1"])
def test_bad_eps_is_one_line_and_exit_2(capsys, eps):
    assert main(["gradcheck", "Tanh", f"--eps={eps}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--eps must be a positive step below 1" in err


def test_a_negative_seed_is_one_line_and_exit_2(capsys):
    assert main(["gradcheck", "Tanh", "--seed", "-1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "argument --seed: expected a number >= 0, got -1" in err


class SigmoidWrong(fg.Sigmoid):
    """g'(a) = h instead of h (1 - h)."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * h,)


class Uncheckable(fg.Box):
    def fprop(self, x):
        return x


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_a_wrong_box_fails_with_exit_1(capsys, monkeypatch, verbose):
    classes = [fg.Tanh, SigmoidWrong, Uncheckable]
    monkeypatch.setattr(flowgraph.check, "all_box_classes", lambda: classes)
    assert main(["gradcheck", *verbose]) == 1
    out, err = capsys.readouterr()
    assert err == "flowgraph gradcheck: 2 of 3 boxes fail\n"  # the failure, one line on stderr
    if verbose:
        assert "SigmoidWrong: FAIL (wrong gradient for: a)" in out
        assert "forward-mode rules (fprop_jvp, bprop_jvp) along a random tangent" in out
    else:
        lines = out.strip().splitlines()
        assert lines[0].startswith("Tanh") and lines[0].endswith("PASS")
        assert lines[1].split()[:2] == ["Tanh", "jvp"] and lines[1].endswith("PASS")
        assert lines[2].split()[:2] == ["SigmoidWrong", "a"] and lines[2].endswith("FAIL")
        # its bprop_jvp is not judged against a wrong bprop; its fprop_jvp is right
        assert lines[3].split()[:2] == ["SigmoidWrong", "jvp"] and "PASS" in lines[3]
        assert "bprop_jvp not checked: bprop is wrong" in lines[3]
    assert re.search(r"^Uncheckable +cannot be checked: NotImplementedError.*FAIL$", out, re.M)
    assert "sample_inputs" in out
    assert out.strip().splitlines()[-1] == "1 of 3 boxes pass"


def test_python_dash_m_flowgraph_gradcheck():
    done = subprocess.run(
        [sys.executable, "-m", "flowgraph", "gradcheck"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == len(expected_rows(all_box_classes())) + 1
    rows = expected_rows(all_box_classes())
    assert sum(line.split()[1] == "jvp" for line in lines[:-1]) == sum(r == "jvp" for _, r in rows)
    assert sum(" PASS" in line for line in lines) == len(lines) - 1
    assert "FAIL" not in done.stdout and done.stderr == ""


class TanhForwardTwice(fg.Tanh):
    """bprop right; fprop_jvp gives 2 R{h}."""

    def fprop_jvp(self, inputs, tangents, h):
        return 2 * (1 - h * h) * tangents[0]


class SigmoidBpropJvpForgetsRh(fg.Sigmoid):
    """R{grad_a} = h (1 - h) R{grad_h}: the term (1 - 2 h) R{h} grad_h is forgotten."""

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        return (h * (1 - h) * Rgrad_h,)


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_a_wrong_forward_mode_rule_fails_with_exit_1(capsys, monkeypatch, verbose):
    classes = [fg.Tanh, TanhForwardTwice, SigmoidBpropJvpForgetsRh]
    monkeypatch.setattr(flowgraph.check, "all_box_classes", lambda: classes)
    assert main(["gradcheck", *verbose]) == 1
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert lines[-1] == "1 of 3 boxes pass"
    if verbose:
        assert "TanhForwardTwice: FAIL (wrong forward-mode rule: fprop_jvp)" in out
        assert "SigmoidBpropJvpForgetsRh: FAIL (wrong forward-mode rule: bprop_jvp: grad_a)" in out
        assert re.search(r"^ +fprop_jvp +\(4, 3\) .* 12/12 failed +FAIL +worst", out, re.M)
    else:
        by_row = {tuple(line.split()[:2]): line for line in lines[:-1]}
        assert by_row[("TanhForwardTwice", "a")].endswith("PASS")  # bprop is right
        assert re.search(r"FAIL  wrong: fprop_jvp$", by_row[("TanhForwardTwice", "jvp")])
        assert by_row[("SigmoidBpropJvpForgetsRh", "jvp")].endswith(
            "FAIL  wrong: bprop_jvp: grad_a"
        )
        assert by_row[("Tanh", "jvp")].endswith("PASS")
    # --no-jvp: both pass
    assert main(["gradcheck", "--no-jvp"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "3 of 3 boxes pass"


class CubeWithoutRules(Cube):
    """Cube under the name the reports print."""


def test_a_box_without_forward_mode_rules_passes_and_says_so(capsys, monkeypatch):
    monkeypatch.setattr(flowgraph.check, "all_box_classes", lambda: [CubeWithoutRules])
    assert main(["gradcheck"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].endswith("PASS")
    assert re.fullmatch(r"CubeWithoutRules +jvp +none \(optional: .*\)", lines[1])
    assert lines[2] == "1 of 1 boxes pass"


# -- the command line fails whenever a check fails, render --check too ------------------------


LINEAR_BPROP_NEEDED = fg.Linear.bprop_needed


def doubled_grad_b(self, inputs, output, grad_a, needs):
    grad_h, grad_W, grad_b = LINEAR_BPROP_NEEDED(self, inputs, output, grad_a, needs)
    return grad_h, grad_W, None if grad_b is None else 2 * grad_b


def test_gradcheck_command_fails_on_a_wrong_fast_path(monkeypatch, capsys):
    from flowgraph.cli import main

    monkeypatch.setattr(fg.Linear, "bprop_needed", doubled_grad_b)
    assert main(["gradcheck", "Linear"]) == 1
    out = capsys.readouterr().out
    assert "bprop_needed(needs=" in out and "FAIL" in out and "0 of 1 boxes pass" in out
    assert "cannot be checked" not in out and "b: differs from bprop's" in out


def test_render_check_fails_on_a_wrong_fast_path(tmp_path, monkeypatch, capsys):
    from flowgraph.cli import main

    model = fg.mlp([64, 5, 10], dtype=np.float64, seed=0)
    path = model.save(tmp_path / "model.npz", metadata={"dataset": "digits"})
    monkeypatch.setattr(fg.Linear, "bprop_needed", doubled_grad_b)
    status = main(["render", str(path), "-o", str(tmp_path / "g.svg"), "--check", "--batch", "3"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "first failing box: 'a1'" in out and "no box fails" not in out


def test_render_check_fails_when_only_the_end_to_end_gradient_is_wrong(
    tmp_path, monkeypatch, capsys
):
    from flowgraph import check
    from flowgraph.cli import main

    model = fg.mlp([64, 5, 10], dtype=np.float64, seed=0)
    path = model.save(tmp_path / "model.npz", metadata={"dataset": "digits"})
    real = check.check_graph

    def only_parameters_wrong(*args, **kwargs):
        report = real(*args, **kwargs)
        report.parameters[0].n_failed = 1  # as if the Graph's sum were wrong, boxes all right
        return report

    monkeypatch.setattr(check, "check_graph", only_parameters_wrong)
    status = main(["render", str(path), "-o", str(tmp_path / "g.svg"), "--check", "--batch", "3"])
    out = capsys.readouterr().out
    assert status == 1 and "every box passes on its own" in out, out
