"""Central differences: a kink is reported only where the function is not differentiable, a
smooth function never is one whatever eps, a wrong gradient is never excused as one, steep
points and steps out of the domain are judged with smaller steps, and large tensors are
checked at sampled elements and along random directions. The sensitivity is pinned."""

from __future__ import annotations

import numpy as np
import pytest
from wrong_boxes import (
    CrossEntropyForgetsN,
    ReLUWrongWhenNegative,
    TanhWrongDerivative,
    TanhWrongInOneElement,
    TanhWrongOnlyOffUniform,
)

import flowgraph as fg
from flowgraph.check import all_box_classes

BOX_CLASSES = all_box_classes()  # the same auto-discovery as tests/test_boxes.py
BOX_IDS = [c.__name__ for c in BOX_CLASSES]

# -- kinks ------------------------------------------------------------------------------------


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


def test_smooth_boxes_at_flat_points_are_no_kinks():
    # Omega = ||W||^2 is flat at W = 0, the one-sided slopes +-eps are not a kink
    report = fg.check_box(fg.L2Penalty(), [np.zeros((2, 3))])
    assert report.status == "pass", str(report)
    report = fg.check_box(fg.Tanh(), [np.array([[0.0, 30.0, -30.0]])])
    assert report.status == "pass", str(report)


class ReLUSlopeOneEverywhere(fg.ReLU):
    def bprop(self, inputs, h, grad_h):
        return (grad_h,)


@pytest.mark.parametrize("offset", [0.0, 1e-12, 1e-9, 3e-8, 2e-7, 5e-7, 9e-7, 1.5e-6])
def test_a_correct_relu_near_its_kink_never_fails(offset):
    a = np.array([[offset, -offset, 1.0, -1.0]])
    report = fg.check_box(fg.ReLU(), [a])
    assert report.ok, str(report)
    if offset == 0.0:
        assert report.inputs[0].n_kinks == 2
    wrong = fg.check_box(ReLUSlopeOneEverywhere(), [a])
    assert not wrong.ok  # its gradient at a = -1 is wrong, whatever the kinks do


def test_kinks_are_reported_only_where_the_slopes_jump():
    W = np.array([[0.0, 1.0], [-1.0, 0.0]])
    report = fg.check_box(fg.L1Penalty(), [W])
    assert report.inputs[0].n_kinks == 2 and report.status == "kink"
    report = fg.check_box(fg.L1Penalty(), [W + 0.1])
    assert report.inputs[0].n_kinks == 0 and report.status == "pass"


# -- eps and sensitivity ----------------------------------------------------------------------


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


def test_a_point_where_the_function_is_not_finite_fails():
    f = np.array([[0.0, 1.0], [0.5, 0.5]])  # -log 0 = inf at the point itself
    with np.errstate(divide="ignore"):  # log(0) and 1/0, as a user's box would warn
        report = fg.check_box(fg.CrossEntropy(), [f, np.array([0, 1])])
    assert not report.ok and "non-finite" in str(report)


class Weighted(fg.Box):
    """fprop: y = w ⊙ x;  bprop: grad_x = w ⊙ grad_y, wrong by +1e-3 in every element."""

    def __init__(self, w):
        self.w = w

    def fprop(self, x):
        return self.w * x

    def bprop(self, inputs, y, grad_y):
        return (self.w * grad_y + 1e-3,)


def test_the_worst_element_is_the_worst_relative_to_its_tolerance():
    # an error of 1e-3 is 1e-6 of a gradient of ~1000 (within tolerance) but 100% of one of
    # ~1e-3: that element is the worst, although the absolute errors are the same
    box = Weighted(np.array([[1000.0, 1e-3]]))
    x = np.array([[0.5, 0.5]])
    report = fg.check_box(box, [x])
    assert report.inputs[0].worst == (0, 1), str(report)


# -- projections, sampled elements and random directions --------------------------------------


def test_the_projection_of_a_non_scalar_output_is_not_uniform():
    # the error term grad_h - mean(grad_h) vanishes for a uniform output gradient ...
    a = np.random.default_rng(0).standard_normal((4, 3))
    h = np.tanh(a)
    (g,) = TanhWrongOnlyOffUniform().bprop([a], h, np.ones_like(h))
    np.testing.assert_allclose(g, 1 - h**2)
    # ... and the checker's random projection exposes it, whatever the seed
    for seed in range(5):
        assert not fg.check_box(TanhWrongOnlyOffUniform(), seed=seed).ok


def test_a_scalar_output_is_projected_by_one():
    # the gradient compared (and reported) is d Omega / d W itself, 2 W for L2
    W = np.array([[0.5, -1.5]])
    report = fg.check_box(fg.L2Penalty(), [W])
    (c,) = report.inputs
    assert c.analytic == pytest.approx(2 * W[c.worst], rel=1e-12)


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
