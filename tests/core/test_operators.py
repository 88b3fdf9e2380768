"""Operators on nodes and the function forms: each is one box, constants are leaves that need
no feed and get no gradient, and the lecture's formulas read like the math."""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import flowgraph as fg

render_mod = importlib.import_module("flowgraph.render")


def leaves(rng):
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((2, 3)), "W")
    b = fg.Parameter(rng.standard_normal(2), "b")
    return x, W, b


@pytest.mark.parametrize(
    "make, box",
    [
        (lambda x, y: x + y, fg.Add),
        (lambda x, y: x - y, fg.Sub),
        (lambda x, y: x * y, fg.Mul),
        (lambda x, y: x / y, fg.Div),
        (lambda x, y: x @ y, fg.MatMul),
        (lambda x, y: -x, fg.Neg),
        (lambda x, y: x.T, fg.Transpose),
        (lambda x, y: x.sum(), fg.Sum),
        (lambda x, y: x.mean(axis=0), fg.Mean),
        (lambda x, y: x.reshape(-1), fg.Reshape),
        (lambda x, y: x**2, fg.Square),
        (lambda x, y: x**3, fg.Pow),
        (lambda x, y: fg.exp(x), fg.Exp),
        (lambda x, y: fg.log(x), fg.Log),
        (lambda x, y: fg.tanh(x), fg.Tanh),
        (lambda x, y: fg.sigmoid(x), fg.Sigmoid),
        (lambda x, y: fg.relu(x), fg.ReLU),
        (lambda x, y: fg.softplus(x), fg.Softplus),
        (lambda x, y: fg.abs(x), fg.Abs),
        (lambda x, y: fg.square(x), fg.Square),
        (lambda x, y: fg.matmul(x, y), fg.MatMul),
        (lambda x, y: fg.concat([x, y], axis=0), fg.Concat),
        (lambda x, y: fg.leaky_relu(x, 0.2), fg.LeakyReLU),
        (lambda x, y: fg.squared_error(x, y), fg.SquaredError),
    ],
)
def test_each_operator_is_one_box(make, box):
    x, y = fg.Input("x"), fg.Input("y")
    node = make(x, y)
    assert type(node.box) is box
    assert all(c is x or c is y for c in node.children)


def test_operators_compute_what_numpy_computes(rng):
    x, y = fg.Input("x"), fg.Input("y")
    X, Y = rng.uniform(0.5, 2, (4, 3)), rng.uniform(0.5, 2, (4, 3))
    cases = {
        "x + y": (x + y, X + Y),
        "x - y": (x - y, X - Y),
        "x * y": (x * y, X * Y),
        "x / y": (x / y, X / Y),
        "x @ y.T": (x @ y.T, X @ Y.T),
        "-x": (-x, -X),
        "x.T": (x.T, X.T),
        "x.sum(1)": (x.sum(1), X.sum(1)),
        "x.mean(keepdims)": (x.mean(axis=0, keepdims=True), X.mean(axis=0, keepdims=True)),
        "x.reshape(2, 6)": (x.reshape(2, 6), X.reshape(2, 6)),
        "x.reshape((6, 2))": (x.reshape((6, 2)), X.reshape((6, 2))),
        "x ** 2": (x**2, X**2),
        "x ** 0.5": (x**0.5, X**0.5),
        "fg.sqrt(x)": (fg.sqrt(x), np.sqrt(X)),
        "fg.exp(-x)": (fg.exp(-x), np.exp(-X)),
    }
    graph = fg.Graph([node for node, _ in cases.values()])
    values = graph.fprop({x: X, y: Y})
    for (what, (_, expected)), value in zip(cases.items(), values):
        np.testing.assert_allclose(value, expected, rtol=1e-14, err_msg=what)


