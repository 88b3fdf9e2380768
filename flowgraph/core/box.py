"""The Box: one differentiable function, its fprop and its bprop, and nothing else.

A box never stores per-call state: the Graph hands ``bprop`` the inputs and the output it
computed at fprop, so one box object may serve several nodes of one graph. Calling a box on
nodes makes a node (``Tanh()(a1)``): the only thing a box knows of graphs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import GraphError
from ..machinery.static import probe
from .node import Node

__all__ = ["Box", "NoGradient"]


class Box:
    """Base class of every box.

    Subclasses define

    * ``fprop(*inputs) -> output``: the value of the box given its children's values;
    * ``bprop(inputs, output, grad_output) -> tuple``: one gradient per input, each the
      gradient of the loss with respect to that input (same shape), or ``None`` for an input
      that has no gradient (integer labels). ``bprop`` returns fresh arrays or arrays it does
      not own and never writes into its arguments: the Graph adds the gradients up;
    * ``sample_inputs(rng) -> tuple``: valid inputs in float64 (and integer labels) on which
      the finite-difference checker verifies ``bprop`` against ``fprop``;
    * ``example()`` (a classmethod) when the constructor needs arguments, so that the test
      suite can build one instance of every box by itself;
    * optionally ``fprop_jvp`` and ``bprop_jvp``, the directional derivatives of fprop and
      bprop (forward mode: ``flowgraph.jvp`` and the exact Hessian-vector product), checked by
      ``flowgraph.check_jvp`` and, for every box of the package, by the test suite;
    * optionally ``fprop_kernel`` and ``bprop_kernel``: the same arithmetic without the checks
      of shapes and dtypes, for the planned step (:mod:`flowgraph.step.calls`).

    Class attributes: ``arity`` (number of children, or ``None`` for any number of at least
    ``min_arity``) and ``input_names`` (used in error messages and checker reports).
    """

    arity: int | None = 1
    #: False for a box whose output carries no gradient by design (a mask, an index, one-hot
    #: codes, random draws, a stopped gradient): its bprop returns None for every input, and the
    #: checker verifies exactly that instead of comparing with finite differences.
    differentiable: bool = True
    min_arity: int = 1
    input_names: Sequence[str] = ("x",)

    # -- the math: subclasses override these -------------------------------------------
    def fprop(self, *inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not define fprop")

    def bprop(
        self, inputs: Sequence[np.ndarray], output: np.ndarray, grad_output: np.ndarray
    ) -> tuple[np.ndarray | None, ...]:
        raise NotImplementedError(f"{type(self).__name__} does not define bprop")

    def bprop_needed(
        self,
        inputs: Sequence[np.ndarray],
        output: np.ndarray,
        grad_output: np.ndarray,
        needs: Sequence[bool],
    ) -> tuple[Any, ...]:
        """What the Graph calls: ``bprop`` when only the inputs flagged in ``needs`` (one bool
        per input) want a gradient. A box may override it with a fast path that skips the
        others (returning None for them) or returns a gradient in factored form (an
        :class:`~flowgraph.core.rank1.Outer`, for a Parameter); ``bprop`` stays the
        definition the checker verifies and the tests hold every fast path to. By default it
        is ``bprop``."""
        return self.bprop(inputs, output, grad_output)

    # -- forward mode (optional): the directional derivatives, for exact Hessian-vector products
    def fprop_jvp(
        self, inputs: Sequence[np.ndarray], tangents: Sequence[np.ndarray], output: np.ndarray
    ) -> np.ndarray:
        """Forward mode: the directional derivative of fprop, R{output} = sum_i (d output /
        d input_i) tangents_i (Pearlmutter's R-operator). ``tangents`` has one array per input,
        of its shape (zeros for an input that does not move, such as labels). Optional: a box
        without it makes exact Hessian-vector products fall back on finite differences."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward-mode rule")

    def bprop_jvp(
        self,
        inputs: Sequence[np.ndarray],
        tangents: Sequence[np.ndarray],
        output: np.ndarray,
        output_tangent: np.ndarray,
        grad_output: np.ndarray,
        grad_output_tangent: np.ndarray,
    ) -> tuple[np.ndarray | None, ...]:
        """The directional derivative of bprop: R{grad input_i} for each input, given the
        inputs and their tangents R{input_i}, the output and R{output}, grad_output and
        R{grad_output} (product rule on each formula of ``bprop``); None where bprop gives
        None. Optional, with ``fprop_jvp``."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward-mode rule")

    @classmethod
    def has_jvp(cls) -> bool:
        """True when the box defines both forward-mode rules (``fprop_jvp``, ``bprop_jvp``)."""
        return cls.fprop_jvp is not Box.fprop_jvp and cls.bprop_jvp is not Box.bprop_jvp

    # -- rebuilding (saving a graph) ---------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, JSON-serialisable: ``type(box)(**box.config())``
        rebuilds an equal box. A box whose ``__init__`` takes arguments must override it."""
        return {}

    def sample_inputs(self, rng: np.random.Generator) -> tuple[Any, ...]:
        raise NotImplementedError(
            f"{type(self).__name__} does not say how to sample inputs for the gradient "
            "checker: define sample_inputs(self, rng) returning a tuple of valid inputs"
        )

    @classmethod
    def example(cls) -> Box:
        """One instance of this box for automatic checking (override if __init__ needs args)."""
        return cls()

    # -- building graphs -----------------------------------------------------------------
    def input_name(self, i: int) -> str:
        names = tuple(self.input_names) or ("x",)
        if self.arity is None:  # any number of children: W1, W2, ...
            return f"{names[0]}{i + 1}"
        return names[i] if i < len(names) else f"x{i}"

    def check_arity(self, n: int) -> None:
        kind = type(self).__name__
        if self.arity is not None and n != self.arity:
            names = ", ".join(self.input_names)
            raise GraphError(f"{kind} takes {self.arity} children ({names}) but was called on {n}")
        if self.arity is None and n < self.min_arity:
            raise GraphError(f"{kind} takes at least {self.min_arity} children, got {n}")

    def __call__(self, *children: Node, name: str | None = None) -> Node:
        """Make a node whose value is this box applied to ``children``: ``Tanh()(a1)``."""
        self.check_arity(len(children))
        for i, c in enumerate(children):
            if not isinstance(c, Node):
                hint = ""
                if isinstance(c, Box):
                    hint = " (did you forget to call it on its children, e.g. Tanh()(a)?)"
                elif isinstance(c, np.ndarray):
                    hint = " (wrap arrays in Input(name) or Parameter(value, name))"
                raise GraphError(
                    f"{type(self).__name__}: child {i} ({self.input_name(i)}) must be a Node, "
                    f"got {type(c).__name__}{hint}"
                )
        node = Node(self, children, name=name)
        probe(node)  # shapes known before fprop where the Inputs declare theirs
        return node

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoGradient:
    """What a box without a gradient by design shares (a mixin placed before Box: ``class
    Compare(NoGradient, Box)``): masks, indices and one-hot codes are piecewise constant in
    their inputs, so bprop gives None for every input and the forward-mode rule is 0.

    fprop:  the box's own (a mask, an index, codes)
    bprop:  none (``differentiable = False``: the checker verifies exactly that)
    """

    differentiable = False

    def bprop(self, inputs, output, grad_output):
        return (None,) * len(inputs)

    def fprop_jvp(self, inputs, tangents, output):
        """R{output} = 0: the value does not move with its inputs (almost everywhere)."""
        return np.zeros(np.shape(output))

    def bprop_jvp(self, inputs, tangents, output, output_tangent, grad_output, R_grad_output):
        return (None,) * len(inputs)
