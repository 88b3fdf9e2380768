"""The DOT text of a flow graph: one node per graph node, labels, values and gradients, sweep
positions, check colours, NaN flags, layers, escaping, and what to_dot accepts.

Graphviz is installed here and in CI (`apt-get install graphviz`), so nothing is skipped.
To rewrite the golden file after a deliberate change of the picture:

    python tests/render/test_to_dot.py --update-golden
"""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from helper_pictures import (
    SVG,
    BadTanh,
    dot_clusters,
    hand_mlp,
    nid,
    small_mlp,
    svg_nodes,
    svg_paint,
    svg_text,
)

import flowgraph as fg
from flowgraph.render import STYLE, to_dot, to_svg
from flowgraph.render.dot import bprop_positions

GOLDEN = Path(__file__).parent.parent / "golden" / "small_mlp.dot"


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
    # a mean of ~1e-17 is round-off, whose digits vary with NumPy's summation order
    noise = re.compile(r"-?\d\.\d\de-(1[5-9]|[2-9]\d)")
    source, expected = (noise.sub("~0", t) for t in (source, expected))
    assert source == expected, (
        "the DOT text changed; if on purpose: python tests/render/test_to_dot.py --update-golden"
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


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:] == ["--update-golden"]:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(
            to_dot(small_mlp(), values=True, grads=True, order=True).source, encoding="utf-8"
        )
        print(f"wrote {GOLDEN}")


def test_a_node_is_drawn_as_the_graph_it_is_computed_from(tmp_path):
    """As torchviz's make_dot(loss): to_dot and render take the loss node itself."""
    graph = small_mlp()
    (loss,) = graph.outputs
    options = {"values": True, "grads": True, "order": True}
    assert to_dot(loss, **options).source == to_dot(graph, **options).source
    path = fg.render(loss, tmp_path / "loss.svg")
    assert sorted(svg_nodes(path.read_text(encoding="utf-8"))) == sorted(
        nid(n.name) for n in graph.order
    )
    x, W = fg.Input("x"), fg.Parameter(np.ones((2, 3)), "W")
    h = fg.Tanh()(x @ W.T)  # never put in a Graph: to_dot names its nodes as a Graph does
    source = fg.to_dot(h).source
    assert source == fg.to_dot(fg.Graph(h)).source
    assert len(re.findall(r"^\s*n_\w+ \[label=", source, re.M)) == 5  # x, W, W.T, @, tanh
    with pytest.raises(fg.FlowgraphError, match="Graph, Node or Model"):
        to_dot([h])


def test_bprop_positions_are_the_order_in_which_bprop_calls_the_boxes():
    called = []

    class Recording(fg.Tanh):
        def bprop(self, inputs, output, grad_h):
            called.append(self)
            return super().bprop(inputs, output, grad_h)

    x, y = fg.Input("x"), fg.Input("y")
    W, b = fg.Parameter(np.ones((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    boxes = {name: Recording() for name in ("u", "h", "g", "side")}
    u = boxes["u"](x, name="u")  # reaches no parameter: skipped
    h = boxes["h"](fg.Linear()(u, W, b, name="a"), name="h")
    g = boxes["g"](h, name="g")
    loss = fg.SoftmaxCrossEntropy()(g + h, y, name="loss")
    side = boxes["side"](h, name="side")  # a second output: bprop of the first skips it
    graph = fg.Graph([loss, side])
    graph.fprop({x: np.ones((2, 2)), y: np.array([0, 2])})
    graph.bprop()
    positions = bprop_positions(graph)
    assert sorted(positions) == ["a", "add1", "g", "h", "loss"]  # add1: g + h
    assert "u" not in positions and "side" not in positions
    drawn = sorted((positions[n], n) for n in ("h", "g"))
    assert [boxes[n] for _, n in drawn] == called  # g before h, as bprop called them
    assert sorted(positions.values()) == list(range(1, len(positions) + 1))
