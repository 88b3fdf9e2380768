"""The tiny tanh MLP on micrograd's scalar ``Value`` engine (``pip install micrograd``).

micrograd 0.1.0 (the version on PyPI) has +, *, ** and relu, but no tanh, exp or log. The three
are added here as ``Value`` operations in micrograd's own way: a new Value whose ``_backward``
closure adds the local derivative times ``out.grad`` into the child (tanh' = 1 - tanh^2,
exp' = exp, log' = 1/x). Everything else (the graph, the topological sort, backward) is
micrograd's. One example at a time, as micrograd trains; weights are Python floats (float64).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["MicrogradMLP", "available"]


def available() -> bool:
    """Whether micrograd can be imported."""
    try:
        from micrograd.engine import Value  # noqa: F401
    except ImportError:
        return False
    return True


def _unary(v, value: float, derivative: float, op: str):
    """A micrograd Value ``out = op(v)`` whose backward adds ``derivative * out.grad`` to v."""
    from micrograd.engine import Value

    out = Value(value, (v,), op)

    def _backward():
        v.grad += derivative * out.grad

    out._backward = _backward
    return out


def _tanh(v):
    t = math.tanh(v.data)
    return _unary(v, t, 1.0 - t * t, "tanh")


def _exp(v):
    e = math.exp(v.data)
    return _unary(v, e, e, "exp")


def _log(v):
    return _unary(v, math.log(v.data), 1.0 / v.data, "log")


class MicrogradMLP:
    """A tanh MLP of scalar Values, trained by per-example SGD with micrograd's backward."""

    name = "micrograd"

    def __init__(self, weights: Sequence[np.ndarray], lr: float, batch_size: int, seed: int = 0):
        from micrograd.engine import Value

        if batch_size != 1:
            raise ValueError("the micrograd reference trains one example at a time (batch 1)")
        self.shapes = [np.shape(w) for w in weights]
        self.params = [[Value(float(v)) for v in np.ravel(w)] for w in weights]
        self.lr = lr
        self.rng = np.random.default_rng(seed)

    def parameters(self) -> list[np.ndarray]:
        return [np.array([v.data for v in p]).reshape(s) for p, s in zip(self.params, self.shapes)]

    def _loss(self, x: Sequence[float], label: int):
        h = list(x)
        n_layers = len(self.params) // 2
        for k in range(n_layers):
            W, b = self.params[2 * k], self.params[2 * k + 1]
            n_out, n_in = self.shapes[2 * k]
            a = [sum((W[i * n_in + j] * h[j] for j in range(n_in)), b[i]) for i in range(n_out)]
            h = [_tanh(v) for v in a] if k < n_layers - 1 else a
        m = max(v.data for v in h)  # log-sum-exp, shifted by a constant for stability
        z = sum(_exp(v - m) for v in h)
        return _log(z) + m - h[label]

    def train_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        flat = [v for p in self.params for v in p]
        for _ in range(epochs):
            perm = self.rng.permutation(len(X))
            loss_sum = 0.0
            for i in perm:
                loss = self._loss([float(v) for v in X[i]], int(y[i]))
                for v in flat:
                    v.grad = 0.0
                loss.backward()
                for v in flat:
                    v.data -= self.lr * v.grad
                loss_sum += loss.data
        return loss_sum / len(X)
