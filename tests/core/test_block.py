"""Blocks: a Graph used as a box, applied several times with different Parameters, each use
with its own gradients; several outputs; the checker, forward mode and render treat it as a box."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from helper_boxes import check_jvp

import flowgraph as fg
from flowgraph.machinery.uses import Uses

render_mod = importlib.import_module("flowgraph.render")


def count_inner_fprops(block, box_type=fg.Tanh):
    """A list that grows by one at each fprop of the block's inner ``box_type`` box: each
    computation of the inner graph."""
    node = next(n for n in block.graph.order if isinstance(n.box, box_type))
    calls, fprop = [], node.box.fprop

    def counted(*inputs):
        calls.append(1)
        return fprop(*inputs)

    node.box.fprop = counted
    return calls


def recomputing(monkeypatch):
    """Blocks as they were: no use's inner values kept, so bprop computes them again."""
    monkeypatch.setattr(Uses, "keep", lambda self, *args: None)


def residual_block():
    """y = h + tanh(h W^T + b): the unit of a residual MLP, its weights passed in."""
    h, W, b = fg.Input("h"), fg.Input("W"), fg.Input("b")
    y = h + fg.tanh(h @ W.T + b)
    return fg.Block(fg.Graph(y), inputs=[h, W, b], name="residual")


def params(rng, k, width=3):
    W = fg.Parameter(rng.normal(0, 0.7, (width, width)), f"W{k}")
    b = fg.Parameter(rng.normal(0, 0.3, width), f"b{k}")
    return W, b


def residual_mlp(rng, use_block: bool):
    """x -> three residual units -> SoftmaxCrossEntropy, with one Block or written inline."""
    rng = np.random.default_rng(7)
    x, y = fg.Input("x"), fg.Input("y")
    block = residual_block()
    h = x
    ps = [params(rng, k) for k in (1, 2, 3)]
    for W, b in ps:
        h = block(h, W, b) if use_block else h + fg.tanh(h @ W.T + b)
    V = fg.Parameter(rng.normal(0, 0.7, (2, 3)), "V")
    loss = fg.SoftmaxCrossEntropy()(h @ V.T, y)
    return fg.Graph(loss), x, y


def feed_for(x, y, rng):
    return {x: rng.standard_normal((5, 3)), y: rng.integers(0, 2, size=5)}


def test_one_block_applied_three_times_gives_each_use_its_own_gradients(rng):
    blocked, x, y = residual_mlp(rng, use_block=True)
    inline, x2, y2 = residual_mlp(rng, use_block=False)
    feed = feed_for(x, y, rng)
    loss = blocked.fprop(feed)
    loss2 = inline.fprop({x2: feed[x], y2: feed[y]})
    assert float(loss) == pytest.approx(float(loss2), rel=1e-14)
    blocked.bprop(wrt=[x])
    inline.bprop(wrt=[x2])
    assert [p.name for p in blocked.parameters] == ["W1", "b1", "W2", "b2", "W3", "b3", "V"]
    for p, q in zip(blocked.parameters, inline.parameters):
        np.testing.assert_allclose(p.grad, q.grad, rtol=1e-12, err_msg=p.name)
    np.testing.assert_allclose(x.grad, x2.grad, rtol=1e-12)
    grads = [blocked[f"W{k}"].grad for k in (1, 2, 3)]
    assert not np.allclose(grads[0], grads[1]) and not np.allclose(grads[1], grads[2])
    report = fg.check_graph(blocked, feed, wrt=[x])
    assert report.ok, str(report)


def test_bprop_after_another_use_puts_back_its_own_values(rng):
    block = residual_block()
    calls = count_inner_fprops(block)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    g = rng.standard_normal((4, 3))
    fresh = {}
    for name, X in (("A", A), ("B", B)):  # each use alone, on a block of its own
        alone = residual_block()
        fresh[name] = alone.bprop([X, W, b], alone.fprop(X, W, b), g)
    out_A = block.fprop(A, W, b)
    out_B = block.fprop(B, W, b)  # the inner nodes now hold B's values
    assert len(calls) == 2
    for name, X, out in (("A", A, out_A), ("B", B, out_B), ("B", B, out_B), ("A", A, out_A)):
        got = block.bprop([X, W, b], out, g)
        for f, a in zip(fresh[name], got):
            np.testing.assert_array_equal(a, f)  # the same floats: the same values, put back
    assert len(calls) == 2  # and never computed again
    assert not np.allclose(fresh["A"][1], fresh["B"][1])


