"""The layers of a network and the uses of its Blocks, found from the graph's structure alone
(so hand-built graphs get them too), for drawing each as a cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..boxes.linear import Linear
from ..core import Buffer, Graph, Node, Parameter
from ..core.block import Block

__all__ = ["Layer", "find_layers", "block_uses", "layer_name"]


@dataclass
class Layer:
    """One layer: its name, the box it is anchored on, its nodes, and the caption drawn."""

    name: str
    anchor: Node
    members: list[Node] = field(default_factory=list)
    caption: str = ""


def find_layers(graph: Graph) -> list[Layer]:
    """The layers of a graph, found from its structure alone (works for hand-built graphs).

    A layer is anchored on a box that owns Parameters: every Linear box first, then any other
    box of fixed arity with a Parameter no layer has claimed (a user's own affine box); never
    a variadic box such as L2Penalty, which reads the weights of every layer. The layer holds
    its anchor, the Parameter and Buffer children it claims first (W(k), b(k); a batch norm's
    gamma, beta and running statistics) and, when the anchor's only
    consumer is a one-input box (the activation g, or softmax), that box too. Layers are
    numbered in fprop order and named from their parameters (``W1``, ``b1`` -> ``layer 1``).
    """
    parents = _parents(graph)
    taken: set[str] = set()
    in_layer: set[str] = set()
    layers: list[Layer] = []
    for k, a in enumerate(_anchors(graph), start=1):
        params = [
            c
            for c in dict.fromkeys(a.children)
            if isinstance(c, (Parameter, Buffer)) and c.name not in in_layer
        ]
        members: list[Node] = [*params, a]
        act = _activation(graph, parents[a.name], in_layer)  # type: ignore[index]
        if act is not None:
            members.append(act)
        in_layer.update(m.name for m in members)  # type: ignore[misc]
        name = layer_name([p.name for p in params if isinstance(p, Parameter)],  # type: ignore[misc]
                          k)
        while name in taken:
            name = f"{name}'"
        taken.add(name)
        layers.append(Layer(name, a, members, _caption(name, a, act)))
    return layers


def _parents(graph: Graph) -> dict[str, list[Node]]:
    """Each node's consumers (boxes that read it), by node name, each listed once."""
    parents: dict[str, list[Node]] = {n.name: [] for n in graph.order}  # type: ignore[misc]
    for n in graph.order:
        if n.box is None:
            continue
        for c in n.children:
            if not any(p is n for p in parents[c.name]):  # type: ignore[index]
                parents[c.name].append(n)  # type: ignore[index]
    return parents


def _anchors(graph: Graph) -> list[Node]:
    """The boxes layers are anchored on, in fprop order: every Linear, then each other box
    (not a Block: its use is drawn as its own cluster; not a box of any number of children that
    reads Parameters only, such as L2Penalty over every layer's weights) that reads a Parameter no
    anchor has claimed yet (a convolution's kernels)."""
    boxes = [n for n in graph.order if n.box is not None]
    claimed: set[str] = set()
    anchors: list[Node] = []
    for n in boxes:  # Linear boxes claim their parameters first
        if isinstance(n.box, Linear):
            anchors.append(n)
            claimed.update(c.name for c in n.children if isinstance(c, Parameter))  # type: ignore[misc]
    for n in boxes:
        if isinstance(n.box, (Linear, Block)):
            continue
        if n.box.arity is None and all(isinstance(c, Parameter) for c in n.children):  # type: ignore[union-attr]
            continue  # a penalty reading the weights of every layer, not a layer of its own
        if any(isinstance(c, Parameter) and c.name not in claimed for c in n.children):
            anchors.append(n)
            claimed.update(c.name for c in n.children if isinstance(c, Parameter))  # type: ignore[misc]
    position = {n.name: i for i, n in enumerate(graph.order)}
    anchors.sort(key=lambda n: position[n.name])
    return anchors


def _activation(graph: Graph, consumers: list[Node], in_layer: set[str]) -> Node | None:
    """The anchor's activation: its only consumer when that reads nothing else, is no
    Block, no output of the graph, and in no layer yet."""
    if len(consumers) != 1 or len(consumers[0].children) != 1:
        return None
    act = consumers[0]
    if isinstance(act.box, Block) or act.name in in_layer or act in graph.outputs:
        return None
    return act


def _caption(name: str, anchor: Node, act: Node | None) -> str:
    """``layer 1 · 2 → 4 · Tanh``: the name, a Linear's widths, the activation's box."""
    caption = name
    if isinstance(anchor.box, Linear) and len(anchor.children) == 3:
        W = anchor.children[1].value
        if W is not None and np.ndim(W) == 2:
            caption += f" · {np.shape(W)[1]} → {np.shape(W)[0]}"
    if act is not None:
        caption += f" · {type(act.box).__name__}"
    return caption


def block_uses(graph: Graph) -> list[tuple[str, list[Node]]]:
    """Each use of a Block: its caption and its nodes (one per inner output), in fprop order.

    A use is one call of a block on its children; the nodes of one call share the block and
    the children. Uses are numbered per block: ``residual · use 2 of 3``."""
    uses: dict[tuple, list[Node]] = {}
    for n in graph.order:
        if isinstance(n.box, Block):
            key = (id(n.box.root), tuple(id(c) for c in n.children))
            uses.setdefault(key, []).append(n)
    counts: dict[int, int] = {}
    for key in uses:
        counts[key[0]] = counts.get(key[0], 0) + 1
    seen: dict[int, int] = {}
    out = []
    for key, members in uses.items():
        seen[key[0]] = k = seen.get(key[0], 0) + 1
        name = members[0].box.name  # type: ignore[union-attr]
        caption = f"{name} · use {k} of {counts[key[0]]}" if counts[key[0]] > 1 else name
        out.append((caption, members))
    return out


def layer_name(param_names: list[str], k: int) -> str:
    """``layer 1`` for W1, b1; ``enc`` for enc.W, enc.b; else ``layer k``.

    >>> layer_name(["W1", "b1"], 5), layer_name(["enc.W", "enc.b"], 1), layer_name(["u"], 3)
    ('layer 1', 'enc', 'layer 3')
    """
    if len(param_names) >= 2:
        prefix = os.path.commonprefix(param_names).rstrip("._/:-")
        if len(prefix) >= 2:
            return prefix
        rev = os.path.commonprefix([p[::-1] for p in param_names])[::-1]
        digits = ""
        for ch in reversed(rev):
            if not ch.isdigit():
                break
            digits = ch + digits
        if digits:
            return f"layer {digits}"
    return f"layer {k}"
