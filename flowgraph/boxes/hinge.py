"""The multi-class hinge loss of Crammer and Singer, from scores and integer labels."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import LabelError, ShapeError


def _check(a: np.ndarray, y: np.ndarray) -> None:
    """Scores (N, C) with C >= 2 and integer labels (N,) in [0, C)."""
    if np.ndim(a) != 2:
        raise ShapeError(f"Hinge: scores a must have shape (N, C), got {np.shape(a)}")
    n, n_classes = a.shape
    if np.asarray(y).dtype.kind not in "iu":
        raise LabelError(
            f"Hinge: labels y must be integers in [0, {n_classes}), got dtype "
            f"{np.asarray(y).dtype} (convert with y.astype(int))"
        )
    if np.ndim(y) != 1 or len(y) != n:
        raise ShapeError(f"Hinge: labels y must have shape ({n},), got {np.shape(y)}")
    bad = y[(y < 0) | (y >= n_classes)]
    if bad.size:
        raise LabelError(
            f"Hinge: labels must lie in [0, {n_classes}) for {n_classes} classes; "
            f"found {bad[:5].tolist()}"
        )


def _working(a: np.ndarray) -> tuple[np.dtype, np.dtype]:
    """(the dtype the loss computes in, the dtype it returns): a's float dtype (float64 for
    integers), float16 computed in float32 (as the other losses do)."""
    out = np.asarray(a).dtype
    out = out if out.kind == "f" else np.dtype(np.float64)
    return np.promote_types(out, np.float32), out


def _grad_in(g: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A gradient in the dtype of x when x is a float array."""
    dtype = np.asarray(x).dtype
    return g.astype(dtype, copy=False) if dtype.kind == "f" else g


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
        _check(a, y)
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
