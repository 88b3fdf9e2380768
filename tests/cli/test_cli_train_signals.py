"""`flowgraph train` and signals: SIGTERM is handled like Ctrl-C (finish the batch, write
everything), and a signal at any moment, training or writing, leaves either a whole run (its
manifest) or one that `--resume` completes. These tests use real signals and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np

import flowgraph as fg


def test_sigterm_during_training_finishes_the_batch_and_writes_everything(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "flowgraph", "train", "--dataset", "moons", "--epochs", "100000",
         "--patience", "0", "--no-progress", "--out", str(out)],  # fmt: skip
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # the last header line: training starts right after it
        if line.startswith("SGD"):
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in rest
    for name in ("model.npz", "metrics.json", "curves.png", "graph.svg"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["interrupted"] is True and metrics["epochs"] >= 1
    fg.load_model(out / "model.npz")




FAST = ["train", "--dataset", "moons", "--n-samples", "200", "--hidden", "8", "--epochs", "5",
        "--patience", "0", "--no-progress"]  # fmt: skip


def _whole(out) -> bool:
    """A folder holds a whole run: its manifest, and every file it names agrees with it."""
    import hashlib

    path = out / "manifest.json"
    if not path.is_file():
        return False
    manifest = json.loads(path.read_text())
    return all(
        hashlib.sha256((out / name).read_bytes()).hexdigest() == facts["sha256"]
        for name, facts in manifest["files"].items()
    )


def _params(out):
    return {p.name: p.value for p in fg.load_model(out / "model.npz").parameters}


def _signal_while_writing(monkeypatch, times: int):
    """Send SIGINT to this process ``times`` times while the outputs are being written."""
    import os

    from flowgraph.cli import train_cmd

    real = train_cmd._boundary_png

    def boundary_with_signals(run, out):
        for _ in range(times):
            os.kill(os.getpid(), signal.SIGINT)
        return real(run, out)

    monkeypatch.setattr(train_cmd, "_boundary_png", boundary_with_signals)


def test_a_signal_while_the_outputs_are_written_waits_for_them(tmp_path, monkeypatch, capsys):
    from flowgraph.cli import main

    _signal_while_writing(monkeypatch, 1)
    assert main([*FAST, "--out", str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert "wrote every output first" in out and _whole(tmp_path)
    assert (tmp_path / "boundary.png").stat().st_size > 0
    fg.load_model(tmp_path / "model.npz")


def test_a_second_signal_while_writing_leaves_a_run_that_resume_completes(tmp_path, monkeypatch,
                                                                          capsys):  # fmt: skip
    from flowgraph.cli import main

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main([*FAST, "--out", str(whole)]) == 0
    _signal_while_writing(monkeypatch, 2)  # the user insists: stop now
    assert main([*FAST, "--out", str(cut)]) == 130
    assert not _whole(cut) and (cut / "resume.npz").is_file()
    monkeypatch.undo()
    capsys.readouterr()
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    assert _whole(cut)
    a, b = _params(whole), _params(cut)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_sigterm_at_any_moment_leaves_a_whole_or_a_resumable_run(tmp_path):
    """Real processes, SIGTERM at moments from the start of training to the end of writing:
    each folder holds a whole run, or `--resume` makes it whole."""
    moments = [("SGD", 0.0), ("epochs ", 0.0), ("epochs ", 0.05), ("epochs ", 0.3),
               ("epochs ", 0.8)]  # fmt: skip
    for i, (line_start, delay) in enumerate(moments):
        out = tmp_path / f"run{i}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "flowgraph", *FAST[:-3], "--epochs", "40", "--patience", "0",
             "--no-progress", "--out", str(out)],  # fmt: skip
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        for line in proc.stdout:
            if line.startswith(line_start):
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err
        assert proc.returncode in (0, 130), (i, proc.returncode, err)
        if not _whole(out):
            assert (out / "resume.npz").is_file(), i
            done = subprocess.run(
                [sys.executable, "-m", "flowgraph", "train", "--resume", str(out),
                 "--no-progress"], capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        assert _whole(out), i
