"""Dropout and batch normalisation layers, as ``torch.nn`` spells them.

Their randomness, mode and running statistics are leaves of the graph: each call makes its
own RandomSource and Mode leaves (the Graph fills every one from the step's generator and its
mode: ``graph.train()``, ``graph.eval()``), and a batch norm keeps its running statistics in
Buffers (``layer.running_mean``, ``layer.running_var``) updated after the optimiser's step by
``graph.update_buffers()`` (``fg.train`` calls it), with torch's momentum rule.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from ..core import Buffer, as_node
from ..errors import ShapeError
from .module import Module

__all__ = ["Dropout", "BatchNorm1d", "BatchNorm2d"]


class Dropout(Module):
    """Inverted dropout with probability ``p``, as ``torch.nn.Dropout(p)``: in training each
    unit is zeroed with probability p and the others scaled by 1 / (1 - p); in evaluation the
    layer is the identity (a Dropout box on Uniform draws and a Mode leaf)."""

    def __init__(self, p: float = 0.5, *, name: str | None = None):
        super().__init__(name)
        if not 0.0 <= float(p) < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = float(p)

    def forward(self, x: Any) -> Any:
        return F.dropout(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) inputs, as ``torch.nn.BatchNorm1d(num_features, eps,
    momentum)``: ``weight`` (gamma, 1) and ``bias`` (beta, 0) are Parameters, ``running_mean``
    (0) and ``running_var`` (1) Buffers; while training

        y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias       (batch statistics)
        running <- (1 - momentum) running + momentum * batch statistic   (unbiased variance)

    and in evaluation the running statistics replace the batch's (a BatchNorm box)."""

    ndim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, *, dtype: Any = np.float32, name: str | None = None):
        super().__init__(name)
        C = self.num_features = int(num_features)
        self.eps, self.momentum = float(eps), float(momentum)
        self.weight = self.parameter(np.ones(C, dtype), "weight") if affine else None
        self.bias = self.parameter(np.zeros(C, dtype), "bias") if affine else None
        self.running_mean = self.buffer(np.zeros(C, dtype), "running_mean")
        self.running_var = self.buffer(np.ones(C, dtype), "running_var")

    def buffer(self, value: np.ndarray, what: str) -> Buffer:
        """A Buffer named ``<layer>.<what>``, as torch's state_dict keys."""
        b = Buffer(value, f"{self.name}.{what}")
        b.auto_named = not self.named
        return b

    def forward(self, x: Any) -> Any:
        x = as_node(x)
        shape = x.shape
        if shape is not None and (len(shape) != self.ndim or shape[1] not in (None,
                                                                            self.num_features)):
            raise ShapeError(
                f"{type(self).__name__}({self.num_features}) '{self.name}': x {x.describe()} "
                f"has shape {shape}, expected {self.ndim}-D with {self.num_features} channels "
                "on axis 1")
        for b in (self.running_mean, self.running_var):
            b.update = None  # this call's batch statistics update the buffers
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}"


class BatchNorm2d(BatchNorm1d):
    """Batch normalisation of (N, C, H, W) inputs per channel, as ``torch.nn.BatchNorm2d``:
    statistics over the N x H x W values of each channel (see :class:`BatchNorm1d`)."""

    ndim = 4
