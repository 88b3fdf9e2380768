"""The one MLP builder: the lecture's multilayer network, as a Model.

    a(k)(x) = b(k) + W(k) h(k-1)(x)         k = 1 .. L+1,   h(0)(x) = x
    h(k)(x) = g(a(k)(x))                     k = 1 .. L
    f(x)    = softmax(a(L+1)(x))
    loss    = 1/N sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)|

(penalties on the weights only, never the biases). :func:`mlp` builds it from
``sizes = [H_0, H_1, ..., H_L, C]``; its parts are public so that every other network of this
shape is built by the same code: :func:`layers` (the stack of a(k), h(k)),
:func:`penalized` (a data loss plus the penalties), :func:`parameter_shapes` (what a size
list implies, before anything is allocated) and :func:`check_config` (a config read from a
file, checked field by field). ``ACTIVATIONS`` is the one table of the hidden layers' g.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import functional as F
from .. import init as initializers
from ..boxes import (
    Add,
    Identity,
    L1Penalty,
    L2Penalty,
    Linear,
    ReLU,
    Scale,
    Sigmoid,
    Softmax,
    SoftmaxCrossEntropy,
    Tanh,
)
from ..core import Box, Buffer, Input, Node, Parameter
from ..errors import DataError, GraphError, ModelError
from .model import Model
from .preprocessing import Preprocessing

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "mlp",
    "layers",
    "penalized",
    "parameter_shapes",
    "check_config",
    "from_config",
]

ACTIVATIONS: dict[str, type[Box]] = {
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "identity": Identity,
}


class MLP(Model):
    """The Model ``mlp`` builds: the lecture's network, with its layers' nodes by role.

    On top of :class:`Model`: ``x`` and ``y`` (Inputs), ``logits`` (a(L+1)), ``output``
    (softmax probabilities f(x)), ``weights`` ``W1 .. W{L+1}`` and ``biases``
    ``b1 .. b{L+1}``, ``n_classes`` C and ``config`` (the ``mlp`` arguments, which rebuild it).
    """

    def __init__(
        self,
        *,
        x: Input,
        y: Input,
        logits: Node,
        output: Node,
        loss: Node,
        config: dict[str, Any],
    ):
        super().__init__(loss, output, labels=y, classifier=True)
        if self.x is not x or self.y is not y:
            raise GraphError("MLP: the Inputs x and y must be named 'x' and 'y'")
        self.logits = logits
        self.config = dict(config)
        self.weights = [p for p in self.parameters if p.name.startswith("W")]
        self.biases = [p for p in self.parameters if p.name.startswith("b")]

    def __repr__(self) -> str:
        n = sum(p.value.size for p in self.parameters)
        return f"<Model {self.config.get('sizes')} {self.config.get('activation')}: {n} parameters>"

    @property
    def n_classes(self) -> int:
        return self.parameters[-1].value.shape[0]

    def as_input(self, X: Any) -> np.ndarray:
        """X as the network takes it: shape (N, H_0) (one row may be a vector), in its dtype."""
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        n_in = self.parameters[0].value.shape[1]
        if X.ndim != 2 or X.shape[1] != n_in:
            raise ValueError(f"this model takes inputs of shape (N, {n_in}), got {X.shape}")
        if X.dtype.kind not in "biuf":
            raise DataError(f"array 'x' has dtype {X.dtype}; feed numbers")
        return np.ascontiguousarray(X, dtype=self.dtype)

    def check_preprocessing(self, pre: Preprocessing) -> None:
        n_in, width = self.parameters[0].value.shape[1], pre.input_width()
        if width is not None and width != n_in:
            raise ModelError(
                f"this model takes inputs of {n_in} features; the preprocessing {pre!r} is for "
                f"{width}"
            )

    def rows(self, node: Input, a: np.ndarray) -> np.ndarray:
        return a.reshape(1, -1) if node is self.x and a.ndim == 1 else a

    def prepare(self, node: Input, value: Any, what: str) -> np.ndarray:
        if node is self.x:
            try:
                return self.as_input(value)
            except ValueError as e:
                if isinstance(e, DataError):
                    raise DataError(f"{what}: {e}") from None
                raise ValueError(f"{what}: {e}") from None
        return np.asarray(value)


# -- the parts ------------------------------------------------------------------------------------


def layers(
    x: Node,
    sizes: Sequence[int],
    activation: str,
    make_weight: Callable[..., np.ndarray],
    rng: np.random.Generator,
    dtype: Any,
    *,
    last: str | None = None,
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> tuple[Node, list[Node], list[Parameter], list[Parameter]]:
    """The stack a(k) = b(k) + W(k) h(k-1), h(k) = g(a(k)) on ``x`` for ``sizes =
    [H_0, .., H_L, H_{L+1}]``: returns (a(L+1), [h(1) .. h(L)], [W(1) ..], [b(1) ..]).

    W(k) of shape (H_k, H_{k-1}) is drawn by ``make_weight`` from ``rng`` in the order k = 1,
    2, ..; b(k) starts at 0. Nodes are named ``a1, h1, .., a{L+1}`` (``last`` renames
    a(L+1)); parameters ``W1, b1, ..``. ``batch_norm`` normalises each hidden a(k) (gamma{k},
    beta{k}, Buffers running_mean{k}, running_var{k}); ``dropout`` p drops each hidden h(k)."""
    g = ACTIVATIONS[activation]
    h: Node = x
    hidden: list[Node] = []
    weights: list[Parameter] = []
    biases: list[Parameter] = []
    n_layers = len(sizes) - 1
    for k in range(1, n_layers + 1):
        W = Parameter(make_weight((sizes[k], sizes[k - 1]), rng, dtype=dtype), f"W{k}")
        b = Parameter(np.zeros(sizes[k], dtype=dtype), f"b{k}")
        weights.append(W)
        biases.append(b)
        a = Linear()(h, W, b, name=last if k == n_layers and last else f"a{k}")
        if k < n_layers:
            if batch_norm:
                a = normalised(a, k, sizes[k], dtype)
            h = g()(a, name=f"h{k}")
            hidden.append(h)
            if dropout:
                h = F.dropout(h, dropout, name=f"dropped{k}")
        else:
            h = a
    return h, hidden, weights, biases


def normalised(a: Node, k: int, width: int, dtype: Any) -> Node:
    """Batch norm of the hidden pre-activation a(k), torch's BatchNorm1d(width)."""
    gamma = Parameter(np.ones(width, dtype), f"gamma{k}")
    beta = Parameter(np.zeros(width, dtype), f"beta{k}")
    mean = Buffer(np.zeros(width, dtype), f"running_mean{k}")
    var = Buffer(np.ones(width, dtype), f"running_var{k}")
    return F.batch_norm(a, mean, var, gamma, beta, name=f"bn{k}")


