"""Pictures of flow graphs with Graphviz: what each node computes, and where a gradient goes.

``to_dot(graph)`` describes the graph in Graphviz's DOT language (a ``graphviz.Digraph``; no
binary needed); ``render(graph, "graph.svg")`` lays it out with Graphviz's ``dot``. Arrows go
the way fprop does, from the children h(k-1), W(k), b(k) of a box to the box computing

    a(k) = b(k) + W(k) h(k-1),    h(k) = g(a(k)),    f(x) = softmax(a(L+1)),

and bprop walks them backwards: the gradient of the loss at a child is the sum, over the
arrows leaving it, of what each parent's bprop sends back. Everything the picture can show is
switchable: the values of fprop and the gradients of bprop (shape, mean, std, min, max, or
the numbers themselves for tiny arrays), array shapes on the arrows, each box's position in
the fprop and bprop sweeps, the verdicts of ``check_graph`` / ``check_box``, and the layers
of a network drawn as clusters. Node ids come from node names, so one graph always gives the
same text.
"""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphviz
import numpy as np

from ._atomic import atomic_write
from .boxes.linear import Linear
from .core import Constant, Graph, Input, Node, Parameter
from .core.block import Block
from .errors import FlowgraphError
from .gradcheck import BoxReport, GraphReport

__all__ = ["to_dot", "render", "to_svg", "GraphvizNotFoundError", "FORMATS"]

# Output formats `render` knows by the file's suffix ("dot" needs no Graphviz binary).
FORMATS = ("svg", "png", "pdf", "dot")

INSTALL_HINT = (
    "install Graphviz, which provides `dot`: `sudo apt-get install graphviz` (Debian/Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`"
)

# A colour-blind-safe palette: the Okabe-Ito hues for meaning (blue input, yellow parameter,
# purple output; bluish green / vermillion / orange for pass / fail / kink), pale tints as
# fills so that black text stays readable. Kinds are also told apart by outline shape.
FONT = "Helvetica,Arial,sans-serif"
TEXT = "#222222"
MUTED = "#6b6b6b"
EDGE = "#7a7a7a"
STYLE = {
    #           fill       outline
    "input": ("#dcecf8", "#0072b2"),
    "parameter": ("#fbf3c4", "#a08a00"),
    "box": ("#f4f4f4", "#555555"),
    "constant": ("#ffffff", "#8c8c8c"),
    "output": ("#f3e0ec", "#a2527f"),
    "pass": ("#d2efe4", "#009e73"),
    "fail": ("#fad9c6", "#d55e00"),
    "kink": ("#fbe9bd", "#e69f00"),
}
CHECK_MARK = {"pass": "✓ pass", "fail": "✗ FAIL", "kink": "~ kink"}
TINY = 6  # arrays with at most this many elements show their numbers


class GraphvizNotFoundError(FlowgraphError):
    """Graphviz's ``dot`` program is not on PATH; the message says how to install it."""


# -- names, escaping ---------------------------------------------------------------------------


def _node_id(name: str) -> str:
    """A DOT id from a node name: letters and digits kept, ``_`` doubled, anything else
    ``_`` plus six hex digits (one-to-one, so distinct names never collide)."""
    out = ["n_"]
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "_":
            out.append("__")
        else:
            out.append(f"_{ord(ch):06x}")
    return "".join(out)


def _esc(text: str) -> str:
    """Text for a Graphviz HTML-like label: markup characters escaped, control characters
    (a newline in a name) shown as their Python escapes."""
    text = "".join(repr(ch)[1:-1] if not ch.isprintable() else ch for ch in text)
    return html.escape(text, quote=True)


def _font(text: str, *, size: float | None = None, color: str | None = None) -> str:
    attrs = ""
    if size is not None:
        attrs += f' POINT-SIZE="{size:g}"'
    if color is not None:
        attrs += f' COLOR="{color}"'
    return f"<FONT{attrs}>{text}</FONT>"


def _shape_text(shape: Sequence[int]) -> str:
    """``8×4`` for an (8, 4) array, ``scalar`` for a 0-d one."""
    return "×".join(str(d) for d in shape) if len(shape) else "scalar"


