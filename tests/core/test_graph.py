"""The Graph: deterministic order and names, feeding, summed gradients, skipping, wrt, several
outputs, and clear errors for every mistake a user can make."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import flowgraph as fg


def softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(y: np.ndarray, c: int) -> np.ndarray:
    return np.eye(c)[y]


def numeric_grad(loss_of, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``loss_of()`` for every element of ``x`` (in place)."""
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        f_plus = loss_of()
        x[i] = old - eps
        f_minus = loss_of()
        x[i] = old
        g[i] = (f_plus - f_minus) / (2 * eps)
    return g


class Data:
    """A small batch: x (N, D), labels y in [0, C)."""

    def __init__(self, rng, n=6, d=3, c=4):
        self.X = rng.standard_normal((n, d))
        self.Y = rng.integers(0, c, size=n)
        self.n, self.d, self.c = n, d, c


def build_mlp(rng_seed=0, lam=0.1):
    """Two layers, unnamed boxes, an L2 penalty: the same construction every call."""
    rng = np.random.default_rng(rng_seed)
    x, y = fg.Input("x"), fg.Input("y")
    W1, b1 = fg.Parameter(rng.standard_normal((5, 3)), "W1"), fg.Parameter(np.zeros(5), "b1")
    W2, b2 = fg.Parameter(rng.standard_normal((4, 5)), "W2"), fg.Parameter(np.zeros(4), "b2")
    h1 = fg.Tanh()(fg.Linear()(x, W1, b1))
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(fg.Linear()(h1, W2, b2), y),
        fg.Scale(lam)(fg.L2Penalty()(W1, W2)),
    )
    return fg.Graph(loss), (x, y, W1, b1, W2, b2)


# -- order and names ----------------------------------------------------------------------------


def test_same_construction_same_order_and_names():
    g1, _ = build_mlp()
    g2, _ = build_mlp()
    names1 = [n.name for n in g1.order]
    assert names1 == [n.name for n in g2.order]
    assert [type(n.box).__name__ for n in g1.order] == [type(n.box).__name__ for n in g2.order]
    assert len(set(names1)) == len(names1)
    assert {"linear1", "linear2", "tanh1", "l2penalty1", "scale1", "add1"} <= set(names1)
    assert names1[-1] == "add1"  # the output comes last


def test_order_is_topological_and_lists_are_consistent():
    graph, (x, y, W1, b1, W2, b2) = build_mlp()
    position = {id(n): i for i, n in enumerate(graph.order)}
    for n in graph.order:
        for c in n.children:
            assert position[id(c)] < position[id(n)], f"{c.name} comes after its parent {n.name}"
    assert graph.inputs == [x, y]
    assert graph.parameters == [W1, b1, W2, b2]
    assert graph.nodes["W2"] is W2 and graph["x"] is x
    assert len(graph) == len(graph.order) == len(graph.nodes)
    assert graph.outputs == [graph.order[-1]]
    with pytest.raises(KeyError, match="no node named 'h7'"):
        graph["h7"]


def test_given_names_win_over_automatic_ones():
    x = fg.Input("x")
    t_named = fg.Tanh()(x, name="tanh1")
    t_free = fg.Tanh()(x)
    graph = fg.Graph(fg.Add()(t_free, t_named))
    assert t_named.name == "tanh1"
    assert t_free.name == "tanh2"
    assert graph["tanh1"] is t_named


def test_graphs_built_separately_can_be_joined():
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(x, W, b), y)
    h = fg.Tanh()(fg.Linear()(x, W, b))
    g_loss, g_h = fg.Graph(loss), fg.Graph(h)
    assert g_loss.order[3].name == g_h.order[3].name == "linear1"  # each graph names its own
    both = fg.Graph([loss, h])
    names = [n.name for n in both.order]
    assert len(set(names)) == len(names)
    assert loss.children[0].name == "linear1"  # the first keeps its name, the second yields
    assert h.children[0].name == "linear2"


