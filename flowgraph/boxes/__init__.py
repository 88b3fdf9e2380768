"""Every box, grouped by family. Adding a box touches one file of this folder."""

from ..core.block import Block
from ..core.box import Box
from .activations import Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh
from .arithmetic import (
    Abs,
    Add,
    Concat,
    Div,
    Exp,
    Log,
    MatMul,
    Mean,
    Mul,
    Neg,
    Pow,
    Reshape,
    Scale,
    Square,
    Sub,
    Sum,
    Transpose,
    unbroadcast,
)
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .einsum import Einsum
from .elementwise import Clip, Compare, Cos, Maximum, Minimum, Power, Sin, StopGradient, Where
from .indexing import GetItem, OneHot, Take, TakeAlongAxis
from .linear import Linear
from .losses import (
    CrossEntropy,
    Hinge,
    SigmoidCrossEntropy,
    Softmax,
    SoftmaxCrossEntropy,
    SquaredError,
    softmax,
)
from .penalties import L1Penalty, L2Penalty
from .reductions import ArgMax, ArgMin, LogSoftmax, LogSumExp, Max, Min, Var
from .shapes import Flatten, Permute, Split, Stack, SwapAxes

__all__ = [
    "Box",
    "Linear",
    "Identity",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "Softmax",
    "CrossEntropy",
    "SoftmaxCrossEntropy",
    "L2Penalty",
    "L1Penalty",
    "Add",
    "Scale",
    "softmax",
    # the library to compose with
    "Sub", "Neg", "Mul", "Div", "MatMul", "Transpose", "Sum", "Mean", "Reshape", "Concat",
    "Exp", "Log", "Square", "Pow", "Abs", "Softplus", "LeakyReLU",
    "SquaredError", "SigmoidCrossEntropy", "Hinge", "unbroadcast", "Block",
    # array operations as NumPy and PyTorch spell them
    "Einsum", "Clip", "Compare", "Cos", "Maximum", "Minimum", "Power", "Sin", "StopGradient",
    "Where", "GetItem", "OneHot", "Take", "TakeAlongAxis", "ArgMax", "ArgMin", "LogSoftmax",
    "LogSumExp", "Max", "Min", "Var", "Permute", "Split", "Stack", "SwapAxes",
    # convolution and pooling (NCHW)
    "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten",
]  # fmt: skip
