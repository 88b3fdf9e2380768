"""The Graph: it only orders, accumulates and plans.

``Graph(outputs)`` collects the nodes reachable from its outputs and sorts them topologically
once. ``fprop`` calls each box's fprop in that order; ``bprop`` seeds the output gradient
with 1 and calls each box's bprop in reverse order, adding every returned gradient into the
child's ``.grad`` (the chain rule's sum over parents):

    grad(child) = sum over parents p of  d p / d child  applied to grad(p)

Only boxes from which a Parameter (or an input named in ``wrt``) can be reached are visited:
backpropagation "only needs to reach the parameters".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from ..errors import FeedError, GraphError, NonFiniteError
from ..machinery import messages
from ..machinery.names import name_nodes
from ..machinery.state import StateLeaves, ordered_with_updates
from .node import Input, Node, Parameter
from .rank1 import Outer

Plan = list[tuple[Node, tuple[bool, ...]]]  # (node, which children need a gradient), reversed

__all__ = ["Graph"]

_value = attrgetter("value")  # map(_value, children): the children's values, looped in C
_stamp = attrgetter("fprop_stamp")
_ndarray = np.ndarray


def _topological_order(outputs: Sequence[Node]) -> list[Node]:
    """Children before parents; ties broken by the order of outputs and of children lists."""
    order: list[Node] = []
    done: set[int] = set()
    on_stack: set[int] = set()
    for out in outputs:
        if id(out) in done:
            continue
        stack = [(out, iter(out.children))]
        on_stack.add(id(out))
        while stack:
            node, it = stack[-1]
            for child in it:
                if id(child) in on_stack:
                    raise GraphError(f"the graph has a cycle through node {child.describe()}")
                if id(child) not in done:
                    stack.append((child, iter(child.children)))
                    on_stack.add(id(child))
                    break
            else:
                stack.pop()
                on_stack.discard(id(node))
                done.add(id(node))
                order.append(node)
    return order


class Graph(StateLeaves):
    """A flow graph: the nodes reachable from ``outputs``, sorted topologically once.

    ``outputs`` is one node or a list; the first is the one ``bprop`` differentiates unless
    told otherwise. Unnamed nodes are named here, deterministically, by box type and index in
    the order (``tanh1``, ``linear2``), so the same construction gives the same names.

    Attributes: ``order`` (every node, children first), ``inputs``, ``parameters`` (in order),
    ``outputs``, ``nodes`` (name -> node), ``box_nodes`` (the nodes of a box, in order),
    ``stamped`` (the nodes an fprop feeds or computes: inputs, then box nodes) and
    ``single_output`` (built from one node: fprop returns its value, not a list).
    ``check_finite=True`` makes fprop and bprop stop at the first box whose output or
    gradient holds NaN or inf, naming it. ``planned = fg.step_plan(graph)`` makes ``fprop``
    and ``bprop()`` (of the first output, no ``wrt``) run that plan (:mod:`flowgraph.step`,
    kept in ``step_plans``): the same numbers, the values and gradients in buffers reused
    from step to step (and so overwritten at the next step).
    ``randoms``, ``modes``, ``buffers``: :mod:`flowgraph.machinery.state`.
    """

    def __init__(self, outputs: Node | Sequence[Node], *, check_finite: bool = False):
        single = isinstance(outputs, Node)
        outs: list[Node] = [outputs] if isinstance(outputs, Node) else list(outputs)
        if not outs:
            raise GraphError("Graph needs at least one output node")
        for o in outs:
            if not isinstance(o, Node):
                raise GraphError(f"Graph outputs must be Nodes, got {type(o).__name__}")
        self.outputs: list[Node] = outs
        self.single_output = single  # fprop returns a value (else a list, one per output)
        self.check_finite = check_finite
        self._planned: Any = None  # a StepPlan (flowgraph.step): fprop and bprop() run it
        self.order: list[Node] = ordered_with_updates(outs, _topological_order)
        name_nodes(self.order)  # tanh1, linear2, ... (machinery.names)
        self.nodes: dict[str, Node] = {n.name: n for n in self.order}  # type: ignore[misc]
        self.inputs: list[Input] = [n for n in self.order if isinstance(n, Input)]
        self.parameters: list[Parameter] = [n for n in self.order if isinstance(n, Parameter)]
        self.box_nodes: list[Node] = [n for n in self.order if n.box is not None]
        self.init_state_leaves()
        # which fprop the nodes' values come from: a fresh token per fprop, written to every
        # node it computes or feeds (``stamped``, in this order), and None while (or after)
        # an fprop fails
        self._stamp: object | None = None
        self.stamped: list[Node] = self.inputs + self.box_nodes
        self._plans: dict[tuple, list[tuple[Node, tuple[bool, ...]]]] = {}
        self.step_plans: dict[int, Any] = {}  # output -> its StepPlan (flowgraph.step)
        # wrt=None: the plan, and the targets it never reaches (they get zero gradients)
        self._default_plans: dict[int, tuple[Plan, tuple[Node, ...], tuple[Node, ...]]] = {}

    @property
    def planned(self) -> Any:
        """The step plan ``fprop`` and ``bprop()`` run (None: the loops below)."""
        return self._planned

    @planned.setter
    def planned(self, plan: Any) -> None:
        if plan is not None and getattr(plan, "graph", None) is not self:
            raise GraphError(
                f"graph.planned takes None or a step plan of this graph "
                f"(graph.planned = fg.step_plan(graph)), not {plan!r}"
            )
        self._planned = plan

    def __getitem__(self, name: str) -> Node:
        try:
            return self.nodes[name]
        except KeyError:
            raise KeyError(f"no node named {name!r}; nodes are {list(self.nodes)}") from None

    def __contains__(self, node: Node) -> bool:
        return any(n is node for n in self.order)

    def __len__(self) -> int:
        return len(self.order)

    def __repr__(self) -> str:
        outs = ", ".join(o.name or "?" for o in self.outputs)
        return (
            f"<Graph: {len(self.order)} nodes ({len(self.box_nodes)} boxes, "
            f"{len(self.parameters)} parameters, inputs {[i.name for i in self.inputs]}), "
            f"outputs [{outs}]>"
        )

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a Graph as its SVG picture (needs Graphviz's ``dot``)."""
        try:
            from ..render import to_svg  # (Jupyter's hook: the one call upwards, on display)
        except ImportError:  # rendering not available: plain repr
            return None
        return to_svg(self)

    # -- forward ------------------------------------------------------------------------------
    def fprop(self, feed: Mapping[Any, Any], *, rng: Any = None,
              check_finite: bool | None = None) -> Any:
        """Compute every node's value; return the output's value (a list for several outputs).

        ``feed`` maps each Input node (or its name) to an array. Every value it computes is
        marked as coming from this call: ``bprop`` refuses values from a failed fprop, or
        from another graph's fprop over shared nodes (a Model's train and predict graphs).
        ``rng`` (a numpy Generator or a seed) gives the step's random key to the graph's
        RandomSource leaves; without it the last key serves again.
        """
        check = self.check_finite if check_finite is None else check_finite
        if self._planned is not None and not check and not self.stateful:  # (same values)
            value = self._planned.fprop(feed)
            return value if self.single_output else [o.value for o in self.outputs]
        self._stamp = None  # until this fprop succeeds, no bprop may use the nodes' values
        stamp = object()
        self.give_inputs(feed, stamp)
        self.fill_state_leaves(rng)  # the random keys and the mode (core.state)
        node = None
        try:
            for node in self.box_nodes:
                node.value = node.box.fprop(*map(_value, node.children))  # type: ignore[union-attr]  # box_nodes: each has a box
                node.fprop_stamp = stamp
                if check:
                    messages.refuse_non_finite(node, node.value, "output")
        except NonFiniteError:
            raise
        except Exception as e:  # add the node, the box and the shapes to any failure
            assert node is not None
            raise messages.augment(e, node, "fprop", [c.value for c in node.children]) from e
        self._stamp = stamp
        if self.single_output:
            return self.outputs[0].value
        return [o.value for o in self.outputs]

    # -- the values of one fprop, kept and put back (the uses of a Block share its graph) ------
    def fprop_state(self) -> tuple[object, list[Any]]:
        """``(stamp, values)``: the last successful fprop's stamp and the values it left in the
        nodes it fed or computed (``self.stamped``, in order), for
        :meth:`restore_fprop_state`."""
        stamp, values = self._stamp, []
        for n in self.stamped if stamp is not None else ():
            if n.fprop_stamp is not stamp:
                stamp = None
                break
            values.append(n.value)
        if stamp is None:
            raise GraphError("no successful fprop whose values the nodes all still hold")
        return stamp, values

    def restore_fprop_state(self, stamp: object, values: Sequence[Any]) -> None:
        """Put back what :meth:`fprop_state` returned: every node fprop feeds or computes holds
        that fprop's value again, so its stamp is true again and bprop may use the values (a
        later fprop of another graph over shared nodes still makes bprop refuse them)."""
        if stamp is None or len(values) != len(self.stamped):
            raise GraphError(f"not the state of an fprop of this graph ({len(values)} values)")
        for n, v in zip(self.stamped, values):
            n.value = v
            n.fprop_stamp = stamp
        self._stamp = stamp

    def give_inputs(self, feed: Mapping[Any, Any], stamp: object | None) -> None:
        """Give each Input its value from ``feed`` (by node or by name), stamped ``stamp``
        (also the step plan's way in)."""
        if type(feed) is not dict and not isinstance(feed, Mapping):
            raise FeedError(
                f"feed must map Input nodes (or their names) to arrays, got {type(feed).__name__}"
            )
        for inp in self.inputs:
            try:
                value = feed[inp]
            except KeyError:
                if inp.name not in feed:
                    raise messages.missing_feed(self.inputs, inp, feed) from None
                value = feed[inp.name]
            inp.value = value if isinstance(value, _ndarray) else np.asarray(value)
            inp.fprop_stamp = stamp
        if len(feed) > len(self.inputs):
            messages.check_feed_keys(self.inputs, feed)

    def accept_fprop(self, stamp: object | None) -> None:
        """The values are those of the fprop ``stamp`` (None: none) (the step plan's hook)."""
        self._stamp = stamp

    # -- backward: the lecture's loop, then the named steps it calls ----------------------------
    def bprop(
        self,
        wrt: Iterable[Node | str] | None = None,
        *,
        output: Node | str | None = None,
        grad_output: Any = None,
        check_finite: bool | None = None,
    ) -> None:
        """Backpropagate from ``output`` (default: the first output) to every Parameter.

        A scalar output is seeded with 1; a non-scalar one needs ``grad_output``. Inputs listed
        in ``wrt`` (nodes or names) get a ``.grad`` too: ``bprop(wrt=[x])`` gives d loss / d x.
        Gradients start from zero on every call; nothing needs zeroing by hand. A parameter
        that the output does not depend on gets a zero gradient. The loop is the lecture's:

            output.grad = 1
            for node in reversed(order):            (only boxes between targets and output)
                grads = node.box.bprop(children's values, node.value, node.grad)
                child.grad += grad                  for each child that needs a gradient

        Every gradient a box returns must have its child's shape (a :class:`BoxError` names
        the box, the child and both shapes); a Parameter's gradient has its dtype.
        """
        out = self.resolve(output) if output is not None else self.outputs[0]
        check = self.check_finite if check_finite is None else check_finite
        planned = self._planned
        if planned is not None and not check and not wrt and out is planned.output:
            return planned.bprop(grad_output)  # (the step plan)
        self.check_fresh(out)
        plan, targets, unreached = self.bprop_plan(out, wrt)
        for n in self.order:
            n.grad = None
        out.grad = self.seed(out, grad_output)
        complete = True  # every box ran and gave every gradient: only unreached targets lack one
        for node, needs in plan:  # reversed order, only boxes on a path from a target
            if node.grad is None:  # its parents gave it no gradient
                complete = False
                continue
            children = node.children
            try:
                grads = node.box.bprop_needed(  # type: ignore[union-attr]  # a plan holds box nodes
                    list(map(_value, children)), node.value, node.grad, needs
                )
            except NonFiniteError:
                raise
            except Exception as e:  # add the node, the box and the shapes to any failure
                raise messages.augment(e, node, "bprop", [c.value for c in children]) from e
            if type(grads) is not tuple or len(grads) != len(needs):
                grads = self.gradient_tuple(node, grads)
            for child, need, grad in zip(children, needs, grads):
                if not need:
                    continue
                if grad is None:
                    complete = False
                    continue
                if type(grad) is not _ndarray or grad.shape != child.value.shape:
                    grad = self.checked_gradient(node, child, grad)  # a wrong shape is an error
                child.grad = grad if child.grad is None else child.grad + grad  # never in place
                if check:
                    messages.refuse_non_finite(child, child.grad, f"gradient from {node.name}")
        for t in unreached if complete else targets:  # a zero gradient, not None
            if getattr(t, "grad_outer", None) is None and t.grad is None:  # (keep factors)
                t.grad = np.zeros_like(t.value)

    def check_fresh(self, output: Node) -> None:
        """Refuse a bprop whose values are not all from this graph's last successful fprop
        (none ran, it failed, or another graph over shared nodes ran fprop since)."""
        stamp = self._stamp
        if stamp is None:
            if output.value is None:
                raise GraphError(f"bprop before fprop: output {output.describe()} has no value yet")
            raise GraphError(
                "bprop needs the values of a successful fprop of this graph: the last fprop "
                "failed (or none ran), so the nodes' values are not all from one forward pass"
            )
        stamped = self.stamped
        if list(map(_stamp, stamped)).count(stamp) == len(stamped):  # (the loop below, in C)
            return
        for n in stamped:
            if n.fprop_stamp is not stamp:
                raise GraphError(
                    f"node {n.describe()} holds a value from another fprop (another graph "
                    "sharing this node ran fprop since this graph's): run this graph's fprop "
                    "again before its bprop, so no gradient mixes values of two passes"
                )

    def plan(self, output: Node, targets: tuple[Node, ...]) -> list[tuple[Node, tuple[bool, ...]]]:
        """The boxes on a path from a target up to ``output``, in reverse order, each with
        which of its children need a gradient (computed once per output and targets)."""
        key = (id(output), tuple(id(t) for t in targets))
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        target_ids = {id(t) for t in targets}
        needs: dict[int, bool] = {}
        for n in self.order:  # children first: reaches a target?
            needs[id(n)] = id(n) in target_ids or any(needs[id(c)] for c in n.children)
        ancestors = {id(output)}
        for n in reversed(self.order):  # parents first: feeds the output?
            if id(n) in ancestors:
                ancestors.update(id(c) for c in n.children)
        plan = [
            (n, tuple(needs[id(c)] and id(c) in ancestors for c in n.children))
            for n in reversed(self.box_nodes)
            if id(n) in ancestors and needs[id(n)]
        ]
        self._plans[key] = plan
        return plan

    def bprop_plan(
        self, output: Node, wrt: Iterable[Node | str] | None
    ) -> tuple[list[tuple[Node, tuple[bool, ...]]], tuple[Node, ...], tuple[Node, ...]]:
        """``(plan, targets, unreached)`` for a bprop from ``output``: the :meth:`plan`, the
        nodes that get a gradient (the Parameters and the Inputs of ``wrt``), and those of
        them the plan never reaches (they get zeros). Kept per output for ``wrt=None``, the
        training loop's call, so that it builds no key."""
        if wrt is None:
            cached = self._default_plans.get(id(output))
            if cached is None:
                targets: tuple[Node, ...] = tuple(self.parameters)
                plan = self.plan(output, targets)
                reached = {id(c) for n, needs in plan for c, k in zip(n.children, needs) if k}
                unreached = tuple(t for t in targets if id(t) not in reached)
                cached = self._default_plans[id(output)] = (plan, targets, unreached)
            return cached
        extra = tuple(self.resolve(w) for w in wrt)
        targets = (*self.parameters, *(t for t in extra if not isinstance(t, Parameter)))
        return self.plan(output, targets), targets, targets

    @staticmethod
    def seed(output: Node, grad_output: Any) -> Any:
        """The output's gradient: 1 for a scalar, else ``grad_output`` (of its shape), in the
        output's dtype so that a float32 graph stays float32 all the way down."""
        value = output.value
        if grad_output is None:
            if isinstance(value, (np.ndarray, np.generic)) and value.size == 1:  # (fast)
                return np.array(1, value.dtype) if not value.shape else np.ones_like(value)
            if np.size(value) != 1:
                raise GraphError(
                    f"output {output.describe()} has shape {np.shape(value)}, not a scalar: "
                    "pass grad_output (an array of that shape) to bprop"
                )
            return np.ones_like(value)
        floating = isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating)
        grad_output = np.asarray(grad_output, dtype=value.dtype if floating else None)
        if grad_output.shape != np.shape(value):
            raise GraphError(
                f"grad_output has shape {grad_output.shape} but output {output.describe()} "
                f"has shape {np.shape(value)}"
            )
        return grad_output

    @staticmethod
    def gradient_tuple(node: Node, grads: Any) -> Sequence[Any]:
        """``grads`` as bprop must return them: a tuple (or list) with one gradient per child
        of ``node``, else a BoxError saying what came back."""
        if not isinstance(grads, (tuple, list)) or len(grads) != len(node.children):
            raise messages.wrong_gradients(node, grads)
        return grads

    @staticmethod
    def checked_gradient(node: Node, child: Node, grad: Any) -> Any:
        """``grad``, which ``node.box`` returned for ``child``, ready to add into child.grad.

        It must have the child's shape: a wrong one (a bias gradient not summed over the
        batch) is a BoxError naming the box, the child and both shapes, here rather than as
        an optimiser's broadcasting error later. A rank-1 gradient (an :class:`Outer`, from
        Linear on one example) stays factors only as a Parameter's first gradient, for SGD's
        in-place update (:mod:`flowgraph.core.rank1`); anywhere else it becomes the array.
        (A Parameter gives its gradient its own dtype as it is stored.)
        """
        if type(grad) is Outer:  # the rank-1 fast path
            if isinstance(child, Parameter) and grad.shape == child.value.shape:
                if child.grad is None:
                    return grad
            grad = grad.materialize()
        if np.shape(grad) != np.shape(child.value):
            raise messages.wrong_shape(node, child, grad)
        return grad

    def resolve(self, ref: Node | str) -> Node:
        """The node ``ref`` names (a node of this graph, or its name)."""
        if isinstance(ref, str):
            return self[ref]
        if not isinstance(ref, Node) or ref not in self:
            raise GraphError(f"{ref!r} is not a node of this graph")
        return ref
