"""Recurrent cells, as ``torch.nn.RNNCell``, ``GRUCell`` and ``LSTMCell`` (same Parameter
names, shapes and gate order, so a torch cell's ``state_dict`` copies across). A cell maps one
time step: unroll it over a sequence by calling it once per step (the same Parameters at every
step: their gradient is the sum over time, backpropagation through time).

Initialisation as torch: every weight and bias ~ U(-1/sqrt(H), 1/sqrt(H)), H the hidden size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import functional as F
from .. import init
from ..core import as_node
from .module import Module

__all__ = ["RNNCell", "GRUCell", "LSTMCell"]


class _Cell(Module):
    """Parameters weight_ih (G H, in), weight_hh (G H, H), bias_ih, bias_hh (G H,)."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 rng: Any = None, dtype: Any = np.float32, name: str | None = None):
        super().__init__(name)
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        gen = init.as_generator(rng)
        k, G = 1 / np.sqrt(hidden_size), self.gates * hidden_size

        def draw(*shape):
            return gen.uniform(-k, k, size=shape).astype(dtype)

        self.weight_ih = self.parameter(draw(G, input_size), "weight_ih")
        self.weight_hh = self.parameter(draw(G, hidden_size), "weight_hh")
        self.bias_ih = self.parameter(draw(G), "bias_ih") if bias else None
        self.bias_hh = self.parameter(draw(G), "bias_hh") if bias else None

    def _affine(self, x: Any, h: Any) -> tuple[Any, Any]:
        """(x W_ih^T + b_ih, h W_hh^T + b_hh): the input's and the state's contributions."""
        gi, gh = as_node(x) @ self.weight_ih.T, as_node(h) @ self.weight_hh.T
        if self.bias_ih is not None:
            gi, gh = gi + self.bias_ih, gh + self.bias_hh
        return gi, gh

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


class RNNCell(_Cell):
    """h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (Elman), as ``torch.nn.RNNCell``;
    ``nonlinearity="relu"`` for max(0, .)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", **kw: Any):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, **kw)
        self.nonlinearity = nonlinearity

    def forward(self, x: Any, h: Any) -> Any:
        gi, gh = self._affine(x, h)
        return (F.tanh if self.nonlinearity == "tanh" else F.relu)(gi + gh)


class GRUCell(_Cell):
    """The gated recurrent unit (Cho et al., 2014), as ``torch.nn.GRUCell``, gates (r, z, n):

        r = sigm(W_ir x + b_ir + W_hr h + b_hr)       z = sigm(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  h' = (1 - z) * n + z * h
    """

    gates = 3

    def forward(self, x: Any, h: Any) -> Any:
        gi, gh = self._affine(x, h)
        i_r, i_z, i_n = F.split(gi, 3, axis=1)
        h_r, h_z, h_n = F.split(gh, 3, axis=1)
        r, z = F.sigmoid(i_r + h_r), F.sigmoid(i_z + h_z)
        n = F.tanh(i_n + r * h_n)
        return (1 - z) * n + z * as_node(h)


class LSTMCell(_Cell):
    """Long short-term memory (Hochreiter and Schmidhuber, 1997), as ``torch.nn.LSTMCell``,
    gates (i, f, g, o); takes and returns the pair (h, c):

        i, f, o = sigm(.), g = tanh(.)  of  x W_ih^T + b_ih + h W_hh^T + b_hh  (split in 4)
        c' = f * c + i * g               h' = o * tanh(c')
    """

    gates = 4

    def forward(self, x: Any, state: tuple[Any, Any]) -> tuple[Any, Any]:
        h, c = state
        gi, gh = self._affine(x, h)
        i, f, g, o = F.split(gi + gh, 4, axis=1)
        c2 = F.sigmoid(f) * as_node(c) + F.sigmoid(i) * F.tanh(g)
        return F.sigmoid(o) * F.tanh(c2), c2
