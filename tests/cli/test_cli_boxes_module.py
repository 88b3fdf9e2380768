"""``--boxes MODULE:CLASS`` finds a module in the folder the command runs in, as the installed
console script runs (its sys.path starts with its bin/ folder, not the current one), and
importing the module does not run the script kept under ``if __name__ == "__main__":``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import flowgraph as fg

MODULE = """
import numpy as np
import flowgraph as fg


class HalfMSE(fg.Box):
    arity, input_names = 2, ("f", "t")

    def fprop(self, f, t):
        return np.asarray(((f - t) ** 2).sum() / (2 * len(f)))

    def bprop(self, inputs, loss, grad_loss):
        f, t = inputs
        grad_f = grad_loss * (f - t) / len(f)
        return grad_f, -grad_f


if __name__ == "__main__":
    print("THE SCRIPT RAN")
"""

# what pip writes as bin/flowgraph, kept in a folder of its own as bin/ is
CONSOLE_SCRIPT = "import sys\nfrom flowgraph.cli import main\nsys.exit(main())\n"


def test_evaluate_finds_boxes_module_in_current_folder(tmp_path):
    work, bin_dir = tmp_path / "work", tmp_path / "bin"
    work.mkdir(), bin_dir.mkdir()
    (work / "block5.py").write_text(MODULE, encoding="utf-8")
    (bin_dir / "flowgraph").write_text(CONSOLE_SCRIPT, encoding="utf-8")
    sys.path.insert(0, str(work))
    try:
        import block5
    finally:
        sys.path.remove(str(work))
        sys.modules.pop("block5", None)
    rng = np.random.default_rng(0)
    x, t = fg.Input("x"), fg.Input("t")
    W, b = fg.Parameter(rng.normal(size=(1, 3)), "W"), fg.Parameter(np.zeros(1), "b")
    f = fg.Linear()(x, W, b, name="f")
    fg.Model(loss=block5.HalfMSE()(f, t, name="loss"), output=f).save(work / "model.npz")
    np.savez(work / "feed.npz", x=rng.normal(size=(20, 3)), t=rng.normal(size=(20, 1)))

    root = str(Path(fg.__file__).resolve().parents[1])  # this checkout's flowgraph
    env = {**os.environ, "PYTHONPATH": root}
    args = ["evaluate", "model.npz", "--feed", "feed.npz", "--boxes", "block5:HalfMSE"]
    run = subprocess.run(
        [sys.executable, str(bin_dir / "flowgraph"), *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert "loss" in run.stdout
    assert "THE SCRIPT RAN" not in run.stdout + run.stderr
