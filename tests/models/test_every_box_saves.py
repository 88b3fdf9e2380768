"""Every box of the library comes back from a model file: a graph of one box on Inputs (its
``example()`` with its ``config()``), saved and loaded, computes what it computed. (A Block
is a graph, not one box: tests/io/test_model_files.py saves those.)"""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.check import all_box_classes


def one_box_model(cls):
    box = cls.example() if hasattr(cls, "example") else cls()
    values = box.sample_inputs(np.random.default_rng(0))
    inputs = [fg.Input(f"in{k}") for k in range(len(values))]
    out = box(*inputs)
    loss = fg.sum(out) if np.ndim(fg.Graph(out).fprop(dict(zip(inputs, values)))) else out
    return fg.Model(loss=loss, output=out, classifier=False), inputs, values


BOXES = [c for c in all_box_classes() if c is not fg.Block]


@pytest.mark.parametrize("cls", BOXES, ids=lambda c: c.__name__)
def test_a_graph_of_every_box_round_trips(cls, tmp_path):
    model, inputs, values = one_box_model(cls)
    before = model.predict_graph.fprop(dict(zip(inputs, values)))
    fg.save_model(model, tmp_path / "box.npz")
    back = fg.load_model(tmp_path / "box.npz")
    box = next(n.box for n in back.predict_graph.order if n.box is not None)
    assert type(box) is cls
    assert box.config() == model.output.box.config()
    after = back.predict_graph.fprop({back.graph[i.name]: v for i, v in zip(inputs, values)})
    np.testing.assert_array_equal(np.asarray(after), np.asarray(before))
