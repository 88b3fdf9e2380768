"""Divergence: the training loss became NaN or infinite, and what is kept when it does.

A loss of NaN or inf means theta has left the region where the float arithmetic means anything
(usually: alpha_t too large). Training stops at once and the parameters go back to the last
ones known good: the best epoch's (early stopping keeps them), else those after the last epoch
whose mean loss was finite, else the initial ones. :class:`Rollback` keeps that copy.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import FlowgraphError
from .early_stopping import kept_state

__all__ = ["DivergenceError", "Rollback"]


class DivergenceError(FlowgraphError):
    """The training loss became NaN or infinite. ``history`` holds the epochs trained before
    (``history.diverged`` is True); the model keeps the best parameters seen (early stopping)
    or those of the last epoch whose loss was finite, never the broken ones."""

    def __init__(self, message: str, history: Any = None):
        super().__init__(message)
        self.history = history


class Rollback:
    """The parameters to fall back on if the loss turns NaN: the initial ones, then (without
    early stopping, which keeps the best ones itself) those after each finite epoch.

    >>> class M:
    ...     theta = {"w": 1.0}
    ...     def state(self): return dict(self.theta)
    ...     def load_state(self, s): self.theta = dict(s)
    >>> m = M(); r = Rollback(m, None)
    >>> m.theta["w"] = float("nan")
    >>> r.check(m, history=None, epoch=1, mean_loss=float("nan"), lr=0.1)
    Traceback (most recent call last):
    ...
    flowgraph.training.divergence.DivergenceError: training diverged in epoch 1: the mean \
training loss is nan; lower the learning rate (alpha_t = 0.1); the initial parameters are kept
    >>> m.theta
    {'w': 1.0}
    """

    def __init__(self, model: Any, early_stopping: Any = None):
        self.early_stopping = early_stopping
        self.each_epoch = early_stopping is None
        self.last_finite = kept_state(model)
        self.last_epoch = 0

    def keep(self, model: Any, epoch: int) -> None:
        """A finite epoch ended: its parameters are the ones to fall back on."""
        if self.each_epoch:
            self.last_finite, self.last_epoch = kept_state(model), epoch

    def check(self, model: Any, history: Any, epoch: int, mean_loss: float, lr: float) -> None:
        """Raise :class:`DivergenceError` (the model rolled back) if ``mean_loss`` is not finite."""
        if math.isfinite(mean_loss):
            return
        stop = self.early_stopping
        best = stop.best_state if stop is not None else None
        if best is not None:
            kept = f"the best parameters (epoch {stop.best_epoch}) are kept"
        elif self.each_epoch and epoch > 1:
            kept = f"the parameters after epoch {epoch - 1} are kept"
        else:
            kept = "the initial parameters are kept"
        model.load_state(best if best is not None else self.last_finite)
        if history is not None:
            history.diverged = True
            if best is not None:
                history.best_epoch = stop.best_epoch
        raise DivergenceError(
            f"training diverged in epoch {epoch}: the mean training loss is {mean_loss}; lower "
            f"the learning rate (alpha_t = {lr:g}); {kept}",
            history,
        )