def _num(x: float, digits: int = 3) -> str:
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.{digits}g}"


# -- summaries of values and gradients ---------------------------------------------------------


@dataclass
class _Summary:
    """Shape, mean, std, min, max of the finite entries, and counts of NaN and inf."""

    shape: tuple[int, ...]
    numbers: np.ndarray | None = None  # the array itself when tiny
    stats: tuple[float, float, float, float] | None = None
    n_nan: int = 0
    n_inf: int = 0
    dtype: str | None = None  # set for arrays that are not real numbers

    @property
    def finite(self) -> bool:
        return self.n_nan == 0 and self.n_inf == 0

    def problem(self) -> str:
        parts = []
        if self.n_nan:
            parts.append(f"{self.n_nan} NaN")
        if self.n_inf:
            parts.append(f"{self.n_inf} inf")
        return ", ".join(parts)


def _summarize(value: Any) -> _Summary:
    arr = np.asarray(value)
    s = _Summary(shape=tuple(arr.shape))
    if arr.dtype.kind in "fc":
        s.n_nan = int(np.isnan(arr).sum())
        s.n_inf = int(np.isinf(arr).sum())
    if arr.dtype.kind not in "biuf":  # strings, objects, complex: the shape and dtype only
        s.dtype = str(arr.dtype)
        return s
    if arr.size <= TINY and arr.ndim <= 2:
        s.numbers = arr
        return s
    flat = arr.reshape(-1)
    if arr.dtype.kind == "f" and not s.finite:
        flat = flat[np.isfinite(flat)]
    if flat.size:
        f64 = flat.astype(np.float64)
        lo, hi = flat.min(), flat.max()
        if arr.dtype.kind != "f":  # integer labels keep integer bounds
            lo, hi = int(lo), int(hi)
        s.stats = (float(f64.mean()), float(f64.std()), lo, hi)
    return s


def _nonfinite(value: Any) -> bool:
    if value is None:
        return False
    arr = np.asarray(value)
    return arr.dtype.kind in "fc" and not bool(np.all(np.isfinite(arr)))


def _numbers_html(arr: np.ndarray) -> str:
    """The entries of a tiny array as a small grid (a row per matrix row)."""
    if arr.ndim == 0:
        return _font(_esc(_num(arr.item(), 5)))
    rows = arr.reshape(1, -1) if arr.ndim == 1 else arr
    cells = "".join(
        "<TR>" + "".join(f'<TD ALIGN="RIGHT">{_esc(_num(v, 3))}</TD>' for v in row) + "</TR>"
        for row in rows.tolist()
    )
    return f'<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{cells}</TABLE>'


def _warning(text: str) -> str:
    return _font(f"<B>⚠ {_esc(text)}</B>", color=STYLE["fail"][1])


def _stats_rows(rows: list[tuple[str, Any]]) -> list[str]:
    """Table rows for ``[("value", array), ("grad", array or None)]``: a header with the
    shape and the column names, then one row per array."""
    summaries = [(what, None if v is None else _summarize(v)) for what, v in rows]
    shapes = {s.shape for _, s in summaries if s is not None}
    shape = _shape_text(next(iter(shapes))) if len(shapes) == 1 else ""
    out = []
    if any(s is not None and s.stats is not None for _, s in summaries):
        head = "".join(
            f'<TD ALIGN="RIGHT" CELLPADDING="2">{_font(h, size=8, color=MUTED)}</TD>'
            for h in ("mean", "std", "min", "max")
        )
        out.append(
            f'<TR><TD ALIGN="LEFT">{_font(_esc(shape), size=8, color=MUTED)}</TD>{head}</TR>'
        )
    elif shape:
        out.append(
            f'<TR><TD ALIGN="LEFT" COLSPAN="5">{_font(_esc(shape), size=8, color=MUTED)}</TD></TR>'
        )
    for what, s in summaries:
        label = f'<TD ALIGN="LEFT">{_font(what, color=MUTED)}</TD>'
        if s is not None and len(shapes) > 1:  # value and grad of different shapes: say so
            text = f"{what} {_esc(_shape_text(s.shape))}"
            label = f'<TD ALIGN="LEFT">{_font(text, color=MUTED)}</TD>'
        if s is None:
            body = f'<TD ALIGN="LEFT" COLSPAN="4">{_font("—", color=MUTED)}</TD>'
        elif s.numbers is not None:
            body = f'<TD ALIGN="LEFT" COLSPAN="4">{_numbers_html(s.numbers)}</TD>'
        elif s.stats is not None:
            body = "".join(
                f'<TD ALIGN="RIGHT" CELLPADDING="2">{_esc(_num(v))}</TD>' for v in s.stats
            )
        elif s.dtype is not None:
            body = f'<TD ALIGN="LEFT" COLSPAN="4">{_font(_esc(s.dtype), color=MUTED)}</TD>'
        else:
            body = f'<TD ALIGN="LEFT" COLSPAN="4">{_warning("all non-finite: " + s.problem())}</TD>'
        out.append(f"<TR>{label}{body}</TR>")
        if s is not None and not s.finite and (s.stats is not None or s.numbers is not None):
            out.append(
                f'<TR><TD ALIGN="LEFT" COLSPAN="5">{_warning(what + ": " + s.problem())}</TD></TR>'
            )
    return out


