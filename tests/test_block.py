"""Blocks: a Graph used as a box, applied several times with different Parameters, each use
with its own gradients; several outputs; the checker, forward mode and render treat it as a box."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
from test_box_library import check_jvp

import flowgraph as fg

render_mod = importlib.import_module("flowgraph.render")


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


def test_bprop_after_another_use_recomputes_the_inner_graph(rng):
    block = residual_block()
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    W, b = rng.standard_normal((3, 3)), rng.standard_normal(3)
    g = rng.standard_normal((4, 3))
    out_A = block.fprop(A, W, b)
    fresh = [np.array(v) for v in block.bprop([A, W, b], out_A, g)]
    out_B = block.fprop(B, W, b)  # the inner nodes now hold B's values
    again = block.bprop([A, W, b], out_A, g)
    for f, a in zip(fresh, again):
        np.testing.assert_allclose(a, f, rtol=1e-15)
    assert not np.allclose(block.bprop([B, W, b], out_B, g)[1], fresh[1])


def test_a_block_passes_the_checker_like_any_box():
    report = fg.check_box(residual_block())
    assert report.ok and report.status == "pass", str(report)
    assert [c.name for c in report.inputs] == ["h", "W", "b"]


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

    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Composing graphs", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert (tmp_path / "residual.svg").stat().st_size > 0
    assert [p.name for p in scope["graph"].parameters] == [
        "W1", "b1", "W2", "b2", "W3", "b3", "V"
    ]  # fmt: skip