# -- feeding ----------------------------------------------------------------------------------


def test_feed_by_node_or_by_name(rng):
    graph, (x, y, *_) = build_mlp()
    data = Data(rng, d=3, c=4)
    by_node = float(graph.fprop({x: data.X, y: data.Y}))
    by_name = float(graph.fprop({"x": data.X, "y": data.Y}))
    mixed = float(graph.fprop({x: data.X, "y": data.Y}))
    assert by_node == by_name == mixed
    assert np.isfinite(by_node) and by_node > 0
    assert x.value is data.X  # fed arrays are used as they are, no copy
    lists = float(graph.fprop({x: data.X.tolist(), y: data.Y.tolist()}))
    assert lists == by_node


def test_every_node_keeps_its_value(rng):
    graph, (x, y, W1, b1, *_) = build_mlp()
    data = Data(rng)
    graph.fprop({x: data.X, y: data.Y})
    a1 = graph["linear1"]
    np.testing.assert_allclose(a1.value, data.X @ W1.value.T + b1.value)
    np.testing.assert_allclose(graph["tanh1"].value, np.tanh(a1.value))
    assert a1.shape == (data.n, 5)


# -- summed gradients: finite differences AND hand-derived sums --------------------------------


def test_weight_feeding_linear_and_l2_penalty_gets_the_sum(rng):
    data, lam = Data(rng, c=3), 0.3
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(rng.standard_normal((3, 3)), "W"), fg.Parameter(rng.random(3), "b")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(fg.Linear()(x, W, b), y), fg.Scale(lam)(fg.L2Penalty()(W))
    )
    graph = fg.Graph(loss)
    feed = {x: data.X, y: data.Y}
    graph.fprop(feed)
    graph.bprop()
    # by hand: grad_a = (f - e(y)) / N;  grad_W = grad_a^T x (from Linear) + 2 lambda W
    f = softmax(data.X @ W.value.T + b.value)
    grad_a = (f - one_hot(data.Y, 3)) / data.n
    from_linear, from_penalty = grad_a.T @ data.X, 2 * lam * W.value
    np.testing.assert_allclose(W.grad, from_linear + from_penalty, rtol=1e-12, atol=1e-15)
    assert not np.allclose(W.grad, from_linear) and not np.allclose(W.grad, from_penalty)
    np.testing.assert_allclose(b.grad, grad_a.sum(axis=0), rtol=1e-12, atol=1e-15)
    numeric = numeric_grad(lambda: float(graph.fprop(feed)), W.value)
    np.testing.assert_allclose(W.grad, numeric, rtol=1e-6, atol=1e-8)
    assert fg.check_graph(graph, feed).ok