def test_a_block_passes_the_checker_like_any_box():
    report = fg.check_box(residual_block())
    assert report.ok and report.status == "pass", str(report)
    assert [c.name for c in report.inputs] == ["h", "W", "b"]
    report = fg.check_box(fg.Block.example())
    assert report.ok and report.status == "pass", str(report)


def test_bprop_needed_skips_inputs_that_need_no_gradient(rng):
    block = residual_block()
    xs = [rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)]
    out = block.fprop(*xs)
    g = rng.standard_normal((4, 3))
    full = block.bprop(xs, out, g)
    some = block.bprop_needed(xs, out, g, [False, True, True])
    assert some[0] is None
    np.testing.assert_allclose(some[1], full[1], rtol=1e-15)
    np.testing.assert_allclose(some[2], full[2], rtol=1e-15)


def two_headed():
    """One trunk, two heads: (h W^T, softplus(h W^T) V^T)."""
    h, W, V = fg.Input("h"), fg.Input("W"), fg.Input("V")
    z = h @ W.T
    head1, head2 = fg.tanh(z), fg.softplus(z) @ V.T
    return fg.Block(fg.Graph([head1, head2]), [h, W, V], name="heads")


def test_a_block_with_two_outputs_gives_two_nodes_and_sums_both_gradients(rng):
    block = two_headed()
    assert block.n_outputs == 2 and block.output(1).root is block
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(rng.standard_normal((3, 4)), "W")
    V = fg.Parameter(rng.standard_normal((2, 3)), "V")
    y1, y2 = block(x, W, V, name="h")
    assert (y1.name, y2.name) == ("h_tanh1", "h_matmul2")
    loss = fg.squared_error(y2, t) + y1.mean()
    graph = fg.Graph(loss)
    feed = {x: rng.standard_normal((5, 4)), t: rng.standard_normal((5, 2))}
    graph.fprop(feed)
    graph.bprop()
    # the same network inline
    Z = feed[x] @ W.value.T
    Sp = np.log1p(np.exp(Z))
    E = Sp @ V.value.T - feed[t]
    grad_Z = (1 - np.tanh(Z) ** 2) / np.tanh(Z).size + (E / 5 @ V.value) / (1 + np.exp(-Z))
    np.testing.assert_allclose(W.grad, grad_Z.T @ feed[x], rtol=1e-12)
    assert fg.check_graph(graph, feed, wrt=[x]).ok
    for part in (block.output(0), block.output(1)):
        assert fg.check_box(part, [feed[x], W.value, V.value]).ok


def test_blocks_nest(rng):
    inner = residual_block()
    h, W1, b1, W2, b2 = (fg.Input(n) for n in ("h", "W1", "b1", "W2", "b2"))
    outer = fg.Block(fg.Graph(inner(inner(h, W1, b1), W2, b2)), [h, W1, b1, W2, b2], name="two")
    x = fg.Input("x")
    ps = [*params(rng, 1), *params(rng, 2)]
    graph = fg.Graph(outer(x, *ps).sum())
    assert fg.check_graph(graph, {x: rng.standard_normal((2, 3))}, wrt=[x]).ok


@pytest.mark.parametrize("seed", [0, 1])
def test_forward_mode_rules_through_the_inner_graph(seed):
    rng = np.random.default_rng(seed)
    block = fg.Block.example()
    assert block.has_jvp() and fg.Block.has_jvp()
    check_jvp(block, block.sample_inputs(rng), rng)
    heads = two_headed()
    assert heads.output(1).has_jvp()  # Softplus, MatMul, Transpose
    for part in (heads.output(0), heads.output(1)):
        inputs = [rng.standard_normal((5, 4)), rng.standard_normal((3, 4)), rng.random((2, 3))]
        if part.has_jvp():  # Tanh's rules come with the old boxes' forward mode
            check_jvp(part, inputs, rng)


