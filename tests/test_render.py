"""Rendering flow graphs with Graphviz: DOT text, SVG, layers, check colours, missing `dot`.

Graphviz is installed here and in CI (`apt-get install graphviz`), so nothing is skipped.
To rewrite the golden file after a deliberate change of the picture:

    python tests/test_render.py --update-golden
"""

from __future__ import annotations

import importlib
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import flowgraph as fg

render_mod = importlib.import_module("flowgraph.render")  # the module, not fg.render the function
to_dot, render, to_svg = render_mod.to_dot, render_mod.render, render_mod.to_svg
GraphvizNotFoundError = render_mod.GraphvizNotFoundError
STYLE = render_mod.STYLE

GOLDEN = Path(__file__).parent / "golden" / "small_mlp.dot"
SVG = "{http://www.w3.org/2000/svg}"


# -- graphs ---------------------------------------------------------------------------------


def small_mlp():
    """2-2-2 tanh network with fixed, exactly representable numbers, fprop and bprop done."""
    x, y = fg.Input("x"), fg.Input("y")
    W1 = fg.Parameter([[0.5, -0.25], [1.0, 0.75]], "W1")
    b1 = fg.Parameter([0.0, 0.5], "b1")
    W2 = fg.Parameter([[1.5, -1.0], [-0.5, 0.25]], "W2")
    b2 = fg.Parameter([0.25, 0.0], "b2")
    h1 = fg.Tanh()(fg.Linear()(x, W1, b1, name="a1"), name="h1")
    a2 = fg.Linear()(h1, W2, b2, name="a2")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(a2, y, name="nll"),
        fg.Scale(0.5)(fg.L2Penalty()(W1, W2, name="omega"), name="lambda_omega"),
        name="loss",
    )
    graph = fg.Graph(loss)
    X = np.array([[1.0, -2.0], [0.5, 1.0], [-1.5, 0.25], [2.0, 0.0]])
    graph.fprop({x: X, y: np.array([0, 1, 1, 0])})
    graph.bprop()
    return graph


def hand_mlp(n_layers, *, width=3, n=4, seed=0, activation=fg.Tanh, bad_layer=None):
    """An MLP built by hand: n_layers Linear boxes (the last without activation), an L2
    penalty on the weights, fprop and bprop done."""
    rng = np.random.default_rng(seed)
    sizes = [2] + [width] * (n_layers - 1) + [3]
    x, y = fg.Input("x"), fg.Input("y")
    h, weights = x, []
    for k in range(1, len(sizes)):
        W = fg.Parameter(0.5 * rng.standard_normal((sizes[k], sizes[k - 1])), f"W{k}")
        b = fg.Parameter(np.zeros(sizes[k]), f"b{k}")
        weights.append(W)
        h = fg.Linear()(h, W, b, name=f"a{k}")
        if k < len(sizes) - 1:
            act = BadTanh() if k == bad_layer else activation()
            h = act(h, name=f"h{k}")
    loss = fg.Add()(
        fg.SoftmaxCrossEntropy()(h, y), fg.Scale(1e-3)(fg.L2Penalty()(*weights)), name="loss"
    )
    graph = fg.Graph(loss)
    feed = {x: rng.standard_normal((n, 2)), y: np.arange(n) % 3}
    graph.fprop(feed)
    graph.bprop()
    return graph, feed


class BadTanh(fg.Tanh):
    """Tanh with a deliberately wrong bprop: (1 - h) instead of (1 - h^2)."""

    def bprop(self, inputs, output, grad_h):
        return (grad_h * (1 - output),)


# -- helpers reading DOT and SVG ---------------------------------------------------------------


