"""``fg.export_onnx``: the file onnxruntime runs computes what the model computes, from raw
inputs (the preprocessing included), for every box with an ONNX counterpart; a box without
one stops the export with an error naming its node."""

from __future__ import annotations

import json
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helper_models import HalfSquaredError, residual_model

import flowgraph as fg
from flowgraph.export import ONNX_OPS, OnnxExportError


def run(path, **feed) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, feed)[0]


def classifier_data(n=50, d=4, c=3):
    rng = np.random.default_rng(0)
    y = np.arange(n) % c
    X = 3.0 + 5.0 * rng.normal(size=(n, d)) + 4.0 * np.eye(c, d)[y]  # raw: far from standard
    return X, y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_mlp_with_its_preprocessing_gives_predict_proba_of_raw_x(tmp_path, dtype):
    X, y = classifier_data()
    model = fg.mlp([4, 8, 3], activation="relu", seed=0, dtype=dtype)
    model.preprocessing = fg.Preprocessing.fit(X, "standardize")
    fg.train(model, (X, y), epochs=3, batch_size=10, optimizer=fg.SGD(model.parameters, 0.1),
             progress=False)  # fmt: skip
    path = fg.export_onnx(model, tmp_path / "mlp.onnx")
    P = run(path, x=X.astype(dtype))
    assert P.dtype == dtype and P.shape == (50, 3)
    np.testing.assert_allclose(P, model.predict_proba(X), atol=1e-5, rtol=0)
    assert not np.allclose(P, model.predict_proba((X - X.mean(0)) / X.std(0)), atol=1e-3)
    proto = onnx.load(str(path))
    assert [i.name for i in proto.graph.input] == ["x"]
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["N", 4]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(meta["preprocessing"])["kind"] == "standardize"
    assert proto.producer_name == "flowgraph"
    assert [n.op_type for n in proto.graph.node] == ["Sub", "Div", "Gemm", "Relu", "Gemm",
                                                     "Softmax"]  # fmt: skip


def test_scaling_and_no_preprocessing(tmp_path):
    X, _ = classifier_data()
    model = fg.mlp([4, 5, 3], seed=1)
    model.preprocessing = fg.Preprocessing.fit(X, "scale", factor=0.25)
    P = run(fg.export_onnx(model, tmp_path / "scaled.onnx"), x=X.astype(np.float32))
    np.testing.assert_allclose(P, model.predict_proba(X), atol=1e-5, rtol=0)
    bare = fg.export_onnx(model, tmp_path / "bare.onnx", preprocessing=False)
    np.testing.assert_allclose(run(bare, x=(X * 0.25).astype(np.float32)),
                               model.predict_proba(X), atol=1e-5, rtol=0)  # fmt: skip


def test_a_composed_classifier_of_many_boxes(tmp_path):
    """Two branches joined (Concat), weights shared, and nearly every box of the table."""
    rng = np.random.default_rng(3)
    x = fg.Input("x")
    W = fg.Parameter(rng.normal(size=(5, 4)) * 0.5, "W")
    b = fg.Parameter(np.zeros(5), "b")
    U = fg.Parameter(rng.normal(size=(4, 3)) * 0.5, "U")
    a = fg.Linear()(x, W, b, name="a")
    left = fg.LeakyReLU(0.1)(a) + fg.Softplus()(a) * fg.Sigmoid()(-a)
    right = fg.Exp()(fg.Scale(0.1)(x @ U)) - fg.Log()(fg.Abs()(x @ U) + 1.0)
    right = right / (fg.Square()(right) + 2.0) + fg.Pow(3)(fg.Tanh()(right))
    centre = right - right.mean(axis=1, keepdims=True) + right.sum(axis=1, keepdims=True) * 0.0
    h = fg.Concat(axis=1)(left, fg.Identity()(centre), (x @ W.T).T.T)  # W used twice
    h = fg.Reshape((-1, 13))(h)
    V = fg.Parameter(rng.normal(size=(3, 13)) * 0.3, "V")
    logits = fg.Linear()(h, V, fg.Parameter(np.zeros(3), "c"), name="logits")
    f = fg.Softmax()(logits, name="f")
    y = fg.Input("y")
    model = fg.Model(loss=fg.CrossEntropy()(f, y, name="loss"), output=f)
    X, _ = classifier_data()
    path = fg.export_onnx(model, tmp_path / "composed.onnx", example=X)
    np.testing.assert_allclose(run(path, x=X), model.predict_proba(X), atol=1e-5, rtol=0)
    used = {type(n.box) for n in model.predict_graph.order if n.box is not None}
    assert len(used & set(ONNX_OPS)) >= 20