def test_numbers_and_arrays_become_constants_on_either_side(rng):
    x = fg.Input("x")
    X = rng.standard_normal((4, 3))
    c = rng.standard_normal(3)
    cases = {
        "x + 1": (x + 1, X + 1),
        "1 + x": (1 + x, 1 + X),
        "2 - x": (2 - x, 2 - X),
        "x - 2": (x - 2, X - 2),
        "0.5 * x": (0.5 * x, 0.5 * X),
        "x * c": (x * c, X * c),
        "c * x": (c * x, c * X),  # NumPy defers to the node: not an array of objects
        "c - x": (c - x, c - X),
        "1 / x": (1 / x, 1 / X),
        "x / 4": (x / 4, X / 4),
        "np.float32(3) * x": (np.float32(3) * x, 3 * X),
        "ones @ x": (np.ones((2, 4)) @ x, np.ones((2, 4)) @ X),
    }
    for what, (node, expected) in cases.items():
        assert isinstance(node, fg.Node), what
        graph = fg.Graph(node)
        constants = [n for n in graph.order if isinstance(n, fg.Constant)]
        assert len(constants) == 1, what
        assert graph.inputs == [x] and graph.parameters == [], what  # no feed, no gradient
        np.testing.assert_allclose(graph.fprop({x: X}), expected, rtol=1e-14, err_msg=what)


def test_a_constant_needs_no_feed_and_gets_no_gradient(rng):
    x, W, b = leaves(rng)
    t0 = np.array([0.5, -0.5])
    loss = ((x @ W.T + b - t0) ** 2).mean()
    graph = fg.Graph(loss)
    feed = {x: rng.standard_normal((5, 3))}
    graph.fprop(feed)
    graph.bprop()
    const = next(n for n in graph.order if isinstance(n, fg.Constant))
    assert const.name == "constant1" and const.grad is None
    np.testing.assert_array_equal(const.value, t0)
    t0[0] = 99.0  # the constant holds its own copy
    assert const.value[0] == 0.5
    assert fg.check_graph(graph, feed, wrt=[x]).ok


def test_a_python_number_keeps_a_float32_graph_float32():
    x = fg.Input("x")
    node = 0.5 * x + 1 - x / 3
    out = fg.Graph(node).fprop({x: np.ones((2, 2), dtype=np.float32)})
    assert out.dtype == np.float32


def test_the_lectures_network_reads_like_the_math(rng):
    x, t = fg.Input("x"), fg.Input("t")
    W1 = fg.Parameter(rng.standard_normal((4, 3)), "W1")
    b1 = fg.Parameter(rng.standard_normal(4), "b1")
    W2 = fg.Parameter(rng.standard_normal((2, 4)), "W2")
    b2 = fg.Parameter(rng.standard_normal(2), "b2")
    h = fg.tanh(x @ W1.T + b1)
    loss = ((h @ W2.T + b2 - t) ** 2).mean()
    graph = fg.Graph(loss)
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    value = graph.fprop({x: X, t: T})
    H = np.tanh(X @ W1.value.T + b1.value)
    expected = np.mean((H @ W2.value.T + b2.value - T) ** 2)
    assert float(value) == pytest.approx(expected, rel=1e-14)
    report = fg.check_graph(graph, {x: X, t: T}, wrt=[x])
    assert report.ok, str(report)
    # the same with boxes by hand: the operators are sugar, the boxes the truth
    a1 = fg.Linear()(x, W1, b1)
    np.testing.assert_allclose(
        fg.Graph(a1).fprop({x: X}), fg.Graph(x @ W1.T + b1).fprop({x: X}), rtol=1e-14
    )


def test_a_weight_used_twice_gets_the_sum_of_its_gradients(rng):
    """A tied autoencoder: W encodes and W^T decodes, one Parameter, two gradients summed."""
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((2, 4)), "W")
    loss = fg.squared_error(fg.tanh(x @ W.T) @ W, x)
    graph = fg.Graph(loss)
    X = rng.standard_normal((6, 4))
    graph.fprop({x: X})
    graph.bprop()
    assert W.grad.shape == W.value.shape
    assert fg.check_graph(graph, {x: X}).ok


