"""Layers that own their Parameters, spelled as ``torch.nn`` (``fg.nn.Linear(784, 256)``).

A layer is a convenience: called on a node it builds ordinary boxes on its Parameters, and
adds no engine concept. Function forms are ``fg.conv2d``, ``fg.max_pool2d``, ``fg.embedding``
and the others, as ``torch.nn.functional``.
"""

from .layers import (
    AvgPool2d,
    Conv2d,
    Embedding,
    Flatten,
    Identity,
    LayerNorm,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Tanh,
)
from .module import Module, Sequential
from .normalization import BatchNorm1d, BatchNorm2d, Dropout
from .recurrent import GRUCell, LSTMCell, RNNCell

__all__ = [
    "Module", "Sequential", "Linear", "Embedding", "Conv2d", "MaxPool2d", "AvgPool2d",
    "LayerNorm", "ReLU", "Tanh", "Sigmoid", "Flatten", "Identity", "RNNCell", "GRUCell",
    "LSTMCell", "Dropout", "BatchNorm1d", "BatchNorm2d",
]  # fmt: skip
