"""The paths the Graph takes through a box: ``bprop_needed`` for each pattern of ``needs``, at
N = 1 and N > 1, Outer factors included, is held to ``bprop``, for user boxes too; the
checker checks what actually runs, and cannot be fooled by a right bprop."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes
from flowgraph.core import Outer

BOX_CLASSES = all_box_classes()  # the same auto-discovery as tests/test_boxes.py
BOX_IDS = [c.__name__ for c in BOX_CLASSES]

LINEAR_BPROP_NEEDED = fg.Linear.bprop_needed


def doubled_grad_b(self, inputs, output, grad_a, needs):
    grad_h, grad_W, grad_b = LINEAR_BPROP_NEEDED(self, inputs, output, grad_a, needs)
    return grad_h, grad_W, None if grad_b is None else 2 * grad_b


class LinearDoublesGradB(fg.Linear):
    """The issue's example: bprop right, bprop_needed (what the Graph runs) doubles grad_b."""

    bprop_needed = doubled_grad_b


class LinearWrongOnlyForBAlone(fg.Linear):
    """Wrong only on the first layer's path at N = 1: W needs no gradient, b does."""

    def bprop_needed(self, inputs, output, grad_a, needs):
        grads = super().bprop_needed(inputs, output, grad_a, needs)
        if tuple(needs) == (False, False, True) and grad_a.shape[0] == 1:
            return grads[0], grads[1], grads[2] + 1.0
        return grads


class LinearOuterTransposed(fg.Linear):
    """At N = 1, grad_W's factors in the wrong order: h grad_a^T instead of grad_a h^T."""

    def bprop_needed(self, inputs, output, grad_a, needs):
        grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
        if isinstance(grad_W, Outer):
            grad_W = Outer(grad_W.v, grad_W.u)
        return grad_h, grad_W, grad_b


class LinearOuterWrongSign(fg.Linear):
    def bprop_needed(self, inputs, output, grad_a, needs):
        grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
        if isinstance(grad_W, Outer):
            grad_W = Outer(-grad_W.u, grad_W.v)
        return grad_h, grad_W, grad_b


class LinearSkipsTooMuch(fg.Linear):
    """Skips grad_h whenever W is not needed, even when h is."""

    def bprop_needed(self, inputs, output, grad_a, needs):
        grad_h, grad_W, grad_b = super().bprop_needed(inputs, output, grad_a, needs)
        return (grad_h if needs[1] else None), grad_W, grad_b


class LinearSkipsWhatIsNotNeeded(fg.Linear):
    """A correct fast path: None for every input that needs nothing, the rest from bprop."""

    def bprop_needed(self, inputs, output, grad_a, needs):
        grads = self.bprop(inputs, output, grad_a)
        return tuple(g if k else None for g, k in zip(grads, needs))


class TanhFastPathRaises(fg.Tanh):
    def bprop_needed(self, inputs, output, grad_h, needs):
        raise RuntimeError("not implemented for this case")


class ScaledSquare(fg.Box):
    """A user box with a batch dimension and its own sample_inputs(rng, n).

    fprop:  y = c x^2 (element-wise);  bprop: grad_x = 2 c x grad_y
    """

    def __init__(self):
        self.asked: list[int] = []

    def fprop(self, x):
        return 3.0 * x * x

    def bprop(self, inputs, y, grad_y):
        return (6.0 * inputs[0] * grad_y,)

    def bprop_needed(self, inputs, y, grad_y, needs):
        g = self.bprop(inputs, y, grad_y)[0]
        return ((g * 1.5 if inputs[0].shape[0] == 1 else g),)  # wrong for one example only

    def sample_inputs(self, rng, n=4):
        self.asked.append(n)
        return (rng.standard_normal((n, 3)),)


def test_the_issue_example_fails_everywhere_it_runs():
    report = fg.check_box(LinearDoublesGradB())
    assert not report.ok and report.status == "fail" and report.failing == ["b"], str(report)
    assert all(c.ok for c in report.inputs)  # bprop itself is right: only the path is wrong
    bad = report.failing_paths
    assert bad and all(p.needs[2] for p in bad) and {p.n for p in bad} == {1, 4}
    text = str(report)
    assert "LinearDoublesGradB: FAIL (wrong gradient for: b)" in text
    assert "bprop_needed(needs=" in text and "differs from bprop's" in text

    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.SoftmaxCrossEntropy()(LinearDoublesGradB()(x, W, b, name="a"), y))
    for X, Y in ((np.eye(2), np.array([0, 2])), (np.ones((1, 2)), np.array([1]))):
        report = fg.check_graph(graph, {x: X, y: Y})
        assert not report.ok and report.first_failing_box == "a", str(report)
        assert [c.name for c in report.parameters if not c.ok] == ["b"]
        assert report.boxes["a"].failing == ["b"]
        assert "first failing box: 'a' (LinearDoublesGradB)" in str(report)
        # the re-check took the Graph's own path: x needs no gradient below the first layer
        assert [p.needs for p in report.boxes["a"].paths] == [(False, True, True)]
        assert fg.check_graph(graph, {x: X, y: Y}, boxes=False).first_failing_box == "a"


@pytest.mark.parametrize(
    "cls, wrong",
    [
        (LinearWrongOnlyForBAlone, "b"),
        (LinearOuterTransposed, "W"),
        (LinearOuterWrongSign, "W"),
        (LinearSkipsTooMuch, "h"),
        (TanhFastPathRaises, "(all)"),
    ],
    ids=lambda v: v.__name__ if isinstance(v, type) else v,
)
def test_each_wrong_path_is_caught_and_named(cls, wrong):
    report = fg.check_box(cls.example())
    assert not report.ok and wrong in report.failing, str(report)
    assert all(c.ok for c in report.inputs), str(report)


