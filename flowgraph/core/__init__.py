"""The core: boxes, nodes, the Graph that orders them, Blocks and the forward-mode sweep.

Read in this order: box.py (a box is math), node.py (nodes, and the operators that make
them), graph.py (the Graph that orders, accumulates and plans), block.py (a graph used as a
box), forward.py (the forward-mode sweep), rank1.py (the one rank-1 fast path). What the core
calls in one line and a reader of the lecture may skip (node names, error sentences, shapes
before fprop, the leaves of randomness and state, a Block's kept values) is
:mod:`flowgraph.machinery`; the planned step, an optimisation of the same loops,
:mod:`flowgraph.step`.
"""

# isort: off
# node first: it ends by importing the arithmetic boxes (the one import circle, see node.py),
# which import core.box, which needs node.Node already defined
from .node import Buffer, Constant, Input, Mode, Node, Parameter, RandomSource, as_node

# isort: on
from .block import Block
from .box import Box
from .forward import JVPError, jvp
from .graph import Graph
from .rank1 import Outer

__all__ = [
    "Box", "Outer", "Node", "Input", "Parameter", "Constant", "RandomSource", "Mode", "Buffer",
    "Graph", "as_node", "Block",
    "jvp", "JVPError",
]  # fmt: skip
