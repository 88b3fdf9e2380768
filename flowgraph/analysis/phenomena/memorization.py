"""Memorisation: a network fits randomly permuted labels.

Zhang, Bengio, Hardt, Recht, Vinyals (ICLR 2017, "Understanding deep learning requires
rethinking generalization"): the same network that generalises on the true labels also fits
the labels randomly permuted; its training error falls to 0 while its test error stays at
chance, 1 - 1/C. Capacity alone does not explain generalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import mlp
from ...optim import SGD
from ...training import Callback, train
from ..data import n_classes
from ..params import as_generator

__all__ = ["random_labels", "memorization", "ErrorTracker"]


def random_labels(y: Any, seed: int | np.random.Generator = 0) -> np.ndarray:
    """The labels randomly permuted: the same class frequencies, no relation to the inputs."""
    return as_generator(seed).permutation(np.asarray(y))


class ErrorTracker(Callback):
    """Full training and test error after every ``every`` epochs."""

    def __init__(self, train_data, test_data, every: int):
        self.train_data, self.test_data, self.every = train_data, test_data, every
        self.epoch: list[int] = []
        self.train_error: list[float] = []
        self.test_error: list[float] = []

    def on_epoch_end(self, model, history):
        e = history.epoch[-1]
        if e % self.every == 0 or e == 1:
            self.epoch.append(e)
            self.train_error.append(model.error(*self.train_data))
            self.test_error.append(model.error(*self.test_data))
        return None


def memorization(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    hidden: Sequence[int] = (256,),
    activation: str = "relu",
    epochs: int = 150,
    batch_size: int = 16,
    lr: float = 0.05,
    momentum: float = 0.9,
    every: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Train one network on the true labels and one on randomly permuted labels (Zhang et al.
    2017); return for each the training and test error every ``every`` epochs, and the final
    values. The test set keeps its true labels: a network that memorised random labels is at
    chance on it, error ~ 1 - 1/C."""
    X, y = train_data
    C = n_classes(y, test_data[1])
    out: dict[str, Any] = {"chance_error": 1.0 - 1.0 / C}
    for name, labels in (("true", np.asarray(y)), ("random", random_labels(y, seed))):
        model = mlp([X.shape[1], *hidden, C], activation, seed=seed)
        tracker = ErrorTracker((X, labels), test_data, every)
        opt = SGD(model.parameters, lr=lr, momentum=momentum)
        train(
            model,
            (X, labels),
            epochs=epochs,
            batch_size=batch_size,
            optimizer=opt,
            seed=seed,
            progress=False,
            callbacks=[tracker],
        )
        out[name] = {
            "epoch": tracker.epoch,
            "train_error": tracker.train_error,
            "test_error": tracker.test_error,
            "final_train_error": model.error(X, labels),
            "final_test_error": model.error(*test_data),
        }
    return out
