"""Batch normalisation (Ioffe and Szegedy, 2015), its running statistics and its mode as
children: x (N, C) or (N, C, H, W), the per-channel gamma and beta (Parameters), the running
mean and variance (Buffers, updated by an explicit step after the optimiser's, never by the
box) and the mode (True while training).

Statistics are per channel c, over the m = N (x H x W) values of that channel.
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like


class BatchNorm(Box):
    """Batch normalisation of x over the batch (and spatial) axes, per channel, as
    ``torch.nn.functional.batch_norm``:

    fprop:  training:   mu = mean(x), v = mean((x - mu)^2) (biased), over the m values
            evaluation: mu = running_mean, v = running_var
            s = 1 / sqrt(v + eps),  x^ = (x - mu) s,  y = gamma x^ + beta
    bprop:  grad_beta = sum grad_y,  grad_gamma = sum grad_y x^,  g^ = grad_y gamma
            training:   grad_x = s (g^ - mean(g^) - x^ mean(g^ x^)); running stats: 0
            evaluation: grad_x = s g^,  grad_running_mean = -s sum g^,
                        grad_running_var = -s^3 / 2 sum g^ (x - mu)
    (sums and means over the m values of each channel; the mode gets none)
    """

    arity = 6
    input_names = ("x", "gamma", "beta", "running_mean", "running_var", "mode")

    def __init__(self, eps: float = 1e-5):
        self.eps = float(eps)
        if not self.eps > 0:
            raise ValueError(f"BatchNorm: eps must be > 0, got {eps}")

    def config(self) -> dict:
        return {"eps": self.eps}

    # -- the shapes: per-channel vectors broadcast along axis 1 --------------------------------
    def axes(self, x, *vectors) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(the axes reduced, the shape a channel vector takes to broadcast against x)."""
        shape = np.shape(x)
        if len(shape) not in (2, 4):
            raise ShapeError(f"BatchNorm: x must be (N, C) or (N, C, H, W), got shape {shape}")
        C = shape[1]
        for name, v in zip(self.input_names[1:5], vectors):
            if np.shape(v) != (C,):
                raise ShapeError(f"BatchNorm: x {shape} has {C} channels but {name} has shape "
                                 f"{np.shape(v)}, expected ({C},)")
        return (0,) + tuple(range(2, len(shape))), (1, C) + (1,) * (len(shape) - 2)

    def stats(self, x, rm, rv, mode, axes, cshape):
        """(mu, s, x^) of the mode, each mu and s shaped to broadcast."""
        if mode:
            mu = x.mean(axis=axes, keepdims=True)
            v = ((x - mu) ** 2).mean(axis=axes, keepdims=True)
        else:
            mu, v = np.reshape(rm, cshape), np.reshape(rv, cshape)
        s = 1.0 / np.sqrt(v + self.eps)
        return mu, s, (x - mu) * s

    def fprop(self, x, gamma, beta, running_mean, running_var, mode):
        axes, cshape = self.axes(x, gamma, beta, running_mean, running_var)
        if mode and np.size(x) // np.shape(x)[1] < 2:
            raise ShapeError(f"BatchNorm: training needs more than one value per channel, got "
                             f"x of shape {np.shape(x)}")
        _, _, xh = self.stats(x, running_mean, running_var, mode, axes, cshape)
        y = xh * np.reshape(gamma, cshape) + np.reshape(beta, cshape)
        return y.astype(np.result_type(x, gamma, beta, running_mean, running_var), copy=False)

    def bprop(self, inputs, y, grad_y):
        x, gamma, beta, rm, rv, mode = inputs
        axes, cshape = self.axes(x, gamma, beta, rm, rv)
        mu, s, xh = self.stats(x, rm, rv, mode, axes, cshape)
        gh = grad_y * np.reshape(gamma, cshape)
        g_beta, g_gamma = grad_y.sum(axis=axes), (grad_y * xh).sum(axis=axes)
        if mode:
            gx = s * (gh - gh.mean(axis=axes, keepdims=True)
                      - xh * (gh * xh).mean(axis=axes, keepdims=True))
            g_rm, g_rv = np.zeros_like(rm), np.zeros_like(rv)
        else:
            gx = s * gh
            g_rm = -gx.sum(axis=axes)
            g_rv = -0.5 * (gh * (x - mu) * s**3).sum(axis=axes)
        grads = (gx, g_gamma, g_beta, g_rm, g_rv)
        return tuple(grad_like(g, v) for g, v in zip(grads, inputs)) + (None,)

    def bprop_needed(self, inputs, y, grad_y, needs):
        """Only the gradients asked for (the running statistics, Buffers, never are)."""
        grads = self.bprop(inputs, y, grad_y)
        return tuple(g if need else None for g, need in zip(grads, needs))

    # -- forward mode ------------------------------------------------------------------------
    def tangent_stats(self, x, Rx, rm, Rrm, rv, Rrv, mode, axes, cshape):
        """(mu, s, x^, R{s}, R{x^}): the statistics and their directional derivatives."""
        mu, s, xh = self.stats(x, rm, rv, mode, axes, cshape)
        if mode:
            xc = x - mu
            Rmu = Rx.mean(axis=axes, keepdims=True)
            Rv = 2 * (xc * Rx).mean(axis=axes, keepdims=True)
        else:
            Rmu, Rv = np.reshape(Rrm, cshape), np.reshape(Rrv, cshape)
        Rs = -0.5 * s**3 * Rv
        return mu, s, xh, Rs, (Rx - Rmu) * s + (x - mu) * Rs

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{gamma} x^ + gamma R{x^} + R{beta}, with R{x^} = (R{x} - R{mu}) s +
        (x - mu) R{s}, R{s} = -s^3 R{v} / 2 (training: R{mu} = mean R{x},
        R{v} = 2 mean((x - mu) R{x}); evaluation: the running statistics' tangents)."""
        x, gamma, beta, rm, rv, mode = inputs
        Rx, Rg, Rb, Rrm, Rrv, _ = tangents
        axes, cshape = self.axes(x, gamma, beta, rm, rv)
        _, _, xh, _, Rxh = self.tangent_stats(x, Rx, rm, Rrm, rv, Rrv, mode, axes, cshape)
        Ry = Rg.reshape(cshape) * xh + np.reshape(gamma, cshape) * Rxh + Rb.reshape(cshape)
        return Ry.astype(np.result_type(y), copy=False)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """The product rule on each formula of bprop."""
        x, gamma, beta, rm, rv, mode = inputs
        Rx, Rg, Rb, Rrm, Rrv, _ = tangents
        axes, cshape = self.axes(x, gamma, beta, rm, rv)
        mu, s, xh, Rs, Rxh = self.tangent_stats(x, Rx, rm, Rrm, rv, Rrv, mode, axes, cshape)
        g = np.reshape(gamma, cshape)
        gh, Rgh = grad_y * g, R_grad_y * g + grad_y * Rg.reshape(cshape)
        R_beta, R_gamma = R_grad_y.sum(axis=axes), (R_grad_y * xh + grad_y * Rxh).sum(axis=axes)
        if mode:
            def mean(a):
                return a.mean(axis=axes, keepdims=True)
            inner = gh - mean(gh) - xh * mean(gh * xh)
            R_inner = Rgh - mean(Rgh) - Rxh * mean(gh * xh) - xh * mean(Rgh * xh + gh * Rxh)
            Rgx = Rs * inner + s * R_inner
            R_rm, R_rv = np.zeros_like(rm), np.zeros_like(rv)
        else:
            xc, Rxc = x - mu, Rx - Rrm.reshape(cshape)
            Rgx = Rgh * s + gh * Rs
            R_rm = -Rgx.sum(axis=axes)
            R_rv = -0.5 * ((Rgh * xc + gh * Rxc) * s**3 + gh * xc * 3 * s**2 * Rs).sum(axis=axes)
        grads = (Rgx, R_gamma, R_beta, R_rm, R_rv)
        return tuple(grad_like(g_, v) for g_, v in zip(grads, inputs)) + (None,)

    def sample_inputs(self, rng):
        C = 3
        return (rng.standard_normal((4, C, 2, 3)), rng.uniform(0.5, 1.5, C),
                rng.standard_normal(C), rng.standard_normal(C), rng.uniform(0.5, 2.0, C),
                np.True_)

    def __repr__(self) -> str:
        return f"BatchNorm(eps={self.eps})"


class RunningStat(Box):
    """The running statistic of a batch norm after one training step, as torch updates it
    (``momentum`` m, the batch's unbiased variance):

    fprop:  training:   r' = (1 - m) r + m mean(x)        (stat = "mean")
                        r' = (1 - m) r + m var_1(x)       (stat = "var", var with ddof = 1)
            evaluation: r' = r
    bprop:  none: state, not learnt (differentiable = False)

    over the batch (and spatial) axes of x (N, C) or (N, C, H, W), per channel. It is the
    update node of a running-statistic Buffer: ``graph.update_buffers()`` copies r' into r.
    """

    arity = 3
    differentiable = False
    input_names = ("running", "x", "mode")

    def __init__(self, momentum: float = 0.1, stat: str = "mean"):
        if stat not in ("mean", "var") or not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"RunningStat: stat 'mean' or 'var' and momentum in [0, 1], got "
                             f"{stat!r}, {momentum}")
        self.momentum, self.stat = float(momentum), stat

    @classmethod
    def example(cls) -> RunningStat:
        return cls(0.1, "var")

    def config(self) -> dict:
        return {"momentum": self.momentum, "stat": self.stat}

    def fprop(self, running, x, mode):
        if np.ndim(x) not in (2, 4) or np.shape(running) != np.shape(x)[1:2]:
            raise ShapeError(f"RunningStat: x must be (N, C) or (N, C, H, W) and running (C,), "
                             f"got x {np.shape(x)} and running {np.shape(running)}")
        if not mode:
            return np.array(running, copy=True)
        axes = (0,) + tuple(range(2, np.ndim(x)))
        m = np.size(x) // np.shape(x)[1]
        if self.stat == "mean":
            stat = np.mean(x, axis=axes)
        else:
            stat = np.var(x, axis=axes) * (m / max(m - 1, 1))
        r = (1 - self.momentum) * running + self.momentum * stat
        return r.astype(np.result_type(running), copy=False)

    def bprop(self, inputs, output, grad_output):
        return (None, None, None)

    def fprop_jvp(self, inputs, tangents, y):
        """R{r'} = (1 - m) R{r} + m R{mean(x)}, or + m 2 sum((x - mean x) R{x}) / (n - 1) for
        the variance (training); R{r} (evaluation). (No gradient flows back through state, but
        its value is a smooth function of its inputs.)"""
        (_, x, mode), (Rr, Rx, _) = inputs, tangents
        if not mode:
            return np.asarray(Rr, dtype=y.dtype)
        axes = (0,) + tuple(range(2, np.ndim(x)))
        n = np.size(x) // np.shape(x)[1]
        if self.stat == "mean":
            Rstat = np.mean(Rx, axis=axes)
        else:
            xc = x - np.mean(x, axis=axes, keepdims=True)
            Rstat = 2 * np.sum(xc * Rx, axis=axes) / max(n - 1, 1)
        return ((1 - self.momentum) * Rr + self.momentum * Rstat).astype(y.dtype, copy=False)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return (None, None, None)

    def sample_inputs(self, rng):
        return (rng.uniform(0.5, 2.0, 3), rng.standard_normal((4, 3, 2, 2)), np.True_)

    def __repr__(self) -> str:
        return f"RunningStat(momentum={self.momentum}, stat={self.stat!r})"
