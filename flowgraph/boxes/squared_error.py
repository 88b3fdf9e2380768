"""The regression loss, for the playground's second problem type.

(The box library of issue 11 brings the same box into losses.py; once it is there this file
goes and ``flowgraph.playground.network`` imports that one.)
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .base import Box


class SquaredError(Box):
    """Half the squared error, averaged over the batch, for predictions f and targets t.

    fprop:  l = 1/N sum_t ||f_t - t_t||^2 / 2                  f, t: (N, K) -> scalar
    bprop:  grad_f = (f - t) grad_l / N,   grad_t = -grad_f
    """

    arity = 2
    input_names = ("f", "t")

    def fprop(self, f, t):
        if np.shape(f) != np.shape(t) or np.ndim(f) == 0:
            raise ShapeError(
                f"SquaredError needs predictions f and targets t of one shape (N, ...), got "
                f"f {np.shape(f)} and t {np.shape(t)}"
            )
        r = f - t
        return np.asarray(np.vdot(r, r) / (2 * len(f)), dtype=r.dtype)

    def bprop(self, inputs, loss, grad_l):
        f, t = inputs
        grad_f = (f - t) * (grad_l / len(f))
        return grad_f, -grad_f

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 2)), rng.standard_normal((4, 2))
