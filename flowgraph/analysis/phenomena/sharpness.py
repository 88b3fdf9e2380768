"""Batch size and sharpness: large batches find sharper minima.

Keskar et al. (ICLR 2017, "On Large-Batch Training for Deep Learning: Generalization Gap and
Sharp Minima"): large batches tend to find sharper minima (a larger top Hessian eigenvalue
lambda_max of the training loss) that generalise worse. The runs are compared at equal
training loss, as they compare them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...model import mlp
from ...optim import SGD
from ...training import Callback, train
from ..data import n_classes
from ..params import AnalysisError, flatten, set_flat
from ..spectrum import top_eigenvalues

__all__ = ["batch_size_sharpness", "StopAtLoss"]


class StopAtLoss(Callback):
    """Keep the parameters after the first update at which the full training loss is <= target,
    then stop at the end of that epoch (``train`` stops between epochs only)."""

    def __init__(self, X, y, target: float):
        self.X, self.y, self.target = X, y, float(target)
        self.step: int | None = None
        self.theta: np.ndarray | None = None

    def on_step_end(self, model, step):
        if self.theta is None and model.loss_value(self.X, self.y) <= self.target:
            self.step, self.theta = step, flatten(model)

    def on_epoch_end(self, model, history):
        return self.theta is not None


def batch_size_sharpness(
    train_data: tuple[Any, Any],
    test_data: tuple[Any, Any],
    *,
    batch_sizes: Sequence[int] = (8, 512),
    hidden: Sequence[int] = (32,),
    activation: str = "tanh",
    epochs: Sequence[int] | int = 30,
    lr: float = 0.05,
    momentum: float = 0.0,
    target_loss: float | None = None,
    sharpness_points: int | None = 500,
    seed: int = 0,
) -> dict[str, Any]:
    """Train the same network from the same initialisation with each batch size; report test
    error, training loss and sharpness lambda_max(H) of the training loss (Lanczos on the
    R-operator's H v, on at most ``sharpness_points`` training points). ``epochs`` may give one
    count per batch size.

    ``target_loss``: each run instead stops at the first update after which the (full,
    regularised) training loss l(theta) is <= target_loss, so that the solutions compared are
    equally well fitted (Keskar et al. 2017 compare them at equal training loss); ``epochs`` is
    then the most it may take, and ``reached_target`` says whether it got there. Returns also
    ``steps`` (updates taken) and each solution's parameter vector ``theta``."""
    X, y = train_data
    C = n_classes(y, test_data[1])
    epochs_list = [int(epochs)] * len(batch_sizes) if np.isscalar(epochs) else list(epochs)  # type: ignore[arg-type]  # (np.isscalar does not narrow)
    if len(epochs_list) != len(batch_sizes):
        raise AnalysisError("give one epoch count, or one per batch size")
    n_s = len(X) if sharpness_points is None else min(len(X), int(sharpness_points))
    Xs, ys = X[:n_s], y[:n_s]
    out: dict[str, Any] = {
        "batch_size": [int(b) for b in batch_sizes],
        "epochs": [],
        "steps": [],
        "reached_target": [],
        "target_loss": target_loss,
        "test_error": [],
        "train_error": [],
        "train_loss": [],
        "sharpness": [],
        "theta": [],
    }
    for bs, ep in zip(batch_sizes, epochs_list):
        model = mlp([X.shape[1], *hidden, C], activation, dtype=np.float64, seed=seed)
        opt = SGD(model.parameters, lr=lr, momentum=momentum)
        stop = [] if target_loss is None else [StopAtLoss(X, y, target_loss)]
        history = train(
            model,
            (X, y),
            epochs=ep,
            batch_size=int(bs),
            optimizer=opt,
            seed=seed,
            progress=False,
            callbacks=stop,
        )
        steps = len(history) * -(-len(X) // int(bs))
        if stop and stop[0].theta is not None:
            set_flat(model, stop[0].theta)
            steps = stop[0].step  # type: ignore[assignment]  # (set with theta)
        out["epochs"].append(len(history))
        out["steps"].append(int(steps))
        out["reached_target"].append(bool(not stop or stop[0].theta is not None))
        out["test_error"].append(model.error(*test_data))
        out["train_error"].append(model.error(X, y))
        out["train_loss"].append(model.loss_value(X, y))
        out["sharpness"].append(float(top_eigenvalues(model, Xs, ys, 1, seed=seed)[0]))
        out["theta"].append(flatten(model))
    return out
