"""What every loader shares: its errors, the seed-to-Generator rule and argument checks.

A user's mistake raises a :class:`DatasetError` (a ``ValueError``) or, for a missing file, a
:class:`DatasetNotFoundError` (a ``FileNotFoundError``); both are ``FlowgraphError`` so the
command line prints them as one line.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..errors import FlowgraphError

__all__ = [
    "DatasetError",
    "DatasetNotFoundError",
    "IDXFormatError",
    "DownloadError",
    "Seed",
    "as_rng",
]

Seed = int | np.random.Generator | None


class DatasetError(FlowgraphError, ValueError):
    """A bad argument to a dataset function: a size, a fraction, a noise level, a name."""


class IDXFormatError(DatasetError):
    """An IDX file (the MNIST format) is malformed: bad magic number, truncated, inconsistent."""


class DatasetNotFoundError(FlowgraphError, FileNotFoundError):
    """A data directory or file is missing; the message says which one and what to do."""


class DownloadError(FlowgraphError, OSError):
    """Every mirror failed to deliver a file with the expected SHA-256 checksum."""


def as_rng(seed: Seed) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a non-negative int seed, or the Generator itself.

    ``None`` draws fresh entropy from the operating system (not reproducible; pass a seed).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise DatasetError(
            f"seed must be a non-negative int or a numpy Generator, got {type(seed).__name__}"
        )
    if seed < 0:
        raise DatasetError(f"seed must be a non-negative int, got {seed}")
    return np.random.default_rng(int(seed))


def check_int(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an int >= ``minimum``, or a DatasetError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise DatasetError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise DatasetError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def check_float(
    name: str,
    value: object,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval [low, high] (ends open where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise DatasetError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)
    too_low = v <= low if low_open else v < low
    too_high = v >= high if high_open else v > high
    if not math.isfinite(v) or too_low or too_high:
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise DatasetError(f"{name} must lie in {left}{low:g}, {high:g}{right}, got {value!r}")
    return v


def class_counts(n_samples: int, n_classes: int) -> np.ndarray:
    """Examples per class, as equal as possible (the first n_samples % n_classes get one more)."""
    counts = np.full(n_classes, n_samples // n_classes, dtype=np.int64)
    counts[: n_samples % n_classes] += 1
    return counts