def svg_nodes(svg: str) -> dict[str, ET.Element]:
    """Graphviz node id -> its <g class="node"> element."""
    root = ET.fromstring(svg)
    return {g.find(f"{SVG}title").text: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def svg_text(g: ET.Element) -> str:
    return " ".join(t.text or "" for t in g.iter(f"{SVG}text"))


def svg_paint(g: ET.Element) -> tuple[set[str], set[str]]:
    """Fill and stroke colours of a node's outline shapes."""
    fills, strokes = set(), set()
    for el in g.iter():
        if el.tag in (f"{SVG}polygon", f"{SVG}path", f"{SVG}ellipse"):
            if el.get("fill", "none") != "none":
                fills.add(el.get("fill").lower())
            strokes.add(el.get("stroke", "none").lower())
    return fills, strokes


def dot_clusters(source: str) -> dict[str, list[str]]:
    """Cluster name -> the node ids declared inside it, read from DOT text."""
    clusters: dict[str, list[str]] = {}
    current = None
    for line in source.splitlines():
        s = line.strip()
        m = re.match(r"subgraph (cluster\w+) \{", s)
        if m:
            current = m.group(1)
            clusters[current] = []
        elif s == "}":
            current = None
        elif current and re.match(r"n_\w+ \[", s):
            clusters[current].append(s.split()[0])
    return clusters


def nid(name: str) -> str:
    return render_mod._node_id(name)


# -- the tests ------------------------------------------------------------------------------


def test_svg_has_one_node_per_graph_node_with_labels():
    graph = small_mlp()
    svg = to_svg(graph)
    nodes = svg_nodes(svg)  # parses as XML
    assert sorted(nodes) == sorted(nid(n.name) for n in graph.order)
    assert len(nodes) == len(graph.order) == 13
    # a box shows its type and name; a parameter its name and shape; an input its name
    assert "Linear" in svg_text(nodes[nid("a1")]) and "a1" in svg_text(nodes[nid("a1")])
    assert "Tanh" in svg_text(nodes[nid("h1")]) and "h1" in svg_text(nodes[nid("h1")])
    assert "L2Penalty" in svg_text(nodes[nid("omega")])
    assert svg_text(nodes[nid("W1")]).split() == ["W1", "2×2"]
    assert svg_text(nodes[nid("b2")]).split() == ["b2", "2"]
    assert svg_text(nodes[nid("x")]).split() == ["x", "4×2"]
    # edges carry the shapes flowing along them
    edges = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "edge"]
    assert len(edges) == sum(len(n.children) for n in graph.order)
    titles = {g.find(f"{SVG}title").text: svg_text(g) for g in edges}
    assert titles[f"{nid('a1')}->{nid('h1')}"] == "4×2"
    assert titles[f"{nid('nll')}->{nid('loss')}"] == "scalar"


def test_dot_text_matches_golden_and_is_deterministic():
    source = to_dot(small_mlp(), values=True, grads=True, order=True).source
    assert source == to_dot(small_mlp(), values=True, grads=True, order=True).source
    assert "0x" not in source  # no memory addresses
    expected = GOLDEN.read_text(encoding="utf-8")
    assert source == expected, (
        "the DOT text changed; if on purpose: python tests/test_render.py --update-golden"
    )


def test_values_and_grads_summaries():
    graph = small_mlp()
    source = to_dot(graph, values=True, grads=True).source
    label = _label(source, "h1")
    h1 = graph["h1"].value
    # a 4x2 array: its shape, mean, std, min and max, each to 3 significant digits
    for stat in (h1.mean(), h1.std(), h1.min(), h1.max()):
        assert f">{stat:.3g}<" in label
    assert "4×2" in label and "mean" in label and "grad" in label
    # tiny arrays show their numbers: the scalar loss to 5 digits, the 2x2 weight entry by entry
    loss = _label(source, "loss")
    assert f"{float(graph['loss'].value):.5g}" in loss
    W2 = _label(source, "W2")
    for v in (1.5, -1.0, -0.5, 0.25):
        assert f">{v:.3g}<" in W2
    for v in graph["W2"].grad.ravel():
        assert f">{v:.3g}<" in W2
    # the integer labels have no gradient
    assert "—" in _label(source, "y")
    # a node not computed yet, and arrays that are not real numbers, still draw
    z = fg.Input("z")
    other = fg.Graph(fg.Identity()(z, name="same"))
    assert "—" in _label(to_dot(other, values=True).source, "same")
    z.value = np.array(["a", "b"])
    assert "&lt;U1" in _label(to_dot(other, values=True).source, "z")
    # without values/grads no statistics appear
    plain = to_dot(graph).source
    assert "mean" not in plain and "grad" not in plain


