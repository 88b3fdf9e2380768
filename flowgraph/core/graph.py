"""Nodes and the Graph: the graph only orders and accumulates.

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

from ..boxes.arithmetic import (
    Add,
    Div,
    MatMul,
    Mean,
    Mul,
    Neg,
    Pow,
    Reshape,
    Square,
    Sub,
    Sum,
    Transpose,
)
from ..errors import BoxError, FeedError, FlowgraphError, GraphError, NonFiniteError
from .box import Box, Outer

__all__ = ["Node", "Input", "Parameter", "Constant", "Graph", "as_node"]

_value = attrgetter("value")  # map(_value, children): the children's values, looped in C


class Node:
    """A vertex of a flow graph: a box applied to child nodes (or a leaf, see Input, Parameter).

    After ``Graph.fprop`` a node holds its ``value``; after ``Graph.bprop`` every node on a
    path from the parameters to the output holds ``grad``, the gradient of that output with
    respect to the node's value (same shape), and other nodes hold ``None``.
    """

    kind = "box"

    def __init__(self, box: Box | None, children: Sequence[Node] = (), name: str | None = None):
        if name is not None and not (isinstance(name, str) and name):
            raise GraphError(f"a node name must be a non-empty string, got {name!r}")
        self.box = box
        self.children: tuple[Node, ...] = tuple(children)
        self.name: str | None = name
        self._auto_named = False  # True once a Graph gave it a name of its own (box type + index)
        self.value: Any = None
        self.grad: Any = None

    @property
    def shape(self) -> tuple[int, ...] | None:
        return None if self.value is None else np.shape(self.value)

    def describe(self) -> str:
        """``'a1' (Linear)``: how error messages and reports name a node."""
        what = type(self.box).__name__ if self.box is not None else type(self).__name__
        return f"'{self.name or '<unnamed>'}' ({what})"

    def __repr__(self) -> str:
        what = type(self.box).__name__ if self.box is not None else type(self).__name__
        shape = "" if self.value is None else f", shape={np.shape(self.value)}"
        return f"<{what} node {self.name!r}{shape}>"

    # -- operators: sugar for boxes (the box is the truth the checker verifies) ---------------
    # No __eq__ or __hash__: nodes are dict keys and compared by identity. NumPy must not
    # broadcast over a Node as an object: ``array + node`` goes to Node.__radd__.
    __array_ufunc__ = None

    def __add__(self, other: Any) -> Node:
        return Add()(self, as_node(other, "+"))

    def __radd__(self, other: Any) -> Node:
        return Add()(as_node(other, "+"), self)

    def __sub__(self, other: Any) -> Node:
        return Sub()(self, as_node(other, "-"))

    def __rsub__(self, other: Any) -> Node:
        return Sub()(as_node(other, "-"), self)

    def __mul__(self, other: Any) -> Node:
        return Mul()(self, as_node(other, "*"))

    def __rmul__(self, other: Any) -> Node:
        return Mul()(as_node(other, "*"), self)

    def __truediv__(self, other: Any) -> Node:
        return Div()(self, as_node(other, "/"))

    def __rtruediv__(self, other: Any) -> Node:
        return Div()(as_node(other, "/"), self)

    def __matmul__(self, other: Any) -> Node:
        return MatMul()(self, as_node(other, "@"))

    def __rmatmul__(self, other: Any) -> Node:
        return MatMul()(as_node(other, "@"), self)

    def __neg__(self) -> Node:
        return Neg()(self)

    def __pow__(self, p: Any) -> Node:
        """``x ** 2`` is Square, ``x ** p`` Pow(p): the exponent is a constant number."""
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
            raise GraphError(
                f"{self.describe()} ** {type(p).__name__}: the exponent must be a constant "
                "number (x ** 2, x ** 0.5); for a node p write fg.exp(p * fg.log(x))"
            )
        return Square()(self) if p == 2 else Pow(p)(self)

    @property
    def T(self) -> Node:
        """The transpose (a Transpose box): ``x @ W.T``."""
        return Transpose()(self)

    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:
        """The sum over ``axis`` (None: every element), a Sum box."""
        return Sum(axis, keepdims)(self)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Node:
        """The mean over ``axis`` (None: every element), a Mean box."""
        return Mean(axis, keepdims)(self)

    def reshape(self, *shape: Any) -> Node:
        """The same values in another shape, a Reshape box: ``x.reshape(-1, 4)``."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return Reshape(shape)(self)


