"""Model files: what is saved comes back identical (any graph, its user boxes, Blocks,
metadata, preprocessing), files are written atomically, boxes must say how to rebuild
themselves, and every file an earlier version wrote still loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helper_models import file_meta, regression_model, residual_model, trained_mlp

import flowgraph as fg
from flowgraph import io
from flowgraph.io.save import check_rebuildable


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    model, X = trained_mlp(dtype, activation="sigmoid", l2=0.01, l1=0.001)
    path = model.save(tmp_path / "m.npz", metadata={"dataset": "blobs", "mean": [0.5, 1.0]})
    loaded = fg.load_model(path)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.config == model.config and loaded.dtype == dtype
    assert loaded.metadata == {"dataset": "blobs", "mean": [0.5, 1.0]}
    for name, value in model.state().items():
        assert np.array_equal(loaded.state()[name], value)
    # the penalties come back too: the same loss
    y = np.arange(60) % 3
    assert loaded.loss_value(X, y) == model.loss_value(X, y)


def test_save_model_adds_the_suffix_and_uses_model_metadata(tmp_path):
    model, _ = trained_mlp()
    model.metadata = {"dataset": "digits"}
    path = fg.save_model(model, tmp_path / "sub" / "model")
    assert path == tmp_path / "sub" / "model.npz" and path.exists()
    assert fg.load_model(path).metadata == {"dataset": "digits"}
    # written atomically: no temporary file is left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_metadata_must_be_json(tmp_path):
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON-serialisable"):
        model.save(path, metadata={"array": np.zeros(2)})
    assert path.read_bytes() == before  # the old file is intact


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fg.load_model(tmp_path / "nothing.npz")


def test_any_graph_round_trips_with_its_user_boxes(tmp_path):
    model, HalfSquaredError = regression_model()
    model.metadata = {"dataset": "synthetic"}
    model.preprocessing = fg.Preprocessing("none")  # on its Input x
    path = fg.save_model(model, tmp_path / "regression")
    with pytest.raises(fg.ModelFileError, match="'HalfSquaredError' .* boxes=\\(HalfSquaredError"):
        fg.load_model(path)  # a user box is never looked up by the name in the file
    loaded = fg.load_model(path, boxes=(HalfSquaredError,))
    X, T = np.random.default_rng(1).normal(size=(7, 3)), np.zeros((7, 1))
    assert np.array_equal(loaded.forward(X), model.forward(X))
    assert loaded.loss_value({"x": X, "t": T}) == model.loss_value({"x": X, "t": T})
    assert [n.name for n in loaded.graph.order] == [n.name for n in model.graph.order]
    assert [type(n.box) for n in loaded.graph.order] == [type(n.box) for n in model.graph.order]
    assert loaded.metadata == model.metadata and not loaded.classifier
    assert loaded.output.name == "f" and loaded.loss.name == "loss"


def test_a_classifier_graph_keeps_its_roles_and_box_arguments(tmp_path):
    rng = np.random.default_rng(0)
    pixels, label = fg.Input("pixels"), fg.Input("label")
    W, b = fg.Parameter(rng.normal(size=(3, 4)), "W"), fg.Parameter(np.zeros(3), "b")
    a = fg.Linear()(pixels, W, b, name="a")
    loss = fg.Add()(fg.SoftmaxCrossEntropy()(a, label), fg.Scale(0.25)(fg.L2Penalty()(W)))
    model = fg.Model(loss=loss, output=fg.Softmax()(a, name="p"))
    loaded = fg.load_model(model.save(tmp_path / "m.npz"))
    X, y = rng.normal(size=(9, 4)), np.arange(9) % 3
    assert loaded.classifier and loaded.labels.name == "label"
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.error(X, y) == model.error(X, y)
    assert loaded.loss_value(X, y) == model.loss_value(X, y)  # Scale(0.25) came back as 0.25


def test_a_box_that_cannot_be_rebuilt_is_refused_at_save(tmp_path):
    class Shift(fg.Box):  # takes an argument but does not define config()
        def __init__(self, c):
            self.c = c

        def fprop(self, x):
            return x + self.c

        def bprop(self, inputs, output, grad):
            return (grad,)

    x = fg.Input("x")
    model = fg.Model(loss=fg.L2Penalty()(Shift(1.0)(x)))
    with pytest.raises(TypeError, match=r"Shift\(\*\*config\(\)\) fails.*define"):
        fg.save_model(model, tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())
    with pytest.raises(TypeError, match="takes a Model, got Graph.*fg.Model"):
        fg.save_model(model.graph, tmp_path / "m.npz")


class Offset(fg.Box):
    """x + c: a box whose constructor takes an argument (with a default) and that keeps the
    default config() (no arguments)."""

    def __init__(self, c=0.0):
        self.c = c

    def fprop(self, x):
        return x + self.c

    def bprop(self, inputs, output, grad):
        return (grad,)


class ScaleOffset(fg.Scale):
    """c x + shift: adds an argument to a box whose config() (c only) its parent defines."""

    def __init__(self, c=1.0, shift=0.0):
        super().__init__(c)
        self.shift = shift


class SavedOffset(Offset):
    def config(self):
        return {"c": self.c}


def _model_of(box) -> fg.Model:
    x = fg.Input("x")
    W = fg.Parameter(np.ones((1, 2)), "W")
    f = box(x @ W.T, name="f")
    return fg.Model(loss=fg.L2Penalty()(f), output=f)


@pytest.mark.parametrize(
    "box, names",
    [(Offset(2.0), r"Offset.__init__ takes arguments \(c\)"),
     (ScaleOffset(3.0, shift=1.0), r"ScaleOffset.__init__ takes arguments \(c, shift\)")],
)  # fmt: skip
def test_a_box_with_arguments_but_no_config_is_refused_at_save(tmp_path, box, names):
    """Rebuilt from the default config() it would silently be another box (x + 0 instead
    of x + 2): refused at save, naming the box and the config() to add."""
    model = _model_of(box)
    with pytest.raises(TypeError, match=names + r".*node 'f'|node 'f'.*" + names) as e:
        fg.save_model(model, tmp_path / "m.npz")
    assert "def config(self): return {" in str(e.value) and '"c": self.c' in str(e.value)
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_box_that_returns_its_arguments_round_trips_with_them(tmp_path):
    model = _model_of(SavedOffset(2.0))
    loaded = fg.load_model(fg.save_model(model, tmp_path / "m.npz"), boxes=(SavedOffset,))
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert loaded["f"].box.c == 2.0


def test_every_flowgraph_box_says_how_to_rebuild_itself():
    own, _ = io.box_types()
    assert {"Linear", "Scale", "Block"} <= set(own)
    for cls in own.values():
        check_rebuildable(cls)  # raises for a box that would come back with its defaults


def test_version_1_files_still_load(tmp_path):
    """A file as flowgraph wrote it before format 2: kind mlp, no declared arrays, no digest
    of the description."""
    model, X = trained_mlp(activation="relu", l2=0.01)
    arrays = {f"param/{p.name}": p.value for p in model.parameters}
    meta = {
        "format": "flowgraph-model", "version": 1, "kind": "mlp", "config": model.config,
        "parameters": [p.name for p in model.parameters],
        "sha256": {k: io.format.digest(v) for k, v in arrays.items()}, "metadata": {"dataset": "x"},
    }  # fmt: skip
    path = tmp_path / "v1.npz"
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    loaded = fg.load_model(path)
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.config == model.config and loaded.metadata == {"dataset": "x"}


def test_a_block_used_three_times_is_saved_once_and_shared_again(tmp_path):
    model = residual_model()
    rng = np.random.default_rng(1)
    feed = {"x": rng.normal(size=(30, 4)), "t": rng.normal(size=(30, 1))}
    path = model.save(tmp_path / "residual.npz")
    meta = file_meta(path)
    assert list(meta["blocks"]) == ["b0"] and meta["blocks"]["b0"]["name"] == "res"
    uses = [n for n in meta["graph"]["nodes"] if "block" in n]
    assert [n["name"] for n in uses] == ["res1", "res2", "res3"]
    loaded = fg.load_model(path)
    assert np.array_equal(loaded.forward(feed), model.forward(feed))
    assert loaded.loss_value(feed) == model.loss_value(feed)
    roots = {id(n.box.root) for n in loaded.graph.order if isinstance(n.box, fg.Block)}
    assert len(roots) == 1  # one block, three uses, as built
    # and they train the same, step for step
    for m in (model, loaded):
        fg.train(m, feed, epochs=2, batch_size=10, progress=False,
                 optimizer=fg.SGD(m.parameters, 0.1))  # fmt: skip
    assert all(np.array_equal(v, loaded.state()[k]) for k, v in model.state().items())


def test_a_block_with_two_outputs_and_constants_round_trip(tmp_path):
    a, c, x = fg.Input("a"), fg.Input("c"), fg.Input("x")
    two = fg.Block(fg.Graph([a * c, a + 2]), [a, c], name="two")
    W = fg.Parameter(np.ones((3, 3)), "W")
    u, v = two(x @ W, x)
    model = fg.Model(loss=u.sum() + (v**2).mean() * np.float32(0.5), output=v)
    X = np.random.default_rng(0).normal(size=(5, 3))
    loaded = fg.load_model(model.save(tmp_path / "two.npz"))
    assert np.array_equal(loaded.forward(X), model.forward(X))
    assert loaded.loss_value({"x": X}) == model.loss_value({"x": X})
    kinds = {n.name: type(n.value) for n in loaded.graph.order if n.kind == "constant"}
    assert list(kinds.values()) == [np.ndarray]  # np.float32(0.5) was kept as a 0-d array
    inner = {type(n.value) for n in loaded["block1"].box.graph.order if n.kind == "constant"}
    assert inner == {int}  # a Python number stays one


GOLDEN = Path(__file__).parent.parent / "golden"


OLD_FILES = [
    "model_v1_mlp.npz",  # format 1: an MLP's config, no declared dtypes
    "model_v2_mlp.npz",  # format 2, kind mlp (with a standardisation)
    "model_v2_classifier.npz",  # format 2, kind graph: a classifier with its roles
    "model_v2_graph.npz",  # format 2, kind graph: a Block used twice, constants
    "model_v2_graph_before_core.npz",  # the same, when Block lived in flowgraph.boxes
]


@pytest.mark.parametrize("name", OLD_FILES)
def test_files_written_by_earlier_versions_load_and_compute_what_they_did(tmp_path, name):
    """Each golden file was written by the flowgraph of its format (tests/golden: format 2 at
    commits 12d4a3f and c78de2c, format 1 by hand as format 1 laid it out), with the inputs
    and the outputs f(x) that version computed in its metadata. Saved again, it is a file of
    today's one kind, and computes the same."""
    model = fg.load_model(GOLDEN / name)
    X = np.array(model.metadata["inputs"])
    # the same to the last few bits: another NumPy may sum in another order (the floors' 1.23)
    np.testing.assert_allclose(model.forward(X), np.array(model.metadata["outputs"]),
                               rtol=1e-13, atol=1e-15)
    path = fg.save_model(model, tmp_path / name)
    meta = file_meta(path)
    assert meta["version"] == io.VERSION and "kind" not in meta and meta["graph"]["nodes"]
    assert (meta["builder"] is not None) == isinstance(model, fg.MLP)
    again = fg.load_model(path)
    np.testing.assert_array_equal(again.forward(X), model.forward(X))
    assert type(again) is type(model) and again.metadata == model.metadata
    assert again.preprocessing == model.preprocessing


# -- written atomically ------------------------------------------------------------------------


def test_a_killed_save_leaves_no_temporary_file(tmp_path, monkeypatch):
    import os

    from flowgraph import io

    model = fg.mlp([2, 3, 3], seed=0)
    model.save(tmp_path / "m.npz")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        io.save_model(model, tmp_path / "m.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
    fg.load_model(tmp_path / "m.npz")


def test_a_save_killed_outright_leaves_nothing_after_the_next_save(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "m.npz"
    script = textwrap.dedent(f"""
        import os, sys, time
        import flowgraph as fg
        real = os.replace
        def stuck(*a, **k):
            print("writing", flush=True)
            time.sleep(60)
        os.replace = stuck
        fg.mlp([2, 3, 3], seed=0).save({str(target)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".m.npz.")  # the killed writer's temporary
    fg.mlp([2, 3, 3], seed=1).save(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]
