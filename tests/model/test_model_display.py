"""A Model shows itself: ``model.summary()`` as text (Keras's summary: nodes, shapes,
parameter counts) and, in Jupyter, ``_repr_html_``: its picture above the same table."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from helper_models import residual_model

import flowgraph as fg
from flowgraph.model.summary import node_rows, output_shapes


def lines_of(text: str) -> dict[str, list[str]]:
    """The summary's table lines by their first word (node or parameter name)."""
    return {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}


def test_an_mlp_summary_lists_each_layer_its_shapes_and_its_parameters():
    model = fg.mlp([4, 6, 3], seed=0)
    text = model.summary(input_shape=(5, 4))
    rows = lines_of(text)
    assert rows["x"] == ["x", "Input", "(5,", "4)"]
    assert rows["a1"] == ["a1", "Linear", "x", "W1", "b1", "(5,", "6)", "30"]  # 6*4 + 6
    assert rows["h1"] == ["h1", "Tanh", "a1", "(5,", "6)"]
    assert rows["a2"] == ["a2", "Linear", "h1", "W2", "b2", "(5,", "3)", "21"]  # 3*6 + 3
    assert rows["output"][:3] == ["output", "Softmax", "a2"]
    assert rows["W1"] == ["W1", "(6,", "4)", "float32", "24"]
    assert rows["b2"] == ["b2", "(3,)", "float32", "3"]
    assert "Total parameters: 51" in text
    assert "(shapes from one fprop of the output on inputs of shape (5, 4))" in text
    assert rows["loss"][-1] == "?"  # the labels were not fed: the loss's shape is unknown


def test_shapes_come_from_the_last_fprop_and_a_given_shape_leaves_the_values_alone():
    model = fg.mlp([2, 3, 3], seed=0)
    assert "?" in lines_of(model.summary())["a1"]  # no fprop yet
    X, y = fg.datasets.make_blobs(8, seed=0)
    loss = model.loss_value(X, y)
    h1 = model["h1"].value.copy()
    text = model.summary()
    assert lines_of(text)["h1"][-2:] == ["(8,", "3)"] and lines_of(text)["loss"][-1] == "()"
    assert "(shapes from the last fprop)" in text
    assert lines_of(model.summary(input_shape=(2, 2)))["h1"][-2:] == ["(2,", "3)"]
    np.testing.assert_array_equal(model["h1"].value, h1)  # put back
    model.train_graph.bprop()  # the training graph's fprop still stands
    assert model.loss_value(X, y) == loss


def test_a_composed_graph_summary_counts_each_parameter_once():
    model = residual_model()
    text = model.summary(input_shape={"x": (7, 4)})
    rows = lines_of(text)
    assert rows["res1"][:4] == ["res1", "Block", "'res'", "x"]
    assert rows["res1"][-3:] == ["(7,", "4)", "20"]  # W1 (4, 4) and b1 (4,)
    assert rows["V"] == ["V", "(4,", "1)", "float64", "4"]
    assert f"Total parameters: {3 * 20 + 4}" in text
    shapes, _ = output_shapes(model, {"x": (7, 4)})
    counted = sum(r.params for r in node_rows(model, shapes))
    assert counted == sum(p.value.size for p in model.parameters)
    assert lines_of(model.summary(input_shape=(7, 4)))["res3"][-3:] == ["(7,", "4)", "20"]


def test_two_feature_inputs_need_their_shapes_by_name():
    a, b = fg.Input("a"), fg.Input("b")
    f = fg.Concat(axis=1)(a, b, name="f")
    model = fg.Model(loss=f.sum(), output=f)
    with pytest.raises(fg.ModelError, match="dict naming the shape of each of"):
        model.summary(input_shape=(2, 3))
    rows = lines_of(model.summary(input_shape={"a": (2, 3), "b": (2, 1)}))
    assert rows["f"][-2:] == ["(2,", "4)"]


def test_the_html_is_well_formed_escaped_and_holds_the_numbers():
    x = fg.Input("x<&>")
    W = fg.Parameter(np.ones((2, 3)), "W<b>")
    f = fg.Tanh()(x @ W.T, name="f&g")
    model = fg.Model(loss=f.sum(), output=f)
    model.forward({"x<&>": np.ones((5, 3))})
    html = model._repr_html_()
    root = ET.fromstring(html)  # one element, well formed (the SVG's XML prolog left out)
    assert root.tag == "div" and "<?xml" not in html and "<!DOCTYPE" not in html
    assert "W&lt;b&gt;" in html and "<b>W" not in html and "x&lt;&amp;&gt;" in html
    cells = [td.text for td in root.iter("td")]
    assert "(5, 2)" in cells and "6" in cells  # f's shape, W's elements
    assert "Total parameters: " in "".join(root.itertext())
    if shutil.which("dot"):
        assert root.find("{http://www.w3.org/2000/svg}svg") is not None


def test_without_graphviz_the_html_is_the_table(monkeypatch):
    monkeypatch.setenv("PATH", "")  # no `dot`: to_svg warns and gives no picture
    with pytest.warns(RuntimeWarning, match="Graphviz"):
        html = fg.mlp([2, 2], seed=0)._repr_html_()
    root = ET.fromstring(html)
    assert "<svg" not in html and len(list(root.iter("table"))) == 2


def test_an_executed_notebook_shows_a_model_and_its_history(tmp_path):
    """In Jupyter, the last expression of a cell is displayed: a Model as its picture and its
    summary table, a History as its table (nbclient runs the cells as Jupyter does)."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import numpy as np, flowgraph as fg\n"
            "X, y = np.random.default_rng(0).normal(size=(60, 4)), np.arange(60) % 3\n"
            "model = fg.mlp([4, 8, 3], seed=0)\n"
            "sgd = fg.SGD(model.parameters, lr=0.1)\n"
            "history = fg.train(model, (X[:40], y[:40]), (X[40:], y[40:]), epochs=3, "
            "batch_size=10, optimizer=sgd, progress=False)"
        ),
        nbformat.v4.new_code_cell("model"),
        nbformat.v4.new_code_cell("history"),
        nbformat.v4.new_code_cell("print(model.summary())"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    model_html = nb.cells[1].outputs[0]["data"]["text/html"]
    assert "<svg" in model_html and "<table" in model_html and "parameters" in model_html
    history_html = nb.cells[2].outputs[0]["data"]["text/html"]
    assert "<table" in history_html and "epoch" in history_html
    assert "Total" in nb.cells[3].outputs[0]["text"] or "total" in nb.cells[3].outputs[0]["text"]
