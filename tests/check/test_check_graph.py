"""check_graph: every parameter's gradient end to end, each box on its own with the values
recorded in the graph (so a failure is traced to its box), and the graph left as it was."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from wrong_boxes import (
    CrossEntropyForgetsN,
    LinearBiasGradAsRow,
    SoftmaxDiagonalOnly,
    TanhBpropJvpForgetsRh,
    TanhForwardTwice,
    TanhWrongDerivative,
    mlp_graph,
)

import flowgraph as fg


def test_check_graph_passes_on_a_right_graph():
    graph, feed = mlp_graph()
    report = fg.check_graph(graph, feed)
    assert report.ok and bool(report), str(report)
    assert [c.name for c in report.parameters] == ["W1", "b1", "W2", "b2"]
    assert all(c.n_checked == int(np.prod(c.shape)) for c in report.parameters)
    assert list(report.boxes) == [n.name for n in graph.order if n.box is not None]
    assert report.first_failing_box is None and report.no_gradient == []
    text = str(report)
    assert text.startswith("gradient of 'loss' with respect to each parameter: PASS")
    assert "each box with the values recorded in the graph" in text
    assert "first failing box" not in text


def test_check_graph_names_the_first_failing_box():
    graph, feed = mlp_graph(TanhWrongDerivative())
    report = fg.check_graph(graph, feed)
    assert not report.ok
    assert report.first_failing_box == "h1"
    assert [n for n, r in report.boxes.items() if not r.ok] == ["h1"]
    failing = [c.name for c in report.parameters if not c.ok]
    assert failing == ["W1", "b1"]  # below the wrong box; W2 and b2 are above it
    text = str(report)
    assert "first failing box: 'h1' (TanhWrongDerivative)" in text
    assert "TanhWrongDerivative at node 'h1': FAIL (wrong gradient for: a)" in text
    # boxes=False: the boxes are checked only because the end-to-end check failed
    assert fg.check_graph(graph, feed, boxes=False).first_failing_box == "h1"
    right, feed = mlp_graph()
    assert fg.check_graph(right, feed, boxes=False).boxes == {}


def test_check_graph_catches_a_gradient_of_a_broadcastable_wrong_shape():
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(fg.SoftmaxCrossEntropy()(LinearBiasGradAsRow()(x, W, b), y))
    # Graph.bprop itself refuses it (issue 21), naming the box, the child and both shapes
    wrong = r"\(LinearBiasGradAsRow\) returned a gradient of shape \(1, 3\) for its child 'b'"
    with pytest.raises(fg.BoxError, match=wrong + r".*has shape \(3,\)"):
        fg.check_graph(graph, {x: np.eye(2), y: np.array([0, 2])}, boxes=False)
    assert W.value.dtype == np.float64 and np.array_equal(W.value, np.ones((3, 2)))  # put back


def test_check_graph_flags_a_parameter_without_gradient():
    graph, feed = mlp_graph()
    V = fg.Parameter(np.ones((2, 2)), "V")
    other = fg.L2Penalty()(V, name="other")
    graph = fg.Graph([graph.outputs[0], other])
    report = fg.check_graph(graph, feed)
    assert report.no_gradient == ["V"]
    assert report.ok  # flagged, not a wrong gradient
    assert "parameters that get no gradient at all: V" in str(report)
    assert "'loss' does not depend on it" in str(report)
    # from the second output, V has one and the others have none
    report = fg.check_graph(graph, feed, output="other")
    assert report.no_gradient == ["W1", "b1", "W2", "b2"]


def test_a_zero_gradient_is_not_no_gradient():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 2)), "W"), fg.Parameter(np.array([-10.0, 1.0]), "b")
    # the first unit is dead (ReLU of a negative): its row of W gets a gradient of exactly 0
    graph = fg.Graph(fg.L2Penalty()(fg.ReLU()(fg.Linear()(x, W, b))))
    report = fg.check_graph(graph, {x: np.ones((3, 2))})
    assert report.ok and report.no_gradient == [], str(report)


def test_check_graph_reports_kinks_in_a_graph():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    # (L1, not L2: relu(a)^2 is flat on both sides of a = 0, so it has no kink there)
    graph = fg.Graph(fg.L1Penalty()(fg.Scale(1.0)(fg.ReLU()(fg.Linear()(x, W, b)))))
    X = np.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])  # the first row's a is exactly b = 0
    report = fg.check_graph(graph, {x: X})
    assert report.ok, str(report)
    (b_check,) = [c for c in report.parameters if c.name == "b"]
    assert b_check.n_kinks == 2 and b_check.status == "KINK"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_graph_restores_the_parameters(dtype):
    graph, feed = mlp_graph(dtype=dtype)
    arrays = {p.name: p.value for p in graph.parameters}
    copies = {p.name: p.value.copy() for p in graph.parameters}
    feed_copies = {k: v.copy() for k, v in feed.items()}
    loss_before = float(graph.fprop(feed))
    report = fg.check_graph(graph, feed)
    assert report.ok, str(report)
    for p in graph.parameters:
        assert p.value is arrays[p.name], f"{p.name} is no longer the user's array"
        assert p.value.dtype == dtype
        np.testing.assert_array_equal(p.value, copies[p.name])
        assert p.grad.dtype == dtype and p.grad.shape == p.value.shape
    for k, v in feed.items():
        np.testing.assert_array_equal(v, feed_copies[k])
        assert v.dtype == feed_copies[k].dtype
    assert graph.outputs[0].value.dtype == dtype
    assert float(graph.outputs[0].value) == loss_before


def test_check_graph_restores_even_when_it_fails():
    graph, feed = mlp_graph(TanhWrongDerivative(), dtype=np.float32)
    arrays = {p.name: (p.value, p.value.copy()) for p in graph.parameters}
    assert not fg.check_graph(graph, feed).ok
    for p in graph.parameters:
        assert p.value is arrays[p.name][0] and p.value.dtype == np.float32
        np.testing.assert_array_equal(p.value, arrays[p.name][1])


def test_check_graph_wrt_an_input():
    graph, feed = mlp_graph()
    report = fg.check_graph(graph, feed, wrt=["x"])
    assert report.ok and [c.name for c in report.parameters][-1] == "x", str(report)
    graph, feed = mlp_graph(SoftmaxDiagonalOnly())
    report = fg.check_graph(graph, feed, wrt=["x"])
    assert not report.ok and "x" in [c.name for c in report.parameters if not c.ok]


def test_check_graph_on_a_non_scalar_output():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    graph = fg.Graph(fg.Softmax()(fg.Linear()(x, W, b)))
    feed = {x: np.random.default_rng(0).standard_normal((4, 3))}
    assert fg.check_graph(graph, feed).ok
    wrong = fg.Graph(SoftmaxDiagonalOnly()(fg.Linear()(x, W, b)))
    assert fg.check_graph(wrong, feed).first_failing_box == "softmaxdiagonalonly1"


def test_softmax_then_cross_entropy_forgetting_n_in_a_graph():
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    graph = fg.Graph(CrossEntropyForgetsN()(fg.Softmax()(fg.Linear()(x, W, b)), y, name="nll"))
    feed = {x: np.random.default_rng(0).standard_normal((4, 2)), y: np.array([0, 1, 2, 0])}
    report = fg.check_graph(graph, feed)
    assert report.first_failing_box == "nll" and report.boxes["nll"].failing == ["f"]


def test_check_graph_with_check_finite_and_a_tiny_probability():
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.array([[20.0, 0.0], [0.0, 0.0]]), "W"), fg.Parameter(np.zeros(2), "b")
    f = fg.Softmax()(fg.Linear()(x, W, b))
    graph = fg.Graph(fg.CrossEntropy()(f, y, name="nll"), check_finite=True)
    feed = {x: np.array([[1.0, 0.0], [0.0, 1.0]]), y: np.array([1, 0])}  # f_y = 2e-9
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's steps out of the domain stay quiet
        report = fg.check_graph(graph, feed)
    assert report.ok, str(report)
    assert report.boxes["nll"].status == "pass"  # smooth, judged with a smaller step


def test_a_tenth_of_a_percent_is_caught_end_to_end_too():
    x, y = fg.Input("x"), fg.Input("y")
    rng = np.random.default_rng(0)
    W, b = fg.Parameter(rng.standard_normal((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")

    class TanhOff(fg.Tanh):
        def bprop(self, inputs, h, grad_h):
            return (1.001 * grad_h * (1 - h * h),)

    graph = fg.Graph(fg.SoftmaxCrossEntropy()(TanhOff()(fg.Linear()(x, W, b)), y))
    report = fg.check_graph(graph, {x: rng.standard_normal((4, 2)), y: np.array([0, 1, 2, 0])})
    assert not report.ok and report.first_failing_box == "tanhoff1"


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


# -- forward-mode rules of every box, with its recorded values --------------------------------


def test_check_graph_names_the_box_with_a_wrong_forward_mode_rule():
    for wrong, rule in ((TanhForwardTwice(), "fprop_jvp"), (TanhBpropJvpForgetsRh(), "bprop")):
        graph, feed = mlp_graph(wrong)
        report = fg.check_graph(graph, feed)
        assert all(c.ok for c in report.parameters)  # the gradient does not use the rules
        assert not report.ok and report.first_failing_box == "h1", str(report)
        assert [n for n, r in report.boxes.items() if not r.ok] == ["h1"]
        assert report.boxes["h1"].failing_rules[0].startswith(rule)
        text = str(report)
        assert f"first failing box: 'h1' ({type(wrong).__name__})" in text
        assert "wrong forward-mode rule(s): " + rule in text
        off = fg.check_graph(graph, feed, jvp=False)
        assert off.ok and all(r.jvp is None for r in off.boxes.values())


def test_check_graph_checks_every_boxs_rules_with_its_recorded_values():
    graph, feed = mlp_graph()
    report = fg.check_graph(graph, feed)
    assert report.ok, str(report)
    assert all(r.jvp is not None and r.jvp.ok for r in report.boxes.values())
    recorded = graph["h1"].children[0].value.shape
    assert report.boxes["h1"].jvp.checks[0].shape == recorded


def test_ties_after_relu_in_max_pooling_are_kinks_not_failures():
    """conv -> ReLU -> MaxPool2d: windows of zeros tie exactly; the gradient goes to the first
    of them, so bprop changes at the point itself, a kink of its forward-mode rule."""
    rng = np.random.default_rng(3)
    x, y = fg.Input("x"), fg.Input("y")
    conv = fg.nn.Conv2d(1, 3, 3, padding=1, rng=0, dtype=np.float64)
    conv.bias.value[:] = -0.8  # many windows all zero after the ReLU
    net = fg.nn.Sequential(conv, fg.nn.ReLU(), fg.nn.MaxPool2d(2), fg.nn.Flatten(),
                           fg.nn.Linear(12, 3, rng=1, dtype=np.float64))
    graph = fg.Graph(fg.softmax_cross_entropy(net(x), y))
    feed = {x: rng.standard_normal((4, 1, 4, 4)), y: np.array([0, 1, 2, 1])}
    report = fg.check_graph(graph, feed)
    assert report.ok, str(report)
    assert "MaxPool2d            KINK" in str(report)


def test_a_value_apart_at_the_point_is_a_kink():
    from flowgraph.check.differences import differentiate

    verdict = differentiate(lambda t: 1.0 if t == 0 else 0.0, 1.0, 1.0, eps=1e-6, atol=0.0)
    assert verdict.kind == "kink" and "not its neighbours'" in verdict.why
