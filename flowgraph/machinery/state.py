"""What the Graph fills in before each fprop and updates after each step: the leaves of
randomness, mode and state (:class:`~flowgraph.core.node.RandomSource`,
:class:`~flowgraph.core.node.Mode`, :class:`~flowgraph.core.node.Buffer`).

A box stays math: the random key, the training mode and the running statistics reach it as
children. Before each fprop the Graph writes the step's key into every RandomSource (one key
each, drawn once from the generator it is given) and its mode into every Mode leaf; after the
optimiser's step, ``update_buffers`` copies each Buffer's update node into the Buffer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from ..errors import GraphError

__all__ = ["StateLeaves", "ordered_with_updates", "step_key", "KEY_SIZE"]

#: the length of a random key: entropy for ``numpy.random.default_rng(key)``
KEY_SIZE = 3
Node: TypeAlias = Any  # a node of flowgraph.core, known by its kind ("random", "mode", ...)


def ordered_with_updates(outputs: Sequence[Node],
                         order: Callable[[Sequence[Node]], list[Node]]) -> list[Node]:
    """The topological order of ``outputs`` and of the update nodes of every Buffer they
    reach (and of the Buffers those reach, until none is new): a graph computes its buffers'
    updates in every fprop, so that ``update_buffers`` finds them."""
    outs = list(outputs)
    nodes = order(outs)
    while True:
        have = {id(n) for n in nodes}
        extra = [n.update for n in nodes if n.kind == "buffer" and n.update is not None
                 and id(n.update) not in have]
        if not extra:
            return nodes
        outs += extra
        nodes = order(outs)


def step_key(rng: Any) -> np.ndarray:
    """A step's random key drawn from ``rng`` (a ``numpy.random.Generator`` or a seed)."""
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    return gen.integers(0, 2**62, size=KEY_SIZE - 1, dtype=np.int64)


class StateLeaves:
    """The part of the Graph that fills the leaves of randomness and mode and updates the
    buffers (a mixin of :class:`~flowgraph.core.graph.Graph`, which sets ``order``).

    ``training`` (True by default, as torch's modules) is the value of every Mode leaf;
    ``random_key`` the key of the last ``fprop(feed, rng=...)``, kept for the fprops that
    follow without ``rng`` (the checker's repeated fprops see the same draws)."""

    order: list[Node]

    def init_state_leaves(self) -> None:
        self.randoms = [n for n in self.order if n.kind == "random"]
        self.modes = [n for n in self.order if n.kind == "mode"]
        self.buffers = [n for n in self.order if n.kind == "buffer"]
        # randomness, a mode or state: the step plan (flowgraph.step) does not fill these leaves
        self.stateful = bool(self.randoms or self.modes or self.buffers)
        self.training = True
        self.random_key: np.ndarray | None = None

    def train(self, mode: bool = True) -> StateLeaves:
        """Training mode (dropout on, batch statistics), as ``torch.nn.Module.train``."""
        self.training = bool(mode)
        return self

    def eval(self) -> StateLeaves:
        """Evaluation mode (dropout off, running statistics), as ``torch.nn.Module.eval``."""
        return self.train(False)

    def fill_state_leaves(self, rng: Any) -> None:
        """Write the mode into every Mode leaf and a key into every RandomSource: drawn from
        ``rng`` when given, else the last one. Training without a generator ever given is
        refused (its draws would repeat unseen); evaluation then draws from seed 0."""
        if not (self.randoms or self.modes):
            return
        for m in self.modes:
            m.value = np.bool_(self.training)
        if not self.randoms:
            return
        if rng is not None:
            self.random_key = step_key(rng)
        key = self.random_key
        if key is None:
            if self.training:
                raise GraphError(
                    f"the graph draws random numbers ({self.randoms[0].describe()}): pass "
                    "fprop(feed, rng=...) a numpy Generator or a seed for the step (or call "
                    "graph.eval() to evaluate)")
            key = step_key(0)
        for i, leaf in enumerate(self.randoms):
            leaf.value = np.append(key, np.int64(i))

    def update_buffers(self) -> None:
        """Copy each Buffer's update node's value (from the last fprop, in training mode) into
        the Buffer, in the Buffer's dtype: the explicit state step after the optimiser's.
        (A batch norm's updates, RunningStat boxes, give the Buffer back unchanged in
        evaluation mode.)"""
        for b in self.buffers:
            if b.update is not None:
                if b.update.value is None:
                    raise GraphError(f"update_buffers before fprop: {b.describe()} has no update")
                b.value = np.asarray(b.update.value, dtype=b.value.dtype).copy()
