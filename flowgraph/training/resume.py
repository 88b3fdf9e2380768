"""Where a training run stands, so that it can go on later as if it had never stopped.

After each whole epoch e the loop records in a :class:`TrainState`: e, the update count t, the
state of the generator that orders the batches, the History and early stopping's record. With
theta (the model's parameters) and the optimiser's buffers of that moment, that is everything
the next update depends on: continuing from it gives the run an uninterrupted one gives, bit
for bit. (The file that carries all of it is :mod:`.resume_file`.)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .early_stopping import EarlyStopping
from .history import HISTORY_FLAGS, HISTORY_LISTS, History

__all__ = ["TrainState", "continue_from", "record_state"]


@dataclass
class TrainState:
    """Where a training run stands after its last finished epoch: enough, with the model's
    parameters and the optimiser's ``state()``, to continue it so that the result is the one
    an uninterrupted run of the same epochs gives, bit for bit.

    Pass one to :func:`train` (``state=``): train fills it in after every epoch (the epoch and
    update counts, the batch order's random generator, the history, early stopping's record)
    and, when it already holds epochs, continues from there instead of starting anew.
    ``to_dict``/``from_dict`` give JSON for the numbers; early stopping's best parameters are
    the one array part (``best_state``).

    >>> TrainState.from_dict(TrainState().to_dict()).epoch
    0
    >>> TrainState.from_dict({"epoch": "3"})
    Traceback (most recent call last):
    ...
    ValueError: not a training state: epoch must be a whole number >= 0, got '3'
    """

    epoch: int = 0
    step: int = 0
    rng: Mapping[str, Any] | None = None
    history: History = field(default_factory=History)
    stopping: dict[str, Any] | None = None  # best, best_epoch, wait
    best_state: dict[str, np.ndarray] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON part (``best_state`` excluded)."""
        h = self.history.to_dict()
        return {"epoch": self.epoch, "step": self.step, "rng": self.rng, "history": h,
                "stopping": self.stopping}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any, best_state: dict[str, np.ndarray] | None = None) -> TrainState:
        """A TrainState from :meth:`to_dict`'s JSON, every field's type checked: a bad one is
        a ValueError naming it, never a TypeError or KeyError from deep inside."""
        try:
            if not isinstance(d, dict):
                raise ValueError(f"expected a JSON object, got {type(d).__name__}")
            state = cls(whole(d.get("epoch"), "epoch"), whole(d.get("step"), "step"),
                        check_rng(d.get("rng")), check_history(d.get("history")),
                        check_stopping(d.get("stopping")), best_state)  # fmt: skip
        except ValueError as e:
            raise ValueError(f"not a training state: {e}") from None
        if state.epoch != len(state.history):
            raise ValueError(
                f"training state: epoch {state.epoch} but {len(state.history)} in its history"
            )
        if state.epoch > 0 and state.rng is None:
            raise ValueError("training state: it holds epochs but no random generator state")
        return state


def whole(value: Any, name: str) -> int:
    """``value`` if it is a whole number >= 0 (not a bool, not a string), else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(value)


def check_rng(rng: Any) -> dict[str, Any] | None:
    """A NumPy bit generator's ``state`` dict (or None), checked by giving it to one."""
    if rng is None:
        return None
    if not isinstance(rng, dict) or not isinstance(rng.get("bit_generator"), str):
        raise ValueError(f"rng must be a bit generator's state, got {str(rng)[:60]!r}")
    try:
        np.random.default_rng(0).bit_generator.state = rng
    except (TypeError, ValueError, KeyError, OverflowError) as e:
        raise ValueError(f"rng is not a bit generator's state ({e})") from None
    return rng


def check_history(h: Any) -> History:
    """A History from its ``to_dict``: lists of numbers of one length, the flags' types."""
    if not isinstance(h, dict):
        raise ValueError(f"history must be a JSON object, got {type(h).__name__}")
    lists: dict[str, Any] = {}
    for k in HISTORY_LISTS:
        values = h.get(k)
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(f"history {k} must be a list of numbers")
        lists[k] = [int(v) for v in values] if k == "epoch" else [float(v) for v in values]
    if len({len(v) for v in lists.values()}) != 1:
        raise ValueError("the history's lists have different lengths")
    if lists["epoch"] != list(range(1, len(lists["epoch"]) + 1)):
        raise ValueError("the history's epochs are not 1, 2, ..., N")
    history = History(**lists)
    best = h.get("best_epoch")
    if best is not None:
        history.best_epoch = whole(best, "history best_epoch")
    for k in HISTORY_FLAGS[1:]:
        if not isinstance(h.get(k, False), bool):
            raise ValueError(f"history {k} must be true or false, got {h.get(k)!r}")
        setattr(history, k, h.get(k, False))
    return history


def check_stopping(s: Any) -> dict[str, Any] | None:
    """Early stopping's record: ``best`` (a number), ``best_epoch`` (int or None), ``wait``."""
    if s is None:
        return None
    if not isinstance(s, dict):
        raise ValueError(f"stopping must be a JSON object, got {type(s).__name__}")
    best = s.get("best")
    if isinstance(best, bool) or not isinstance(best, (int, float)) or math.isnan(best):
        raise ValueError(f"stopping best must be a number, got {best!r}")
    if s.get("best_epoch") is not None:
        whole(s["best_epoch"], "stopping best_epoch")
    return {"best": float(best), "best_epoch": s.get("best_epoch"),
            "wait": whole(s.get("wait"), "stopping wait")}  # fmt: skip


def continue_from(
    state: TrainState | None, rng: np.random.Generator, early_stopping: EarlyStopping | None
) -> tuple[History, int, int]:
    """``(history, first epoch, update count)``: a fresh start, or where ``state`` stands
    (the generator and early stopping set back to that moment). A run whose early stopping
    had already run out of patience has nothing left to train: its first epoch is past any."""
    if state is None or state.epoch == 0:
        return History(), 1, 0
    if state.rng is None:
        raise ValueError("the training state holds epochs but no random generator state")
    rng.bit_generator.state = state.rng
    history = state.history
    history.interrupted = history.stopped_early = False
    first = state.epoch + 1
    if early_stopping is not None and state.stopping is not None:
        early_stopping.restore(state.stopping, state.best_state)
        if early_stopping.stopped:  # it had stopped: an uninterrupted run trains no more
            history.stopped_early, first = True, 2**62
    return history, first, state.step


def record_state(state: TrainState, epoch: int, step: int, history: History,
                 rng: np.random.Generator,
                 early_stopping: EarlyStopping | None) -> None:  # fmt: skip
    """After a whole epoch, before the callbacks save it: where the run stands."""
    state.epoch, state.step, state.history = epoch, step, history
    state.rng = rng.bit_generator.state
    if early_stopping is not None:
        state.stopping = early_stopping.record()
        state.best_state = early_stopping.best_state