def test_a_block_whose_boxes_lack_forward_mode_says_so(rng):
    class Cube(fg.Box):
        """fprop: y = x^3;  bprop: grad_x = 3 x^2 grad_y"""

        def fprop(self, x):
            return x**3

        def bprop(self, inputs, y, grad_y):
            return (3 * inputs[0] ** 2 * grad_y,)

    h = fg.Input("h")
    block = fg.Block(fg.Graph(Cube()(h)), [h], name="cube")
    assert not block.has_jvp()
    X = rng.standard_normal(3)
    with pytest.raises(NotImplementedError, match=r"cube.*Cube.*forward-mode"):
        block.fprop_jvp([X], [np.ones(3)], block.fprop(X))


def test_block_construction_errors_name_the_problem(rng):
    h, W = fg.Input("h"), fg.Input("W")
    graph = fg.Graph(h @ W.T)
    with pytest.raises(fg.GraphError, match=r"missing \['W'\]"):
        fg.Block(graph, [h])
    with pytest.raises(fg.GraphError, match=r"inputs\[1\].*must be an Input of the block's graph"):
        fg.Block(graph, [h, fg.Input("other")])
    P = fg.Parameter(np.ones((2, 2)), "P")
    with pytest.raises(fg.GraphError, match=r"Parameters \['P'\].*make them Inputs"):
        fg.Block(fg.Graph(h @ P), [h])
    with pytest.raises(fg.GraphError, match=r"Block takes 2 children \(h, W\) but was called on 1"):
        fg.Block(graph, [h, W])(fg.Input("x"))
    with pytest.raises(NotImplementedError, match="holds a graph"):
        fg.Block(graph, [h, W]).config()


def test_render_draws_each_use_as_a_cluster_named_after_the_block(rng):
    graph, x, y = residual_mlp(rng, use_block=True)
    graph.fprop(feed_for(x, y, rng))
    src = render_mod.to_dot(graph).source
    for k in (1, 2, 3):
        assert f"subgraph cluster_block{k}" in src
        assert f"residual · use {k} of 3" in src
    assert "Transpose → MatMul → Add → Tanh → Add" in src  # what the block computes inside
    assert "subgraph cluster_block4" not in src
    svg = render_mod.to_svg(graph)
    assert svg is not None and "residual · use 3 of 3" in svg


