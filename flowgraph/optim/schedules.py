"""Learning-rate schedules: alpha_t as a function of the update count t = 1, 2, ...

    constant(alpha)         alpha_t = alpha
    inverse(alpha, delta)   alpha_t = alpha / (1 + delta t)
    power(alpha, delta)     alpha_t = alpha / t^delta,   0.5 < delta <= 1

SGD converges when sum_t alpha_t = inf and sum_t alpha_t^2 < inf; the last two satisfy both.
Each may keep the fixed rate alpha for its first ``warmup`` updates ("better to use a fixed
learning rate for the first few updates"); t then counts the updates past the warm-up.

:data:`SCHEDULES` is the one table of schedule names: the command line, the search and the
playground offer what it lists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SCHEDULES", "Schedule", "constant", "inverse", "power", "make_schedule", "as_schedule"]

# The schedules by name, each with its alpha_t: the one table (flowgraph train --schedule,
# the search's "schedule", the playground's menu). Schedule.__call__ computes each formula.
SCHEDULES: dict[str, str] = {
    "constant": "alpha",
    "inverse": "alpha / (1 + delta t)",
    "power": "alpha / t^delta",
}


@dataclass(frozen=True)
class Schedule:
    """alpha_t as a function of the update count t >= 1. Call it: ``schedule(t)``.

    ``kind`` is a name of :data:`SCHEDULES`, ``alpha`` the rate, ``delta`` the decrease
    constant (unused by ``constant``), ``warmup`` the updates kept at alpha.

    >>> s = inverse(0.1, 0.5, warmup=2)
    >>> [round(s(t), 4) for t in (1, 2, 3, 4)]
    [0.1, 0.1, 0.0667, 0.05]
    """

    kind: str
    alpha: float
    delta: float = 0.0
    warmup: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha) and self.alpha > 0):
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
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}")

    def __call__(self, t: int) -> float:
        t = t - self.warmup  # updates past the warm-up
        if t <= 0 or self.kind == "constant":
            return self.alpha
        if self.kind == "inverse":
            return self.alpha / (1.0 + self.delta * t)
        return self.alpha / t**self.delta  # power

    def __str__(self) -> str:
        w = f", first {self.warmup} fixed" if self.warmup else ""
        if self.kind == "constant":
            return f"alpha = {self.alpha:g}{w}"
        return f"{SCHEDULES[self.kind]}, alpha = {self.alpha:g}, delta = {self.delta:g}{w}"


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
    """A schedule by name, one of :data:`SCHEDULES` (for command lines and configs); the
    constant schedule ignores ``delta``."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose {_choices()}")
    return Schedule(name, float(alpha), float(delta) if name != "constant" else 0.0, int(warmup))


def as_schedule(
    lr: float | Schedule | None,
    schedule: Schedule | str | None,
    *,
    decay: float = 0.0,
    warmup: int = 0,
    default_lr: float | None = None,
    owner: str = "the optimiser",
) -> Schedule:
    """The one Schedule an optimiser's arguments describe.

    ``lr`` is alpha (a number) or a Schedule; ``schedule`` a Schedule, or a name of
    :data:`SCHEDULES` with ``decay`` = delta and ``warmup``. Without either rate, alpha is
    ``default_lr`` (torch.optim's default for ``owner``), and None there is an error. A rate
    given twice must agree.

    >>> as_schedule(0.1, "power", decay=0.75)
    Schedule(kind='power', alpha=0.1, delta=0.75, warmup=0)
    """
    if lr is None and (schedule is None or isinstance(schedule, str)):
        lr = default_lr
    if isinstance(lr, Schedule):
        if schedule is not None:
            raise ValueError("give the learning rate once: as lr or as schedule")
        return lr
    if isinstance(schedule, str):
        if lr is None:
            raise ValueError(f"schedule {schedule!r} needs lr = alpha")
        return make_schedule(schedule, lr, decay, warmup)
    if schedule is None:
        if lr is None:
            raise ValueError(f"{owner} needs a learning rate lr (alpha) or a schedule")
        return constant(lr, warmup)
    if lr is not None and float(lr) != schedule.alpha:
        raise ValueError(f"lr={lr} disagrees with the schedule's alpha={schedule.alpha}")
    return schedule


def _choices() -> str:
    *first, last = SCHEDULES
    return f"{', '.join(first)} or {last}"