def _label(source: str, name: str) -> str:
    m = re.search(rf"^\s*{re.escape(nid(name))} \[label=<(.*?)>\s+\w+=", source, re.M | re.S)
    assert m, f"no node {name} in the DOT text"
    return m.group(1)


def test_order_numbers_fprop_and_bprop_positions():
    x, y = fg.Input("x"), fg.Input("y")
    W = fg.Parameter(np.ones((3, 2)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    u = fg.Tanh()(x, name="u")  # reaches no parameter: bprop skips it
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(u, W, b, name="a"), y, name="loss")
    graph = fg.Graph(loss)
    graph.fprop({x: np.ones((2, 2)), y: np.array([0, 2])})
    source = to_dot(graph, order=True).source
    assert "fprop #1  ·  bprop #—" in _label(source, "u")
    assert "fprop #2  ·  bprop #2" in _label(source, "a")
    assert "fprop #3  ·  bprop #1" in _label(source, "loss")
    assert "fprop #" not in _label(source, "W")


def test_failing_box_after_check_graph_is_exactly_the_red_one():
    graph, feed = hand_mlp(3, bad_layer=2)
    report = fg.check_graph(graph, feed)
    assert report.first_failing_box == "h2"
    nodes = svg_nodes(to_svg(graph, check=report))
    red_fill, red_line = STYLE["fail"]
    green_fill, _ = STYLE["pass"]
    red = {name for name, g in nodes.items() if red_fill in svg_paint(g)[0]}
    assert red == {nid("h2")}
    assert red_line in svg_paint(nodes[nid("h2")])[1]
    assert "FAIL" in svg_text(nodes[nid("h2")])
    worst = f"{report.boxes['h2'].max_rel_err:.2g}"
    assert worst in svg_text(nodes[nid("h2")])
    for n in graph.order:
        if n.box is not None and n.name != "h2":
            assert green_fill in svg_paint(nodes[nid(n.name)])[0], n.name
            assert red_line not in svg_paint(nodes[nid(n.name)])[1], n.name


class TanhWithTwiceTheTangent(fg.Tanh):
    def fprop_jvp(self, inputs, tangents, h):
        return 2 * super().fprop_jvp(inputs, tangents, h)


def test_a_box_failing_only_its_forward_rule_shows_the_rule_and_its_error():
    """The red node says what failed with that check's own error: the rule's (about 1 here),
    not the gradient's, which passes (~1e-9) and would read as a pass."""
    graph, _ = hand_mlp(2)
    node = graph["h1"]
    report = fg.check_box(TanhWithTwiceTheTangent(), [node.children[0].value], node="h1")
    assert report.failing_inputs == [] and report.failing_rules == ["fprop_jvp"]
    label = _label(to_dot(graph, check=report).source, "h1")
    assert f"rule fprop_jvp: max rel err {report.jvp.max_rel_err:.2g}" in label
    assert report.jvp.max_rel_err > 0.1 and f"{report.max_rel_err:.2g}" not in label


def test_check_box_report_colours_its_node_only():
    graph, _ = hand_mlp(2)
    node = graph["h1"]
    report = fg.check_box(BadTanh(), [node.children[0].value], node="h1")
    assert report.status == "fail"
    source = to_dot(graph, check=report).source
    assert STYLE["fail"][0] in _node_attrs(source, "h1")
    assert sum(STYLE["fail"][0] in _node_attrs(source, n.name) for n in graph.order) == 1
    # a report without a node name is matched by box type when the type is unique...
    unnamed = fg.check_box(fg.Add(), [np.ones(2), np.ones(2)])
    assert STYLE["pass"][0] in _node_attrs(to_dot(graph, check=unnamed).source, "loss")
    # ...and refused when it is not
    ambiguous = fg.check_box(fg.Linear())
    with pytest.raises(fg.FlowgraphError, match="2 Linear boxes"):
        to_dot(graph, check=ambiguous)
    with pytest.raises(fg.FlowgraphError, match="'h9'"):
        to_dot(graph, check=fg.check_box(fg.Tanh(), node="h9"))
    with pytest.raises(fg.FlowgraphError, match="GraphReport"):
        to_dot(graph, check="pass")


def _node_attrs(source: str, name: str) -> str:
    m = re.search(rf"^\s*{re.escape(nid(name))} \[(.*)\]$", source, re.M)
    assert m, name
    return m.group(1)


def test_non_finite_values_are_flagged_red_without_a_check():
    graph, feed = hand_mlp(2)
    graph["W2"].value[0, 0] = np.nan
    with np.errstate(invalid="ignore"):
        graph.fprop(feed)
    source = to_dot(graph).source
    assert "⚠ value: 1 NaN" in _label(source, "W2")
    assert STYLE["fail"][0] in _node_attrs(source, "W2")
    assert STYLE["fail"][0] in _node_attrs(source, "a2")  # downstream of the NaN
    assert STYLE["fail"][0] not in _node_attrs(source, "a1")  # upstream: fine
    starts = [n.name for n in graph.order if "start here" in _label(source, n.name)]
    assert starts == ["W2"]
    assert "non-finite" in source  # in the legend
    graph["W2"].value[0, 0] = np.inf
    with np.errstate(invalid="ignore"):
        graph.fprop(feed)
    assert "1 inf" in _label(to_dot(graph, values=True).source, "W2")


def test_twelve_layer_mlp_one_cluster_per_layer():
    graph, _ = hand_mlp(12)
    dot = to_dot(graph)
    clusters = dot_clusters(dot.source)
    assert len(clusters) == 12
    for k in range(1, 13):
        members = set(clusters[f"cluster_layer{k}"])
        expected = {nid(f"W{k}"), nid(f"b{k}"), nid(f"a{k}")}
        if k < 12:
            expected.add(nid(f"h{k}"))
        assert members == expected, k
    svg = ET.fromstring(to_svg(graph))
    drawn = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "cluster"]
    assert len(drawn) == 12
    captions = [svg_text(g) for g in drawn]
    assert captions[0].startswith("layer 1 ") and "2 → 3" in captions[0] and "Tanh" in captions[0]
    assert captions[11].startswith("layer 12 ") and "3 → 3" in captions[11]
    assert not dot_clusters(to_dot(graph, group=False).source)
    # the same for flowgraph's own builder (its last layer feeds both softmax and the loss)
    model = fg.mlp([2] + [3] * 11 + [3], l2=1e-3)
    clusters = dot_clusters(to_dot(model).source)
    assert len(clusters) == 12
    assert set(clusters["cluster_layer12"]) == {nid("W12"), nid("b12"), nid("a12")}


