"""The losses' options as torch spells them: reductions, class weights, an ignored label, soft
targets, and fg.nll_loss; every combination against torch.nn.functional in float64 (values to
1e-12 and gradients), checked by finite differences and forward mode, saved and refused."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import flowgraph as fg

torch = pytest.importorskip("torch")
F = torch.nn.functional

N, C = 7, 5
WEIGHTS = (0.5, 1.0, 2.0, 1.5, 0.25)


def _data(seed, soft=False):
    rng = np.random.default_rng(seed)
    a = 3 * rng.standard_normal((N, C))
    y = rng.integers(0, C, size=N)
    y[:2] = 2  # the ignored label, when there is one, occurs
    if soft:
        e = np.exp(rng.standard_normal((N, C)))
        y = e / e.sum(axis=1, keepdims=True)
    return rng, a, y


def _against_torch(box, inputs, torch_fn, rng):
    """fprop, bprop (every float input) and the checker of ``box`` against ``torch_fn``."""
    ts = [torch.tensor(x, requires_grad=np.asarray(x).dtype.kind == "f") for x in inputs]
    loss = box.fprop(*inputs)
    t_loss = torch_fn(*ts)
    np.testing.assert_allclose(loss, t_loss.detach().numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(np.shape(loss))
    grads = box.bprop(inputs, loss, g)
    floats = [t for t in ts if t.requires_grad]
    expected = iter(torch.autograd.grad(t_loss, floats, torch.tensor(g), allow_unused=True))
    for x, grad in zip(inputs, grads):
        if np.asarray(x).dtype.kind != "f":
            assert grad is None
            continue
        e = next(expected)
        np.testing.assert_allclose(grad, 0 * grad if e is None else e.numpy(), atol=1e-12)
    report = fg.check_box(box, inputs)
    assert report.status == "pass" and report.jvp.status == "pass", str(report)


CE_CASES = [
    (reduction, weight, ignore, soft)
    for reduction, weight, ignore, soft in itertools.product(
        ("mean", "sum", "none"), (None, WEIGHTS), (None, 2, -100), (False, True)
    )
    if not (soft and ignore == 2)  # torch: "ignore_index is not supported" for soft targets
]


@pytest.mark.parametrize("reduction, weight, ignore, soft", CE_CASES)
def test_softmax_cross_entropy_options_agree_with_torch(reduction, weight, ignore, soft):
    rng, a, y = _data(0, soft)
    box = fg.SoftmaxCrossEntropy(reduction=reduction, weight=weight, ignore_index=ignore)
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)

    def ref(a, y):
        return F.cross_entropy(a, y, weight=w, ignore_index=-100 if ignore is None else ignore,
                               reduction=reduction)

    _against_torch(box, [a, y], ref, rng)


@pytest.mark.parametrize(
    "reduction, weight, ignore",
    list(itertools.product(("mean", "sum", "none"), (None, WEIGHTS), (None, 2, -100))),
)
def test_nll_loss_agrees_with_torch(reduction, weight, ignore):
    rng, a, y = _data(1)
    z = a - np.log(np.exp(a).sum(axis=1, keepdims=True))
    if ignore == -100:
        y[3] = -100
    box = fg.NLLLoss(reduction=reduction, weight=weight, ignore_index=ignore)
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)

    def ref(z, y):
        return F.nll_loss(z, y, weight=w, ignore_index=-100 if ignore is None else ignore,
                          reduction=reduction)

    _against_torch(box, [z, y], ref, rng)


@pytest.mark.parametrize(
    "reduction, weight, soft, shape",
    list(
        itertools.product(
            ("batchmean", "mean", "sum", "none"), (None, 0.5, (0.5, 2.0, 1.0)), (False, True),
            ((6,), (6, 3)),
        )
    ),
)
def test_sigmoid_cross_entropy_options_agree_with_torch(reduction, weight, soft, shape):
    if isinstance(weight, tuple) and len(shape) == 1:
        weight = tuple(np.linspace(0.5, 2, 6))  # a weight per element of (6,)
    rng = np.random.default_rng(2)
    a = 2 * rng.standard_normal(shape)
    y = rng.uniform(0.05, 0.95, shape) if soft else rng.integers(0, 2, shape)
    box = fg.SigmoidCrossEntropy(reduction=reduction, weight=weight)
    w = None if weight is None else torch.tensor(weight, dtype=torch.float64)

    def ref(a, y):
        r = "sum" if reduction == "batchmean" else reduction
        loss = F.binary_cross_entropy_with_logits(a, y.double(), weight=w, reduction=r)
        return loss / len(a) if reduction == "batchmean" else loss

    _against_torch(box, [a, y], ref, rng)


def test_the_function_forms_are_torch_s(rng):
    a, y = fg.Input("a"), fg.Input("y")
    A, Y = rng.standard_normal((4, 3)), np.array([0, 2, -100, 1])
    for node, ref in [
        (fg.cross_entropy(a, y), F.cross_entropy),
        (fg.nll_loss(fg.log_softmax(a), y), lambda a, y: F.nll_loss(F.log_softmax(a, 1), y)),
    ]:
        value = fg.Graph(node).fprop({a: A, y: Y})
        assert abs(value - ref(torch.tensor(A), torch.tensor(Y)).item()) < 1e-12
    Yb = rng.integers(0, 2, (4, 3))
    value = fg.Graph(fg.binary_cross_entropy_with_logits(a, y)).fprop({a: A, y: Yb})
    expected = F.binary_cross_entropy_with_logits(torch.tensor(A), torch.tensor(Yb).double())
    assert abs(value - expected.item()) < 1e-12


def test_every_label_ignored_gives_a_zero_mean_and_no_gradient():
    box = fg.SoftmaxCrossEntropy(ignore_index=1)
    a, y = np.ones((3, 4)), np.ones(3, dtype=int)
    assert box.fprop(a, y) == 0.0  # torch: 0/0 = NaN, which would stop training
    assert not np.any(box.bprop([a, y], box.fprop(a, y), np.array(1.0))[0])


@pytest.mark.parametrize(
    "box",
    [
        fg.SoftmaxCrossEntropy(reduction="sum", weight=WEIGHTS, ignore_index=2),
        fg.SoftmaxCrossEntropy(reduction="none"),
        fg.NLLLoss(weight=WEIGHTS),
        fg.NLLLoss(ignore_index=-100),
        fg.SigmoidCrossEntropy(reduction="mean", weight=(1.0, 2.0)),
        fg.SigmoidCrossEntropy(weight=3.0),
        fg.Softmax(axis=0),
    ],
    ids=repr,
)
def test_config_round_trips_the_options(box, tmp_path):
    again = type(box)(**box.config())
    assert again.config() == box.config() and box.config()
    x, y = fg.Input("x"), fg.Input("y")
    node = box(x) if isinstance(box, fg.Softmax) else box(x, y)
    path = fg.save_model(fg.Model(loss=node.sum()), tmp_path / "m")
    loaded = fg.load_model(path)
    boxes = [n.box for n in loaded.train_graph.order if type(n.box) is type(box)]
    assert boxes and boxes[0].config() == box.config()


def test_defaults_are_unchanged(rng):
    """Default boxes save as before ({}) and compute the lecture's numbers."""
    for box in (fg.SoftmaxCrossEntropy(), fg.SigmoidCrossEntropy(), fg.Softmax(), fg.NLLLoss()):
        assert box.config() == {} and not getattr(box, "options", False)
    a, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1])
    f = np.exp(a) / np.exp(a).sum(axis=1, keepdims=True)
    assert abs(fg.SoftmaxCrossEntropy().fprop(a, y) - np.mean(-np.log(f[range(4), y]))) < 1e-14
    b, t = rng.standard_normal((4, 3)), rng.integers(0, 2, (4, 3))
    expected = np.sum(np.logaddexp(0, b) - t * b) / 4  # the sum over labels, mean over rows
    assert abs(fg.SigmoidCrossEntropy().fprop(b, t) - expected) < 1e-14


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fg.SoftmaxCrossEntropy(reduction="avg"),
         r"SoftmaxCrossEntropy\(reduction='avg'\).*'mean', 'sum', 'none'"),
        (lambda: fg.NLLLoss(reduction="batchmean"), r"NLLLoss\(reduction='batchmean'\)"),
        (lambda: fg.SigmoidCrossEntropy(reduction="max"),
         r"SigmoidCrossEntropy\(reduction='max'\)"),
        (lambda: fg.SoftmaxCrossEntropy(weight=[1, -1]),
         r"SoftmaxCrossEntropy\(weight=\[1, -1\]\)"),
        (lambda: fg.NLLLoss(weight=[[1.0]]), r"NLLLoss\(weight=\[\[1.0\]\]\)"),
        (lambda: fg.NLLLoss(ignore_index=1.5), r"NLLLoss\(ignore_index=1.5\)"),
        (lambda: fg.SigmoidCrossEntropy(weight="x"), r"SigmoidCrossEntropy\(weight='x'\)"),
        (lambda: fg.Softmax(axis=None), r"Softmax\(axis=None\)"),
    ],
)
def test_bad_options_are_refused_naming_the_box_and_the_values(make, match):
    with pytest.raises(ValueError, match=match):
        make()


