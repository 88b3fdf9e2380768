"""Reliability, family 1: the checker checks what actually runs, and cannot be fooled.

* every path the Graph takes through a box (``bprop_needed`` for each pattern of ``needs``, at
  N = 1 and N > 1, Outer factors included) is held to ``bprop``, for user boxes too, and
  ``check_graph``, ``flowgraph gradcheck`` and ``flowgraph render --check`` all fail on it;
* a kink is reported only where the function is not differentiable; a smooth function never
  is one, whatever ``eps``, and a wrong gradient is never excused as one;
* the checker's sensitivity is pinned, and so is the L1 proximal step of SGD.
"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.core.rank1 import Outer
from flowgraph.gradcheck import all_box_classes
from flowgraph.optim import inverse

BOX_CLASSES = all_box_classes()  # the same auto-discovery as tests/boxes/test_every_box.py
BOX_IDS = [c.__name__ for c in BOX_CLASSES]


# -- boxes whose fast path is wrong while bprop is right ------------------------------------------


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
    assert report.paths and all(p.ok for p in report.paths), str(report)


# -- the command line fails whenever a check fails ----------------------------------------------


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
    from flowgraph import gradcheck
    from flowgraph.cli import main

    model = fg.mlp([64, 5, 10], dtype=np.float64, seed=0)
    path = model.save(tmp_path / "model.npz", metadata={"dataset": "digits"})
    real = gradcheck.check_graph

    def only_parameters_wrong(*args, **kwargs):
        report = real(*args, **kwargs)
        report.parameters[0].n_failed = 1  # as if the Graph's sum were wrong, boxes all right
        return report

    monkeypatch.setattr(gradcheck, "check_graph", only_parameters_wrong)
    status = main(["render", str(path), "-o", str(tmp_path / "g.svg"), "--check", "--batch", "3"])
    out = capsys.readouterr().out
    assert status == 1 and "every box passes on its own" in out, out


# -- kinks, eps and sensitivity -------------------------------------------------------------------


class WrongBy(fg.Box):
    """y = sum(w ⊙ g(x)) for a smooth g, with bprop off by a factor ``factor``.

    fprop: y = g(x) element-wise;  bprop: grad_x = factor * g'(x) grad_y
    """

    def __init__(self, g, dg, factor=1.0):
        self.g, self.dg, self.factor = g, dg, factor

    def fprop(self, x):
        return self.g(x)

    def bprop(self, inputs, y, grad_y):
        return (self.factor * self.dg(inputs[0]) * grad_y,)


class CrossEntropyTimes(fg.CrossEntropy):
    factor = 3.0

    def bprop(self, inputs, loss, grad_loss):
        grad_f, _ = super().bprop(inputs, loss, grad_loss)
        return self.factor * grad_f, None


def near(p: float, rows: int = 3, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    f = np.full((rows, classes), (1 - p) / (classes - 1))
    f[:, 0] = p
    return f, np.zeros(rows, dtype=int)


@pytest.mark.parametrize("p", [1e-2, 1e-4, 1e-6, 1e-8, 1e-12, 1.6e-21, 1e-60])
def test_a_wrong_cross_entropy_at_tiny_probabilities_fails(p):
    """Also where f_y lies far below every step eps / 16^k the refinement takes (1.6e-21: a
    softmax probability the random-graph property test met): those steps leave the domain of
    log, and the checker must go on shrinking them until they fit, not give up."""
    report = fg.check_box(CrossEntropyTimes(), list(near(p)))
    assert not report.ok and report.inputs[0].n_kinks == 0, str(report)
    assert report.inputs[0].n_failed == 3  # every f_y; the others have zero gradient
    report = fg.check_box(fg.CrossEntropy(), list(near(p)))
    assert report.ok and report.status == "pass", str(report)


@pytest.mark.parametrize("eps", [1e-6, 1e-4, 1e-2])
def test_a_wrong_gradient_where_the_function_curves_steeply_fails(eps):
    k = 200.0  # exp(k x): f'' / f' = 200, the one-sided slopes differ by 200 eps relative
    x = [np.array([[0.01, -0.02, 0.03]])]
    wrong = WrongBy(lambda a: np.exp(k * a), lambda a: k * np.exp(k * a), factor=2.0)
    report = fg.check_box(wrong, x, eps=eps)
    assert not report.ok and report.inputs[0].n_failed == 3 and report.inputs[0].n_kinks == 0
    right = WrongBy(lambda a: np.exp(k * a), lambda a: k * np.exp(k * a))
    assert fg.check_box(right, x, eps=eps).status == "pass"


@pytest.mark.parametrize("cls", BOX_CLASSES, ids=BOX_IDS)
@pytest.mark.parametrize("eps", [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
def test_every_box_passes_at_every_reasonable_eps(cls, eps):
    report = fg.check_box(cls.example(), eps=eps)
    assert report.status == "pass", str(report)  # not "kink": the sample points are smooth


def test_the_issues_eps_examples():
    assert fg.check_box(fg.Tanh(), eps=0.01).status == "pass"
    assert fg.check_box(fg.Sigmoid(), eps=0.1).status == "pass"
    assert fg.check_box(fg.L2Penalty(), eps=1e-4).status == "pass"


SMOOTH = {
    "tanh": (np.tanh, lambda a: 1 - np.tanh(a) ** 2),
    "square": (lambda a: a * a, lambda a: 2 * a),
    "cube": (lambda a: a**3, lambda a: 3 * a * a),
    "exp": (np.exp, np.exp),
    "log": (np.log, lambda a: 1 / a),
    "sin": (np.sin, np.cos),
}


@pytest.mark.parametrize("name", list(SMOOTH))
@pytest.mark.parametrize("eps", [1e-6, 1e-3, 1e-1])
def test_a_smooth_function_is_never_a_kink(name, eps):
    g, dg = SMOOTH[name]
    # flat points (0 for a^2, a^3), steep ones (log near 0), large values (exp(12))
    x = np.array([[0.0, 1e-3, 0.5, 2.0, 12.0], [3e-5, 1e-8, 1.5, 7.0, 0.25]])
    if name == "log":
        x = np.abs(x) + 1e-9
    report = fg.check_box(WrongBy(g, dg), [x], eps=eps)
    assert report.inputs[0].n_kinks == 0 and report.ok, str(report)
    wrong = fg.check_box(WrongBy(g, dg, factor=1.01), [x], eps=eps)
    visible = int(np.sum(np.abs(dg(x)) > 1e-4))  # where 1% of the slope is well above atol
    assert wrong.inputs[0].n_kinks == 0 and wrong.inputs[0].n_failed >= visible, str(wrong)


@pytest.mark.parametrize("offset", [0.0, 1e-12, 1e-9, 3e-8, 2e-7, 5e-7, 9e-7, 1.5e-6])
def test_a_correct_relu_near_its_kink_never_fails(offset):
    a = np.array([[offset, -offset, 1.0, -1.0]])
    report = fg.check_box(fg.ReLU(), [a])
    assert report.ok, str(report)
    if offset == 0.0:
        assert report.inputs[0].n_kinks == 2
    wrong = fg.check_box(ReLUSlopeOneEverywhere(), [a])
    assert not wrong.ok  # its gradient at a = -1 is wrong, whatever the kinks do


class ReLUSlopeOneEverywhere(fg.ReLU):
    def bprop(self, inputs, h, grad_h):
        return (grad_h,)


def test_kinks_are_reported_only_where_the_slopes_jump():
    W = np.array([[0.0, 1.0], [-1.0, 0.0]])
    report = fg.check_box(fg.L1Penalty(), [W])
    assert report.inputs[0].n_kinks == 2 and report.status == "kink"
    report = fg.check_box(fg.L1Penalty(), [W + 0.1])
    assert report.inputs[0].n_kinks == 0 and report.status == "pass"


@pytest.mark.parametrize(
    "box, inputs",
    [
        (fg.Tanh(), None),
        (fg.Linear(), None),
        (fg.SoftmaxCrossEntropy(), None),
        (fg.Softmax(), None),
        (fg.Sigmoid(), None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, fg.Box) else None,
)
def test_a_gradient_wrong_by_a_tenth_of_a_percent_fails_at_the_default_tolerance(box, inputs):
    class OffByAThousandth(type(box)):
        def bprop(self, inputs, output, grad):
            return tuple(
                None if g is None else 1.001 * g for g in super().bprop(inputs, output, grad)
            )

    report = fg.check_box(OffByAThousandth())
    assert not report.ok, str(report)
    assert all(c.n_failed > 0 for c in report.inputs), str(report)
    assert fg.check_box(type(box)()).ok


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


def test_a_point_where_the_function_is_not_finite_fails():
    f = np.array([[0.0, 1.0], [0.5, 0.5]])  # -log 0 = inf at the point itself
    with np.errstate(divide="ignore"):  # log(0) and 1/0, as a user's box would warn
        report = fg.check_box(fg.CrossEntropy(), [f, np.array([0, 1])])
    assert not report.ok and "non-finite" in str(report)


# -- the L1 proximal step of SGD (optim.py is tested here for its proximal step only) ---------


def test_l1_proximal_step_shrinks_only_the_named_weights_by_alpha_t_lambda():
    W = fg.Parameter(np.array([[0.5, -0.5, 0.02], [-0.01, 2.0, 0.0]]), "W")
    b = fg.Parameter(np.array([0.5, -0.01]), "b")
    W.grad, b.grad = np.zeros_like(W.value), np.zeros_like(b.value)
    schedule = inverse(0.1, 1.0)  # alpha_t = 0.1 / (1 + t): 0.05, then 0.0333...
    lam = 0.5
    opt = fg.SGD([W, b], schedule, l1_prox=lam, l1_params=[W])
    expected = W.value.copy()
    for t in (1, 2):
        alpha_t = 0.1 / (1 + t)
        shrink = alpha_t * lam
        expected = np.sign(expected) * np.maximum(np.abs(expected) - shrink, 0)
        opt.step()
        W.grad, b.grad = np.zeros_like(W.value), np.zeros_like(b.value)
        np.testing.assert_allclose(W.value, expected, rtol=1e-15, atol=1e-17)
    np.testing.assert_array_equal(b.value, [0.5, -0.01])  # biases are not named: untouched
    assert W.value[0, 2] == 0.0 and W.value[1, 0] == 0.0  # exactly zero, not tiny
    assert W.value[0, 0] == pytest.approx(0.5 - 0.5 * (0.05 + 0.1 / 3))


def test_l1_proximal_step_follows_the_gradient_step():
    W = fg.Parameter(np.array([[1.0, -1.0]]), "W")
    W.grad = np.array([[0.2, 0.2]])
    opt = fg.SGD([W], lr=0.5, l1_prox=0.1, l1_params=[W])
    opt.step()  # W - 0.5 * grad = [0.9, -1.1], then shrunk by 0.05
    np.testing.assert_allclose(W.value, [[0.85, -1.05]], rtol=1e-15)


def test_l1_proximal_step_with_the_rank_one_fast_path():
    x = fg.Input("x")
    W, b = fg.Parameter(np.array([[0.3, -0.2]]), "W"), fg.Parameter(np.zeros(1), "b")
    graph = fg.Graph(fg.L2Penalty()(fg.Linear()(x, W, b)))
    graph.fprop({x: np.array([[1.0, 2.0]])})
    graph.bprop()
    assert W.grad_outer is not None  # one example: grad_W kept as factors
    grad_W = W.grad_outer.materialize()
    before = W.value.copy()
    fg.SGD([W, b], lr=0.1, l1_prox=0.2, l1_params=[W]).step()
    step = before - 0.1 * grad_W
    np.testing.assert_allclose(W.value, np.sign(step) * np.maximum(np.abs(step) - 0.02, 0))
