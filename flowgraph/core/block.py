"""A Graph used as a box: a layer or a residual block written once, applied many times."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import GraphError
from ..machinery.uses import Uses
from .box import Box
from .graph import Graph
from .node import Input, Node


class _has_jvp:  # noqa: N801 (used as a method name)
    """``Block.has_jvp()`` is True (the class defines the rules); ``block.has_jvp()`` says
    whether this block's inner boxes all have them, so that an analysis can fall back."""

    def __get__(self, obj: Block | None, cls: type) -> Any:
        if obj is None:
            return lambda: True
        return lambda: all(n.box.has_jvp() for n in obj._inner_boxes())  # type: ignore[union-attr]


class Block(Box):
    """An inner Graph as one box: its listed Inputs become the box's children, in order.

    ``Block(graph, inputs=[h, W, b], name="res")`` with ``graph`` computing, say,
    y = h + tanh(h W^T + b). A block holds no Parameters: its weights are Inputs, and each
    use passes its own Parameters as children, so each use gets its own gradients. A graph
    with several outputs gives one node per output: ``y1, y2 = block(h, W, b)``.

    fprop:  y_i = the inner graph's output i, computed from the children's values fed to
            the inner Inputs (once per use: the other output nodes of that use take theirs)
    bprop:  grad_x = the inner graph's bprop(wrt=inputs, output=y_i, grad_output=grad_y_i):
            the chain rule through the inner boxes, for each inner Input x

    The uses share one inner graph. Each fprop keeps the inner values it computed for its
    use, so that bprop and forward mode put them back instead of computing the inner graph
    again (:mod:`flowgraph.machinery.uses`, held only while the outer graph holds the use's
    arrays); the other output nodes of a use take the values its first output computed.
    """

    arity: int | None
    _parts: list[Block]  # this box and the boxes of its other outputs (set in __init__)

    def __init__(self, graph: Graph, inputs: Sequence[Input], *, name: str = "block"):
        if not isinstance(graph, Graph):
            raise GraphError(f"Block needs a Graph, got {type(graph).__name__}")
        inputs = list(inputs)
        for i, x in enumerate(inputs):
            if not isinstance(x, Input) or x not in graph:
                raise GraphError(
                    f"Block {name!r}: inputs[{i}] ({x!r}) must be an Input of the block's graph "
                    f"(its Inputs: {[n.name for n in graph.inputs]})"
                )
        missing = [n.name for n in graph.inputs if not any(n is x for x in inputs)]
        if missing or len({id(x) for x in inputs}) != len(inputs):
            raise GraphError(
                f"Block {name!r}: inputs must list each Input of the graph once; missing "
                f"{missing}, given {[x.name for x in inputs]}"
            )
        if graph.parameters:
            raise GraphError(
                f"Block {name!r}: the graph holds Parameters {[p.name for p in graph.parameters]}"
                "; make them Inputs of the block and pass each use its own Parameters"
            )
        state = [n.name for n in (*graph.randoms, *graph.modes, *graph.buffers)]
        if state:  # filled by the outer graph, which cannot see inside a box
            raise GraphError(
                f"Block {name!r}: the graph holds random sources, modes or buffers {state}; make "
                "them Inputs of the block (u, mode, running statistics) and pass each use "
                "fg.uniform_like(x), a fg.Mode() and Buffers as children"
            )
        self.graph, self.inputs, self.name = graph, inputs, name
        self.arity, self.input_names = len(inputs), tuple(x.name for x in inputs)
        self.index = 0  # the inner output this box computes; Block.output(i) for the others
        slot = {id(n): i for i, n in enumerate(graph.stamped)}  # by identity (== makes masks)
        self._uses = Uses(len(graph.outputs), [(slot[id(x)], k) for k, x in enumerate(inputs)])
        is_input = {id(x) for x in inputs}
        self._constants = [n for n in graph.order if n.box is None and id(n) not in is_input]
        parts = [self] + [copy.copy(self) for _ in graph.outputs[1:]]
        for i, part in enumerate(parts):
            part.index, part._parts = i, parts

    @classmethod
    def example(cls) -> Block:
        h, W, b = Input("h"), Input("W"), Input("b")
        y = h + ((h @ W.T) + b) ** 2 / 4  # a residual unit of boxes with forward-mode rules
        return cls(Graph(y), [h, W, b], name="residual")

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal((3, 3)), rng.standard_normal(3)

    def config(self) -> dict:
        raise NotImplementedError(
            f"Block {self.name!r} holds a graph, which a constructor argument in JSON cannot "
            "hold: save the model that uses it"
        )

    @property
    def n_outputs(self) -> int:
        return len(self._parts)

    @property
    def root(self) -> Block:
        """The block as built (``block.output(i).root is block``): what its uses share."""
        return self._parts[0]

    def output(self, i: int) -> Block:
        """The box computing the inner graph's output i (a view sharing this block's graph)."""
        return self._parts[i]

    def __call__(self, *children: Node, name: str | None = None) -> Any:
        """One node per inner output (a node, or a tuple of nodes for several outputs)."""
        if len(self._parts) == 1:
            return Box.__call__(self, *children, name=name)
        return tuple(
            Box.__call__(part, *children, name=None if name is None else f"{name}_{out.name}")
            for part, out in zip(self._parts, self.graph.outputs)
        )

    # -- the math: the inner graph's ---------------------------------------------------------
    def fprop(self, *inputs):
        taken = self._uses.taken(inputs, self.index)  # computed by another output of this use
        if taken is not None:
            return taken
        self.graph.fprop(dict(zip(self.inputs, inputs)))
        outs = [o.value for o in self.graph.outputs]
        held = {id(c.value) for c in self._constants}
        self._uses.keep(inputs, outs, held, self.graph.fprop_state, self.index)
        return outs[self.index]

    def _refresh(self, inputs, output) -> Node:
        """The inner output node, the inner graph holding the values of this use: those its
        fprop kept, put back with that fprop's stamp (or, where none were kept, computed)."""
        out = self.graph.outputs[self.index]
        state = self._uses.state_of(inputs, output, self.index)
        if state is not None:
            self.graph.restore_fprop_state(*state)
            return out
        current = all(x.value is v for x, v in zip(self.inputs, inputs))
        if not (current and out.value is output):
            self.graph.fprop(dict(zip(self.inputs, inputs)))
        return out

    def bprop(self, inputs, output, grad_output):
        return self.bprop_needed(inputs, output, grad_output, [True] * len(self.inputs))

    def bprop_needed(self, inputs, output, grad_output, needs):
        """``bprop`` for the inputs flagged in ``needs`` only (no grad for the data x)."""
        out = self._refresh(inputs, output)
        wanted = [x for x, need in zip(self.inputs, needs) if need]
        self.graph.bprop(wrt=wanted, output=out, grad_output=grad_output)
        return tuple(x.grad if need else None for x, need in zip(self.inputs, needs))

    # -- forward mode: the inner boxes' rules, in the inner order ------------------------------
    def _inner_boxes(self) -> list[Node]:
        """The inner box nodes this output depends on, in the inner graph's order."""
        below, stack = set(), [self.graph.outputs[self.index]]
        while stack:
            n = stack.pop()
            if id(n) not in below:
                below.add(id(n))
                stack.extend(n.children)
        return [n for n in self.graph.order if n.box is not None and id(n) in below]

    def _tangents(self, inputs, tangents) -> dict[int, Any]:
        R: dict[int, Any] = {id(x): t for x, t in zip(self.inputs, tangents)}
        for n in self._inner_boxes():
            if not any(id(c) in R for c in n.children):
                continue
            if not n.box.has_jvp():  # type: ignore[union-attr]  # inner boxes have boxes
                raise NotImplementedError(
                    f"Block {self.name!r}: inner box {n.describe()} defines no forward-mode rule"
                )
            Rin = [R.get(id(c), np.zeros(np.shape(c.value))) for c in n.children]
            R[id(n)] = n.box.fprop_jvp([c.value for c in n.children], Rin, n.value)  # type: ignore[union-attr]
        return R

    def fprop_jvp(self, inputs, tangents, output):
        """R{y_i}: the inner boxes' fprop_jvp, in the inner order."""
        out = self._refresh(inputs, output)
        return self._tangents(inputs, tangents).get(id(out), np.zeros(np.shape(output)))

    def bprop_jvp(self, inputs, tangents, output, output_tangent, grad_output, R_grad_output):
        """R{grad_x}: the inner boxes' bprop_jvp, in reverse order, summed over parents."""
        out = self._refresh(inputs, output)
        self.graph.bprop(wrt=self.inputs, output=out, grad_output=grad_output)
        R = self._tangents(inputs, tangents)
        RG: dict[int, Any] = {id(out): R_grad_output}
        for n in reversed(self.graph.order):
            if n.box is None or n.grad is None or id(n) not in RG:
                continue
            Rin = [R.get(id(c), np.zeros(np.shape(c.value))) for c in n.children]
            Rn = R.get(id(n), np.zeros(np.shape(n.value)))
            values = [c.value for c in n.children]
            R_grads = n.box.bprop_jvp(values, Rin, n.value, Rn, n.grad, RG[id(n)])
            for c, rg in zip(n.children, R_grads):
                if rg is not None and c.grad is not None:
                    RG[id(c)] = rg if id(c) not in RG else RG[id(c)] + rg
        return tuple(RG.get(id(x), np.zeros(np.shape(v))) for x, v in zip(self.inputs, inputs))

    def __repr__(self) -> str:
        outs = [o.name for o in self.graph.outputs]
        part = f", output {self.index}" if len(self._parts) > 1 else ""
        return f"Block({self.name!r}, inputs {list(self.input_names)} -> {outs}{part})"


Block.has_jvp = _has_jvp()  # type: ignore[method-assign,assignment]