def penalized(
    data_loss: Box, f: Node, target: Node, weights: list[Parameter], l2: float, l1: float,
    *, name: str,
) -> Node:  # fmt: skip
    """The node ``loss`` = data_loss(f, target) + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)|
    (a penalty only where its lambda > 0). With a penalty the data term is named ``name``;
    without, the data term itself is ``loss``."""
    terms: list[Node] = []
    if l2 > 0:
        terms.append(Scale(l2)(L2Penalty()(*weights, name="omega_l2"), name="l2_term"))
    if l1 > 0:
        terms.append(Scale(l1)(L1Penalty()(*weights, name="omega_l1"), name="l1_term"))
    if not terms:
        return data_loss(f, target, name="loss")
    return Add()(data_loss(f, target, name=name), *terms, name="loss")


def parameter_shapes(sizes: Sequence[int], dtype: Any) -> dict[str, tuple[str, tuple]]:
    """The Parameters ``sizes`` implies, ``{"W1": (dtype.str, (H_1, H_0)), "b1": (dtype.str,
    (H_1,)), ..}``, in the order :func:`layers` makes them."""
    dtype = np.dtype(dtype)
    shapes: dict[str, tuple[str, tuple]] = {}
    for k in range(1, len(sizes)):
        shapes[f"W{k}"] = (dtype.str, (sizes[k], sizes[k - 1]))
        shapes[f"b{k}"] = (dtype.str, (sizes[k],))
    return shapes


# -- the builder ----------------------------------------------------------------------------------


def _check_arguments(sizes: list[int], activation: str, l2: float, l1: float, dtype: np.dtype):
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise ValueError(
            f"sizes must list at least an input size and a class count, all >= 1; got {sizes}"
        )
    if sizes[-1] < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got sizes[-1] = {sizes[-1]}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {list(ACTIVATIONS)}")
    if l2 < 0 or l1 < 0:
        raise ValueError(f"l2 and l1 must be >= 0, got l2={l2}, l1={l1}")
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a float type, got {dtype}")


