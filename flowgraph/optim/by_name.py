"""The optimisers by name, for command lines, configurations and searches: the one table.

``flowgraph train --optimizer``, ``flowgraph search`` (``optimizer=...``), the configurations
of :mod:`flowgraph.select` and :func:`make_optimizer` all read :data:`REGISTRY`; adding an
optimiser is one class in a file of its own and one row here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core import Parameter
from .adagrad import AdaGrad
from .adam import Adam
from .adamw import AdamW
from .base import Optimizer
from .rmsprop import RMSProp
from .schedules import Schedule
from .sgd import SGD

__all__ = ["Named", "REGISTRY", "OPTIMIZERS", "DEFAULT_LR", "OPTIONS", "make_optimizer"]


@dataclass(frozen=True)
class Named:
    """One row of :data:`REGISTRY`: the class a name builds, which of :func:`make_optimizer`'s
    options it takes (Adam's betas as ``beta1``, ``beta2``), and the arguments the name sets
    (``fixed``, always) or defaults (``defaults``, unless given)."""

    cls: type[Optimizer]
    options: tuple[str, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)


_ADAM_OPTIONS = ("beta1", "beta2", "eps", "amsgrad", "weight_decay")

# The table. "nesterov" is SGD with Nesterov's momentum, 0.9 unless told otherwise.
REGISTRY: dict[str, Named] = {
    "sgd": Named(SGD, ("momentum", "dampening", "weight_decay")),
    "nesterov": Named(SGD, ("momentum", "weight_decay"), {"nesterov": True}, {"momentum": 0.9}),
    "adagrad": Named(AdaGrad, ("eps", "weight_decay", "initial_accumulator_value")),
    "rmsprop": Named(RMSProp, ("rho", "eps", "momentum", "centered", "weight_decay")),
    "adam": Named(Adam, _ADAM_OPTIONS),
    "adamw": Named(AdamW, _ADAM_OPTIONS),
}

# Views of the table, read by the command line and the search.
OPTIMIZERS: tuple[str, ...] = tuple(REGISTRY)
# alpha when none is given: torch.optim's defaults for the adaptive methods. SGD has none in
# the library (the command line and the search choose theirs: flowgraph.training.defaults).
DEFAULT_LR: dict[str, float | None] = {k: n.cls.default_lr for k, n in REGISTRY.items()}
# which of make_optimizer's options each optimiser takes
OPTIONS: dict[str, tuple[str, ...]] = {k: n.options for k, n in REGISTRY.items()}


def make_optimizer(
    name: str,
    parameters: Sequence[Parameter],
    lr: float | Schedule | None = None,
    schedule: Schedule | str | None = None,
    *,
    decay: float = 0.0,
    warmup: int = 0,
    l1_prox: float = 0.0,
    l1_params: Sequence[Parameter] | None = None,
    masks: Mapping[Parameter, np.ndarray] | None = None,
    **options: Any,
) -> Optimizer:
    """An optimiser by name (one of :data:`OPTIMIZERS`), for command lines and searches.

    ``options`` are those of the optimiser, with betas given as ``beta1`` and ``beta2``; an
    option that is None counts as not given (the optimiser's default). An option the
    optimiser does not take (momentum for Adam) is a ValueError naming the options it takes.
    "nesterov" is SGD(nesterov=True) with momentum 0.9 unless told otherwise.

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.zeros(3), "w")
    >>> make_optimizer("adam", [w], beta2=0.99)
    Adam(alpha = 0.001, betas=(0.9, 0.99), eps=1e-08)
    """
    key = str(name).strip().lower()
    if key not in REGISTRY:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    named = REGISTRY[key]
    given = {k: v for k, v in options.items() if v is not None}
    wrong = [k for k in given if k not in named.options]
    if wrong:
        raise ValueError(
            f"optimizer {key} does not take {', '.join(wrong)}; it takes {', '.join(named.options)}"
        )
    if "beta1" in named.options:  # Adam's betas as one argument
        given["betas"] = (given.pop("beta1", 0.9), given.pop("beta2", 0.999))
    arguments = {**named.defaults, **given, **named.fixed}
    return named.cls(
        parameters, lr, schedule=schedule, decay=decay, warmup=warmup, l1_prox=l1_prox,
        l1_params=l1_params, masks=masks, **arguments,
    )  # fmt: skip
