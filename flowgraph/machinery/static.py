"""Shapes before fprop, from the shapes the Inputs declare (``Input("x", shape=(None, 784))``).

Each node built on declared Inputs carries ``probes``: its value at two sizes of every
undeclared axis (2 and 3), computed by its own box's fprop on its children's probes when the
node is made. An axis whose length is the same in both probes has that length; one that
differs follows an undeclared axis (the batch) and is None. A box refusing the probes' shapes
(a ShapeError) is refused when the node is built, with the shapes named: the error comes where
the mistake is written, not at the first fprop. Nothing is probed without declared shapes.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

from ..errors import FlowgraphError, ShapeError

Node: TypeAlias = Any  # the core's nodes, known here by their attributes (box, children, probes)

PROBE_SIZES = (2, 3)  # the two lengths given to every undeclared axis


def leaf_probes(node: Node) -> tuple[Any, Any] | None:
    """An Input's probes: ones (zeros for integer data: a valid label) of its declared shape
    at both probe sizes, or None when it declares no shape."""
    if node.declared_shape is None:
        return None
    fill = 0 if node.dtype.kind in "iub" else 1
    return tuple(  # type: ignore[return-value]
        np.full([n if d is None else d for d in node.declared_shape], fill, dtype=node.dtype)
        for n in PROBE_SIZES
    )


def probe(node: Node) -> None:
    """Give a new box node its probes when every child has some; a ShapeError of its box on
    them is raised now, naming the node, the box and the children's shapes."""
    kids = node.children
    if node.box is None or any(c.probes is None for c in kids):
        return
    probes = []
    for k in range(2):
        try:
            with np.errstate(all="ignore"):
                probes.append(node.box.fprop(*(c.probes[k] for c in kids)))  # type: ignore[index]
        except ShapeError as e:
            shapes = ", ".join(str(static_shape(c)) for c in kids)
            raise ShapeError(f"{node.describe()} on children of shapes {shapes}: {e}") from None
        except (FlowgraphError, ArithmeticError, ValueError, TypeError, IndexError):
            return  # the probes' values, not their shapes, displease the box: shape unknown
    node.probes = (probes[0], probes[1])


def static_shape(node: Node) -> tuple[int | None, ...] | None:
    """The shape known before fprop (None for an axis that follows the batch), or None."""
    if node.probes is None:
        return None
    a, b = (np.shape(v) for v in node.probes)
    if len(a) != len(b):
        return None
    return tuple(m if m == n else None for m, n in zip(a, b))
