"""A step plan as the straight-line code it runs: the lecture's backprop slide.

Each box may spell its fprop and bprop as NumPy lines (``code_fprop``, ``code_bprop``: format
strings over the node names, ``{0}`` ... its children, ``{out}`` its value, ``{g}`` its
gradient, ``{x}`` and ``{gx}`` the child and the gradient a bprop line computes, ``{all}``
the children separated by commas, ``{plus}`` by ``+``); a box without them is shown as the call
the plan makes. fprop lines come first, children before parents, then the bprop lines in
reverse order; a gradient that a second parent gives is computed apart and added in place.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["plan_code"]


def _fields(node: Any) -> dict[str, str]:
    names = [c.name for c in node.children]
    return {
        "out": node.name, "g": f"grad_{node.name}", "all": ", ".join(names),
        "plus": " + ".join(names), "N": "N",
    }  # fmt: skip


def fprop_line(node: Any, buffered: bool) -> str:
    box = node.box
    names = [c.name for c in node.children]
    template = getattr(box, "code_fprop", None)
    if template is None:  # (the same operations, into a buffer or into a fresh array)
        out = ", out=" + node.name if buffered else ""
        return f"{node.name} = {type(box).__name__}.fprop({', '.join(names)}{out})"
    return template.format(*names, **_fields(node))


def bprop_lines(node: Any, needs: tuple, seen: set[int], folded: set[int]) -> list[str]:
    """The lines of one box's bprop: one per child that needs a gradient."""
    box = node.box
    names = [c.name for c in node.children]
    template = getattr(box, "code_bprop", None)
    lines, extra = [], []
    for i, (child, need) in enumerate(zip(node.children, needs)):
        if not need:
            continue
        gx = f"grad_{child.name}"
        if id(child) in seen:  # a second parent: its share apart, then added in place
            extra.append(f"{gx} += {gx}_from_{node.name}")
            gx = f"{gx}_from_{node.name}"
        seen.add(id(child))
        if id(child) in folded and i == 1:
            g, h = f"grad_{node.name}", names[0]
            if np.shape(node.value)[:1] == (1,):  # one example: SGD's own rank-1 update
                lines.append(f"ger(-lr, {g}[0], {h}[0], a={child.name})  # SGD folded: "
                             f"{child.name} -= lr * outer({g}[0], {h}[0])")  # fmt: skip
                continue
            lines.append(
                f"gemm(-lr, {g}.T, {h}, beta=1, c={child.name})  # SGD folded: "
                f"{child.name} -= lr * {g}.T @ {h}"
            )
            continue
        if template is None:
            lines.append(
                f"{gx} = {type(box).__name__}.bprop(({', '.join(names)}), {node.name}, "
                f"grad_{node.name})[{i}]"
            )
            continue
        line = template[min(i, len(template) - 1)]
        lines.append(line.format(*names, x=child.name, gx=gx, **_fields(node)))
    return lines + extra


def _shape(value: Any) -> str:
    return f"{np.shape(value)} {getattr(value, 'dtype', type(value).__name__)}"


def plan_code(plan: Any) -> str:
    """The text ``print(plan)`` shows."""
    out = plan.output
    lines = [f"# the planned step of {out.describe()}: values and gradients in buffers reused "
             "between steps of the same shapes"]  # fmt: skip
    if plan.inputs and plan.inputs[0].value is not None:
        lines.append("# inputs: " + ", ".join(f"{i.name} {_shape(i.value)}" for i in plan.inputs))
    bufs = plan.buffers
    if bufs is not None and bufs.fsteps is not None:
        kernels = [n.name for n, call, _ in bufs.fsteps if call != n.box.fprop
                   and not hasattr(call, "keywords")]  # fmt: skip
        if kernels:
            names = ", ".join(kernels)
            lines.append(f"# from the second step of these shapes: the kernels of {names} "
                         "(these operations, checked at the first)")  # fmt: skip
    lines.append("# fprop")
    buffered = set()
    if plan.buffers is not None and plan.buffers.fsteps is not None:
        buffered = plan.buffers.buffered
    else:
        buffered = {id(n) for n, ok in zip(plan.nodes, plan.fprop_out) if ok}
    for node in plan.nodes:
        line = fprop_line(node, id(node) in buffered)
        if node.value is not None:
            line = f"{line:<64}  # {_shape(node.value)}"
        lines.append(line)
    lines.append("# bprop, in reverse order")
    lines.append(f"grad_{out.name} = 1")
    seen = {id(out)}
    folded = set(plan.folded)
    for node, needs in plan.bplan:
        lines.extend(bprop_lines(node, needs, seen, folded))
    return "\n".join(lines)