def test_diamond_gets_the_sum_of_both_paths(rng):
    data = Data(rng, c=3)
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(rng.standard_normal((4, 3)), "W"), fg.Parameter(rng.random(4), "b")
    V, c = fg.Parameter(rng.standard_normal((3, 4)), "V"), fg.Parameter(np.zeros(3), "c")
    a = fg.Linear()(x, W, b)
    s = fg.Add()(fg.Tanh()(a), fg.Sigmoid()(a))  # two paths from a to s
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(s, V, c), y)
    graph = fg.Graph(loss)
    feed = {x: data.X, y: data.Y}
    graph.fprop(feed)
    graph.bprop()
    av = data.X @ W.value.T + b.value
    h1, h2 = np.tanh(av), 1 / (1 + np.exp(-av))
    f = softmax((h1 + h2) @ V.value.T + c.value)
    grad_s = ((f - one_hot(data.Y, 3)) / data.n) @ V.value
    grad_a = grad_s * (1 - h1**2) + grad_s * h2 * (1 - h2)  # the chain rule's sum
    np.testing.assert_allclose(a.grad, grad_a, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(W.grad, grad_a.T @ data.X, rtol=1e-12, atol=1e-15)
    numeric = numeric_grad(lambda: float(graph.fprop(feed)), W.value)
    np.testing.assert_allclose(W.grad, numeric, rtol=1e-6, atol=1e-8)
    assert fg.check_graph(graph, feed).ok


def test_parameter_shared_by_two_layers_gets_the_sum(rng):
    data = Data(rng, d=3, c=2)
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(rng.standard_normal((3, 3)), "W")  # used by layer 1 and layer 2
    b1, b2 = fg.Parameter(rng.random(3), "b1"), fg.Parameter(rng.random(3), "b2")
    V, c = fg.Parameter(rng.standard_normal((2, 3)), "V"), fg.Parameter(np.zeros(2), "c")
    tanh = fg.Tanh()  # one box object serving two nodes: boxes keep no per-call state
    h1 = tanh(fg.Linear()(x, W, b1))
    h2 = tanh(fg.Linear()(h1, W, b2))
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(h2, V, c), y)
    graph = fg.Graph(loss)
    feed = {x: data.X, y: data.Y}
    graph.fprop(feed)
    graph.bprop()
    h1v = np.tanh(data.X @ W.value.T + b1.value)
    h2v = np.tanh(h1v @ W.value.T + b2.value)
    grad_a3 = (softmax(h2v @ V.value.T + c.value) - one_hot(data.Y, 2)) / data.n
    grad_a2 = (grad_a3 @ V.value) * (1 - h2v**2)
    grad_a1 = (grad_a2 @ W.value) * (1 - h1v**2)
    by_hand = grad_a2.T @ h1v + grad_a1.T @ data.X  # layer 2's share + layer 1's share
    np.testing.assert_allclose(W.grad, by_hand, rtol=1e-12, atol=1e-15)
    numeric = numeric_grad(lambda: float(graph.fprop(feed)), W.value)
    np.testing.assert_allclose(W.grad, numeric, rtol=1e-6, atol=1e-8)
    assert fg.check_graph(graph, feed).ok


def test_a_child_used_twice_by_one_box_counts_twice():
    W = fg.Parameter(np.array([1.0, -2.0]), "W")
    graph = fg.Graph(fg.L2Penalty()(W, W))  # Omega = 2 ||W||^2
    assert float(graph.fprop({})) == 10.0
    graph.bprop()
    np.testing.assert_array_equal(W.grad, 4 * W.value)


def test_gradients_start_from_zero_on_every_bprop(rng):
    graph, (x, y, W1, b1, W2, b2) = build_mlp()
    data = Data(rng)
    graph.fprop({x: data.X, y: data.Y})
    graph.bprop()
    first = [p.grad.copy() for p in graph.parameters]
    graph.bprop()
    for p, g in zip(graph.parameters, first):
        np.testing.assert_array_equal(p.grad, g, err_msg=f"{p.name} accumulated across bprops")
    # after new data, the gradients are those of the new data alone
    other = Data(np.random.default_rng(99))
    fresh, _ = build_mlp()
    fresh.fprop({"x": other.X, "y": other.Y})
    fresh.bprop()
    graph.fprop({x: other.X, y: other.Y})
    graph.bprop()
    for p, q in zip(graph.parameters, fresh.parameters):
        np.testing.assert_array_equal(p.grad, q.grad)


class SpyTanh(fg.Tanh):
    """A Tanh that counts its bprop calls (defined here, so it never joins all_box_classes)."""

    def __init__(self):
        self.calls = 0

    def bprop(self, inputs, h, grad_h):
        self.calls += 1
        return super().bprop(inputs, h, grad_h)


