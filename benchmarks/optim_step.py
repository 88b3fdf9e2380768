"""The cost of one optimiser step alone: flowgraph's SGD, momentum and Adam next to
torch.optim's SGD and Adam, on the parameters of one network.

Both sides update the same float32 parameters (W(k) of shape (out, in) and b(k), Glorot
initialised) from the same fixed gradients, over and over: the step is the same work every
time, and nothing but the update itself is timed (no fprop, no bprop, no zero_grad). Torch's
Adam is its default implementation on CPU (the for-each kernels over the parameter list).
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["STEPS", "step_costs"]

# (label, flowgraph factory or None, torch factory or None)
STEPS: tuple[str, ...] = (
    "flowgraph SGD",
    "flowgraph SGD, momentum 0.9",
    "flowgraph Adam",
    "torch.optim.SGD",
    "torch.optim.Adam",
)


def _flowgraph_steps(sizes: Sequence[int], dtype: np.dtype, grads: list[np.ndarray]):
    import flowgraph as fg

    out: dict[str, Callable[[], None]] = {}
    for label, make in (
        ("flowgraph SGD", lambda ps: fg.SGD(ps, 1e-3)),
        ("flowgraph SGD, momentum 0.9", lambda ps: fg.SGD(ps, 1e-3, momentum=0.9)),
        ("flowgraph Adam", lambda ps: fg.Adam(ps, 1e-3)),
    ):
        model = fg.mlp(list(sizes), "tanh", dtype=dtype, seed=0)
        for p, g in zip(model.parameters, grads):
            p.grad = g
        out[label] = make(model.parameters).step
    return out


def _torch_steps(sizes: Sequence[int], dtype: np.dtype, grads: list[np.ndarray]):
    try:
        import torch
    except ImportError:
        return {}
    import flowgraph as fg

    out: dict[str, Callable[[], None]] = {}
    for label, make in (
        ("torch.optim.SGD", lambda ps: torch.optim.SGD(ps, lr=1e-3)),
        ("torch.optim.Adam", lambda ps: torch.optim.Adam(ps, lr=1e-3)),
    ):
        model = fg.mlp(list(sizes), "tanh", dtype=dtype, seed=0)
        params = [torch.nn.Parameter(torch.from_numpy(p.value.copy())) for p in model.parameters]
        for p, g in zip(params, grads):
            p.grad = torch.from_numpy(g.copy())
        out[label] = make(params).step
    return out


def step_costs(
    sizes: Sequence[int] = (784, 256, 256, 10),
    dtype: str = "float32",
    *,
    budget: float = 0.05,
    rounds: int = 7,
) -> dict[str, float]:
    """Microseconds per step of each of :data:`STEPS` (those installed), the median over
    ``rounds`` interleaved rounds of about ``budget`` seconds each."""
    dt = np.dtype(dtype)
    rng = np.random.default_rng(1)
    import flowgraph as fg

    shapes = [p.value.shape for p in fg.mlp(list(sizes), "tanh", dtype=dt, seed=0).parameters]
    grads = [rng.standard_normal(s, dtype=dt) * dt.type(1e-2) for s in shapes]
    steps = {**_flowgraph_steps(sizes, dt, grads), **_torch_steps(sizes, dt, grads)}
    number = {}
    for label, fn in steps.items():  # warm-up, and how many calls fill the budget
        for _ in range(3):
            fn()
        start = timeit.default_timer()
        fn()
        number[label] = max(1, int(budget / max(timeit.default_timer() - start, 1e-7)))
    times: dict[str, list[float]] = {label: [] for label in steps}
    labels = list(steps)
    for r in range(rounds):
        for label in labels[r % len(labels) :] + labels[: r % len(labels)]:
            t = timeit.timeit(steps[label], number=number[label])
            times[label].append(t / number[label] * 1e6)
    return {label: statistics.median(times[label]) for label in labels}
