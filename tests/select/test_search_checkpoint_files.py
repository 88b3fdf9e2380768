"""Reliability, files: a search checkpoint is never modified unless it is verified to be one;
a half-written last record is dropped and the search goes on; an empty checkpoint or a
partial header is a fresh start."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.select import SearchError, grid_search

QUICK = {"epochs": 2, "batch_size": 16, "hidden": [4]}


def _data(seed=0):
    X, y = fg.datasets.make_blobs(90, seed=seed)
    return ((X[:50], y[:50]), (X[50:70], y[50:70]), (X[70:], y[70:]))


def _search(path, lrs=(0.1, 0.2)):
    return grid_search({**QUICK, "lr": list(lrs)}, _data(), checkpoint=path, progress=False)


@pytest.mark.parametrize(
    "content",
    [
        b'{"lr": {"loguniform": [0.001, 1]}, "epochs": 20}',  # a space file, no final newline
        b'{"lr": {"loguniform": [0.001, 1]}}\n{"x": 1}\n',
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)) * 4,  # a zip (a model file)
        b"\x00\xff\xfe binary",
        b"hello world\n",
    ],
)
def test_a_file_that_is_not_a_checkpoint_is_refused_and_left_untouched(tmp_path, content):
    path = tmp_path / "not-a-checkpoint"
    path.write_bytes(content)
    with pytest.raises(SearchError, match="not a flowgraph search checkpoint"):
        _search(path)
    assert path.read_bytes() == content


def test_a_saved_model_given_as_checkpoint_stays_loadable(tmp_path):
    model = fg.mlp([2, 3, 3], seed=0)
    path = model.save(tmp_path / "model.npz")
    before = path.read_bytes()
    with pytest.raises(SearchError, match="not a flowgraph search checkpoint"):
        _search(path)
    assert path.read_bytes() == before
    fg.load_model(path)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(SearchError, match="is a folder"):
        _search(tmp_path)


@pytest.mark.parametrize(
    "content", [b"", b'{"form', b'{"format": "flowgraph-search-checkpoint", "ver']
)
def test_an_empty_file_or_a_partial_header_is_a_fresh_start(tmp_path, content):
    path = tmp_path / "c.jsonl"
    path.write_bytes(content)
    result = _search(path)
    assert result.n_resumed == 0 and len(result.trials) == 2
    lines = path.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "flowgraph-search-checkpoint"
    assert len(lines) == 3  # the header and two trials
    again = _search(path)
    assert again.n_resumed == 2


def test_a_half_written_last_record_is_dropped_and_the_search_goes_on(tmp_path):
    path = tmp_path / "c.jsonl"
    first = _search(path)
    lines = path.read_bytes().split(b"\n")
    assert len(lines) == 4 and lines[-1] == b""  # header, two trials, final newline
    path.write_bytes(b"\n".join(lines[:2]) + b"\n" + lines[2][: len(lines[2]) // 2])
    resumed = _search(path)
    assert resumed.n_resumed == 1 and len(resumed.trials) == 2
    by_trial = {t["trial"]: t["valid_error"] for t in first.trials}
    assert {t["trial"]: t["valid_error"] for t in resumed.trials} == by_trial
    assert len(path.read_text().splitlines()) == 3
    assert all(json.loads(line) for line in path.read_text().splitlines())


def test_a_checkpoint_of_other_data_is_refused_untouched(tmp_path):
    path = tmp_path / "c.jsonl"
    _search(path)
    before = path.read_bytes()
    other = _data(seed=1)
    with pytest.raises(SearchError, match="other data"):
        grid_search({**QUICK, "lr": [0.1]}, other, checkpoint=path, progress=False)
    assert path.read_bytes() == before
    assert np.isfinite(json.loads(before.split(b"\n")[1])["valid_error"])


def test_a_run_folder_is_whole_once_its_manifest_is_written_last(tmp_path, monkeypatch):
    import hashlib

    from flowgraph.cli import main

    out = tmp_path / "run"
    argv = ["train", "--dataset", "moons", "--epochs", "3", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "flowgraph-run"
    names = set(manifest["files"])
    assert {"model.npz", "metrics.json", "metrics.csv", "curves.png", "graph.svg"} <= names
    newest = max((out / n).stat().st_mtime_ns for n in names)
    assert (out / "manifest.json").stat().st_mtime_ns >= newest
    for name, facts in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == facts["sha256"]
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + manifest["epochs"]
    # a second run into the same folder takes the old manifest away before it trains
    import sys

    def broken(*args, **kwargs):
        raise RuntimeError("a crash in the middle of training")

    monkeypatch.setattr(sys.modules["flowgraph.training.recipe"], "train", broken)
    with pytest.raises(RuntimeError):
        main(argv)
    assert not (out / "manifest.json").exists()
