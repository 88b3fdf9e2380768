"""resume.npz is checked before anything in it is trusted: sizes read from the headers (nothing
allocated), the type of every stored field, every parameter present and of its shape, a SHA-256
of the whole, and stored options a run never writes (``resume``, ``out``) refused. Each bad file
is one ResumeFileError, and through the command line one line with exit status 2."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from flowgraph.cli import main
from flowgraph.training.resume_file import (
    RESUME,
    ResumeFileError,
    digest,
    read_resume_point,
)

RUN = ["train", "--dataset", "blobs", "--n-samples", "120", "--hidden", "4", "--no-progress",
       "--patience", "0"]  # fmt: skip
MEMORY = 2**30


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main([*RUN, "--epochs", "2", "--out", str(out)]) == 0
    return out


def _contents(path):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("__meta__")))
    return meta, arrays


def _write(path, meta, arrays, *, sign=True):
    if sign:
        meta = {**meta, "sha256": digest(meta, arrays)}
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def _edited(run_folder, tmp_path, edit, *, sign=True):
    meta, arrays = _contents(run_folder / RESUME)
    edit(meta, arrays)
    path = tmp_path / RESUME
    _write(path, meta, arrays, sign=sign)
    return path


def _set(where, key, value):
    def edit(meta, arrays):
        target = meta
        for k in where:
            target = target[k]
        target[key] = value

    return edit


def test_a_good_file_reads_back(run_folder):
    point = read_resume_point(run_folder / RESUME, MEMORY)
    assert point["state"].epoch == 2 and set(point["params"]) == {"W1", "b1", "W2", "b2"}
    assert point["args"]["hidden"] == [4] and "resume" not in point["args"]


@pytest.mark.parametrize(
    "edit, needle",
    [
        (_set(["state"], "epoch", "2"), "epoch must be a whole number"),
        (_set(["state"], "epoch", 7), "epoch 7 but 2 in its history"),
        (_set(["state"], "step", -1), "step must be a whole number"),
        (_set(["state"], "rng", "abc"), "rng must be a bit generator's state"),
        (_set(["state"], "history", []), "history must be a JSON object"),
        (_set(["state", "history"], "train_loss", ["x", "y"]), "train_loss must be a list"),
        (_set(["state", "history"], "interrupted", "yes"), "interrupted must be true or false"),
        (_set([], "args", ["--lr", "5"]), "args must be a JSON object"),
        (_set([], "buffers", {"velocity": "abc"}), "must be a list of true/false"),
        (_set([], "format", "other"), "not a flowgraph resume point"),
        (_set([], "version", 99), "version 99"),
        (_set([], "version", True), "version True"),  # true == 1, but is no version
        (_set([], "version", "2"), "version '2'"),
        (lambda meta, arrays: arrays.__setitem__("param/W1", arrays["param/W1"].astype(int)),
         "'param/W1' holds int64 values"),
    ],
)
def test_fields_of_the_wrong_type_are_refused(run_folder, tmp_path, edit, needle):
    path = _edited(run_folder, tmp_path, edit)
    with pytest.raises(ResumeFileError, match="resume.npz") as caught:
        read_resume_point(path, MEMORY)
    assert needle in str(caught.value)


def test_a_file_of_version_1_is_checked_field_by_field(run_folder, tmp_path):
    """A version-1 file has no hash to betray an edit: its fields' own checks refuse it."""

    def unhashed(edit):
        def change(meta, arrays):
            meta["version"] = 1
            edit(meta, arrays)

        return change

    int_param = unhashed(lambda meta, arrays: arrays.__setitem__(
        "param/W1", arrays["param/W1"].astype(np.int64)))  # fmt: skip
    for edit, needle in [(int_param, "'param/W1' holds int64"),
                         (unhashed(_set(["state"], "epoch", "2")), "epoch must be a whole")]:
        path = _edited(run_folder, tmp_path, edit, sign=False)
        with pytest.raises(ResumeFileError, match=needle):
            read_resume_point(path, MEMORY)


def test_any_change_without_the_hash_is_found(run_folder, tmp_path):
    for edit in (_set(["args"], "dataset", "moons"), _set(["args"], "lr", 5.0),
                 lambda meta, arrays: arrays["param/W1"].__setitem__((0, 0), 9.0)):  # fmt: skip
        path = _edited(run_folder, tmp_path, edit, sign=False)
        with pytest.raises(ResumeFileError, match="do not match their SHA-256"):
            read_resume_point(path, MEMORY)


