"""Random draws and dropout: boxes whose randomness is a child, a random key (the value of a
:class:`~flowgraph.core.node.RandomSource` leaf, set by the Graph from the step's generator).

A drawing box is a function of its children: the same key gives the same draws,

    u = Uniform(like, key)  = the draws of numpy.random.default_rng(key), shape of like

so a run is reproducible from its seed and the checker sees one function. Dropout reads its
uniform draws and the mode as children too (inverted dropout, Srivastava et al. 2014).
"""

from __future__ import annotations

import numpy as np

from ..core.box import Box
from ..errors import ShapeError
from .common import grad_like


def float_dtype(like) -> np.dtype:
    """The dtype of the draws: like's float dtype (float32 or float64), else float64."""
    dtype = np.result_type(like)
    return dtype if dtype in (np.float32, np.float64) else np.dtype(np.float64)


def sample_key(rng: np.random.Generator) -> np.ndarray:
    """A random key as the Graph makes them (int64 entropy)."""
    return rng.integers(0, 2**62, size=3, dtype=np.int64)


class Uniform(Box):
    """Uniform draws in [0, 1) of the shape of ``like``, from the random key ``key``:

    fprop:  u = numpy.random.default_rng(key).random(shape of like)     u: like's shape
    bprop:  none: draws carry no gradient (differentiable = False)
    """

    arity = 2
    differentiable = False
    input_names = ("like", "key")

    def fprop(self, like, key):
        return np.random.default_rng(np.asarray(key)).random(np.shape(like),
                                                             dtype=float_dtype(like))

    def bprop(self, inputs, output, grad_output):
        return (None, None)

    def fprop_jvp(self, inputs, tangents, y):
        """R{u} = 0: the draws do not move with anything."""
        return np.zeros_like(y)

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        return (None, None)

    def sample_inputs(self, rng):
        return (rng.standard_normal((3, 4)), sample_key(rng))


class Normal(Uniform):
    """Standard normal draws of the shape of ``like``, from the random key ``key`` (the noise
    of the reparametrisation trick, z = mu + sigma * eps):

    fprop:  eps = numpy.random.default_rng(key).standard_normal(shape of like)
    bprop:  none: draws carry no gradient (differentiable = False)
    """

    def fprop(self, like, key):
        return np.random.default_rng(np.asarray(key)).standard_normal(
            np.shape(like), dtype=float_dtype(like))


class Dropout(Box):
    """Inverted dropout of x with probability p, given uniform draws u and the mode:

    fprop:  training:   y = x * m / (1 - p),   m = (u >= p)   (each unit kept with prob. 1 - p)
            evaluation: y = x
    bprop:  grad_x = grad_y * m / (1 - p) (training), grad_y (evaluation); grad_u = 0 (a
            step function of u); the mode gets none

    x and u have one shape; p in [0, 1) (p = 1 would drop everything and divide by zero).
    """

    arity = 3
    input_names = ("x", "u", "mode")

    def __init__(self, p: float = 0.5):
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p

    @classmethod
    def example(cls) -> Dropout:
        return cls(0.3)

    def config(self) -> dict:
        return {"p": self.p}

    def scale(self, x, u, mode):
        """m / (1 - p) in x's dtype, or None in evaluation mode."""
        if np.shape(u) != np.shape(x):
            raise ShapeError(f"Dropout: u has shape {np.shape(u)} but x has {np.shape(x)}")
        if not mode:
            return None
        dtype = np.result_type(x, u)
        return ((np.asarray(u) >= self.p) / (1.0 - self.p)).astype(dtype, copy=False)

    def fprop(self, x, u, mode):
        s = self.scale(x, u, mode)
        return np.asarray(x, dtype=np.result_type(x, u)) if s is None else x * s

    def bprop(self, inputs, y, grad_y):
        x, u, mode = inputs
        s = self.scale(x, u, mode)
        return (grad_like(grad_y if s is None else grad_y * s, x), np.zeros_like(u), None)

    def bprop_needed(self, inputs, y, grad_y, needs):
        """grad_u (zeros) only when asked: u comes from draws, never a parameter."""
        x, u, mode = inputs
        s = self.scale(x, u, mode)
        gx = grad_like(grad_y if s is None else grad_y * s, x) if needs[0] else None
        return (gx, np.zeros_like(u) if needs[1] else None, None)

    def fprop_jvp(self, inputs, tangents, y):
        """R{y} = R{x} m / (1 - p) (training), R{x} (evaluation): linear in x."""
        return self.fprop(tangents[0], inputs[1], inputs[2])

    def bprop_jvp(self, inputs, tangents, y, Ry, grad_y, R_grad_y):
        """R{grad_x} = R{grad_y} m / (1 - p): linear in grad_y."""
        return self.bprop(inputs, y, R_grad_y)

    def sample_inputs(self, rng):
        # draws kept away from p, where the mask would jump under the checker's steps
        u = rng.uniform(0, 1, (4, 5))
        u = np.where(np.abs(u - self.p) < 0.05, u + 0.1, u)
        return (rng.standard_normal((4, 5)), u, np.True_)

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
