"""benchmarks/redteam.py on a small subset: its playground cases hold (the server is this
branch's), a few hostile command lines are refused in one line, and its counting says held
for a held case and names the failure of a failed one."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from benchmarks import redteam  # noqa: E402


def test_a_subset_of_the_playground_and_cli_families_holds():
    outcomes = redteam.run(["playground", "cli"], limit=12)
    assert [len(outcomes["playground"]), len(outcomes["cli"])] == [13, 12]  # + the last check
    failures = [o for r in outcomes.values() for o in r if o.failure]
    assert not failures, failures
    text = redteam.report(outcomes, 1.0)
    assert "| playground | 13 | 13 | 0 |" in text and "| all | 25 | 25 | 0 |" in text


def test_failures_are_counted_and_named():
    cases = [
        redteam.Case("numerics", "holds", lambda: None),
        redteam.Case("numerics", "says why", lambda: "gradient nan (want 0.0)"),
        redteam.Case("numerics", "raises", lambda: 1 / 0),
    ]
    outcomes = {"numerics": [redteam.attempt(c) for c in cases]}
    assert [o.failure for o in outcomes["numerics"]] == [
        None, "gradient nan (want 0.0)", "ZeroDivisionError: division by zero"
    ]  # fmt: skip
    text = redteam.report(outcomes, 1.0)
    assert "| numerics | 3 | 1 | 2 |" in text
    assert "- numerics: says why: gradient nan (want 0.0)" in text


def test_a_refusal_is_one_line_with_exit_1_or_2(tmp_path):
    assert redteam.one_line_refusal(_proc(2, "flowgraph train: error: --lr must be > 0\n")) is None
    assert "traceback" in redteam.one_line_refusal(_proc(1, "Traceback (most recent...)\nX\n"))
    assert redteam.one_line_refusal(_proc(0, "")) == "accepted: exit 0"
    assert "2 lines" in redteam.one_line_refusal(_proc(1, "a\nb\n"))
    assert "exit -9" in redteam.one_line_refusal(_proc(-9, "killed\n"))


def _proc(rc: int, stderr: str):
    import subprocess

    return subprocess.CompletedProcess([], rc, "", stderr)
