"""Parameters as one vector: theta = (W(1), b(1), ..., W(L+1), b(L+1)) flattened and back.

Everything in :mod:`flowgraph.analysis` looks at the loss as a function of one vector theta of
P numbers: its gradient grad_theta l (from ``Graph.bprop``), its Hessian grad^2_theta l, lines
and planes through parameter space. This module maps a Model's Parameter nodes to that vector
(in the order of ``model.parameters``, each array raveled row-major) and back, and evaluates
the loss and its gradient at any theta through the engine:

    loss(theta) = 1/N sum_t l(f(x_t; theta), y_t) + lambda Omega(theta)     (Graph.fprop)
    grad(theta) = grad_theta loss(theta)                                     (Graph.bprop)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import Graph, Node, Parameter
from ..errors import FlowgraphError
from ..model import Model, mlp

__all__ = [
    "AnalysisError",
    "parameters_of",
    "flatten",
    "unflatten",
    "set_flat",
    "flat_grad",
    "to_float64",
    "reinitialise",
    "Objective",
    "objective",
    "is_mlp",
    "loss_graph",
    "as_generator",
]


class AnalysisError(FlowgraphError):
    """An analysis tool was called on something it cannot handle (named in the message)."""


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """A ``numpy.random.Generator``: ``seed`` itself when it is one (its draws go on), else a
    fresh one seeded with it. Every random thing of the analysis takes one or the other."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def parameters_of(model: Model | Graph | Sequence[Parameter]) -> list[Parameter]:
    """The Parameter nodes of a Model or Graph (in order), or the given list itself."""
    if isinstance(model, (Model, Graph)):
        return list(model.parameters)
    params = list(model)
    for p in params:
        if not isinstance(p, Parameter):
            raise AnalysisError(
                f"expected a Model, a Graph or a list of Parameters, got an element of type "
                f"{type(p).__name__}"
            )
    return params


def flatten(model: Model | Graph | Sequence[Parameter], *, dtype: Any = np.float64) -> np.ndarray:
    """theta: every parameter's value raveled and concatenated, shape (P,), a fresh array."""
    params = parameters_of(model)
    if not params:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.ravel(p.value) for p in params]).astype(dtype, copy=True)


def _check_theta(params: Sequence[Parameter], theta: Any) -> np.ndarray:
    theta = np.asarray(theta)
    n = sum(p.value.size for p in params)
    if theta.shape != (n,):
        raise AnalysisError(
            f"theta must be a vector of the {n} parameters "
            f"({', '.join(f'{p.name} {p.value.shape}' for p in params)}), got shape {theta.shape}"
        )
    return theta


def unflatten(model: Model | Graph | Sequence[Parameter], theta: Any) -> dict[str, np.ndarray]:
    """The state ``{name: array}`` (as ``Model.state()``) that the vector theta describes.

    Each array has its parameter's shape and dtype; the model itself is not changed.
    """
    params = parameters_of(model)
    theta = _check_theta(params, theta)
    state, i = {}, 0
    for p in params:
        state[p.name] = theta[i : i + p.value.size].reshape(p.value.shape).astype(p.value.dtype)
        i += p.value.size
    return state


def set_flat(model: Model | Graph | Sequence[Parameter], theta: Any) -> None:
    """Write the vector theta into the parameters (in place, keeping each dtype)."""
    params = parameters_of(model)
    theta = _check_theta(params, theta)
    i = 0
    for p in params:
        p.value = theta[i : i + p.value.size].reshape(p.value.shape).astype(p.value.dtype)
        i += p.value.size


def flat_grad(model: Model | Graph | Sequence[Parameter]) -> np.ndarray:
    """The gradients the last ``bprop`` left in each ``p.grad``, as one float64 vector."""
    params = parameters_of(model)
    missing = [p.name for p in params if p.grad is None]
    if missing:
        raise AnalysisError(f"no gradient in {missing}: run graph.fprop and graph.bprop first")
    return np.concatenate([np.ravel(p.grad) for p in params]).astype(np.float64)


def to_float64(model: Model) -> Model:
    """A float64 copy of an ``mlp`` Model with the same parameters (for Hessians and Newton:
    second differences and eigenvalues need the precision). The original is not changed."""
    cfg = dict(model.config)
    if "sizes" not in cfg:
        raise AnalysisError("to_float64 needs a Model built by flowgraph.mlp (with a config)")
    init = cfg.get("weight_init", "glorot_uniform")
    copy = mlp(
        cfg["sizes"],
        cfg.get("activation", "tanh"),
        l2=cfg.get("l2", 0.0),
        l1=cfg.get("l1", 0.0),
        dtype=np.float64,
        seed=0,
        weight_init=init if init != "custom" else "glorot_uniform",
    )
    copy.load_state(model.state())
    copy.metadata = dict(model.metadata)
    copy.preprocessing = model.preprocessing  # the same input pipeline: same data, same loss
    return copy


def reinitialise(model: Model, seed: int | np.random.Generator) -> dict[str, np.ndarray]:
    """A fresh random initialisation theta_0 ~ D_theta of the same ``mlp`` architecture, as a
    state dict (the initialiser of ``model.config``, another seed); the model is not changed."""
    cfg = dict(model.config)
    if "sizes" not in cfg:
        raise AnalysisError("reinitialise needs a Model built by flowgraph.mlp (with a config)")
    init = cfg.get("weight_init", "glorot_uniform")
    fresh = mlp(
        cfg["sizes"],
        cfg.get("activation", "tanh"),
        dtype=model.dtype,
        seed=seed,
        weight_init=init if init != "custom" else "glorot_uniform",
    )
    return fresh.state()