def test_a_residual_graph_of_block_uses(tmp_path):
    model = residual_model()
    X = np.random.default_rng(1).normal(size=(9, 4))
    with pytest.raises(OnnxExportError, match="shape of Input 'x' is unknown .*: pass example="):
        fg.export_onnx(model, tmp_path / "residual.onnx")
    path = fg.export_onnx(model, tmp_path / "residual.onnx", example=X[:1])
    np.testing.assert_allclose(run(path, x=X), model.forward(X), atol=1e-5, rtol=0)
    names = {n.output[0] for n in onnx.load(str(path)).graph.node}
    assert {"res1", "res2", "res3"} <= names  # each use written, under its node's name
    model.forward(X[:2])  # the last value fed tells the shape too
    path = fg.export_onnx(model, tmp_path / "again.onnx", dtype=np.float32)
    got = run(path, x=X.astype(np.float32))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, model.forward(X), atol=1e-5, rtol=0)


@pytest.mark.parametrize("cls", sorted(ONNX_OPS, key=lambda c: c.__name__),
                         ids=lambda c: c.__name__)  # fmt: skip
def test_every_box_in_the_table_computes_its_fprop(tmp_path, cls):
    box = cls.example()
    values = list(box.sample_inputs(np.random.default_rng(0)))
    names = [box.input_name(i) for i in range(len(values))]
    inputs = [fg.Mode() if n == "mode" else fg.Input(f"in{i}") for i, n in enumerate(names)]
    values = [False if n == "mode" else v for n, v in zip(names, values)]  # (the file: eval)
    out = box(*inputs, name="out")
    model = fg.Model(loss=fg.Sum()(out), output=out, classifier=False)
    dtype = np.float32 if cls in (fg.Conv2d, fg.AvgPool2d) else np.float64  # (onnxruntime)
    feed = {f"in{i}": np.asarray(v, dtype=dtype if np.asarray(v).dtype.kind == "f" else np.int64)
            for i, (v, n) in enumerate(zip(values, names)) if n != "mode"}  # (labels: int64)
    path = fg.export_onnx(model, tmp_path / "box.onnx", example=feed, dtype=dtype)
    atol = 1e-4 if dtype == np.float32 else 1e-5
    np.testing.assert_allclose(run(path, **feed), box.fprop(*values), atol=atol, rtol=1e-5)


def test_a_convnet_gives_predict_proba(tmp_path):
    rng = np.random.default_rng(0)
    x, y = fg.Input("x"), fg.Input("y")
    net = fg.nn.Sequential(fg.nn.Conv2d(1, 4, 3, padding=1, rng=0), fg.nn.ReLU(),
                           fg.nn.MaxPool2d(2), fg.nn.Conv2d(4, 6, 3, rng=1), fg.nn.Tanh(),
                           fg.nn.AvgPool2d(2), fg.nn.Flatten(), fg.nn.Linear(6, 3, rng=2))
    scores = net(x)
    model = fg.Model(loss=fg.softmax_cross_entropy(scores, y), output=fg.softmax(scores))
    X = rng.standard_normal((5, 1, 8, 8)).astype(np.float32)
    path = fg.export_onnx(model, tmp_path / "convnet.onnx", example={"x": X}, dtype=np.float32)
    np.testing.assert_allclose(run(path, x=X), model.predict_proba(X), atol=1e-5)


def test_the_first_box_without_a_counterpart_is_named(tmp_path):
    x, t = fg.Input("x"), fg.Input("t")
    W = fg.Parameter(np.ones((1, 2)), "W")
    h = fg.Tanh()(x @ W.T, name="h")
    f = HalfSquaredError()(h, t, name="half")  # a user's box, read by the output
    model = fg.Model(loss=f, output=fg.Exp()(f, name="f"))
    with pytest.raises(OnnxExportError, match=r"node 'half' \(HalfSquaredError\) has no ONNX"):
        fg.export_onnx(model, tmp_path / "no.onnx")
    assert not (tmp_path / "no.onnx").exists()
    hb, hW = fg.Input("h"), fg.Input("W")
    inner = fg.Block(fg.Graph(HalfSquaredError()(hb, hW, name="inner")), [hb, hW], name="blk")
    z = inner(x, x * 2.0, name="use")
    inside = r"'inner' \(HalfSquaredError\) \(inside the Block use 'use'\)"
    with pytest.raises(OnnxExportError, match=inside):
        fg.export_onnx(fg.Model(loss=z, output=z), tmp_path / "no.onnx")


