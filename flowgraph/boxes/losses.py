"""The output non-linearity o(a) = softmax(a) and the loss l(f(x), y) = -log f(x)_y."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import LabelError, ShapeError
from .common import (
    check_labels,
    check_labels_ignoring,
    check_scores,
    flat_labels,
    grad_in,
    label_entries,
    log_softmax,
    row_starts,
    softmax,
    softmax_jvp,
    wide_float,
    working,
)

REDUCTIONS = ("mean", "sum", "none")


class ClassOptions:
    """The options of the multi-class losses, as torch's ``cross_entropy`` and ``nll_loss``
    take them (a mixin of SoftmaxCrossEntropy and NLLLoss, not a box):

    * ``reduction``: "mean" (default), "sum" or "none" (one loss per example, shape (N,));
    * ``weight``: a weight w_c per class (C numbers >= 0), or None (all 1);
    * ``ignore_index``: a label whose examples count for nothing, or None (as in torch, it
      applies to integer labels: with soft targets only torch's default -100 is accepted).

    Every such loss is l_t = -sum_c W_tc log p_tc with target weights W (N, C): w_{y_t} at
    (t, y_t) for a label (0 on an ignored row), w_c y_tc for soft targets (rows of
    probabilities y_t). "mean" divides the sum by sum_t w_{y_t} over the rows not ignored
    (torch's weighted mean; by N for soft targets); when every row is ignored the mean is 0
    (torch gives NaN, which would stop training on a batch of padding).
    """

    soft_targets = False  # whether float (N, C) rows of probabilities are accepted as y

    def __init__(self, reduction: str = "mean", weight=None, ignore_index: int | None = None):
        box = type(self).__name__
        if reduction not in REDUCTIONS:
            raise ValueError(
                f"{box}(reduction={reduction!r}): reduction must be one of "
                + ", ".join(map(repr, REDUCTIONS))
            )
        integer = isinstance(ignore_index, (int, np.integer)) and not isinstance(ignore_index, bool)
        if ignore_index is not None and not integer:
            raise ValueError(f"{box}(ignore_index={ignore_index!r}): it must be an integer label")
        self.reduction, self.ignore_index = reduction, ignore_index
        self.weight = None if weight is None else self._class_weights(box, weight)
        self.options = reduction != "mean" or weight is not None or ignore_index is not None

    @staticmethod
    def _class_weights(box: str, weight) -> tuple[float, ...]:
        try:
            w = np.asarray(weight, dtype=np.float64)
        except (TypeError, ValueError):
            w = np.array([np.nan])
        if w.ndim != 1 or not w.size or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError(
                f"{box}(weight={weight!r}): class weights must be a 1-D sequence of finite "
                "numbers >= 0, one per class"
            )
        return tuple(float(v) for v in w)

    def config(self) -> dict:
        """The options that differ from the defaults (a default box's config is {})."""
        out: dict = {}
        if self.reduction != "mean":
            out["reduction"] = self.reduction
        if self.weight is not None:
            out["weight"] = list(self.weight)
        if self.ignore_index is not None:
            out["ignore_index"] = int(self.ignore_index)
        return out

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({options})"

    def targets(self, logp: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
        """(W, the mean's denominator) for scores of shape (N, C) and labels or soft targets y;
        a label outside the classes, weights of the wrong length and targets that are not rows
        of probabilities are refused."""
        box, (n, C) = type(self).__name__, logp.shape
        w = self.w(logp.dtype)
        if self.weight is not None and np.size(w) != C:
            raise ShapeError(
                f"{box}(weight=...): {np.size(w)} class weights for {C} classes (scores of shape "
                f"{logp.shape})"
            )
        y_dtype = np.asarray(y).dtype
        if self.soft_targets and y_dtype.kind == "f" and np.ndim(y) == 2:
            return self._soft(box, logp, y, w), n
        check_labels_ignoring(y, n, C, box, self.ignore_index)
        keep = np.ones(n, bool) if self.ignore_index is None else y != self.ignore_index
        rows, labels = np.nonzero(keep)[0], y[keep]
        W = np.zeros(logp.shape, dtype=logp.dtype)
        W[rows, labels] = w if self.weight is None else np.asarray(w)[labels]
        return W, float(W.sum())

    def _soft(self, box, logp, y, w):
        if self.ignore_index not in (None, -100):  # torch's rule, its default -100 allowed
            raise LabelError(
                f"{box}(ignore_index={self.ignore_index}): an ignored label needs integer labels "
                f"y of shape ({len(logp)},), got soft targets of shape {np.shape(y)}"
            )
        if np.shape(y) != logp.shape:
            raise ShapeError(
                f"{box}: soft targets y must have the scores' shape {logp.shape}, got "
                f"{np.shape(y)}"
            )
        sums = np.sum(y, axis=1)
        tol = max(1e-4, 8 * logp.shape[1] * float(np.finfo(np.asarray(y).dtype).eps))
        if not (np.all(y >= 0) and np.all(np.abs(sums - 1) <= tol)):  # NaN fails both
            t = int(np.argmax(~(np.abs(sums - 1) <= tol) | ~np.all(y >= 0, axis=1)))
            raise LabelError(
                f"{box}: soft targets must be rows of probabilities (>= 0, summing to 1 within "
                f"{tol:.0e}); row {t} sums to {float(sums[t]):.6g} (min {float(np.min(y[t])):.6g})"
            )
        return np.asarray(y, dtype=logp.dtype) * w

    def reduce(self, per: np.ndarray, den: float) -> np.ndarray:
        """The per-example losses l_t reduced: as they are, their sum, or their mean."""
        total = per if self.reduction == "none" else np.add.reduce(per)
        return total if self.reduction != "mean" else total / den if den else total * 0

    def slopes(self, grad_l, n: int, den: float, dtype) -> np.ndarray:
        """d l / d l_t times grad_l, one per example (N,): what each row's gradient scales by."""
        g = np.asarray(grad_l, dtype=dtype)
        if self.reduction == "none":
            return g
        if self.reduction == "mean":
            g = g / den if den else g * 0
        return np.full(n, g, dtype=dtype)

    def w(self, dtype) -> np.ndarray | int:
        """The class weights w (C,) in ``dtype``, or 1 without weights."""
        return 1 if self.weight is None else np.asarray(self.weight, dtype=dtype)


class Softmax(Box):
    """Output activation o(a) = softmax(a), row by row (along ``axis``: the last by default).

    fprop:  f(x)_c = exp(a_c) / sum_c' exp(a_c')        a, f: (N, C); stable for a ~ 1e4
    bprop:  the Jacobian is diag(f) - f f^T, so
            grad_a = f ⊙ (grad_f - <grad_f, f>)         (the inner product taken per row)

    On N-D arrays the sums run along ``axis`` (``fg.softmax(x, axis=0)``, as
    ``torch.softmax(x, dim)``); every other axis indexes independent distributions.
    """

    input_names = ("a",)

    def __init__(self, axis: int = -1):
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Softmax(axis={axis!r}): axis must be an integer")
        self.axis = int(axis)

    def config(self) -> dict:
        return {} if self.axis == -1 else {"axis": self.axis}

    def fprop(self, a):
        if self.axis == -1 and np.ndim(a) == 2:
            return softmax(a)  # the MLP's output: rows of (N, C)
        ndim = np.ndim(a)
        if not -ndim <= self.axis < ndim:
            raise ShapeError(
                f"Softmax: axis={self.axis} does not exist for an array of shape {np.shape(a)}"
            )
        return softmax(np.asarray(a, dtype=np.result_type(a, np.float16)), self.axis)

    def bprop(self, inputs, f, grad_f):
        return (f * (grad_f - (grad_f * f).sum(axis=self.axis, keepdims=True)),)

    def fprop_jvp(self, inputs, tangents, f):
        """R{f} = (diag(f) - f f^T) R{a}, per row."""
        return softmax_jvp(f, tangents[0], self.axis)

    def bprop_jvp(self, inputs, tangents, f, Rf, grad_f, Rgrad_f):
        """R{grad_a} = R{f} ⊙ (grad_f - s) + f ⊙ (R{grad_f} - R{s}), s = <grad_f, f> per row."""
        s = (grad_f * f).sum(axis=self.axis, keepdims=True)
        Rs = (Rgrad_f * f + grad_f * Rf).sum(axis=self.axis, keepdims=True)
        return (Rf * (grad_f - s) + f * (Rgrad_f - Rs),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 5)),)

    def __repr__(self) -> str:
        return "Softmax()" if self.axis == -1 else f"Softmax(axis={self.axis})"


class CrossEntropy(Box):
    """Mean negative log-likelihood of the labels under probabilities f(x).

    Children ``(f, y)``: f of shape (N, C), rows of probabilities; y of shape (N,), integer
    labels in [0, C).

    fprop:  l = 1/N sum_t -log f(x_t)_{y_t}                     scalar
    bprop:  grad_f = -e(y) / f(x)_y / N    (only the true class of each row is non-zero);
            y gets no gradient (None)
    Use SoftmaxCrossEntropy on the pre-activation for a stable, cheaper gradient.
    """

    arity = 2
    input_names = ("f", "y")

    def fprop(self, f, y):
        check_scores(f, "CrossEntropy", "probabilities f")
        n = f.shape[0]
        check_labels(y, n, f.shape[1], "CrossEntropy")
        work, out = working(f)
        fy = f[np.arange(n), y].astype(work)
        return np.asarray(-np.log(fy).mean(), dtype=out)

    def bprop(self, inputs, loss, grad_loss):
        f, y = inputs
        n = f.shape[0]
        rows = np.arange(n)
        work, out = working(f)
        grad_f = np.zeros(f.shape, dtype=out)
        grad_f[rows, y] = -np.asarray(grad_loss, dtype=work) / (f[rows, y].astype(work) * n)
        return grad_f, None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N sum_t -R{f}_{t,y_t} / f_{t,y_t}."""
        (f, y), Rf = inputs, tangents[0]
        rows = np.arange(f.shape[0])
        work, out = working(f)
        return np.asarray(-(Rf[rows, y].astype(work) / f[rows, y]).mean(), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, Rloss, grad_loss, Rgrad_loss):
        """R{grad_f}_{t,y_t} = (-R{grad_l} / f_{t,y_t} + grad_l R{f}_{t,y_t} / f_{t,y_t}^2) / N."""
        (f, y), Rf = inputs, tangents[0]
        n = f.shape[0]
        rows = np.arange(n)
        work, out = working(f)
        fy, Rfy = f[rows, y].astype(work), Rf[rows, y].astype(work)
        grad_loss, Rgrad_loss = np.asarray(grad_loss, work), np.asarray(Rgrad_loss, work)
        Rgrad_f = np.zeros(np.shape(f), dtype=out)
        Rgrad_f[rows, y] = (-Rgrad_loss / fy + grad_loss * Rfy / (fy * fy)) / n
        return Rgrad_f, None

    def sample_inputs(self, rng):
        f = softmax(rng.standard_normal((4, 5)))
        return f, rng.integers(0, 5, size=4)


class SoftmaxCrossEntropy(ClassOptions, Box):
    """Softmax and cross-entropy fused: the loss straight from the output pre-activation.

    Children ``(a, y)``: a = a(L+1)(x) of shape (N, C), y integer labels of shape (N,).

    fprop:  l = 1/N sum_t -log softmax(a_t)_{y_t}
              = 1/N sum_t (m_t - a_{t,y_t}) + log(1 + sum_{c != k_t} exp(a_tc - m_t))
            with k_t the row's largest score and m_t = a_{t,k_t}: no exp overflows, and
            log1p keeps full relative precision when the label wins by a wide margin
            (the loss is then log(1 + sum_{c != y} exp(a_c - a_y)), as small as 1e-300)
    bprop:  grad_a = -(e(y) - f(x)) / N,  f(x) = softmax(a)     (the lecture's output
            gradient, averaged over the batch); y gets no gradient (None)

    Options, as ``torch.nn.functional.cross_entropy`` (ClassOptions): ``reduction`` "mean" |
    "sum" | "none", class weights ``weight`` (C,), an ``ignore_index`` label; and soft targets,
    y a float (N, C) of rows of probabilities: l_t = -sum_c w_c y_tc log softmax(a_t)_c, whose
    gradient is grad_a = (f(x) sum_c w_c y_tc - w ⊙ y_t) d_t and grad_y = -w ⊙ log f(x) d_t
    (d_t = grad_l / N for "mean"). With none of them, the computation above, unchanged.
    ``bprop(..., out=(grad_a, None))`` writes grad_a into a step plan's buffer
    (:mod:`flowgraph.step.plan`), the same operations in place.
    """

    arity = 2
    input_names = ("a", "y")
    soft_targets = True

    code_fprop = "{out} = mean(log(sum(exp({0}), axis=1)) - {0}[range(N), {1}])"
    code_bprop = ("softmax({0}, out={gx}); {gx}[range(N), {1}] -= 1; {gx} *= {g} / N",)

    def fprop(self, a, y):
        if self.options or getattr(y, "ndim", None) != 1:
            return self._general_fprop(a, np.asarray(y))
        if wide_float(a) and a.ndim == 2:  # (N, C) float32/float64: no check, no cast needed
            n, out = a.shape[0], a.dtype  # (as check_scores and working would find)
            check_labels(y, n, a.shape[1], "SoftmaxCrossEntropy")
        else:
            check_scores(a, "SoftmaxCrossEntropy", "a")
            n = a.shape[0]
            check_labels(y, n, a.shape[1], "SoftmaxCrossEntropy")
            work, out = working(a)
            a = a.astype(work, copy=False)
        # np.add.reduce is a.sum without the method's Python-level wrapper (which costs more
        # than the work at N = 1); the mean is sum / N
        top = label_entries(a.argmax(axis=1))  # (t, k_t): each row's largest score
        m = a[top]
        e = a - (m[:, None] if n > 1 else m)
        np.exp(e, out=e)
        e[top] = 0  # exp(a_k - m) = 1 is the "1 +" of log1p
        per_example = np.log1p(np.add.reduce(e, axis=1)) + (m - a[label_entries(y)])
        if n == 1:  # the sum of one term, 0 + x (-0.0 becomes 0.0 as in the sum), and x / 1 is
            return np.asarray(per_example[0] + 0, dtype=out)  # x: no reduce, no division
        return np.asarray(np.add.reduce(per_example) / n, dtype=out)

    def bprop(self, inputs, loss, grad_loss, out=None):
        a, y = inputs
        if self.options or getattr(y, "ndim", None) != 1:
            return self._general_bprop(a, np.asarray(y), grad_loss)
        n = a.shape[0]
        if wide_float(a):  # float32/float64: computed in a's dtype, no conversion on the way
            work = dtype = a.dtype  # (as working would find; grad_in would keep grad_a)
            buf = out[0] if out is not None else None
            grad_a = softmax(a, out=buf)  # f(x), fresh or the plan's
            grad_a[label_entries(y)] -= 1  # f(x) - e(y)
            if type(grad_loss) is not np.ndarray or grad_loss.dtype is not work:
                grad_loss = np.asarray(grad_loss, dtype=work)
            grad_a *= grad_loss / n if n != 1 else grad_loss  # (x / 1 is x)
            return (grad_a if grad_a.dtype is work else grad_in(grad_a, a)), None
        work, dtype = working(a)
        buf = out[0] if out is not None and a.dtype == work == dtype else None
        grad_a = softmax(a.astype(work, copy=False), out=buf)  # f(x), fresh or the plan's
        grad_a[label_entries(y)] -= 1  # f(x) - e(y)
        grad_a *= np.asarray(grad_loss, dtype=work) / n
        return grad_in(grad_a, a), None

    # -- the step plan's kernels: fprop and bprop above for integer labels, float32/64 scores
    def _kernel_case(self, a, y) -> bool:
        """Whether the kernels apply: no options, integer labels (N,) in the machine's byte
        order, float32/64 scores (N, C), N >= 1."""
        if self.options or getattr(y, "ndim", None) != 1 or getattr(a, "ndim", None) != 2:
            return False
        if not (y.dtype.kind in "iu" and y.dtype.isnative and len(y) == a.shape[0] > 0):
            return False
        return a.dtype in (np.float32, np.float64)

    def fprop_kernel(self, inputs, out, shared=None):
        """fprop's operations for scores (N, C) and labels (N,) (still checked in range at each
        step, as fprop does); one example: no sum, no /1. exp(a - m) stays in ``shared`` (the
        plan's, per node) for bprop_kernel, with its e[k_t] from before they became log1p's 1."""
        a, y = inputs
        if not self._kernel_case(a, y):
            return None
        n, n_classes = a.shape
        exp, log1p, reduce, asarray, dtype = np.exp, np.log1p, np.add.reduce, np.asarray, a.dtype
        subtract, saved = np.subtract, {} if shared is None else shared
        e = saved["exp"] = np.empty_like(a)
        if n == 1:
            row = e[0]

            def softmax_cross_entropy_one(a, y):
                label = int(y[0])
                if not 0 <= label < n_classes:
                    check_labels(y, n, n_classes, "SoftmaxCrossEntropy")  # raises, as fprop
                k = (0, int(a.argmax()))
                m = a[k]
                exp(subtract(a, m, out=e), out=e)  # (e = a - m; e = exp(e))
                saved["top"] = k[1], e[k]  # (the flat index of (0, k) is k)
                e[k] = 0
                loss = log1p(reduce(row)) + (m - a[0, label])  # (the row's sum, as a number)
                return asarray(loss, dtype=dtype)  # (>= +0: reduce's sum of one)

            return softmax_cross_entropy_one
        starts, flat = row_starts(n, n_classes), e.reshape(-1)  # entry (t, c) is t C + c
        code = np.dtype(f"u{y.dtype.itemsize}")  # a negative label is a huge unsigned one
        top_of, add = np.maximum.reduce, np.add

        def softmax_cross_entropy(a, y):  # (a[t, c] as the flat a[t C + c]: fewer passes)
            if top_of(y.view(code)) >= n_classes:
                check_labels(y, n, n_classes, "SoftmaxCrossEntropy")  # raises, as fprop
            k, scores = add(starts, a.argmax(axis=1)), a.ravel()
            m = scores.take(k)
            exp(subtract(a, m[:, None], out=e), out=e)
            saved["top"] = k, flat.take(k)
            flat[k] = 0
            per_example = log1p(reduce(e, axis=1)) + (m - scores.take(flat_labels(starts, y)))
            return asarray(reduce(per_example) / n, dtype=dtype)

        return softmax_cross_entropy

    def bprop_kernel(self, inputs, loss, grad_loss, needs, out, shared=None):
        """bprop's out= path into ``out`` (grad_a), from the exp(a - m) fprop_kernel left in
        ``shared`` at this step (bprop's softmax takes the same exp of the same a - m): its
        e[k_t] put back, softmax's sum and division, f(x) - e(y), the scaling (N = 1: no /1)."""
        (a, y), g = inputs, out[0]
        e, n = (shared or {}).get("exp"), a.shape[0]
        if e is None or g is None or g.dtype != e.dtype or not g.flags.c_contiguous:
            return None  # (e: a's shape and dtype, as fprop_kernel made it; g written flat)
        if not self._kernel_case(a, y):
            return None
        dtype, asarray, multiply, result = a.dtype, np.asarray, np.multiply, (g, None)
        divide, reduce, flat = np.divide, np.add.reduce, e.reshape(-1)
        if n == 1:  # one example: the row's sum as a number, a plain index, no x / 1
            e_row, g_row = e[0], g[0]

            def softmax_cross_entropy_one(inputs, loss, grad_loss):
                k, top = shared["top"]
                flat[k] = top  # exp(a_k - m) again: e holds exp(a - m), bprop's softmax's
                divide(e_row, reduce(e_row), out=g_row)  # (the sum of keepdims' one row)
                g_row[int(inputs[1][0])] -= 1  # f(x) - e(y)
                if float(grad_loss) != 1.0:  # (x * 1 is x: the usual seed needs no pass)
                    multiply(g, asarray(grad_loss, dtype=dtype), out=g)
                return result

            return softmax_cross_entropy_one
        starts, flat_g = row_starts(n, a.shape[1]), g.reshape(-1)  # (t, c) is t C + c

        def softmax_cross_entropy(inputs, loss, grad_loss):
            k, top = shared["top"]
            flat[k] = top  # exp(a_k - m) again: e holds exp(a - m), bprop's softmax's
            divide(e, reduce(e, axis=-1, keepdims=True), out=g)
            flat_g[flat_labels(starts, inputs[1])] -= 1
            multiply(g, asarray(grad_loss, dtype=dtype) / n, out=g)  # (g *= ...)
            return result

        return softmax_cross_entropy

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = <grad_a l, R{a}> = 1/N sum_t (f(x_t) - e(y_t))^T R{a_t}."""
        if self.options or np.ndim(inputs[1]) != 1:
            return self._general_jvp(inputs, tangents)
        (a, y), Ra = inputs, tangents[0]
        work, out = working(a)
        f_minus_e = softmax(a.astype(work, copy=False))
        f_minus_e[label_entries(y)] -= 1
        return np.asarray((f_minus_e * Ra).sum() / a.shape[0], dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, Rloss, grad_loss, Rgrad_loss):
        """R{grad_a} = (R{f} grad_l + (f - e(y)) R{grad_l}) / N,  R{f} = (diag(f) - f f^T) R{a}."""
        if self.options or np.ndim(inputs[1]) != 1:
            return self._general_jvp(inputs, tangents, grad_loss, Rgrad_loss)
        (a, y), Ra = inputs, tangents[0]
        n = a.shape[0]
        work, out = working(a)
        f = softmax(a.astype(work, copy=False))
        Rf = softmax_jvp(f, Ra.astype(work, copy=False))
        f[label_entries(y)] -= 1  # f - e(y)
        grad_loss, Rgrad_loss = np.asarray(grad_loss, work), np.asarray(Rgrad_loss, work)
        return grad_in((Rf * grad_loss + f * Rgrad_loss) / n, a), None

    # -- the options (ClassOptions): reduction, class weights, an ignored label, soft targets
    def _general_fprop(self, a, y):
        check_scores(a, type(self).__name__, "a")
        work, out = working(a)
        logp = log_softmax(a.astype(work, copy=False))
        W, den = self.targets(logp, y)
        return np.asarray(self.reduce(-np.add.reduce(W * logp, axis=1), den), dtype=out)

    def _general_bprop(self, a, y, grad_l):
        """grad_a = G - f(x) sum_c G_c per row, G = -W d the gradient of log softmax(a);
        soft targets get grad_y = -w_c log f(x)_c d_t (the loss is linear in them)."""
        work, _ = working(a)
        logp = log_softmax(a.astype(work, copy=False))
        W, den = self.targets(logp, y)
        d = self.slopes(grad_l, len(a), den, work)[:, None]
        G = -W * d
        grad_a = G - np.exp(logp) * G.sum(axis=1, keepdims=True)
        if np.asarray(y).dtype.kind != "f":
            return grad_in(grad_a, a), None
        return grad_in(grad_a, a), grad_in(-self.w(work) * logp * d, y)

    def _general_jvp(self, inputs, tangents, grad_l=None, R_grad_l=None):
        """R{l} (grad_l None), else (R{grad_a}, R{grad_y}): product rule on _general_bprop,
        with R{log f} = R{a} - <f, R{a}> and R{W} = w R{y} for soft targets."""
        (a, y), (Ra, Ry) = inputs, tangents
        work, out = working(a)
        logp = log_softmax(a.astype(work, copy=False))
        p = np.exp(logp)
        W, den = self.targets(logp, y)
        soft = np.asarray(y).dtype.kind == "f"
        RW = np.asarray(Ry, work) * self.w(work) if soft else np.zeros_like(W)
        Rlogp = Ra - (p * Ra).sum(axis=1, keepdims=True)
        if grad_l is None:
            Rper = -np.add.reduce(W * Rlogp + RW * logp, axis=1)
            return np.asarray(self.reduce(Rper, den), dtype=out)
        d = self.slopes(grad_l, len(a), den, work)[:, None]
        Rd = self.slopes(R_grad_l, len(a), den, work)[:, None]
        G, RG = -W * d, -W * Rd - RW * d
        R_grad_a = RG - p * Rlogp * G.sum(axis=1, keepdims=True) - p * RG.sum(axis=1, keepdims=True)
        if not soft:
            return grad_in(R_grad_a, a), None
        return grad_in(R_grad_a, a), grad_in(-self.w(work) * (Rlogp * d + logp * Rd), y)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 5)), rng.integers(0, 5, size=4)


class NLLLoss(ClassOptions, Box):
    """Negative log-likelihood of labels under log-probabilities, as ``torch.nn.functional
    .nll_loss`` (after a LogSoftmax: ``fg.nll_loss(fg.log_softmax(a), y)``).

    Children ``(z, y)``: log-probabilities z of shape (N, C), integer labels y of shape (N,).
    Options (ClassOptions): ``reduction`` "mean" | "sum" | "none", class weights ``weight``
    (C,), an ``ignore_index`` label.

    fprop:  l_t = -w_{y_t} z_{t,y_t} (0 on an ignored row);  l = sum_t l_t / sum_t w_{y_t}
            ("mean"), sum_t l_t ("sum") or the (N,) l_t ("none")
    bprop:  grad_z_{t,y_t} = -w_{y_t} grad_l / sum_t w_{y_t} ("mean"; grad_l for "sum",
            grad_l_t for "none"), 0 elsewhere; y gets no gradient (None)
    """

    arity = 2
    input_names = ("z", "y")

    @classmethod
    def example(cls) -> NLLLoss:
        return cls(weight=(0.5, 1.0, 2.0, 1.5, 0.25), ignore_index=2)

    def fprop(self, z, y):
        check_scores(z, "NLLLoss", "log-probabilities z")
        work, out = working(z)
        z = z.astype(work, copy=False)
        W, den = self.targets(z, y)
        return np.asarray(self.reduce(-np.add.reduce(W * z, axis=1), den), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        z, y = inputs
        work, _ = working(z)
        W, den = self.targets(z.astype(work, copy=False), y)
        return grad_in(-W * self.slopes(grad_l, len(z), den, work)[:, None], z), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l}: the same reduction of R{l_t} = -w_{y_t} R{z}_{t,y_t} (linear in z)."""
        (z, y), Rz = inputs, tangents[0]
        work, out = working(z)
        W, den = self.targets(z.astype(work, copy=False), y)
        return np.asarray(self.reduce(-np.add.reduce(W * Rz, axis=1), den), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_z} = bprop with R{grad_l} in place of grad_l (linear in z: no curvature)."""
        return self.bprop(inputs, loss, R_grad_l)

    def sample_inputs(self, rng):
        return log_softmax(rng.standard_normal((6, 5))), rng.integers(0, 5, size=6)
