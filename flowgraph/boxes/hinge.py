"""The multi-class hinge loss of Crammer and Singer, from scores and integer labels."""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import check_labels, check_scores, grad_in, working


def _check(a: np.ndarray, y: np.ndarray) -> None:
    """Scores (N, C) and integer labels (N,) in [0, C)."""
    check_scores(a, "Hinge", "scores a")
    check_labels(y, a.shape[0], a.shape[1], "Hinge")


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
        work, out = working(a)
        hinge = self._slopes(a.astype(work, copy=False), y)[1]
        return np.asarray(np.sum(hinge) / len(a), dtype=out)

    def bprop(self, inputs, loss, grad_l):
        a, y = inputs
        work, _ = working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return grad_in(D * (np.asarray(grad_l, work) / len(a)), a), None

    def fprop_jvp(self, inputs, tangents, loss):
        """R{l} = 1/N <D, R{a}>, D the slopes of bprop."""
        (a, y), Ra = inputs, tangents[0]
        work, out = working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return np.asarray(np.vdot(D, Ra.astype(work, copy=False)) / len(a), dtype=out)

    def bprop_jvp(self, inputs, tangents, loss, R_loss, grad_l, R_grad_l):
        """R{grad_a} = D R{grad_l} / N (piecewise linear: no curvature)."""
        a, y = inputs  # piecewise linear: only grad_l moves
        work, _ = working(a)
        D = self._slopes(a.astype(work, copy=False), y)[0]
        return grad_in(D * (np.asarray(R_grad_l, work) / len(a)), a), None

    def sample_inputs(self, rng):
        n, c = 6, 4
        # scores 1.3 apart (plus noise): hinges are 1 + 1.3 k, never within 0.1 of the kink
        a = 1.3 * np.array([rng.permutation(c) for _ in range(n)])
        a += rng.uniform(-0.04, 0.04, (n, c))
        y = rng.integers(0, c, size=n)
        y[::2] = np.argmax(a[::2], axis=1)  # some rows right by a margin: a zero hinge
        return a, y
