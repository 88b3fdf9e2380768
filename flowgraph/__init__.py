"""flowgraph: a modular flow-graph automatic-differentiation engine in Python and NumPy.

Each box has ``fprop`` and ``bprop``; a topologically sorted :class:`Graph` calls fprop
forward and bprop in reverse order down to the parameters; :func:`check_box` and
:func:`check_graph` verify any box or graph against central finite differences.

    >>> import numpy as np, flowgraph as fg
    >>> x, y = fg.Input("x"), fg.Input("y")
    >>> W, b = fg.Parameter(np.zeros((3, 2)), "W"), fg.Parameter(np.zeros(3), "b")
    >>> loss = fg.SoftmaxCrossEntropy()(fg.Linear()(x, W, b), y)
    >>> graph = fg.Graph(loss)
    >>> round(float(graph.fprop({x: np.ones((4, 2)), y: np.array([0, 1, 2, 0])})), 12)  # log 3
    1.098612288668
    >>> graph.bprop(); W.grad.shape
    (3, 2)
"""

from . import datasets, init, optim  # noqa: E402  (modules: fg.init.glorot_uniform, fg.optim.power)
from ._version import __version__ as __version__  # one source: flowgraph/_version.py
from .boxes import (
    Add,
    Box,
    CrossEntropy,
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
from .callbacks import CSVLogger
from .errors import (
    BoxError,
    DataError,
    FeedError,
    FlowgraphError,
    GraphError,
    LabelError,
    ModelError,
    NonFiniteError,
    ShapeError,
)
from .gradcheck import BoxReport, GraphReport, check_box, check_graph
from .graph import Graph, Input, Node, Parameter
from .io import ModelFileError, load_model, save_model
from .models import MLP, Model, mlp
from .optim import SGD, AdaGrad, Adam, AdamW, RMSProp
from .preprocessing import Preprocessing
from .render import render, to_dot
from .train import Callback, DivergenceError, EarlyStopping, History, train

__all__ = [
    # the engine
    "Box", "Node", "Input", "Parameter", "Graph",
    # boxes
    "Linear", "Identity", "Sigmoid", "Tanh", "ReLU", "Softmax", "CrossEntropy",
    "SoftmaxCrossEntropy", "L2Penalty", "L1Penalty", "Add", "Scale",
    # gradient checking
    "check_box", "check_graph", "BoxReport", "GraphReport",
    # training
    "mlp", "Model", "train", "History", "EarlyStopping", "Callback", "DivergenceError", "SGD",
    "AdaGrad", "RMSProp", "Adam", "AdamW",
    "CSVLogger", "Preprocessing",
    "init", "optim", "datasets", "MLP",
    # rendering: fg.render is the function (from flowgraph.render import to_svg, ...)
    "to_dot", "render",
    # files
    "load_model", "save_model", "ModelFileError",
    # errors
    "FlowgraphError", "GraphError", "FeedError", "ShapeError", "LabelError",
    "NonFiniteError", "BoxError", "DataError", "ModelError",
]  # fmt: skip