def test_a_header_that_declares_a_huge_array_is_refused_unallocated(run_folder, tmp_path):
    path = tmp_path / RESUME
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    )
    with zipfile.ZipFile(run_folder / RESUME) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "param/W1.npy":
                data = header.getvalue() + b"\0" * 64
            dst.writestr(info.filename, data)
    with pytest.raises(ResumeFileError, match=r"declares shape \(10000000000,\)"):
        read_resume_point(path, MEMORY)
    with pytest.raises(ResumeFileError, match="beyond the 100 bytes of memory"):
        read_resume_point(run_folder / RESUME, 100)


def test_object_arrays_and_stray_members_are_refused(run_folder, tmp_path):
    meta, arrays = _contents(run_folder / RESUME)
    path = tmp_path / RESUME
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays, extra=np.zeros(2))
    with pytest.raises(ResumeFileError, match="unexpected member 'extra.npy'"):
        read_resume_point(path, MEMORY)
    arrays["param/W1"] = np.array(["a", "b"])
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(ResumeFileError, match="holds <U1, not numbers"):
        read_resume_point(path, MEMORY)


def _cli_refuses(folder, capsys, *needles):
    assert main(["train", "--resume", str(folder), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err


@pytest.mark.parametrize(
    "edit, needles",
    [
        (_set(["args"], "hidden", "abc"), ["--hidden must be a list of widths"]),
        (_set(["args"], "resume", "/other"), ["its options hold resume", "never stores"]),
        (_set(["args"], "out", "/other"), ["its options hold out"]),
        (_set(["args"], "dataset", "digits"), ["do not fit the network"]),
        (_set(["args"], "epochs", "ten"), ["--epochs must be a whole number"]),
        (lambda meta, arrays: arrays.pop("param/b2"), ["missing b2"]),
        (lambda meta, arrays: arrays.__setitem__("param/W1", np.zeros((3, 3))), ["do not fit"]),
        (lambda meta, arrays: arrays.pop("opt/velocity/0"), ["cannot be read"]),
    ],
)
def test_the_cli_refuses_a_bad_file_in_one_line(run_folder, tmp_path, capsys, edit, needles):
    folder = tmp_path / "bad"
    folder.mkdir()
    meta, arrays = _contents(run_folder / RESUME)
    edit(meta, arrays)
    _write(folder / RESUME, meta, arrays)
    _cli_refuses(folder, capsys, *needles)
    assert sorted(p.name for p in folder.iterdir()) == [RESUME]  # nothing written anywhere


def test_an_altered_file_is_refused_by_the_cli(run_folder, tmp_path, capsys):
    folder = tmp_path / "altered"
    folder.mkdir()
    meta, arrays = _contents(run_folder / RESUME)
    meta["args"]["dataset"] = "moons"  # trained on other data, silently: no
    _write(folder / RESUME, {**meta, "sha256": "0" * 64}, arrays, sign=False)
    _cli_refuses(folder, capsys, "SHA-256")


def test_a_file_of_version_1_without_a_hash_still_resumes(run_folder, tmp_path, capsys):
    folder = tmp_path / "v1"
    folder.mkdir()
    meta, arrays = _contents(run_folder / RESUME)
    meta = {k: v for k, v in meta.items() if k != "sha256"} | {"version": 1}
    _write(folder / RESUME, meta, arrays, sign=False)
    assert main(["train", "--resume", str(folder), "--epochs", "3", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out and (folder / "manifest.json").is_file()


@pytest.mark.parametrize("text", ["[" * 100_000, "[" * 65 + "]" * 65, '{"a": ' * 5000 + "1"])
def test_a_description_nested_too_deep_is_refused_without_recursing(run_folder, tmp_path, text):
    """The description is JSON read at most 64 levels deep: a file of [[[[... is one
    ResumeFileError, not a RecursionError from inside the decoder."""
    _, arrays = _contents(run_folder / RESUME)
    path = tmp_path / RESUME
    np.savez(path, __meta__=np.array(text), **arrays)
    with pytest.raises(ResumeFileError, match=r"nested \d+ deep; at most 64 levels"):
        read_resume_point(path, MEMORY)