A = np.zeros((3, 4))
SOFT = np.full((3, 4), 0.25)


@pytest.mark.parametrize(
    "box, inputs, error, match",
    [
        (fg.SoftmaxCrossEntropy(), (A, np.array([0, 4, 1])), fg.LabelError,
         r"SoftmaxCrossEntropy: labels must lie in \[0, 4\).*\[4\]"),
        (fg.SoftmaxCrossEntropy(ignore_index=-1), (A, np.array([0, -1, -2])), fg.LabelError,
         r"SoftmaxCrossEntropy: .*ignored label -1; found \[-2\]"),
        (fg.NLLLoss(), (A, np.array([0, 1, 7])), fg.LabelError, r"NLLLoss: .*\[0, 4\).*\[7\]"),
        (fg.SoftmaxCrossEntropy(weight=(1, 2, 3)), (A, np.array([0, 1, 2])), fg.ShapeError,
         r"SoftmaxCrossEntropy\(weight=...\): 3 class weights for 4 classes .*\(3, 4\)"),
        (fg.NLLLoss(weight=(1,) * 5), (A, np.array([0, 1, 2])), fg.ShapeError,
         r"NLLLoss\(weight=...\): 5 class weights for 4 classes"),
        (fg.SoftmaxCrossEntropy(), (A, SOFT * 1.1), fg.LabelError,
         r"SoftmaxCrossEntropy: soft targets must be rows of probabilities .*row 0 sums to 1.1"),
        (fg.SoftmaxCrossEntropy(), (A, np.where(np.eye(3, 4) > 0, np.nan, SOFT)),
         fg.LabelError, r"soft targets must be rows of probabilities .*row 0 sums to nan"),
        (fg.SoftmaxCrossEntropy(), (A, SOFT[:, [0, 1, 2, 2]] - [0.5, 0, 0.25, 0.25]),
         fg.LabelError, r"row 0 sums to 0 \(min -0.25\)"),
        (fg.SoftmaxCrossEntropy(), (A, SOFT[:, :3] * 4 / 3), fg.ShapeError,
         r"SoftmaxCrossEntropy: soft targets y must have the scores' shape \(3, 4\), got \(3, 3\)"),
        (fg.SoftmaxCrossEntropy(ignore_index=0), (A, SOFT), fg.LabelError,
         r"SoftmaxCrossEntropy\(ignore_index=0\): an ignored label needs integer labels"),
        (fg.SoftmaxCrossEntropy(), (A, np.array([0.0, 1.0, 2.0])), fg.LabelError,
         r"SoftmaxCrossEntropy: labels y must be integers"),
        (fg.SigmoidCrossEntropy(), (A, SOFT * 5), fg.LabelError,
         r"SigmoidCrossEntropy: soft targets must lie in \[0, 1\], found \[1.25"),
        (fg.SigmoidCrossEntropy(), (A, SOFT[:2]), fg.ShapeError,
         r"SigmoidCrossEntropy: soft targets y must have the logits' shape .*\(3, 4\).*\(2, 4\)"),
        (fg.SigmoidCrossEntropy(weight=(1, 2, 3)), (A, SOFT), fg.ShapeError,
         r"SigmoidCrossEntropy\(weight=...\): 3 weights do not broadcast to .*\(3, 4\)"),
        (fg.SigmoidCrossEntropy(), (A, np.full((3, 4), 2)), fg.LabelError,
         r"SigmoidCrossEntropy: labels must be 0 or 1, found \[2\]"),
        (fg.Softmax(axis=2), (A,), fg.ShapeError, r"Softmax: axis=2 does not exist .*\(3, 4\)"),
    ],
)
def test_bad_input_is_refused_naming_the_box_and_the_values(box, inputs, error, match):
    with pytest.raises(error, match=match):
        box.fprop(*inputs)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2])
def test_softmax_on_n_d_arrays_is_torch_s_and_stable_at_1e4(axis, rng):
    a = 1e4 * rng.standard_normal((3, 4, 5))
    f = fg.Softmax(axis).fprop(a)
    assert np.all(np.isfinite(f))
    np.testing.assert_allclose(f, torch.softmax(torch.tensor(a), dim=axis).numpy(), atol=1e-15)
    x = fg.Input("x")
    graph = fg.Graph((fg.softmax(x, axis=axis) * np.arange(5.0)).sum())
    assert fg.check_graph(graph, {x: a / 1e4}).ok
    report = fg.check_box(fg.Softmax(axis), (a / 1e4,))
    assert report.status == "pass" and report.jvp.status == "pass", str(report)
