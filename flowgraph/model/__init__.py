"""Models: a graph together with its roles, and what a model needs to take data.

* :mod:`~flowgraph.model.model`: :class:`Model` = graph + roles (loss, output, inputs,
  parameters), prediction and evaluation;
* :mod:`~flowgraph.model.feeds`: data -> the feed the graph reads, checked in one place;
* :mod:`~flowgraph.model.mlp`: the one MLP builder :func:`mlp` (and the ``ACTIVATIONS`` table);
* :mod:`~flowgraph.model.preprocessing`: :class:`Preprocessing`, the input pipeline a model
  owns and saves.

Model files are :mod:`flowgraph.io`'s, a layer above: io imports model, never the reverse.
"""

from .feeds import Feed, check_labels
from .mlp import ACTIVATIONS, MLP, mlp
from .model import Model
from .preprocessing import Preprocessing, PreprocessingError

__all__ = [
    "ACTIVATIONS",
    "Feed",
    "MLP",
    "Model",
    "Preprocessing",
    "PreprocessingError",
    "check_labels",
    "mlp",
]
