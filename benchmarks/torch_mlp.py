"""The same tanh MLP in PyTorch (CPU): ``nn.Linear`` layers, autograd and ``optim.SGD``.

Written the way the PyTorch tutorials train a classifier: ``zero_grad``, the forward pass,
``F.cross_entropy`` (softmax and -log f(x)_y fused, averaged over the batch), ``backward``,
``step``. Parameters start from the arrays given (the same as every other implementation) and
batches are the slices of the same per-epoch permutation as ``flowgraph.train``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["TorchMLP", "available"]


def available() -> bool:
    """Whether PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


class TorchMLP:
    """A tanh MLP trained with autograd and ``torch.optim.SGD``."""

    name = "PyTorch"

    def __init__(self, weights: Sequence[np.ndarray], lr: float, batch_size: int, seed: int = 0):
        import torch
        from torch import nn

        self.torch = torch
        dtype = torch.float64 if weights[0].dtype == np.float64 else torch.float32
        layers: list = []
        n_layers = len(weights) // 2
        for k in range(n_layers):
            W, b = weights[2 * k], weights[2 * k + 1]
            lin = nn.Linear(W.shape[1], W.shape[0], dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.array(W)))
                lin.bias.copy_(torch.from_numpy(np.array(b)))
            layers.append(lin)
            if k < n_layers - 1:
                layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)
        self.opt = torch.optim.SGD(self.net.parameters(), lr=lr)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype

    def parameters(self) -> list[np.ndarray]:
        return [p.detach().numpy().copy() for p in self.net.parameters()]

    def train_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        torch = self.torch
        F = torch.nn.functional
        net, opt, B = self.net, self.opt, self.batch_size
        for _ in range(epochs):
            perm = self.rng.permutation(len(X))
            Xs = torch.from_numpy(X[perm])
            ys = torch.from_numpy(y[perm].astype(np.int64, copy=False))
            loss_sum = 0.0
            for i in range(0, len(X), B):
                x, t = Xs[i : i + B], ys[i : i + B]
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(net(x), t)
                loss.backward()
                opt.step()
                loss_sum += loss.item() * len(t)
        return loss_sum / len(X)