def test_without_onnx_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(OnnxExportError, match="pip install onnx"):
        fg.export_onnx(fg.mlp([2, 2], seed=0), tmp_path / "m.onnx")
    with pytest.raises(fg.ModelError, match="no output"):
        x = fg.Input("x")
        fg.export_onnx(fg.Model(loss=(x * 2.0).sum()), tmp_path / "m.onnx")


def test_a_block_of_two_outputs_used_once_gives_both(tmp_path):
    h, W = fg.Input("h"), fg.Input("W")
    two = fg.Block(fg.Graph([fg.tanh(h @ W.T), fg.sigmoid(h) * 2.0]), [h, W], name="two")
    x = fg.Input("x")
    a, b = two(x, fg.Parameter(np.random.default_rng(0).normal(size=(3, 3)), "P"), name="u")
    f = fg.Concat(axis=1)(b, a, name="f")
    model = fg.Model(loss=f.sum(), output=f)
    X = np.random.default_rng(1).normal(size=(5, 3))
    path = fg.export_onnx(model, tmp_path / "two.onnx", example=X)
    np.testing.assert_allclose(run(path, x=X), model.forward(X), atol=1e-12, rtol=0)


def test_dropout_and_batch_norm_export_the_evaluation_mode_with_running_statistics(tmp_path):
    X, y = classifier_data(60, d=4, c=3)
    x, t = fg.Input("x"), fg.Input("y")
    net = fg.nn.Sequential(fg.nn.Linear(4, 8, rng=0), fg.nn.BatchNorm1d(8), fg.nn.ReLU(),
                           fg.nn.Dropout(0.3), fg.nn.Linear(8, 3, rng=1))
    scores = net(x)
    model = fg.Model(loss=fg.softmax_cross_entropy(scores, t), output=fg.softmax(scores))
    fg.train(model, (X, y), epochs=3, batch_size=10, optimizer=fg.SGD(model.parameters, lr=0.1),
             progress=False)  # the running statistics move away from 0 and 1
    path = fg.export_onnx(model, tmp_path / "bn.onnx", example={"x": X})
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "BatchNormalization" in ops and "RandomUniformLike" not in ops
    expected = model.predict_proba(X)
    np.testing.assert_allclose(run(path, x=X.astype(model.dtype)), expected, atol=1e-5)


def test_a_convnet_with_batch_norm_2d(tmp_path):
    rng = np.random.default_rng(1)
    x, t = fg.Input("x"), fg.Input("y")
    net = fg.nn.Sequential(fg.nn.Conv2d(1, 3, 3, rng=0), fg.nn.BatchNorm2d(3), fg.nn.Tanh(),
                           fg.nn.Flatten(), fg.nn.Linear(3 * 4 * 4, 2, rng=1))
    scores = net(x)
    model = fg.Model(loss=fg.softmax_cross_entropy(scores, t), output=fg.softmax(scores))
    X = rng.standard_normal((6, 1, 6, 6)).astype(np.float32)
    model.train_graph.fprop({x: X, t: np.arange(6) % 2})  # (a training step's statistics)
    model.train_graph.update_buffers()
    path = fg.export_onnx(model, tmp_path / "cbn.onnx", example={"x": X}, dtype=np.float32)
    np.testing.assert_allclose(run(path, x=X), model.predict_proba(X), atol=1e-5)


def test_a_mode_that_is_fed_or_computed_is_refused(tmp_path):
    x, m = fg.Input("x"), fg.Input("m")
    out = fg.Dropout(0.5)(x, fg.uniform_like(x), m, name="drop")
    model = fg.Model(loss=out.sum(), output=out, classifier=False)
    with pytest.raises(OnnxExportError, match=r"'drop' \(Dropout\).*evaluation mode only"):
        fg.export_onnx(model, tmp_path / "m.onnx", example={"x": np.ones((2, 3)), "m": 1.0})


def test_comparisons_and_argmax_keep_their_types(tmp_path):
    x = fg.Input("x")
    out = fg.argmax(fg.where(x > 0.0, x, -x), axis=1)
    model = fg.Model(loss=x.sum(), output=out, classifier=False)
    X = np.random.default_rng(2).standard_normal((5, 4))
    path = fg.export_onnx(model, tmp_path / "arg.onnx", example={"x": X})
    got = run(path, x=X)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, model.forward(X))
