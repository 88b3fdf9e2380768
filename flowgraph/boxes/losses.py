"""The output non-linearity o(a) = softmax(a) and the loss l(f(x), y) = -log f(x)_y."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import LabelError, ShapeError


def _check_labels(y: np.ndarray, n: int, n_classes: int, box: str) -> None:
    dtype = y.dtype if isinstance(y, np.ndarray) else np.asarray(y).dtype
    if dtype.kind not in "iu":  # signed or unsigned integers (np.issubdtype, but cheaper)
        raise LabelError(
            f"{box}: labels y must be integers in [0, {n_classes}), got dtype "
            f"{np.asarray(y).dtype} (convert with y.astype(int))"
        )
    if np.ndim(y) != 1 or len(y) != n:
        raise ShapeError(f"{box}: labels y must have shape ({n},), got {np.shape(y)}")
    if not n:
        return
    lo, hi = (y[0], y[0]) if n == 1 else (y.min(), y.max())  # one label: no reductions needed
    if lo < 0 or hi >= n_classes:
        bad = y[(y < 0) | (y >= n_classes)]
        raise LabelError(
            f"{box}: labels must lie in [0, {n_classes}) for {n_classes} classes; "
            f"found {bad[:5].tolist()}"
        )


def _label_entries(y: np.ndarray) -> tuple:
    """The entries (t, y_t), one per row t: ``a[_label_entries(y)]`` is each example's score
    for its label. One example (per-example SGD) gets plain integers: no fancy indexing."""
    if len(y) == 1:
        return 0, int(y[0])
    return np.arange(len(y)), y


def _check_scores(a: np.ndarray, box: str, what: str) -> None:
    if np.ndim(a) != 2:
        raise ShapeError(f"{box}: {what} must have shape (N, C), got {np.shape(a)}")


def _working(*xs: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """(the dtype a loss computes in, the dtype it returns) for inputs ``xs``: it returns the
    promoted float dtype of its inputs (NumPy rules; integers make float64) and computes in
    it, but float16 in float32: a float16 sum of N terms overflows past 65,504 and N itself is
    inf in float16 from N = 65,520 (the mean was then 0 or NaN), so the sum and the 1/N are
    taken in float32 and the result rounded once."""
    dtype = getattr(xs[0], "dtype", None)
    if len(xs) == 1 and dtype is not None and dtype.kind == "f" and dtype.itemsize >= 4:
        return dtype, dtype  # float32, float64: the per-example fast path
    out = np.result_type(*(np.asarray(x).dtype for x in xs))
    if out.kind != "f":
        out = np.dtype(np.float64)
    return np.promote_types(out, np.float32), out


def _grad_in(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A gradient as the gradient of input x: in x's dtype when x is a float array (float16
    logits get a float16 gradient, computed in float32), else as computed."""
    dtype = np.asarray(x).dtype
    return g.astype(dtype, copy=False) if dtype.kind == "f" else g


