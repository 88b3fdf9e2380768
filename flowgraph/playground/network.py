"""The playground's network: the lecture's MLP from :func:`flowgraph.mlp`, or its regression twin.

Classification is ``fg.mlp([F, H_1, .., H_L, C], ...)`` itself (softmax output, cross-entropy
loss). Regression is built from the same parts (:func:`flowgraph.model.mlp.layers` and
:func:`~flowgraph.model.mlp.penalized`): the same layers and names, a(k) = b(k) + W(k) h(k-1),
h(k) = g(a(k)), with one linear output unit f(x) = a(L+1) (named ``output``) and the loss
1/N sum_t (f(x_t) - t_t)^2 / 2 plus the same penalties. :class:`Net` names the nodes the
playground draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import init as initializers
from ..boxes import SquaredError
from ..core import Graph, Input, Node, Parameter
from ..model.mlp import layers, mlp, penalized
from .settings import Settings

__all__ = ["Net", "build"]

INIT_NAMES = {"glorot": "glorot_uniform", "zeros": "zeros", "constant": "constant"}


@dataclass
class Net:
    """The graph and the nodes the page shows: ``x`` (features), ``y`` (labels or targets),
    ``loss``, ``output`` (f(x): class probabilities, or the regression value, (N, 1)),
    ``hidden`` (h(1) .. h(L)), ``weights`` W(1) .. W(L+1), ``biases``; ``graph`` reaches loss
    and output, ``train_graph`` the loss, ``predict_graph`` the output and every h(k)."""

    x: Input
    y: Input
    loss: Node
    output: Node
    hidden: list[Node]
    weights: list[Parameter]
    biases: list[Parameter]

    def __post_init__(self) -> None:
        self.graph = Graph([self.loss, self.output])
        self.train_graph = Graph(self.loss)
        self.predict_graph = Graph([self.output, *self.hidden])
        self.predict_graph.eval()  # the pictures: dropout off
        self.parameters = list(self.train_graph.parameters)


def build(s: Settings, dtype=np.float64) -> Net:
    """The network for settings ``s``, its weights drawn from ``s.seed``."""
    sizes = [len(s.features), *s.hidden]
    if s.problem == "classification":
        model = mlp(
            [*sizes, s.n_classes],
            activation=s.activation,
            l2=s.l2,
            l1=s.l1,
            dtype=dtype,
            seed=s.seed,
            weight_init=INIT_NAMES[s.init],
            dropout=s.dropout,
        )
        hidden = [model.graph[f"h{k}"] for k in range(1, len(s.hidden) + 1)]
        return Net(model.x, model.y, model.loss, model.output, hidden,  # type: ignore[arg-type]
                   list(model.weights), list(model.biases))  # fmt: skip
    rng = initializers.as_generator(s.seed)
    make_weight = initializers.get(INIT_NAMES[s.init])
    x, t = Input("x"), Input("y")
    f, hidden, weights, biases = layers(
        x, [*sizes, 1], s.activation, make_weight, rng, dtype, last="output", dropout=s.dropout
    )
    loss = penalized(SquaredError(), f, t, weights, s.l2, s.l1, name="mse")
    return Net(x, t, loss, f, hidden, weights, biases)