# -- layers ------------------------------------------------------------------------------------


@dataclass
class _Layer:
    name: str
    anchor: Node
    members: list[Node] = field(default_factory=list)
    caption: str = ""


def _layers(graph: Graph) -> list[_Layer]:
    """The layers of a graph, found from its structure alone (works for hand-built graphs).

    A layer is anchored on a box that owns Parameters: every Linear box first, then any other
    box of fixed arity with a Parameter no layer has claimed (a user's own affine box); never
    a variadic box such as L2Penalty, which reads the weights of every layer. The layer holds
    its anchor, the Parameter children it claims first (W(k), b(k)) and, when the anchor's only
    consumer is a one-input box (the activation g, or softmax), that box too. Layers are
    numbered in fprop order and named from their parameters (``W1``, ``b1`` -> ``layer 1``).
    """
    boxes = [n for n in graph.order if n.box is not None]
    parents: dict[str, list[Node]] = {n.name: [] for n in graph.order}  # type: ignore[misc]
    for n in boxes:
        for c in n.children:
            if not any(p is n for p in parents[c.name]):  # type: ignore[index]
                parents[c.name].append(n)  # type: ignore[index]
    claimed: set[str] = set()
    anchors: list[Node] = []
    for n in boxes:  # Linear boxes claim their parameters first
        if isinstance(n.box, Linear):
            anchors.append(n)
            claimed.update(c.name for c in n.children if isinstance(c, Parameter))  # type: ignore[misc]
    for n in boxes:
        if isinstance(n.box, (Linear, Block)) or n.box.arity is None:  # type: ignore[union-attr]
            continue  # (a Block's use is drawn as its own cluster)
        if any(isinstance(c, Parameter) and c.name not in claimed for c in n.children):
            anchors.append(n)
            claimed.update(c.name for c in n.children if isinstance(c, Parameter))  # type: ignore[misc]
    position = {n.name: i for i, n in enumerate(graph.order)}
    anchors.sort(key=lambda n: position[n.name])

    taken: set[str] = set()
    in_layer: set[str] = set()
    layers: list[_Layer] = []
    for k, a in enumerate(anchors, start=1):
        params = [
            c
            for c in dict.fromkeys(a.children)
            if isinstance(c, Parameter) and c.name not in in_layer
        ]
        members: list[Node] = [*params, a]
        consumers = parents[a.name]  # type: ignore[index]
        act = None
        if (
            len(consumers) == 1
            and len(consumers[0].children) == 1
            and not isinstance(consumers[0].box, Block)
        ):
            act = consumers[0]
            if act.name not in in_layer and act not in graph.outputs:
                members.append(act)
            else:
                act = None
        in_layer.update(m.name for m in members)  # type: ignore[misc]
        name = _layer_name([p.name for p in params], k)  # type: ignore[misc]
        while name in taken:
            name = f"{name}'"
        taken.add(name)
        caption = name
        if isinstance(a.box, Linear) and len(a.children) == 3:
            W = a.children[1].value
            if W is not None and np.ndim(W) == 2:
                caption += f" · {np.shape(W)[1]} → {np.shape(W)[0]}"
        if act is not None:
            caption += f" · {type(act.box).__name__}"
        layers.append(_Layer(name, a, members, caption))
    return layers


