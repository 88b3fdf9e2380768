"""Adam: running averages of the gradient and of its square, corrected for their start at 0."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Parameter
from .base import Optimizer, check_fraction, check_nonnegative
from .schedules import Schedule

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): running averages of the gradient and of its square, each
    corrected for its start at zero,

        m     <- beta1 m + (1 - beta1) grad                 m_hat = m / (1 - beta1^t)
        v     <- beta2 v + (1 - beta2) grad * grad          v_hat = v / (1 - beta2^t)
        theta <- theta - alpha_t m_hat / (sqrt(v_hat) + eps)

    ``amsgrad`` (Reddi, Kale & Kumar 2018) uses the largest v seen so far instead of v.
    torch.optim.Adam's rule, in the same order of operations; betas (0.9, 0.999), eps 1e-8
    and lr 1e-3 are its defaults. ``weight_decay`` is added to grad (the L2 penalty kind),
    so Adam rescales it like the rest of the gradient; :class:`~flowgraph.AdamW` decouples it.

    >>> import numpy as np, flowgraph as fg
    >>> w = fg.Parameter(np.array([1.0, -2.0]), "w")
    >>> w.grad = np.array([0.5, -4.0])
    >>> opt = fg.Adam([w], lr=0.1); opt.step(); w.value  # m_hat / sqrt(v_hat) = sign(grad)
    array([ 0.9, -1.9])
    """

    buffer_names = ("m", "v", "v_max")
    default_lr = 1e-3
    # weight_decay is added to grad; AdamW: False, theta shrinks by 1 - alpha_t lambda_w
    coupled_decay = True

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        schedule: Schedule | str | None = None,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        amsgrad: bool = False,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, **kwargs)
        name = type(self).__name__
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise ValueError(
                f"{name}: betas must be two numbers (beta1, beta2), got {betas!r}"
            ) from None
        self.betas = (check_fraction(name, beta1, "beta1"), check_fraction(name, beta2, "beta2"))
        self.eps = check_nonnegative(name, eps, "eps")
        self.amsgrad = bool(amsgrad)
        self._work = [np.empty_like(p.value) for p in self.parameters]  # see update

    def update(self, alpha: float) -> None:
        # each line of the formula in place, in a work array (a fresh array per operation
        # would cost a third more time on large weights), in torch's order of operations
        (beta1, beta2), t = self.betas, self.t
        step_size = alpha / (1.0 - beta1**t)  # alpha_t m_hat = step_size m
        bias2_sqrt = (1.0 - beta2**t) ** 0.5  # sqrt(v_hat) = sqrt(v) / bias2_sqrt
        decay = 1.0 if self.coupled_decay else 1.0 - alpha * self.weight_decay
        for i, (p, work) in enumerate(zip(self.parameters, self._work)):
            grad = self.gradient(p, coupled_decay=self.coupled_decay)
            if decay != 1.0:  # AdamW: theta <- (1 - alpha_t lambda_w) theta, before the step
                p.value *= decay
            m, v = self.buffer("m", i), self.buffer("v", i)
            # m <- beta1 m + (1 - beta1) grad, as m += (1 - beta1)(grad - m) (torch's lerp)
            np.subtract(grad, m, out=work)
            work *= 1.0 - beta1
            m += work
            # v <- beta2 v + (1 - beta2) grad * grad
            np.multiply(grad, grad, out=work)
            work *= 1.0 - beta2
            v *= beta2
            v += work
            if self.amsgrad:  # the largest v so far, in place of v
                v = np.maximum(self.buffer("v_max", i), v, out=self.buffers["v_max"][i])
            # theta <- theta - alpha_t m_hat / (sqrt(v_hat) + eps)
            np.sqrt(v, out=work)
            work /= bias2_sqrt
            work += self.eps
            np.divide(m, work, out=work)
            work *= step_size
            p.value -= work

    def options_text(self) -> str:
        opts = [f"betas=({self.betas[0]:g}, {self.betas[1]:g})", f"eps={self.eps:g}"]
        if self.weight_decay:
            opts.append(f"weight_decay={self.weight_decay:g}")
        if self.amsgrad:
            opts.append("amsgrad=True")
        return ", ".join(opts)