def test_the_readme_example_of_composing_graphs_runs(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Composing graphs", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "residual.svg").stat().st_size > 0
    assert [p.name for p in scope["graph"].parameters] == [
        "W1", "b1", "W2", "b2", "W3", "b3", "V"
    ]  # fmt: skip


# -- each use keeps its inner values: one inner forward pass per use, none again in bprop --------
def the_block(graph):
    return next(n.box for n in graph.order if isinstance(n.box, fg.Block)).root


def test_one_inner_forward_pass_per_use_and_none_in_bprop(rng, monkeypatch):
    graph, x, y = residual_mlp(rng, use_block=True)
    block = the_block(graph)
    calls = count_inner_fprops(block)
    feed = feed_for(x, y, rng)
    graph.fprop(feed)
    assert len(calls) == 3  # one per use
    graph.bprop(wrt=[x])
    assert len(calls) == 3  # bprop computed nothing again
    grads = [np.array(p.grad) for p in graph.parameters] + [np.array(x.grad)]
    graph.bprop(wrt=[x])  # twice: the same values, the same gradients
    assert len(calls) == 3
    for p, g in zip([*graph.parameters, x], grads):
        np.testing.assert_array_equal(p.grad, g, err_msg=p.name)
    recomputing(monkeypatch)  # as before: the same floats, for two more inner passes
    graph.fprop(feed)
    graph.bprop(wrt=[x])
    assert len(calls) == 3 + 3 + 2  # (uses 2 and 1 computed again; use 3 still held)
    for p, g in zip([*graph.parameters, x], grads):
        np.testing.assert_array_equal(p.grad, g, err_msg=p.name)


def test_training_keeps_one_entry_per_use_and_no_more_memory(rng):
    import gc
    import tracemalloc

    graph, x, y = residual_mlp(rng, use_block=True)
    block = the_block(graph)
    calls = count_inner_fprops(block)
    sgd = fg.SGD(graph.parameters, lr=0.01)
    feeds = [{x: rng.standard_normal((64, 3)), y: rng.integers(0, 2, 64)} for _ in range(4)]

    def step(i):
        graph.fprop(feeds[i % 4])
        graph.bprop()
        sgd.step()

    tracemalloc.start()
    try:
        for i in range(20):
            step(i)
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        for i in range(200):
            step(i)
            assert len(block._uses) == 3, i  # the entries of this step's uses, no older ones
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    assert len(calls) == 3 * 220
    assert grown < 20_000, grown  # kept entries of every step would be ~3 MB
    for n in graph.order + block.graph.order:  # the graphs let go of their values (the inner
        n.value = None  # one holds the use bprop put back last): the entries go with them
    assert len(block._uses) == 0 and not block._uses.by_output


def test_a_block_with_two_outputs_computes_its_graph_once_per_use(rng, monkeypatch):
    block = two_headed()
    calls = count_inner_fprops(block)
    x, t = fg.Input("x"), fg.Input("t")
    W1, W2 = (fg.Parameter(rng.standard_normal((3, 4)), f"W{k}") for k in (1, 2))
    V1, V2 = (fg.Parameter(rng.standard_normal((2, 3)), f"V{k}") for k in (1, 2))
    a1, a2 = block(x, W1, V1)
    b1, b2 = block(x, W2, V2)
    loss = a1.mean() + fg.squared_error(a2 + b2, t) + (b1 * b1).mean()
    graph = fg.Graph(loss)
    feed = {x: rng.standard_normal((5, 4)), t: rng.standard_normal((5, 2))}
    graph.fprop(feed)
    assert len(calls) == 2  # two uses, two outputs each: the inner graph twice
    graph.bprop(wrt=[x])
    graph.bprop(wrt=[x])
    assert len(calls) == 2
    grads = [np.array(p.grad) for p in graph.parameters] + [np.array(x.grad)]
    assert fg.check_graph(graph, feed, wrt=[x]).ok
    recomputing(monkeypatch)  # as before: each output node computes the graph, bprop again
    del calls[:]
    graph.fprop(feed)
    graph.bprop(wrt=[x])
    assert len(calls) > 4
    for p, g in zip([*graph.parameters, x], grads):
        np.testing.assert_array_equal(p.grad, g, err_msg=p.name)


def test_an_output_takes_no_values_computed_before_its_inputs_changed_in_place(rng):
    """The outputs of one use take the computation of another only at the same contents:
    SGD updates a Parameter in place, between graphs that use different outputs."""
    block = two_headed()
    calls = count_inner_fprops(block)
    x = fg.Input("x")
    W = fg.Parameter(rng.standard_normal((3, 4)), "W")
    V = fg.Parameter(rng.standard_normal((2, 3)), "V")
    y1, y2 = block(x, W, V)
    both = fg.Graph(y1.mean() + y2.mean())  # fprop: y1 first, then y2
    second = fg.Graph(y2.sum())
    X = rng.standard_normal((5, 4))
    second.fprop({x: X})  # output 1 computes the use; output 0 might take it...
    W.value += 0.5  # ...but W changed since
    both.fprop({x: X})  # (the same X array, the same W array)
    np.testing.assert_allclose(y1.value, np.tanh(X @ W.value.T), rtol=1e-15)
    assert len(calls) == 2  # output 0 computed it again, output 1 took that
    both.bprop()
    assert len(calls) == 2
    second.fprop({x: X})
    both.fprop({x: X})
    assert len(calls) == 4  # unchanged contents: output 0 takes second's, output 1 its own
    assert fg.check_graph(both, {x: X}).ok


def test_a_block_whose_output_is_a_number_computes_again_in_bprop(rng):
    class Total(fg.Box):
        """fprop: s = sum_ij x_ij (a NumPy scalar, which no weak reference can key);
        bprop: grad_x = grad_s everywhere"""

        def fprop(self, x):
            return np.float64(x.sum())

        def bprop(self, inputs, s, grad_s):
            return (np.full(np.shape(inputs[0]), grad_s),)

    h, W = fg.Input("h"), fg.Input("W")
    block = fg.Block(fg.Graph(Total()(fg.tanh(h @ W.T))), [h, W], name="total")
    calls = count_inner_fprops(block)
    x = fg.Input("x")
    W1, W2 = (fg.Parameter(rng.standard_normal((3, 3)), f"W{k}") for k in (1, 2))
    graph = fg.Graph(block(x, W1) * block(x, W2))
    feed = {x: rng.standard_normal((4, 3))}
    graph.fprop(feed)
    graph.bprop(wrt=[x])
    assert len(block._uses) == 0 and len(calls) == 3  # nothing kept: one use computed again
    assert fg.check_graph(graph, feed, wrt=[x]).ok


def test_putting_values_back_keeps_the_stale_state_check(rng):
    """bprop puts a use's values back with the stamp of the fprop that computed them; another
    graph over the same inner nodes then holds values of another fprop, and says so."""
    h, W, b = fg.Input("h"), fg.Input("W"), fg.Input("b")
    y = h + fg.tanh(h @ W.T + b)
    block = fg.Block(fg.Graph(y), [h, W, b], name="residual")
    other = fg.Graph((y * y).sum())  # the same inner nodes, in a graph of its own
    graph, x, t = residual_chain(block, rng)
    feed = feed_for(x, t, rng)
    graph.fprop(feed)
    graph.bprop(wrt=[x])
    grads = [np.array(p.grad) for p in graph.parameters]
    other.fprop({h: rng.standard_normal((5, 3)), W: np.eye(3), b: np.zeros(3)})
    with pytest.raises(fg.GraphError, match="no successful fprop"):
        block.graph.fprop_state()  # (its nodes hold other's values now)
    graph.bprop(wrt=[x])  # the inner nodes hold other's values: the uses' are put back
    for p, g in zip(graph.parameters, grads):
        np.testing.assert_array_equal(p.grad, g, err_msg=p.name)
    with pytest.raises(fg.GraphError, match="holds a value from another fprop"):
        other.bprop()
    state = block.graph.fprop_state()
    with pytest.raises(fg.GraphError, match="not the state of an fprop"):
        block.graph.restore_fprop_state(state[0], state[1][:-1])


def residual_chain(block, rng):
    x, y = fg.Input("x"), fg.Input("y")
    h = x
    for k in (1, 2, 3):
        h = block(h, *params(rng, k))
    V = fg.Parameter(rng.normal(0, 0.7, (2, 3)), "V")
    return fg.Graph(fg.SoftmaxCrossEntropy()(h @ V.T, y)), x, y


def test_hessian_vector_products_through_a_shared_block(rng):
    from flowgraph import analysis as A

    blocked, x, y = residual_mlp(rng, use_block=True)
    inline, x2, y2 = residual_mlp(rng, use_block=False)
    calls = count_inner_fprops(the_block(blocked))
    feed = feed_for(x, y, rng)
    v = rng.standard_normal(sum(p.value.size for p in blocked.parameters))
    fprops = []
    fprop = blocked.fprop
    blocked.fprop = lambda *a, **k: fprops.append(1) or fprop(*a, **k)
    Hv = A.hvp(blocked, feed=feed, v=v)
    assert len(calls) == 3 * len(fprops)  # fprop_jvp and bprop_jvp compute nothing again
    Hv_inline = A.hvp(inline, feed={x2: feed[x], y2: feed[y]}, v=v)
    np.testing.assert_allclose(Hv, Hv_inline, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(Hv, A.hvp(blocked, feed=feed, v=v, method="fd"), rtol=1e-5)


def test_a_copied_block_starts_with_no_values_kept(rng):
    import copy
    import pickle

    graph, x, y = residual_mlp(rng, use_block=True)
    feed = feed_for(x, y, rng)
    graph.fprop(feed)
    graph.bprop()
    for clone in (copy.deepcopy(graph), pickle.loads(pickle.dumps(graph))):
        block = the_block(clone)
        assert len(block._uses) == 0 and block.output(0)._uses is block._uses
        x_c = clone["x"]
        clone.fprop({x_c: feed[x], clone["y"]: feed[y]})
        clone.bprop()
        assert len(block._uses) == 3
        for p, q in zip(clone.parameters, graph.parameters):
            np.testing.assert_array_equal(p.grad, q.grad)