def _block_uses(graph: Graph) -> list[tuple[str, list[Node]]]:
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


def _layer_name(param_names: list[str], k: int) -> str:
    """``layer 1`` for W1, b1; ``enc`` for enc.W, enc.b; else ``layer k``."""
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


# -- the picture -------------------------------------------------------------------------------


def _as_graph(graph: Any) -> Graph:
    if isinstance(graph, Graph):
        return graph
    inner = getattr(graph, "graph", None)  # a Model holds its graph
    if isinstance(inner, Graph):
        return inner
    raise FlowgraphError(
        f"expected a flowgraph Graph (or a Model with .graph), got {type(graph).__name__}"
    )


def _check_by_node(graph: Graph, check: Any) -> tuple[dict[str, BoxReport], dict[str, Any]]:
    """Box reports by node name, and the end-to-end parameter checks by name."""
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


def _bprop_positions(graph: Graph) -> dict[str, int]:
    """1-based position of each box in the bprop sweep down to the parameters (the same plan
    Graph.bprop follows: boxes reaching no parameter are skipped)."""
    if not graph.parameters:
        return {}
    plan = graph.plan(graph.outputs[0], tuple(graph.parameters))
    return {node.name: i for i, (node, _) in enumerate(plan, start=1)}  # type: ignore[misc]


def _constant_text(value: Any) -> str:
    """A constant as drawn: its number (``0.5``, ``[1, 2]``), or its shape when it has many."""
    arr = np.asarray(value)
    if arr.size == 1:
        return _num(float(arr.ravel()[0]))
    if arr.size <= TINY and arr.ndim == 1:
        return "[" + ", ".join(_num(float(v)) for v in arr) + "]"
    return f"constant {_shape_text(arr.shape)}"


def _tooltip(node: Node) -> str:
    if isinstance(node, Parameter):
        v = np.asarray(node.value)
        return f"Parameter {node.name}: {v.shape} {v.dtype}"
    if isinstance(node, Input):
        return f"Input {node.name}"
    if isinstance(node, Constant):
        return f"Constant {node.name}: {_constant_text(node.value)}"
    doc = (type(node.box).__doc__ or "").strip().splitlines()
    first = doc[0] if doc else ""
    return f"{type(node.box).__name__} {node.name}: {first}".strip().rstrip(":")


def _legend_cell(paint: str, text: str) -> str:
    fill, line = STYLE[paint]
    return f'<TD BGCOLOR="{fill}" COLOR="{line}" BORDER="1">{_font(_esc(text), size=9)}</TD>'


def _legend(kinds: list[str], *, check: bool, nonfinite: bool, shapes: bool, order: bool) -> str:
    names = {
        "input": "input",
        "parameter": "parameter",
        "box": "box",
        "constant": "constant",
        "output": "output / loss",
        "pass": CHECK_MARK["pass"],
        "fail": CHECK_MARK["fail"],
        "kink": CHECK_MARK["kink"],
    }
    keys = [k for k in ("input", "parameter", "constant", "box", "output") if k in kinds]
    if check:
        keys += ["pass", "fail", "kink"]
    cells = [_legend_cell(k, names[k]) for k in keys]
    if nonfinite:
        cells.append(_legend_cell("fail", "⚠ non-finite"))
    notes = []
    if shapes:
        notes.append("arrows: fprop direction, labelled with array shape")
    if order:
        notes.append("fprop # / bprop #: position in each sweep (— skipped)")
    for note in notes:
        cells.append(f"<TD>{_font(_esc(note), size=9, color=MUTED)}</TD>")
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="3"><TR>'
        + "".join(cells)
        + "</TR></TABLE>>"
    )


