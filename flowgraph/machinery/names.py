"""The names a Graph gives its nodes: the users' names kept, the others ``tanh1``, ``linear2``.

Names are what error messages, reports, pictures and model files call a node, so the same
construction must give the same names: a node without one is named by its box's type (or its
leaf kind) and its index among those, in the graph's order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import GraphError

__all__ = ["name_nodes"]


def name_nodes(order: Sequence[Any]) -> None:
    """Check that given names are unique and name the other nodes ``tanh1``, ``linear2``...

    A name another Graph gave a node (``auto_named``) is kept unless it clashes here (two
    graphs built separately may each have named a different node ``linear1``); then the node
    is renamed, as the names users give always win.
    """
    taken: dict[str, Any] = {}
    for n in order:
        if n.name is not None and not n.auto_named:
            if n.name in taken and taken[n.name] is not n:
                raise GraphError(
                    f"two nodes are named {n.name!r}: {taken[n.name].describe()} and "
                    f"{n.describe()}; names must be unique within a graph"
                )
            taken[n.name] = n
    to_name = []
    for n in order:
        if n.name is None or (n.auto_named and n.name in taken):
            to_name.append(n)
        elif n.auto_named:
            taken[n.name] = n
    counters: dict[str, int] = {}
    for n in to_name:
        base = type(n.box).__name__.lower() if n.box is not None else n.kind
        i = counters.get(base, 0) + 1
        while f"{base}{i}" in taken:
            i += 1
        counters[base] = i
        n.name, n.auto_named = f"{base}{i}", True
        taken[n.name] = n
