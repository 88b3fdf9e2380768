"""The output non-linearity o(a) = softmax(a) and the loss l(f(x), y) = -log f(x)_y."""

from __future__ import annotations

import numpy as np

from ..errors import LabelError, ShapeError
from .base import Box


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


def softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax(a)_c = exp(a_c) / sum_c' exp(a_c'), stable: the row max is subtracted."""
    # the ufuncs' reduce: a.max and a.sum, without the methods' Python-level wrappers
    e = a - np.maximum.reduce(a, axis=-1, keepdims=True)
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    return e


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
        return np.asarray(-np.log(f[np.arange(n), y]).mean(), dtype=f.dtype)

    def bprop(self, inputs, loss, grad_loss):
        f, y = inputs
        n = f.shape[0]
        rows = np.arange(n)
        grad_f = np.zeros_like(f)
        grad_f[rows, y] = -grad_loss / (f[rows, y] * n)
        return grad_f, None

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
    """

    arity = 2
    input_names = ("a", "y")

    def fprop(self, a, y):
        _check_scores(a, "SoftmaxCrossEntropy", "a")
        n = a.shape[0]
        _check_labels(y, n, a.shape[1], "SoftmaxCrossEntropy")
        # np.add.reduce is a.sum without the method's Python-level wrapper (which costs more
        # than the work at N = 1); the mean is sum / N
        top = _label_entries(a.argmax(axis=1))  # (t, k_t): each row's largest score
        m = a[top]
        e = a - (m[:, None] if n > 1 else m)
        np.exp(e, out=e)
        e[top] = 0  # exp(a_k - m) = 1 is the "1 +" of log1p
        per_example = np.log1p(np.add.reduce(e, axis=1)) + (m - a[_label_entries(y)])
        return np.asarray(np.add.reduce(per_example) / n, dtype=a.dtype)

    def bprop(self, inputs, loss, grad_loss):
        a, y = inputs
        n = a.shape[0]
        grad_a = softmax(a)  # f(x)
        grad_a[_label_entries(y)] -= 1  # f(x) - e(y)
        grad_a *= grad_loss / n
        return grad_a, None

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 5)), rng.integers(0, 5, size=4)
