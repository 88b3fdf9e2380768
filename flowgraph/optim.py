"""Optimisers: the lecture's SGD with momentum, and the methods of Deep Learning, chapter 8.

Every optimiser performs, at update t = 1, 2, ..., with grad = grad_theta of the loss the last
``Graph.bprop`` left in ``p.grad`` (the L2 penalty lambda Omega(theta), when the graph has one,
is already in it):

    theta <- theta - alpha_t * (a direction computed from grad and running averages)

then the shared steps: the proximal L1 step ``l1_prox`` and the masks. The directions::

    SGD        grad_bar(t) = grad + beta grad_bar(t-1);  theta -= alpha_t grad_bar(t)
    Nesterov   the same, but theta -= alpha_t (grad + beta grad_bar(t))          (look-ahead)
    AdaGrad    r += grad^2;                             theta -= alpha_t grad / (sqrt(r) + eps)
    RMSProp    r = rho r + (1 - rho) grad^2;            theta -= alpha_t grad / (sqrt(r) + eps)
    Adam       m = beta1 m + (1 - beta1) grad,  v = beta2 v + (1 - beta2) grad^2
               theta -= alpha_t m_hat / (sqrt(v_hat) + eps),  m_hat, v_hat bias-corrected
    AdamW      Adam, and theta *= 1 - alpha_t lambda_w before it (decoupled weight decay)

Schedules for alpha_t (t counts updates; delta is the decrease constant):

    constant(alpha)         alpha_t = alpha
    inverse(alpha, delta)   alpha_t = alpha / (1 + delta t)
    power(alpha, delta)     alpha_t = alpha / t^delta,   0.5 < delta <= 1

SGD converges when sum_t alpha_t = inf and sum_t alpha_t^2 < inf; the last two satisfy both.
Each may keep the fixed rate alpha for its first ``warmup`` updates ("better to use a fixed
learning rate for the first few updates").

The update rules are those of ``torch.optim`` (``SGD``, ``Adagrad``, ``RMSprop``, ``Adam``,
``AdamW``) with the same arguments, so that the same weights, gradients and options give the
same numbers (the tests check 100 steps of each, float64, to 1e-10). Names that differ:

    flowgraph                       torch.optim
    lr (alpha), or a Schedule       lr, and a torch.optim.lr_scheduler for alpha_t
    momentum (beta)                 momentum
    RMSProp(rho=)                   RMSprop(alpha=)   (torch's alpha is the smoothing constant)
    AdaGrad                         Adagrad           (lr_decay: use schedule="inverse")
    betas, eps, weight_decay, dampening, nesterov, centered, amsgrad, maximize: the same

``weight_decay`` adds weight_decay * theta to grad for every parameter given (biases too), as
torch does; the lecture's L2 penalty lambda ||W||^2 lives in the graph instead (on the weights
only) and contributes 2 lambda W to grad. AdamW's weight_decay is the decoupled decay.

Resuming: ``state()`` returns every number an optimiser keeps between updates (the update
count t and its running averages, copied); ``load_state(state)`` on an optimiser built with the
same arguments over the same parameters continues bit for bit where the saved one stopped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .core import Parameter

__all__ = [
    "Schedule",
    "constant",
    "inverse",
    "power",
    "make_schedule",
    "Optimizer",
    "SGD",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "DEFAULT_LR",
    "OPTIONS",
    "make_optimizer",
]


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


def _fraction(name: str, value: float, what: str, *, closed: bool = False) -> float:
    """``value`` as a float in [0, 1) (``closed``: [0, 1]), or a ValueError naming it."""
    value = float(value)
    if not (0.0 <= value < 1.0 or (closed and value == 1.0)):
        raise ValueError(f"{name}: {what} must lie in [0, 1{']' if closed else ')'}, got {value}")
    return value


class Optimizer:
    """What every optimiser shares: the parameters, the rate alpha_t, the update count t, the
    proximal L1 step, the masks, weight decay, ``maximize`` and the state for resuming.

    ``lr`` is alpha (a number) or a :class:`Schedule`; ``schedule`` may give the schedule
    instead (a Schedule, or a name with ``decay`` = delta and ``warmup``). ``weight_decay``
    adds weight_decay * theta to grad (torch's coupled decay; see the module's docstring);
    ``maximize`` ascends: grad is replaced by -grad.

    ``l1_prox`` = lambda applies the proximal step of lambda * sum |W| to ``l1_params`` after
    each update, W <- sign(W) max(|W| - alpha_t lambda, 0) (soft-thresholding: weights that
    L1 pushes to 0 become exactly 0, which plain subgradient steps never achieve); ``masks``
    maps a Parameter to a 0/1 array kept applied after every update (pruned weights stay
    exactly 0).

    A subclass names its running averages in ``_buffer_names`` (one array per parameter, or
    None until first needed) and implements ``_update(alpha)``. It reads each gradient
    through ``_grad(p)``; plain and momentum SGD read the rank-1 factors ``p.grad_outer``
    of per-example training instead where they can (see :class:`flowgraph.core.rank1.Outer`).
    """

    _buffer_names: tuple[str, ...] = ()
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
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError(f"{name} got no parameters to update")
        for p in self.parameters:
            if not isinstance(p, Parameter):
                raise TypeError(f"{name} updates Parameter nodes, got {type(p).__name__}")
        if lr is None and (schedule is None or isinstance(schedule, str)):
            lr = self.default_lr
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
                raise ValueError(f"{name} needs a learning rate lr (alpha) or a schedule")
            schedule = constant(lr, warmup)
        elif lr is not None and float(lr) != schedule.alpha:
            raise ValueError(f"lr={lr} disagrees with the schedule's alpha={schedule.alpha}")
        self.schedule: Schedule = schedule
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"{name}: weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        self.maximize = bool(maximize)
        self.t = 0  # updates done
        self._buffers: dict[str, list[np.ndarray | None]] = {
            b: [None] * len(self.parameters) for b in self._buffer_names
        }
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
        self._update(alpha)
        if self.l1_prox:
            shrink = alpha * self.l1_prox
            for p in self.l1_params:
                W = p.value
                np.copysign(np.maximum(np.abs(W) - shrink, 0), W, out=W)
        for p, m in self.masks.items():
            p.value *= m

    def _update(self, alpha: float) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _grad(self, p: Parameter, coupled_decay: bool = True) -> np.ndarray:
        """grad (-grad with ``maximize``) + weight_decay * theta (unless not
        ``coupled_decay``), as an array. Never written into: ``p.grad`` may be an array the
        graph shares with another node."""
        g = p.grad
        if g is None:
            raise ValueError(
                f"{type(self).__name__}: parameter {p.name!r} has no gradient; "
                "call graph.bprop() before step()"
            )
        if self.maximize:
            g = -g
        if self.weight_decay and coupled_decay:
            g = g + self.weight_decay * p.value
        return g

    def _buffer(self, name: str, i: int, fill: float = 0.0) -> np.ndarray:
        """Running average ``name`` of parameter i, created filled with ``fill`` on first use."""
        buf = self._buffers[name][i]
        if buf is None:
            buf = self._buffers[name][i] = np.full_like(self.parameters[i].value, fill)
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
        for b, arrays in self._buffers.items():
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
        loaded: dict[str, list[np.ndarray | None]] = {}
        for b in self._buffer_names:
            arrays = state.get(b)
            if not isinstance(arrays, Sequence) or len(arrays) != len(self.parameters):
                raise ValueError(
                    f"{name} state: {b!r} must list one array (or None) for each of the "
                    f"{len(self.parameters)} parameters"
                )
            loaded[b] = []
            for p, a in zip(self.parameters, arrays):
                if a is not None:
                    a = np.asarray(a)
                    if a.shape != p.value.shape:
                        raise ValueError(
                            f"{name} state: {b} of parameter {p.name!r} has shape {a.shape}, "
                            f"not {p.value.shape}"
                        )
                    a = np.array(a, dtype=p.value.dtype, copy=True)
                loaded[b].append(a)
        self.t = int(t)
        self._buffers = loaded

    def _options(self) -> str:
        return ""

    def __repr__(self) -> str:
        extra = self._options()
        return f"{type(self).__name__}({self.schedule}{', ' + extra if extra else ''})"


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
        alpha: a number (constant rate) or a :class:`Schedule`.
    momentum
        beta, in [0, 1); 0 is plain SGD.
    schedule
        ``"constant"``, ``"inverse"`` (alpha / (1 + delta t)), ``"power"`` (alpha / t^delta)
        or a :class:`Schedule`.
    dampening
        torch's d (see above); 0, the default, is the lecture's momentum.
    nesterov
        Nesterov's accelerated gradient instead of the heavy ball.
    **kwargs
        ``decay`` (delta of a named schedule), ``warmup``, ``weight_decay``, ``maximize``,
        ``l1_prox`` with ``l1_params``, ``masks``: see :class:`Optimizer`.

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

    _buffer_names = ("velocity",)

    def __init__(
        self,
        parameters: Sequence[Parameter],
        lr: float | Schedule | None = None,
        momentum: float = 0.0,
        schedule: Schedule | str | None = None,
        *,
        dampening: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ):
        super().__init__(parameters, lr, schedule, **kwargs)
        if not (0.0 <= momentum < 1.0):
            raise ValueError(f"momentum beta must lie in [0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.dampening = _fraction("SGD", dampening, "dampening", closed=True)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum == 0 or self.dampening != 0):
            raise ValueError(
                "Nesterov momentum needs momentum beta > 0 and dampening = 0, got "
                f"momentum={self.momentum}, dampening={self.dampening}"
            )

    def _update(self, alpha: float) -> None:
        beta = self.momentum
        if beta == 0 and not self.maximize and not self.weight_decay:
            # the lecture's plain step, theta -= alpha grad: the hot path of small networks,
            # where each attribute look-up and call per parameter is a visible share
            for p in self.parameters:
                outer = p.grad_outer
                if outer is not None:  # grad = u v^T (one example): one BLAS pass, in place
                    outer.subtract_from(p.value, alpha)
                else:
                    g = p.grad
                    p.value -= alpha * (g if g is not None else self._grad(p))  # None: raises
            return
        sign = -1.0 if self.maximize else 1.0
        velocity = self._buffers["velocity"]
        for i, p in enumerate(self.parameters):
            outer = p.grad_outer if not self.weight_decay else None
            if beta == 0:
                if outer is not None:  # grad = u v^T (one example): one BLAS pass, in place
                    outer.subtract_from(p.value, sign * alpha)
                else:
                    p.value -= alpha * self._grad(p)
                continue
            v = velocity[i]
            if outer is not None:
                if v is None:  # grad_bar(1) = grad
                    v = velocity[i] = outer.materialize()
                    if self.maximize:
                        np.negative(v, out=v)
                else:
                    v *= beta
                    outer.subtract_from(v, -sign * (1.0 - self.dampening))
                if self.nesterov:  # theta -= alpha (grad + beta grad_bar)
                    p.value -= (alpha * beta) * v
                    outer.subtract_from(p.value, sign * alpha)
                else:
                    p.value -= alpha * v
                continue
            g = self._grad(p)
            if v is None:
                v = velocity[i] = g.copy()
            else:
                v *= beta
                v += g if self.dampening == 0 else (1.0 - self.dampening) * g
            p.value -= alpha * (g + beta * v if self.nesterov else v)

    def _options(self) -> str:
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


class AdaGrad(Optimizer):
    """AdaGrad (Duchi, Hazan & Singer 2011): each coordinate's rate shrinks with the sum of
    its squared gradients,

        r     <- r + grad * grad                            (element-wise; r(0) = r_0)
        theta <- theta - alpha_t grad / (sqrt(r) + eps)

    torch.optim.Adagrad's rule; ``initial_accumulator_value`` is r_0, ``eps`` the same
    (default 1e-10). torch's ``lr_decay`` is the schedule alpha / (1 + lr_decay (t - 1)),
    one update behind this module's ``inverse`` schedule alpha / (1 + delta t).
    """

    _buffer_names = ("sum",)
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
        if not eps >= 0:
            raise ValueError(f"AdaGrad: eps must be >= 0, got {eps}")
        if not initial_accumulator_value >= 0:
            raise ValueError(
                f"AdaGrad: initial_accumulator_value must be >= 0, got {initial_accumulator_value}"
            )
        self.eps = float(eps)
        self.initial_accumulator_value = float(initial_accumulator_value)
        self._scratch = [np.empty_like(p.value) for p in self.parameters]  # in-place work

    def _update(self, alpha: float) -> None:
        for i, (p, s) in enumerate(zip(self.parameters, self._scratch)):
            g = self._grad(p)
            r = self._buffer("sum", i, self.initial_accumulator_value)
            np.multiply(g, g, out=s)
            r += s
            np.sqrt(r, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            s *= alpha
            p.value -= s

    def _options(self) -> str:
        return f"eps={self.eps:g}" + (
            f", initial_accumulator_value={self.initial_accumulator_value:g}"
            if self.initial_accumulator_value
            else ""
        )


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
    """

    _buffer_names = ("square_avg", "grad_avg", "momentum")
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
        self.rho = _fraction("RMSProp", rho, "rho", closed=True)
        self.momentum = _fraction("RMSProp", momentum, "momentum beta")
        if not eps >= 0:
            raise ValueError(f"RMSProp: eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.centered = bool(centered)
        self._scratch = [np.empty_like(p.value) for p in self.parameters]  # in-place work

    def _update(self, alpha: float) -> None:
        rho = self.rho
        for i, (p, s) in enumerate(zip(self.parameters, self._scratch)):
            g = self._grad(p)
            r = self._buffer("square_avg", i)
            np.multiply(g, g, out=s)
            s *= 1.0 - rho
            r *= rho
            r += s
            if self.centered:
                g_bar = self._buffer("grad_avg", i)
                np.subtract(g, g_bar, out=s)  # g_bar <- g_bar + (1 - rho)(grad - g_bar)
                s *= 1.0 - rho
                g_bar += s
                np.multiply(g_bar, g_bar, out=s)
                np.subtract(r, s, out=s)
                np.sqrt(s, out=s)
            else:
                np.sqrt(r, out=s)
            s += self.eps
            np.divide(g, s, out=s)
            if self.momentum > 0:
                b = self._buffer("momentum", i)
                b *= self.momentum
                b += s
                np.multiply(b, alpha, out=s)
            else:
                s *= alpha
            p.value -= s

    def _options(self) -> str:
        opts = [f"rho={self.rho:g}", f"eps={self.eps:g}"]
        if self.momentum:
            opts.append(f"momentum={self.momentum:g}")
        if self.centered:
            opts.append("centered=True")
        return ", ".join(opts)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): running averages of the gradient and of its square, each
    corrected for its start at zero,

        m     <- beta1 m + (1 - beta1) grad                 m_hat = m / (1 - beta1^t)
        v     <- beta2 v + (1 - beta2) grad * grad          v_hat = v / (1 - beta2^t)
        theta <- theta - alpha_t m_hat / (sqrt(v_hat) + eps)

    ``amsgrad`` (Reddi, Kale & Kumar 2018) uses the largest v seen so far instead of v.
    torch.optim.Adam's rule, in the same order of operations; betas (0.9, 0.999), eps 1e-8
    and lr 1e-3 are its defaults. ``weight_decay`` is added to grad (the L2 penalty kind),
    so Adam rescales it like the rest of the gradient; :class:`AdamW` decouples it.
    """

    _buffer_names = ("m", "v", "v_max")
    default_lr = 1e-3
    _decoupled = False

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
        self.betas = (_fraction(name, beta1, "beta1"), _fraction(name, beta2, "beta2"))
        if not eps >= 0:
            raise ValueError(f"{name}: eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.amsgrad = bool(amsgrad)
        self._scratch = [np.empty_like(p.value) for p in self.parameters]  # in-place work

    def _update(self, alpha: float) -> None:
        beta1, beta2 = self.betas
        t = self.t
        step_size = alpha / (1.0 - beta1**t)
        bias2_sqrt = (1.0 - beta2**t) ** 0.5
        decay = 1.0 - alpha * self.weight_decay if self._decoupled else 1.0
        for i, (p, s) in enumerate(zip(self.parameters, self._scratch)):
            g = self._grad(p, coupled_decay=not self._decoupled)
            if decay != 1.0:
                p.value *= decay  # AdamW: theta <- (1 - alpha_t lambda_w) theta
            m, v = self._buffer("m", i), self._buffer("v", i)
            np.subtract(g, m, out=s)  # m <- m + (1 - beta1)(grad - m), torch's lerp
            s *= 1.0 - beta1
            m += s
            np.multiply(g, g, out=s)
            s *= 1.0 - beta2
            v *= beta2
            v += s
            if self.amsgrad:
                v = np.maximum(self._buffer("v_max", i), v, out=self._buffers["v_max"][i])
            np.sqrt(v, out=s)
            s /= bias2_sqrt
            s += self.eps
            np.divide(m, s, out=s)
            s *= step_size
            p.value -= s

    def _options(self) -> str:
        opts = [f"betas=({self.betas[0]:g}, {self.betas[1]:g})", f"eps={self.eps:g}"]
        if self.weight_decay:
            opts.append(f"weight_decay={self.weight_decay:g}")
        if self.amsgrad:
            opts.append("amsgrad=True")
        return ", ".join(opts)


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay lambda_w,

        theta <- (1 - alpha_t lambda_w) theta                 before Adam's step
        theta <- theta - alpha_t m_hat / (sqrt(v_hat) + eps)  (m, v from grad alone)

    so every weight shrinks at the same relative rate, whatever its gradient's scale (Adam's
    weight_decay = L2 is divided by sqrt(v_hat) like the gradient). torch.optim.AdamW's rule;
    ``weight_decay`` defaults to 1e-2 as there.
    """

    _decoupled = True

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


