"""Where the batch-128 step of issue 24 stands against its matrix products, in one process.

    python benchmarks/step_gap.py [--quick] [--repeats 9] [--write benchmarks/RESULTS.md]

Two measurements by process time (less exposed to the other users of a shared machine than
wall time), one BLAS thread, interleaved, the median of ``--repeats`` rounds:

1. The 784-256-256-10 step at batch 128, float32 and float64: the 8 matrix products alone
   (the floor), the hand-written NumPy step with preallocated buffers and in-place updates,
   flowgraph's bare planned step (``fg.step_plan`` + ``SGD.step``) and the same with SGD
   folded, over the same batches; each as a ratio to the floor.
2. Plain SGD's update of the three weights, with the caches as a step leaves them (a matrix
   product just ran, the gradients were just written): flowgraph's ``SGD.step`` (alpha grad
   into a scratch array, then subtracted: the gradient still reads as the gradient), the
   same cut into chunks of 64 K elements, and the hand-written update (the gradient scaled in
   place, then added: the gradient is lost). The same bits all three ways.

``--write`` replaces the section between the step-gap markers of that file (or appends it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before NumPy loads its BLAS
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import flowgraph as fg  # noqa: E402
from benchmarks.flowgraph_mlp import initial_weights  # noqa: E402
from benchmarks.numpy_mlp import FastNumpyMLP  # noqa: E402
from benchmarks.peers_mlp import FloorMLP, FlowgraphFoldMLP, FlowgraphStepMLP  # noqa: E402
from benchmarks.sections import replace_section  # noqa: E402

SECTION = "step-gap"
CHUNK = 1 << 16


def step_ratios(sizes: list[int], batch: int, n: int, dtype, repeats: int) -> dict[str, float]:
    """Median process seconds per step of each implementation, over one epoch of n examples."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], n)
    w = initial_weights(sizes, dtype)
    impls = {
        "the 8 matrix products alone": FloorMLP(w, 0.01, batch),
        "NumPy, hand-written (fast)": FastNumpyMLP(w, 0.01, batch),
        "flowgraph, bare planned step": FlowgraphStepMLP(w, 0.01, batch),
        "flowgraph, bare planned step, SGD folded": FlowgraphFoldMLP(w, 0.01, batch),
    }
    times: dict[str, list[float]] = {k: [] for k in impls}
    for m in impls.values():
        m.train_epochs(X, y, 1)  # warm-up: buffers, plans, kernels
    names = list(impls)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = time.process_time()
            impls[name].train_epochs(X, y, 1)
            times[name].append((time.process_time() - t) * batch / n)
    return {k: statistics.median(v) for k, v in times.items()}


def sgd_updates(sizes: list[int], dtype, repeats: int) -> dict[str, float]:
    """Median seconds of the three weights' plain SGD update, three ways (same bits)."""
    rng = np.random.default_rng(1)
    shapes = [(b, a) for a, b in zip(sizes[:-1], sizes[1:])]
    start = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [rng.standard_normal(s).astype(dtype) * dtype(1e-3) for s in shapes]
    params = [fg.Parameter(v, f"W{k}") for k, v in enumerate(start)]
    sgd, alpha = fg.SGD(params, lr=0.01), 0.01
    chunk = np.empty(CHUNK, dtype)
    A = rng.standard_normal((128, sizes[0])).astype(dtype)
    B = rng.standard_normal((sizes[0], sizes[1])).astype(dtype)

    def scratch():
        sgd.step()

    def chunked():
        for p in params:
            w, g = p.value.reshape(-1), p.grad.reshape(-1)
            for i in range(0, w.size, CHUNK):
                part, s = w[i : i + CHUNK], chunk[: min(CHUNK, w.size - i)]
                np.subtract(part, np.multiply(g[i : i + CHUNK], alpha, out=s), out=part)

    def in_place():
        for p in params:
            g = p.grad
            g *= dtype(-alpha)  # (the hand-written update: benchmarks/numpy_mlp.py)
            p.value += g

    ways = {"SGD.step (alpha grad into a scratch array)": scratch,
            f"the same in chunks of {CHUNK} elements": chunked,
            "in place (the gradient scaled, then added; lost)": in_place}  # fmt: skip
    times: dict[str, list[float]] = {k: [] for k in ways}
    results: dict[str, list[np.ndarray]] = {}
    for _ in range(repeats):
        for name, update in ways.items():
            for p, v, g in zip(params, start, grads):
                p.value = v.copy()
                p.grad = g.copy()
            np.matmul(A, B)  # the caches as a step leaves them: a product, then the gradients
            for p in params:
                p.grad += 0
            t = time.process_time()
            update()
            times[name].append(time.process_time() - t)
            results[name] = [p.value.copy() for p in params]
    first = next(iter(results.values()))
    for name, got in results.items():  # the same bits, or the comparison means nothing
        if not all(np.array_equal(a, b) for a, b in zip(first, got)):
            raise AssertionError(f"{name} gives other numbers than SGD.step")
    return {k: statistics.median(v) for k, v in times.items()}


def markdown(steps: dict, updates: dict, sizes: list[int], batch: int, repeats: int) -> str:
    """The section: a table of step times against the floor per dtype, one of the updates."""
    net = "-".join(map(str, sizes))
    lines = [
        f"## Issue 24: the {net} step at batch {batch} in one process",
        "",
        f"`python benchmarks/step_gap.py`: by process time, one BLAS thread, interleaved, the "
        f"median of {repeats} rounds (numpy {np.__version__}).",
        "",
        "| dtype | implementation | us per step | / the matrix products |",
        "|---|---|---:|---:|",
    ]
    for dtype, times in steps.items():
        floor = times["the 8 matrix products alone"]
        for name, t in times.items():
            lines.append(f"| {dtype} | {name} | {1e6 * t:.1f} | {t / floor:.3f} |")
    lines += ["", "Plain SGD's update of the three weights (float32), the caches as a step "
              "leaves them; the same bits all three ways:", "",
              "| update | us | / SGD.step |", "|---|---:|---:|"]  # fmt: skip
    base = next(iter(updates.values()))
    lines += [f"| {k} | {1e6 * t:.1f} | {t / base:.2f} |" for k, t in updates.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small network (seconds)")
    parser.add_argument("--repeats", type=int, default=9, help="interleaved rounds (9)")
    parser.add_argument("--write", metavar="MD", help="put the section into this file")
    args = parser.parse_args(argv)
    sizes, batch, n = ([64, 32, 32, 10], 16, 256) if args.quick else ([784, 256, 256, 10], 128,
                                                                      2048)  # fmt: skip
    steps = {np.dtype(dt).name: step_ratios(sizes, batch, n, dt, args.repeats)
             for dt in (np.float32, np.float64)}  # fmt: skip
    updates = sgd_updates(sizes, np.float32, 3 * args.repeats)
    text = markdown(steps, updates, sizes, batch, args.repeats)
    print(text)
    if args.write:
        replace_section(Path(args.write), SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
