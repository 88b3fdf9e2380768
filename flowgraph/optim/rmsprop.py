"""RMSProp: AdaGrad with a decaying average of the squared gradients instead of their sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Parameter
from .base import Optimizer, check_fraction, check_nonnegative
from .schedules import Schedule

__all__ = ["RMSProp"]


class RMSProp(Optimizer):
    """RMSProp (Tieleman & Hinton 2012, lecture 6.5 of "Neural networks for machine
    learning"): AdaGrad with an exponentially decaying average r instead of the sum,

        r     <- rho r + (1 - rho) grad * grad
        g_bar <- rho g_bar + (1 - rho) grad;  r_c = r - g_bar * g_bar    (centered=True)
        theta <- theta - alpha_t grad / (sqrt(r) + eps)                  (sqrt(r_c) centred)

    and with ``momentum`` beta > 0 the scaled gradient is averaged as SGD's is:
    b <- beta b + grad / (sqrt(r) + eps), theta <- theta - alpha_t b.

    torch.optim.RMSprop's rule, whose smoothing constant ``alpha`` (default 0.99) is ``rho``
    here (alpha is the learning rate in the lecture); eps (1e-8), momentum, centered the same.

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.array([1.0]), "w")
    >>> w.grad = np.array([2.0])
    >>> opt = fg.RMSProp([w], lr=0.1, rho=0.75); opt.step(); w.value  # sqrt(r) = 1
    array([0.8])
    """

    buffer_names = ("square_avg", "grad_avg", "momentum")
    default_lr = 1e-2

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        schedule: Schedule | str | None = None,
        *,
        rho: float = 0.99,
        eps: float = 1e-8,
        momentum: float = 0.0,
        centered: bool = False,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, **kwargs)
        self.rho = check_fraction("RMSProp", rho, "rho", closed=True)
        self.momentum = check_fraction("RMSProp", momentum, "momentum beta")
        self.eps = check_nonnegative("RMSProp", eps, "eps")
        self.centered = bool(centered)
        self._work = [np.empty_like(p.value) for p in self.parameters]  # see update

    def update(self, alpha: float) -> None:
        # each line of the formula in place, in a work array (a fresh array per operation
        # would cost a third more time on large weights)
        rho = self.rho
        for i, (p, work) in enumerate(zip(self.parameters, self._work)):
            grad = self.gradient(p)
            r = self.buffer("square_avg", i)
            # r <- rho r + (1 - rho) grad * grad
            np.multiply(grad, grad, out=work)
            work *= 1.0 - rho
            r *= rho
            r += work
            if self.centered:
                # g_bar <- rho g_bar + (1 - rho) grad, as g_bar += (1 - rho)(grad - g_bar)
                g_bar = self.buffer("grad_avg", i)
                np.subtract(grad, g_bar, out=work)
                work *= 1.0 - rho
                g_bar += work
                # sqrt(r_c) = sqrt(r - g_bar * g_bar)
                np.multiply(g_bar, g_bar, out=work)
                np.subtract(r, work, out=work)
                np.sqrt(work, out=work)
            else:  # sqrt(r)
                np.sqrt(r, out=work)
            # grad / (sqrt(r) + eps)
            work += self.eps
            np.divide(grad, work, out=work)
            if self.momentum > 0:  # b <- beta b + grad / (sqrt(r) + eps);  alpha_t b
                b = self.buffer("momentum", i)
                b *= self.momentum
                b += work
                np.multiply(b, alpha, out=work)
            else:  # alpha_t grad / (sqrt(r) + eps)
                work *= alpha
            # theta <- theta - alpha_t (...)
            p.value -= work

    def options_text(self) -> str:
        opts = [f"rho={self.rho:g}", f"eps={self.eps:g}"]
        if self.momentum:
            opts.append(f"momentum={self.momentum:g}")
        if self.centered:
            opts.append("centered=True")
        return ", ".join(opts)