# -- by name: for the command line and the search --------------------------------------------

OPTIMIZERS = ("sgd", "nesterov", "adagrad", "rmsprop", "adam", "adamw")

# alpha when none is given: torch.optim's defaults for the adaptive methods. SGD has none in
# the library (the command line and the search choose theirs).
DEFAULT_LR: dict[str, float | None] = {
    "sgd": None,
    "nesterov": None,
    "adagrad": AdaGrad.default_lr,
    "rmsprop": RMSProp.default_lr,
    "adam": Adam.default_lr,
    "adamw": AdamW.default_lr,
}

# which of make_optimizer's options each optimiser takes
OPTIONS: dict[str, tuple[str, ...]] = {
    "sgd": ("momentum", "dampening", "weight_decay"),
    "nesterov": ("momentum", "weight_decay"),
    "adagrad": ("eps", "weight_decay", "initial_accumulator_value"),
    "rmsprop": ("rho", "eps", "momentum", "centered", "weight_decay"),
    "adam": ("beta1", "beta2", "eps", "amsgrad", "weight_decay"),
    "adamw": ("beta1", "beta2", "eps", "amsgrad", "weight_decay"),
}


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
    "nesterov" is SGD(nesterov=True) with momentum 0.9 unless told otherwise."""
    key = str(name).strip().lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    given = {k: v for k, v in options.items() if v is not None}
    wrong = [k for k in given if k not in OPTIONS[key]]
    if wrong:
        raise ValueError(
            f"optimizer {key} does not take {', '.join(wrong)}; it takes "
            f"{', '.join(OPTIONS[key])}"
        )
    common: dict[str, Any] = dict(
        decay=decay, warmup=warmup, l1_prox=l1_prox, l1_params=l1_params, masks=masks
    )
    if "weight_decay" in given:
        common["weight_decay"] = given.pop("weight_decay")
    if key in ("adam", "adamw"):
        b1, b2 = given.pop("beta1", 0.9), given.pop("beta2", 0.999)
        given["betas"] = (b1, b2)
    cls: type[Optimizer]
    if key == "sgd":
        cls = SGD
    elif key == "nesterov":
        cls, given["nesterov"] = SGD, True
        given.setdefault("momentum", 0.9)
    else:
        cls = {"adagrad": AdaGrad, "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW}[key]
    if cls is SGD:
        return SGD(parameters, lr, given.pop("momentum", 0.0), schedule, **given, **common)
    return cls(parameters, lr, schedule, **given, **common)
