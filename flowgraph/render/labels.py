"""What each node of the picture looks like: its kind, colours and outline, its label (title,
sweep positions, statistics of its value and gradient, warnings, check verdicts), its tooltip,
and the legend that explains them.

Labels are Graphviz HTML-like labels: a table of rows, text escaped with :func:`esc`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import graphviz
import numpy as np

from ..core import Buffer, Constant, Input, Mode, Node, Parameter, RandomSource
from ..core.block import Block
from .style import MUTED, STYLE, esc, font, num, shape_text
from .values import TINY, nonfinite, stats_rows, summarize, warning

__all__ = [
    "CHECK_MARK",
    "KINDS",
    "Marks",
    "node_id",
    "kind_of",
    "node_attributes",
    "label_rows",
    "constant_text",
    "tooltip",
    "legend",
]

CHECK_MARK = {"pass": "✓ pass", "fail": "✗ FAIL", "kink": "~ kink"}
# the kinds of node, in the legend's order, with the legend's words
KINDS = {
    "input": "input",
    "parameter": "parameter",
    "constant": "constant",
    "buffer": "buffer (state)",
    "state": "random key / mode",
    "box": "box",
    "output": "output / loss",
}


@dataclass(frozen=True)
class Marks:
    """What the picture shows on a node besides its name and kind (see ``to_dot``).

    ``values`` / ``grads``: statistics of fprop's value / bprop's gradient; ``order``: the
    box's position in the sweeps (``fprop``, ``bprop``: node name -> 1-based position);
    ``box_checks`` / ``param_checks``: check reports by node name; ``outputs``: the names of
    the graph's outputs; ``nan_sources``: the nodes where NaN or inf first appear in fprop.
    """

    values: bool = False
    grads: bool = False
    order: bool = False
    outputs: frozenset[str] = frozenset()
    fprop: Mapping[str, int] = field(default_factory=dict)
    bprop: Mapping[str, int] = field(default_factory=dict)
    box_checks: Mapping[str, Any] = field(default_factory=dict)
    param_checks: Mapping[str, Any] = field(default_factory=dict)
    nan_sources: frozenset[str] = frozenset()


def node_id(name: str) -> str:
    """A DOT id from a node name: letters and digits kept, ``_`` doubled, anything else
    ``_`` plus six hex digits (one-to-one, so distinct names never collide).

    >>> node_id("W_1"), node_id("a b")
    ('n_W__1', 'n_a_000020b')
    """
    out = ["n_"]
    for ch in name:
        if ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch == "_":
            out.append("__")
        else:
            out.append(f"_{ord(ch):06x}")
    return "".join(out)


def kind_of(n: Node, outputs: frozenset[str]) -> str:
    """``output`` for a graph output, else ``input``, ``parameter``, ``constant``, ``buffer``
    (running statistics), ``state`` (a random key or the mode, filled by the Graph) or
    ``box``."""
    if n.name in outputs:
        return "output"
    if isinstance(n, Input):
        return "input"
    if isinstance(n, Parameter):
        return "parameter"
    if isinstance(n, Constant):
        return "constant"
    if isinstance(n, Buffer):
        return "buffer"
    if isinstance(n, (RandomSource, Mode)):
        return "state"
    return "box"


def node_attributes(n: Node, marks: Marks) -> dict[str, str]:
    """The DOT attributes of node ``n``: its label, colours (by kind; by check verdict; the
    failure colour for NaN or inf), outline shape and tooltip."""
    kind = kind_of(n, marks.outputs)
    check = marks.box_checks.get(n.name)  # type: ignore[call-overload]
    bad = nonfinite(n.value) or nonfinite(n.grad)
    paint = "fail" if bad else (check.status if check is not None else kind)
    fill, line = STYLE[paint]
    attrs = {
        "label": '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
        + "".join(label_rows(n, kind, marks))
        + "</TABLE>>",
        "shape": "box",
        "style": "filled",
        "fillcolor": fill,
        "color": line,
        "tooltip": graphviz.escape(tooltip(n)),
    }
    if kind == "input":  # a tag
        attrs["shape"] = "cds"
        attrs["margin"] = "0.14,0.08"
    elif kind == "box":
        attrs["style"] = "filled,rounded"
    elif kind == "constant":
        attrs["style"] = "filled,dashed"
    elif kind == "buffer":  # a store of state
        attrs["shape"] = "cylinder"
    elif kind == "state":  # filled by the Graph at each fprop
        attrs["style"] = "filled,dotted"
    elif kind == "output":  # double outline
        attrs["style"] = "filled,rounded"
        attrs["peripheries"] = "2"
    if paint in ("fail", "pass", "kink"):
        attrs["penwidth"] = "2"
    return attrs


def _row(text: str, *, align: str = "") -> str:
    align = f' ALIGN="{align}"' if align else ""
    return f'<TR><TD{align} COLSPAN="5">{text}</TD></TR>'


def label_rows(n: Node, kind: str, marks: Marks) -> list[str]:
    """The rows of a node's label: title; what a Block computes inside; its positions in the
    sweeps; statistics of value and gradient; NaN / inf warnings; its check verdict."""
    name: str = n.name  # type: ignore[assignment]
    rows = [_row(_title(n, kind, marks))]
    if isinstance(n.box, Block):  # what the block computes inside
        inner = " → ".join(type(m.box).__name__ for m in n.box.graph.order if m.box)
        rows.append(_row(font(esc(inner), size=9, color=MUTED)))
    if marks.order and n.box is not None:
        b = marks.bprop.get(name)
        text = f"fprop #{marks.fprop[name]}  ·  bprop #{b if b is not None else '—'}"
        rows.append(_row(font(text, size=9, color=MUTED)))
    wanted = []
    if marks.values:
        wanted.append(("value", n.value))
    if marks.grads:
        wanted.append(("grad", n.grad))
    if wanted:
        rows += stats_rows(wanted)
    shown = {what for what, _ in wanted}
    for what, v in (("value", n.value), ("grad", n.grad)):
        if what not in shown and nonfinite(v):  # flagged even when not asked for
            rows.append(_row(warning(f"{what}: {summarize(v).problem()}"), align="LEFT"))
    if name in marks.nan_sources:
        rows.append(_row(warning("non-finite values start here"), align="LEFT"))
    check = _check_row(name, marks)
    if check is not None:
        rows.append(check)
    return rows


def _title(n: Node, kind: str, marks: Marks) -> str:
    """Box type and name for a box, the value for a constant, the name (and shape) otherwise."""
    name: str = n.name  # type: ignore[assignment]
    if n.box is not None:
        return f"<B>{esc(type(n.box).__name__)}</B>  {font(esc(name), color=MUTED)}"
    if kind == "constant":  # its value, not its generated name
        return f"<B>{esc(constant_text(n.value))}</B>"
    title = f"<B>{esc(name)}</B>"
    if n.value is not None and not (marks.values or marks.grads):
        title += "  " + font(esc(shape_text(np.shape(n.value))), color=MUTED)
    return title


def _check_row(name: str, marks: Marks) -> str | None:
    """The verdict of a box check (with the error of what failed: the gradient, a
    forward-mode rule, or both), or a parameter's end-to-end check; None when unchecked."""
    rep = marks.box_checks.get(name)
    if rep is not None:
        status = rep.status
        text = f"<B>{CHECK_MARK[status]}</B>"
        if status == "fail":
            if rep.failing_inputs or not rep.failing_rules:
                text += f"  max rel err {rep.max_rel_err:.2g}"
                if rep.failing_inputs:
                    text += f" (input {esc(', '.join(rep.failing_inputs))})"
            if rep.failing_rules:
                assert rep.jvp is not None
                text += (
                    f"  rule {esc(', '.join(rep.failing_rules))}: max rel err "
                    f"{rep.jvp.max_rel_err:.2g}"
                )
        return _row(font(text, color=STYLE[status][1]))
    pc = marks.param_checks.get(name)
    if pc is not None:
        text = f"end to end: {pc.status.lower()}"
        if not pc.ok:
            text += f", max rel err {pc.max_rel_err:.2g}"
        return _row(font(esc(text), size=9, color=MUTED))
    return None


