"""benchmarks/residual.py: a residual MLP from one Block against the same network in PyTorch,
same weights, batches and steps; the runner checks that the losses agree."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module():
    path = ROOT / "benchmarks" / "residual.py"
    spec = importlib.util.spec_from_file_location("residual_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
