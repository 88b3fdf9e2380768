"""A Model in a table, as Keras's ``summary()``: its nodes in fprop order, the shape of each
value, and its Parameters with their sizes.

One row per Input and per box node: what it reads (its children), the shape of its value and
the number of parameter elements it reads first (a Parameter read by several boxes is counted
once, at the first). Then one row per Parameter (shape, dtype, elements) and the total, the
number of scalars theta training adjusts:

    |theta| = sum over Parameters p of size(p)       (W(k): H_k x H_{k-1}, b(k): H_k)

Shapes are those of the values the nodes hold after the last fprop, or, given an input shape,
those of one fprop of the prediction graph on zeros of that shape (the values the nodes held
before are put back). :func:`summary_text` is ``model.summary()``; :func:`summary_html` is the
table Jupyter shows below the model's picture (``model._repr_html_``).

    >>> import flowgraph as fg
    >>> text = summary_text(fg.mlp([2, 3, 2], seed=0), input_shape=(5, 2))
    >>> for line in text.splitlines()[1:6]:
    ...     print(line)
    node    box                  reads     output shape  params
    ------  -------------------  --------  ------------  ------
    x       Input                          (5, 2)
    a1      Linear               x W1 b1   (5, 3)        9
    h1      Tanh                 a1        (5, 3)
    >>> for line in text.splitlines()[-2:]:
    ...     print(line)
    Total parameters: 17
    (shapes from one fprop of the output on inputs of shape (5, 2))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np

from ..core import Input, Node, Parameter
from ..core.block import Block
from ..errors import FlowgraphError, ModelError

__all__ = ["NodeRow", "node_rows", "output_shapes", "summary_text", "summary_html"]

NODE_HEAD = ("node", "box", "reads", "output shape", "params")
PARAM_HEAD = ("parameter", "shape", "dtype", "elements")


@dataclass
class NodeRow:
    """One line of the node table: the node's name, its box (or ``Input``), the names of its
    children, the shape of its value (None: unknown) and the parameter elements it reads first."""

    name: str
    box: str
    reads: tuple[str, ...]
    shape: tuple[int, ...] | None
    params: int


def box_name(node: Node) -> str:
    """``Linear``, ``LeakyReLU(slope=0.1)``, ``Block 'res'``: what the box column says."""
    if node.box is None:
        return type(node).__name__
    if isinstance(node.box, Block):
        return f"Block {node.box.name!r}"
    config = {}
    try:
        config = node.box.config()
    except (NotImplementedError, TypeError):
        pass
    args = ", ".join(f"{k}={v!r}" for k, v in config.items())
    return f"{type(node.box).__name__}({args})" if args else type(node.box).__name__


def output_shapes(model: Any, input_shape: Any = None) -> tuple[dict[int, tuple], str]:
    """The shape of each node's value, by ``id(node)``, and a note saying where they come from.

    Without ``input_shape``: the values the nodes hold (the last fprop). With it (a shape for
    the one feature Input, or a dict from feature names to shapes): one fprop of the
    prediction graph on zeros of those shapes, after which every node holds its former value
    and stamp again (``predict_graph`` may still backpropagate its own last fprop)."""
    if input_shape is None:
        shapes = {id(n): np.shape(n.value) for n in model.graph.order if n.value is not None}
        return shapes, "(shapes from the last fprop)" if len(shapes) > len(model.parameters) else (
            "(output shapes appear after an fprop, or with summary(input_shape=...))"
        )
    graph = model.predict_graph if model.predict_graph is not None else model.graph
    if not isinstance(input_shape, Mapping):
        if len(graph.inputs) != 1:
            raise ModelError(
                f"summary(input_shape=...) needs a dict naming the shape of each of "
                f"{[i.name for i in graph.inputs]}"
            )
        input_shape = {graph.inputs[0].name: input_shape}
    feed = {n: np.zeros(tuple(s), dtype=model.dtype) for n, s in input_shape.items()}
    kept = [(n, n.value, n.fprop_stamp) for n in model.graph.order]
    try:
        state = graph.fprop_state()
    except FlowgraphError:
        state = None
    try:
        graph.fprop(feed, check_finite=False)
        shapes = {id(n): np.shape(n.value) for n in graph.order}
    finally:
        for n, value, stamp in kept:
            n.value, n.fprop_stamp = value, stamp
        if state is not None:
            graph.restore_fprop_state(*state)
    what = (
        ", ".join(f"{k} {tuple(v)}" for k, v in input_shape.items())
        if len(feed) > 1
        else (f"{tuple(next(iter(input_shape.values())))}")
    )
    return shapes, f"(shapes from one fprop of the output on inputs of shape {what})"


def node_rows(model: Any, shapes: Mapping[int, tuple]) -> list[NodeRow]:
    """The node table: each Input and box node of ``model.graph`` in fprop order."""
    counted: set[int] = set()
    rows = []
    for n in model.graph.order:
        if isinstance(n, Input) or n.box is not None:
            new = [c for c in dict.fromkeys(n.children) if isinstance(c, Parameter)
                   and id(c) not in counted]  # fmt: skip
            counted.update(id(c) for c in new)
            reads = tuple(c.name or "?" for c in n.children)
            rows.append(NodeRow(n.name or "?", box_name(n), reads, shapes.get(id(n)),
                                sum(int(np.size(c.value)) for c in new)))  # fmt: skip
    return rows


def _shape_text(shape: tuple[int, ...] | None) -> str:
    return "?" if shape is None else str(tuple(int(s) for s in shape))


def _tables(model: Any, input_shape: Any) -> tuple[list[list[str]], list[list[str]], int, str]:
    """The cells of both tables (text), the total and the note on shapes."""
    shapes, note = output_shapes(model, input_shape)
    nodes = [
        [r.name, r.box, " ".join(r.reads), _shape_text(r.shape), str(r.params) if r.params else ""]
        for r in node_rows(model, shapes)
    ]
    params = [
        [p.name or "?", _shape_text(np.shape(p.value)), str(np.asarray(p.value).dtype),
         str(int(np.size(p.value)))]
        for p in model.parameters
    ]  # fmt: skip
    total = sum(int(np.size(p.value)) for p in model.parameters)
    return nodes, params, total, note


def _text_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    line = [head, ["-" * w for w in widths], *rows]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in line]


def summary_text(model: Any, input_shape: Any = None) -> str:
    """``model.summary()``: the node table, the parameter table and the total, as text."""
    nodes, params, total, note = _tables(model, input_shape)
    lines = [f"Model: {model!r}", *_text_table(NODE_HEAD, nodes), ""]
    if params:
        lines += [*_text_table(PARAM_HEAD, params), ""]
    return "\n".join([*lines, f"Total parameters: {total}", note])


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    def cell(tag: str, i: int, text: str) -> str:
        align = "right" if i in right else "left"
        return f'<{tag} style="text-align:{align}">{escape(text)}</{tag}>'

    th = "".join(cell("th", i, h) for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def summary_html(model: Any, input_shape: Any = None) -> str:
    """The summary as HTML tables (every text escaped), as Jupyter shows it below the
    model's picture."""
    nodes, params, total, note = _tables(model, input_shape)
    parts = [
        f"<p><b>{escape(repr(model))}</b></p>",
        _html_table(NODE_HEAD, nodes, {4}),
        _html_table(PARAM_HEAD, params, {3}) if params else "",
        f"<p>Total parameters: <b>{total}</b> <small>{escape(note)}</small></p>",
    ]
    return '<div class="flowgraph-summary">' + "".join(parts) + "</div>"
