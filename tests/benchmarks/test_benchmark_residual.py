"""benchmarks/residual.py: a residual MLP from one Block against the same network in PyTorch,
same weights, batches and steps; the runner checks that the losses agree."""

from __future__ import annotations

import pytest
from helper_benchmarks import load_benchmark


def _module():
    return load_benchmark("residual")


def test_quick_run_agrees_with_pytorch_and_writes_its_section(tmp_path):
    pytest.importorskip("torch")
    bench = _module()
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\nother sections stay\n")
    assert bench.main(["--quick", "--repeats", "1", "--write", str(md)]) == 0
    text = md.read_text()
    assert "other sections stay" in text and "losses agree: yes" in text
    assert text.count(bench.BEGIN) == 1
    bench.main(["--quick", "--repeats", "1", "--write", str(md)])  # replaced, not appended
    assert md.read_text().count(bench.BEGIN) == 1