def test_operators_refuse_what_is_not_a_node_or_a_number():
    x = fg.Input("x")
    with pytest.raises(fg.GraphError, match=r"Tanh.*forget to call"):
        x + fg.Tanh()
    with pytest.raises(fg.GraphError, match=r"list .*'\*'.*np.asarray"):
        x * [1.0, 2.0]
    with pytest.raises(fg.GraphError, match="exponent must be a number, an array or a node"):
        x ** "2"
    with pytest.raises(fg.GraphError, match="number or a NumPy array"):
        fg.Constant("3")


def test_nodes_stay_compared_and_hashed_by_identity():
    x, y = fg.Input("x"), fg.Input("x")
    assert (x == y) is False and x == x  # no element-wise __eq__ making a node
    assert {x: 1, y: 2}[y] == 2
    assert "__eq__" not in vars(fg.Node) and "__hash__" not in vars(fg.Node)  # (fg.equal: masks)


def test_render_draws_a_constant_with_its_value(rng):
    x, W, b = leaves(rng)
    graph = fg.Graph(((x @ W.T + b) * 0.5).sum())
    graph.fprop({x: np.ones((1, 3))})
    src = render_mod.to_dot(graph).source
    fill, line = render_mod.STYLE["constant"]
    assert "<B>0.5</B>" in src and fill in src and "dashed" in src
    assert ">constant<" in src  # in the legend


def test_the_array_operators_make_the_array_boxes(rng):
    x, y = fg.Input("x", shape=(None, 4)), fg.Input("y")
    made = {
        "x[1:, ::-1]": (x[1:, ::-1], fg.GetItem), "x[idx]": (x[y], fg.Take),
        "abs(x)": (abs(x), fg.Abs), "x ** y": (x ** y, fg.Power), "2 ** x": (2 ** x, fg.Power),
        "x < y": (x < y, fg.Compare), "x >= 0": (x >= 0, fg.Compare),
        "x.max(1)": (x.max(1), fg.Max), "x.min()": (x.min(), fg.Min),
        "x.var(0)": (x.var(0), fg.Var), "x.argmax(1)": (x.argmax(1), fg.ArgMax),
        "x.transpose(1, 0)": (x.transpose(1, 0), fg.Permute), "x.T": (x.T, fg.Transpose),
        "x.swapaxes(0, 1)": (x.swapaxes(0, 1), fg.SwapAxes),
        "x.flatten()": (x.flatten(), fg.Flatten),
    }  # fmt: skip
    for what, (node, box) in made.items():
        assert type(node.box) is box, what
    assert type(x.std(0).box) is fg.Pow and type(x.std(0).children[0].box) is fg.Var
    assert [c.box.op for c in (x < y, x <= y, x > y, x >= y)] == ["<", "<=", ">", ">="]
    assert fg.equal(x, y).box.op == "==" and fg.not_equal(x, y).box.op == "!="
    with pytest.raises(fg.GraphError, match="must be the whole index"):
        x[y, 0]


def test_declared_shapes_are_known_before_fprop_and_bad_ones_refused_when_built():
    x = fg.Input("x", shape=(None, 784))
    y = fg.Input("y", shape=(None,), dtype=int)
    W, b = fg.Parameter(np.zeros((256, 784)), "W"), fg.Parameter(np.zeros(256), "b")
    h = fg.tanh(fg.linear(x, W, b))
    assert h.shape == (None, 256) and h[:, :10].max(1).shape == (None,)
    assert (x.T @ x).shape == (784, 784) and fg.Input("z").shape is None
    loss = fg.softmax_cross_entropy(h, y)
    assert loss.shape == ()
    with pytest.raises(fg.ShapeError, match=r"\(MatMul\) on children of shapes \(None, 784\)"):
        x @ W
    with pytest.raises(fg.ShapeError, match="axis=2 does not exist"):
        h.max(2)
    with pytest.raises(fg.ShapeError, match="subscript 'k' has sizes"):
        fg.einsum("nk,kd->nd", x, W)
    graph = fg.Graph(loss)  # and the values, after fprop, have the shapes announced
    graph.fprop({x: np.ones((5, 784)), y: np.zeros(5, dtype=int)})
    assert h.shape == (5, 256)
