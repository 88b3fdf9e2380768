"""Saving and loading models: round trip, atomic writes, and refusing bad files."""

from __future__ import annotations

import json
import zipfile

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
    _edit_meta(path, lambda meta: meta["config"].update(sizes=[4, 7, 3]))
    with pytest.raises(fg.ModelFileError, match="W1 has shape"):
        fg.load_model(path)
    path = model.save(tmp_path / "m.npz")
    _edit_meta(path, lambda meta: meta["config"].update(activation="swish"))
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
