"""benchmarks/before_after.py (one flowgraph version against another) and the marked sections
of RESULTS.md that each benchmark script owns. No test asserts a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import before_after  # noqa: E402
from benchmarks.sections import keep_sections, replace_section, sections  # noqa: E402

OLD = """# Benchmark results

## Times
old table

<!-- mutation: begin -->
## Mutation testing
153 mutants
<!-- mutation: end -->

<!-- residual: begin -->
## Residual
1.21x
<!-- residual: end -->
"""


def test_a_rewrite_keeps_the_sections_other_scripts_own():
    new = "# Benchmark results\n\n## Times\nnew table\n"
    text = keep_sections(OLD, new)
    assert "new table" in text and "old table" not in text
    assert list(sections(text)) == ["mutation", "residual"]
    assert sections(text) == sections(OLD)
    # a section the rewrite itself holds is not doubled
    again = keep_sections(OLD, new + "\n<!-- residual: begin -->\nR2\n<!-- residual: end -->\n")
    assert again.count("residual: begin") == 1 and "R2" in again and "1.21x" not in again


def test_a_script_replaces_its_own_section_in_place_or_appends_it(tmp_path):
    path = tmp_path / "RESULTS.md"
    path.write_text(OLD)
    replace_section(path, "mutation", "## Mutation testing\n160 mutants\n")
    text = path.read_text()
    assert "160 mutants" in text and "153 mutants" not in text
    assert text.index("mutation: begin") < text.index("residual: begin")  # stayed in place
    assert "1.21x" in text and "old table" in text
    replace_section(path, "before-after", "## Before and after\n")
    assert list(sections(path.read_text())) == ["mutation", "residual", "before-after"]


def test_the_runner_keeps_the_other_sections_when_it_writes_the_file(tmp_path):
    out = tmp_path / "results.md"
    out.write_text(OLD)
    args = ["--quick", "--repeats", "1", "--workloads", "tiny-b1", "--no-memory", "--no-gradcheck"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args, "--output", str(out)],
        capture_output=True, text=True, cwd=str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "old table" not in text and "2-16-16-2 on 100 points" in text
    written = sections(text)
    assert "issue-24" in written  # the runner's own section (benchmarks/goals24.py)
    del written["issue-24"]
    assert written == sections(OLD)


def test_two_versions_train_the_same_network_in_their_own_workers(tmp_path):
    out = tmp_path / "RESULTS.md"
    out.write_text(OLD)
    script = str(ROOT / "benchmarks" / "before_after.py")
    # the checkout against itself as a folder: no git history needed (an sdist has none)
    cmd = [sys.executable, script, "--before", str(ROOT), "--quick", "--repeats", "1"]
    cmd += ["--workloads", "tiny-b1,mlp-b1", "--write", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    table = sections(text)["before-after"]
    assert "2-16-16-2 on 100 points, batch 1 (quick)" in table
    assert "784-256-256-10, batch 1 (quick)" in table
    rows = [line for line in table.splitlines() if line.startswith("| 7") or "2-16" in line]
    assert len(rows) == 2 and all(line.endswith("| yes |") for line in rows)
    assert "1.21x" in text  # the other sections stay


def test_the_worker_refuses_to_time_a_version_it_was_not_given(tmp_path):
    """A worker that imports the checkout's flowgraph while told to time another copy would
    compare a version with itself: it must say so instead of answering."""
    with pytest.raises(RuntimeError, match="not under"):
        before_after.Worker(tmp_path / "elsewhere", "before")


def test_an_unknown_commit_is_one_line_and_exit_2():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "before_after.py"), "--before", "nope-ref"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2 and "cannot export 'nope-ref'" in proc.stderr


def test_a_commit_is_exported_with_its_package_as_it_was_then(tmp_path):
    """The default path: ``git archive`` of the package at a commit (here of a small repository
    made for the test, so that no checkout's history is needed)."""
    repo = tmp_path / "repo"
    (repo / "flowgraph").mkdir(parents=True)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "flowgraph" / "__init__.py").write_text("VERSION = 'old'\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "old"], check=True)
    first = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout
    (repo / "flowgraph" / "__init__.py").write_text("VERSION = 'new'\n")
    subprocess.run([*git, "commit", "-qam", "new"], check=True)
    into = tmp_path / "old"
    into.mkdir()
    sha = before_after.export("HEAD~1", into, repo=repo)
    assert sha == first.strip()
    assert (into / "flowgraph" / "__init__.py").read_text() == "VERSION = 'old'\n"
