"""Hostile model files: truncated, foreign, tampered, forged, oversized or malformed files
are refused quickly, always as a ModelFileError naming what is wrong, before anything is
allocated or executed."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from helper_models import (
    edit_file_meta,
    file_arrays,
    file_meta,
    regression_model,
    residual_model,
    rewrite_file,
    trained_mlp,
    write_file,
)

import flowgraph as fg
from flowgraph import io


def test_truncated_file_is_refused(tmp_path):
    model, _ = trained_mlp()
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


def test_tampered_array_is_refused(tmp_path):
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")

    def tamper(arrays):
        arrays["param/W1"] = arrays["param/W1"].copy()
        arrays["param/W1"][0, 0] += 1.0

    rewrite_file(path, tamper)
    with pytest.raises(fg.ModelFileError, match="param/W1 was modified"):
        fg.load_model(path)


def test_missing_or_extra_arrays_are_refused(tmp_path):
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")
    rewrite_file(path, lambda arrays: arrays.pop("param/b2"))
    with pytest.raises(fg.ModelFileError, match="do not match the description"):
        fg.load_model(path)


def test_newer_format_version_is_refused(tmp_path):
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")
    edit_file_meta(path, lambda meta: meta.update(version=io.VERSION + 1))
    with pytest.raises(fg.ModelFileError, match=f"version {io.VERSION + 1}.* up to {io.VERSION}"):
        fg.load_model(path)


def test_inconsistent_architecture_is_refused(tmp_path):
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")
    edit_file_meta(path, lambda meta: meta["builder"]["config"].update(sizes=[4, 7, 3]))
    with pytest.raises(fg.ModelFileError, match="W1 has shape"):
        fg.load_model(path)
    path = model.save(tmp_path / "m.npz")
    edit_file_meta(path, lambda meta: meta["builder"]["config"].update(activation="swish"))
    with pytest.raises(fg.ModelFileError, match="invalid architecture"):
        fg.load_model(path)


def test_pickled_objects_are_never_executed(tmp_path):
    """An .npz holding an object array (a pickle) is refused, not unpickled."""
    model, _ = trained_mlp()
    path = model.save(tmp_path / "m.npz")

    def add_pickle(arrays):
        arrays["param/W1"] = np.array([{"evil": 1}], dtype=object)

    rewrite_file(path, add_pickle)  # np.savez pickles the object array
    with zipfile.ZipFile(path) as z:
        assert "param/W1.npy" in z.namelist()
    with pytest.raises(fg.ModelFileError, match="not a readable flowgraph model"):
        fg.load_model(path)


def test_tampered_description_is_refused(tmp_path):
    model, _ = regression_model()
    model.preprocessing = fg.Preprocessing("scale", factor=0.0625)
    path = model.save(tmp_path / "m.npz")
    meta, arrays = file_meta(path), file_arrays(path)
    for where in (meta, meta["metadata"]):  # what the model is fed: behaviour
        where["preprocessing"]["factor"] = 1.0
    write_file(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="description .* was modified"):
        fg.load_model(path)
    meta = file_meta(model.save(tmp_path / "m.npz"))
    meta["graph"]["nodes"][3]["box"] = "Tanh"  # the structure
    write_file(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="was modified"):
        fg.load_model(path)
    meta.pop("sha256_meta")
    write_file(path, meta, arrays, rehash=False)
    with pytest.raises(fg.ModelFileError, match="lacks its SHA-256"):
        fg.load_model(path)


def test_declared_sizes_are_checked_before_reading(tmp_path):
    model, box = regression_model()
    path = model.save(tmp_path / "m.npz")
    meta, arrays = file_meta(path), file_arrays(path)
    # a description declaring a 40 GB parameter: refused from the JSON alone
    meta["arrays"]["param/W"]["shape"] = [100_000, 100_000]
    write_file(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="more than the limit of"):
        fg.load_model(path, boxes=(box,))
    # an mlp config implying 40 GB
    mlp_path = fg.mlp([4, 3]).save(tmp_path / "mlp.npz")
    meta = file_meta(mlp_path)
    meta["builder"]["config"]["sizes"] = [100_000, 100_000, 3]
    write_file(mlp_path, meta, file_arrays(mlp_path))
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
    model, box = regression_model()
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
    model, box = regression_model()
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
    model, box = regression_model()
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
    model, box = regression_model()
    path = model.save(tmp_path / "m.npz")
    meta, arrays = file_meta(path), file_arrays(path)
    arrays["param/b"] = np.array([1], dtype=np.int64)  # an integer "parameter"
    meta["sha256"]["param/b"] = io.format.digest(arrays["param/b"])
    write_file(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="param/b has dtype int64"):
        fg.load_model(path, boxes=(box,))
    meta["arrays"]["param/b"]["dtype"] = "<i8"
    write_file(path, meta, arrays)
    with pytest.raises(fg.ModelFileError, match="declared '<i8'; parameters are floats"):
        fg.load_model(path, boxes=(box,))
    meta, arrays = file_meta(model.save(path)), file_arrays(path)
    arrays["param/b"] = arrays["param/b"].astype(np.float32)  # not what is declared
    meta["sha256"]["param/b"] = io.format.digest(arrays["param/b"])
    write_file(path, meta, arrays)
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
    sources.append(residual_model().save(tmp_path / "residual.npz"))  # a Block, constants
    refused = tried = 0
    pick = np.random.default_rng(0)
    for source in sources:
        original, arrays = file_meta(source), file_arrays(source)
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
            write_file(tmp_path / "junk.npz", meta, arrays)
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


def test_malformed_blocks_are_model_file_errors(tmp_path):
    model = residual_model()
    path = model.save(tmp_path / "r.npz")
    original, arrays = file_meta(path), file_arrays(path)
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
        write_file(tmp_path / "bad.npz", meta, arrays)
        with pytest.raises(fg.ModelFileError, match=message):
            fg.load_model(tmp_path / "bad.npz")


def test_an_mlp_file_computes_what_its_description_says_or_is_refused(tmp_path):
    """A model ``mlp`` built comes back rebuilt from its config: a file whose graph, blocks
    or roles are not what that config builds (the digest recomputed, as a forger would) is
    refused, and so is a builder flowgraph does not have."""
    path = fg.mlp([3, 4, 2], l2=0.1).save(tmp_path / "m.npz")
    original, arrays = file_meta(path), file_arrays(path)
    for edit, message in [
        (lambda m: m["graph"]["nodes"][13].update(name="total"), "its graph .* mlp\\(\\*\\*config"),
        (lambda m: m["graph"]["nodes"][4].update(box="ReLU"), "its graph .* mlp\\(\\*\\*config"),
        (lambda m: m["roles"].update(output="a2"), "its roles .* mlp\\(\\*\\*config"),
        (lambda m: m["blocks"].update(b0={}), "its blocks .* mlp\\(\\*\\*config"),
        (lambda m: m["builder"].update(name="resnet"), "unknown builder .*resnet"),
        (lambda m: m.update(builder=["mlp"]), "unknown builder"),
        (lambda m: m["builder"]["config"].update(sizes=[3, 5, 2]), "W1 has shape"),
        (lambda m: m["builder"].pop("config"), "lacks its architecture"),
    ]:
        meta = json.loads(json.dumps(original))
        edit(meta)
        write_file(tmp_path / "bad.npz", meta, arrays)
        with pytest.raises(fg.ModelFileError, match=message):
            fg.load_model(tmp_path / "bad.npz")
    write_file(tmp_path / "good.npz", json.loads(json.dumps(original)), arrays)
    assert isinstance(fg.load_model(tmp_path / "good.npz"), fg.MLP)  # the forger's tools work


def test_a_device_or_a_folder_is_no_model_file(tmp_path):
    with pytest.raises(fg.ModelFileError, match="not a regular file"):
        fg.load_model("/dev/zero")  # would read forever
    with pytest.raises(fg.ModelFileError, match="not a regular file"):
        fg.load_model(tmp_path)
