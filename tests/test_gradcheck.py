"""The checker: its reports, and proof that it catches wrong gradients, tells kinks from
failures, samples large tensors, and checks whole graphs without disturbing them."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helper_boxes import Cube

import flowgraph as fg
from flowgraph.gradcheck import all_box_classes

# -- wrong boxes, each a bug a student could write --------------------------------------------


class TanhWrongDerivative(fg.Tanh):
    """g'(a) written as 1 - h instead of 1 - h^2."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * (1 - h),)


class SoftmaxDiagonalOnly(fg.Softmax):
    """The Jacobian's diagonal f (1 - f) only: the off-diagonal -f_i f_j is forgotten."""

    def bprop(self, inputs, f, grad_f):
        return (grad_f * f * (1 - f),)


class LinearTransposedGradW(fg.Linear):
    """grad_W returned as h^T grad_a, the transpose of grad_a^T h."""

    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, grad_b = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W.T, grad_b


class CrossEntropyForgetsN(fg.CrossEntropy):
    """-e(y) / f_y without the 1/N of the batch mean: off by a factor N."""

    def bprop(self, inputs, loss, grad_loss):
        grad_f, _ = super().bprop(inputs, loss, grad_loss)
        return grad_f * inputs[0].shape[0], None


class CrossEntropyDividesTwice(fg.CrossEntropy):
    """-e(y) / f_y / N^2: the other way to be off by a factor N."""

    def bprop(self, inputs, loss, grad_loss):
        grad_f, _ = super().bprop(inputs, loss, grad_loss)
        return grad_f / inputs[0].shape[0], None


class TanhWrongOnlyOffUniform(fg.Tanh):
    """Right for a uniform output gradient (the error, grad_h - mean(grad_h), vanishes), wrong
    for any other: only a non-uniform projection of the output can see it."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h * (1 - h * h) + (grad_h - grad_h.mean()),)


class TanhWrongInOneElement(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        g = grad_h * (1 - h * h)
        g[7, 3] += 0.5
        return (g,)


class ReLUWrongWhenNegative(fg.ReLU):
    """g'(a) = 1 everywhere: wrong for every a < 0, whatever the kinks at 0."""

    def bprop(self, inputs, h, grad_h):
        return (grad_h,)


class LinearNoGradB(fg.Linear):
    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, _ = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W, None


class LinearTwoGradients(fg.Linear):
    def bprop(self, inputs, output, grad_a):
        return super().bprop(inputs, output, grad_a)[:2]


class TanhInPlace(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        a = inputs[0]
        a *= 0  # writes into its input
        return (grad_h * (1 - h * h),)


class TanhNaN(fg.Tanh):
    def bprop(self, inputs, h, grad_h):
        g = grad_h * (1 - h * h)
        g[0, 0] = np.nan
        return (g,)


class LinearBiasGradAsRow(fg.Linear):
    """grad_b of shape (1, out): broadcasts silently when the Graph adds it up."""

    def bprop(self, inputs, output, grad_a):
        grad_h, grad_W, _ = super().bprop(inputs, output, grad_a)
        return grad_h, grad_W, grad_a.sum(axis=0, keepdims=True)


WRONG_BOXES = [
    TanhWrongDerivative,
    SoftmaxDiagonalOnly,
    LinearTransposedGradW,
    CrossEntropyForgetsN,
    CrossEntropyDividesTwice,
    TanhWrongOnlyOffUniform,
    TanhWrongInOneElement,
    ReLUWrongWhenNegative,
    LinearNoGradB,
    LinearTwoGradients,
    TanhInPlace,
    TanhNaN,
    LinearBiasGradAsRow,
]


def test_test_boxes_do_not_join_the_package_list():
    found = all_box_classes()
    assert not any(cls in found for cls in WRONG_BOXES)
    assert all(cls.__module__.startswith("flowgraph.") for cls in found)


# -- the report -----------------------------------------------------------------------------------


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


def test_the_projection_of_a_non_scalar_output_is_not_uniform():
    # the error term grad_h - mean(grad_h) vanishes for a uniform output gradient ...
    a = np.random.default_rng(0).standard_normal((4, 3))
    h = np.tanh(a)
    (g,) = TanhWrongOnlyOffUniform().bprop([a], h, np.ones_like(h))
    np.testing.assert_allclose(g, 1 - h**2)
    # ... and the checker's random projection exposes it, whatever the seed
    for seed in range(5):
        assert not fg.check_box(TanhWrongOnlyOffUniform(), seed=seed).ok


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


# -- kinks ----------------------------------------------------------------------------------------


def test_relu_at_exactly_zero_is_a_kink_not_a_failure():
    a = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 0.0]])
    report = fg.check_box(fg.ReLU(), [a])
    assert report.ok and report.status == "kink", str(report)
    (check,) = report.inputs
    assert check.n_kinks == 3 and check.n_failed == 0 and check.status == "KINK"
    assert "3 at kinks" in str(report) and str(report).startswith("ReLU: KINK")


def test_relu_within_eps_of_zero_is_judged_with_a_smaller_step():
    # the kink lies within eps but not at the point: a smaller step leaves it outside, and the
    # derivative there is judged (a kink is only where the one-sided slopes truly differ)
    a = np.array([[3e-7, -4e-7, 1.0]])
    report = fg.check_box(fg.ReLU(), [a])
    assert report.status == "pass" and report.inputs[0].n_kinks == 0, str(report)
    report = fg.check_box(ReLUWrongWhenNegative(), [a])
    assert report.inputs[0].n_failed == 1 and report.inputs[0].worst == (0, 1), str(report)


