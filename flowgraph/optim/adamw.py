"""AdamW: Adam with decoupled weight decay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..core import Parameter
from .adam import Adam
from .schedules import Schedule

__all__ = ["AdamW"]


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay lambda_w,

        theta <- (1 - alpha_t lambda_w) theta                 before Adam's step
        theta <- theta - alpha_t m_hat / (sqrt(v_hat) + eps)  (m, v from grad alone)

    so every weight shrinks at the same relative rate, whatever its gradient's scale (Adam's
    weight_decay = L2 is divided by sqrt(v_hat) like the gradient). torch.optim.AdamW's rule;
    ``weight_decay`` defaults to 1e-2 as there.

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.array([1.0]), "w")
    >>> w.grad = np.array([3.0])
    >>> opt = fg.AdamW([w], lr=0.1, weight_decay=0.5); opt.step(); w.value  # 0.95 - 0.1
    array([0.85])
    """

    coupled_decay = False  # Adam.update shrinks theta first, in the same pass over it

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        schedule: Schedule | str | None = None,
        *,
        weight_decay: float = 1e-2,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, weight_decay=weight_decay, **kwargs)