class Input(Node):
    """A leaf fed with data at every fprop: ``x = Input("x")``, then ``graph.fprop({x: X})``."""

    kind = "input"

    def __init__(self, name: str | None = None):
        super().__init__(None, (), name)


class Parameter(Node):
    """A learnable leaf holding its value: ``W1 = Parameter(glorot_uniform(...), "W1")``.

    The value's float dtype is kept (float32 for speed, float64 for exactness).
    """

    kind = "parameter"

    def __init__(self, value: Any, name: str | None = None):
        super().__init__(None, (), name)
        value = np.array(value, copy=True)
        if not np.issubdtype(value.dtype, np.floating):
            raise GraphError(
                f"Parameter {name!r} must hold floating-point values, got dtype {value.dtype}"
            )
        self.value = value

    # The gradient is a property so that the Graph may hold a rank-1 gradient u v^T as its
    # factors (an Outer, from Linear with one example): SGD then updates W in place with
    # them, and anyone who reads ``grad`` gets the array, built on first access.
    @property
    def grad(self) -> Any:
        if self._outer is not None:
            self._grad, self._outer = self._outer.materialize(), None
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if type(value) is Outer:
            self._grad, self._outer = None, value
        else:
            self._grad, self._outer = value, None

    @property
    def grad_outer(self) -> Outer | None:
        """The gradient as factors (u, v) of u v^T when bprop left it so, else None."""
        return self._outer


class Constant(Node):
    """A leaf holding a fixed value, neither fed nor learnt: what ``x * 2`` or ``x - t0``
    makes of a number or an array. The Graph lists it in neither ``inputs`` nor
    ``parameters``: it needs no feed and gets no gradient.

    A Python number is kept as it is, so that ``h * 0.5`` stays float32 in a float32 graph
    (NumPy treats a Python float as weakly typed); an array is copied, its dtype kept.
    """

    kind = "constant"

    def __init__(self, value: Any, name: str | None = None):
        super().__init__(None, (), name)
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (int, float, np.number, np.ndarray)
        ):
            raise GraphError(
                f"Constant {name!r} must hold a number or a NumPy array, got {type(value).__name__}"
            )
        self.value = np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def as_node(value: Any, op: str = "") -> Node:
    """``value`` as a node: a Node as it is, a number or an array as a :class:`Constant`.

    Boxes, lists and other objects are refused with a sentence saying what to pass."""
    if isinstance(value, Node):
        return value
    if isinstance(value, (int, float, np.number, np.ndarray)) and not isinstance(
        value, (bool, np.bool_)
    ):
        return Constant(value)
    where = f" in '{op}'" if op else ""
    hint = ""
    if isinstance(value, Box):
        hint = " (did you forget to call the box on its children, e.g. Tanh()(a)?)"
    elif isinstance(value, (list, tuple)):
        hint = " (make it an array with np.asarray, or a node)"
    raise GraphError(f"cannot use a {type(value).__name__} as a node{where}{hint}")


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


def _shapes(values: Iterable[Any]) -> str:
    return ", ".join(
        f"{np.shape(v)} {getattr(v, 'dtype', type(v).__name__)}" if v is not None else "None"
        for v in values
    )


def _augment(error: Exception, node: Node, stage: str, values: Sequence[Any]) -> Exception:
    names = [node.box.input_name(i) for i in range(len(values))] if node.box else []
    shapes = ", ".join(f"{n}={np.shape(v)}" for n, v in zip(names, values))
    msg = f"{stage} of node {node.describe()} on inputs {shapes} failed: {error}"
    if isinstance(error, FlowgraphError):
        new = type(error)(msg)
    else:
        new = BoxError(msg)
    return new