def to_dot(
    graph: Graph,
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

    ``graph`` is a Graph (or a Model, whose ``.graph`` is drawn). Nodes by kind: Inputs (blue
    tags: x, y), Parameters (yellow boxes with name and shape:
    W(k), b(k)), boxes (grey, rounded, with type and name: the Linear computing a(k) = b(k) +
    W(k) h(k-1), the Tanh computing h(k) = g(a(k)), ...) and the graph's outputs (purple,
    double outline: f(x) or the loss -log f(x)_y + lambda Omega(theta)); a legend below.

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
    """
    graph = _as_graph(graph)
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise FlowgraphError(f"rankdir must be one of LR, TB, RL, BT, got {rankdir!r}")
    box_checks, param_checks = _check_by_node(graph, check)
    boxes = [n for n in graph.order if n.box is not None]
    fpos = {n.name: i for i, n in enumerate(boxes, start=1)}
    bpos = _bprop_positions(graph) if order else {}
    outputs = {o.name for o in graph.outputs}

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

    kinds_seen: list[str] = []
    any_nonfinite = False
    # where NaN or inf first appear in fprop: a node holding them whose children are all finite
    sources = {
        n.name
        for n in graph.order
        if _nonfinite(n.value) and not any(_nonfinite(c.value) for c in n.children)
    }

    def node_stmt(target: graphviz.Digraph, n: Node) -> None:
        nonlocal any_nonfinite
        name: str = n.name  # type: ignore[assignment]
        if n.name in outputs:
            kind = "output"
        elif isinstance(n, Input):
            kind = "input"
        elif isinstance(n, Parameter):
            kind = "parameter"
        elif isinstance(n, Constant):
            kind = "constant"
        else:
            kind = "box"
        if kind not in kinds_seen:
            kinds_seen.append(kind)
        status = box_checks[name].status if name in box_checks else None
        bad = _nonfinite(n.value) or _nonfinite(n.grad)
        any_nonfinite |= bad
        paint = "fail" if bad else (status or kind)
        fill, line = STYLE[paint]

        rows: list[str] = []
        if n.box is not None:
            title = f"<B>{_esc(type(n.box).__name__)}</B>  {_font(_esc(name), color=MUTED)}"
        elif kind == "constant":  # its value, not its generated name
            title = f"<B>{_esc(_constant_text(n.value))}</B>"
        else:
            title = f"<B>{_esc(name)}</B>"
            if n.value is not None and not (values or grads):
                title += "  " + _font(_esc(_shape_text(np.shape(n.value))), color=MUTED)
        rows.append(f'<TR><TD COLSPAN="5">{title}</TD></TR>')
        if isinstance(n.box, Block):  # what the block computes inside
            inner = " → ".join(type(m.box).__name__ for m in n.box.graph.order if m.box)
            rows.append(f'<TR><TD COLSPAN="5">{_font(_esc(inner), size=9, color=MUTED)}</TD></TR>')
        if order and n.box is not None:
            b = bpos.get(name)
            text = f"fprop #{fpos[name]}  ·  bprop #{b if b is not None else '—'}"
            rows.append(f'<TR><TD COLSPAN="5">{_font(text, size=9, color=MUTED)}</TD></TR>')
        wanted = []
        if values:
            wanted.append(("value", n.value))
        if grads:
            wanted.append(("grad", n.grad))
        if wanted:
            rows += _stats_rows(wanted)
        shown = {what for what, _ in wanted}
        for what, v in (("value", n.value), ("grad", n.grad)):
            if what not in shown and _nonfinite(v):  # flagged even when not asked for
                text = _warning(f"{what}: {_summarize(v).problem()}")
                rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="5">{text}</TD></TR>')
        if name in sources:
            start = _warning("non-finite values start here")
            rows.append(f'<TR><TD ALIGN="LEFT" COLSPAN="5">{start}</TD></TR>')
        if status is not None:
            rep = box_checks[name]
            text = f"<B>{CHECK_MARK[status]}</B>"
            if status == "fail":  # the error of what failed: the gradient, a rule, or both
                if rep.failing_inputs or not rep.failing_rules:
                    text += f"  max rel err {rep.max_rel_err:.2g}"
                    if rep.failing_inputs:
                        text += f" (input {_esc(', '.join(rep.failing_inputs))})"
                if rep.failing_rules:
                    assert rep.jvp is not None
                    text += (
                        f"  rule {_esc(', '.join(rep.failing_rules))}: max rel err "
                        f"{rep.jvp.max_rel_err:.2g}"
                    )
            rows.append(f'<TR><TD COLSPAN="5">{_font(text, color=STYLE[status][1])}</TD></TR>')
        elif name in param_checks:
            pc = param_checks[name]
            text = f"end to end: {pc.status.lower()}"
            if not pc.ok:
                text += f", max rel err {pc.max_rel_err:.2g}"
            rows.append(f'<TR><TD COLSPAN="5">{_font(_esc(text), size=9, color=MUTED)}</TD></TR>')
        label = (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows)
            + "</TABLE>>"
        )
        attrs = {
            "label": label,
            "shape": "box",
            "style": "filled",
            "fillcolor": fill,
            "color": line,
            "tooltip": graphviz.escape(_tooltip(n)),
        }
        if kind == "input":
            attrs["shape"] = "cds"
            attrs["margin"] = "0.14,0.08"
        elif kind == "box":
            attrs["style"] = "filled,rounded"
        elif kind == "constant":
            attrs["style"] = "filled,dashed"
        elif kind == "output":
            attrs["style"] = "filled,rounded"
            attrs["peripheries"] = "2"
        if paint in ("fail", "pass", "kink"):
            attrs["penwidth"] = "2"
        target.node(_node_id(name), **attrs)

    layers = _layers(graph) if group else []
    layer_of = {m.name: i for i, layer in enumerate(layers) for m in layer.members}
    for i, layer in enumerate(layers):
        with dot.subgraph(name=f"cluster_layer{i + 1}") as sub:
            sub.attr(
                label=f"<{_font('<B>' + _esc(layer.caption) + '</B>', size=10, color=MUTED)}>",
                style="rounded,filled",
                fillcolor="#fafafa",
                color="#c8c8c8",
                labeljust="l",
                labelloc="b",  # below: arrows into a layer come from above and the left
                margin="8",
            )
            for n in graph.order:
                if layer_of.get(n.name) == i:
                    node_stmt(sub, n)
    uses = _block_uses(graph)
    block_of = {m.name: i for i, (_, members) in enumerate(uses) for m in members}
    for i, (caption, members) in enumerate(uses):
        with dot.subgraph(name=f"cluster_block{i + 1}") as sub:
            sub.attr(
                label=f"<{_font('<B>' + _esc(caption) + '</B>', size=10, color=MUTED)}>",
                style="rounded,dashed",
                color="#8c8c8c",
                labeljust="l",
                margin="8",
            )
            for n in members:
                node_stmt(sub, n)
    for n in graph.order:
        if n.name not in layer_of and n.name not in block_of:
            node_stmt(dot, n)

    for n in boxes:
        for c in n.children:
            attrs = {}
            if shapes and c.value is not None:
                attrs["label"] = _shape_text(np.shape(c.value))
            if (
                isinstance(c, Parameter)
                and c.name in layer_of
                and layer_of.get(n.name) != layer_of[c.name]
            ):
                # a weight read outside its layer (by a penalty Omega): drawn lighter and left out
                # of the ranking, so that it does not pull the layers apart
                # (and unlabelled: the weight's node shows its shape)
                attrs.update(constraint="false", color="#b5b5b5")
                attrs.pop("label", None)
            elif not isinstance(c, Parameter):
                attrs["weight"] = "4"  # keep the main path h(k-1) -> a(k) -> h(k) straight
            dot.edge(_node_id(c.name), _node_id(n.name), **attrs)  # type: ignore[arg-type]

    if legend:
        dot.attr(
            "graph",
            label=_legend(
                kinds_seen,
                check=bool(box_checks),
                nonfinite=any_nonfinite,
                shapes=shapes,
                order=order,
            ),
        )
    return dot


# -- running Graphviz --------------------------------------------------------------------------


def _run_dot(dot: graphviz.Digraph, fmt: str) -> bytes:
    """Lay ``dot`` out with Graphviz's ``dot`` program (through the graphviz package) as
    ``fmt``; :class:`GraphvizNotFoundError` when the program is not on PATH."""
    if fmt == "png":
        dot = dot.copy()
        dot.graph_attr["dpi"] = "144"  # crisp on high-density screens and slides
    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise GraphvizNotFoundError(f"Graphviz's `dot` is not on PATH; {INSTALL_HINT}") from None
    except graphviz.CalledProcessError as e:
        err = (e.stderr or b"").decode("utf-8", "replace").strip()
        raise FlowgraphError(f"Graphviz `dot -T{fmt}` failed (status {e.returncode}): {err}") from e


def render(graph: Graph, path: str | os.PathLike, **options: Any) -> Path:
    """Draw ``graph`` into ``path``: SVG, PNG or PDF by the file's suffix (``.dot`` writes the
    DOT text). ``options`` are those of :func:`to_dot` (values, grads, shapes, order, check,
    rankdir, group, legend). Returns the path written.

    The file is written atomically (a temporary file, then a rename). Without Graphviz's
    ``dot`` on PATH, the DOT text is written beside (``graph.svg`` -> ``graph.dot``) and a
    :class:`GraphvizNotFoundError` says how to install Graphviz.

    Parameters
    ----------
    graph
        A :class:`~flowgraph.Graph`, or anything holding one as ``.graph`` (a Model).
    path
        The picture: ``.svg``, ``.png``, ``.pdf``, or ``.dot`` for the text only.
    **options
        ``values``, ``grads`` (statistics of fprop's values and bprop's gradients),
        ``shapes``, ``order``, ``check`` (a report of :func:`flowgraph.check_graph`),
        ``rankdir``, ``group``, ``legend``: see :func:`to_dot`.

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    GraphvizNotFoundError
        Graphviz's ``dot`` is not installed (the ``.dot`` file is written all the same).

    Examples
    --------
    >>> import tempfile, pathlib, flowgraph as fg
    >>> model = fg.mlp([2, 4, 3], seed=0)
    >>> X, y = fg.datasets.make_blobs(8, seed=0)
    >>> loss = model.train_graph.fprop({model.x: X, model.y: y}); model.train_graph.bprop()
    >>> path = fg.render(model.train_graph, pathlib.Path(tempfile.mkdtemp()) / "mlp.svg",
    ...                  values=True, grads=True)
    >>> path.read_text().startswith("<?xml")
    True
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise FlowgraphError(
            f"cannot tell the picture format from {str(path)!r}: use a suffix among "
            + ", ".join("." + f for f in FORMATS)
        )
    dot = to_dot(graph, **options)
    source = dot.source.encode("utf-8")
    if fmt == "dot":
        return atomic_write(path, lambda f: f.write(source))
    try:
        picture = _run_dot(dot, fmt)
    except GraphvizNotFoundError:
        dot_file = atomic_write(path.with_suffix(".dot"), lambda f: f.write(source))
        raise GraphvizNotFoundError(
            f"Graphviz's `dot` is not on PATH, so {str(path)!r} was not drawn; its DOT text is in "
            f"{str(dot_file)!r} (draw it later with `dot -T{fmt} {dot_file} -o {path}`). To fix, "
            + INSTALL_HINT
        ) from None
    return atomic_write(path, lambda f: f.write(picture))


def to_svg(graph: Graph, **options: Any) -> str | None:
    """The SVG text of ``graph`` (options as in :func:`to_dot`), or ``None`` with a warning
    saying how to install Graphviz when ``dot`` is not on PATH: Jupyter, which calls this
    through ``Graph._repr_svg_``, then shows the text repr instead of a picture."""
    try:
        return _run_dot(to_dot(graph, **options), "svg").decode("utf-8")
    except GraphvizNotFoundError:
        warnings.warn(
            "cannot draw the graph: Graphviz's `dot` is not on PATH; " + INSTALL_HINT,
            RuntimeWarning,
            stacklevel=2,
        )
        return None
