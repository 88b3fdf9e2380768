"""Models that several test files use (the tests folder is on sys.path: ``from helper_models
import linear_regression``; ``--boxes helper_models:HalfSquaredError`` on the command line)."""

from __future__ import annotations

import numpy as np

import flowgraph as fg


class HalfSquaredError(fg.Box):
    """l = 1/N sum_t ||f_t - t_t||^2 / 2; grad_f = (f - t) / N, grad_t = -(f - t) / N."""

    arity = 2
    input_names = ("f", "t")

    def fprop(self, f, t):
        return np.asarray(0.5 * np.sum((f - t) ** 2) / len(f), dtype=f.dtype)

    def bprop(self, inputs, loss, grad_loss):
        f, t = inputs
        grad_f = grad_loss * (f - t) / len(f)
        return grad_f, -grad_f

    def sample_inputs(self, rng):
        return rng.standard_normal((4, 2)), rng.standard_normal((4, 2))


def linear_regression(d: int = 3, dtype=np.float64) -> fg.Model:
    """f = W x + b (W of shape (1, d)) under the user box HalfSquaredError: a Model that is
    not an MLP and that needs ``boxes=`` to load."""
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(np.zeros((1, d), dtype=dtype), "W")
    b = fg.Parameter(np.zeros(1, dtype=dtype), "b")
    f = fg.Linear()(x, W, b, name="f")
    return fg.Model(loss=HalfSquaredError()(f, t, name="loss"), output=f)
