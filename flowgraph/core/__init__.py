"""The core: boxes, nodes, the Graph that orders them, Blocks and the forward-mode sweep.

Read in this order: box.py (a box is math), graph.py (nodes and the Graph that orders,
accumulates and plans), block.py (a graph used as a box), forward.py (the forward-mode sweep).
"""

from .block import Block
from .box import Box, Outer
from .forward import JVPError, jvp
from .graph import Constant, Graph, Input, Node, Parameter, as_node

__all__ = [
    "Box", "Outer", "Node", "Input", "Parameter", "Constant", "Graph", "as_node", "Block",
    "jvp", "JVPError",
]  # fmt: skip
