"""Early stopping: the look-ahead rule of the lecture.

After each epoch the monitored validation figure v(epoch) (the classification error, or the
loss) is compared with the best so far: an epoch improves when v < best - min_delta. After
``patience`` epochs without improvement, training stops and the parameters of the best epoch
are restored, theta <- theta(best_epoch).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .callbacks import Callback

__all__ = ["EarlyStopping"]


class EarlyStopping(Callback):
    """Stop when the monitored validation figure has not improved for ``patience`` epochs
    (look-ahead); the best parameters seen are restored at the end.

    ``monitor`` is ``"valid_error"`` (the classification error) or ``"valid_loss"``; by
    default the error for a model with a classification output, the loss otherwise. An epoch
    improves when its figure is below the best so far by more than ``min_delta``.

    >>> stop = EarlyStopping(patience=2)
    >>> class M:  # any object with state() stands for a model here
    ...     def state(self): return {}
    >>> [stop.update(M(), epoch, v) for epoch, v in enumerate([0.5, 0.4, 0.45, 0.41], 1)]
    [False, False, False, True]
    >>> stop.best_epoch, stop.best
    (2, 0.4)
    """

    MONITORS = ("valid_loss", "valid_error")

    def __init__(
        self,
        patience: int = 10,
        min_delta: float = 0.0,
        restore_best: bool = True,
        *,
        monitor: str | None = None,
    ):
        if patience < 1:
            raise ValueError(f"patience must be >= 1 epoch, got {patience}")
        if monitor is not None and monitor not in self.MONITORS:
            raise ValueError(f"monitor must be one of {self.MONITORS} (or None), got {monitor!r}")
        self.patience = int(patience)
        self.min_delta = float(min_delta)
        self.restore_best = restore_best
        self.monitor = monitor
        self.watched = monitor or "valid_error"
        self.reset()

    def watches(self, model: Any) -> str:
        """The history field this early stopping watches on ``model``."""
        if self.monitor is None:
            return "valid_error" if model.classifier else "valid_loss"
        if self.monitor == "valid_error" and not model.classifier:
            raise ValueError(
                "EarlyStopping(monitor='valid_error') needs a model with a classification "
                "output; this one has none: monitor 'valid_loss'"
            )
        return self.monitor

    def reset(self) -> None:
        self.best = math.inf
        self.best_epoch: int | None = None
        self.best_state: dict[str, np.ndarray] | None = None
        self.wait = 0

    @property
    def stopped(self) -> bool:
        """Whether the look-ahead ran out: ``patience`` epochs without improvement."""
        return self.wait >= self.patience

    def update(self, model: Any, epoch: int, value: float) -> bool:
        """Record an epoch's monitored figure; True when training should stop."""
        if value < self.best - self.min_delta:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            self.best_state = kept_state(model)
            return False
        self.wait += 1
        return self.stopped

    # -- as a callback of the loop ----------------------------------------------------------
    def on_train_begin(self, model: Any) -> None:
        self.watched = self.watches(model)

    def on_epoch_end(self, model: Any, history: Any) -> bool:
        return self.update(model, history.epoch[-1], getattr(history, self.watched)[-1])

    def on_train_end(self, model: Any, history: Any) -> None:
        """The best epoch into the history; its parameters into the model (``restore_best``)."""
        if self.best_state is None:
            return
        history.best_epoch = self.best_epoch
        if self.restore_best:
            model.load_state(self.best_state)

    # -- where it stands, for a resumed run -------------------------------------------------
    def record(self) -> dict[str, Any]:
        """The JSON part of where it stands (the best parameters are ``best_state``)."""
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def restore(self, record: dict[str, Any], best_state: dict[str, np.ndarray] | None) -> None:
        """Continue from a :meth:`record` (and its best parameters)."""
        self.best = float(record["best"])
        self.best_epoch = record["best_epoch"]
        self.wait = int(record["wait"])
        self.best_state = best_state

    def __repr__(self) -> str:
        monitor = f", monitor={self.monitor!r}" if self.monitor is not None else ""
        return f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}{monitor})"


def kept_state(model: Any) -> dict:
    """What a best or last-good point keeps: the parameters, and a model's Buffers (its
    running statistics) when it has some."""
    return model.state(buffers=True) if getattr(model, "buffers", None) else model.state()