def constant_text(value: Any) -> str:
    """A constant as drawn: its number (``0.5``, ``[1, 2]``), or its shape when it has many.

    >>> constant_text(0.5), constant_text([1.0, 2.0]), constant_text(np.zeros((3, 3)))
    ('0.5', '[1, 2]', 'constant 3×3')
    """
    arr = np.asarray(value)
    if arr.size == 1:
        return num(float(arr.ravel()[0]))
    if arr.size <= TINY and arr.ndim == 1:
        return "[" + ", ".join(num(float(v)) for v in arr) + "]"
    return f"constant {shape_text(arr.shape)}"


def tooltip(node: Node) -> str:
    """What hovering over a node says: its kind, name and shape, or its box's first line."""
    if isinstance(node, Parameter):
        v = np.asarray(node.value)
        return f"Parameter {node.name}: {v.shape} {v.dtype}"
    if isinstance(node, Input):
        return f"Input {node.name}"
    if isinstance(node, Constant):
        return f"Constant {node.name}: {constant_text(node.value)}"
    doc = (type(node.box).__doc__ or "").strip().splitlines()
    first = doc[0] if doc else ""
    return f"{type(node.box).__name__} {node.name}: {first}".strip().rstrip(":")


def _legend_cell(paint: str, text: str) -> str:
    fill, line = STYLE[paint]
    return f'<TD BGCOLOR="{fill}" COLOR="{line}" BORDER="1">{font(esc(text), size=9)}</TD>'


def legend(kinds: set[str], *, check: bool, nonfinite: bool, shapes: bool, order: bool) -> str:
    """The key below the picture: a swatch per kind of node drawn (and per check verdict,
    and for NaN / inf), then notes on what the arrows and numbers mean."""
    cells = [_legend_cell(k, words) for k, words in KINDS.items() if k in kinds]
    if check:
        cells += [_legend_cell(k, CHECK_MARK[k]) for k in ("pass", "fail", "kink")]
    if nonfinite:
        cells.append(_legend_cell("fail", "⚠ non-finite"))
    notes = []
    if shapes:
        notes.append("arrows: fprop direction, labelled with array shape")
    if order:
        notes.append("fprop # / bprop #: position in each sweep (— skipped)")
    for note in notes:
        cells.append(f"<TD>{font(esc(note), size=9, color=MUTED)}</TD>")
    return (
        '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="4" CELLPADDING="3"><TR>'
        + "".join(cells)
        + "</TR></TABLE>>"
    )