def mlp(
    sizes: Sequence[int],
    activation: str = "tanh",
    l2: float = 0.0,
    l1: float = 0.0,
    dtype: Any = np.float32,
    seed: int | np.random.Generator | None = 0,
    *,
    weight_init: str | Callable[..., np.ndarray] = "glorot_uniform",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> MLP:
    """The lecture's multilayer network for classification, as a flow graph.

    ``sizes = [H_0, H_1, ..., H_L, C]``: input dimension, the L hidden widths, the number of
    classes. ``activation`` g is one of tanh, sigmoid, relu, identity. Weights come from
    ``weight_init`` (default Glorot's U[-b, b]), biases start at 0. Node names: ``x``, ``y``,
    ``a1, h1, ..., aL, hL, a{L+1}``, ``output`` (f(x)), ``nll`` and ``loss``; parameters
    ``W1, b1, ..., W{L+1}, b{L+1}``.

    Parameters
    ----------
    sizes
        ``[H_0, H_1, ..., H_L, C]``; ``[H_0, C]`` is logistic (softmax) regression.
    activation
        The hidden layers' g: ``"tanh"``, ``"sigmoid"``, ``"relu"`` or ``"identity"``.
    l2, l1
        lambda of the penalties added to the loss: l2 sum_k ||W(k)||_F^2 and
        l1 sum_k sum_ij |W(k)_ij| (biases are not penalised).
    dtype
        Floating type of the parameters (float32 trains faster, float64 for second order).
    seed
        Seed (or generator) of the initial weights.
    weight_init
        A name in :mod:`flowgraph.init` or a function ``(shape, rng, dtype=) -> array``.
    dropout, batch_norm
        Dropout with this p after each hidden layer; batch norm of each hidden a(k) (its
        running statistics are Buffers, updated by ``fg.train``).

    Returns
    -------
    Model
        The graph with its roles: ``model.x``, ``model.y``, ``model.parameters``,
        ``predict``, ``predict_proba``, ``error``, ``save``.

    Examples
    --------
    >>> import flowgraph as fg
    >>> model = fg.mlp([2, 8, 3], seed=0)
    >>> model
    <Model [2, 8, 3] tanh: 51 parameters>
    >>> [(p.name, p.value.shape) for p in model.parameters]
    [('W1', (8, 2)), ('b1', (8,)), ('W2', (3, 8)), ('b2', (3,))]
    >>> import numpy as np
    >>> round(float(model.predict_proba(np.zeros((1, 2))).sum()), 6)  # softmax: sums to 1
    1.0
    """
    sizes = [int(s) for s in sizes]
    dtype = np.dtype(dtype)
    _check_arguments(sizes, activation, l2, l1, dtype)
    rng = initializers.as_generator(seed)
    make_weight = initializers.get(weight_init)
    x, y = Input("x"), Input("y")
    logits, _, weights, _ = layers(x, sizes, activation, make_weight, rng, dtype,
                                   dropout=dropout, batch_norm=batch_norm)
    output = Softmax()(logits, name="output")
    loss = penalized(SoftmaxCrossEntropy(), logits, y, weights, l2, l1, name="nll")
    config = {
        "sizes": sizes,
        "activation": activation,
        "l2": float(l2),
        "l1": float(l1),
        "dtype": dtype.name,
        "weight_init": weight_init if isinstance(weight_init, str) else "custom",
        "seed": int(seed) if isinstance(seed, (int, np.integer)) else None,
    }
    if dropout:  # (only when set: the configs of plain MLPs stay as they were)
        config["dropout"] = float(dropout)
    if batch_norm:
        config["batch_norm"] = True
    return MLP(x=x, y=y, logits=logits, output=output, loss=loss, config=config)


def check_config(config: Any) -> dict[str, Any]:
    """``config`` (an MLP's ``config`` as read back from JSON) checked field by field, as
    ``{"sizes", "activation", "l2", "l1", "dtype", ...}``; a ValueError says what is wrong.

    Stricter than :func:`mlp`'s arguments: sizes are whole numbers (not floats or booleans),
    the dtype is a float type's name."""
    if not isinstance(config, dict):
        raise ValueError("the architecture is not a JSON object")
    sizes = config.get("sizes")
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(type(s) is int and s >= 1 for s in sizes)
    ):
        raise ValueError("sizes must be a list of at least two whole numbers >= 1")
    activation = config.get("activation")
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}")
    for key in ("l2", "l1"):
        v = config.get(key, 0.0)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
            raise ValueError(f"{key} must be a number >= 0")
    weight_init = config.get("weight_init", "glorot_uniform")
    if not isinstance(weight_init, str):
        raise ValueError("weight_init must be an initialiser's name")
    if weight_init != "custom":
        initializers.get(weight_init)  # a ValueError naming the choices
    dropout = config.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
            not 0 <= dropout < 1:
        raise ValueError("dropout must be a number in [0, 1)")
    if type(config.get("batch_norm", False)) is not bool:
        raise ValueError("batch_norm must be true or false")
    seed = config.get("seed")
    if seed is not None and type(seed) is not int:
        raise ValueError("seed must be a whole number or null")
    name = config.get("dtype", "float32")
    try:
        if not isinstance(name, str):
            raise TypeError
        dtype = np.dtype(name)
    except (TypeError, ValueError):
        raise ValueError(f"unknown dtype {name!r}") from None
    if dtype.kind != "f":
        raise ValueError(f"dtype {dtype} is not a float type")
    return config


def from_config(config: dict[str, Any]) -> MLP:
    """The MLP a (checked) ``config`` describes, its parameters zero, to be filled (as a
    model file does); ``model.config`` is ``config`` itself."""
    model = mlp(
        config["sizes"],
        activation=config["activation"],
        l2=config.get("l2", 0.0),
        l1=config.get("l1", 0.0),
        dtype=config.get("dtype", "float32"),
        seed=0,
        weight_init="zeros",
        dropout=config.get("dropout", 0.0),
        batch_norm=config.get("batch_norm", False),
    )
    model.config = dict(config)
    return model
