"""benchmarks/step_gap.py: the batch-128 step against its matrix products in one process, and
plain SGD's update three ways (the same bits, checked by the script)."""

from __future__ import annotations

import numpy as np
import pytest
from helper_benchmarks import load_benchmark


def _module():
    return load_benchmark("step_gap")


def test_quick_run_writes_both_tables_into_its_own_section(tmp_path):
    bench = _module()
    md = tmp_path / "RESULTS.md"
    md.write_text("# Benchmark results\n\nother sections stay\n")
    assert bench.main(["--quick", "--repeats", "1", "--write", str(md)]) == 0
    text = md.read_text()
    assert "other sections stay" in text and "<!-- step-gap: begin -->" in text
    rows = [line for line in text.splitlines() if line.startswith(("| float32 |", "| float64 |"))]
    assert len(rows) == 8  # four implementations per dtype
    assert all(float(r.split("|")[3]) > 0 for r in rows)
    assert sum(r.split("|")[4].strip() == "1.000" for r in rows) == 2  # each floor is 1
    assert "| in place (the gradient scaled, then added; lost) |" in text


def test_the_three_updates_are_checked_to_give_the_same_numbers(monkeypatch):
    bench = _module()
    times = bench.sgd_updates([8, 6, 4], np.float32, 1)
    assert len(times) == 3 and all(t >= 0 for t in times.values())
    real = np.subtract

    def off_by_one_ulp(a, b, out=None, **kw):  # (only the chunked way calls np.subtract)
        r = real(a, b, out=out, **kw)
        return np.nextafter(r, np.inf, out=r) if out is not None else r

    monkeypatch.setattr(bench.np, "subtract", off_by_one_ulp)
    with pytest.raises(AssertionError, match="other numbers"):
        bench.sgd_updates([8, 6, 4], np.float32, 1)
