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

from . import datasets, init, nn, optim  # noqa: E402  (modules: fg.init.kaiming_uniform, fg.nn.Linear)
from ._version import __version__ as __version__  # one source: flowgraph/_version.py
from .boxes import (  # the library to compose with
    Abs,
    Add,
    ArgMax,
    ArgMin,
    AvgPool2d,
    BatchNorm,
    Clip,
    Compare,
    Concat,
    Conv2d,
    Cos,
    CrossEntropy,
    Div,
    Dropout,
    Einsum,
    Exp,
    Flatten,
    GetItem,
    Hinge,
    Identity,
    L1Penalty,
    L2Penalty,
    LeakyReLU,
    Linear,
    Log,
    LogSoftmax,
    LogSumExp,
    MatMul,
    Max,
    Maximum,
    MaxPool2d,
    Mean,
    Min,
    Minimum,
    Mul,
    Neg,
    NLLLoss,
    Normal,
    OneHot,
    Permute,
    Pow,
    Power,
    ReLU,
    Reshape,
    RunningStat,
    Scale,
    Sigmoid,
    SigmoidCrossEntropy,
    Sin,
    Softmax,
    SoftmaxCrossEntropy,
    Softplus,
    Split,
    Square,
    SquaredError,
    Stack,
    StopGradient,
    Sub,
    Sum,
    SwapAxes,
    Take,
    TakeAlongAxis,
    Tanh,
    Transpose,
    Uniform,
    Var,
    Where,
)
from .check import BoxReport, GraphReport, check_box, check_graph, check_jvp
from .core import Block, Box, Buffer, Constant, Graph, Input, Mode, Node, Parameter, RandomSource
from .core.forward import JVPError, jvp
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
from .export import export_onnx
from .functional import abs as abs  # fg.abs and fg.sum: not in __all__ (builtins)
from .functional import (  # the function forms
    amax,
    amin,
    argmax,
    argmin,
    avg_pool2d,
    batch_norm,
    binary_cross_entropy_with_logits,
    clip,
    concat,
    conv2d,
    cos,
    cross_entropy,
    dropout,
    einsum,
    embedding,
    equal,
    exp,
    hinge,
    layer_norm,
    leaky_relu,
    linear,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max_pool2d,
    maximum,
    mean,
    minimum,
    nll_loss,
    normal_like,
    not_equal,
    one_hot,
    permute,
    power,
    relu,
    reshape,
    sigmoid,
    sigmoid_cross_entropy,
    sin,
    softmax,
    softmax_cross_entropy,
    softplus,
    split,
    sqrt,
    square,
    squared_error,
    stack,
    std,
    stop_gradient,
    swapaxes,
    take,
    take_along_axis,
    tanh,
    transpose,
    uniform_like,
    var,
    where,
)
from .functional import sum as sum
from .io import ModelFileError, load_model, save_model
from .model import MLP, Model, Preprocessing, mlp
from .optim import SGD, AdaGrad, Adam, AdamW, RMSProp
from .render import render, to_dot
from .step import StepPlan, step_plan
from .training import (
    Callback,
    CSVLogger,
    DivergenceError,
    EarlyStopping,
    History,
    TrainState,
    train,
)

max = amax  # fg.max and fg.min as np.max and np.min (not in __all__: builtins)
min = amin

__all__ = [
    # the engine
    "Box", "Node", "Input", "Parameter", "Constant", "Graph",
    # boxes
    "Linear", "Identity", "Sigmoid", "Tanh", "ReLU", "Softmax", "CrossEntropy",
    "SoftmaxCrossEntropy", "L2Penalty", "L1Penalty", "Add", "Scale",
    "Sub", "Neg", "Mul", "Div", "MatMul", "Transpose", "Sum", "Mean", "Reshape", "Concat",
    "Exp", "Log", "Square", "Pow", "Abs", "Softplus", "LeakyReLU",
    "SquaredError", "SigmoidCrossEntropy", "Hinge", "Block",
    # function forms: fg.tanh(x @ W.T + b) (fg.abs and fg.sum too, kept out of a star
    # import so that they never shadow the builtins)
    "exp", "log", "tanh", "sigmoid", "relu", "softplus", "leaky_relu", "square", "sqrt",
    "matmul", "transpose", "concat", "mean", "reshape", "softmax", "linear",
    "squared_error", "sigmoid_cross_entropy", "softmax_cross_entropy", "hinge",
    # array operations (boxes, then function forms)
    "ArgMax", "ArgMin", "Clip", "Compare", "Cos", "Einsum", "GetItem", "LogSoftmax",
    "LogSumExp", "Max", "Maximum", "Min", "Minimum", "OneHot", "Permute", "Power", "Sin",
    "Split", "Stack", "StopGradient", "SwapAxes", "Take", "TakeAlongAxis", "Var", "Where",
    "amax", "amin", "equal", "not_equal", "argmax", "argmin", "clip", "cos", "einsum",
    "embedding", "log_softmax",
    "logsumexp", "maximum", "minimum", "one_hot", "permute", "power", "sin", "split", "stack",
    "std", "stop_gradient", "swapaxes", "take", "take_along_axis", "var", "where",
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten", "conv2d", "max_pool2d", "avg_pool2d",
    # randomness, modes and state (issue 23): leaves, boxes, function forms
    "RandomSource", "Mode", "Buffer", "Uniform", "Normal", "Dropout", "BatchNorm",
    "RunningStat", "dropout", "batch_norm", "layer_norm", "uniform_like", "normal_like",
    # losses as torch.nn.functional: options, soft targets
    "NLLLoss", "nll_loss", "cross_entropy", "binary_cross_entropy_with_logits",
    # gradient checking
    "check_box", "check_graph", "BoxReport", "GraphReport",
    # forward mode: directional derivatives, and the check of each box's rules
    "jvp", "check_jvp", "JVPError",
    # training
    "mlp", "Model", "train", "History", "EarlyStopping", "Callback", "DivergenceError", "SGD",
    "AdaGrad", "RMSProp", "Adam", "AdamW",
    "CSVLogger", "Preprocessing", "TrainState",
    # the planned step: buffers reused between steps, print(plan) as straight-line NumPy
    "step_plan", "StepPlan",
    "init", "optim", "datasets", "nn", "MLP",
    # rendering: fg.render is the function (from flowgraph.render import to_svg, ...)
    "to_dot", "render",
    # files
    "load_model", "save_model", "ModelFileError", "export_onnx",
    # errors
    "FlowgraphError", "GraphError", "FeedError", "ShapeError", "LabelError",
    "NonFiniteError", "BoxError", "DataError", "ModelError",
]  # fmt: skip