def test_l1_at_exactly_zero_is_a_kink_not_a_failure():
    W1 = np.array([[0.0, 1.0], [-1.0, 0.0]])
    W2 = np.array([0.5, -0.5])
    report = fg.check_box(fg.L1Penalty(), [W1, W2])
    assert report.ok and report.status == "kink", str(report)
    assert [c.n_kinks for c in report.inputs] == [2, 0]
    assert [c.status for c in report.inputs] == ["KINK", "PASS"]


def test_kinks_do_not_hide_wrong_gradients():
    a = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 0.0]])
    report = fg.check_box(ReLUWrongWhenNegative(), [a])
    assert not report.ok and report.inputs[0].n_failed == 2 and report.inputs[0].n_kinks == 3


def test_log_of_a_probability_below_eps_is_judged_not_excused():
    # -log f for f = 1e-7: f - eps leaves the domain of log; f = 3e-6: too curved within eps.
    # Both are smooth: a smaller step judges them, and a wrong gradient there fails
    f = np.array([[1e-7, 1 - 1e-7], [3e-6, 1 - 3e-6], [0.4, 0.6]])
    report = fg.check_box(fg.CrossEntropy(), [f, np.array([0, 0, 1])])
    assert report.ok and report.status == "pass", str(report)
    (check,) = report.inputs
    assert check.n_kinks == 0 and check.n_checked == 6 and check.n_failed == 0
    report = fg.check_box(CrossEntropyForgetsN(), [f, np.array([0, 0, 1])])
    assert not report.ok and report.inputs[0].n_failed == 3, str(report)


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


def test_smooth_boxes_at_flat_points_are_no_kinks():
    # Omega = ||W||^2 is flat at W = 0, the one-sided slopes +-eps are not a kink
    report = fg.check_box(fg.L2Penalty(), [np.zeros((2, 3))])
    assert report.status == "pass", str(report)
    report = fg.check_box(fg.Tanh(), [np.array([[0.0, 30.0, -30.0]])])
    assert report.status == "pass", str(report)


# -- large tensors --------------------------------------------------------------------------------


def test_large_tensors_use_sampled_elements_and_random_directions():
    a = np.random.default_rng(2).standard_normal((20, 10))  # 200 > 128 elements
    report = fg.check_box(fg.Tanh(), [a])
    assert report.ok and report.inputs[0].n_checked == 24 + 4
    report = fg.check_box(fg.Tanh(), [a], n_samples=5, n_directions=3)
    assert report.inputs[0].n_checked == 8
    report = fg.check_box(fg.Tanh(), [a], max_elements=1000)
    assert report.inputs[0].n_checked == 200
    report = fg.check_box(TanhWrongDerivative(), [a])
    assert report.failing == ["a"] and report.inputs[0].n_failed > 0


def test_large_smooth_tensors_show_no_false_kinks_along_random_directions():
    # along a Gaussian direction of 10,000 entries, eps * d^T H d of L2's Hessian 2I would
    # reach 2e-2 and look like a kink; unit-length directions keep it at 2e-6
    W = 0.01 * np.random.default_rng(5).standard_normal((100, 100))  # small, as when trained
    report = fg.check_box(fg.L2Penalty(), [W])
    assert report.status == "pass" and report.inputs[0].n_kinks == 0


def test_random_directions_catch_an_error_in_an_unsampled_element():
    a = np.random.default_rng(4).standard_normal((20, 10))
    report = fg.check_box(TanhWrongInOneElement(), [a], n_samples=0, n_directions=4)
    (check,) = report.inputs
    assert not report.ok and check.n_checked == 4 and check.n_failed == 4, str(report)
    assert str(check.worst).startswith("direction ")
    # every element, one at a time, points at the culprit
    report = fg.check_box(TanhWrongInOneElement(), [a], max_elements=200)
    assert report.inputs[0].n_failed == 1 and report.inputs[0].worst == (7, 3)


# -- whole graphs -----------------------------------------------------------------------------


def mlp_graph(hidden_box=None, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x, y = fg.Input("x"), fg.Input("y")

    def param(shape, name):
        return fg.Parameter(rng.standard_normal(shape).astype(dtype), name)

    W1, b1, W2, b2 = param((4, 3), "W1"), param(4, "b1"), param((3, 4), "W2"), param(3, "b2")
    h1 = (hidden_box or fg.Tanh())(fg.Linear()(x, W1, b1, name="a1"), name="h1")
    a2 = fg.Linear()(h1, W2, b2, name="a2")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(a2, y, name="nll"),
        fg.Scale(0.1)(fg.L2Penalty()(W1, W2)),
        name="loss",
    )
    feed = {x: rng.standard_normal((5, 3)).astype(dtype), y: np.array([0, 1, 2, 1, 0])}
    return fg.Graph(loss), feed


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


class TanhForwardTwice(fg.Tanh):
    """bprop right; fprop_jvp returns 2 R{h}."""

    def fprop_jvp(self, inputs, tangents, h):
        return 2 * (1 - h * h) * tangents[0]


class TanhForwardOffByAThousandth(fg.Tanh):
    def fprop_jvp(self, inputs, tangents, h):
        return 1.001 * (1 - h * h) * tangents[0]


class TanhBpropJvpForgetsRh(fg.Tanh):
    """R{grad_a} = (1 - h^2) R{grad_h}: the term -2 h R{h} grad_h is forgotten."""

    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        return ((1 - h * h) * Rgrad_h,)


class TanhBpropJvpOffByAThousandth(fg.Tanh):
    def bprop_jvp(self, inputs, tangents, h, Rh, grad_h, Rgrad_h):
        (right,) = super().bprop_jvp(inputs, tangents, h, Rh, grad_h, Rgrad_h)
        return (1.001 * right,)


class CubeWithoutRules(Cube):
    """Cube under the name the reports print."""


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
