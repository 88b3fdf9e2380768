"""flowgraph as its users run it: ``fg.mlp`` + ``fg.SGD`` + ``fg.train`` (no progress bar)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

import flowgraph as fg

__all__ = ["FlowgraphMLP", "initial_weights"]


def initial_weights(sizes: Sequence[int], dtype, seed: int = 0) -> list[np.ndarray]:
    """``[W1, b1, ..., W{L+1}, b{L+1}]`` as ``fg.mlp`` draws them (Glorot uniform, zero biases):
    the starting point every implementation is given."""
    model = fg.mlp(sizes, "tanh", dtype=dtype, seed=seed)
    return [p.value.copy() for p in model.parameters]


class FlowgraphMLP:
    """A tanh ``fg.mlp`` trained by ``fg.train`` with plain ``fg.SGD``."""

    name = "flowgraph"

    def __init__(
        self,
        weights: Sequence[np.ndarray],
        lr: float,
        batch_size: int,
        seed: int = 0,
    ):
        sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights[0::2]]
        self.model = fg.mlp(sizes, "tanh", dtype=weights[0].dtype, seed=0)
        names = [p.name for p in self.model.parameters]
        self.model.load_state(dict(zip(names, weights)))
        self.optimizer = fg.SGD(self.model.parameters, lr=lr)
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)  # one permutation per epoch, as the others

    def parameters(self) -> list[np.ndarray]:
        return [p.value.copy() for p in self.model.parameters]

    def train_epochs(self, X: np.ndarray, y: np.ndarray, epochs: int) -> float:
        history = fg.train(
            self.model,
            (X, y),
            epochs=epochs,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            seed=self.rng,
            progress=False,
        )
        return history.train_loss[-1]
