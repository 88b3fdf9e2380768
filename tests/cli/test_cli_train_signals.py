"""`flowgraph train` and signals: SIGTERM is handled like Ctrl-C (finish the batch, write
everything), and a signal at any moment, training or writing, leaves either a whole run (its
manifest) or one that `--resume` completes. These tests use real signals and real processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

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


