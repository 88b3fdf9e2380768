"""The checks of forward mode's tangents (:func:`flowgraph.jvp`): each given for a leaf of the
graph (an Input or a Parameter, by node or by name), once, floating-point, of its leaf's shape;
and the sentence for boxes without forward-mode rules."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import JVPError

__all__ = ["no_rules_message", "tangent_leaves", "tangent_seed"]

LEAVES = ("input", "parameter")  # the kinds of node a tangent may be given for
Node: TypeAlias = Any  # a node of flowgraph.core, known here by kind, name, describe() and value


def no_rules_message(nodes: Sequence[Node]) -> str:
    """The sentence naming the boxes of ``nodes``, which define no forward-mode rules."""
    kinds = sorted({type(n.box).__name__ for n in nodes})
    where = ", ".join(n.describe() for n in nodes[:5]) + (" ..." if len(nodes) > 5 else "")
    return (
        f"box {' / '.join(kinds)} defines no forward-mode rules (fprop_jvp and bprop_jvp), "
        f"needed at node(s) {where}: write them next to its bprop"
    )


def tangent_leaves(graph: Any, tangents: Any) -> dict[int, tuple[Node, Any]]:
    """``{id(leaf): (leaf, tangent)}`` for the tangents a jvp was given (keys: Inputs and
    Parameters of ``graph`` or their names); anything else is a JVPError saying what."""
    if not isinstance(tangents, Mapping):
        raise JVPError(
            f"tangents must be a dict from Inputs/Parameters (or names) to arrays, "
            f"got {type(tangents).__name__}"
        )
    leaves: dict[int, tuple[Node, Any]] = {}
    for key, t in tangents.items():
        node = _leaf(graph, key)
        if id(node) in leaves:
            raise JVPError(f"two tangents are given for {node.describe()} (by node and by name)")
        leaves[id(node)] = (node, t)
    return leaves


def _leaf(graph: Any, key: Any) -> Node:
    leaves = [n.name for n in graph.order if n.kind in LEAVES]
    if isinstance(key, str):
        node = graph.nodes.get(key)
        if node is None:
            raise JVPError(
                f"tangents name {key!r}, which is no node of this graph "
                f"(its Inputs and Parameters: {leaves})"
            )
    elif hasattr(key, "describe") and hasattr(key, "children"):  # a node
        if key not in graph:
            raise JVPError(
                f"tangents hold node {key.describe()}, which is not in this graph "
                f"(its Inputs and Parameters: {leaves})"
            )
        node = key
    else:
        raise JVPError(
            f"tangents must map Inputs or Parameters (nodes or names) to arrays; got a key of "
            f"type {type(key).__name__}"
        )
    if node.kind not in LEAVES:
        raise JVPError(
            f"a tangent is given for {node.describe()}, a box's output: tangents are given for "
            f"the leaves only (Inputs and Parameters: {leaves}); its own tangent follows from them"
        )
    return node


def tangent_seed(node: Node, t: Any) -> np.ndarray:
    """The tangent ``t`` of the leaf ``node`` (after fprop) as an array of its value's shape,
    in its float dtype where ``t`` holds integers; a leaf of labels has no tangent."""
    value = node.value
    if not np.issubdtype(np.asarray(value).dtype, np.floating):
        raise JVPError(
            f"{node.describe()} holds {np.asarray(value).dtype} values (labels?): it has no "
            "tangent; give tangents for floating-point Inputs and Parameters only"
        )
    t = np.asarray(t)
    if not np.issubdtype(t.dtype, np.floating):
        t = t.astype(value.dtype)
    if t.shape != np.shape(value):
        raise JVPError(
            f"the tangent of {node.describe()} has shape {t.shape}, but its value has shape "
            f"{np.shape(value)}: a tangent has the shape of what it moves"
        )
    return t