def test_layers_of_odd_hand_built_graphs():
    x = fg.Input("x")
    Wa, ba = fg.Parameter(np.ones((2, 2)), "enc.W"), fg.Parameter(np.zeros(2), "enc.b")
    Wb, bb = fg.Parameter(np.ones((2, 2)), "Wb"), fg.Parameter(np.zeros(2), "bias")
    # the penalty comes first in fprop order and must not claim the weights
    omega = fg.L2Penalty()(Wa, Wb, name="omega")
    a = fg.Linear()(x, Wa, ba, name="a")
    h = fg.ReLU()(a, name="h")
    a2 = fg.Linear()(h, Wb, bb, name="a2")
    both = fg.Add()(fg.Tanh()(a2, name="t"), a2, name="both")  # a2 has two consumers
    graph = fg.Graph([fg.Add()(omega, fg.L2Penalty()(both), name="out")])
    clusters = dot_clusters(to_dot(graph).source)
    assert sorted(clusters) == ["cluster_layer1", "cluster_layer2"]
    assert set(clusters["cluster_layer1"]) == {nid(n) for n in ("enc.W", "enc.b", "a", "h")}
    assert set(clusters["cluster_layer2"]) == {nid(n) for n in ("Wb", "bias", "a2")}
    source = to_dot(graph).source
    assert "<B>enc · 2 → 2 · ReLU</B>" in source  # named after its parameters enc.W, enc.b
    assert "<B>layer 2 · 2 → 2</B>" in source  # no common name: numbered