def test_bprop_skips_boxes_from_which_no_parameter_is_reachable(rng):
    data = Data(rng, c=3)
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(rng.standard_normal((3, 3)), "W"), fg.Parameter(np.zeros(3), "b")
    spy_input, spy_side, spy_used = SpyTanh(), SpyTanh(), SpyTanh()
    h0 = spy_input(x)  # between the data and the first Linear: leads to no parameter
    a = fg.Linear()(h0, W, b)
    loss = fg.SoftmaxCrossEntropy()(spy_used(a), y)
    side = spy_side(a)  # feeds a second output only
    graph = fg.Graph([loss, side])
    graph.fprop({x: data.X, y: data.Y})
    graph.bprop()
    assert (spy_input.calls, spy_side.calls, spy_used.calls) == (0, 0, 1)
    assert h0.grad is None and side.grad is None
    assert W.grad.shape == W.value.shape and np.any(W.grad)
    graph.bprop(wrt=[x])  # now the path down to x is needed
    assert (spy_input.calls, spy_side.calls, spy_used.calls) == (1, 0, 2)
    assert x.grad.shape == data.X.shape


def test_bprop_wrt_input_gives_d_loss_d_x(rng):
    graph, (x, y, *_) = build_mlp()
    data = Data(rng)
    feed = {x: data.X.copy(), y: data.Y}
    graph.fprop(feed)
    graph.bprop(wrt=[x])
    analytic = x.grad.copy()
    assert y.grad is None  # not asked for, and labels have no gradient
    numeric = numeric_grad(lambda: float(graph.fprop(feed)), feed[x])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
    graph.fprop(feed)
    graph.bprop(wrt=["x"])  # by name
    np.testing.assert_array_equal(x.grad, analytic)
    report = fg.check_graph(graph, feed, wrt=[x])
    assert report.ok and "x" in [c.name for c in report.parameters], str(report)


def test_multi_output_graph(rng):
    data = Data(rng, c=3)
    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(rng.standard_normal((3, 3)), "W"), fg.Parameter(rng.random(3), "b")
    a = fg.Linear()(x, W, b, name="a")
    h = fg.Tanh()(a, name="h")
    loss = fg.SoftmaxCrossEntropy()(a, y, name="loss")
    graph = fg.Graph([loss, h])
    values = graph.fprop({x: data.X, y: data.Y})
    assert isinstance(values, list) and len(values) == 2
    assert values[0] is loss.value and values[1] is h.value
    graph.bprop()  # the first output, a scalar
    grad_a = (softmax(a.value) - one_hot(data.Y, 3)) / data.n
    np.testing.assert_allclose(W.grad, grad_a.T @ data.X, rtol=1e-12, atol=1e-15)
    G = rng.standard_normal(h.value.shape)
    graph.bprop(output="h", grad_output=G)  # the second, non-scalar output
    np.testing.assert_allclose(W.grad, (G * (1 - h.value**2)).T @ data.X, rtol=1e-12)
    assert loss.grad is None  # not on the path from h
    graph.bprop(output=loss)
    np.testing.assert_allclose(W.grad, grad_a.T @ data.X, rtol=1e-12, atol=1e-15)


