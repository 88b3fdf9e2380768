"""What a run will allocate, estimated before anything is: refuse beyond the machine's memory.

For a network of sizes [D, H_1, ..., H_L, C] (P = sum_k (H_k-1 + 1) H_k parameters) trained on
N examples in batches of B, in a float type of s bytes:

    data        N D 8 (raw, float64) + N D s (x') + N D s (one shuffled copy per epoch),
                times 5 where the shifted copies of images are added
    parameters  P s (theta, its gradient, 3 optimiser buffers, best and last-good copies: 7)
    activations B sum_k H_k s (values and gradients of a few nodes per layer: 6), and the
                same for one validation batch of up to 4096 examples

An estimate, on the side of more: it must refuse what cannot fit (a 10^9-unit layer, 10^10
examples) with one line, not be exact.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence

try:  # optional (the playground and test extras): BLAS on one thread
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - everything works without it
    threadpool_limits = None

__all__ = ["available_memory", "estimate_bytes", "check_fits", "ResourceError", "DATA_SHAPES",
           "blas_threads"]

# (examples, features) of the sets whose size is fixed; the 2-D sets have 2 features
DATA_SHAPES = {"digits": (1797, 64), "mnist": (70000, 784)}


class ResourceError(ValueError):
    """A run that would need more memory than the machine has."""


def available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable of /proc/meminfo, else the physical
    memory); None where neither can be read."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, AttributeError):
        return None


def estimate_bytes(rows: int, sizes: Sequence[int], batch_size: int, itemsize: int,
                   augment: bool = False) -> int:  # fmt: skip
    """The bytes a run allocates at most, about (see the module's formulas).

    >>> estimate_bytes(1000, [2, 100, 3], 32, 4) < 2**23  # 8 MiB: a small run
    True
    >>> estimate_bytes(10**10, [2, 3], 32, 4) > 2**38  # 256 GiB: refused on most machines
    True
    """
    d = int(sizes[0])
    data = rows * d * (8 + 2 * itemsize) * (5 if augment else 1)
    params = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])) * itemsize * 7
    width = sum(int(h) for h in sizes)
    activations = (int(batch_size) + min(rows, 4096)) * width * itemsize * 6
    return data + params + activations


def check_fits(rows: int, sizes: Sequence[int], batch_size: int, itemsize: int,
               augment: bool = False, memory: int | None = None) -> None:  # fmt: skip
    """Raise :class:`ResourceError`, naming the sizes, when the estimate exceeds ``memory``
    (default: :func:`available_memory`; nothing is checked where that is unknown)."""
    memory = available_memory() if memory is None else memory
    if memory is None:
        return
    need = estimate_bytes(rows, sizes, batch_size, itemsize, augment)
    if need > memory:
        raise ResourceError(
            f"this run needs about {_gib(need)} of memory ({rows} examples, network "
            f"{' -> '.join(map(str, sizes))}, batches of {batch_size}) and {_gib(memory)} are "
            "available: use fewer examples or smaller layers"
        )


def _gib(n: int) -> str:
    return f"{n / 2**30:.3g} GiB"


def blas_threads(n: int | None):
    """A context in which BLAS uses ``n`` threads (None or 0: as it would anyway). One thread
    is about twice as fast for the small products of these networks (threadpoolctl, where it
    is installed; without it everything works, more slowly)."""
    if not n or threadpool_limits is None:
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(n))
