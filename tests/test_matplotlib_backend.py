"""The library draws on Figure objects and never chooses matplotlib's backend for the user.

A notebook's inline backend (or a desktop one) must survive ``history.plot("x.png")`` and the
other picture writers, whether pyplot was imported before the call or only after it. Each case
runs in a fresh interpreter, since the backend is process-wide state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
import numpy as np
import matplotlib
{before}
import flowgraph as fg
from flowgraph.plots import confusion_matrix, plot_confusion, plot_decision_boundary

X, y = fg.datasets.make_blobs(60, seed=0)
model = fg.mlp([2, 4, 3], seed=0)
history = fg.train(model, (X, y), (X, y), epochs=2, batch_size=10,
                   optimizer=fg.SGD(model.parameters, lr=0.1), progress=False)
history.plot("curves.png")
plot_confusion(confusion_matrix(y, model.predict(X)), "confusion.png")
plot_decision_boundary(model, X, y, "boundary.png", resolution=20)
import matplotlib.pyplot as plt
fig = plt.figure()
plt.plot([0, 1], [1, 0])
print("BACKEND", matplotlib.get_backend(), plt.get_backend())
plt.savefig("pyplot.svg")
"""


@pytest.mark.parametrize("before", ["", "import matplotlib.pyplot"], ids=["later", "earlier"])
def test_writing_pictures_leaves_the_backend_alone(tmp_path, before):
    env = {**os.environ, "MPLBACKEND": "svg",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT.format(before=before))],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "BACKEND svg svg" in proc.stdout, proc.stdout
    for name in ("curves.png", "confusion.png", "boundary.png"):
        assert (tmp_path / name).read_bytes().startswith(b"\x89PNG"), name
    assert (tmp_path / "pyplot.svg").read_text().lstrip().startswith("<?xml")
