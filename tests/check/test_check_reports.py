"""The checker's reports: the rows, titles and verdicts of BoxReport, GraphReport and
JVPReport as text, and the same as HTML tables in Jupyter (PASS green, FAIL red)."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest
from wrong_boxes import TanhForwardTwice, TanhWrongDerivative, mlp_graph

import flowgraph as fg
from flowgraph.check.html import STATUS_COLOURS

GREEN, RED = STATUS_COLOURS["PASS"], STATUS_COLOURS["FAIL"]


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


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


# -- the same reports as HTML tables, as Jupyter shows them ---------------------------------------


class Shown(HTMLParser):
    """What a browser shows of a report's HTML: ``tables`` (each a list of rows, each row its
    cells' text, the header row first), ``lines`` (the paragraphs' text) and ``colours``
    (each status word shown with the colour of its style)."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.lines: list[str] = []
        self.colours: list[tuple[str, str]] = []
        self.cell: str | None = None
        self.line: str | None = None
        self.style: str | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = ""
        elif tag == "p":
            self.line = ""
        elif tag == "span":
            self.style = dict(attrs)["style"]

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][-1].append(self.cell)
            self.cell = None
        elif tag == "p":
            self.lines.append(self.line)
            self.line = None
        elif tag == "span":
            self.style = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data
        if self.line is not None:
            self.line += data
        if self.style is not None:
            colour = self.style.split("color:")[1].split(";")[0]
            self.colours.append((data, colour))


def same_row(cells: list[str], line: str) -> bool:
    """Every figure of an HTML row is in the text report's row, in the same order."""
    at = 0
    for cell in filter(None, cells):
        at = line.find(cell, at)
        if at < 0:
            return False
        at += len(cell)
    return True


def test_pass_is_green_and_fail_red():
    r, g, b = rgb(GREEN)
    assert g > 2 * max(r, b)
    r, g, b = rgb(RED)
    assert r > 2 * max(g, b)


def test_a_box_report_shows_as_html_tables_of_the_same_rows():
    report = fg.check_box(fg.Linear())
    shown = Shown(report._repr_html_())
    inputs, rules = shown.tables
    columns = ["shape", "max abs", "max rel", "elements", "status", "worst", "note"]
    assert inputs[0] == ["input"] + columns and rules[0] == ["rule"] + columns
    assert [r[0] for r in inputs[1:]] == ["h", "W", "b"]
    assert [r[0] for r in rules[1:]] == [c.what for c in report.jvp.checks]
    text = str(report).splitlines()
    for cells in inputs[1:] + rules[1:]:
        (line,) = [t for t in text if t.strip().startswith(cells[0] + " ")]
        assert same_row(cells, line), (cells, line)
    assert shown.lines[0] == "Linear: PASS" and report.paths_line() in shown.lines
    # every status word green: the title, three inputs, the rules' verdict and four rules
    assert shown.colours == [("PASS", GREEN)] * 9


def test_a_failing_box_is_red_where_it_fails_and_green_where_it_passes():
    report = fg.check_box(TanhForwardTwice())  # bprop right, fprop_jvp doubled
    shown = Shown(report._repr_html_())
    assert shown.lines[0] == "TanhForwardTwice: FAIL (wrong forward-mode rule: fprop_jvp)"
    inputs, rules = shown.tables
    assert inputs[1][0] == "a" and inputs[1][5] == "PASS"
    assert [(r[0], r[5]) for r in rules[1:]] == [
        ("fprop_jvp", "FAIL"), ("bprop_jvp: grad_a", "PASS")
    ]  # fmt: skip
    # the title, the input, the rules' verdict, then the two rules
    assert shown.colours == [
        ("FAIL", RED), ("PASS", GREEN), ("FAIL", RED), ("FAIL", RED), ("PASS", GREEN)
    ]  # fmt: skip
    # a rule not judged is grey, and a box with nothing to check says so
    shown = Shown(fg.check_box(TanhWrongDerivative())._repr_html_())
    assert ("SKIP", STATUS_COLOURS["SKIP"]) in shown.colours
    shown = Shown(fg.check_box(fg.Tanh(), [np.array([[0, 1]])])._repr_html_())
    assert shown.tables == [] and "no floating-point input: nothing was checked" in shown.lines


def test_a_graph_report_shows_its_parameters_its_boxes_and_the_first_failing_box():
    graph, feed = mlp_graph(TanhWrongDerivative())
    report = fg.check_graph(graph, feed)
    shown = Shown(report._repr_html_())
    params, boxes, first, first_rules = shown.tables
    assert [(r[0], r[5]) for r in params[1:]] == [
        ("W1", "FAIL"), ("b1", "FAIL"), ("W2", "PASS"), ("b2", "PASS")
    ]  # fmt: skip
    assert boxes[0] == ["node", "box", "status", "max rel", "wrong"]
    assert [r[0] for r in boxes[1:]] == list(report.boxes)
    assert [r[0] for r in boxes[1:] if r[2] == "FAIL"] == ["h1"]
    assert boxes[1:][1][4] == "failing input(s): a"
    assert "first failing box: 'h1' (TanhWrongDerivative)" in shown.lines
    assert "TanhWrongDerivative at node 'h1': FAIL (wrong gradient for: a)" in shown.lines
    assert first[1][0] == "a" and first[1][5] == "FAIL"
    assert shown.colours[0] == ("FAIL", RED)
    assert ("PASS", GREEN) in shown.colours
    right, feed = mlp_graph()
    shown = Shown(fg.check_graph(right, feed)._repr_html_())
    assert {colour for _, colour in shown.colours} == {GREEN}


def test_report_html_escapes_what_it_shows():
    x = fg.Input("x")
    W = fg.Parameter(np.ones((2, 3)), "W<i>&j")
    loss = fg.L2Penalty()(fg.Linear()(x, W, fg.Parameter(np.zeros(2), "b")), name="<loss>")
    html = fg.check_graph(fg.Graph(loss), {x: np.ones((4, 3))})._repr_html_()
    assert "W<i>" not in html and "<loss>" not in html
    shown = Shown(html)
    assert shown.tables[0][1][0] == "W<i>&j" and shown.tables[1][2][0] == "<loss>"


def test_a_jvp_report_shows_as_an_html_table():
    shown = Shown(fg.check_jvp(fg.Tanh())._repr_html_())
    assert shown.lines == ["Tanh forward-mode rules: PASS"]
    (rules,) = shown.tables
    assert [r[0] for r in rules[1:]] == ["fprop_jvp", "bprop_jvp: grad_a"]
    assert shown.colours == [("PASS", GREEN)] * 3
