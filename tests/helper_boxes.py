"""Boxes, and a check of boxes, that several test files use (the tests folder is on sys.path:
``from helper_boxes import Cube``)."""

from __future__ import annotations

import numpy as np

import flowgraph as fg


class Cube(fg.Box):
    """fprop: y = x^3;  bprop: grad_x = 3 x^2 grad_y. No forward-mode rules."""

    def fprop(self, x):
        return x**3

    def bprop(self, inputs, y, grad_y):
        return (3 * inputs[0] ** 2 * grad_y,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 2)),)


def _float(x) -> bool:
    return isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)


def check_jvp(box, inputs, rng, eps=1e-6):
    """fprop_jvp against (fprop(x + eps t) - fprop(x - eps t)) / 2 eps, and bprop_jvp
    against the same central difference of bprop along (t, R grad_output)."""
    xs = [np.asarray(x, dtype=np.float64) if _float(np.asarray(x)) else x for x in inputs]
    ts = [rng.standard_normal(np.shape(x)) if _float(x) else np.zeros(np.shape(x)) for x in xs]
    out = np.asarray(box.fprop(*xs))
    g, Rg = rng.standard_normal(out.shape), rng.standard_normal(out.shape)

    def moved(s):
        return [x + s * eps * t if _float(x) else x for x, t in zip(xs, ts)]

    R_out = box.fprop_jvp(xs, ts, out)
    numeric = (np.asarray(box.fprop(*moved(1))) - np.asarray(box.fprop(*moved(-1)))) / (2 * eps)
    np.testing.assert_allclose(R_out, numeric, rtol=1e-6, atol=1e-7, err_msg=f"{box} fprop_jvp")
    assert np.shape(R_out) == out.shape

    R_grads = box.bprop_jvp(xs, ts, out, R_out, g, Rg)
    plus = box.bprop(moved(1), np.asarray(box.fprop(*moved(1))), g + eps * Rg)
    minus = box.bprop(moved(-1), np.asarray(box.fprop(*moved(-1))), g - eps * Rg)
    assert len(R_grads) == len(xs)
    for i, (r, p, m) in enumerate(zip(R_grads, plus, minus)):
        if p is None:
            assert r is None, f"{box}: bprop gives input {i} no gradient, bprop_jvp must not"
            continue
        np.testing.assert_allclose(
            r, (p - m) / (2 * eps), rtol=1e-6, atol=1e-7, err_msg=f"{box} bprop_jvp input {i}"
        )
