"""The red team's harness: a case, its outcome, and flowgraph's command run as a
subprocess with its memory limited, judged on how it refuses."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
MEMORY = 3 << 30  # bytes of address space for each subprocess


@dataclass
class Case:
    """One hostile case: ``run()`` returns None when the property held, else why not."""

    family: str
    name: str
    run: Callable[[], str | None]


@dataclass
class Outcome:
    family: str
    name: str
    failure: str | None  # None: held
    seconds: float = 0.0


def attempt(case: Case) -> Outcome:
    start = time.monotonic()
    try:
        failure = case.run()
    except Exception as e:  # the harness's own check raised: the property did not hold
        failure = f"{type(e).__name__}: {str(e)[:160]}"
    return Outcome(case.family, case.name, failure, time.monotonic() - start)


# -- subprocesses -----------------------------------------------------------------------------
def env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def limit_memory(limit: int = MEMORY) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    return preexec


def flowgraph(args: list[str], cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flowgraph", *args],
        cwd=cwd,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=limit_memory(),
    )


def one_line_refusal(proc: subprocess.CompletedProcess) -> str | None:
    """None when ``proc`` exited 1 or 2 with one line on stderr and no traceback."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    last = lines[-1][:160] if lines else "(nothing on stderr)"
    if "Traceback" in proc.stderr:
        return f"traceback: {last}"
    if proc.returncode == 0:
        return "accepted: exit 0"
    if proc.returncode not in (1, 2):
        return f"exit {proc.returncode}: {last}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr, the last: {last}"
    return None


def cli_case(family: str, name: str, args: list[str], cwd: Path, check=None) -> Case:
    """``flowgraph ARGS`` must be refused in one line; ``check()``, when given, too."""

    def run() -> str | None:
        try:
            proc = flowgraph(args, cwd)
        except subprocess.TimeoutExpired:
            return "no answer within 90 s"
        failure = one_line_refusal(proc)
        return failure or (check() if check is not None else None)

    return Case(family, name, run)
