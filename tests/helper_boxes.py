"""Boxes that several test files use (the tests folder is on sys.path: ``from helper_boxes
import Cube``)."""

from __future__ import annotations

import flowgraph as fg


class Cube(fg.Box):
    """fprop: y = x^3;  bprop: grad_x = 3 x^2 grad_y. No forward-mode rules."""

    def fprop(self, x):
        return x**3

    def bprop(self, inputs, y, grad_y):
        return (3 * inputs[0] ** 2 * grad_y,)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 2)),)
