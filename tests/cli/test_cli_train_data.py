"""`flowgraph train --data` and `flowgraph search --data`: a user's own CSV or NPZ file through
the one recipe; evaluate reports the file's own class names; bad files are one line, exit 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main

FAST = ["--hidden", "8", "--epochs", "6", "--patience", "0", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Two-class points in a CSV (labels as names, label column in the middle) and an NPZ."""
    folder = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 2))
    names = np.where(X[:, 0] + X[:, 1] > 0, "north", "south")
    rows = "".join(f"{a:.5f},{lab},{b:.5f}\n" for (a, b), lab in zip(X, names))
    (folder / "pts.csv").write_text("x1,side,x2\n" + rows)
    np.savez(folder / "pts.npz", inputs=X, target=(names == "north").astype(np.int64))
    return folder


def test_train_on_csv_then_evaluate_with_names(files, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.chdir(files)  # a relative --data; evaluate runs from elsewhere below
    assert main(["train", "--data", "pts.csv", "--label", "side", *FAST, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "pts.csv: 200 examples" in printed and "classes 0=north, 1=south" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_error"] < 0.25 and metrics["config"]["label"] == "side"
    assert (out / "boundary.png").is_file()  # two features: the decision regions are drawn
    model = fg.load_model(out / "model.npz")
    assert model.metadata["classes"] == ["north", "south"]
    assert model.metadata["dataset"] == str(files / "pts.csv")
    assert model.metadata["split"]["label"] == "side"
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", str(out / "model.npz")]) == 0
    shown = capsys.readouterr().out
    assert "pts.csv, test split of seed 0: 30 examples" in shown
    assert "north" in shown and "south" in shown  # the confusion matrix names the classes
    assert f"error {metrics['test_error']:.4f}" in shown


def test_train_on_npz_with_named_arrays(files, tmp_path, capsys):
    out = tmp_path / "npz"
    args = ["train", "--data", str(files / "pts.npz"), "--features", "inputs", "--label",
            "target", *FAST, "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "classes 0=0, 1=1" in capsys.readouterr().out
    assert json.loads((out / "metrics.json").read_text())["test_error"] < 0.25


def test_search_on_a_data_file(files, tmp_path, capsys):
    out = tmp_path / "search"
    args = ["search", "--data", str(files / "pts.csv"), "--label", "side", "--grid",
            "hidden=4,8", "--set", "epochs=4", "-q", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert "grid search on pts.csv: 2 of 2 trials" in capsys.readouterr().out
    best = fg.load_model(out / "best_model.npz")
    assert best.metadata["classes"] == ["north", "south"]
    assert main(["evaluate", str(out / "best_model.npz")]) == 0
    assert "north" in capsys.readouterr().out


@pytest.mark.parametrize("content, args, words", [
    (None, [], "no data file"),
    ("", [], "the file is empty"),
    ("a,b,c\n1,2,0\n3,4\n", [], "row 3 has 2 fields"),
    ("a,b,c\n1,2,0\n3,oops,1\n", [], "row 3, column 'b': 'oops' is not a number"),
    ("a,b,c\n1,2,0\n3,4,0\n", [], "at least two classes"),
    ("a,b,c\n1,NaN,0\n3,4,1\n", [], "every feature must be a finite number"),
    ("a,b,c\n1,2,0\n3,4,1\n", ["--label", "kind"], "no column 'kind'"),
    ("a,b,c\n1,2,0\n3,4,1\n", ["--features", "X"], "--features names the feature array"),
    ("a,b,c\n1,2,0\n3,4,1\n", ["--n-samples", "10"], "is used whole"),
    ("a,b,c\n1,2,0\n3,4,1\n", ["--dataset", "moons"], "not both"),
])  # fmt: skip
@pytest.mark.parametrize("command", ["train", "search"])
def test_bad_files_are_one_line_and_exit_2(tmp_path, capsys, command, content, args, words):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_text(content)
    extra = ["--epochs", "1"] if command == "train" else ["--grid", "hidden=4"]
    status = main([command, "--data", str(path), *args, *extra, "-q", "--out",
                   str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2 and words in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "model.npz").exists()


def test_too_large_a_file_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("flowgraph.datasets.files.MAX_FILE_BYTES", 50)
    monkeypatch.setattr(fg.datasets.from_file, "__kwdefaults__", {"label": None,
                        "features": None, "max_bytes": 50})  # fmt: skip
    path = tmp_path / "big.csv"
    path.write_text("a,b\n" + "1,0\n0,1\n" * 20)
    assert main(["train", "--data", str(path), "--epochs", "1", "-q"]) == 2
    assert "over 50 bytes (the limit)" in capsys.readouterr().err


def test_data_options_need_a_file(capsys):
    assert main(["train", "--data", "points.txt", "-q"]) == 2
    assert "--data takes a .csv or .npz file" in capsys.readouterr().err
    assert main(["train", "--dataset", "moons", "--label", "y", "-q"]) == 2
    assert "--label names a column or array of a data file" in capsys.readouterr().err


def test_a_run_on_a_data_file_resumes(files, tmp_path, capsys):
    out = tmp_path / "resumed"
    base = ["train", "--data", str(files / "pts.csv"), "--label", "side", "--hidden", "4",
            "--patience", "0", "-q"]  # fmt: skip
    assert main([*base, "--epochs", "2", "--out", str(out)]) == 0
    assert main(["train", "--resume", str(out), "--epochs", "4", "-q"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 4 and metrics["config"]["dataset"] == str(files / "pts.csv")
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--epochs", "6", "--label", "x1", "-q"]) == 2
    assert "--label x1 conflict" in capsys.readouterr().err
