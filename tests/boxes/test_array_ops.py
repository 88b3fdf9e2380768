"""The array operations (issue 22) against torch.autograd in float64: values, gradients with
repeated indices, N-D shapes and broadcasting, ties in max, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import boxes as B
from flowgraph.boxes.indexing import scatter_positions, scatter_rows

torch = pytest.importorskip("torch")

R = np.random.default_rng(7)


def _arr(*shape, positive=False):
    a = R.standard_normal(shape)
    return np.abs(a) + 0.5 if positive else a


def run_box(box, *xs, seed=0):
    """fprop, then bprop with a random output gradient: (y, G, grads)."""
    y = box.fprop(*xs)
    G = np.random.default_rng(seed).standard_normal(np.shape(y))
    return y, G, box.bprop(list(xs), y, G)


def run_torch(fn, *xs, G):
    ts = [torch.tensor(x, requires_grad=np.asarray(x).dtype.kind == "f") for x in xs]
    y = fn(*ts)
    floats = [t for t in ts if t.requires_grad]
    grads = torch.autograd.grad(y, floats, torch.tensor(G), allow_unused=True)
    it = iter(grads)
    return y.detach().numpy(), [next(it) if t.requires_grad else None for t in ts]


IDX = np.array([0, 2, 2, 1, 2])
CASES = [
    ("basic slice", B.GetItem((slice(1, None), slice(None, None, -1))), lambda x: x[1:, [2, 1, 0]],
     (_arr(3, 3),)),
    ("newaxis, ellipsis", B.GetItem((None, Ellipsis, 0)), lambda x: x[None, ..., 0],
     (_arr(2, 3, 4),)),
    ("repeated rows", B.GetItem(IDX), lambda x: x[torch.tensor(IDX)], (_arr(4, 3),)),
    ("repeated pairs", B.GetItem((np.array([0, 0, 1]), np.array([1, 1, 2]))),
     lambda x: x[torch.tensor([0, 0, 1]), torch.tensor([1, 1, 2])], (_arr(2, 3),)),
    ("array and slice", B.GetItem((IDX, slice(1, None))), lambda x: x[torch.tensor(IDX), 1:],
     (_arr(3, 4),)),
    ("embedding", B.Take(0), lambda C, i: C[i], (_arr(6, 4), np.array([[0, 5, 5], [2, 0, 5]]))),
    ("take axis 1", B.Take(1), lambda x, i: torch.index_select(x, 1, i),
     (_arr(3, 5), np.array([4, 4, 0]))),
    ("gather", B.TakeAlongAxis(1), lambda x, i: torch.gather(x, 1, i),
     (_arr(4, 3), np.array([[0, 2], [1, 1], [2, 2], [0, 0]]))),
    ("max axis", B.Max(1), lambda x: torch.amax(x, 1), (_arr(3, 4),)),
    ("max axes keepdims", B.Max((0, 2), True), lambda x: torch.amax(x, (0, 2), keepdim=True),
     (_arr(2, 3, 4),)),
    ("max all", B.Max(), lambda x: torch.amax(x), (_arr(3, 4),)),
    ("min axis", B.Min(0), lambda x: torch.amin(x, 0), (_arr(3, 4),)),
    ("logsumexp", B.LogSumExp(-1), lambda x: torch.logsumexp(x, -1), (_arr(2, 3, 4),)),
    ("logsumexp all", B.LogSumExp(None, True), lambda x: torch.logsumexp(x.reshape(-1), 0)
     .reshape(1, 1), (_arr(3, 4),)),
    ("log_softmax", B.LogSoftmax(1), lambda x: torch.log_softmax(x, 1), (_arr(2, 3, 4),)),
    ("var", B.Var(1), lambda x: torch.var(x, 1, correction=0), (_arr(3, 5),)),
    ("var ddof 1", B.Var((0, 1), True, 1), lambda x: torch.var(x, (0, 1), correction=1,
     keepdim=True), (_arr(3, 4, 2),)),
    ("maximum", B.Maximum(), torch.maximum, (_arr(4, 3), _arr(3))),
    ("minimum", B.Minimum(), torch.minimum, (_arr(4, 1), _arr(2, 1, 5))),
    ("where", B.Where(), torch.where, (R.random((4, 3)) < 0.5, _arr(4, 3), _arr(3))),
    ("clip", B.Clip(-0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), (_arr(4, 3),)),
    ("sin", B.Sin(), torch.sin, (_arr(4, 3),)),
    ("cos", B.Cos(), torch.cos, (_arr(4, 3),)),
    ("power", B.Power(), torch.pow, (_arr(4, 3, positive=True), _arr(3))),
    ("permute", B.Permute((2, 0, 1)), lambda x: x.permute(2, 0, 1), (_arr(2, 3, 4),)),
    ("swapaxes", B.SwapAxes(0, -1), lambda x: torch.transpose(x, 0, -1), (_arr(2, 3, 4),)),
    ("stack", B.Stack(1), lambda *xs: torch.stack(xs, 1), (_arr(4, 3), _arr(4, 3), _arr(4, 3))),
    ("split", B.Split(3, 1, 2), lambda x: torch.split(x, 2, 1)[2], (_arr(2, 6),)),
    ("split at", B.Split([1, 4], 0, 1), lambda x: x[1:4], (_arr(5, 2),)),
    ("einsum matmul", B.Einsum("ij,jk->ik"), lambda a, b: torch.einsum("ij,jk->ik", a, b),
     (_arr(3, 4), _arr(4, 2))),
    ("einsum batched", B.Einsum("bij,bjk"), lambda a, b: torch.einsum("bij,bjk", a, b),
     (_arr(2, 3, 4), _arr(2, 4, 5))),
    ("einsum attention", B.Einsum("bhqd,bhkd->bhqk"),
     lambda q, k: torch.einsum("bhqd,bhkd->bhqk", q, k), (_arr(2, 2, 3, 4), _arr(2, 2, 5, 4))),
    ("einsum bilinear", B.Einsum("i,ij,j->"), lambda x, A, y: torch.einsum("i,ij,j->", x, A, y),
     (_arr(3), _arr(3, 4), _arr(4))),
    ("einsum sum within", B.Einsum("ij,k->i"), lambda a, b: torch.einsum("ij,k->i", a, b),
     (_arr(3, 4), _arr(2))),
]


@pytest.mark.parametrize("what, box, fn, xs", CASES, ids=[c[0] for c in CASES])
def test_value_and_gradients_match_torch(what, box, fn, xs):
    y, G, grads = run_box(box, *xs)
    ty, tgrads = run_torch(fn, *xs, G=G)
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-12)
    for g, tg in zip(grads, tgrads):
        if tg is None:
            assert g is None
        else:
            np.testing.assert_allclose(g, tg.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("what, box, fn, xs", CASES, ids=[c[0] for c in CASES])
def test_every_array_box_passes_the_checker(what, box, fn, xs):
    xs = tuple(np.asarray(x, dtype=np.float64) if np.asarray(x).dtype.kind == "f" else x
               for x in xs)
    report = fg.check_box(box, inputs=xs)
    assert report.ok, str(report)


def test_ties_in_max_send_the_gradient_to_the_first_maximum():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    _, _, (g,) = run_box(B.Max(1), x)
    y = B.Max(1).fprop(x)
    g = B.Max(1).bprop([x], y, np.ones(2))[0]
    assert g.tolist() == [[0, 1, 0], [1, 0, 0]]
    g = B.Min(None).bprop([x], B.Min().fprop(x), np.array(1.0))[0]
    assert g.sum() == 1 and g[0, 0] == 1


def test_log_softmax_and_logsumexp_stay_finite_at_1e4():
    a = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]])
    y = B.LogSoftmax().fprop(a)
    assert np.isfinite(y).all()
    np.testing.assert_allclose(y, torch.log_softmax(torch.tensor(a), -1).numpy(), atol=1e-12)
    g = B.LogSoftmax().bprop([a], y, np.ones_like(a))[0]
    assert np.isfinite(g).all()
    np.testing.assert_allclose(B.LogSumExp(1).fprop(a), torch.logsumexp(torch.tensor(a), 1))


def test_one_hot_and_argmax_match_torch():
    labels = np.array([[0, 3], [2, 2]])
    expected = torch.nn.functional.one_hot(torch.tensor(labels), 4).numpy()
    np.testing.assert_array_equal(B.OneHot(4).fprop(labels), expected)
    x = _arr(3, 5)
    np.testing.assert_array_equal(B.ArgMax(1).fprop(x), torch.argmax(torch.tensor(x), 1))
    np.testing.assert_array_equal(B.ArgMin().fprop(x), torch.argmin(torch.tensor(x)))


def test_comparisons_are_masks_without_gradient():
    a, b = _arr(4, 3), _arr(3)
    for op, f in [("<", np.less), ("<=", np.less_equal), (">", np.greater),
                  (">=", np.greater_equal), ("==", np.equal), ("!=", np.not_equal)]:
        np.testing.assert_array_equal(B.Compare(op).fprop(a, b), f(a, b))
        assert B.Compare(op).bprop([a, b], None, None) == (None, None)


def test_scatter_sums_repeated_indices_like_add_at():
    rng = np.random.default_rng(3)
    idx = rng.integers(0, 7, size=(50, 3))
    grad = rng.standard_normal((50, 3, 4))
    expected = np.zeros((7, 4))
    np.add.at(expected, idx, grad)
    np.testing.assert_allclose(scatter_rows(grad, idx, (7, 4)), expected)
    pos = rng.integers(0, 12, size=30)
    g = rng.standard_normal(30)
    exp2 = np.zeros(12)
    np.add.at(exp2, pos, g)
    np.testing.assert_allclose(scatter_positions(g, pos, (3, 4)).ravel(), exp2)


def test_gradient_dtype_follows_the_input():
    x = _arr(5, 3).astype(np.float32)
    g = B.GetItem(IDX).bprop([x], x[IDX], np.ones((5, 3), np.float32))[0]
    assert g.dtype == np.float32
    g = B.Take(0).bprop([x, IDX], x[IDX], np.ones((5, 3), np.float32))[0]
    assert g.dtype == np.float32


@pytest.mark.parametrize(
    "box, xs, match",
    [
        (B.GetItem((5,)), (_arr(3, 2),), r"GetItem: index \[5\] does not fit x of shape \(3, 2\)"),
        (B.Take(0), (_arr(3, 2), np.array([0, 3])), r"Take: index \[3\] out of range for axis 0"),
        (B.Max(2), (_arr(3, 2),), r"Max: axis=2 does not exist for an array of shape \(3, 2\)"),
        (B.Einsum("ij,jk->ik"), (_arr(3, 2), _arr(3, 2)), "subscript 'j' has sizes 2 and 3"),
        (B.Einsum("ij,jk->ik"), (_arr(3, 2),), "takes 2 operands, got 1"),
        (B.Einsum("ijk,jk->ik"), (_arr(3, 2), _arr(2, 2)), "operand 'ijk' needs 3 axes"),
        (B.OneHot(3), (np.array([0, 3]),), r"labels must lie in \[0, 3\), found \[3\]"),
        (B.Split(4, 1), (_arr(2, 6),), "does not divide into 4 equal sections"),
        (B.Stack(), (_arr(2, 3), _arr(3, 2)), "Stack needs children of one shape"),
        (B.Permute((0, 0)), (_arr(2, 3),), "not a permutation"),
    ],
)
def test_bad_input_is_one_error_naming_box_and_shapes(box, xs, match):
    with pytest.raises(fg.FlowgraphError, match=match):
        box.fprop(*xs)


def test_bad_input_in_a_graph_names_the_node():
    x = fg.Input("x")
    y = fg.Graph(B.Max(axis=3)(x, name="peak"))
    with pytest.raises(fg.FlowgraphError, match="peak"):
        y.fprop({x: _arr(2, 3)})


def test_einsum_spec_errors_at_construction():
    with pytest.raises(fg.ShapeError, match="repeats a subscript"):
        B.Einsum("ii->i")
    with pytest.raises(fg.ShapeError, match="must name input subscripts"):
        B.Einsum("ij->k")


def test_function_forms_build_the_boxes_and_train_through_a_graph():
    C = fg.Parameter(_arr(6, 3), "C")
    ctx, y = fg.Input("ctx"), fg.Input("y")
    e = fg.embedding(ctx, C)                     # (N, 2, 3)
    h = fg.einsum("ntd,de->ne", e, fg.Parameter(_arr(3, 4), "W"))
    loss = -fg.take_along_axis(fg.log_softmax(h, axis=1), y, axis=1).mean()
    graph = fg.Graph(loss)
    feed = {ctx: np.array([[0, 5], [5, 5], [1, 2]]), y: np.array([[0], [3], [2]])}
    assert fg.check_graph(graph, feed).ok
    parts = fg.split(fg.Parameter(_arr(2, 6), "P"), 3, axis=1)
    assert [type(p.box).__name__ for p in parts] == ["Split"] * 3


def test_array_boxes_save_and_load(tmp_path):
    x = fg.Input("x")
    out = fg.amax(fg.log_softmax(fg.permute(x, (1, 0)), axis=0), axis=0)
    out = fg.Graph(B.GetItem((np.array([0, 0]), slice(None, None, -1)))(
        fg.stack([out, out], axis=0)).sum())
    for box in [n.box for n in out.order if n.box is not None]:
        rebuilt = type(box)(**box.config())
        assert rebuilt.config() == box.config()


def test_scatter_without_scipy_gives_the_same_sums(monkeypatch):
    from flowgraph.boxes import indexing

    rng = np.random.default_rng(4)
    idx = rng.integers(0, 5, size=(20, 2))
    grad = rng.standard_normal((20, 2, 3)).astype(np.float32)
    with_scipy = scatter_rows(grad, idx, (5, 3))
    monkeypatch.setattr(indexing, "_sparse", lambda: None)
    without = scatter_rows(grad, idx, (5, 3))
    assert without.dtype == np.float32
    np.testing.assert_allclose(without, with_scipy, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "spec, shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk->ki", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("i,i->", [(4,), (4,)]),
        ("i,j->ij", [(3,), (4,)]), ("abc,cb->a", [(2, 3, 4), (4, 3)]),
        ("xbyz,zbq->bqyx", [(2, 3, 4, 5), (5, 3, 2)]), ("ij,k->ik", [(2, 3), (4,)]),
    ],
)
def test_two_operand_einsum_as_one_matrix_product_equals_numpy(spec, shapes):
    from flowgraph.boxes.einsum import contract_pair, parse_spec

    rng = np.random.default_rng(5)
    xs = [rng.standard_normal(s) for s in shapes]
    subs, out = parse_spec(spec)
    np.testing.assert_allclose(contract_pair(*subs, out, *xs), np.einsum(spec, *xs), atol=1e-12)
    assert fg.check_box(B.Einsum(spec), inputs=tuple(xs)).ok


def test_array_ops_benchmark_runs_quick_and_writes_its_section(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "array_ops.py"
    spec = importlib.util.spec_from_file_location("array_ops_bench", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\nkept\n")
    assert bench.main(["--quick", "--repeats", "1", "--write", str(md)]) == 0
    text = md.read_text()
    assert "kept" in text and "np.add.at" in text and "PyTorch bmm" in text
