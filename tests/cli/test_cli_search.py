"""``flowgraph search``: the table, the best configuration and its test error, the files in
--out, and one-line errors with exit status 2 for bad input."""

from __future__ import annotations

import csv
import json

import pytest

from flowgraph.cli import main
from flowgraph.cli.search_cmd import parse_assignments

SMALL = ["--dataset", "digits", "--n-samples", "300", "--quiet"]


def test_grid_prints_the_sorted_table_and_the_best_and_writes_its_files(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["search", *SMALL, "--grid", "lr=0.01,0.1", "hidden=8,16x8",
            "--set", "epochs=3", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "grid search on digits: 4 of 4 trials" in text
    assert "hidden=16x8" in text or "hidden=8" in text
    assert "test error" in text
    rows = list(csv.DictReader(open(out / "trials.csv")))
    assert len(rows) == 4
    errors = [float(r["valid_error"]) for r in rows]
    assert errors == sorted(errors)
    assert {r["hidden"] for r in rows} == {"8", "16x8"} and {r["epochs"] for r in rows} == {"3"}
    # the printed table follows the same order
    table = text.split("\n")[1:6]
    assert [line.split()[0] for line in table[1:]] == [r["trial"] for r in rows]
    best = rows[0]
    assert f"best: trial {best['trial']}, validation error {float(best['valid_error']):.4f}" in text
    assert (out / "search.png").stat().st_size > 0 and (out / "best_model.npz").exists()


def test_random_search_from_a_space_file_on_two_processes(tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({
        "lr": {"loguniform": [0.01, 0.3]},
        "activation": {"choice": ["tanh", "relu"]},
        "hidden": [8, "8x8"],
        "epochs": 2,
    }))  # fmt: skip
    ckpt = tmp_path / "c.jsonl"
    argv = ["search", *SMALL, "--random", "4", "--space", str(space), "--jobs", "2",
            "--checkpoint", str(ckpt), "--out", str(tmp_path / "r")]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "random search on digits: 4 of 4 trials" in first
    rows = list(csv.DictReader(open(tmp_path / "r" / "trials.csv")))
    assert all(0.01 <= float(r["lr"]) <= 0.3 and r["activation"] in ("tanh", "relu") for r in rows)
    # the same command again resumes everything from the checkpoint
    assert main([*argv[:-4], "--checkpoint", str(ckpt), "--out", str(tmp_path / "r2")]) == 0
    second = capsys.readouterr().out
    assert "(4 from the checkpoint)" in second
    assert open(tmp_path / "r2" / "trials.csv").read() != ""
    again = list(csv.DictReader(open(tmp_path / "r2" / "trials.csv")))
    assert [(r["trial"], r["valid_error"]) for r in again] == [
        (r["trial"], r["valid_error"]) for r in rows
    ]


def test_hidden_sizes_on_the_command_line():
    assert parse_assignments(["hidden=50,100x100"], "--grid", many=True) == {
        "hidden": [(50,), (100, 100)]
    }
    assert parse_assignments(["lr=0.1", "patience=none"], "--set", many=False) == {
        "lr": 0.1,
        "patience": None,
    }


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "lrate=0.1"], "unknown hyper-parameter 'lrate'"),
        (["--grid", "lr=0.1x"], "'0.1x' is not a number"),
        (["--grid", "hidden=wide"], "hidden=wide"),
        (["--grid", "epochs=2.5"], "is not an integer"),
        (["--grid", "lr"], "NAME=VALUE"),
        (["--grid", "lr=0.1", "--random", "3"], "not both"),
        (["--random", "3"], "needs --space"),
        (["--random", "3", "--space", "nowhere.json"], "no such file"),
        ([], "give --grid"),
        (["--grid", "lr=0.1", "--jobs", "2", "--scheduler", "tcp://x:1"], "not both"),
        (["--grid", "lr=0.1", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    ],
)
def test_bad_input_is_one_line_and_exit_status_2(args, message, tmp_path, capsys):
    assert main(["search", "--quiet", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and err.startswith("flowgraph search: error:")


def test_a_space_file_that_is_not_json_or_not_a_distribution(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{lr: 1")
    assert main(["search", "--quiet", "--random", "2", "--space", str(bad)]) == 2
    assert "not valid JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"lr": {"gauss": [0, 1]}}))
    assert main(["search", "--quiet", "--random", "2", "--space", str(bad)]) == 2
    assert "a distribution is one of" in capsys.readouterr().err


def test_evaluate_reads_the_best_model_of_a_search(tmp_path, capsys):
    """The best model carries its dataset, split and preprocessing (the same defaults as
    flowgraph train), so flowgraph evaluate re-creates its test part and agrees."""
    out = tmp_path / "s"
    argv = ["search", *SMALL, "--grid", "lr=0.05,0.1", "--set", "epochs=3", "hidden=8",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    test_error = float(text.split("test error ")[1].split()[0])
    assert main(["evaluate", str(out / "best_model.npz")]) == 0
    shown = capsys.readouterr().out
    assert f"error {test_error:.4f}" in shown
    import flowgraph as fg

    best = fg.load_model(out / "best_model.npz")
    meta = best.metadata
    assert meta["preprocessing"]["kind"] == "scale" and meta["split"]["valid"] == 0.15
    # it owns that preprocessing: loaded, it takes the raw test part (pixels 0..16)
    from flowgraph.training.recipe import load_parts as _load_parts

    assert best.preprocessing == fg.Preprocessing.from_dict(meta["preprocessing"])
    parts, _ = _load_parts(meta["dataset"], None, meta["split"])
    assert f"{best.error(*parts['test']):.4f}" == f"{test_error:.4f}"
