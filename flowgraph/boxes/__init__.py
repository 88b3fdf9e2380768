"""Every box, grouped by family. Adding a box touches one file of this folder."""

from .activations import Identity, ReLU, Sigmoid, Tanh
from .arithmetic import Add, Scale
from .base import Box
from .linear import Linear
from .losses import CrossEntropy, Softmax, SoftmaxCrossEntropy, softmax
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
]
