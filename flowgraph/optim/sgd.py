"""SGD: the lecture's stochastic gradient descent, with momentum or Nesterov's look-ahead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..core import Parameter
from .base import Optimizer, check_fraction
from .schedules import Schedule

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent with the lecture's momentum (Polyak's heavy ball), or
    Nesterov's accelerated gradient (Nesterov 1983, in the form of Sutskever et al. 2013):

        grad_bar(t) = grad + beta grad_bar(t-1)          momentum (beta = 0: plain SGD)
        theta      <- theta - alpha_t grad_bar(t)
        theta      <- theta - alpha_t (grad + beta grad_bar(t))       with nesterov=True

    ``momentum`` is beta. This is torch.optim.SGD's rule, which is the lecture's exactly when
    ``dampening`` = 0 (the default). With dampening d torch's averaged gradient is
    grad_bar(t) = (1 - d) grad + beta grad_bar(t-1), except grad_bar(1) = grad undamped; both
    keep alpha_t outside the average, unlike Sutskever's v <- beta v - alpha_t grad,
    theta <- theta + v, which differs from it when alpha_t changes. Nesterov's look-ahead
    gradient grad(theta - alpha beta grad_bar) is rewritten, as torch does, into the
    gradient at the current theta plus beta grad_bar (needs momentum > 0, dampening = 0).

    Per-example training hands SGD the rank-1 gradient u v^T of a Linear weight as its
    factors: plain SGD subtracts alpha_t u v^T from W in one BLAS pass and momentum adds it
    into grad_bar the same way, never building the array.

    Parameters
    ----------
    parameters
        The :class:`~flowgraph.Parameter` nodes to update (``model.parameters``).
    lr
        alpha: a number (constant rate) or a :class:`~flowgraph.optim.Schedule`.
    momentum
        beta, in [0, 1); 0 is plain SGD.
    schedule
        ``"constant"``, ``"inverse"`` (alpha / (1 + delta t)), ``"power"`` (alpha / t^delta)
        or a :class:`~flowgraph.optim.Schedule`.
    dampening
        torch's d (see above); 0, the default, is the lecture's momentum.
    nesterov
        Nesterov's accelerated gradient instead of the heavy ball.
    fold
        Opt-in, plain SGD only (momentum 0, no weight decay, not maximising): under
        ``fg.train`` (or :meth:`flowgraph.step.plan.StepPlan.fold`) the update of each weight
        W read by one Linear box is folded into its gradient's product, W <- W - alpha_t
        grad_a^T h as one BLAS gemm (beta = 1) during bprop. Such a W has no ``grad`` after
        bprop (nothing may read it) and ``step`` skips it; the result differs from the
        unfolded update by rounding only.
    **kwargs
        ``decay`` (delta of a named schedule), ``warmup``, ``weight_decay``, ``maximize``,
        ``l1_prox`` with ``l1_params``, ``masks``: see :class:`~flowgraph.optim.Optimizer`.

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

    buffer_names = ("velocity",)

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        momentum: float = 0.0,
        schedule: Schedule | str | None = None,
        *,
        dampening: float = 0.0,
        nesterov: bool = False,
        fold: bool = False,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, **kwargs)
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum beta must lie in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.dampening = check_fraction("SGD", dampening, "dampening", closed=True)
        self.nesterov = bool(nesterov)
        self.fold = bool(fold)
        self.folded: set[int] = set()  # ids of the weights a step plan updates during bprop
        self.scratch: dict[int, np.ndarray] = {}  # id(p) -> where plain SGD puts alpha grad
        self.rated = float("nan")  # the alpha of ``rates``:
        self.rates: dict[Any, Any] = {}  # dtype -> that alpha as a 0-d array (plain SGD)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                "Nesterov momentum needs momentum beta > 0 and dampening = 0, got "
                f"momentum={self.momentum}, dampening={self.dampening}"
            )

    def foldable(self) -> bool:
        """Whether a step plan may fold this optimiser's update into the weight-gradient
        products: ``fold=True`` and plain SGD (theta <- theta - alpha_t grad, nothing more)."""
        return self.fold and self.momentum == 0 and not self.maximize and not self.weight_decay

    def update(self, alpha: float) -> None:
        if self.momentum == 0 and not self.maximize and not self.weight_decay:
            self.plain_step(alpha)
            return
        for i, p in enumerate(self.parameters):
            outer = p.grad_outer if not self.weight_decay else None
            if outer is not None:  # grad = u v^T (one example): never build the array
                self.rank_one_step(i, p, outer, alpha)
            elif self.momentum == 0:  # theta <- theta - alpha_t grad
                p.value -= alpha * self.gradient(p)
            else:
                self.momentum_step(i, p, alpha)

    def plain_step(self, alpha: float) -> None:
        """theta <- theta - alpha_t grad for every parameter: the lecture's step, and the hot
        path of small networks, where each attribute look-up and call per parameter is a
        visible share (so it reads ``p.grad`` directly). NumPy casts a Python alpha to the
        gradient's dtype at each product, half the call at a small size: ``rates`` keeps alpha
        so cast, one 0-d array per dtype while alpha stays (the same product)."""
        scratch, rates = self.scratch, self.rates
        if self.rated != alpha:
            rates.clear()
            self.rated = alpha
        for p in self.parameters:
            outer = p.grad_outer
            if outer is not None:  # grad = u v^T (one example): one BLAS pass, in place
                outer.subtract_from(p.value, alpha)
            else:
                grad = p.grad
                if grad is None:
                    if id(p) in self.folded:  # updated in bprop (fold=True)
                        continue
                    grad = self.gradient(p)  # raises
                step = scratch.get(id(p)) if scratch else None  # (none yet: no look-up)
                if type(alpha) is not float:  # (a NumPy alpha may widen: as written)
                    p.value -= alpha * grad
                elif step is None or step.shape != grad.shape or step.dtype != grad.dtype:
                    rate = rates.get(grad.dtype)
                    if rate is None:
                        rate = rates[grad.dtype] = rate_in(alpha, grad.dtype)
                    p.value -= grad * rate
                    if grad.size >= 4096 and grad.dtype == p.value.dtype:  # (large: reused)
                        scratch[id(p)] = np.empty_like(grad)
                else:  # alpha grad into the same array at every step, then subtracted
                    p.value -= np.multiply(grad, alpha, out=step)

    def momentum_step(self, i: int, p: Parameter, alpha: float) -> None:
        """grad_bar(t) = (1 - d) grad + beta grad_bar(t-1)  (grad_bar(1) = grad), then
        theta <- theta - alpha_t grad_bar(t), or theta - alpha_t (grad + beta grad_bar(t))."""
        beta, grad = self.momentum, self.gradient(p)
        grad_bar = self.buffers["velocity"][i]
        if grad_bar is None:
            grad_bar = self.buffers["velocity"][i] = grad.copy()
        else:
            grad_bar *= beta
            grad_bar += grad if self.dampening == 0 else (1.0 - self.dampening) * grad
        p.value -= alpha * (grad + beta * grad_bar if self.nesterov else grad_bar)

    def rank_one_step(self, i: int, p: Parameter, outer: Any, alpha: float) -> None:
        """The same updates with grad = u v^T given as its factors (``outer``, an
        :class:`~flowgraph.core.box.Outer`): each ``x += c u v^T`` is one BLAS pass."""
        sign = -1.0 if self.maximize else 1.0  # grad is -u v^T with maximize
        beta = self.momentum
        if beta == 0:  # theta <- theta - alpha_t grad
            outer.subtract_from(p.value, sign * alpha)
            return
        grad_bar = self.buffers["velocity"][i]
        if grad_bar is None:  # grad_bar(1) = grad
            grad_bar = self.buffers["velocity"][i] = outer.materialize()
            if self.maximize:
                np.negative(grad_bar, out=grad_bar)
        else:  # grad_bar <- beta grad_bar + (1 - d) grad
            grad_bar *= beta
            outer.subtract_from(grad_bar, -sign * (1.0 - self.dampening))
        if self.nesterov:  # theta <- theta - alpha_t (grad + beta grad_bar)
            p.value -= (alpha * beta) * grad_bar
            outer.subtract_from(p.value, sign * alpha)
        else:  # theta <- theta - alpha_t grad_bar
            p.value -= alpha * grad_bar

    def options_text(self) -> str:
        opts = [f"momentum={self.momentum}"]
        if self.nesterov:
            opts.append("nesterov=True")
        if self.dampening:
            opts.append(f"dampening={self.dampening}")
        if self.weight_decay:
            opts.append(f"weight_decay={self.weight_decay}")
        if self.maximize:
            opts.append("maximize=True")
        return ", ".join(opts)


def rate_in(alpha: float, dtype: Any) -> Any:
    """alpha as a 0-d array of ``dtype``, the number NumPy multiplies a gradient of that
    dtype by in ``alpha * grad``; alpha itself where it is not a float dtype or the cast
    would overflow (NumPy then warns at each product, as it did)."""
    if np.dtype(dtype).kind != "f" or not abs(alpha) <= np.finfo(dtype).max:
        return alpha
    return np.asarray(alpha, dtype=dtype)
