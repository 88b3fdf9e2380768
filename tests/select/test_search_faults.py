"""Reliability, faults: a search on local processes stopped by a signal leaves no worker
process behind; trials that the runner loses are retried, then reported, never hidden behind
a best of the survivors.

These tests use real signals and real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import flowgraph as fg
from flowgraph.select import grid_search
from flowgraph.select import search as search_module


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid`` now (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left to collect


def _wait_for(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_a_search_on_local_processes_stopped_by_a_signal_leaves_no_worker(tmp_path, sig):
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowgraph", "search", "--dataset", "digits", "--quiet",
         "--grid", "lr=0.01,0.02,0.03,0.04", "--set", "epochs=100000", "hidden=8",
         "--jobs", "2", "--out", str(tmp_path / "s")],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert _wait_for(lambda: len(_children(proc.pid)) >= 2, 120), "the workers never started"
    time.sleep(1.0)
    workers = _children(proc.pid)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if sig != signal.SIGKILL:  # stopped cleanly: the finished trials are printed
        assert proc.returncode == 130, err
        assert "Traceback" not in err
    assert _wait_for(lambda: not any(_alive(p) for p in workers), 30), (
        f"left behind: {[p for p in workers if _alive(p)]}"
    )


def _data():
    X, y = fg.datasets.make_blobs(90, seed=0)
    return ((X[:50], y[:50]), (X[50:70], y[50:70]), (X[70:], y[70:]))


SPACE = {"lr": [0.05, 0.1, 0.2], "epochs": 2, "batch_size": 16, "hidden": [4]}


def _losing(lose: set[int], times: int):
    """A serial runner that loses the trials in ``lose`` the first ``times`` runs."""
    real = search_module.run_serial
    runs = {"n": 0}

    def run(todo, data, callbacks):
        runs["n"] += 1
        for i, config, seed in todo:
            if i in lose and runs["n"] <= times:
                yield search_module.lost(i, config, seed, ConnectionError("worker gone"))
            else:
                yield from real([(i, config, seed)], data, callbacks)

    return run


def test_a_lost_trial_is_retried_and_then_the_search_is_whole(monkeypatch):
    monkeypatch.setattr(search_module, "run_serial", _losing({1}, times=1))
    result = grid_search(SPACE, _data(), progress=False)
    assert not result.lost_trials
    assert [t["status"] for t in result.trials] == ["ok", "ok", "ok"]
    assert result.test_error is not None


def test_trials_lost_for_good_are_reported_and_no_best_is_evaluated(monkeypatch):
    monkeypatch.setattr(search_module, "run_serial", _losing({0, 2}, times=99))
    with pytest.warns(RuntimeWarning, match=r"lost by the runner even after a retry: \[0, 2\]"):
        result = grid_search(SPACE, _data(), progress=False)
    assert [t["trial"] for t in result.lost_trials] == [0, 2]
    assert result.test_error is None and result.best_model is None


def test_a_runner_that_breaks_marks_its_trials_lost_and_retries_them(monkeypatch):
    real = search_module.run_serial
    calls = {"n": 0}

    def broken_once(todo, data, callbacks):
        calls["n"] += 1
        if calls["n"] == 1:
            yield from real(todo[:1], data, callbacks)
            raise OSError("the process pool was terminated abruptly")
        yield from real(todo, data, callbacks)

    monkeypatch.setattr(search_module, "run_serial", broken_once)
    result = grid_search(SPACE, _data(), progress=False)
    assert calls["n"] == 2 and not result.lost_trials
    assert [t["status"] for t in result.trials] == ["ok", "ok", "ok"]


def test_the_cli_exits_non_zero_and_names_lost_trials(monkeypatch, tmp_path, capsys):
    from flowgraph.cli import main

    monkeypatch.setattr(search_module, "run_serial", _losing({1}, times=99))
    argv = ["search", "--dataset", "blobs", "--n-samples", "120", "--quiet", "--grid",
            "lr=0.05,0.1,0.2", "--set", "epochs=2", "--out", str(tmp_path / "s")]  # fmt: skip
    with pytest.warns(RuntimeWarning):
        assert main(argv) == 1
    err = capsys.readouterr().err
    assert "1 trial(s) lost by the runner even after a retry (1)" in err
    assert os.path.exists(tmp_path / "s" / "trials.csv")
