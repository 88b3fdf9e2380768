"""Stochastic gradient descent with the lecture's momentum and decreasing learning rates.

One update, with Delta the averaged descent direction:

    grad_bar(t) = grad_theta l + beta * grad_bar(t-1)       momentum (beta = 0: plain SGD)
    theta      <- theta - alpha_t * grad_bar(t)              i.e. theta + alpha_t * Delta

Schedules for alpha_t (t = 1, 2, ... counts updates; delta is the decrease constant):

    constant(alpha)         alpha_t = alpha
    inverse(alpha, delta)   alpha_t = alpha / (1 + delta t)
    power(alpha, delta)     alpha_t = alpha / t^delta,   0.5 < delta <= 1

SGD converges when sum_t alpha_t = inf and sum_t alpha_t^2 < inf; the last two satisfy both.
Each may keep the fixed rate alpha for its first ``warmup`` updates ("better to use a fixed
learning rate for the first few updates").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .graph import Parameter

__all__ = ["Schedule", "constant", "inverse", "power", "SGD", "make_schedule"]


@dataclass(frozen=True)
class Schedule:
    """alpha_t as a function of the update count t >= 1. Call it: ``schedule(t)``."""

    kind: str
    alpha: float
    delta: float = 0.0
    warmup: int = 0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"the learning rate alpha must be > 0, got {self.alpha}")
        if self.warmup < 0:
            raise ValueError(f"warmup must be >= 0 updates, got {self.warmup}")
        if self.kind == "inverse" and self.delta < 0:
            raise ValueError(f"inverse schedule: delta must be >= 0, got {self.delta}")
        if self.kind == "power" and not (0.5 < self.delta <= 1):
            raise ValueError(
                f"power schedule alpha / t^delta converges only for 0.5 < delta <= 1, "
                f"got delta = {self.delta}"
            )
        if self.kind not in ("constant", "inverse", "power"):
            raise ValueError(f"unknown schedule {self.kind!r}")

    def __call__(self, t: int) -> float:
        s = t - self.warmup
        if s <= 0 or self.kind == "constant":
            return self.alpha
        if self.kind == "inverse":
            return self.alpha / (1.0 + self.delta * s)
        return self.alpha / s**self.delta

    def __str__(self) -> str:
        w = f", first {self.warmup} fixed" if self.warmup else ""
        if self.kind == "constant":
            return f"alpha = {self.alpha:g}{w}"
        if self.kind == "inverse":
            return f"alpha / (1 + delta t), alpha = {self.alpha:g}, delta = {self.delta:g}{w}"
        return f"alpha / t^delta, alpha = {self.alpha:g}, delta = {self.delta:g}{w}"


def constant(alpha: float, warmup: int = 0) -> Schedule:
    """alpha_t = alpha."""
    return Schedule("constant", float(alpha), 0.0, int(warmup))


def inverse(alpha: float, delta: float, warmup: int = 0) -> Schedule:
    """alpha_t = alpha / (1 + delta t)."""
    return Schedule("inverse", float(alpha), float(delta), int(warmup))


def power(alpha: float, delta: float, warmup: int = 0) -> Schedule:
    """alpha_t = alpha / t^delta with 0.5 < delta <= 1."""
    return Schedule("power", float(alpha), float(delta), int(warmup))


def make_schedule(name: str, alpha: float, delta: float = 0.0, warmup: int = 0) -> Schedule:
    """A schedule by name: 'constant', 'inverse' or 'power' (for command lines and configs)."""
    if name not in ("constant", "inverse", "power"):
        raise ValueError(f"unknown schedule {name!r}; choose constant, inverse or power")
    return Schedule(name, float(alpha), float(delta) if name != "constant" else 0.0, int(warmup))


class SGD:
    """theta <- theta - alpha_t * grad_bar, grad_bar = grad + beta * grad_bar (in place).

    ``lr`` is alpha (a number) or a :class:`Schedule`; ``schedule`` may give the schedule
    instead (a Schedule, or a name with ``decay`` = delta and ``warmup``). ``momentum`` is beta.

    Two options serve the analysis tools: ``l1_prox`` = lambda applies the proximal step of
    lambda * sum |W| to ``l1_params`` after each update, W <- sign(W) max(|W| - alpha_t lambda, 0)
    (soft-thresholding: weights that L1 pushes to 0 become exactly 0, which plain subgradient
    steps never achieve); ``masks`` maps a Parameter to a 0/1 array kept applied after every
    update (pruned weights stay exactly 0).

    Parameters
    ----------
    parameters
        The :class:`~flowgraph.Parameter` nodes to update (``model.parameters``).
    lr
        alpha: a number (constant rate) or a :class:`Schedule`.
    momentum
        beta, in [0, 1); 0 is plain SGD.
    schedule
        ``"constant"``, ``"inverse"`` (alpha / (1 + delta t)), ``"power"`` (alpha / t^delta)
        or a :class:`Schedule`.
    decay
        delta of the named schedule.
    warmup
        Updates at the fixed rate alpha before the schedule starts decreasing it.
    l1_prox
        lambda of the proximal L1 step (0: none).
    l1_params
        The parameters it applies to, needed with ``l1_prox`` (e.g. ``model.weights``).
    masks
        ``{parameter: 0/1 array}`` multiplied in after every update.

    Examples
    --------
    One step on f(w) = w^2 / 2, whose gradient is w:

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.array([1.0, -2.0]), "w")
    >>> sgd = fg.SGD([w], lr=0.1, momentum=0.9)
    >>> w.grad = w.value.copy()
    >>> sgd.step(); w.value
    array([ 0.9, -1.8])
    """

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        momentum: float = 0.0,
        schedule: Schedule | str | None = None,
        *,
        decay: float = 0.0,
        warmup: int = 0,
        l1_prox: float = 0.0,
        l1_params: Sequence[Parameter] | None = None,
        masks: Mapping[Parameter, np.ndarray] | None = None,
    ):
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("SGD got no parameters to update")
        for p in self.parameters:
            if not isinstance(p, Parameter):
                raise TypeError(f"SGD updates Parameter nodes, got {type(p).__name__}")
        if isinstance(lr, Schedule):
            if schedule is not None:
                raise ValueError("give the learning rate once: as lr or as schedule")
            schedule = lr
        elif isinstance(schedule, str):
            if lr is None:
                raise ValueError(f"schedule {schedule!r} needs lr = alpha")
            schedule = make_schedule(schedule, lr, decay, warmup)
        elif schedule is None:
            if lr is None:
                raise ValueError("SGD needs a learning rate lr (alpha) or a schedule")
            schedule = constant(lr, warmup)
        elif lr is not None and float(lr) != schedule.alpha:
            raise ValueError(f"lr={lr} disagrees with the schedule's alpha={schedule.alpha}")
        self.schedule: Schedule = schedule
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum beta must lie in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.t = 0  # updates done
        self._velocity = [np.zeros_like(p.value) for p in self.parameters] if momentum else None
        if l1_prox < 0:
            raise ValueError(f"l1_prox must be >= 0, got {l1_prox}")
        self.l1_prox = float(l1_prox)
        if self.l1_prox and l1_params is None:
            raise ValueError("l1_prox needs l1_params: the weights to shrink (e.g. model.weights)")
        self.l1_params = list(l1_params or [])
        self.masks = {}
        for p, m in (masks or {}).items():
            m = np.asarray(m)
            if m.shape != p.value.shape:
                raise ValueError(f"mask for {p.name} has shape {m.shape}, not {p.value.shape}")
            self.masks[p] = m.astype(p.value.dtype)
            p.value *= self.masks[p]

    @property
    def lr(self) -> float:
        """The rate alpha_t the next update will use."""
        return self.schedule(self.t + 1)

    def step(self) -> None:
        """One update from the gradients the last ``Graph.bprop`` left in ``p.grad``."""
        self.t += 1
        alpha = self.schedule(self.t)
        if self._velocity is None:
            for p in self.parameters:
                outer = p.grad_outer
                if outer is not None:  # grad = u v^T (one example): one BLAS pass, in place
                    outer.subtract_from(p.value, alpha)
                else:
                    p.value -= alpha * p.grad
        else:
            beta = self.momentum
            for p, v in zip(self.parameters, self._velocity):
                v *= beta
                v += p.grad
                p.value -= alpha * v
        if self.l1_prox:
            shrink = alpha * self.l1_prox
            for p in self.l1_params:
                W = p.value
                np.copysign(np.maximum(np.abs(W) - shrink, 0), W, out=W)
        for p, m in self.masks.items():
            p.value *= m

    def state(self) -> dict:
        return {
            "t": self.t,
            "velocity": None if self._velocity is None else [v.copy() for v in self._velocity],
        }

    def __repr__(self) -> str:
        return f"SGD({self.schedule}, momentum={self.momentum})"
