"""Parameter initialisation.

The lecture's recipe: biases start at 0; weights W(k)_ij ~ U[-b, b] with
b = sqrt(6) / sqrt(H_k + H_{k-1}) (Glorot and Bengio, 2010) — small, centred on 0, and
different from one another. Zeros (with tanh) or one shared constant are kept here on purpose:
they fail by symmetry (all gradients 0 at a saddle point, or hidden units that stay identical),
and the notebooks show it.

Every initialiser takes ``shape`` = (H_k, H_{k-1}) for a weight (or (H_k,) for a bias), a seed
or ``numpy.random.Generator`` as ``rng``, and the float ``dtype``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["glorot_uniform", "normal", "constant", "zeros", "as_generator", "get"]

Shape = tuple[int, ...]


def as_generator(rng: int | np.random.Generator | None) -> np.random.Generator:
    """A Generator from a seed (``None`` means fresh entropy; pass a seed to reproduce)."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is not None and not isinstance(rng, (int, np.integer)):
        raise TypeError(f"rng must be an int seed or a numpy Generator, got {type(rng).__name__}")
    return np.random.default_rng(rng)


def glorot_uniform(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, dtype=np.float32
) -> np.ndarray:
    """W_ij ~ U[-b, b], b = sqrt(6) / sqrt(H_k + H_{k-1}) for W of shape (H_k, H_{k-1})."""
    if len(shape) != 2:
        raise ValueError(f"glorot_uniform needs a weight shape (H_k, H_k-1), got {shape}")
    b = np.sqrt(6.0) / np.sqrt(shape[0] + shape[1])
    return as_generator(rng).uniform(-b, b, size=shape).astype(dtype)


def normal(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, std: float = 0.01, dtype=np.float32
) -> np.ndarray:
    """W_ij ~ N(0, std^2)."""
    return (std * as_generator(rng).standard_normal(shape)).astype(dtype)


def constant(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, value: float = 0.1, dtype=np.float32
) -> np.ndarray:
    """Every entry equal to ``value``: hidden units of a layer stay identical (symmetry)."""
    return np.full(shape, value, dtype=dtype)


def zeros(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, dtype=np.float32
) -> np.ndarray:
    """All zeros: right for biases; for tanh weights every gradient is 0 (a saddle point)."""
    return np.zeros(shape, dtype=dtype)


_BY_NAME: dict[str, Callable[..., np.ndarray]] = {
    "glorot_uniform": glorot_uniform,
    "glorot": glorot_uniform,
    "normal": normal,
    "constant": constant,
    "zeros": zeros,
}


def get(init: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """An initialiser by name (glorot_uniform, normal, constant, zeros) or the callable itself."""
    if callable(init):
        return init
    try:
        return _BY_NAME[init]
    except KeyError:
        raise ValueError(
            f"unknown initialiser {init!r}; choose one of {sorted(_BY_NAME)} or pass a callable"
        ) from None
