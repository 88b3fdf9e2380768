"""AdaGrad: each coordinate's rate shrinks with the sum of its squared gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Parameter
from .base import Optimizer, check_nonnegative
from .schedules import Schedule

__all__ = ["AdaGrad"]


class AdaGrad(Optimizer):
    """AdaGrad (Duchi, Hazan & Singer 2011): each coordinate's rate shrinks with the sum of
    its squared gradients,

        r     <- r + grad * grad                            (element-wise; r(0) = r_0)
        theta <- theta - alpha_t grad / (sqrt(r) + eps)

    torch.optim.Adagrad's rule; ``initial_accumulator_value`` is r_0, ``eps`` the same
    (default 1e-10). torch's ``lr_decay`` is the schedule alpha / (1 + lr_decay (t - 1)),
    one update behind this module's ``inverse`` schedule alpha / (1 + delta t).

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.array([1.0, -2.0]), "w")
    >>> w.grad = np.array([0.5, 4.0])
    >>> opt = fg.AdaGrad([w], lr=0.1); opt.step(); w.value  # each moves by alpha at t = 1
    array([ 0.9, -2.1])
    """

    buffer_names = ("sum",)
    default_lr = 1e-2

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        schedule: Schedule | str | None = None,
        *,
        eps: float = 1e-10,
        initial_accumulator_value: float = 0.0,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, **kwargs)
        self.eps = check_nonnegative("AdaGrad", eps, "eps")
        self.initial_accumulator_value = check_nonnegative(
            "AdaGrad", initial_accumulator_value, "initial_accumulator_value"
        )
        self._work = [np.empty_like(p.value) for p in self.parameters]  # see update

    def update(self, alpha: float) -> None:
        # each line of the formula in place, in a work array (a fresh array per operation
        # would cost a third more time on large weights)
        for i, (p, work) in enumerate(zip(self.parameters, self._work)):
            grad = self.gradient(p)
            r = self.buffer("sum", i, self.initial_accumulator_value)
            # r <- r + grad * grad
            np.multiply(grad, grad, out=work)
            r += work
            # theta <- theta - alpha_t grad / (sqrt(r) + eps)
            np.sqrt(r, out=work)
            work += self.eps
            np.divide(grad, work, out=work)
            work *= alpha
            p.value -= work

    def options_text(self) -> str:
        return f"eps={self.eps:g}" + (
            f", initial_accumulator_value={self.initial_accumulator_value:g}"
            if self.initial_accumulator_value
            else ""
        )
