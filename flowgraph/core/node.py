"""Nodes: the vertices of a flow graph, and the operators that make them.

A :class:`Node` is a box applied to child nodes; the leaves are an :class:`Input` (fed with
data at every fprop), a :class:`Parameter` (learnt, holding its value) and a
:class:`Constant` (a fixed number or array). A node holds ``value`` after ``Graph.fprop`` and
``grad`` after ``Graph.bprop``; the Graph does all the work.

The operators ``+ - * / @``, ``-x``, ``x.T``, ``x ** p``, ``x.sum(axis)``, ``x.mean(axis)``
and ``x.reshape(shape)`` are sugar: each makes one node of one box of
:mod:`flowgraph.boxes.arithmetic`, the box being the truth the checker verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import GraphError
from .rank1 import Outer

__all__ = ["Node", "Input", "Parameter", "Constant", "as_node"]


class Node:
    """A vertex of a flow graph: a box applied to child nodes (or a leaf, see Input, Parameter).

    After ``Graph.fprop`` a node holds its ``value``; after ``Graph.bprop`` every node on a
    path from the parameters to the output holds ``grad``, the gradient of that output with
    respect to the node's value (same shape), and other nodes hold ``None``. The Graph also
    writes ``fprop_stamp`` (which of its fprops computed or fed the value: bprop refuses
    values of two passes) and ``auto_named`` (True when it chose the name, ``tanh1``).
    """

    kind = "box"

    def __init__(self, box: Box | None, children: Sequence[Node] = (), name: str | None = None):
        if name is not None and not (isinstance(name, str) and name):
            raise GraphError(f"a node name must be a non-empty string, got {name!r}")
        self.box = box
        self.children: tuple[Node, ...] = tuple(children)
        self.name: str = name  # type: ignore[assignment]  # None until a Graph names it
        self.auto_named = False  # True once a Graph gave it a name of its own (box type + index)
        self.fprop_stamp: object | None = None  # which Graph.fprop computed (or fed) its value
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
    _grad: Any  # (set by the grad property: an array, or None with the factors in _outer)
    _outer: Outer | None

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
        """The gradient of the loss with respect to the value (its shape, its dtype)."""
        if self._outer is not None:
            self._grad, self._outer = self._outer.materialize(self.value.dtype), None
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        # in the value's dtype: a float32 weight that met float64 data gets a float32 gradient
        # (factors are cast as they are used: Outer.materialize, Outer.subtract_from)
        if value is None:
            self._grad = self._outer = None
        elif type(value) is Outer:
            self._grad, self._outer = None, value
        else:
            try:
                same = value.dtype is self.value.dtype
            except AttributeError:  # a number
                same = False
            if not same:  # (no copy where the dtype is equal but another object)
                value = np.asarray(value, dtype=self.value.dtype)
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


# -- the one import circle of flowgraph ----------------------------------------------------------
# The operators above are sugar for boxes, so this module imports the arithmetic boxes, which
# import core.box, which imports Node from here (calling a box makes a node). The imports come
# last, once every class of this module is defined, so that core.box finds Node while this
# module is still loading; flowgraph.core imports this module first (see core/__init__.py).
from ..boxes.arithmetic import (  # noqa: E402  (the circle: node -> boxes -> core.box -> node)
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
from .box import Box  # noqa: E402  (loaded by now: as_node names a box passed as a node)
