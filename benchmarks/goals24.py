"""The ratios against the goals of issue 24 (a planned step close to the matrix-product floor,
faster than JAX's jit on a CPU), from the rows of one ``python -m benchmarks`` run.

Written into benchmarks/RESULTS.md as its own marked section (``issue-24``,
:mod:`benchmarks.sections`), with the machine and its BLAS. Every ratio compares medians of
seconds per epoch measured in the same run, interleaved: "the step" is flowgraph's bare
planned step (``fg.step_plan(graph)`` + ``SGD.step`` over the same batches), "fg.train" the
whole training loop around it, "the floor" the 8 matrix products of a step alone.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.sections import wrap

__all__ = ["goals", "section"]

SECTION = "issue-24"


def goals(rows: list[Any]) -> list[tuple[str, float, str, bool | None]]:
    """(what, measured, target, met or None when not measured) for each goal of issue 24."""
    by = {(r.workload.key, r.impl): r for r in rows if r.installed and r.seconds}

    def med(key: str, impl: str) -> float:
        r = by.get((key, impl))
        return r.median if r is not None else float("nan")

    out: list[tuple[str, float, str, bool | None]] = []

    def add(what: str, value: float, target: str, ok: bool) -> None:
        out.append((what, value, target, None if math.isnan(value) else ok))

    for key, label in (("mlp-b128", "784-256-256-10 batch 128"),
                       ("mlp-b128-f64", "784-256-256-10 batch 128 float64"),
                       ("wide-b256", "784-1024-1024-10 batch 256")):  # fmt: skip
        floor = med(key, "floor")
        for impl, how in (("flowgraph-step", "step"), ("flowgraph-fold", "step, SGD folded")):
            v = med(key, impl) / floor
            add(f"{label}: flowgraph {how} / its matrix products", v, "<= 1.10", v <= 1.10)
        v = med(key, "flowgraph-step") / med(key, "jax")
        add(f"{label}: flowgraph step / JAX jit", v, "< 1 (ahead)", v < 1)
        v = med(key, "jax") / floor
        add(f"{label}: JAX jit / the matrix products (for reference)", v, "-", True)
    v = med("mlp-b128", "flowgraph") / med("mlp-b128", "flowgraph-step")
    add("batch 128: fg.train per epoch / the bare step", v, "<= 1.05", v <= 1.05)
    for impl, how in (("flowgraph-step", "step"), ("flowgraph", "fg.train")):
        v = med("tiny-b1", impl) / med("tiny-b1", "jax")
        add(f"2-16-16-2 batch 1: flowgraph {how} / JAX jit", v, "<= 0.8", v <= 0.8)
        best = min(med("tiny-b1", "numpy-fast"), med("tiny-b1", "numpy-plain"))
        v = med("tiny-b1", impl) / best
        add(f"2-16-16-2 batch 1: flowgraph {how} / hand-written NumPy", v, "<= 1.0", v <= 1.0)
    peers = ("numpy-fast", "numpy-plain", "torch", "jax", "autograd", "mygrad")
    best_peer = min((med("mlp-b1", p) for p in peers), default=float("nan"))
    v = med("mlp-b1", "flowgraph") / best_peer
    add("784-256-256-10 batch 1: flowgraph (fg.train) / the fastest peer", v, "< 1", v < 1)
    fg_row, torch_row = by.get(("mlp-b128", "flowgraph")), by.get(("mlp-b128", "torch"))
    v = float("nan")
    if fg_row is not None and torch_row is not None and fg_row.peak_mb and torch_row.peak_mb:
        v = fg_row.peak_mb / torch_row.peak_mb
    add("batch 128: peak memory of training, flowgraph / PyTorch", v, "<= 0.5", v <= 0.5)
    return out


def section(rows: list[Any], machine_lines: list[str]) -> str:
    """The marked section: the machine, then one line per goal."""
    lines = [
        "## Issue 24: the planned step against its matrix products and JAX",
        "",
        "Ratios of median seconds per epoch from this one run (interleaved, one BLAS thread "
        "for every library, XLA on one thread). The floor is the 8 matrix products of a step "
        "alone (NumPy, preallocated); the step is `fg.step_plan(graph)` with `SGD.step`.",
        "",
        *machine_lines,
        "",
        "| ratio | measured | goal | met |",
        "|---|---:|---|---|",
    ]
    for what, value, target, ok in goals(rows):
        met = "-" if ok is None else ("yes" if ok else "**no**")
        shown = "-" if math.isnan(value) else f"{value:.2f}"
        lines.append(f"| {what} | {shown} | {target} | {met} |")
    return wrap(SECTION, "\n".join(lines))