def test_explicit_grad_output_for_a_non_scalar_output(rng):
    x = fg.Input("x")
    W, b = fg.Parameter(rng.standard_normal((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    graph = fg.Graph(fg.Linear()(x, W, b))
    X = rng.standard_normal((5, 3))
    graph.fprop({x: X})
    G = rng.standard_normal((5, 2))
    graph.bprop(grad_output=G)
    np.testing.assert_allclose(W.grad, G.T @ X, rtol=1e-13)  # grad_W = grad_a h^T, summed
    np.testing.assert_allclose(b.grad, G.sum(axis=0), rtol=1e-13)
    with pytest.raises(fg.GraphError, match=r"grad_output has shape \(2, 5\).*\(5, 2\)"):
        graph.bprop(grad_output=G.T)


def test_parameter_the_output_does_not_depend_on_gets_zeros(rng):
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((2, 3)), "W"), fg.Parameter(np.zeros(2), "b")
    V = fg.Parameter(np.ones((2, 2)), "V")
    main = fg.L2Penalty()(fg.Linear()(x, W, b))
    graph = fg.Graph([main, fg.L1Penalty()(V)])
    graph.fprop({x: np.ones((1, 3))})
    graph.bprop()
    np.testing.assert_array_equal(V.grad, np.zeros((2, 2)))
    assert np.any(W.grad)


def test_float32_stays_float32_end_to_end(rng):
    x, y = fg.Input("x"), fg.Input("y")
    W1 = fg.Parameter(rng.standard_normal((4, 3)).astype(np.float32), "W1")
    b1 = fg.Parameter(np.zeros(4, np.float32), "b1")
    W2 = fg.Parameter(rng.standard_normal((3, 4)).astype(np.float32), "W2")
    b2 = fg.Parameter(np.zeros(3, np.float32), "b2")
    a2 = fg.Linear()(fg.Sigmoid()(fg.Linear()(x, W1, b1)), W2, b2)
    loss = fg.Add()(
        fg.CrossEntropy()(fg.Softmax()(a2), y),
        fg.Scale(0.01)(fg.L2Penalty()(W1, W2)),
        fg.Scale(0.02)(fg.L1Penalty()(W1)),
    )
    graph = fg.Graph([loss, a2])
    graph.fprop({x: rng.standard_normal((5, 3)).astype(np.float32), y: np.arange(5) % 3})
    graph.bprop()
    for n in graph.order:
        if n is not y:
            assert n.value.dtype == np.float32, f"{n.name} value is {n.value.dtype}"
            assert n.grad is None or n.grad.dtype == np.float32, f"{n.name} grad {n.grad.dtype}"
    graph.bprop(output=a2, grad_output=np.ones((5, 3)))  # a float64 output gradient
    assert all(p.grad.dtype == np.float32 for p in graph.parameters)


# -- bad input ------------------------------------------------------------------------------------


def test_mismatched_shapes_name_node_box_and_shapes():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((5, 2)), "W"), fg.Parameter(np.zeros(5), "b")
    graph = fg.Graph(fg.Linear()(x, W, b, name="a1"))
    with pytest.raises(fg.ShapeError) as info:
        graph.fprop({x: np.ones((4, 3))})
    msg = str(info.value)
    for part in ("'a1'", "Linear", "(4, 3)", "(5, 2)", "(5,)"):
        assert part in msg, f"{part} missing from: {msg}"


def test_a_single_example_gets_a_hint():
    x = fg.Input("x")
    W, b = fg.Parameter(np.ones((5, 2)), "W"), fg.Parameter(np.zeros(5), "b")
    graph = fg.Graph(fg.Linear()(x, W, b))
    with pytest.raises(fg.ShapeError, match=r"reshape\(1, -1\)"):
        graph.fprop({x: np.ones(2)})


def test_missing_and_unknown_feeds_are_named():
    graph, (x, y, *_) = build_mlp()
    with pytest.raises(fg.FeedError, match="no value fed for Input 'y'.*'x', 'y'"):
        graph.fprop({x: np.ones((2, 3))})
    with pytest.raises(fg.FeedError, match="'labels', which is not an Input"):
        graph.fprop({x: np.ones((2, 3)), y: np.zeros(2, int), "labels": np.zeros(2)})
    stranger = fg.Input("x")  # same name, another graph's node
    with pytest.raises(fg.FeedError, match="another node named 'x'"):
        graph.fprop({stranger: np.ones((2, 3)), y: np.zeros(2, int)})
    with pytest.raises(fg.FeedError, match="not an Input of this graph"):
        graph.fprop({x: np.ones((2, 3)), y: np.zeros(2, int), fg.Input("z"): 1.0})
    with pytest.raises(fg.FeedError, match="feed must map"):
        graph.fprop([np.ones((2, 3))])


@pytest.mark.parametrize("box_cls", [fg.SoftmaxCrossEntropy, fg.CrossEntropy])
def test_bad_labels(box_cls):
    x, y = fg.Input("x"), fg.Input("y")
    loss = box_cls()(fg.Softmax()(x) if box_cls is fg.CrossEntropy else x, y, name="loss")
    graph = fg.Graph(loss)
    X = np.ones((3, 4))
    assert np.isfinite(graph.fprop({x: X, y: np.array([0, 3, 1])}))
    with pytest.raises(fg.LabelError, match=r"'loss'.*integers.*float64.*astype\(int\)"):
        graph.fprop({x: X, y: np.array([0.0, 1.0, 2.0])})
    with pytest.raises(fg.LabelError, match=r"\[0, 4\).*found \[4\]"):
        graph.fprop({x: X, y: np.array([0, 4, 1])})
    with pytest.raises(fg.LabelError, match=r"\[0, 4\).*found \[-1\]"):
        graph.fprop({x: X, y: np.array([0, -1, 1])})
    with pytest.raises(fg.ShapeError, match=r"shape \(3,\)"):
        graph.fprop({x: X, y: np.array([0, 1])})


def test_non_scalar_output_without_grad_output():
    x = fg.Input("x")
    graph = fg.Graph(fg.Tanh()(x, name="h"))
    graph.fprop({x: np.ones((2, 3))})
    with pytest.raises(fg.GraphError, match=r"'h' \(Tanh\) has shape \(2, 3\).*grad_output"):
        graph.bprop()


def test_bprop_before_fprop():
    graph, _ = build_mlp()
    with pytest.raises(fg.GraphError, match="bprop before fprop"):
        graph.bprop()


def test_wrong_number_of_children():
    x = fg.Input("x")
    W = fg.Parameter(np.ones((2, 2)), "W")
    with pytest.raises(fg.GraphError, match=r"Linear takes 3 children \(h, W, b\).*called on 2"):
        fg.Linear()(x, W)
    with pytest.raises(fg.GraphError, match="Tanh takes 1 children.*called on 2"):
        fg.Tanh()(x, x)
    with pytest.raises(fg.GraphError, match="Add takes at least 1 children, got 0"):
        fg.Add()()
    with pytest.raises(fg.GraphError, match=r"must be a Node.*forget to call it"):
        fg.Tanh()(fg.Tanh())
    with pytest.raises(fg.GraphError, match=r"child 1 \(W\) must be a Node.*Parameter"):
        fg.Linear()(x, np.ones((2, 2)), W)


def test_duplicate_names_and_bad_graphs():
    x = fg.Input("x")
    with pytest.raises(fg.GraphError, match="two nodes are named 'h'.*Tanh.*Sigmoid"):
        fg.Graph(fg.Add()(fg.Tanh()(x, name="h"), fg.Sigmoid()(x, name="h")))
    with pytest.raises(fg.GraphError, match="two nodes are named 'x'"):
        fg.Graph(fg.Add()(x, fg.Input("x")))
    with pytest.raises(fg.GraphError, match="non-empty string"):
        fg.Tanh()(x, name="")
    with pytest.raises(fg.GraphError, match="at least one output"):
        fg.Graph([])
    with pytest.raises(fg.GraphError, match="must be Nodes"):
        fg.Graph([np.ones(2)])
    with pytest.raises(fg.GraphError, match="floating-point.*int64"):
        fg.Parameter(np.arange(3), "W")
    a = fg.Tanh()(x)
    b = fg.Tanh()(a)
    a.children = (b,)  # forced: nodes never form a cycle when built by calling boxes
    with pytest.raises(fg.GraphError, match="cycle"):
        fg.Graph(b)


def test_a_failing_box_is_named_with_its_shapes():
    class Broken(fg.Box):
        def fprop(self, x):
            return x

        def bprop(self, inputs, y, grad_y):
            raise RuntimeError("bprop exploded")

    x, W = fg.Input("x"), fg.Parameter(np.ones(3), "W")
    graph = fg.Graph(fg.L2Penalty()(Broken()(fg.Add()(x, W), name="broken")))
    graph.fprop({x: np.ones(3)})
    with pytest.raises(fg.BoxError, match=r"bprop of node 'broken' \(Broken\).*x=\(3,\).*exploded"):
        graph.bprop()


def test_check_finite_names_the_first_box_with_nan_or_inf():
    x, y = fg.Input("x"), fg.Input("y")
    f = fg.Softmax()(fg.Scale(1e4)(x), name="f")
    loss = fg.Add()(
        fg.CrossEntropy()(f, y, name="nll"), fg.L2Penalty()(fg.Scale(2.0)(x)), name="total"
    )
    X = np.array([[1.0, 0.0], [0.0, 1.0]])  # softmax gives an exact 0 at the labels
    Y = np.array([1, 0])
    silent = fg.Graph(loss)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0): inf, not an error by default
        assert not np.all(np.isfinite(silent.fprop({x: X, y: Y})))
    checked = fg.Graph(loss, check_finite=True)
    with warnings.catch_warnings(), pytest.raises(fg.NonFiniteError) as info:
        warnings.simplefilter("ignore", RuntimeWarning)
        checked.fprop({x: X, y: Y})
    msg = str(info.value)
    assert "'nll' (CrossEntropy)" in msg and "inputs are all finite" in msg, msg
    assert "'f'" not in msg and "total" not in msg
    # a NaN in the data: the first box is named, and so is the cause
    with pytest.raises(fg.NonFiniteError, match=r"'scale1' \(Scale\).*inputs is not finite"):
        checked.fprop({x: np.array([[np.nan, 0.0], [0.0, 1.0]]), y: Y})
    # opt-in per call too
    with pytest.raises(fg.NonFiniteError, match="'scale1'"):
        silent.fprop({x: np.array([[np.inf, 0.0], [0.0, 1.0]]), y: Y}, check_finite=True)


