"""`flowgraph gradcheck`: one line per box and input, exit 0 when all pass, 1 on a failure,
2 with one line for a user's mistake."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import flowgraph as fg
import flowgraph.gradcheck
from flowgraph.cli import main
from flowgraph.gradcheck import all_box_classes


def expected_rows(classes) -> list[tuple[str, str]]:
    """(box, input) for every floating-point input of every box, as the checker names them."""
    rows = []
    for cls in classes:
        box = cls.example()
        for i, x in enumerate(box.sample_inputs(np.random.default_rng(0))):
            if np.issubdtype(np.asarray(x).dtype, np.floating):
                rows.append((cls.__name__, box.input_name(i)))
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
    assert all(line.endswith("PASS") and "max rel err" in line for line in lines[:-1])
    for line in lines[:-1]:
        assert float(line.split("max rel err")[1].split()[0]) < 1e-5
    assert lines[-1] == f"{len(classes)} of {len(classes)} boxes pass"


def test_gradcheck_named_boxes_any_case(capsys):
    assert main(["gradcheck", "tanh", "Linear", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [tuple(line.split()[:2]) for line in lines] == [
        ("Tanh", "a"),
        ("Linear", "h"),
        ("Linear", "W"),
        ("Linear", "b"),
        ("2", "of"),
    ]


def test_unknown_box_is_one_line_and_exit_2(capsys):
    assert main(["gradcheck", "Tanh", "Swish"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("flowgraph gradcheck: error: unknown box Swish; boxes are ")
    assert "SoftmaxCrossEntropy" in err


def test_bad_eps_is_one_line_and_exit_2(capsys):
    assert main(["gradcheck", "--eps=-1e-6"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--eps must be a positive step" in err


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
    monkeypatch.setattr(flowgraph.gradcheck, "all_box_classes", lambda: classes)
    assert main(["gradcheck", *verbose]) == 1
    out = capsys.readouterr().out
    if verbose:
        assert "SigmoidWrong: FAIL (wrong gradient for: a)" in out
    else:
        lines = out.strip().splitlines()
        assert lines[0].startswith("Tanh") and lines[0].endswith("PASS")
        assert lines[1].split()[:2] == ["SigmoidWrong", "a"] and lines[1].endswith("FAIL")
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
    assert sum(line.endswith("PASS") for line in lines) == len(lines) - 1
    assert "FAIL" not in done.stdout and done.stderr == ""
