"""Forward mode: the directional derivative of a graph's outputs.

A graph computes its outputs f(x; theta) from its leaves. Along a direction v of the leaves
(a tangent v_x for each Input, v_theta for each Parameter) the directional derivative

    R{f} = d/dr f(x + r v_x; theta + r v_theta) |_{r=0} = J v,      J = d f / d (x, theta)

is carried forward, box by box, in the same order as fprop: each box turns its children's
tangents R{u_i} into its output's, R{out} = sum_i (d out / d u_i) R{u_i} (its ``fprop_jvp``).
That is forward mode (Pearlmutter's R-operator, Wengert's tangents). bprop is reverse mode:
seeded with grad_f it carries grad_f^T J back to every leaf at once.

    forward mode  (jvp):   one pass ~ one fprop  ->  J v    for ONE direction v, ALL outputs
    reverse mode (bprop):  one pass ~ one fprop  ->  u^T J  for ONE output weighting u, ALL leaves

With P parameters and a scalar loss l, bprop gives the whole gradient grad_theta l in one pass
(P forward passes would be needed); forward mode wins when there are few input directions and
many outputs (the derivative of a whole batch of predictions f(x_t) along one direction of
theta, or of x), and as the inner pass of second-order methods: the directional derivative of
the gradient itself, R{grad_theta l} = H v, is a forward pass through fprop and bprop
(each box's ``bprop_jvp``; :func:`flowgraph.analysis.hvp`).

:func:`jvp` is the public entry; :func:`flowgraph.check_jvp` (in flowgraph/check/forward.py)
verifies a box's two rules against central differences of its fprop and bprop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from ..errors import FlowgraphError, JVPError
from ..machinery.tangents import no_rules_message, tangent_leaves, tangent_seed
from .graph import Graph
from .node import Node

__all__ = ["jvp", "JVPResult", "JVPError"]


class JVPResult(NamedTuple):
    """The outputs' values and their tangents R{f} = J v (lists when the graph has several
    outputs, as ``Graph.fprop`` returns them): ``values, tangents = fg.jvp(...)``."""

    values: Any
    tangents: Any


# -- the forward pass of tangents ---------------------------------------------------------------
def _zeros_like(value: Any) -> np.ndarray:
    """A zero tangent for a value: its shape, its float dtype (float64 for labels)."""
    dt = getattr(value, "dtype", None)
    floating = dt is not None and np.issubdtype(dt, np.floating)
    return np.zeros(np.shape(value), dtype=dt if floating else np.float64)


def depends_on(graph: Graph, sources: Sequence[Node]) -> set[int]:
    """The ids of the nodes whose value depends on one of ``sources`` (the sources included)."""
    dep = {id(s) for s in sources}
    for node in graph.order:
        if any(id(c) in dep for c in node.children):
            dep.add(id(node))
    return dep


def boxes_without_jvp(
    graph: Graph, sources: Sequence[Node], outputs: Sequence[Node] | None = None
) -> list[Node]:
    """The box nodes that forward mode from ``sources`` to ``outputs`` (default: the graph's
    outputs) would need but whose box has no forward-mode rules (``not box.has_jvp()``)."""
    dep = depends_on(graph, sources)
    needed = {id(o) for o in (graph.outputs if outputs is None else outputs)}
    for node in reversed(graph.order):  # parents first: an ancestor of an output?
        if id(node) in needed:
            needed.update(id(c) for c in node.children)
    return [
        n
        for n in graph.order
        if n.box is not None and id(n) in dep and id(n) in needed and not n.box.has_jvp()
    ]


def forward_tangents(graph: Graph, seeds: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    """R{u} for every node that depends on a seeded leaf, after ``graph.fprop``.

    ``seeds`` maps ``id(leaf)`` to its tangent. Nodes that depend on no seed are left out
    (their tangent is zero); a child without a tangent is handed to ``fprop_jvp`` as zeros.
    """
    R: dict[int, np.ndarray] = dict(seeds)
    for node in graph.order:
        if node.box is None:
            continue
        Rin: list[Any] = [R.get(id(c)) for c in node.children]
        if all(r is None for r in Rin):
            continue
        if not node.box.has_jvp():
            raise JVPError(no_rules_message([node]))
        Rin = [_zeros_like(c.value) if r is None else r for c, r in zip(node.children, Rin)]
        try:
            out = node.box.fprop_jvp([c.value for c in node.children], Rin, node.value)
        except FlowgraphError:
            raise
        except Exception as e:
            shapes = ", ".join(
                f"{node.box.input_name(i)}={np.shape(c.value)}"
                for i, c in enumerate(node.children)
            )
            msg = f"fprop_jvp of node {node.describe()} on inputs {shapes} failed: {e}"
            raise JVPError(msg) from e
        out = np.asarray(out)
        if out.shape != np.shape(node.value):
            raise JVPError(
                f"fprop_jvp of node {node.describe()} returned shape {out.shape}, but the "
                f"node's value has shape {np.shape(node.value)}"
            )
        R[id(node)] = out
    return R


def jvp(
    graph: Graph | Any,
    feed: Mapping[Any, Any],
    tangents: Mapping[Any, Any],
) -> JVPResult:
    """Forward-mode derivative of the graph's outputs along a direction of its leaves.

    ``graph``: a Graph (or anything with a ``.graph``, such as a Model). ``feed``: what
    ``Graph.fprop`` takes; for a Model, what ``Model.as_feed`` takes (its raw data, which
    pass through its preprocessing). ``tangents``: a dict from Input or Parameter nodes (or
    their names) to arrays of their values' shapes — the direction v = (v_x, v_theta); every
    other leaf does not move (tangent 0). Returns ``(values, tangents)``: the outputs f and
    their directional derivatives

        R{f} = d/dr f(x + r v_x; theta + r v_theta) |_{r=0} = J v

    (each an array of the output's shape; lists for several outputs). One call costs about one
    fprop more than fprop alone.

    The Jacobian J is never built: one direction goes forward, box by box in fprop's order
    (each box's ``fprop_jvp``); when to prefer it to bprop: the module's docstring.

    Raises :class:`JVPError` for a box on the way without forward-mode rules (naming it), a
    tangent of the wrong shape, for an integer Input (labels), or for a node that is not a leaf
    of this graph.
    """
    g = graph if isinstance(graph, Graph) else getattr(graph, "graph", None)
    if not isinstance(g, Graph):
        raise JVPError(f"jvp needs a Graph (or a Model), got {type(graph).__name__}")
    as_feed = getattr(graph, "as_feed", None) if g is not graph else None
    if callable(as_feed):
        # a Model (duck-typed: the core knows no Model): its raw data become x' through its
        # preprocessing, as for every Model method and hvp
        feed = as_feed(feed, graph="all", what="jvp")
    leaves = tangent_leaves(g, tangents)  # {id: (leaf, tangent)}, each leaf once
    missing = boxes_without_jvp(g, [n for n, _ in leaves.values()])
    if missing:
        raise JVPError(no_rules_message(missing) + " (or differentiate by finite differences)")
    values = g.fprop(feed)
    seeds = {i: tangent_seed(node, t) for i, (node, t) in leaves.items()}  # shapes checked
    R = forward_tangents(g, seeds)
    outs = [R[id(o)] if id(o) in R else _zeros_like(o.value) for o in g.outputs]
    if g.single_output:
        return JVPResult(values, outs[0])
    return JVPResult(values, outs)
