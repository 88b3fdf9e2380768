"""``a @ b`` with NumPy's matmul semantics: 1-D operands, stacks of matrices, broadcast batch
axes; values and gradients against torch.autograd in float64, forward-mode rules checked."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg

torch = pytest.importorskip("torch")

SHAPES = [
    ((3,), (3,)),  # inner product: a 0-d y
    ((3,), (3, 4)),  # row times matrix
    ((2, 3), (3,)),  # matrix times column
    ((4, 3), (3, 2)),  # the 2-D hot path
    ((5, 2, 3), (3, 4)),  # batch times one matrix: grad_b summed over the batch
    ((3,), (5, 3, 4)),
    ((2, 3, 4), (4,)),
    ((2, 1, 4, 3), (5, 3, 2)),  # batch axes broadcast both ways
    ((1, 4, 3), (2, 3, 2)),
    ((4, 3), (2, 3, 2)),
]


@pytest.mark.parametrize("sa, sb", SHAPES, ids=str)
def test_matmul_agrees_with_numpy_and_torch(sa, sb, rng):
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    box = fg.MatMul()
    y = box.fprop(a, b)
    np.testing.assert_allclose(y, np.matmul(a, b), rtol=1e-14, atol=1e-14)
    g = rng.standard_normal(np.shape(y))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    ga, gb = torch.autograd.grad(ta @ tb, (ta, tb), torch.tensor(g))
    grad_a, grad_b = box.bprop((a, b), y, g)
    assert grad_a.shape == sa and grad_b.shape == sb
    np.testing.assert_allclose(grad_a, ga.numpy(), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(grad_b, gb.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("sa, sb", SHAPES, ids=str)
def test_matmul_passes_the_checker_with_forward_mode(sa, sb, rng):
    report = fg.check_box(fg.MatMul(), (rng.standard_normal(sa), rng.standard_normal(sb)))
    assert report.status == "pass", str(report)
    assert report.jvp is not None and report.jvp.status == "pass", str(report)


def test_batched_matmul_in_a_graph_sums_a_shared_weight_over_the_batch(rng):
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((3, 2)), "W")
    loss = (x @ W).sum()
    graph = fg.Graph(loss)
    X = rng.standard_normal((4, 5, 3))
    graph.fprop({x: X})
    graph.bprop()
    np.testing.assert_allclose(W.grad, X.sum(axis=(0, 1))[:, None] * np.ones((1, 2)))
    assert fg.check_graph(graph, {x: X}).ok


def test_declared_shapes_give_the_batched_product_shape():
    x = fg.Input("x", shape=(None, 7, 3))
    W = fg.Parameter(np.zeros((3, 2)), "W")
    assert (x @ W).shape == (None, 7, 2)
    assert (x @ np.zeros(3)).shape == (None, 7)


@pytest.mark.parametrize(
    "sa, sb, match",
    [
        ((4, 3), (2, 3), r"MatMul .*\(4, 3\).*\(2, 3\)"),
        ((3,), (4,), r"MatMul .*\(3,\).*\(4,\)"),
        ((), (3,), r"MatMul .*\(\).*\(3,\)"),
        ((2, 4, 3), (5, 3, 2), r"MatMul: the batch axes of a \(2, 4, 3\) and b \(5, 3, 2\)"),
    ],
)
def test_bad_shapes_are_refused_naming_the_box_and_the_shapes(sa, sb, match):
    with pytest.raises(fg.ShapeError, match=match):
        fg.MatMul().fprop(np.ones(sa), np.ones(sb))
