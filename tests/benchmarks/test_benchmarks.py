"""The benchmark runner on its tiny setting, so that it cannot rot. No test asserts a time."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # benchmarks/ is a folder of the repository, not installed
    sys.path.insert(0, str(ROOT))

import flowgraph as fg  # noqa: E402
from benchmarks import run as bench  # noqa: E402
from benchmarks.numpy_mlp import (  # noqa: E402
    FastNumpyMLP,
    PlainNumpyMLP,
    softmax_cross_entropy_loss,
)
from benchmarks.sections import sections  # noqa: E402


@pytest.fixture(scope="module")
def quick():
    return bench.run(quick=True, repeats=1, memory=False, gradcheck=True, profile=True)


def test_every_workload_times_every_implementation_on_the_same_work(quick):
    rows, grad = quick.rows, quick.gradcheck
    keys = {r.workload.key for r in rows}
    assert keys == {w.key for w in bench.WORKLOADS}
    # torch is in the bench extra, not the test extra: without it its rows say "not installed"
    has_torch = importlib.util.find_spec("torch") is not None
    for r in rows:
        if r.impl == "micrograd" and not r.installed:
            continue
        if r.impl == "torch" and not has_torch:
            assert not r.installed and not r.seconds
            continue
        assert r.installed, f"{r.impl} should run here"
        assert len(r.seconds) == 1 and r.seconds[0] > 0
        assert np.isfinite(r.final_loss)
        if r.impl in bench.NOT_TRAINING:  # the floor: matrix products only, no loss to compare
            assert r.loss_ok is None and "does not train" in r.note
            continue
        assert r.loss_ok, f"{r.workload.key}/{r.impl}: final loss {r.final_loss} differs"
    by_key = {}
    for r in rows:
        by_key.setdefault(r.workload.key, set()).add(r.impl)
    assert by_key["tiny-b1"] == set(bench.IMPLEMENTATIONS)
    assert {"jax", "autograd", "mygrad", "floor", "flowgraph-step"} <= by_key["mlp-b128"]
    assert "micrograd" not in by_key["mlp-b128"]
    assert grad["boxes"] == len(fg.check.all_box_classes()) and grad["per_s"] > 0


def test_markdown_has_machine_table_profile_and_every_target(quick):
    text = bench.markdown(quick)
    assert "## Machine" in text and "NumPy's BLAS" in text and "CPU:" in text
    assert text.count("| 784-256-256-10, batch 128 (quick) |") == len(bench.IMPLEMENTATIONS) - 1
    for what in (
        "batch 128: flowgraph / best NumPy",
        "batch 128: flowgraph / PyTorch",
        "batch 1: flowgraph / PyTorch",
        "batch 1: flowgraph / best NumPy",
        "tiny: PyTorch / flowgraph",
        "boxes checked per second",
        "## Where flowgraph's time goes",
        "## How it is measured",
        "--quick",
        "1 thread(s)",
    ):
        assert what in text, what
    assert "| NO |" not in text  # every final loss agreed
    section = sections(text)["issue-24"]  # the goals of issue 24, its own marked section
    for what in (
        "784-256-256-10 batch 128: flowgraph step / its matrix products",
        "784-1024-1024-10 batch 256: flowgraph step / its matrix products",
        "784-256-256-10 batch 128 float64: flowgraph step / JAX jit",
        "batch 128: fg.train per epoch / the bare step",
        "2-16-16-2 batch 1: flowgraph step / JAX jit",
        "2-16-16-2 batch 1: flowgraph step / hand-written NumPy",
        "784-256-256-10 batch 1: flowgraph (fg.train) / the fastest peer",
        "NumPy's BLAS",
    ):
        assert what in section, what


def test_step_profile_accounts_for_every_box_and_the_total(quick):
    (profile,) = quick.profiles.values()
    parts = dict(profile)
    model = fg.mlp([2, 16, 16, 2])
    boxes = [n.name for n in model.train_graph.order if n.box is not None]
    for name in boxes:
        assert any(p.startswith(f"fprop {name} ") for p in parts), name
        assert any(p.startswith(f"bprop {name} ") for p in parts), name
    assert all(v >= 0 for v in parts.values())
    total = parts["total per step (fg.train)"]
    assert 0 < parts["SGD.step"] < total
    assert sum(v for k, v in parts.items() if not k.startswith("total")) >= total * 0.99


def test_a_missing_library_gives_a_not_installed_row(monkeypatch):
    absent = ("torch", "micrograd", "jax", "autograd", "mygrad")
    monkeypatch.setattr(bench, "available", lambda name: name not in absent)
    rows = bench.time_workload(bench.WORKLOADS[-1].quick(), repeats=1)
    missing = {r.impl for r in rows if not r.installed}
    assert missing == set(absent)
    text = bench.markdown(bench.Results(rows, None, {}, 1, 1, True))
    assert "| PyTorch (autograd + optim.SGD) | not installed (skipped" in text
    assert "| JAX (jit of value_and_grad + update) | not installed (skipped" in text
    assert all(r.loss_ok for r in rows if r.installed and r.impl not in bench.NOT_TRAINING)


def test_an_implementation_doing_less_work_fails_the_loss_check(monkeypatch):
    original = FastNumpyMLP.train_epochs

    def lazy(self, X, y, epochs):  # skips half of the data
        return original(self, X[: len(X) // 2], y[: len(y) // 2], epochs)

    monkeypatch.setattr(FastNumpyMLP, "train_epochs", lazy)
    w = bench.WORKLOADS[0].quick()
    rows = bench.time_workload(w, repeats=1)
    by = {r.impl: r for r in rows}
    assert by["numpy-fast"].loss_ok is False
    assert by["numpy-plain"].loss_ok and by["flowgraph"].loss_ok


@pytest.mark.parametrize("batch_size", [1, 5])
def test_numpy_references_match_flowgraph_train_step_for_step(batch_size):
    w = bench.Workload("t", "t", (6, 5, 4, 3), 20, batch_size, dtype="float64", lr=0.1)
    X, y = bench.make_data(w)
    weights = bench.initial(w)
    impls = [bench.make_impl(n, weights, w) for n in ("flowgraph", "numpy-fast", "numpy-plain")]
    losses = [impl.train_epochs(X, y, 2) for impl in impls]
    params = [impl.parameters() for impl in impls]
    for other, loss in zip(params[1:], losses[1:]):
        assert loss == pytest.approx(losses[0], rel=1e-12)
        for p, q in zip(params[0], other):
            np.testing.assert_allclose(q, p, rtol=1e-10, atol=1e-12)
    assert softmax_cross_entropy_loss(params[0], X, y) < softmax_cross_entropy_loss(weights, X, y)


def test_plain_numpy_loss_is_the_flowgraph_loss():
    w = bench.Workload("t", "t", (4, 3, 2), 10, 10, dtype="float64")
    X, y = bench.make_data(w)
    weights = bench.initial(w)
    model = fg.mlp(w.sizes, dtype=np.float64)
    model.load_state({p.name: v for p, v in zip(model.parameters, weights)})
    assert softmax_cross_entropy_loss(weights, X, y) == pytest.approx(model.loss_value(X, y))
    assert PlainNumpyMLP(weights, 0.1, 10).train_epochs(X, y, 1) == pytest.approx(
        model.loss_value(X, y), rel=1e-12
    )  # the first (only) batch's loss is taken before its update


def test_memory_probe_runs_in_a_subprocess():
    rows = [bench.Row(bench.WORKLOADS[0].quick(), name) for name in ("flowgraph", "numpy-fast")]
    bench.measure_memory(rows)
    for r in rows:
        assert r.note == ""
        assert r.peak_mb is not None and r.peak_mb >= 0
        assert r.total_mb is not None and r.total_mb > r.peak_mb


def test_script_and_module_entry_points_write_the_table(tmp_path):
    out = tmp_path / "results.md"
    args = ["--quick", "--repeats", "1", "--workloads", "tiny-b1", "--no-memory", "--no-gradcheck"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args, "--output", str(out)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "2-16-16-2 on 100 points, batch 1 (quick)" in out.read_text()
    assert "| ratio | measured | target | met |" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--workloads", "nope", "--no-memory"],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
    )
    assert proc.returncode == 2 and "unknown workloads ['nope']" in proc.stderr


def test_without_threadpoolctl_the_runner_restarts_itself_with_capped_threads(tmp_path):
    blocker = tmp_path / "block"
    blocker.mkdir()
    (blocker / "threadpoolctl.py").write_text("raise ImportError('blocked for this test')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.pop("FLOWGRAPH_BENCH_THREADS", None)
    args = ["--quick", "--repeats", "1", "--workloads", "tiny-b1", "--no-memory"]
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), *args, "--no-gradcheck"],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "BLAS and PyTorch on 1 thread(s)" in proc.stdout
    assert "via numpy.show_config" in proc.stdout  # threadpoolctl really was missing


def test_one_optimiser_step_is_timed_next_to_torch(quick):
    from benchmarks.optim_step import STEPS

    # torch is in the bench extra, not the test extra: without it only flowgraph's steps
    has_torch = importlib.util.find_spec("torch") is not None
    assert set(quick.optim_steps) == {s for s in STEPS if has_torch or not s.startswith("torch")}
    assert all(us > 0 for us in quick.optim_steps.values())
    text = bench.markdown(quick)
    assert "## One optimiser step (784-32-32-10, float32, microseconds)" in text
    assert "| Adam step: flowgraph / torch.optim.Adam |" in text