class Objective:
    """The loss of a graph as a function of the parameter vector theta, for a fixed feed.

    ``Objective(graph, feed)`` differentiates the graph's first output (a scalar) with respect
    to ``graph.parameters`` (or ``params``). ``loss(theta)`` runs ``Graph.fprop``;
    ``grad(theta)`` runs ``fprop`` and ``bprop``. Passing ``theta`` writes it into the
    parameters first; ``restore()`` puts back the values found at construction, ``finish(theta)``
    leaves theta there instead. With ``float64=True`` the parameters and the floating-point
    feed are worked on in float64 (second differences and eigenvalues need the precision),
    and ``restore``/``finish`` give the parameters their own dtypes back.
    """

    def __init__(
        self,
        graph: Graph,
        feed: Mapping[Any, Any],
        params: Sequence[Parameter] | None = None,
        *,
        output: Node | None = None,
        float64: bool = False,
    ):
        self.graph = graph
        self.feed = dict(feed)
        self.params = list(graph.parameters if params is None else params)
        if not self.params:
            raise AnalysisError("the graph has no Parameters to differentiate with respect to")
        self.output = graph.outputs[0] if output is None else output
        self.theta0 = flatten(self.params)
        self.size = self.theta0.size
        self._dtypes = [p.value.dtype for p in self.params]
        if float64:
            for p in self.params:
                p.value = p.value.astype(np.float64)
            self.feed = {k: _float64_array(v) for k, v in self.feed.items()}

    def set(self, theta: Any) -> None:
        set_flat(self.params, theta)

    def theta(self) -> np.ndarray:
        return flatten(self.params)

    def restore(self) -> None:
        """Put back the parameters found at construction (values and dtypes)."""
        self.finish(self.theta0)

    def finish(self, theta: Any) -> None:
        """Leave the parameters at theta, each in the dtype it had at construction."""
        theta = np.asarray(theta)
        i = 0
        for p, dt in zip(self.params, self._dtypes):
            p.value = theta[i : i + p.value.size].reshape(p.value.shape).astype(dt)
            i += p.value.size

    def loss(self, theta: Any | None = None) -> float:
        if theta is not None:
            self.set(theta)
        self.graph.fprop(self.feed)
        value = self.output.value
        if np.size(value) != 1:
            raise AnalysisError(
                f"the objective must be a scalar, but {self.output.describe()} has shape "
                f"{np.shape(value)}"
            )
        return float(np.asarray(value).reshape(()))

    def grad(self, theta: Any | None = None) -> np.ndarray:
        self.loss(theta)
        self.graph.bprop(output=self.output)
        return flat_grad(self.params)


def _float64_array(v: Any) -> Any:
    a = v if isinstance(v, np.ndarray) else np.asarray(v)
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def is_mlp(model: Model) -> bool:
    """Whether ``model`` is the lecture's MLP, as ``flowgraph.mlp`` builds it (inputs x, y)."""
    return "sizes" in getattr(model, "config", {}) and hasattr(model, "x") and hasattr(model, "y")


def loss_graph(model: Model) -> tuple[Graph, Node]:
    """The graph that reaches a Model's training loss (the penalties included), and the loss."""
    graph = getattr(model, "train_graph", None)
    if isinstance(graph, Graph):
        return graph, graph.outputs[0]
    loss = getattr(model, "loss", None)
    if not isinstance(loss, Node):
        raise AnalysisError(f"{type(model).__name__} has no loss node to analyse")
    graph = Graph(loss)
    return graph, loss


def objective(
    model: Model | Graph,
    X: Any = None,
    y: Any = None,
    *,
    feed: Mapping[Any, Any] | None = None,
    float64: bool = False,
) -> Objective:
    """The training loss of ``model`` as an :class:`Objective`: a Model's on (X, y) (the MLP's
    inputs ``x`` and ``y``) or on ``feed`` (any Model: a dict from its Inputs or their names to
    arrays; a dict may also come as X); a Graph's first output on ``feed``. A Model's loss is
    the one it trains (with the penalties lambda Omega). ``float64``: see :class:`Objective`.

    A Model's data is raw, as for ``model.loss_value``: its ``preprocessing`` is applied once,
    here, and the objective's feed (what the graph, its gradients and Hessians see) holds x'."""
    if isinstance(X, Mapping) and feed is None and y is None:
        X, feed = None, X
    if isinstance(model, Model):
        graph, loss = loss_graph(model)
        if feed is None and X is None:
            if not (hasattr(model, "x") and hasattr(model, "y")):
                names = [i.name for i in graph.inputs]
                raise AnalysisError(
                    f"this model's loss takes the inputs {names}: pass feed={{name: array, ...}}"
                )
            raise AnalysisError(
                "a Model's objective needs the data: pass X and y (or feed={name: array})"
            )
        if feed is not None and (X is not None or y is not None):
            raise AnalysisError("pass either the data (X, y) or feed=, not both")
        try:  # a dict of its Inputs (or names), or (X, y): preprocessed and checked here
            fed = model.as_feed(feed if feed is not None else X, y, what="analysis")
        except TypeError as e:  # (its data errors are FlowgraphErrors already)
            raise AnalysisError(str(e)) from e
        return Objective(graph, fed, output=loss, float64=float64)
    if isinstance(model, Graph):
        if feed is None:
            raise AnalysisError("a Graph's objective needs feed={Input: array, ...}")
        return Objective(model, feed, float64=float64)
    raise AnalysisError(f"expected a Model or a Graph, got {type(model).__name__}")