def test_check_finite_in_bprop():
    x = fg.Input("x")
    W = fg.Parameter(np.array([0.0, 1.0]), "W")

    class Log(fg.Box):
        def fprop(self, x):
            return np.log(x)

        def bprop(self, inputs, y, grad_y):
            return (grad_y / inputs[0],)

    loss = fg.L1Penalty()(Log()(fg.Add()(x, W), name="log"))
    graph = fg.Graph(loss, check_finite=True)
    graph.fprop({x: np.array([1.0, 1.0])})
    graph.bprop()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        graph.fprop({x: np.array([0.0, 1.0])}, check_finite=False)
        with pytest.raises(fg.NonFiniteError, match="gradient from log"):
            graph.bprop()


# -- pinned by mutation testing (benchmarks/mutation.py) ---------------------------------------
def test_node_repr_names_the_box_or_the_leaf_kind():
    x = fg.Input("x")
    h = fg.Tanh()(x, name="h")
    assert repr(h) == "<Tanh node 'h'>" and repr(x) == "<Input node 'x'>"
    fg.Graph(h).fprop({x: np.zeros((2, 3))})
    assert repr(h) == "<Tanh node 'h', shape=(2, 3)>"


def test_the_other_graph_hint_only_for_a_node_of_the_same_name():
    x, other_x, z = fg.Input("x"), fg.Input("x"), fg.Input("z")
    graph = fg.Graph(fg.Add()(fg.Tanh()(x), z))
    with pytest.raises(fg.FeedError, match="another node named 'x'"):
        graph.fprop({other_x: np.ones(2), z: np.ones(2)})
    with pytest.raises(fg.FeedError, match="no value fed for Input 'x'") as info:
        graph.fprop({z: np.ones(2)})  # z is this graph's own node, of another name: no hint
    assert "another node" not in str(info.value)
