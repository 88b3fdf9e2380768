"""Directional derivatives J v of a Model's outputs, on its data as every Model method reads it.

The forward-mode sweep (:func:`flowgraph.core.forward.jvp`) carries a direction v of the
leaves, a tangent v_x for each Input and v_theta for each Parameter, to the outputs:

    R{f} = d/dr f(x' + r v_x; theta + r v_theta) |_{r=0} = J v.

A Model owns an input pipeline x -> x' (its ``preprocessing``): its data are raw, and every
Model method (``loss_value``, ``predict``, ``fg.train``, :func:`flowgraph.analysis.hvp`, ...)
applies the pipeline once, through ``Model.as_feed``. The graph sweep knows nothing of
Models, so :func:`jvp` here is the Model's way in: the data go through ``as_feed`` first, and
the values and tangents are those of the Model's own loss and output on them. A tangent for
the Input x moves x', the graph's input (in the units of the preprocessed data).

    >>> import numpy as np, flowgraph as fg
    >>> from flowgraph import analysis as A
    >>> model = fg.mlp([2, 3, 2], dtype=np.float64, seed=0)
    >>> model.preprocessing = fg.Preprocessing.fit(np.array([[100.0, 0.0], [300.0, 2.0]]))
    >>> X, y = np.array([[150.0, 1.0], [250.0, 0.5]]), np.array([0, 1])
    >>> (loss, proba), (dloss, dproba) = A.jvp(model, (X, y), {"b2": np.array([1.0, 0.0])})
    >>> bool(np.isclose(loss, model.loss_value(X, y)))          # the model's own loss
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core import Graph
from ..core.forward import JVPResult
from ..core.forward import jvp as graph_jvp
from ..model import Model
from .params import AnalysisError

__all__ = ["jvp"]


def jvp(model: Model | Graph, feed: Any, tangents: Mapping[Any, Any]) -> JVPResult:
    """Forward-mode derivative of a Model's outputs (its loss, then its output) along a
    direction of its leaves, on raw data: R{f} = J v, with the Model's preprocessing applied.

    ``feed``: what ``Model.as_feed`` takes (a dict from Input names or Inputs to raw arrays, an
    ``(X, y)`` pair, or one of the model's Feeds); x becomes x' there, once, as for
    ``model.loss_value``. ``tangents``: a dict from Inputs or Parameters (or their names) to
    arrays of their values' shapes; a tangent for x is one of x'. Returns ``(values,
    tangents)`` of ``model.graph``'s outputs, as :func:`flowgraph.jvp` does. A Graph (no
    preprocessing) goes straight to :func:`flowgraph.jvp`.
    """
    if isinstance(model, Graph):
        return graph_jvp(model, feed, tangents)
    if not isinstance(model, Model):
        raise AnalysisError(f"expected a Model or a Graph, got {type(model).__name__}")
    return graph_jvp(model.graph, model.as_feed(feed, graph="all", what="jvp"), tangents)