def test_the_first_layers_path_at_one_example_is_checked():
    # W needs no gradient (frozen), b does, x is data: needs = (False, False, True) at N = 1
    report = fg.check_box(LinearWrongOnlyForBAlone())
    (bad,) = report.failing_paths
    assert bad.needs == (False, False, True) and bad.n == 1
    assert bad.line().startswith("bprop_needed(needs=FFT) at N=1: b: differs")
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.L2Penalty()(LinearWrongOnlyForBAlone()(x, W, b, name="a")))
    # check_graph with W left out of the targets is the frozen case: the Graph's plan for it
    needs = dict((n.name, k) for n, k in graph.plan(graph.outputs[0], (b,)))
    assert needs["a"] == (False, False, True)


def test_outer_factors_are_materialised_and_compared():
    report = fg.check_box(LinearOuterTransposed())  # (3,) x (5,) factors for a (5, 3) W
    (bad,) = report.failing_paths[:1]
    assert bad.n == 1 and "Outer factors of shape (3, 5), expected (5, 3)" in bad.line()
    report = fg.check_box(LinearOuterWrongSign())
    assert {p.n for p in report.failing_paths} == {1} and report.failing == ["W"]


def test_none_is_allowed_only_where_needs_is_false():
    assert fg.check_box(LinearSkipsWhatIsNotNeeded()).ok
    report = fg.check_box(LinearSkipsTooMuch())
    assert report.failing == ["h"] and "None although needs is True" in str(report)
    # every pattern where h is needed and W is not: (T, F, F) and (T, F, T), at N = 4 and 1
    assert sorted((p.needs, p.n) for p in report.failing_paths) == sorted(
        [((True, False, False), 1), ((True, False, False), 4)]
        + [((True, False, True), 1), ((True, False, True), 4)]
    )


def test_every_pattern_of_needs_at_both_batch_sizes():
    report = fg.check_box(fg.Linear())
    patterns = {p.needs for p in report.paths}
    assert len(patterns) == 7 and (False, False, False) not in patterns
    assert {p.n for p in report.paths} == {1, 4} and len(report.paths) == 14
    # labels never need a gradient; a loss's differentiable input always does; the labels
    # (1-D, batch-first) are cut with the scores for the batch of one
    report = fg.check_box(fg.SoftmaxCrossEntropy())
    assert {p.needs for p in report.paths} == {(True, False)}
    assert sorted(p.n for p in report.paths) == [1, 4]
    # a 1-D input is cut too
    report = fg.check_box(fg.Tanh(), [np.linspace(-1, 1, 5)])
    assert sorted(p.n for p in report.paths) == [1, 5]
    # a penalty over three matrices: 7 patterns; no batch dimension to cut, one sample
    rng = np.random.default_rng(0)
    Ws = [rng.standard_normal((2, 3)), rng.standard_normal((3, 3)), rng.standard_normal(4)]
    report = fg.check_box(fg.L2Penalty(), Ws)
    assert len({p.needs for p in report.paths}) == 7 and report.ok


def test_many_inputs_have_their_patterns_capped():
    xs = [np.full((2, 2), float(i + 1)) for i in range(9)]
    report = fg.check_box(fg.Add(), xs)
    patterns = {p.needs for p in report.paths}
    assert len(patterns) == 1 + 9 + 9 and report.ok  # all, each alone, all but each


def test_user_boxes_are_covered_and_may_sample_their_own_batch_of_one():
    box = ScaledSquare()
    report = fg.check_box(box)
    assert box.asked == [4, 1]  # sample_inputs(rng), then sample_inputs(rng, n=1)
    assert not report.ok and [p.n for p in report.failing_paths] == [1], str(report)
    assert all(c.ok for c in report.inputs)
    # inputs given by hand are cut to their first row instead
    report = fg.check_box(ScaledSquare(), [np.ones((3, 2))])
    assert [p.n for p in report.failing_paths] == [1]


def test_a_bprop_that_fails_on_one_example_fails_the_check():
    class TanhNeedsTwoRows(fg.Tanh):
        def bprop(self, inputs, h, grad_h):
            g = grad_h * (1 - h * h)
            g[1] += 0.0  # IndexError for a batch of one
            return (g,)

    report = fg.check_box(TanhNeedsTwoRows())
    assert not report.ok and "bprop raised IndexError" in str(report)


def test_paths_false_and_explicit_needs():
    report = fg.check_box(LinearDoublesGradB(), paths=False)
    assert report.ok and report.paths == []
    report = fg.check_box(LinearDoublesGradB(), needs=(True, True, False))
    assert report.ok and [p.needs for p in report.paths] == [(True, True, False)]
    with pytest.raises(ValueError, match="needs has 2 entries for the 3 inputs of Linear"):
        fg.check_box(fg.Linear(), needs=(True, True))


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
def test_every_package_box_has_its_paths_checked(cls):
    report = fg.check_box(cls.example())
    assert all(p.ok for p in report.paths), str(report)
    assert report.paths or not report.inputs  # none only for a box without a float input


def test_inputs_of_one_example_are_not_cut_again():
    rng = np.random.default_rng(0)
    inputs = rng.standard_normal((1, 3)), rng.standard_normal((5, 3)), rng.standard_normal(5)
    report = fg.check_box(fg.Linear(), inputs)
    assert len(report.paths) == 7 and {p.n for p in report.paths} == {1}


def test_a_wrong_path_says_by_how_much_relative_to_bprop():
    (bad, *_) = fg.check_box(LinearDoublesGradB()).failing_paths
    assert "(relative to its largest: 1)" in bad.line()  # 2 grad_b - grad_b = grad_b
