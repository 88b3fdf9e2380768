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

__all__ = [
    "glorot_uniform", "normal", "constant", "zeros", "as_generator", "get", "kaiming_uniform",
    "kaiming_normal", "gain", "fans",
]  # fmt: skip

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


def fans(shape: Shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight as torch counts them: (out, in, *kernel) has fan_in =
    in * prod(kernel) and fan_out = out * prod(kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fan_in and fan_out need a weight of at least 2 axes, got {shape}")
    field = int(np.prod(shape[2:], dtype=np.int64)) if len(shape) > 2 else 1
    return shape[1] * field, shape[0] * field


def gain(nonlinearity: str = "leaky_relu", a: float = 0.0) -> float:
    """The gain of ``torch.nn.init.calculate_gain``: 1 (linear, sigmoid), 5/3 (tanh),
    sqrt(2) (relu), sqrt(2 / (1 + a^2)) (leaky_relu with slope a)."""
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": np.sqrt(2.0),
             "leaky_relu": float(np.sqrt(2.0 / (1 + a * a)))}
    if nonlinearity not in gains:
        raise ValueError(f"unknown nonlinearity {nonlinearity!r}; choose one of {sorted(gains)}")
    return float(gains[nonlinearity])


def _kaiming_std(shape, a, mode, nonlinearity) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fans(shape)[0 if mode == "fan_in" else 1]
    return gain(nonlinearity, a) / np.sqrt(fan)


def kaiming_uniform(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, a: float = 0.0,
    mode: str = "fan_in", nonlinearity: str = "leaky_relu", dtype=np.float32,
) -> np.ndarray:
    """W ~ U[-b, b], b = gain sqrt(3 / fan) (He et al., 2015), as
    ``torch.nn.init.kaiming_uniform_``; torch's Linear and Conv2d use a = sqrt(5), which makes
    b = 1 / sqrt(fan_in)."""
    b = np.sqrt(3.0) * _kaiming_std(shape, a, mode, nonlinearity)
    return as_generator(rng).uniform(-b, b, size=shape).astype(dtype)


def kaiming_normal(
    shape: Shape, rng: int | np.random.Generator | None = 0, *, a: float = 0.0,
    mode: str = "fan_in", nonlinearity: str = "leaky_relu", dtype=np.float32,
) -> np.ndarray:
    """W ~ N(0, std^2), std = gain / sqrt(fan) (He et al., 2015), as
    ``torch.nn.init.kaiming_normal_``."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    return (std * as_generator(rng).standard_normal(shape)).astype(dtype)


_BY_NAME: dict[str, Callable[..., np.ndarray]] = {
    "kaiming_uniform": kaiming_uniform,
    "kaiming_normal": kaiming_normal,
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
