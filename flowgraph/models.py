"""Builders of whole graphs. ``mlp`` builds the lecture's multilayer network:

    a(k)(x) = b(k) + W(k) h(k-1)(x)         k = 1 .. L+1,   h(0)(x) = x
    h(k)(x) = g(a(k)(x))                     k = 1 .. L
    f(x)    = softmax(a(L+1)(x))
    loss    = 1/N sum_t -log f(x_t)_{y_t} + l2 sum_k ||W(k)||_F^2 + l1 sum_k |W(k)|

(penalties on the weights only, never the biases).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import init as initializers
from .boxes import (
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
from .graph import Graph, Input, Node, Parameter

__all__ = ["ACTIVATIONS", "Model", "mlp"]

ACTIVATIONS = {"tanh": Tanh, "sigmoid": Sigmoid, "relu": ReLU, "identity": Identity}


class Model:
    """A graph together with its named nodes: what training, saving and analysis work on.

    Attributes: ``graph`` (outputs ``[loss, output]``), ``x`` and ``y`` (Inputs), ``output``
    (softmax probabilities f(x)), ``logits`` (a(L+1)), ``loss``, ``parameters`` (``W1, b1, ...,
    W{L+1}, b{L+1}``), ``weights``, ``biases``, ``config`` (what rebuilds it: the ``mlp``
    arguments). ``train_graph`` reaches only the loss and ``predict_graph`` only the output, so
    training does not compute probabilities it does not need, nor prediction a loss.
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
        self.x, self.y, self.logits, self.output, self.loss = x, y, logits, output, loss
        self.config = dict(config)
        self.graph = Graph([loss, output])
        self.train_graph = Graph(loss)
        self.predict_graph = Graph(output)
        self.parameters: list[Parameter] = list(self.graph.parameters)
        self.weights = [p for p in self.parameters if p.name.startswith("W")]
        self.biases = [p for p in self.parameters if p.name.startswith("b")]
        self.metadata: dict[str, Any] = {}  # saved with the model (dataset, preprocessing...)

    @property
    def dtype(self) -> np.dtype:
        return self.parameters[0].value.dtype

    def __getitem__(self, name: str) -> Node:
        return self.graph[name]

    def __repr__(self) -> str:
        n = sum(p.value.size for p in self.parameters)
        return f"<Model {self.config.get('sizes')} {self.config.get('activation')}: {n} parameters>"

    # -- prediction ---------------------------------------------------------------------------
    def _as_input(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        n_in = self.parameters[0].value.shape[1]
        if X.ndim != 2 or X.shape[1] != n_in:
            raise ValueError(f"this model takes inputs of shape (N, {n_in}), got {X.shape}")
        return X.astype(self.dtype, copy=False)

    def predict_proba(self, X: Any, *, batch_size: int = 4096) -> np.ndarray:
        """f(x) = softmax(a(L+1)(x)) for every row of X, shape (N, C)."""
        X = self._as_input(X)
        parts = [
            self.predict_graph.fprop({self.x: X[i : i + batch_size]})
            for i in range(0, len(X), batch_size)
        ]
        return np.concatenate(parts) if parts else np.zeros((0, self.n_classes), self.dtype)

    def predict(self, X: Any, *, batch_size: int = 4096) -> np.ndarray:
        """The most probable class, argmax_c f(x)_c, shape (N,)."""
        return self.predict_proba(X, batch_size=batch_size).argmax(axis=1)

    def error(self, X: Any, y: Any) -> float:
        """Classification error: the fraction of rows whose predicted class differs from y."""
        y = np.asarray(y)
        return float(np.mean(self.predict(X) != y)) if len(y) else float("nan")

    def loss_value(self, X: Any, y: Any) -> float:
        """The regularised loss on (X, y) (one fprop of the training graph)."""
        return float(self.train_graph.fprop({self.x: self._as_input(X), self.y: np.asarray(y)}))

    @property
    def n_classes(self) -> int:
        return self.parameters[-1].value.shape[0]

    # -- parameters as data -------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """A copy of every parameter's value, by name."""
        return {p.name: p.value.copy() for p in self.parameters}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Set the parameters from ``state`` (as made by ``state()``), checking names and shapes."""
        missing = [p.name for p in self.parameters if p.name not in state]
        if missing:
            raise KeyError(f"state lacks parameters {missing}")
        for p in self.parameters:
            v = np.asarray(state[p.name])
            if v.shape != p.value.shape:
                raise ValueError(f"{p.name}: shape {v.shape} does not match {p.value.shape}")
            p.value = v.astype(p.value.dtype, copy=True)

    def save(self, path, *, metadata: dict[str, Any] | None = None):
        """Write the model to one ``.npz`` (atomically); see :func:`flowgraph.load_model`.

        ``metadata`` (JSON-serialisable; default ``self.metadata``) travels with it."""
        from .io import save_model

        return save_model(self, path, metadata=metadata)


def mlp(
    sizes: Sequence[int],
    activation: str = "tanh",
    l2: float = 0.0,
    l1: float = 0.0,
    dtype: Any = np.float32,
    seed: int | np.random.Generator | None = 0,
    *,
    weight_init: str | Callable[..., np.ndarray] = "glorot_uniform",
) -> Model:
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
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a float type, got {dtype}")
    rng = initializers.as_generator(seed)
    make_weight = initializers.get(weight_init)

    x, y = Input("x"), Input("y")
    h: Node = x
    weights = []
    n_layers = len(sizes) - 1
    for k in range(1, n_layers + 1):
        W = Parameter(make_weight((sizes[k], sizes[k - 1]), rng, dtype=dtype), f"W{k}")
        b = Parameter(np.zeros(sizes[k], dtype=dtype), f"b{k}")
        weights.append(W)
        a = Linear()(h, W, b, name=f"a{k}")
        h = ACTIVATIONS[activation]()(a, name=f"h{k}") if k < n_layers else a
    logits = h
    output = Softmax()(logits, name="output")
    terms: list[Node] = []
    if l2 > 0:
        terms.append(Scale(l2)(L2Penalty()(*weights, name="omega_l2"), name="l2_term"))
    if l1 > 0:
        terms.append(Scale(l1)(L1Penalty()(*weights, name="omega_l1"), name="l1_term"))
    if terms:
        nll = SoftmaxCrossEntropy()(logits, y, name="nll")
        loss = Add()(nll, *terms, name="loss")
    else:
        loss = SoftmaxCrossEntropy()(logits, y, name="loss")
    config = {
        "sizes": sizes,
        "activation": activation,
        "l2": float(l2),
        "l1": float(l1),
        "dtype": dtype.name,
        "weight_init": weight_init if isinstance(weight_init, str) else "custom",
        "seed": int(seed) if isinstance(seed, (int, np.integer)) else None,
    }
    return Model(x=x, y=y, logits=logits, output=output, loss=loss, config=config)
