"""Losses summed element by element over the prediction's shape: binary cross-entropy from
logits (sigm(a) and -[y log sigm(a) + (1 - y) log(1 - sigm(a))] fused, with torch's options:
reductions, weights, soft targets) and the squared error of regression."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import LabelError, ShapeError
from .common import grad_in, working

REDUCTIONS = ("batchmean", "mean", "sum", "none")


def _check_binary(a: np.ndarray, y: np.ndarray, box: str) -> None:
    if np.asarray(y).dtype.kind not in "iub":
        raise LabelError(
            f"{box}: labels y must be integers 0 or 1, got dtype {np.asarray(y).dtype} "
            "(convert with y.astype(int))"
        )
    if np.shape(y) != np.shape(a) or np.ndim(a) == 0:
        raise ShapeError(
            f"{box}: labels y must have the logits' shape (N,) or (N, K), got logits "
            f"{np.shape(a)} and labels {np.shape(y)}"
        )
    if np.any((y != 0) & (y != 1)):
        raise LabelError(f"{box}: labels must be 0 or 1, found {np.unique(y)[:5].tolist()}")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """sigm(a) = 1 / (1 + exp(-a)), from e = exp(-|a|) <= 1 so that it never overflows (as
    the Sigmoid box computes it; written here too so that each family file stands alone)."""
    e = np.exp(-np.abs(a))
    h = np.where(a >= 0, 1, e)
    h /= 1 + e
    return h


class SigmoidCrossEntropy(Box):
    """Sigmoid and binary cross-entropy fused: the loss straight from the logit a.

    Children ``(a, y)``: logits a of shape (N,) (or (N, K): K independent labels), binary
    integer labels y of a's shape.

    fprop:  l = 1/N sum_t -[y_t log sigm(a_t) + (1 - y_t) log(1 - sigm(a_t))]
              = 1/N sum_t (softplus(a_t) - y_t a_t)         stable for a = ±1e4
    bprop:  grad_a = (sigm(a) - y) / N;  y gets no gradient (None)

    Options, as ``torch.nn.functional.binary_cross_entropy_with_logits``: ``weight``, a weight
    w broadcast against a (one per label of (N, K) logits); soft targets, y a float array of
    a's shape with values in [0, 1] (then grad_y = -w a d: the loss is linear in y); and
    ``reduction`` of the elements l_tk = w (softplus(a_tk) - y_tk a_tk): "batchmean" (the
    default above: sum / N, the sum over labels and the mean over examples), "mean" (torch's
    default: sum / (N K)), "sum", or "none" (a's shape). With none of them, the code above.
    """

    arity = 2
    input_names = ("a", "y")

    def __init__(self, reduction: str = "batchmean", weight=None):
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"SigmoidCrossEntropy(reduction={reduction!r}): reduction must be one of "
                + ", ".join(map(repr, REDUCTIONS))
            )
        if weight is not None:
            try:
                w = np.asarray(weight, dtype=np.float64)
            except (TypeError, ValueError):
                w = np.array([np.nan])
            if w.ndim > 1 or not w.size or not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError(
                    f"SigmoidCrossEntropy(weight={weight!r}): weights must be a number or a "
                    "1-D sequence of finite numbers >= 0 (one per label)"
                )
            weight = float(w) if w.ndim == 0 else tuple(float(v) for v in w)
        self.reduction, self.weight = reduction, weight
        self.options = reduction != "batchmean" or weight is not None

    def config(self) -> dict:
        """The options that differ from the defaults (a default box's config is {})."""
        out: dict = {} if self.reduction == "batchmean" else {"reduction": self.reduction}
        if self.weight is not None:
            out["weight"] = self.weight if isinstance(self.weight, float) else list(self.weight)
        return out

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"SigmoidCrossEntropy({options})"

    def fprop(self, a, y):
        if self.options or np.asarray(y).dtype.kind == "f":
            return self._general(a, y, "fprop")
        _check_binary(a, y, "SigmoidCrossEntropy")
        work, out = working(a)
        a = a.astype(work, copy=False)
        softplus = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
        return np.asarray(np.sum(softplus - y.astype(work) * a) / len(a), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        a, y = inputs
        if self.options or np.asarray(y).dtype.kind == "f":
            return self._general(a, y, "bprop", grad_l)
        work, _ = working(a)
        s = _sigmoid(a.astype(work, copy=False))
        return grad_in((s - y.astype(work)) * (np.asarray(grad_l, work) / len(a)), a), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <sigm(a) - y, R{a}>."""
        if self.options or np.asarray(inputs[1]).dtype.kind == "f":
            return self._general(*inputs, "fprop_jvp", tangents=tangents)
        (a, y), Ra = inputs, tangents[0]
        work, out = working(a)
        s = _sigmoid(a.astype(work, copy=False))
        return np.asarray(np.vdot(s - y, Ra.astype(work, copy=False)) / len(a), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_a} = (sigm(a)(1 - sigm(a)) R{a} grad_l + (sigm(a) - y) R{grad_l}) / N."""
        if self.options or np.asarray(inputs[1]).dtype.kind == "f":
            return self._general(*inputs, "bprop_jvp", grad_l, tangents, R_grad_l)
        (a, y), Ra = inputs, tangents[0]
        work, _ = working(a)
        s = _sigmoid(a.astype(work, copy=False))
        grad_l, R_grad_l = np.asarray(grad_l, work), np.asarray(R_grad_l, work)
        R_grad_a = (s * (1 - s) * Ra * grad_l + (s - y) * R_grad_l) / len(a)
        return grad_in(R_grad_a, a), None

    # -- the options: weights, soft targets, reductions
    def _check(self, a, y, work):
        """w broadcast to a's shape (checked), and y checked: 0/1 integers or floats in [0, 1]."""
        y = np.asarray(y)
        if y.dtype.kind != "f":
            _check_binary(a, y, "SigmoidCrossEntropy")
        elif np.shape(y) != np.shape(a) or np.ndim(a) == 0:
            raise ShapeError(
                f"SigmoidCrossEntropy: soft targets y must have the logits' shape (N,) or "
                f"(N, K), got logits {np.shape(a)} and targets {np.shape(y)}"
            )
        elif np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
            bad = y[~((y >= 0) & (y <= 1))]
            raise LabelError(
                f"SigmoidCrossEntropy: soft targets must lie in [0, 1], found {bad[:5].tolist()}"
            )
        w = np.asarray(1.0 if self.weight is None else self.weight, dtype=work)
        try:
            if np.broadcast_shapes(w.shape, np.shape(a)) != np.shape(a):
                raise ValueError
        except ValueError:
            raise ShapeError(
                f"SigmoidCrossEntropy(weight=...): {w.size} weights do not broadcast to the "
                f"logits' shape {np.shape(a)}"
            ) from None
        return w, y

    def _scale(self, g, a, work):
        """d = grad_l times d l / d l_tk, of a's shape (the reduction's slope)."""
        g = np.asarray(g, dtype=work)
        size = {"batchmean": len(a), "mean": np.size(a), "sum": 1}.get(self.reduction)
        return g if size is None else np.broadcast_to(g / size, np.shape(a))

    def _general(self, a, y, what, grad_l=None, tangents=None, R_grad_l=None):
        """l_tk = w (softplus(a) - y a) and its derivatives: grad_a = w (sigm(a) - y) d,
        grad_y = -w a d; their R-operators by the product rule."""
        work, out = working(a)
        a_w = np.asarray(a).astype(work, copy=False)
        w, y = self._check(a, y, work)
        y_w, soft = y.astype(work, copy=False), y.dtype.kind == "f"
        s = _sigmoid(a_w)
        Ra, Ry = (None, None) if tangents is None else (np.asarray(t, work) for t in tangents)
        if what == "fprop":
            softplus = np.maximum(a_w, 0) + np.log1p(np.exp(-np.abs(a_w)))
            elem = w * (softplus - y_w * a_w)
        elif what == "fprop_jvp":
            elem = w * ((s - y_w) * Ra - (a_w * Ry if soft else 0))
        if what in ("fprop", "fprop_jvp"):
            if self.reduction == "none":
                return np.asarray(elem, dtype=out)
            size = {"batchmean": len(a), "mean": np.size(a), "sum": 1}[self.reduction]
            return np.asarray(np.sum(elem) / size, dtype=out)
        d = self._scale(grad_l, a, work)
        if what == "bprop":
            grad_a, grad_y = w * (s - y_w) * d, -w * a_w * d
        else:
            Rd = self._scale(R_grad_l, a, work)
            grad_a = w * (s * (1 - s) * Ra * d + (s - y_w) * Rd - (Ry * d if soft else 0))
            grad_y = -w * (Ra * d + a_w * Rd)
        return grad_in(grad_a, a), (grad_in(grad_y, y) if soft else None)

    def sample_inputs(self, rng):
        return 2 * rng.standard_normal(6), rng.integers(0, 2, size=6)


class SquaredError(Box):
    """Half the squared Euclidean error, averaged over the batch: the regression loss.

    Children ``(f, t)``: predictions f and targets t of one shape (N, ...) (float targets
    get a gradient too: an autoencoder's target may be a node).

    fprop:  l = 1/N sum_t ||f(x_t) - t_t||^2 / 2                   scalar
    bprop:  grad_f = (f - t) / N,  grad_t = -(f - t) / N          (times grad_l)
    """

    arity = 2
    input_names = ("f", "t")

    def fprop(self, f, t):
        if np.shape(f) != np.shape(t) or np.ndim(f) == 0:
            raise ShapeError(
                f"SquaredError needs predictions f and targets t of one shape (N, ...), got "
                f"f {np.shape(f)} and t {np.shape(t)}"
            )
        work, out = working(f, t)
        e = np.subtract(f, t, dtype=work)
        return np.asarray(np.vdot(e, e) / (2 * len(f)), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        f, t = inputs
        work, _ = working(f, t)
        grad_f = np.subtract(f, t, dtype=work) * (np.asarray(grad_l, work) / len(f))
        return grad_in(grad_f, f), grad_in(-grad_f, t)

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <f - t, R{f} - R{t}>."""
        (f, t), (Rf, Rt) = inputs, tangents
        work, out = working(f, t)
        e, Re = np.subtract(f, t, dtype=work), np.subtract(Rf, Rt, dtype=work)
        return np.asarray(np.vdot(e, Re) / len(f), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_f} = ((R{f} - R{t}) grad_l + (f - t) R{grad_l}) / N = -R{grad_t}."""
        (f, t), (Rf, Rt) = inputs, tangents
        work, _ = working(f, t)
        e, Re = np.subtract(f, t, dtype=work), np.subtract(Rf, Rt, dtype=work)
        R_grad_f = (Re * np.asarray(grad_l, work) + e * np.asarray(R_grad_l, work)) / len(f)
        return grad_in(R_grad_f, f), grad_in(-R_grad_f, t)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
