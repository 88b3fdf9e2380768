"""Saving and loading models: round trip, atomic writes, and refusing bad files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import io


def _trained(dtype=np.float32, **kwargs) -> tuple[fg.Model, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    X = rng.normal(size=(60, 4)) + np.eye(3, 4)[y]
    model = fg.mlp([4, 6, 3], dtype=dtype, seed=1, **kwargs)
    fg.train(
        model, (X, y), epochs=3, batch_size=10, optimizer=fg.SGD(model.parameters, 0.1),
        progress=False,
    )  # fmt: skip
    return model, X


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_predictions(tmp_path, dtype):
    model, X = _trained(dtype, activation="sigmoid", l2=0.01, l1=0.001)
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
    model, _ = _trained()
    model.metadata = {"dataset": "digits"}
    path = fg.save_model(model, tmp_path / "sub" / "model")
    assert path == tmp_path / "sub" / "model.npz" and path.exists()
    assert fg.load_model(path).metadata == {"dataset": "digits"}
    # written atomically: no temporary file is left beside it
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.npz"]


def test_metadata_must_be_json(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")
    before = path.read_bytes()
    with pytest.raises(TypeError, match="JSON-serialisable"):
        model.save(path, metadata={"array": np.zeros(2)})
    assert path.read_bytes() == before  # the old file is intact


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        fg.load_model(tmp_path / "nothing.npz")


def test_truncated_file_is_refused(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(fg.ModelFileError, match="truncated or not an .npz"):
        fg.load_model(cut)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(fg.ModelFileError, match="not a readable flowgraph model"):
        fg.load_model(junk)


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, weights=np.ones(3))
    with pytest.raises(fg.ModelFileError, match="not a flowgraph model"):
        fg.load_model(path)
    np.savez(path, __meta__=np.array(json.dumps({"format": "keras"})))
    with pytest.raises(fg.ModelFileError, match="format tag"):
        fg.load_model(path)


def _rewrite(path, edit) -> None:
    """Load every array of the .npz, let ``edit`` change the dict, write it back."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    edit(arrays)
    np.savez(path, **arrays)


