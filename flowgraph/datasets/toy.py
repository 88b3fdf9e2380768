"""Two-dimensional classification sets, for pictures of decision boundaries.

Each ``make_*`` returns ``(X, y)``: ``X`` of shape (N, 2), float64, and ``y`` of shape (N,),
int64 labels in [0, C). Classes are as balanced as N allows (sizes differ by at most one),
the rows come in a random order, and ``noise`` is the standard deviation of Gaussian noise
added to each coordinate. ``seed`` is a non-negative int or a ``numpy.random.Generator``: the
same seed gives the same arrays, bit for bit.

A linear classifier, f(x) = softmax(b + W x), separates none of them except blobs; one hidden
layer, h(1) = g(b(1) + W(1) x), bends the boundary enough for all of them.
"""

from __future__ import annotations

import math

import numpy as np

from .base import DatasetError, Seed, as_rng, check_float, check_int, class_counts

__all__ = ["make_moons", "make_circles", "make_spirals", "make_xor", "make_blobs"]

Data = tuple[np.ndarray, np.ndarray]


def _finish(parts: list[np.ndarray], counts: np.ndarray, noise: float, rng) -> Data:
    """Stack the per-class points, add noise, shuffle the rows."""
    X = np.concatenate(parts).astype(np.float64, copy=False)
    y = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    if noise > 0:
        X = X + rng.normal(0.0, noise, size=X.shape)
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), y[order]


def make_moons(n_samples: int = 200, *, noise: float = 0.1, seed: Seed = 0) -> Data:
    """Two interleaving half circles.

    Class 0: (cos t, sin t); class 1: (1 - cos t, 1/2 - sin t); t ~ U[0, pi] for each point.
    """
    n = check_int("n_samples", n_samples, minimum=2)
    noise = check_float("noise", noise, low=0.0)
    rng = as_rng(seed)
    counts = class_counts(n, 2)
    t0, t1 = rng.uniform(0.0, math.pi, counts[0]), rng.uniform(0.0, math.pi, counts[1])
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    return _finish([upper, lower], counts, noise, rng)


def make_circles(
    n_samples: int = 200, *, noise: float = 0.05, factor: float = 0.5, seed: Seed = 0
) -> Data:
    """Two concentric circles: class 0 of radius 1, class 1 of radius ``factor`` in (0, 1).

    Each point is r (cos t, sin t) with t ~ U[0, 2 pi).
    """
    n = check_int("n_samples", n_samples, minimum=2)
    noise = check_float("noise", noise, low=0.0)
    factor = check_float("factor", factor, low=0.0, high=1.0, low_open=True, high_open=True)
    rng = as_rng(seed)
    counts = class_counts(n, 2)
    parts = []
    for radius, m in zip((1.0, factor), counts):
        t = rng.uniform(0.0, 2.0 * math.pi, m)
        parts.append(radius * np.column_stack([np.cos(t), np.sin(t)]))
    return _finish(parts, counts, noise, rng)


def make_spirals(
    n_samples: int = 300,
    *,
    n_classes: int = 2,
    noise: float = 0.05,
    turns: float = 1.0,
    seed: Seed = 0,
) -> Data:
    """``n_classes`` interleaved spiral arms around the origin.

    Arm k is r (cos theta, sin theta) with r ~ U[0, 1] and
    theta = 2 pi (turns * r + k / n_classes): the arms start at the centre, are rotated from one
    another by a fraction 1 / n_classes of a full turn, and wind ``turns`` times round.
    """
    n_classes = check_int("n_classes", n_classes, minimum=1)
    n = check_int("n_samples", n_samples, minimum=n_classes)
    noise = check_float("noise", noise, low=0.0)
    turns = check_float("turns", turns, low=0.0, low_open=True)
    rng = as_rng(seed)
    counts = class_counts(n, n_classes)
    parts = []
    for k, m in enumerate(counts):
        r = rng.uniform(0.0, 1.0, m)
        theta = 2.0 * math.pi * (turns * r + k / n_classes)
        parts.append(r[:, None] * np.column_stack([np.cos(theta), np.sin(theta)]))
    return _finish(parts, counts, noise, rng)


def make_xor(n_samples: int = 200, *, noise: float = 0.1, seed: Seed = 0) -> Data:
    """The XOR problem: points uniform in the square [-1, 1]^2, class 1 where x1 x2 < 0.

    Each class fills its two opposite quadrants (chosen at random per point); noise is added
    after labelling, so with noise > 0 some points cross the axes.
    """
    n = check_int("n_samples", n_samples, minimum=2)
    noise = check_float("noise", noise, low=0.0)
    rng = as_rng(seed)
    counts = class_counts(n, 2)
    parts = []
    for label, m in enumerate(counts):
        magnitude = rng.uniform(0.0, 1.0, (m, 2))
        s1 = rng.choice([-1.0, 1.0], m)
        s2 = s1 if label == 0 else -s1  # class 0: same signs (x1 x2 > 0), class 1: opposite
        parts.append(magnitude * np.column_stack([s1, s2]))
    return _finish(parts, counts, noise, rng)


def make_blobs(
    n_samples: int = 300,
    *,
    n_classes: int | None = None,
    centers: np.ndarray | None = None,
    noise: float = 0.5,
    radius: float = 2.0,
    seed: Seed = 0,
) -> Data:
    """Isotropic Gaussian blobs: class k is N(c_k, noise^2 I).

    ``centers`` is a (C, 2) array of the means c_k; without it the C = ``n_classes``
    (default 3) centres sit evenly on a circle of the given ``radius``,
    c_k = radius (cos 2 pi k / C, sin 2 pi k / C). Give one of the two, or both if they agree.
    """
    noise = check_float("noise", noise, low=0.0)
    if centers is None:
        C = 3 if n_classes is None else check_int("n_classes", n_classes, minimum=1)
        radius = check_float("radius", radius, low=0.0, low_open=True)
        angle = 2.0 * math.pi * np.arange(C) / C
        c = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    else:
        c = np.asarray(centers, dtype=np.float64)
        if c.ndim != 2 or c.shape[1] != 2 or c.shape[0] < 1:
            raise DatasetError(f"centers must be an array of shape (C, 2), got shape {c.shape}")
        if not np.all(np.isfinite(c)):
            raise DatasetError("centers must be finite numbers")
        C = c.shape[0]
        if n_classes is not None and check_int("n_classes", n_classes, minimum=1) != C:
            raise DatasetError(f"n_classes={n_classes} disagrees with {C} centers")
    n = check_int("n_samples", n_samples, minimum=C)
    rng = as_rng(seed)
    counts = class_counts(n, C)
    parts = [np.broadcast_to(c[k], (m, 2)) for k, m in enumerate(counts)]
    return _finish(parts, counts, noise, rng)
