"""Graphs and readers for the tests of pictures (tests/render/, tests/cli/test_cli_render.py):
small networks with fprop and bprop done, and helpers that read DOT text and SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

import flowgraph as fg
from flowgraph.render.labels import node_id

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
    """The DOT id of the node named ``name``."""
    return node_id(name)
