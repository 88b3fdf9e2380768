"""Model = graph + roles: which node is the loss, the output, the features, the targets and
labels; prediction and evaluation by role; the parameters as data."""

from __future__ import annotations

import numpy as np
import pytest
from helper_models import linear_regression

import flowgraph as fg


def _data(n: int = 12, d: int = 4, c: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.arange(n) % c


def test_state_round_trip_and_checks():
    model = fg.mlp([4, 5, 3], seed=0)
    other = fg.mlp([4, 5, 3], seed=1)
    X, _ = _data()
    assert not np.array_equal(model.predict_proba(X), other.predict_proba(X))
    other.load_state(model.state())
    assert np.array_equal(model.predict_proba(X), other.predict_proba(X))
    state = model.state()
    state["W1"][:] = 0  # a copy: the model is untouched
    assert model["W1"].value.any()
    with pytest.raises(KeyError, match="b2"):
        other.load_state({k: v for k, v in model.state().items() if k != "b2"})
    with pytest.raises(ValueError, match="W1: shape"):
        other.load_state({**model.state(), "W1": np.zeros((2, 2))})


def test_any_graph_is_a_model_with_roles():
    model = linear_regression()
    assert [i.name for i in model.inputs] == ["x", "t"]
    assert model.features == [model["x"]] and model.targets == [model["t"]]
    assert [p.name for p in model.parameters] == ["W", "b"]
    assert not model.classifier and model.labels is None and model.config == {}
    assert [n.name for n in model.predict_graph.order] == ["x", "W", "b", "f"]
    assert "t" not in model.predict_graph.nodes  # prediction needs no targets
    assert "loss 'loss'" in repr(model) and "4 parameters" in repr(model)
    model["W"].value[:] = [[1.0, 2.0, 3.0]]
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(model.forward({"x": X}), X @ [[1.0], [2.0], [3.0]])
    np.testing.assert_array_equal(model.forward(X), model.forward({"x": X, "t": np.zeros(2)}))
    assert model.loss_value({"x": X, "t": np.zeros((2, 1))}) == pytest.approx((8**2 + 26**2) / 4)
    with pytest.raises(fg.ModelError, match="classification output.*'f' \\(Linear\\)"):
        model.predict(X)
    with pytest.raises(AttributeError, match="no Input named 'y'"):
        model.y  # noqa: B018
    with pytest.raises(fg.FeedError, match="'z', which is not an Input"):
        model.forward({"x": X, "z": X})


def test_a_softmax_output_makes_a_classifier_whatever_the_names():
    rng = np.random.default_rng(0)
    pixels, label = fg.Input("pixels"), fg.Input("label")
    W = fg.Parameter(rng.normal(size=(3, 4)), "W")
    b = fg.Parameter(np.zeros(3), "b")
    a = fg.Linear()(pixels, W, b, name="a")
    model = fg.Model(loss=fg.SoftmaxCrossEntropy()(a, label), output=fg.Softmax()(a, name="p"))
    assert model.classifier and model.labels is label
    X, y = rng.normal(size=(10, 4)), np.arange(10) % 3
    P = model.predict_proba({"pixels": X})
    assert P.shape == (10, 3)
    assert model.error(X, y) == model.error({"pixels": X, "label": y})  # (X, y) finds the roles
    assert model.error(X, y) == pytest.approx(np.mean(P.argmax(1) != y))
    with pytest.raises(fg.ModelError, match="pass labels="):
        fg.Model(loss=fg.Add()(model.loss, fg.SoftmaxCrossEntropy()(a, fg.Input("other"))),
                 output=model.output)  # fmt: skip


def test_the_model_layer_never_imports_io_when_loaded():
    """io sits above model (it describes and rebuilds Models): no module of flowgraph/model
    imports flowgraph.io at module level, so there is no import circle between them."""
    import ast
    from pathlib import Path

    import flowgraph.model

    folder = Path(flowgraph.model.__file__).parent
    for path in sorted(folder.glob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert not target.startswith(("..io", "flowgraph.io")), (path.name, target)
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("flowgraph.io") for a in node.names), path.name


def test_save_is_a_delegate_to_the_file_layer(tmp_path):
    model = linear_regression()
    path = model.save(tmp_path / "m", metadata={"k": 1})
    assert path.name == "m.npz"
    from helper_models import HalfSquaredError

    assert fg.load_model(path, boxes=(HalfSquaredError,)).metadata == {"k": 1}
