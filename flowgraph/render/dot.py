"""``to_dot``: a flow graph in Graphviz's DOT language, drawn in named steps.

The steps: find the graph (a Graph, a Model's graph, or the graph below a Node); gather what
the picture marks on each node (:class:`~flowgraph.render.labels.Marks`: check reports, sweep
positions, where NaN starts); then write the DOT text: the picture's attributes, each layer and
each use of a Block as a cluster of nodes, the other nodes, the arrows, the legend.
"""

from __future__ import annotations

from typing import Any

import graphviz
import numpy as np

from ..check import BoxReport, GraphReport
from ..core import Graph, Node, Parameter
from ..errors import FlowgraphError
from .labels import Marks, kind_of, node_attributes, node_id
from .labels import legend as legend_table
from .layers import block_uses, find_layers
from .style import EDGE, FONT, MUTED, TEXT, esc, font, shape_text
from .values import nonfinite

__all__ = ["to_dot", "as_graph", "check_by_node", "bprop_positions", "marks_for"]

RANKDIRS = ("LR", "TB", "RL", "BT")


def to_dot(
    graph: Graph | Node | Any,
    *,
    values: bool = False,
    grads: bool = False,
    shapes: bool = True,
    order: bool = False,
    check: GraphReport | BoxReport | None = None,
    rankdir: str = "LR",
    group: bool = True,
    legend: bool = True,
) -> graphviz.Digraph:
    """Describe ``graph`` in Graphviz's DOT language; needs no Graphviz binary.

    ``graph`` is a Graph, a Model (whose ``.graph`` is drawn) or a Node (the graph of
    everything it is computed from, as torchviz's ``make_dot(loss)``). Nodes by kind: Inputs
    (blue tags: x, y), Parameters (yellow boxes with name and shape: W(k), b(k)), boxes
    (grey, rounded, with type and name: the Linear computing a(k) = b(k) + W(k) h(k-1), the
    Tanh computing h(k) = g(a(k)), ...) and the graph's outputs (purple, double outline: f(x)
    or the loss -log f(x)_y + lambda Omega(theta)); a legend below.

    values / grads: each node shows its value after ``graph.fprop`` / its gradient after
    ``graph.bprop`` (shape, mean, std, min, max; the numbers for arrays of at most 6
    elements such as a scalar loss or a 2x2 weight). shapes: arrows, drawn the way fprop
    goes, are labelled with the shape of the array flowing along them. order: each box shows
    its position in the fprop sweep and in the bprop sweep (``—`` for a box bprop skips
    because no parameter lies below it). check: a GraphReport from ``check_graph`` or a
    BoxReport from ``check_box`` colours each checked box green (pass), vermillion (fail,
    labelled with its worst relative error, failing inputs and wrong forward-mode rules) or
    amber (kink). A node whose value or gradient holds NaN or inf is always flagged
    vermillion, and the node where they first appear in fprop says so. group: the nodes of a
    layer (its Linear, W(k), b(k) and activation) are drawn in a cluster named after it.
    rankdir: "LR" (left to right) or "TB", "RL", "BT". legend: the key below the picture.

    Node ids come from node names, so the same graph gives the same text every time.

    >>> import numpy as np, flowgraph as fg
    >>> x, W = fg.Input("x"), fg.Parameter(np.ones((2, 3)), "W")
    >>> h = fg.Tanh()(x @ W.T, name="h")  # a Node: its graph is drawn
    >>> fg.to_dot(h, legend=False).source.count("->")  # W -> W.T, x -> @, W.T -> @, @ -> h
    4
    """
    graph = as_graph(graph)
    if rankdir not in RANKDIRS:
        raise FlowgraphError(f"rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    marks = marks_for(graph, values=values, grads=grads, order=order, check=check)
    dot = _new_digraph(rankdir)
    layer_of = _draw_layers(dot, graph, marks) if group else {}
    block_of = _draw_block_uses(dot, graph, marks)
    for n in graph.order:
        if n.name not in layer_of and n.name not in block_of:
            dot.node(node_id(n.name), **node_attributes(n, marks))  # type: ignore[arg-type]
    _draw_arrows(dot, graph, layer_of, shapes=shapes)
    if legend:
        kinds = {kind_of(n, marks.outputs) for n in graph.order}
        bad = any(nonfinite(n.value) or nonfinite(n.grad) for n in graph.order)
        key = legend_table(kinds, check=bool(marks.box_checks), nonfinite=bad, shapes=shapes,
                           order=order)  # fmt: skip
        dot.attr("graph", label=key)
    return dot


def as_graph(graph: Any) -> Graph:
    """The Graph to draw: a Graph itself, a Model's ``.graph``, or the Graph of a Node."""
    if isinstance(graph, Graph):
        return graph
    if isinstance(graph, Node):
        return Graph(graph)
    inner = getattr(graph, "graph", None)  # a Model holds its graph
    if isinstance(inner, Graph):
        return inner
    raise FlowgraphError(
        f"expected a flowgraph Graph, Node or Model (with .graph), got {type(graph).__name__}"
    )


def marks_for(graph: Graph, *, values: bool, grads: bool, order: bool, check: Any = None) -> Marks:
    """What the picture of ``graph`` marks on its nodes (see :class:`Marks`)."""
    box_checks, param_checks = check_by_node(graph, check)
    boxes = [n for n in graph.order if n.box is not None]
    # where NaN or inf first appear in fprop: a node holding them whose children are all finite
    sources = {
        n.name
        for n in graph.order
        if nonfinite(n.value) and not any(nonfinite(c.value) for c in n.children)
    }
    return Marks(
        values=values,
        grads=grads,
        order=order,
        outputs=frozenset(o.name for o in graph.outputs),  # type: ignore[misc]
        fprop={n.name: i for i, n in enumerate(boxes, start=1)},  # type: ignore[misc]
        bprop=bprop_positions(graph) if order else {},
        box_checks=box_checks,
        param_checks=param_checks,
        nan_sources=frozenset(sources),  # type: ignore[arg-type]
    )


def check_by_node(graph: Graph, check: Any) -> tuple[dict[str, BoxReport], dict[str, Any]]:
    """Box reports by node name, and the end-to-end parameter checks by name, from a
    GraphReport or a BoxReport (None: no checks); a report of another graph is an error."""
    if check is None:
        return {}, {}
    if isinstance(check, GraphReport):
        unknown = [name for name in check.boxes if name not in graph.nodes]
        if unknown:
            raise FlowgraphError(
                f"the check report names node(s) {unknown} that this graph does not have; "
                "was it made with check_graph on another graph?"
            )
        return dict(check.boxes), {c.name: c for c in check.parameters}
    if isinstance(check, BoxReport):
        if check.node is not None:
            if check.node not in graph.nodes:
                raise FlowgraphError(
                    f"the check report is for node {check.node!r}, which this graph does not "
                    f"have (nodes: {list(graph.nodes)})"
                )
            return {check.node: check}, {}
        same = [n for n in graph.order if n.box is not None and type(n.box).__name__ == check.box]
        if len(same) != 1:
            raise FlowgraphError(
                f"the {check.box} check report names no node and the graph has {len(same)} "
                f"{check.box} boxes; pass node=<name> to check_box to say which one it is"
            )
        return {same[0].name: check}, {}  # type: ignore[dict-item]
    raise FlowgraphError(
        f"check must be a GraphReport (from check_graph) or a BoxReport (from check_box), "
        f"got {type(check).__name__}"
    )


def bprop_positions(graph: Graph) -> dict[str, int]:
    """1-based position of each box in the bprop sweep down to the parameters, the order
    ``Graph.bprop`` follows: the boxes on a path from a parameter up to the first output, in
    reverse fprop order (boxes reaching no parameter are skipped)."""
    if not graph.parameters:
        return {}
    reaches: set[int] = set()  # ids of the nodes from which a parameter can be reached
    for n in graph.order:  # children first
        if isinstance(n, Parameter) or any(id(c) in reaches for c in n.children):
            reaches.add(id(n))
    feeds = {id(graph.outputs[0])}  # ids of the nodes the first output is computed from
    for n in reversed(graph.order):  # parents first
        if id(n) in feeds:
            feeds.update(id(c) for c in n.children)
    sweep = [
        n
        for n in reversed(graph.order)
        if n.box is not None and id(n) in reaches and id(n) in feeds
    ]
    return {n.name: i for i, n in enumerate(sweep, start=1)}  # type: ignore[misc]


def _new_digraph(rankdir: str) -> graphviz.Digraph:
    """An empty picture with the default looks of the graph, its nodes and its arrows."""
    dot = graphviz.Digraph(name="flowgraph")
    dot.attr(
        "graph",
        rankdir=rankdir,
        fontname=FONT,
        fontsize="10",
        bgcolor="white",
        pad="0.15",
        nodesep="0.22",
        ranksep="0.32",
        labelloc="b",
        labeljust="l",
        newrank="true",
    )
    dot.attr(
        "node", fontname=FONT, fontsize="11", fontcolor=TEXT, penwidth="1.2", margin="0.06,0.03"
    )
    dot.attr(
        "edge",
        fontname=FONT,
        fontsize="8",
        fontcolor=MUTED,
        color=EDGE,
        arrowsize="0.6",
        penwidth="1.0",
    )
    return dot


def _cluster_label(caption: str) -> str:
    return f"<{font('<B>' + esc(caption) + '</B>', size=10, color=MUTED)}>"


def _draw_layers(dot: graphviz.Digraph, graph: Graph, marks: Marks) -> dict[str, int]:
    """Each layer as a cluster of its nodes, in fprop order; returns node name -> layer."""
    layers = find_layers(graph)
    layer_of = {m.name: i for i, layer in enumerate(layers) for m in layer.members}
    for i, layer in enumerate(layers):
        with dot.subgraph(name=f"cluster_layer{i + 1}") as sub:
            sub.attr(
                label=_cluster_label(layer.caption),
                style="rounded,filled",
                fillcolor="#fafafa",
                color="#c8c8c8",
                labeljust="l",
                labelloc="b",  # below: arrows into a layer come from above and the left
                margin="8",
            )
            for n in graph.order:
                if layer_of.get(n.name) == i:  # type: ignore[arg-type]
                    sub.node(node_id(n.name), **node_attributes(n, marks))  # type: ignore[arg-type]
    return layer_of  # type: ignore[return-value]


def _draw_block_uses(dot: graphviz.Digraph, graph: Graph, marks: Marks) -> dict[str, int]:
    """Each use of a Block as a dashed cluster of its nodes; returns node name -> use."""
    uses = block_uses(graph)
    for i, (caption, members) in enumerate(uses):
        with dot.subgraph(name=f"cluster_block{i + 1}") as sub:
            sub.attr(
                label=_cluster_label(caption),
                style="rounded,dashed",
                color="#8c8c8c",
                labeljust="l",
                margin="8",
            )
            for n in members:
                sub.node(node_id(n.name), **node_attributes(n, marks))  # type: ignore[arg-type]
    return {m.name: i for i, (_, members) in enumerate(uses) for m in members}  # type: ignore[misc]


def _draw_arrows(
    dot: graphviz.Digraph, graph: Graph, layer_of: dict[str, int], *, shapes: bool
) -> None:
    """An arrow from each child to each box reading it, the way fprop goes, labelled with
    the shape of the array it carries."""
    for n in graph.order:
        if n.box is None:
            continue
        for c in n.children:
            attrs = {}
            if shapes and c.value is not None:
                attrs["label"] = shape_text(np.shape(c.value))
            if (
                isinstance(c, Parameter)
                and c.name in layer_of
                and layer_of.get(n.name) != layer_of[c.name]  # type: ignore[arg-type]
            ):
                # a weight read outside its layer (by a penalty Omega): drawn lighter and left out
                # of the ranking, so that it does not pull the layers apart
                # (and unlabelled: the weight's node shows its shape)
                attrs.update(constraint="false", color="#b5b5b5")
                attrs.pop("label", None)
            elif not isinstance(c, Parameter):
                attrs["weight"] = "4"  # keep the main path h(k-1) -> a(k) -> h(k) straight
            dot.edge(node_id(c.name), node_id(n.name), **attrs)  # type: ignore[arg-type]
