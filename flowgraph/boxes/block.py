"""A Graph used as a box: a layer or a residual block written once, applied many times."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import GraphError
from .base import Box

if TYPE_CHECKING:  # pragma: no cover
    from ..graph import Graph, Input, Node


class _has_jvp:  # noqa: N801 (used as a method name)
    """``Block.has_jvp()`` is True (the class defines the rules); ``block.has_jvp()`` says
    whether this block's inner boxes all have them, so that an analysis can fall back."""

    def __get__(self, obj: Block | None, cls: type) -> Any:
        if obj is None:
            return lambda: True
        return lambda: all(n.box.has_jvp() for n in obj._inner_boxes())


class Block(Box):
    """An inner Graph as one box: its listed Inputs become the box's children, in order.

    ``Block(graph, inputs=[h, W, b], name="res")`` with ``graph`` computing, say,
    y = h + tanh(h W^T + b). A block holds no Parameters: its weights are Inputs, and each
    use passes its own Parameters as children, so each use gets its own gradients. A graph
    with several outputs gives one node per output: ``y1, y2 = block(h, W, b)``.

    fprop:  y_i = the inner graph's output i, computed from the children's values fed to
            the inner Inputs (each output node computes the inner graph once)
    bprop:  grad_x = the inner graph's bprop(wrt=inputs, output=y_i, grad_output=grad_y_i):
            the chain rule through the inner boxes, for each inner Input x
    The inner nodes' values belong to the last use computed, so bprop computes the inner
    graph again unless it still holds this use's values (the same input and output arrays).
    """

    arity: int | None

    def __init__(self, graph: Graph, inputs: Sequence[Input], *, name: str = "block"):
        from ..graph import Graph, Input

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
        self.graph, self.inputs, self.name = graph, inputs, name
        self.arity, self.input_names = len(inputs), tuple(x.name for x in inputs)
        self.index = 0  # the inner output this box computes; Block.output(i) for the others
        parts = [self] + [copy.copy(self) for _ in graph.outputs[1:]]
        for i, part in enumerate(parts):
            part.index, part._parts = i, parts

    @classmethod
    def example(cls) -> Block:
        from ..graph import Graph, Input

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
        values = self.graph.fprop(dict(zip(self.inputs, inputs)))
        return values[self.index] if len(self._parts) > 1 else values

    def _refresh(self, inputs, output) -> Node:
        """The inner output node, its graph holding the values of this use."""
        out = self.graph.outputs[self.index]
        current = all(x.value is v for x, v in zip(self.inputs, inputs))
        if not (current and out.value is output):
            self.fprop(*inputs)
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
            if not n.box.has_jvp():
                raise NotImplementedError(
                    f"Block {self.name!r}: inner box {n.describe()} defines no forward-mode rule"
                )
            Rin = [R.get(id(c), np.zeros(np.shape(c.value))) for c in n.children]
            R[id(n)] = n.box.fprop_jvp([c.value for c in n.children], Rin, n.value)
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
