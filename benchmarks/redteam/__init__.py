"""A red team of our own (issue 21): hostile cases against the five families of what the
issue found open, each counted as *held* or *failed*.

Families:

- ``playground``: the server's bodies, headers and connections (a real server on 127.0.0.1):
  every answer a 4xx with one line of JSON, an attacker's Host refused on 0.0.0.0 too, clients
  that vanish mid-request leave no traceback, silent sockets are closed, connections bounded.
- ``cli``: hostile arguments to ``flowgraph train/evaluate/render/gradcheck/search``, each a
  subprocess with a short workload: held when it exits 2 (usage) or 1 (failure) with one line
  on stderr and no traceback.
- ``model files``: crafted model files (truncated, flipped bytes, lying headers, pickles, zip
  tricks) given to ``fg.load_model`` in a worker process: held when refused with
  ``ModelFileError`` (or loaded harmlessly), failed on any other exception or a crash.
- ``resume files``: crafted ``resume.npz`` files given to ``flowgraph train --resume``: held
  when refused with one line and exit 1 or 2, writing nothing outside the run's folder.
- ``numerics``: the issue's silent wrong numbers as properties (x ** 0 at 0, float16 losses,
  gradient dtypes, gradient shapes, configs, jvp with preprocessing, concat's axis).

Every subprocess runs with its address space limited (3 GiB, so that an allocation the
command should have refused fails fast instead of swapping), one BLAS thread, and a timeout.
Run ``python -m benchmarks.redteam`` (all, one to three minutes) or pick families with
``--family``; ``--limit N`` tries the first N cases of each; ``--write [FILE]`` puts the counts
into benchmarks/RESULTS.md (or FILE). Exit status 1 when any case failed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ..sections import replace_section
from .commands import QUICK, run_cli
from .files import run_models, run_resumes
from .harness import Case, Outcome, attempt, flowgraph, one_line_refusal
from .numerics import run_numerics
from .playground import run_playground

__all__ = ["Case", "Outcome", "attempt", "one_line_refusal", "run", "report", "main", "FAMILIES"]

FAMILIES = ["playground", "cli", "model files", "resume files", "numerics"]
SECTION = "redteam"


def prepare(work: Path) -> None:
    """A short finished run in work/run: its model.npz and resume.npz are the crafted files'
    originals."""
    args = [
        "train",
        *QUICK[:-3],
        "--epochs",
        "2",
        "--hidden",
        "4",
        "--no-progress",
        "--out",
        str(work / "run"),
    ]
    proc = flowgraph(args, work, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(f"redteam: the reference run failed: {proc.stderr[-400:]}")


RUNNERS = {
    "playground": lambda work, limit: run_playground(limit),
    "cli": run_cli,
    "model files": run_models,
    "resume files": run_resumes,
    "numerics": run_numerics,
}


def run(families: list[str], limit: int | None = None) -> dict[str, list[Outcome]]:
    """The outcomes of each family's cases (the first ``limit`` of each)."""
    with tempfile.TemporaryDirectory(prefix="flowgraph-redteam-") as tmp:
        work = Path(tmp)
        if set(families) & {"cli", "model files", "resume files"}:
            prepare(work)
        return {f: RUNNERS[f](work, limit) for f in families}


def report(outcomes: dict[str, list[Outcome]], seconds: float) -> str:
    """A Markdown table of tried / held / failed per family, then every failure."""
    lines = ["| family | tried | held | failed |", "|---|---:|---:|---:|"]
    total = [0, 0]
    for family, results in outcomes.items():
        failed = sum(o.failure is not None for o in results)
        lines.append(f"| {family} | {len(results)} | {len(results) - failed} | {failed} |")
        total[0] += len(results)
        total[1] += failed
    lines.append(f"| all | {total[0]} | {total[0] - total[1]} | {total[1]} |")
    lines.append(f"\n{total[0]} hostile cases in {seconds:.0f} s.")
    failures = [o for results in outcomes.values() for o in results if o.failure]
    if failures:
        lines.append("\nFailures:\n")
        lines += [f"- {o.family}: {o.name}: {o.failure}" for o in failures]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.redteam", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--family", action="append", choices=FAMILIES, help="a family to try (repeat; default: all)"
    )
    parser.add_argument("--limit", type=int, default=None, help="the first N cases of each")
    results = Path(__file__).parent.parent / "RESULTS.md"
    parser.add_argument(
        "--write", nargs="?", const=results, default=None, type=Path, metavar="RESULTS.md",
        help="the counts into this Markdown file (default: benchmarks/RESULTS.md)",
    )
    args = parser.parse_args(argv)
    start = time.monotonic()
    outcomes = run(args.family or FAMILIES, args.limit)
    text = report(outcomes, time.monotonic() - start)
    print(text)
    if args.write is not None:
        body = "## Red team (issue 21)\n\n`python -m benchmarks.redteam`\n\n" + text
        replace_section(args.write, SECTION, body)
    return 1 if any(o.failure for r in outcomes.values() for o in r) else 0
