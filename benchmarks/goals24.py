"""The ratios against the goals of issue 24 (a planned step close to the matrix-product floor,
faster than JAX's jit on a CPU), from the rows of one ``python -m benchmarks`` run.

Written into benchmarks/RESULTS.md as its own marked section (``issue-24``,
:mod:`benchmarks.sections`), with the machine and its BLAS. Every ratio compares medians of
seconds per epoch measured in the same run, interleaved: "the step" is flowgraph's bare
planned step (``fg.step_plan(graph)`` + ``SGD.step`` over the same batches), "fg.train" the
whole training loop around it, "the floor" the 8 matrix products of a step alone.

The machine is shared and one run's ratios move by 10% or more: ``python -m
benchmarks.goals24 --before ... --after ...`` puts the ratios of several runs (their
markdown, ``python -m benchmarks --output``) side by side with the median of the runs after,
as a section of its own (``issue-24-runs``).
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.sections import replace_section, sections, wrap

__all__ = ["goals", "section", "read_goals", "runs_section", "main"]

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


# -- several runs side by side: the machine is shared, one run's ratios move by 10% ------------
RUNS_SECTION = "issue-24-runs"
_ROW = re.compile(r"^\| (?P<what>[^|]+?) \| (?P<value>[-\d.]+) \| (?P<goal>[^|]+?) \| [^|]*\|$")


def read_goals(text: str) -> dict[str, tuple[float, str]]:
    """The goals table of one run's markdown (its issue-24 section): what -> (ratio, goal)."""
    body = sections(text).get(SECTION, "")
    out = {}
    for line in body.splitlines():
        m = _ROW.match(line.strip())
        if m and m["value"] != "-":
            out[m["what"]] = (float(m["value"]), m["goal"].strip())
    return out


def _met(value: float, goal: str) -> bool | None:
    for op, test in (("<=", lambda v, t: v <= t), ("<", lambda v, t: v < t)):
        if goal.startswith(op):
            return test(value, float(goal[len(op):].split()[0]))
    return None


def runs_section(before: list[dict], after: list[dict], note: str = "") -> str:
    """Every ratio of every run, before and after, with the median of the runs after."""
    names = list(dict.fromkeys(k for run in before + after for k in run))
    head = ["## Issue 24: every run, before and after", ""]
    if note:
        head += [note, ""]
    cols = [f"before {i + 1}" for i in range(len(before))]
    cols += [f"after {i + 1}" for i in range(len(after))]
    lines = head + ["| ratio | goal | " + " | ".join(cols) + " | after, median | met |"]
    lines.append("|---|---|" + "---:|" * (len(cols) + 1) + "---|")
    for name in names:
        goal = next(run[name][1] for run in before + after if name in run)
        cells = [f"{run[name][0]:.2f}" if name in run else "-" for run in before + after]
        values = [run[name][0] for run in after if name in run]
        med = statistics.median(values) if values else float("nan")
        ok = _met(med, goal) if values else None
        met = "-" if ok is None else ("yes" if ok else "**no**")
        shown = "-" if math.isnan(med) else f"{med:.2f}"
        lines.append(f"| {name} | {goal} | " + " | ".join(cells) + f" | {shown} | {met} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.goals24 --before A.md ... --after B.md ... [--write R.md]``: the
    issue-24 ratios of several ``python -m benchmarks --output`` runs in one table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.goals24", description=__doc__)
    parser.add_argument("--before", nargs="*", default=[], help="markdown of runs before")
    parser.add_argument("--after", nargs="+", help="markdown of runs after")
    parser.add_argument("--note", default="", help="a line under the title")
    parser.add_argument("--write", help="put the table into this RESULTS.md as its section")
    args = parser.parse_args(argv)
    before = [read_goals(Path(p).read_text()) for p in args.before]
    after = [read_goals(Path(p).read_text()) for p in args.after]
    text = runs_section(before, after, args.note)
    print(text)
    if args.write:
        replace_section(Path(args.write), RUNS_SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