def test_tampered_array_is_refused(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")

    def tamper(arrays):
        arrays["param/W1"] = arrays["param/W1"].copy()
        arrays["param/W1"][0, 0] += 1.0

    _rewrite(path, tamper)
    with pytest.raises(fg.ModelFileError, match="param/W1 was modified"):
        fg.load_model(path)


def test_missing_or_extra_arrays_are_refused(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")
    _rewrite(path, lambda arrays: arrays.pop("param/b2"))
    with pytest.raises(fg.ModelFileError, match="do not match the description"):
        fg.load_model(path)


def _edit_meta(path, change) -> None:
    def edit(arrays):
        meta = json.loads(str(arrays["__meta__"]))
        change(meta)
        arrays["__meta__"] = np.array(json.dumps(meta))

    _rewrite(path, edit)


def test_newer_format_version_is_refused(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")
    _edit_meta(path, lambda meta: meta.update(version=io.VERSION + 1))
    with pytest.raises(fg.ModelFileError, match=f"version {io.VERSION + 1}.* up to {io.VERSION}"):
        fg.load_model(path)


def test_inconsistent_architecture_is_refused(tmp_path):
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")
    _edit_meta(path, lambda meta: meta["builder"]["config"].update(sizes=[4, 7, 3]))
    with pytest.raises(fg.ModelFileError, match="W1 has shape"):
        fg.load_model(path)
    path = model.save(tmp_path / "m.npz")
    _edit_meta(path, lambda meta: meta["builder"]["config"].update(activation="swish"))
    with pytest.raises(fg.ModelFileError, match="invalid architecture"):
        fg.load_model(path)


def test_pickled_objects_are_never_executed(tmp_path):
    """An .npz holding an object array (a pickle) is refused, not unpickled."""
    model, _ = _trained()
    path = model.save(tmp_path / "m.npz")

    def add_pickle(arrays):
        arrays["param/W1"] = np.array([{"evil": 1}], dtype=object)

    _rewrite(path, add_pickle)  # np.savez pickles the object array
    with zipfile.ZipFile(path) as z:
        assert "param/W1.npy" in z.namelist()
    with pytest.raises(fg.ModelFileError, match="not a readable flowgraph model"):
        fg.load_model(path)


# -- any graph --------------------------------------------------------------------------------


def _regression_model():
    from helper_models import HalfSquaredError, linear_regression

    model = linear_regression()
    rng = np.random.default_rng(0)
    model["W"].value[:] = rng.normal(size=(1, 3))
    model["b"].value[:] = 0.5
    return model, HalfSquaredError


def test_any_graph_round_trips_with_its_user_boxes(tmp_path):
    model, HalfSquaredError = _regression_model()
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


class Shift(fg.Box):
    """x + c: a box whose constructor takes an argument (with a default) and that keeps the
    default config() (no arguments)."""

    def __init__(self, c=0.0):
        self.c = c

    def fprop(self, x):
        return x + self.c

    def bprop(self, inputs, output, grad):
        return (grad,)


class ScaleShift(fg.Scale):
    """c x + shift: adds an argument to a box whose config() (c only) its parent defines."""

    def __init__(self, c=1.0, shift=0.0):
        super().__init__(c)
        self.shift = shift


class SavedShift(Shift):
    def config(self):
        return {"c": self.c}


def _model_of(box) -> fg.Model:
    x = fg.Input("x")
    W = fg.Parameter(np.ones((1, 2)), "W")
    f = box(x @ W.T, name="f")
    return fg.Model(loss=fg.L2Penalty()(f), output=f)


@pytest.mark.parametrize(
    "box, names",
    [(Shift(2.0), r"Shift.__init__ takes arguments \(c\)"),
     (ScaleShift(3.0, shift=1.0), r"ScaleShift.__init__ takes arguments \(c, shift\)")],
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
    model = _model_of(SavedShift(2.0))
    loaded = fg.load_model(fg.save_model(model, tmp_path / "m.npz"), boxes=(SavedShift,))
    X = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert loaded["f"].box.c == 2.0


def test_every_flowgraph_box_says_how_to_rebuild_itself():
    from flowgraph.io.save import check_rebuildable

    own, _ = io.box_types()
    assert {"Linear", "Scale", "Block"} <= set(own)
    for cls in own.values():
        check_rebuildable(cls)  # raises for a box that would come back with its defaults


def test_version_1_files_still_load(tmp_path):
    """A file as flowgraph wrote it before format 2: kind mlp, no declared arrays, no digest
    of the description."""
    model, X = _trained(activation="relu", l2=0.01)
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


# -- crafted files: refused quickly, always as ModelFileError ----------------------------------


def _meta(path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return json.loads(str(data["__meta__"]))


def _write(path, meta, arrays, *, rehash: bool = True) -> None:
    """Write a model file by hand; ``rehash`` recomputes the description's digest (a forger
    who knows the format), so that the checks behind it are the ones tested."""
    if rehash:
        import hashlib

        meta["sha256_meta"] = hashlib.sha256(io.format.canonical(meta)).hexdigest()
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def _arrays(path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files if k != "__meta__"}


def test_tampered_description_is_refused(tmp_path):
    model, _ = _regression_model()
    model.preprocessing = fg.Preprocessing("scale", factor=0.0625)
    path = model.save(tmp_path / "m.npz")
    meta, arrays = _meta(path), _arrays(path)
    for where in (meta, meta["metadata"]):  # what the model is fed: behaviour
        where["preprocessing"]["factor"] = 1.0
    _write(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="description .* was modified"):
        fg.load_model(path)
    meta = _meta(model.save(tmp_path / "m.npz"))
    meta["graph"]["nodes"][3]["box"] = "Tanh"  # the structure
    _write(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="was modified"):
        fg.load_model(path)
    meta.pop("sha256_meta")
    _write(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="lacks its SHA-256"):
        fg.load_model(path)


def test_declared_sizes_are_checked_before_reading(tmp_path):
    model, box = _regression_model()
    path = model.save(tmp_path / "m.npz")
    meta, arrays = _meta(path), _arrays(path)
    # a description declaring a 40 GB parameter: refused from the JSON alone
    meta["arrays"]["param/W"]["shape"] = [100_000, 100_000]
    _write(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="more than the limit of"):
        fg.load_model(path, boxes=(box,))
    # an mlp config implying 40 GB
    mlp_path = fg.mlp([4, 3]).save(tmp_path / "mlp.npz")
    meta = _meta(mlp_path)
    meta["builder"]["config"]["sizes"] = [100_000, 100_000, 3]
    _write(mlp_path, meta, _arrays(mlp_path))
    with pytest.raises(fg.ModelFileError, match="needs 4000[0-9]{7} bytes .* max_bytes="):
        fg.load_model(mlp_path)
    # the limit is the caller's to raise
    path = model.save(tmp_path / "m.npz")
    with pytest.raises(fg.ModelFileError, match="limit of 16 bytes"):
        fg.load_model(path, boxes=(box,), max_bytes=16)
    assert fg.load_model(path, boxes=(box,), max_bytes=32).parameters[0].value.shape == (1, 3)


def test_a_zip_bomb_is_refused_before_decompressing(tmp_path):
    """A member that inflates to 64 MB from about 64 kB while the description declares
    three floats: refused from the zip's directory, nothing inflated."""
    model, box = _regression_model()
    path = model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as z:
        for name, data in members.items():
            if name == "param/W.npy":
                data = data[:128] + bytes(64 * 2**20)
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 2**20
    with pytest.raises(fg.ModelFileError, match=r"param/W: its member holds 67108992 bytes"):
        fg.load_model(bomb, boxes=(box,))


def _forge_uncompressed_size(path, member: str, size: int) -> None:
    """Overwrite a member's uncompressed size in the zip's central directory."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    at = data.index(b"PK\x01\x02")  # the first central directory entry
    while int.from_bytes(data[at + 28 : at + 30], "little") != len(name) or (
        data[at + 46 : at + 46 + len(name)] != name
    ):
        at = data.index(b"PK\x01\x02", at + 4)
    data[at + 24 : at + 28] = size.to_bytes(4, "little")
    path.write_bytes(bytes(data))


def test_forged_directory_sizes_are_refused(tmp_path):
    model, box = _regression_model()
    path = model.save(tmp_path / "m.npz")
    _forge_uncompressed_size(path, "param/b.npy", 2**31)  # stored: sizes must agree
    with pytest.raises(fg.ModelFileError, match="'param/b.npy' declares sizes"):
        fg.load_model(path, boxes=(box,))
    deflated = tmp_path / "deflated.npz"
    with zipfile.ZipFile(path := model.save(tmp_path / "m.npz")) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert fg.load_model(deflated, boxes=(box,)).forward(np.ones((1, 3))).shape == (1, 1)
    _forge_uncompressed_size(deflated, "param/b.npy", 2**31)
    with pytest.raises(fg.ModelFileError, match="a zip bomb"):
        fg.load_model(deflated, boxes=(box,))


@pytest.mark.parametrize(
    "members, message",
    [
        ({"evil.txt": b"x"}, "'evil.txt', which is not an array"),
        ({"param/extra.npy": None}, "do not match the description"),
    ],
)
def test_unexpected_members_are_refused(tmp_path, members, message):
    model, box = _regression_model()
    path = model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(path, "a") as z:
        for name, data in members.items():
            if data is None:
                buf = __import__("io").BytesIO()
                np.save(buf, np.zeros(2))
                data = buf.getvalue()
            z.writestr(name, data)
    with pytest.raises(fg.ModelFileError, match=message):
        fg.load_model(path, boxes=(box,))


def test_wrong_dtypes_are_refused(tmp_path):
    model, box = _regression_model()
    path = model.save(tmp_path / "m.npz")
    meta, arrays = _meta(path), _arrays(path)
    arrays["param/b"] = np.array([1], dtype=np.int64)  # an integer "parameter"
    meta["sha256"]["param/b"] = io.format.digest(arrays["param/b"])
    _write(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="param/b has dtype int64"):
        fg.load_model(path, boxes=(box,))
    meta["arrays"]["param/b"]["dtype"] = "<i8"
    _write(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="declared '<i8'; parameters are floats"):
        fg.load_model(path, boxes=(box,))
    meta, arrays = _meta(model.save(path)), _arrays(path)
    arrays["param/b"] = arrays["param/b"].astype(np.float32)  # not what is declared
    meta["sha256"]["param/b"] = io.format.digest(arrays["param/b"])
    _write(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="float32, the description says <f8"):
        fg.load_model(path, boxes=(box,))


JUNK = [None, True, -1.5, "junk", ["x"], {"a": 1}]


def _paths(obj, prefix=()):
    """Every place in a JSON document: (path, value)."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def test_every_malformed_field_is_a_model_file_error(tmp_path):
    """Each field of the description, in turn replaced by each kind of junk (the digest
    recomputed, as a forger would): the file loads or is refused with a ModelFileError,
    never a KeyError, TypeError or other traceback."""
    rng = np.random.default_rng(0)
    pixels, label = fg.Input("pixels"), fg.Input("label")
    W, b = fg.Parameter(rng.normal(size=(3, 4)), "W"), fg.Parameter(np.zeros(3), "b")
    a = fg.Linear()(pixels, W, b, name="a")
    loss = fg.Add()(fg.SoftmaxCrossEntropy()(a, label), fg.Scale(0.25)(fg.L2Penalty()(W)))
    graph_file = fg.Model(loss=loss, output=fg.Softmax()(a, name="p")).save(tmp_path / "g.npz")
    mlp_file = fg.mlp([2, 3, 2], l2=0.1).save(tmp_path / "mlp.npz", metadata={"k": [1]})
    sources = [graph_file, mlp_file]
    if HAS_BLOCKS:  # a Block used three times, constants inside and out
        sources.append(_residual_model().save(tmp_path / "residual.npz"))
    refused = tried = 0
    pick = np.random.default_rng(0)
    for source in sources:
        original, arrays = _meta(source), _arrays(source)
        cases = [
            (where, junk)
            for where, _ in _paths(original)
            if where and where[-1] != "sha256_meta"
            for junk in JUNK
        ]
        if len(cases) > 250:  # a fixed sample of the larger descriptions
            cases = [cases[i] for i in sorted(pick.choice(len(cases), 250, replace=False))]
        for where, junk in cases:
            meta = json.loads(json.dumps(original))
            parent = meta
            for key in where[:-1]:
                parent = parent[key]
            parent[where[-1]] = junk
            _write(tmp_path / "junk.npz", meta, arrays)
            tried += 1
            try:
                fg.load_model(tmp_path / "junk.npz")
            except fg.ModelFileError:
                refused += 1
            else:  # only free-form places take junk: metadata, flags, numbers, labels=None
                free = ("auto", "c", "classifier", "labels", "value")
                seedless = (where[-1] in ("seed", "preprocessing", "builder") and junk is None) or (
                    where[0] == "blocks" and where[-1] == "name" and isinstance(junk, str)
                )  # fmt: skip
                assert where[0] == "metadata" or where[-1] in free or seedless, (where, junk)
    assert tried > 200 and refused > tried // 2


# -- Blocks and constants (where this flowgraph has them) -------------------------------------

HAS_BLOCKS = hasattr(fg, "Block") and hasattr(fg, "SquaredError")

if HAS_BLOCKS:  # defined, and run, once the box library is in the tree

    def _residual_model():
        """A residual MLP: one Block used three times, each use with its own Parameters; a
        constant inside the block (0.5) and one outside (an array)."""
        rng = np.random.default_rng(0)
        h, W, b = fg.Input("h"), fg.Input("W"), fg.Input("b")
        res = fg.Block(fg.Graph(h + fg.tanh(h @ W.T + b) * 0.5), [h, W, b], name="res")
        x, t = fg.Input("x"), fg.Input("t")
        z = x
        for k in range(1, 4):
            Wk = fg.Parameter(rng.normal(size=(4, 4)) * 0.3, f"W{k}")
            z = res(z, Wk, fg.Parameter(np.zeros(4), f"b{k}"), name=f"res{k}")
        f = z @ fg.Parameter(rng.normal(size=(4, 1)), "V") + np.array([0.1])
        return fg.Model(loss=fg.SquaredError()(f, t, name="loss"), output=f)


    def test_a_block_used_three_times_is_saved_once_and_shared_again(tmp_path):
        model = _residual_model()
        rng = np.random.default_rng(1)
        feed = {"x": rng.normal(size=(30, 4)), "t": rng.normal(size=(30, 1))}
        path = model.save(tmp_path / "residual.npz")
        meta = _meta(path)
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
        model = fg.Model(loss=u.sum() + (v ** 2).mean() * np.float32(0.5), output=v)
        X = np.random.default_rng(0).normal(size=(5, 3))
        loaded = fg.load_model(model.save(tmp_path / "two.npz"))
        assert np.array_equal(loaded.forward(X), model.forward(X))
        assert loaded.loss_value({"x": X}) == model.loss_value({"x": X})
        kinds = {n.name: type(n.value) for n in loaded.graph.order if n.kind == "constant"}
        assert list(kinds.values()) == [np.ndarray]  # np.float32(0.5) was kept as a 0-d array
        inner = {type(n.value) for n in loaded["block1"].box.graph.order if n.kind == "constant"}
        assert inner == {int}  # a Python number stays one


    def test_malformed_blocks_are_model_file_errors(tmp_path):
        model = _residual_model()
        path = model.save(tmp_path / "r.npz")
        original, arrays = _meta(path), _arrays(path)
        for edit, message in [
            (lambda m: m["blocks"].pop("b0"), "uses block 'b0', which is not described"),
            (lambda m: m["blocks"].update(b1=m["blocks"]["b0"]), "described but never used"),
            (
                lambda m: m["blocks"]["b0"]["graph"]["nodes"][5].update(block="b0"),
                "contains itself",
            ),
            (lambda m: m["blocks"]["b0"].update(box="Linear"), "Linear is not a Block"),
            (lambda m: m["blocks"]["b0"].update(inputs=["h", "nope"]), "name no inner nodes"),
            (lambda m: m["graph"]["nodes"][3].update(output=3), "no output 3 of its block"),
        ]:
            meta = json.loads(json.dumps(original))
            edit(meta)
            _write(tmp_path / "bad.npz", meta, arrays)
            with pytest.raises(fg.ModelFileError, match=message):
                fg.load_model(tmp_path / "bad.npz")


# -- files written by earlier versions ----------------------------------------------------------

GOLDEN = Path(__file__).parent / "golden"
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
    np.testing.assert_array_equal(model.forward(X), np.array(model.metadata["outputs"]))
    path = fg.save_model(model, tmp_path / name)
    meta = _meta(path)
    assert meta["version"] == io.VERSION and "kind" not in meta and meta["graph"]["nodes"]
    assert (meta["builder"] is not None) == isinstance(model, fg.MLP)
    again = fg.load_model(path)
    np.testing.assert_array_equal(again.forward(X), model.forward(X))
    assert type(again) is type(model) and again.metadata == model.metadata
    assert again.preprocessing == model.preprocessing
