"""Every box, grouped by family. Adding a box touches one file of this folder."""

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
    "SquaredError", "SigmoidCrossEntropy", "Hinge", "unbroadcast",
]  # fmt: skip
