"""What every optimiser shares: the parameters, the rate alpha_t, the update count t, the
proximal L1 step, the masks, weight decay, ``maximize``, the state for resuming, and the
checks of the numbers an optimiser is given.

An optimiser is a subclass that writes its formula in ``update(alpha)``: one update of every
parameter with the rate alpha = alpha_t. :meth:`Optimizer.step` counts t, asks the schedule
for alpha_t, calls ``update`` and then applies the shared steps (L1 proximal step, masks).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..core import Parameter
from .schedules import Schedule, as_schedule

__all__ = ["Optimizer", "check_fraction", "check_nonnegative"]


def check_fraction(owner: str, value: float, what: str, *, closed: bool = False) -> float:
    """``value`` as a float in [0, 1) (``closed``: [0, 1]), or a ValueError naming ``owner``
    (the optimiser), ``what`` (the option) and the value."""
    value = float(value)
    if not (0.0 <= value < 1.0 or (closed and value == 1.0)):
        raise ValueError(f"{owner}: {what} must lie in [0, 1{']' if closed else ')'}, got {value}")
    return value


def check_nonnegative(owner: str, value: float, what: str) -> float:
    """``value`` as a float >= 0 (eps, weight decay), or a ValueError naming it."""
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{owner}: {what} must be >= 0, got {value}")
    return float(value)


class Optimizer:
    """What every optimiser shares: the parameters, the rate alpha_t, the update count t, the
    proximal L1 step, the masks, weight decay, ``maximize`` and the state for resuming.

    ``lr`` is alpha (a number) or a :class:`~flowgraph.optim.Schedule`; ``schedule`` may give
    the schedule instead (a Schedule, or a name with ``decay`` = delta and ``warmup``).
    ``weight_decay`` adds weight_decay * theta to grad (torch's coupled decay; see
    :mod:`flowgraph.optim`); ``maximize`` ascends: grad is replaced by -grad.

    ``l1_prox`` = lambda applies the proximal step of lambda * sum |W| to ``l1_params`` after
    each update, W <- sign(W) max(|W| - alpha_t lambda, 0) (soft-thresholding: weights that
    L1 pushes to 0 become exactly 0, which plain subgradient steps never achieve); ``masks``
    maps a Parameter to a 0/1 array kept applied after every update (pruned weights stay
    exactly 0).

    A subclass names its running averages in ``buffer_names`` (one array per parameter, or
    None until first needed: :meth:`buffer`) and writes its formula in :meth:`update`. It
    reads each gradient through :meth:`gradient`; plain and momentum SGD read the rank-1
    factors ``p.grad_outer`` of per-example training instead where they can (see
    :class:`flowgraph.core.box.Outer`).
    """

    buffer_names: tuple[str, ...] = ()
    default_lr: float | None = None  # torch.optim's default; None: the rate must be given

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        schedule: Schedule | str | None = None,
        *,
        decay: float = 0.0,
        warmup: int = 0,
        weight_decay: float = 0.0,
        maximize: bool = False,
        l1_prox: float = 0.0,
        l1_params: Sequence[Parameter] | None = None,
        masks: Mapping[Parameter, np.ndarray] | None = None,
    ):
        name = type(self).__name__
        self.parameters = _parameters(name, parameters)
        self.schedule: Schedule = as_schedule(
            lr, schedule, decay=decay, warmup=warmup, default_lr=self.default_lr, owner=name
        )
        self.weight_decay = check_nonnegative(name, weight_decay, "weight_decay")
        self.maximize = bool(maximize)
        self.t = 0  # updates done
        self.buffers: dict[str, list[np.ndarray | None]] = {
            b: [None] * len(self.parameters) for b in self.buffer_names
        }
        if l1_prox < 0:
            raise ValueError(f"l1_prox must be >= 0, got {l1_prox}")
        self.l1_prox = float(l1_prox)
        if self.l1_prox and l1_params is None:
            raise ValueError("l1_prox needs l1_params: the weights to shrink (e.g. model.weights)")
        self.l1_params = list(l1_params or [])
        self.masks = _masks(masks or {})

    @property
    def lr(self) -> float:
        """The rate alpha_t the next update will use."""
        return self.schedule(self.t + 1)

    def step(self) -> None:
        """One update from the gradients the last ``Graph.bprop`` left in ``p.grad``."""
        self.t += 1
        alpha = self.schedule(self.t)
        self.update(alpha)
        if self.l1_prox:  # W <- sign(W) max(|W| - alpha_t lambda, 0)
            shrink = alpha * self.l1_prox
            for p in self.l1_params:
                W = p.value
                np.copysign(np.maximum(np.abs(W) - shrink, 0), W, out=W)
        for p, m in self.masks.items():
            p.value *= m

    def update(self, alpha: float) -> None:  # pragma: no cover - abstract
        """The optimiser's formula: update every parameter with the rate alpha = alpha_t
        (``self.t`` is already the number of this update). Called by :meth:`step`."""
        raise NotImplementedError

    def gradient(self, p: Parameter, coupled_decay: bool = True) -> np.ndarray:
        """grad (-grad with ``maximize``) + weight_decay * theta (unless not
        ``coupled_decay``), as an array. Never written into: ``p.grad`` may be an array the
        graph shares with another node."""
        grad = p.grad
        if grad is None:
            raise ValueError(
                f"{type(self).__name__}: parameter {p.name!r} has no gradient; "
                "call graph.bprop() before step()"
            )
        if self.maximize:
            grad = -grad
        if self.weight_decay and coupled_decay:
            grad = grad + self.weight_decay * p.value
        return grad

    def buffer(self, name: str, i: int, fill: float = 0.0) -> np.ndarray:
        """Running average ``name`` of parameter i, created filled with ``fill`` on first use."""
        buf = self.buffers[name][i]
        if buf is None:
            buf = self.buffers[name][i] = np.full_like(self.parameters[i].value, fill)
        return buf

    # -- resuming -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything this optimiser keeps between updates, copied: ``{"optimizer": class
        name, "t": updates done, "names": parameter names, <buffer>: [array or None per
        parameter]}`` (SGD's buffer is "velocity", AdaGrad's "sum", RMSProp's "square_avg",
        "grad_avg", "momentum", Adam's "m", "v", "v_max")."""
        out: dict[str, Any] = {
            "optimizer": type(self).__name__,
            "t": self.t,
            "names": [p.name for p in self.parameters],
        }
        for b, arrays in self.buffers.items():
            out[b] = [None if a is None else a.copy() for a in arrays]
        return out

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state()`` of an optimiser of the same kind over parameters of the
        same shapes: the next update is the one the saved optimiser would have made."""
        name = type(self).__name__
        if state.get("optimizer") != name:
            raise ValueError(f"this is the state of {state.get('optimizer')!r}, not of {name}")
        t = state.get("t")
        if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
            raise ValueError(f"{name} state: t must be a whole number >= 0, got {t!r}")
        loaded = {b: self._loaded_buffer(b, state.get(b)) for b in self.buffer_names}
        self.t = int(t)
        self.buffers = loaded

    def _loaded_buffer(self, b: str, arrays: Any) -> list[np.ndarray | None]:
        """Buffer ``b`` of a saved state, checked against the parameters and copied."""
        name = type(self).__name__
        if not isinstance(arrays, Sequence) or len(arrays) != len(self.parameters):
            raise ValueError(
                f"{name} state: {b!r} must list one array (or None) for each of the "
                f"{len(self.parameters)} parameters"
            )
        out: list[np.ndarray | None] = []
        for p, a in zip(self.parameters, arrays):
            if a is not None:
                a = np.asarray(a)
                if a.shape != p.value.shape:
                    raise ValueError(
                        f"{name} state: {b} of parameter {p.name!r} has shape {a.shape}, "
                        f"not {p.value.shape}"
                    )
                a = np.array(a, dtype=p.value.dtype, copy=True)
            out.append(a)
        return out

    def options_text(self) -> str:
        """The options that differ from the defaults, as ``repr`` shows them."""
        return ""

    def __repr__(self) -> str:
        extra = self.options_text()
        return f"{type(self).__name__}({self.schedule}{', ' + extra if extra else ''})"


def _parameters(owner: str, parameters: Sequence[Parameter]) -> list[Parameter]:
    """The parameters as a list: at least one, each a Parameter node."""
    out = list(parameters)
    if not out:
        raise ValueError(f"{owner} got no parameters to update")
    for p in out:
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner} updates Parameter nodes, got {type(p).__name__}")
    return out


def _masks(masks: Mapping[Parameter, np.ndarray]) -> dict[Parameter, np.ndarray]:
    """Each mask as an array of its parameter's dtype, checked for shape and applied once."""
    out = {}
    for p, m in masks.items():
        m = np.asarray(m)
        if m.shape != p.value.shape:
            raise ValueError(f"mask for {p.name} has shape {m.shape}, not {p.value.shape}")
        out[p] = m.astype(p.value.dtype)
        p.value *= out[p]
    return out
