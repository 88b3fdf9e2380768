"""What each use of a Block computed, kept for its bprop (a Block's one concession to speed).

The uses of a Block share one inner graph, so the inner values of a use are overwritten by
the next use's fprop. Each fprop's inner values are kept here, keyed by the use's input and
output arrays and held only while those live (weak references: an entry goes with the outer
graph's values, at its next fprop). bprop and forward mode put the use's values back into
the inner graph with the stamp of the fprop that computed them, so they never compute the
inner graph again; only a use whose output is no fresh array (a NumPy scalar, an input, a
constant), or a bprop given other arrays than its fprop made, computes it again. The other
outputs of a use take the values its first output computed while the input arrays are the
same objects holding the same numbers (a Parameter is updated in place between steps).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Uses"]


class _Use:
    """The inner graph's state after one use's fprop: its stamp and the values of the nodes it
    fed or computed. The arrays that identify the use (its inputs and outputs, which the outer
    graph holds) are held weakly and put back from there, so the outer graph letting go of
    them drops the entry: the cache never keeps a step's arrays alive into the next."""

    __slots__ = ("stamp", "values", "links", "inputs", "outputs", "taken", "copies", "__weakref__")

    def __init__(self, stamp, values, links):
        self.stamp, self.values, self.links = stamp, values, links
        self.inputs: list = []  # weakrefs (arrays) or the objects (numbers)
        self.outputs: list = []  # weakrefs
        self.taken: set[int] = set()  # the outputs (parts) whose fprop returned this use's value
        self.copies: list | None = None  # the inputs' contents, while other parts may take it

    def same_inputs(self, inputs) -> bool:
        return all(
            (r() if type(r) is weakref.ReferenceType else r) is x
            for r, x in zip(self.inputs, inputs)
        )

    def unchanged(self, inputs) -> bool:
        """The same input arrays, with the same contents (a Parameter is updated in place)."""
        return self.same_inputs(inputs) and all(
            np.array_equal(c, x) if isinstance(x, np.ndarray) else True
            for c, x in zip(self.copies or (), inputs)
        )

    def live_outputs(self) -> list | None:
        outs = [r() for r in self.outputs]
        return None if any(o is None for o in outs) else outs


class Uses:
    """The kept uses of one Block (shared by its parts, one per inner output): each use's
    values by the ids of its output arrays (for bprop and forward mode) and, for several
    outputs, by the ids of its input arrays while other parts may still take them.

    ``input_slots`` lists (position among the inner graph's stamped nodes, index of the
    block's input) for each inner Input: those values are put back from bprop's inputs."""

    def __init__(self, n_parts: int, input_slots: Sequence[tuple[int, int]]):
        self.n_parts, self.input_slots = n_parts, list(input_slots)
        self.by_output: dict[int, _Use] = {}
        self.pending: dict[tuple[int, ...], _Use] = {}

    def __len__(self) -> int:
        """How many uses' values are kept."""
        return len({id(u) for u in self.by_output.copy().values()})

    # a copied or pickled block starts with no values kept (weakrefs are not copied)
    def __getstate__(self) -> dict:
        return {"n_parts": self.n_parts, "input_slots": self.input_slots}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state)  # type: ignore[misc]  # unpickled: a fresh, empty table

    def taken(self, inputs: Sequence[Any], index: int) -> Any:
        """Output ``index`` of the use on these inputs (the same arrays, the same contents)
        that another output's fprop computed and this one has not taken yet, else None."""
        key = tuple(map(id, inputs))
        use = self.pending.get(key) if self.n_parts > 1 else None
        if use is None or index in use.taken or not use.unchanged(inputs):
            return None
        outs = use.live_outputs()
        if outs is None:
            return None
        use.taken.add(index)
        if len(use.taken) == self.n_parts:  # every output has its value: no more takers
            use.copies = None
            if self.pending.get(key) is use:
                del self.pending[key]
        return outs[index]

    def keep(self, inputs: Sequence[Any], outs: Sequence[Any], held: set[int],
             state: Callable[[], tuple[object, list[Any]]], index: int) -> None:
        """Keep the inner values of this fprop (``state()``: its stamp and values) for this
        use's bprop, weakly keyed by the arrays the outer graph holds. Nothing is kept unless
        every output is a fresh array (not an input, nor one of the arrays ``held`` by id)."""
        in_ids, out_ids = tuple(map(id, inputs)), tuple(map(id, outs))
        for o in outs:
            if not isinstance(o, np.ndarray) or id(o) in held or id(o) in in_ids:
                return  # a NumPy scalar, an input or a constant: bprop computes it again
        stamp, values = state()
        for pos, _ in self.input_slots:
            values[pos] = None  # put back from bprop's inputs
        out_pos = {i: k for k, i in enumerate(out_ids)}
        links = []
        for pos, v in enumerate(values):
            k = out_pos.get(id(v))
            if k is not None:  # an output (or a node whose value is one): held weakly
                links.append((pos, k))
                values[pos] = None
        use = _Use(stamp, values, links)
        forget = self._forget(use, out_ids, in_ids)
        use.outputs = [weakref.ref(o, forget) for o in outs]
        use.inputs = [weakref.ref(x, forget) if isinstance(x, np.ndarray) else x for x in inputs]
        for i in out_ids:
            self.by_output[i] = use
        if self.n_parts > 1:
            use.taken.add(index)
            use.copies = [np.array(x) if isinstance(x, np.ndarray) else x for x in inputs]
            self.pending[in_ids] = use

    def state_of(self, inputs: Sequence[Any], output: Any, index: int) -> tuple | None:
        """``(stamp, values)`` of the inner graph after the fprop of the use whose output
        ``index`` is ``output`` on these inputs, or None when it was not kept."""
        use = self.by_output.get(id(output))
        if use is None or not use.same_inputs(inputs):
            return None
        outs = use.live_outputs()
        if outs is None or outs[index] is not output:
            return None
        values = list(use.values)
        for pos, k in self.input_slots:
            values[pos] = inputs[k]
        for pos, k in use.links:
            values[pos] = outs[k]
        return use.stamp, values

    def _forget(self, use: _Use, out_ids: tuple[int, ...], in_key: tuple[int, ...]):
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
