"""Feed-forward layers, as ``torch.nn`` spells them, with torch's default initialisations.

Each draws its initial weights from ``rng`` (a seed or a ``numpy.random.Generator``; None:
fresh entropy) in ``dtype`` (float32 by default), with torch's default for that layer, so that
a network written here and there starts from the same distribution:

    Linear, Conv2d:  W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))   (kaiming_uniform, a = sqrt(5))
    Embedding:       W ~ N(0, 1)
    LayerNorm:       weight = 1, bias = 0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import functional as F
from .. import init
from ..boxes import Flatten as FlattenBox
from ..boxes import Linear as LinearBox
from ..core import as_node
from .module import Module

__all__ = ["Linear", "Embedding", "Conv2d", "MaxPool2d", "AvgPool2d", "LayerNorm", "ReLU",
           "Tanh", "Sigmoid", "Flatten", "Identity"]


def _uniform(rng, shape, bound, dtype):
    return init.as_generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


class Linear(Module):
    """y = x W^T + b, as ``torch.nn.Linear(in_features, out_features, bias=True)``: ``weight``
    (out, in) and ``bias`` (out,), the lecture's a(k) = b(k) + W(k) h(k-1) (a Linear box)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 rng: Any = None, dtype: Any = np.float32, name: str | None = None):
        super().__init__(name)
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = init.as_generator(rng)
        bound = 1 / np.sqrt(self.in_features)
        self.weight = self.parameter(_uniform(gen, (out_features, in_features), bound, dtype),
                                     "weight")
        self.bias = self.parameter(_uniform(gen, (out_features,), bound, dtype), "bias") \
            if bias else None

    def forward(self, x: Any) -> Any:
        x = as_node(x)
        if self.bias is None:
            return x @ self.weight.T
        return LinearBox()(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """Rows of a table at integer indices, as ``torch.nn.Embedding(num_embeddings,
    embedding_dim)``: ``weight`` (n, d) ~ N(0, 1); indices of any shape give shape + (d,)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, *, rng: Any = None,
                 dtype: Any = np.float32, name: str | None = None):
        super().__init__(name)
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        w = init.as_generator(rng).standard_normal((num_embeddings, embedding_dim))
        self.weight = self.parameter(w.astype(dtype), "weight")

    def forward(self, idx: Any) -> Any:
        return F.embedding(idx, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Conv2d(Module):
    """2-D convolution, as ``torch.nn.Conv2d(in_channels, out_channels, kernel_size, stride,
    padding, bias)``: ``weight`` (out, in, kh, kw), ``bias`` (out,) (a Conv2d box)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] = 0,
                 bias: bool = True, *, rng: Any = None, dtype: Any = np.float32,
                 name: str | None = None):
        super().__init__(name)
        k = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, k
        self.stride, self.padding = stride, padding
        gen = init.as_generator(rng)
        bound = 1 / np.sqrt(in_channels * k[0] * k[1])
        self.weight = self.parameter(_uniform(gen, (out_channels, in_channels, *k), bound, dtype),
                                     "weight")
        self.bias = self.parameter(_uniform(gen, (out_channels,), bound, dtype), "bias") \
            if bias else None

    def forward(self, x: Any) -> Any:
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")


class MaxPool2d(Module):
    """The maximum of each window, as ``torch.nn.MaxPool2d(kernel_size, stride, padding)``."""

    def __init__(self, kernel_size, stride=None, padding=0, *, name: str | None = None):
        super().__init__(name)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Any) -> Any:
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(MaxPool2d):
    """The mean of each window, as ``torch.nn.AvgPool2d(kernel_size, stride, padding)``."""

    def forward(self, x: Any) -> Any:
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class LayerNorm(Module):
    """Normalisation over the last axes, as ``torch.nn.LayerNorm(normalized_shape, eps)``:

        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias     over the normalised axes

    (Ba, Kiros and Hinton, 2016); ``weight`` starts at 1 and ``bias`` at 0. Built of boxes
    (Mean, Var, Pow, Mul, Add), each checked."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, *, dtype: Any = np.float32,
                 name: str | None = None):
        super().__init__(name)
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
            tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, float(eps)
        self.weight = self.parameter(np.ones(shape, dtype), "weight") if elementwise_affine \
            else None
        self.bias = self.parameter(np.zeros(shape, dtype), "bias") if elementwise_affine \
            else None

    def forward(self, x: Any) -> Any:
        x = as_node(x)
        axes = tuple(range(-len(self.normalized_shape), 0))
        centred = x - F.mean(x, axis=axes, keepdims=True)
        y = centred * (F.var(x, axis=axes, keepdims=True) + self.eps) ** -0.5
        return y if self.weight is None else y * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}"


class _Function(Module):
    """A layer without Parameters applying one function form (ReLU(), Tanh(), ...)."""

    function: Any = None

    def forward(self, x: Any) -> Any:
        return type(self).function(x)


class ReLU(_Function):
    """max(0, x), as ``torch.nn.ReLU()``."""

    function = staticmethod(F.relu)


class Tanh(_Function):
    """tanh(x), as ``torch.nn.Tanh()``."""

    function = staticmethod(F.tanh)


class Sigmoid(_Function):
    """1 / (1 + exp(-x)), as ``torch.nn.Sigmoid()``."""

    function = staticmethod(F.sigmoid)


class Identity(_Function):
    """x itself, as ``torch.nn.Identity()``."""

    function = staticmethod(lambda x: as_node(x))


class Flatten(Module):
    """Every axis from ``start_dim`` on joined into one, as ``torch.nn.Flatten()``: (N, -1)."""

    def __init__(self, start_dim: int = 1, *, name: str | None = None):
        super().__init__(name)
        self.start_dim = int(start_dim)

    def forward(self, x: Any) -> Any:
        return FlattenBox(self.start_dim)(as_node(x))
