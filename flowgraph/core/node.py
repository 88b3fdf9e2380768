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
from ..machinery.state import KEY_SIZE
from ..machinery.static import leaf_probes, static_shape
from .rank1 import Outer

__all__ = ["Node", "Input", "Parameter", "Constant", "RandomSource", "Mode", "Buffer", "as_node"]


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
        self.probes: tuple[Any, Any] | None = None  # values at two batch sizes (machinery.static)

    @property
    def shape(self) -> tuple[int | None, ...] | None:
        """The value's shape after fprop; before it, the shape known from the declared shapes
        of the Inputs (``Input("x", shape=(None, 784))``), None for an axis of any size, or
        None when nothing is declared."""
        if self.value is not None:
            return np.shape(self.value)
        return static_shape(self)

    def describe(self) -> str:
        """``'a1' (Linear)``: how error messages and reports name a node."""
        what = type(self.box).__name__ if self.box is not None else type(self).__name__
        return f"'{self.name or '<unnamed>'}' ({what})"

    def __repr__(self) -> str:
        what = type(self.box).__name__ if self.box is not None else type(self).__name__
        shape = "" if self.value is None else f", shape={np.shape(self.value)}"
        return f"<{what} node {self.name!r}{shape}>"

    # -- operators: sugar for boxes (the box is the truth the checker verifies) ---------------
    # ``<, <=, >, >=`` make masks (a Compare box), as NumPy's and PyTorch's arrays do. ``==``
    # and ``!=`` keep Python's identity: nodes are dict keys and list members everywhere in the
    # engine (feeds, plans, reports) and in users' code; their masks are ``fg.equal`` and
    # ``fg.not_equal``, as NumPy spells them. A node is a node, not its value: ``if x < 0:``
    # tests nothing (test ``x.value`` after fprop). NumPy must not broadcast over a Node:
    # ``array + node`` goes to Node.__radd__.
    __array_ufunc__ = None

    def __lt__(self, other: Any) -> Node:
        return Compare("<")(self, as_node(other, "<"))

    def __le__(self, other: Any) -> Node:
        return Compare("<=")(self, as_node(other, "<="))

    def __gt__(self, other: Any) -> Node:
        return Compare(">")(self, as_node(other, ">"))

    def __ge__(self, other: Any) -> Node:
        return Compare(">=")(self, as_node(other, ">="))

    def __getitem__(self, index: Any) -> Node:
        """``x[1:, ::-1]``, ``x[None, ..., 0]``, ``x[[0, 2, 2]]`` (a GetItem box) or, with a
        node of integers, ``C[ctx]``: rows of C (a Take box, the embedding lookup)."""
        if isinstance(index, Node):
            return Take(0)(self, index)
        if isinstance(index, tuple) and any(isinstance(i, Node) for i in index):
            raise GraphError(
                f"{self.describe()}[...]: a node of indices must be the whole index, x[idx] "
                "(rows); along another axis write fg.take(x, idx, axis)"
            )
        return GetItem(index)(self)

    def __abs__(self) -> Node:
        return Abs()(self)

    def __rpow__(self, base: Any) -> Node:
        """``2 ** x``: a Power box with the node as the exponent."""
        return Power()(as_node(base, "**"), self)

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
        """``x ** 2`` is Square, ``x ** 0.5`` Pow(0.5) (a constant exponent), ``x ** y`` with a
        node or an array y a Power box."""
        if isinstance(p, (Node, np.ndarray)):
            return Power()(self, as_node(p, "**"))
        if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
            raise GraphError(
                f"{self.describe()} ** {type(p).__name__}: the exponent must be a number, an "
                "array or a node (x ** 2, x ** 0.5, x ** y)"
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

    def max(self, axis: Any = None, keepdims: bool = False) -> Node:
        """The largest element over ``axis`` (a Max box; ties: one element gets the gradient)."""
        return Max(axis, keepdims)(self)

    def min(self, axis: Any = None, keepdims: bool = False) -> Node:
        """The smallest element over ``axis`` (a Min box)."""
        return Min(axis, keepdims)(self)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Node:
        """The variance over ``axis``, as ``np.var`` (ddof=0; a Var box)."""
        return Var(axis, keepdims, ddof)(self)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> Node:
        """The standard deviation over ``axis``, as ``np.std``: sqrt of a Var box."""
        return Pow(0.5)(self.var(axis, ddof, keepdims))

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Node:
        """The index of the largest element along ``axis`` (an ArgMax box: no gradient)."""
        return ArgMax(axis, keepdims)(self)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Node:
        """The index of the smallest element along ``axis`` (an ArgMin box: no gradient)."""
        return ArgMin(axis, keepdims)(self)

    def transpose(self, *axes: Any) -> Node:
        """``x.transpose()`` reverses the axes (Transpose); ``x.transpose(1, 0, 2)`` or
        ``x.transpose((1, 0, 2))`` permutes them (Permute), as NumPy."""
        if len(axes) == 1 and not isinstance(axes[0], (int, np.integer)):
            axes = tuple(axes[0])
        return Permute(axes)(self) if axes else Transpose()(self)

    def permute(self, *axes: Any) -> Node:
        """The axes in the order ``axes``, as ``torch.permute`` (a Permute box)."""
        return self.transpose(*axes)

    def swapaxes(self, axis1: int, axis2: int) -> Node:
        """Two axes exchanged, as ``np.swapaxes`` (a SwapAxes box)."""
        return SwapAxes(axis1, axis2)(self)

    def flatten(self, start_dim: int = 0) -> Node:
        """The axes from ``start_dim`` on joined into one, as ``torch.flatten`` (a Flatten box;
        the default, 0, gives a 1-D node as ``np.ndarray.flatten``)."""
        return Flatten(start_dim)(self)

    def reshape(self, *shape: Any) -> Node:
        """The same values in another shape, a Reshape box: ``x.reshape(-1, 4)``."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = tuple(shape[0])
        return Reshape(shape)(self)


class Input(Node):
    """A leaf fed with data at every fprop: ``x = Input("x")``, then ``graph.fprop({x: X})``.

    ``shape`` (optional) declares the shape of what will be fed, None for an axis of any size:
    ``Input("x", shape=(None, 784))``. Then the shapes of the nodes built on it are known
    before fprop (``node.shape``), and a box given children of shapes it refuses fails when the
    node is built, not at the first fprop. ``dtype`` is the dtype of the declared data (for
    labels: ``Input("y", shape=(None,), dtype=int)``)."""

    kind = "input"

    def __init__(self, name: str | None = None, shape: Sequence[int | None] | None = None,
                 dtype: Any = np.float64):
        super().__init__(None, (), name)
        self.declared_shape = None if shape is None else tuple(
            None if n is None else int(n) for n in shape)
        self.dtype = np.dtype(dtype)
        self.probes = leaf_probes(self)


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
        self.probes = (value, value)

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
        self.probes = (self.value, self.value)


# -- the leaves of randomness, mode and state (idea 2: everything a box reads is a child) -------
# (filled by the Graph before each fprop: flowgraph/machinery/state.py)


class RandomSource(Node):
    """A leaf holding the random key of the step: what a dropout or a sampling box draws from.

    Its value is an int64 array ``key`` (entropy for ``numpy.random.default_rng(key)``), set by
    the Graph before each fprop from the generator it is given (``graph.fprop(feed, rng=...)``);
    each RandomSource of a graph gets its own key. A box that draws (``Uniform``, ``Normal``)
    is then a function of its children: the same key gives the same draws, so a run is
    reproducible from its seed and the checker's repeated fprops see one function."""

    kind = "random"

    def __init__(self, name: str | None = None):
        super().__init__(None, (), name)
        self.value = np.zeros(KEY_SIZE, dtype=np.int64)
        self.probes = (self.value, self.value)


class Mode(Node):
    """A leaf holding the mode of the step: True while training, False in evaluation.

    Set by the Graph before each fprop from ``graph.training`` (``graph.train()``,
    ``graph.eval()``): dropout is off and batch norm uses its running statistics when False."""

    kind = "mode"

    def __init__(self, name: str | None = None):
        super().__init__(None, (), name)
        self.value = np.True_
        self.probes = (self.value, self.value)


class Buffer(Node):
    """A leaf of state that is not learnt by gradient: a batch norm's running statistics.

    ``update`` (optional) is a node computed in the same graph whose value
    ``graph.update_buffers()`` copies into the buffer after the optimiser's step (the training
    loop calls it): the state changes by an explicit step, visible in the graph, never inside
    a box. The Graph lists buffers in ``graph.buffers``; they get no gradient."""

    kind = "buffer"

    def __init__(self, value: Any, name: str | None = None, update: Node | None = None):
        super().__init__(None, (), name)
        value = np.array(value, copy=True)
        if not np.issubdtype(value.dtype, np.floating):
            raise GraphError(f"Buffer {name!r} must hold floating-point values, got {value.dtype}")
        if update is not None and not isinstance(update, Node):
            raise GraphError(f"Buffer {name!r}: update must be a node, got {type(update).__name__}")
        self.value = value
        self.update = update
        self.probes = (value, value)


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
from ..boxes.arithmetic import Add, Div, Mul, Neg, Sub  # noqa: E402, I001  (the circle)
from ..boxes.elementary import Abs, Pow, Square  # noqa: E402
from ..boxes.elementwise import Compare, Power  # noqa: E402
from ..boxes.indexing import GetItem, Take  # noqa: E402
from ..boxes.matmul import MatMul, Transpose  # noqa: E402
from ..boxes.reductions import ArgMax, ArgMin, Max, Mean, Min, Sum, Var  # noqa: E402
from ..boxes.shapes import Flatten, Permute, Reshape, SwapAxes  # noqa: E402
from .box import Box  # noqa: E402  (loaded by now: as_node names a box passed as a node)