def test_odd_names_are_escaped_and_ids_never_collide():
    names = ["a b", "a_20", "a_0000020", "x:y", 'q"<&>', "line\nbreak", "π", "node", "1st"]
    ids = {nid(n) for n in names}
    assert len(ids) == len(names)
    assert all(re.fullmatch(r"n_\w+", i) for i in ids)
    x = fg.Input('x:"<in>"&')
    W = fg.Parameter(np.ones((2, 2)), "W[0]\n<b>")
    b = fg.Parameter(np.zeros(2), "node")
    out = fg.Linear()(x, W, b, name="edge -> graph {")
    graph = fg.Graph(out)
    graph.fprop({x: np.ones((1, 2))})
    svg = to_svg(graph, values=True)
    nodes = svg_nodes(svg)
    assert len(nodes) == 4
    assert 'x:"<in>"&' in svg_text(nodes[nid('x:"<in>"&')])
    assert "W[0]\\n<b>" in svg_text(nodes[nid("W[0]\n<b>")])
    assert "edge -> graph {" in svg_text(nodes[nid("edge -> graph {")])


def test_repr_svg_shows_the_default_picture():
    graph = small_mlp()
    svg = graph._repr_svg_()
    assert isinstance(svg, str)
    assert len(svg_nodes(svg)) == len(graph.order)
    assert "mean" not in svg  # default options: no statistics


def test_missing_dot_writes_dot_text_and_says_how_to_install(tmp_path, monkeypatch):
    graph = small_mlp()
    monkeypatch.setenv("PATH", str(tmp_path / "no-binaries-here"))
    expected = to_dot(graph, grads=True).source  # to_dot itself never needs the binary
    target = tmp_path / "pics" / "graph.svg"
    with pytest.raises(GraphvizNotFoundError, match="apt-get install graphviz") as err:
        render(graph, target, grads=True)
    assert "graph.dot" in str(err.value)
    assert isinstance(err.value, fg.FlowgraphError)
    assert not target.exists()
    assert (tmp_path / "pics" / "graph.dot").read_text(encoding="utf-8") == expected
    assert [p.name for p in (tmp_path / "pics").iterdir()] == ["graph.dot"]  # no leftovers
    with pytest.warns(RuntimeWarning, match="apt-get install graphviz"):
        assert to_svg(graph) is None
    with pytest.warns(RuntimeWarning):
        assert graph._repr_svg_() is None  # Jupyter falls back to the text repr
    assert render(graph, tmp_path / "only.dot").read_text(encoding="utf-8") == to_dot(graph).source


def test_render_writes_each_format(tmp_path):
    graph = small_mlp()
    magic = {".svg": b"<?xml", ".png": b"\x89PNG", ".pdf": b"%PDF"}
    for suffix, start in magic.items():
        path = render(graph, tmp_path / f"g{suffix}", values=True)
        assert path.read_bytes().startswith(start), suffix
    svg = (tmp_path / "g.svg").read_text(encoding="utf-8")
    assert len(svg_nodes(svg)) == len(graph.order)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.pdf", "g.png", "g.svg"]
    with pytest.raises(fg.FlowgraphError, match=r"\.svg"):
        render(graph, tmp_path / "g.jpeg")
    # mode as a plain open() would give (mkstemp's 0600 would hide the picture from others)
    (tmp_path / "ref").write_text("")
    mode = (tmp_path / "ref").stat().st_mode & 0o777
    assert (tmp_path / "g.svg").stat().st_mode & 0o777 == mode


