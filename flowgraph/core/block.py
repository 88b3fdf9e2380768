"""A Graph used as a box: a layer or a residual block written once, applied many times."""

from __future__ import annotations

import copy
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import GraphError
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


class _Use:
    """The inner graph's state after one use's fprop: its stamp and the values of the nodes it
    fed or computed. The arrays that identify the use (its inputs and outputs, which the outer
    graph holds) are held weakly and put back from there, so the outer graph letting go of
    them drops the entry: the cache never keeps a step's arrays alive into the next."""

    __slots__ = ("stamp", "values", "links", "inputs", "outputs", "taken", "copies", "__weakref__")

    def __init__(self, stamp, values, links, inputs, outputs):
        self.stamp, self.values, self.links = stamp, values, links
        self.inputs, self.outputs = inputs, outputs  # weakrefs (arrays) or the objects (numbers)
        self.taken: set[int] = set()  # the outputs (parts) whose fprop returned this use's value
        self.copies: list | None = None  # the inputs' contents, while other parts may take it

    def same_inputs(self, inputs) -> bool:
        return all(
            (r() if type(r) is weakref.ReferenceType else r) is x
            for r, x in zip(self.inputs, inputs)
        )

    def live_outputs(self) -> list | None:
        outs = [r() for r in self.outputs]
        return None if any(o is None for o in outs) else outs


class _Uses:
    """What the uses of one Block computed (shared by its parts, one per inner output): each
    use's :class:`_Use` by the ids of its output arrays (for bprop and forward mode), and, for
    several outputs, by the ids of its input arrays while other parts may still take it."""

    def __init__(self):
        self.by_output: dict[int, _Use] = {}
        self.pending: dict[tuple[int, ...], _Use] = {}

    def forget(self, use: _Use, out_ids: tuple[int, ...], in_key: tuple[int, ...]):
        """The callback dropping ``use`` when one of its arrays dies (it holds ``use`` weakly:
        the entry, its weakrefs and this callback make no cycle)."""
        use_ref = weakref.ref(use)

        def forget(_ref):
            entry = use_ref()
            if entry is None:
                return
            for k in out_ids:
                if self.by_output.get(k) is entry:
                    del self.by_output[k]
            if self.pending.get(in_key) is entry:
                del self.pending[in_key]

        return forget

    def __len__(self) -> int:
        """How many uses' values are kept."""
        return len({id(u) for u in self.by_output.copy().values()})

    # a copied or pickled block starts with no values kept (weakrefs are not copied)
    def __getstate__(self) -> dict:
        return {"kept": 0}  # (not empty: an empty state would skip __setstate__)

    def __setstate__(self, state: dict) -> None:
        self.__init__()  # type: ignore[misc]  # unpickled: a fresh, empty table


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
    use, keyed by the use's input and output arrays and held only while those live (weak
    references: an entry goes with the outer graph's values, at its next fprop). bprop,
    fprop_jvp and bprop_jvp put the use's values back into the inner graph with the stamp of
    the fprop that computed them, so they never compute the inner graph again; only a use
    whose output is no fresh array (a NumPy scalar, an input, a constant), or a bprop given
    other arrays than its fprop made, computes it again. The other output nodes of a use take
    the values its first output computed while the input arrays are the same objects holding
    the same numbers (a Parameter is updated in place between steps).
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
        self._uses = _Uses()  # what each use computed, shared by the parts
        stamped = graph.stamped  # the nodes an fprop feeds or computes, as it stamps them
        slot = {id(n): i for i, n in enumerate(stamped)}  # by identity: == on nodes makes masks
        self._input_slots = [(slot[id(x)], k) for k, x in enumerate(inputs)]
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
        uses = self._uses
        if len(self._parts) > 1:  # another output of this use may have computed it already
            use = uses.pending.get(tuple(map(id, inputs)))
            if use is not None and self.index not in use.taken and self._unchanged(use, inputs):
                outs = use.live_outputs()
                if outs is not None:
                    self._take(use, inputs)
                    return outs[self.index]
        self.graph.fprop(dict(zip(self.inputs, inputs)))
        outs = [o.value for o in self.graph.outputs]
        self._keep(inputs, outs)
        return outs[self.index]

    def _unchanged(self, use: _Use, inputs) -> bool:
        """The same input arrays, with the same contents (a Parameter is updated in place)."""
        return use.same_inputs(inputs) and all(
            np.array_equal(c, x) if isinstance(x, np.ndarray) else True
            for c, x in zip(use.copies or (), inputs)
        )

    def _take(self, use: _Use, inputs) -> None:
        use.taken.add(self.index)
        if len(use.taken) == len(self._parts):  # every output has its value: no more takers
            use.copies = None
            key = tuple(map(id, inputs))
            if self._uses.pending.get(key) is use:
                del self._uses.pending[key]

    def _keep(self, inputs, outs) -> None:
        """Keep the inner values of this fprop for this use's bprop, weakly keyed by the arrays
        the outer graph holds (outputs that are fresh arrays; else nothing is kept)."""
        in_ids = tuple(map(id, inputs))
        out_ids = tuple(map(id, outs))
        held = {id(c.value) for c in self._constants}.union(in_ids)
        for o in outs:
            if not isinstance(o, np.ndarray) or id(o) in held:
                return  # a NumPy scalar, an input or a constant: bprop computes it again
        stamp, values = self.graph.fprop_state()
        for pos, _ in self._input_slots:
            values[pos] = None  # put back from bprop's inputs
        out_pos = {i: k for k, i in enumerate(out_ids)}
        links = []
        for pos, v in enumerate(values):
            k = out_pos.get(id(v))
            if k is not None:  # an output (or a node whose value is one): held weakly
                links.append((pos, k))
                values[pos] = None
        use = _Use(stamp, values, links, None, None)
        forget = self._uses.forget(use, out_ids, in_ids)
        use.outputs = [weakref.ref(o, forget) for o in outs]
        use.inputs = [weakref.ref(x, forget) if isinstance(x, np.ndarray) else x for x in inputs]
        for i in out_ids:
            self._uses.by_output[i] = use
        if len(self._parts) > 1:
            use.taken.add(self.index)
            use.copies = [np.array(x) if isinstance(x, np.ndarray) else x for x in inputs]
            self._uses.pending[in_ids] = use

    def _refresh(self, inputs, output) -> Node:
        """The inner output node, the inner graph holding the values of this use: those its
        fprop kept, put back with that fprop's stamp (or, where none were kept, computed)."""
        out = self.graph.outputs[self.index]
        use = self._uses.by_output.get(id(output))
        if use is not None and use.same_inputs(inputs):
            outs = use.live_outputs()
            if outs is not None and outs[self.index] is output:
                values = list(use.values)
                for pos, k in self._input_slots:
                    values[pos] = inputs[k]
                for pos, k in use.links:
                    values[pos] = outs[k]
                self.graph.restore_fprop_state(use.stamp, values)
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
