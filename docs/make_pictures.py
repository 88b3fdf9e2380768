"""Draw the pictures README.md shows: ``python docs/make_pictures.py`` (needs Graphviz).

- docs/mlp.svg: the default network of ``flowgraph train`` (digits, 64-100-100-10, tanh, L2),
  trained (a few seconds), then drawn by ``flowgraph render --values --grads`` after one fprop
  and bprop on 8 digits of its dataset, top to bottom;
- docs/check.svg: a small network whose Tanh has a wrong bprop, after ``check_graph``: the
  wrong box is red, the others green, with the fprop/bprop order.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import flowgraph as fg
from flowgraph.cli import main

HERE = Path(__file__).parent


class WrongTanh(fg.Tanh):
    """tanh with a classic slip in bprop: (1 - h) instead of (1 - h^2)."""

    def bprop(self, inputs, output, grad_h):
        return (grad_h * (1 - output),)


def default_mlp() -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        if main(["train", "--out", tmp, "--no-progress"]) != 0:
            raise SystemExit("flowgraph train failed")
        out = HERE / "mlp.svg"
        args = ["render", f"{tmp}/model.npz", "-o", str(out), "--values", "--grads"]
        if main(args + ["--rankdir", "TB"]) != 0:
            raise SystemExit("flowgraph render failed")
    return out


def wrong_box() -> Path:
    rng = np.random.default_rng(0)
    x, y = fg.Input("x"), fg.Input("y")
    W1, b1 = fg.Parameter(rng.normal(size=(3, 2)), "W1"), fg.Parameter(np.zeros(3), "b1")
    W2, b2 = fg.Parameter(rng.normal(size=(2, 3)), "W2"), fg.Parameter(np.zeros(2), "b2")
    h1 = WrongTanh()(fg.Linear()(x, W1, b1, name="a1"), name="h1")
    loss = fg.SoftmaxCrossEntropy()(fg.Linear()(h1, W2, b2, name="a2"), y, name="loss")
    graph = fg.Graph(loss)
    report = fg.check_graph(graph, {x: rng.normal(size=(4, 2)), y: np.array([0, 1, 1, 0])})
    return fg.render(graph, HERE / "check.svg", check=report, order=True)


if __name__ == "__main__":
    for path in (default_mlp(), wrong_box()):
        print(f"wrote {path}")