def softmax(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax(a)_c = exp(a_c) / sum_c' exp(a_c'), stable: the row max is subtracted
    (written into ``out`` when given, an array of a's shape and dtype)."""
    # the ufuncs' reduce: a.max and a.sum, without the methods' Python-level wrappers
    e = np.subtract(a, np.maximum.reduce(a, axis=-1, keepdims=True), out=out)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    return e


def softmax_jvp(f: np.ndarray, Ra: np.ndarray) -> np.ndarray:
    """R{f} for f = softmax(a), row by row: (diag(f) - f f^T) R{a} = f ⊙ (R{a} - <f, R{a}>)."""
    return f * (Ra - (f * Ra).sum(axis=-1, keepdims=True))


class Softmax(Box):
    """Output activation o(a) = softmax(a), row by row.

    fprop:  f(x)_c = exp(a_c) / sum_c' exp(a_c')        a, f: (N, C); stable for a ~ 1e4
    bprop:  the Jacobian is diag(f) - f f^T, so
            grad_a = f ⊙ (grad_f - <grad_f, f>)         (the inner product taken per row)
    """

    input_names = ("a",)

    def fprop(self, a):
        _check_scores(a, "Softmax", "a")
        return softmax(a)

    def bprop(self, inputs, f, grad_f):
        return (f * (grad_f - (grad_f * f).sum(axis=-1, keepdims=True)),)

    def fprop_jvp(self, inputs, tangents, f):
        """R{f} = (diag(f) - f f^T) R{a}, per row."""
        return softmax_jvp(f, tangents[0])

    def bprop_jvp(self, inputs, tangents, f, Rf, grad_f, Rgrad_f):
        """R{grad_a} = R{f} ⊙ (grad_f - s) + f ⊙ (R{grad_f} - R{s}), s = <grad_f, f> per row."""
        s = (grad_f * f).sum(axis=-1, keepdims=True)
        Rs = (Rgrad_f * f + grad_f * Rf).sum(axis=-1, keepdims=True)
        return (Rf * (grad_f - s) + f * (Rgrad_f - Rs),)

    def sample_inputs(self, rng):
        return (rng.standard_normal((4, 5)),)


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
        _check_scores(f, "CrossEntropy", "probabilities f")
        n = f.shape[0]
        _check_labels(y, n, f.shape[1], "CrossEntropy")
        work, out = _working(f)
        fy = f[np.arange(n), y].astype(work)
        return np.asarray(-np.log(fy).mean(), dtype=out)

    def bprop(self, inputs, loss, grad_loss):
        f, y = inputs
        n = f.shape[0]
        rows = np.arange(n)
        work, out = _working(f)
        grad_f = np.zeros(f.shape, dtype=out)
        grad_f[rows, y] = -np.asarray(grad_loss, dtype=work) / (f[rows, y].astype(work) * n)
        return grad_f, None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N sum_t -R{f}_{t,y_t} / f_{t,y_t}."""
        (f, y), Rf = inputs, tangents[0]
        rows = np.arange(f.shape[0])
        work, out = _working(f)
        return np.asarray(-(Rf[rows, y].astype(work) / f[rows, y]).mean(), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, Rloss, grad_loss, Rgrad_loss):
        """R{grad_f}_{t,y_t} = (-R{grad_l} / f_{t,y_t} + grad_l R{f}_{t,y_t} / f_{t,y_t}^2) / N."""
        (f, y), Rf = inputs, tangents[0]
        n = f.shape[0]
        rows = np.arange(n)
        work, out = _working(f)
        fy, Rfy = f[rows, y].astype(work), Rf[rows, y].astype(work)
        grad_loss, Rgrad_loss = np.asarray(grad_loss, work), np.asarray(Rgrad_loss, work)
        Rgrad_f = np.zeros(np.shape(f), dtype=out)
        Rgrad_f[rows, y] = (-Rgrad_loss / fy + grad_loss * Rfy / (fy * fy)) / n
        return Rgrad_f, None

    def sample_inputs(self, rng):
        f = softmax(rng.standard_normal((4, 5)))
        return f, rng.integers(0, 5, size=4)


class SoftmaxCrossEntropy(Box):
    """Softmax and cross-entropy fused: the loss straight from the output pre-activation.

    Children ``(a, y)``: a = a(L+1)(x) of shape (N, C), y integer labels of shape (N,).

    fprop:  l = 1/N sum_t -log softmax(a_t)_{y_t}
              = 1/N sum_t (m_t - a_{t,y_t}) + log(1 + sum_{c != k_t} exp(a_tc - m_t))
            with k_t the row's largest score and m_t = a_{t,k_t}: no exp overflows, and
            log1p keeps full relative precision when the label wins by a wide margin
            (the loss is then log(1 + sum_{c != y} exp(a_c - a_y)), as small as 1e-300)
    bprop:  grad_a = -(e(y) - f(x)) / N,  f(x) = softmax(a)     (the lecture's output
            gradient, averaged over the batch); y gets no gradient (None)

    ``bprop(..., out=(grad_a, None))`` writes grad_a into a step plan's buffer
    (:mod:`flowgraph.core.plan`), the same operations in place.
    """

    arity = 2
    input_names = ("a", "y")

    code_fprop = "{out} = mean(log(sum(exp({0}), axis=1)) - {0}[range(N), {1}])"
    code_bprop = ("softmax({0}, out={gx}); {gx}[range(N), {1}] -= 1; {gx} *= {g} / N",)

    def fprop(self, a, y):
        _check_scores(a, "SoftmaxCrossEntropy", "a")
        n = a.shape[0]
        _check_labels(y, n, a.shape[1], "SoftmaxCrossEntropy")
        work, out = _working(a)
        a = a.astype(work, copy=False)
        # np.add.reduce is a.sum without the method's Python-level wrapper (which costs more
        # than the work at N = 1); the mean is sum / N
        top = _label_entries(a.argmax(axis=1))  # (t, k_t): each row's largest score
        m = a[top]
        e = a - (m[:, None] if n > 1 else m)
        np.exp(e, out=e)
        e[top] = 0  # exp(a_k - m) = 1 is the "1 +" of log1p
        per_example = np.log1p(np.add.reduce(e, axis=1)) + (m - a[_label_entries(y)])
        return np.asarray(np.add.reduce(per_example) / n, dtype=out)

    def bprop(self, inputs, loss, grad_loss, out=None):
        a, y = inputs
        n = a.shape[0]
        work, dtype = _working(a)
        buf = out[0] if out is not None and a.dtype == work == dtype else None
        grad_a = softmax(a.astype(work, copy=False), out=buf)  # f(x), fresh or the plan's
        grad_a[_label_entries(y)] -= 1  # f(x) - e(y)
        grad_a *= np.asarray(grad_loss, dtype=work) / n
        return _grad_in(grad_a, a), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = <grad_a l, R{a}> = 1/N sum_t (f(x_t) - e(y_t))^T R{a_t}."""
        (a, y), Ra = inputs, tangents[0]
        work, out = _working(a)
        f_minus_e = softmax(a.astype(work, copy=False))
        f_minus_e[_label_entries(y)] -= 1
        return np.asarray((f_minus_e * Ra).sum() / a.shape[0], dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, Rloss, grad_loss, Rgrad_loss):
        """R{grad_a} = (R{f} grad_l + (f - e(y)) R{grad_l}) / N,  R{f} = (diag(f) - f f^T) R{a}."""
        (a, y), Ra = inputs, tangents[0]
        n = a.shape[0]
        work, out = _working(a)
        f = softmax(a.astype(work, copy=False))
        Rf = softmax_jvp(f, Ra.astype(work, copy=False))
        f[_label_entries(y)] -= 1  # f - e(y)
        grad_loss, Rgrad_loss = np.asarray(grad_loss, work), np.asarray(Rgrad_loss, work)
        return _grad_in((Rf * grad_loss + f * Rgrad_loss) / n, a), None

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 5)), rng.integers(0, 5, size=4)


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
        work, out = _working(f, t)
        e = np.subtract(f, t, dtype=work)
        return np.asarray(np.vdot(e, e) / (2 * len(f)), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        f, t = inputs
        work, _ = _working(f, t)
        grad_f = np.subtract(f, t, dtype=work) * (np.asarray(grad_l, work) / len(f))
        return _grad_in(grad_f, f), _grad_in(-grad_f, t)

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <f - t, R{f} - R{t}>."""
        (f, t), (Rf, Rt) = inputs, tangents
        work, out = _working(f, t)
        e, Re = np.subtract(f, t, dtype=work), np.subtract(Rf, Rt, dtype=work)
        return np.asarray(np.vdot(e, Re) / len(f), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_f} = ((R{f} - R{t}) grad_l + (f - t) R{grad_l}) / N = -R{grad_t}."""
        (f, t), (Rf, Rt) = inputs, tangents
        work, _ = _working(f, t)
        e, Re = np.subtract(f, t, dtype=work), np.subtract(Rf, Rt, dtype=work)
        R_grad_f = (Re * np.asarray(grad_l, work) + e * np.asarray(R_grad_l, work)) / len(f)
        return _grad_in(R_grad_f, f), _grad_in(-R_grad_f, t)

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


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
    """

    arity = 2
    input_names = ("a", "y")

    def fprop(self, a, y):
        _check_binary(a, y, "SigmoidCrossEntropy")
        work, out = _working(a)
        a = a.astype(work, copy=False)
        softplus = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))
        return np.asarray(np.sum(softplus - y.astype(work) * a) / len(a), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        a, y = inputs
        work, _ = _working(a)
        s = _sigmoid(a.astype(work, copy=False))
        return _grad_in((s - y.astype(work)) * (np.asarray(grad_l, work) / len(a)), a), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <sigm(a) - y, R{a}>."""
        (a, y), Ra = inputs, tangents[0]
        work, out = _working(a)
        s = _sigmoid(a.astype(work, copy=False))
        return np.asarray(np.vdot(s - y, Ra.astype(work, copy=False)) / len(a), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_a} = (sigm(a)(1 - sigm(a)) R{a} grad_l + (sigm(a) - y) R{grad_l}) / N."""
        (a, y), Ra = inputs, tangents[0]
        work, _ = _working(a)
        s = _sigmoid(a.astype(work, copy=False))
        grad_l, R_grad_l = np.asarray(grad_l, work), np.asarray(R_grad_l, work)
        R_grad_a = (s * (1 - s) * Ra * grad_l + (s - y) * R_grad_l) / len(a)
        return _grad_in(R_grad_a, a), None

    def sample_inputs(self, rng):
        return 2 * rng.standard_normal(6), rng.integers(0, 2, size=6)


class Hinge(Box):
    """Multi-class hinge loss of Crammer and Singer: a convex surrogate that upper-bounds the
    classification error (a misclassified example has margin loss at least 1).

    Children ``(a, y)``: scores a of shape (N, C), integer labels y of shape (N,).

    fprop:  l = 1/N sum_t max(0, 1 + max_{c != y_t} a_tc - a_{t,y_t})       scalar
    bprop:  for each t with a positive hinge, c* = argmax_{c != y_t} a_tc:
            grad_a_{t,c*} = 1/N,  grad_a_{t,y_t} = -1/N, all else 0 (kinks where the hinge is 0
            or two rivals tie); y gets no gradient (None)
    """

    arity = 2
    input_names = ("a", "y")

    def _slopes(self, a, y):
        """The (N, C) matrix d l / d a (times N): +1 at the best rival, -1 at the label,
        on the rows whose hinge is positive; and the hinge of each row."""
        rows = np.arange(len(a))
        rivals = np.array(a, copy=True)
        rivals[rows, y] = -np.inf
        c_star = np.argmax(rivals, axis=1)
        hinge = np.maximum(0, 1 + rivals[rows, c_star] - a[rows, y])
        D = np.zeros_like(a)
        active = hinge > 0
        D[rows[active], c_star[active]] = 1
        D[rows[active], y[active]] = -1
        return D, hinge

    def fprop(self, a, y):
        _check_scores(a, "Hinge", "scores a")
        _check_labels(y, a.shape[0], a.shape[1], "Hinge")
        if a.shape[1] < 2:
            raise ShapeError(f"Hinge needs at least 2 classes, got scores of shape {a.shape}")
        work, out = _working(a)
        hinge = self._slopes(a.astype(work, copy=False), y)[1]
        return np.asarray(np.sum(hinge) / len(a), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        a, y = inputs
        work, _ = _working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return _grad_in(D * (np.asarray(grad_l, work) / len(a)), a), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <D, R{a}>, D the slopes of bprop."""
        (a, y), Ra = inputs, tangents[0]
        work, out = _working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return np.asarray(np.vdot(D, Ra.astype(work, copy=False)) / len(a), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_a} = D R{grad_l} / N (piecewise linear: no curvature)."""
        a, y = inputs  # piecewise linear: only grad_l moves
        work, _ = _working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return _grad_in(D * (np.asarray(R_grad_l, work) / len(a)), a), None

    def sample_inputs(self, rng):
        n, c = 6, 4
        # scores 1.3 apart (plus noise): hinges are 1 + 1.3 k, never within 0.1 of the kink
        a = 1.3 * np.array([rng.permutation(c) for _ in range(n)])
        a += rng.uniform(-0.04, 0.04, (n, c))
        y = rng.integers(0, c, size=n)
        y[::2] = np.argmax(a[::2], axis=1)  # some rows right by a margin: a zero hinge
        return a, y