def test_render_never_leaves_half_a_file(tmp_path, monkeypatch):
    graph = small_mlp()
    target = tmp_path / "graph.svg"
    target.write_text("the previous picture")

    def broken(dot, fmt):
        raise fg.FlowgraphError("Graphviz `dot -Tsvg` failed (status 1): simulated")

    monkeypatch.setattr(render_mod, "_run_dot", broken)
    with pytest.raises(fg.FlowgraphError, match="simulated"):
        render(graph, target)
    assert target.read_text() == "the previous picture"

    monkeypatch.undo()
    real_fdopen = render_mod.os.fdopen

    class HalfWriter:
        def __init__(self, fd, mode):
            self.f = real_fdopen(fd, mode)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, data):
            self.f.write(data[: len(data) // 2])
            raise OSError("disk full")

    monkeypatch.setattr(render_mod.os, "fdopen", HalfWriter)
    with pytest.raises(OSError, match="disk full"):
        render(graph, target)
    monkeypatch.undo()
    assert target.read_text() == "the previous picture"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.svg"]


def test_bad_arguments_are_named():
    with pytest.raises(fg.FlowgraphError, match="Graph"):
        to_dot(np.zeros(3))
    with pytest.raises(fg.FlowgraphError, match="rankdir"):
        to_dot(small_mlp(), rankdir="up")

    class Model:  # anything holding its graph, as flowgraph's models do
        def __init__(self, graph):
            self.graph = graph

    graph = small_mlp()
    assert to_dot(Model(graph)).source == to_dot(graph).source
    assert "rankdir=TB" in to_dot(graph, rankdir="TB").source
    assert "output / loss" in to_dot(graph).source
    assert "output / loss" not in to_dot(graph, legend=False).source


# -- the command line ---------------------------------------------------------------------------


def saved_model(tmp_path, *, metadata=None, sizes=(64, 5, 10), preprocessing=None):
    model = fg.mlp(list(sizes), l2=1e-3, dtype=np.float64, seed=0)
    model.preprocessing = preprocessing
    return model, model.save(tmp_path / "model.npz", metadata=metadata)


def test_cli_renders_a_saved_model(tmp_path, capsys):
    from flowgraph.cli import main

    model, path = saved_model(tmp_path)
    assert main(["render", str(path), "-o", str(tmp_path / "graph.svg")]) == 0
    assert "wrote" in capsys.readouterr().out
    nodes = svg_nodes((tmp_path / "graph.svg").read_text(encoding="utf-8"))
    assert sorted(nodes) == sorted(nid(n.name) for n in model.graph.order)
    assert main(["render", str(path)]) == 0  # default: model.svg beside the model
    assert (tmp_path / "model.svg").read_bytes().startswith(b"<?xml")
    assert main(["render", str(path), "-o", str(tmp_path / "g.png"), "--no-group"]) == 0
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


def test_cli_values_grads_check_on_a_batch_of_the_named_dataset(tmp_path, capsys):
    from flowgraph.cli import main
    from flowgraph.datasets import get_dataset

    X, _, _ = get_dataset("digits")
    mean, scale = X.mean(axis=0), X.std(axis=0) + 1.0
    pre = {"kind": "standardize", "mean": mean.tolist(), "scale": scale.tolist()}
    _, path = saved_model(tmp_path, metadata={"dataset": "digits"},
                          preprocessing=fg.Preprocessing.from_dict(pre))  # fmt: skip
    out = tmp_path / "graph.svg"
    args = ["render", str(path), "-o", str(out), "--values", "--grads", "--order", "--check"]
    assert main(args + ["--batch", "5"]) == 0
    assert "no box fails" in capsys.readouterr().out
    svg = out.read_text(encoding="utf-8")
    nodes = svg_nodes(svg)
    x_text = svg_text(nodes[nid("x")])
    assert "5×64" in x_text and "mean" in x_text  # a batch of 5 standardised digits...
    loaded = fg.load_model(path)
    Xs = (X - mean) / scale
    rows = np.sort(np.random.default_rng(0).choice(len(X), size=5, replace=False))
    assert f"{Xs[rows].max():.3g}" in x_text  # ...chosen by the seed
    loaded.graph.fprop({loaded.x: Xs[rows], loaded.y: get_dataset("digits")[1][rows]})
    assert f"{float(loaded.loss.value):.5g}" in svg_text(nodes[nid("loss")])
    assert "pass" in svg_text(nodes[nid("a1")]) and "bprop #" in svg_text(nodes[nid("a1")])
    # without a dataset in the file, --dataset names it; without either, a clear error
    _, bare = saved_model(tmp_path / "bare")
    assert main(["render", str(bare), "--grads"]) == 2
    assert "--dataset" in capsys.readouterr().err
    assert main(["render", str(bare), "--grads", "--dataset", "moons"]) == 2
    assert "takes 64 features" in capsys.readouterr().err  # moons has 2
    assert main(["render", str(bare), "--grads", "--dataset", "digits"]) == 0


def test_cli_renders_what_flowgraph_train_saved(tmp_path, capsys):
    from flowgraph.cli import main

    train = ["train", "--out", str(tmp_path), "--hidden", "4", "--epochs", "1"]
    assert main(train + ["--augment", "none", "--no-progress"]) == 0
    capsys.readouterr()
    out = tmp_path / "values.svg"
    assert main(["render", str(tmp_path / "model.npz"), "-o", str(out), "--values"]) == 0
    nodes = svg_nodes(out.read_text(encoding="utf-8"))
    words = svg_text(nodes[nid("x")]).split()
    mean, std, lo, hi = words[words.index("value") + 1 : words.index("value") + 5]
    assert (lo, hi) == ("0", "1"), words  # digits scaled by 1/16, as the model was trained
    assert "Softmax" in svg_text(nodes[nid("output")])


def test_cli_check_finds_a_wrong_box_and_exits_1(tmp_path, monkeypatch, capsys):
    from flowgraph.cli import main

    _, path = saved_model(tmp_path, metadata={"dataset": "digits"}, sizes=(64, 5, 5, 10))
    monkeypatch.setattr(fg.Tanh, "bprop", BadTanh.bprop)  # the loaded model's Tanh boxes too
    out = tmp_path / "check.svg"
    assert main(["render", str(path), "-o", str(out), "--check"]) == 1
    assert "first failing box: 'h1'" in capsys.readouterr().out
    nodes = svg_nodes(out.read_text(encoding="utf-8"))
    red = {name for name, g in nodes.items() if STYLE["fail"][0] in svg_paint(g)[0]}
    assert red == {nid("h1"), nid("h2")}  # both Tanh boxes, and nothing else


def test_cli_mistakes_are_one_line(tmp_path, capsys):
    from flowgraph.cli import main

    _, path = saved_model(tmp_path)
    assert main(["render", str(tmp_path / "missing.npz")]) == 2
    assert "missing.npz" in capsys.readouterr().err
    assert main(["render", str(path), "-o", str(tmp_path / "g.gif")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ".svg" in err


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--update-golden"]:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(
            to_dot(small_mlp(), values=True, grads=True, order=True).source, encoding="utf-8"
        )
        print(f"wrote {GOLDEN}")


def test_cli_renders_any_saved_graph_on_a_feed(tmp_path, capsys):
    from helper_models import linear_regression

    from flowgraph.cli import main

    model = linear_regression()
    path = model.save(tmp_path / "regression.npz")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "feed.npz", x=rng.normal(size=(20, 3)), t=rng.normal(size=(20, 1)))
    boxes = ["--boxes", "helper_models:HalfSquaredError"]
    out = tmp_path / "graph.svg"
    assert main(["render", str(path), *boxes, "-o", str(out)]) == 0
    assert sorted(svg_nodes(out.read_text(encoding="utf-8"))) == sorted(
        nid(n.name) for n in model.graph.order
    )
    args = ["render", str(path), *boxes, "-o", str(out), "--values", "--check", "--batch", "4"]
    assert main(args + ["--feed", str(tmp_path / "feed.npz")]) == 0
    assert "no box fails" in capsys.readouterr().out
    assert "4×3" in svg_text(svg_nodes(out.read_text(encoding="utf-8"))[nid("x")])
    assert main(args) == 2  # inputs x and t: no dataset can feed them
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --feed DATA.npz" in err


def test_a_failing_dot_names_the_format_and_shows_graphvizs_message():
    import graphviz

    bad = graphviz.Digraph(body=["this is { not DOT\n"])
    with pytest.raises(fg.FlowgraphError, match=r"dot -Tsvg` failed \(status 1\): .*syntax error"):
        render_mod._run_dot(bad, "svg")