class Graph:
    """A flow graph: the nodes reachable from ``outputs``, sorted topologically once.

    ``outputs`` is one node or a list; the first is the one ``bprop`` differentiates unless
    told otherwise. Unnamed nodes are named here, deterministically, by box type and index in
    the order (``tanh1``, ``linear2``), so the same construction gives the same names.

    Attributes: ``order`` (every node, children first), ``inputs``, ``parameters`` (in order),
    ``outputs``, ``nodes`` (name -> node). ``check_finite=True`` makes fprop and bprop stop at
    the first box whose output or gradient holds NaN or inf, naming it.
    """

    def __init__(self, outputs: Node | Sequence[Node], *, check_finite: bool = False):
        single = isinstance(outputs, Node)
        outs = [outputs] if single else list(outputs)
        if not outs:
            raise GraphError("Graph needs at least one output node")
        for o in outs:
            if not isinstance(o, Node):
                raise GraphError(f"Graph outputs must be Nodes, got {type(o).__name__}")
        self.outputs: list[Node] = outs
        self._single = single
        self.check_finite = check_finite
        self.order: list[Node] = _topological_order(outs)
        self._name_nodes()
        self.nodes: dict[str, Node] = {n.name: n for n in self.order}  # type: ignore[misc]
        self.inputs: list[Input] = [n for n in self.order if isinstance(n, Input)]
        self.parameters: list[Parameter] = [n for n in self.order if isinstance(n, Parameter)]
        self._boxes: list[Node] = [n for n in self.order if n.box is not None]
        # which fprop the nodes' values come from: a fresh token per fprop, written to every
        # node it computes or feeds, and None while (or after) an fprop fails
        self._stamp: object | None = None
        self._stamped: list[Node] = self.inputs + self._boxes
        self._plans: dict[tuple, list[tuple[Node, tuple[bool, ...]]]] = {}
        # wrt=None: the plan, and the targets it never reaches (they get zero gradients)
        self._default_plans: dict[int, tuple[list, tuple[Node, ...]]] = {}

    # -- construction ----------------------------------------------------------------------
    def _name_nodes(self) -> None:
        """Check that given names are unique and name the other nodes ``tanh1``, ``linear2``...

        A name another Graph gave a node is kept unless it clashes here (two graphs built
        separately may each have named a different node ``linear1``); then the node is
        renamed, as the names users give always win.
        """
        taken: dict[str, Node] = {}
        for n in self.order:
            if n.name is not None and not getattr(n, "_auto_named", False):
                if n.name in taken and taken[n.name] is not n:
                    raise GraphError(
                        f"two nodes are named {n.name!r}: {taken[n.name].describe()} and "
                        f"{n.describe()}; names must be unique within a graph"
                    )
                taken[n.name] = n
        to_name: list[Node] = []
        for n in self.order:
            if n.name is None:
                to_name.append(n)
            elif getattr(n, "_auto_named", False):
                if n.name in taken:
                    to_name.append(n)
                else:
                    taken[n.name] = n
        counters: dict[str, int] = {}
        for n in to_name:
            base = type(n.box).__name__.lower() if n.box is not None else n.kind
            i = counters.get(base, 0)
            while True:
                i += 1
                candidate = f"{base}{i}"
                if candidate not in taken:
                    break
            counters[base] = i
            n.name = candidate
            n._auto_named = True
            taken[candidate] = n

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
            f"<Graph: {len(self.order)} nodes ({len(self._boxes)} boxes, "
            f"{len(self.parameters)} parameters, inputs {[i.name for i in self.inputs]}), "
            f"outputs [{outs}]>"
        )

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a Graph as its SVG picture (needs Graphviz's ``dot``)."""
        try:
            from ..render import to_svg
        except ImportError:  # rendering not available: plain repr
            return None
        return to_svg(self)

    # -- forward ------------------------------------------------------------------------------
    def fprop(self, feed: Mapping[Any, Any], *, check_finite: bool | None = None) -> Any:
        """Compute every node's value; return the output's value (a list for several outputs).

        ``feed`` maps each Input node (or its name) to an array. Every value it computes is
        marked as coming from this call: ``bprop`` refuses values from a failed fprop, or
        from another graph's fprop over shared nodes (a Model's train and predict graphs).
        """
        self._stamp = None  # until this fprop succeeds, no bprop may use the nodes' values
        stamp = object()
        self._feed(feed)
        for inp in self.inputs:
            inp._fprop_stamp = stamp
        check = self.check_finite if check_finite is None else check_finite
        node = None
        try:
            for node in self._boxes:
                node.value = node.box.fprop(*map(_value, node.children))
                node._fprop_stamp = stamp
                if check:
                    self._check_finite_value(node, node.value, "output")
        except NonFiniteError:
            raise
        except Exception as e:  # add the node, the box and the shapes to any failure
            assert node is not None
            raise _augment(e, node, "fprop", [c.value for c in node.children]) from e
        self._stamp = stamp
        if self._single:
            return self.outputs[0].value
        return [o.value for o in self.outputs]

    # -- the values of one fprop, kept and put back (the uses of a Block share its graph) ------
    def _fprop_state(self) -> tuple[object, list[Any]]:
        """``(stamp, values)``: the last successful fprop's stamp and the values it left in the
        nodes it fed or computed (``self._stamped``, in order), for ``_restore_fprop_state``."""
        stamp, values = self._stamp, []
        for n in self._stamped if stamp is not None else ():
            if n._fprop_stamp is not stamp:
                stamp = None
                break
            values.append(n.value)
        if stamp is None:
            raise GraphError("no successful fprop whose values the nodes all still hold")
        return stamp, values

    def _restore_fprop_state(self, stamp: object, values: Sequence[Any]) -> None:
        """Put back what ``_fprop_state`` returned: every node fprop feeds or computes holds
        that fprop's value again, so its stamp is true again and bprop may use the values (a
        later fprop of another graph over shared nodes still makes bprop refuse them)."""
        if stamp is None or len(values) != len(self._stamped):
            raise GraphError(f"not the state of an fprop of this graph ({len(values)} values)")
        for n, v in zip(self._stamped, values):
            n.value = v
            n._fprop_stamp = stamp
        self._stamp = stamp

    def _feed(self, feed: Mapping[Any, Any]) -> None:
        if type(feed) is not dict and not isinstance(feed, Mapping):
            raise FeedError(
                f"feed must map Input nodes (or their names) to arrays, got {type(feed).__name__}"
            )
        for inp in self.inputs:
            if inp in feed:
                value = feed[inp]
            elif inp.name in feed:
                value = feed[inp.name]
            else:
                raise FeedError(self._missing_feed_message(inp, feed))
            inp.value = value if isinstance(value, np.ndarray) else np.asarray(value)
        if len(feed) > len(self.inputs):
            known = {i.name for i in self.inputs}
            for key in feed:
                if isinstance(key, str) and key not in known:
                    raise FeedError(
                        f"feed names {key!r}, which is not an Input of this graph "
                        f"(inputs: {sorted(known)})"
                    )
                if isinstance(key, Node) and not any(key is i for i in self.inputs):
                    raise FeedError(
                        f"feed holds node {key.describe()}, which is not an Input of this graph "
                        f"(inputs: {sorted(known)})"
                    )

    def _missing_feed_message(self, inp: Input, feed: Mapping[Any, Any]) -> str:
        names = [i.name for i in self.inputs]
        msg = f"no value fed for Input {inp.name!r}; the graph's inputs are {names}"
        if any(isinstance(k, Node) and k is not inp and k.name == inp.name for k in feed):
            msg += (
                f" (the feed holds another node named {inp.name!r}: one from another graph? "
                "feed this graph's Input, or its name)"
            )
        return msg

    @staticmethod
    def _check_finite_value(node: Node, value: Any, what: str) -> None:
        if not np.all(np.isfinite(value)):
            arr = np.asarray(value)
            bad = np.argwhere(~np.isfinite(arr))
            first = tuple(int(i) for i in bad[0]) if arr.ndim else ()
            children = [c.value for c in node.children]
            finite_in = all(np.all(np.isfinite(c)) for c in children if c is not None)
            cause = "its inputs are all finite" if finite_in else "one of its inputs is not finite"
            raise NonFiniteError(
                f"node {node.describe()}: {what} holds {len(bad)} non-finite value(s), first at "
                f"index {first} = {arr[first] if arr.ndim else arr}; {cause} "
                f"(input shapes: {_shapes(children)})"
            )

    # -- backward ---------------------------------------------------------------------------
    def _plan(self, output: Node, targets: tuple[Node, ...]) -> list[tuple[Node, tuple[bool, ...]]]:
        """Boxes on a path from a target up to ``output``, in reverse order, with, for each,
        which of its children need a gradient."""
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
            for n in reversed(self._boxes)
            if id(n) in ancestors and needs[id(n)]
        ]
        self._plans[key] = plan
        return plan

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
        that the output does not depend on gets a zero gradient.
        """
        out = self._resolve(output) if output is not None else self.outputs[0]
        stamp = self._stamp
        if stamp is None:
            if out.value is None:
                raise GraphError(f"bprop before fprop: output {out.describe()} has no value yet")
            raise GraphError(
                "bprop needs the values of a successful fprop of this graph: the last fprop "
                "failed (or none ran), so the nodes' values are not all from one forward pass"
            )
        for n in self._stamped:  # (all stamped by this graph's successful fprop, at least)
            if n._fprop_stamp is not stamp:
                raise GraphError(
                    f"node {n.describe()} holds a value from another fprop (another graph "
                    "sharing this node ran fprop since this graph's): run this graph's fprop "
                    "again before its bprop, so no gradient mixes values of two passes"
                )
        targets: tuple[Node, ...] = tuple(self.parameters)
        if wrt is not None:
            extra = tuple(self._resolve(w) for w in wrt)
            targets = targets + tuple(t for t in extra if not isinstance(t, Parameter))
            plan = self._plan(out, targets)
            unreached = targets
        else:  # the training loop's call: its plan is looked up without building a key
            cached = self._default_plans.get(id(out))
            if cached is None:
                plan = self._plan(out, targets)
                reached = {id(c) for n, needs in plan for c, k in zip(n.children, needs) if k}
                unreached = tuple(t for t in targets if id(t) not in reached)
                cached = self._default_plans[id(out)] = (plan, unreached)
            plan, unreached = cached
        if grad_output is None:
            if np.size(out.value) != 1:
                raise GraphError(
                    f"output {out.describe()} has shape {np.shape(out.value)}, not a scalar: "
                    "pass grad_output (an array of that shape) to bprop"
                )
            grad_output = np.ones_like(out.value)
        else:
            # in the output's dtype: a float32 graph stays float32 all the way down
            v = out.value
            floating = isinstance(v, np.ndarray) and np.issubdtype(v.dtype, np.floating)
            grad_output = np.asarray(grad_output, dtype=v.dtype if floating else None)
            if grad_output.shape != np.shape(out.value):
                raise GraphError(
                    f"grad_output has shape {grad_output.shape} but output {out.describe()} "
                    f"has shape {np.shape(out.value)}"
                )
        check = self.check_finite if check_finite is None else check_finite

        for n in self.order:
            n.grad = None
        out.grad = grad_output
        node = None
        missing = False  # a box skipped, or a gradient not given: check every target below
        try:
            for node, child_needs in plan:
                g = node.grad
                if g is None:
                    missing = True
                    continue
                children = node.children
                values = list(map(_value, children))
                grads = node.box.bprop_needed(values, node.value, g, child_needs)
                if len(grads) != len(children):
                    missing = True
                for child, need, gc in zip(children, child_needs, grads):
                    if need and gc is None:
                        missing = True
                    elif need:
                        if type(gc) is Outer and not (
                            isinstance(child, Parameter)
                            and child.grad_outer is None
                            and child.grad is None
                        ):  # factors only as a Parameter's one and only gradient
                            gc = gc.materialize()
                        # never in place: a box may hand back an array it does not own
                        child.grad = gc if child.grad is None else child.grad + gc
                        if check:
                            self._check_finite_value(
                                child, child.grad, f"gradient from {node.name}"
                            )
        except NonFiniteError:
            raise
        except Exception as e:
            assert node is not None
            raise _augment(e, node, "bprop", [c.value for c in node.children]) from e
        for t in targets if missing else unreached:
            if getattr(t, "grad_outer", None) is None and t.grad is None:  # (keep factors)
                t.grad = np.zeros_like(t.value)

    def _resolve(self, ref: Node | str) -> Node:
        if isinstance(ref, str):
            return self[ref]
        if not isinstance(ref, Node) or ref not in self:
            raise GraphError(f"{ref!r} is not a node of this graph")
        return ref
