"""flowgraph train --resume DIR continues a run from its last finished epoch: the same result,
bit for bit, as one uninterrupted run of the same epochs (optimiser state, batch order, early
stopping and the log included)."""

from __future__ import annotations

import csv
import os
import signal
import sys

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main

RUN = ["train", "--dataset", "blobs", "--n-samples", "240", "--hidden", "8", "--no-progress"]


def _params(folder):
    return {p.name: p.value for p in fg.load_model(folder / "model.npz").parameters}


def _log(folder):
    with open(folder / "metrics.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


@pytest.mark.parametrize("extra", [["--optimizer", "adam", "--patience", "0"],
                                   ["--momentum", "0.9", "--patience", "4"]])  # fmt: skip
def test_three_epochs_then_resume_equals_one_run_of_six(tmp_path, extra, capsys):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main([*RUN, *extra, "--epochs", "6", "--out", str(whole)]) == 0
    assert main([*RUN, *extra, "--epochs", "3", "--out", str(part)]) == 0
    assert main(["train", "--resume", str(part), "--epochs", "6", "--no-progress"]) == 0
    assert "resuming" in capsys.readouterr().out
    a, b = _params(whole), _params(part)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    assert _log(whole) == _log(part)


def test_an_interrupted_run_resumes_from_its_last_finished_epoch(tmp_path, monkeypatch):
    whole, part = tmp_path / "whole", tmp_path / "part"
    argv = [*RUN, "--patience", "0", "--epochs", "5"]
    assert main([*argv, "--out", str(whole)]) == 0
    train_module = sys.modules["flowgraph.training.recipe"]
    real = train_module.train

    class CtrlC(fg.Callback):  # Ctrl-C in the middle of epoch 3
        def on_step_end(self, model, step):
            if step == 14:  # 168 training points in batches of 32: 6 per epoch
                os.kill(os.getpid(), signal.SIGINT)

    def interrupted(*args, callbacks=(), **kwargs):
        return real(*args, callbacks=[*callbacks, CtrlC()], **kwargs)

    monkeypatch.setattr(train_module, "train", interrupted)
    assert main([*argv, "--out", str(part)]) == 130
    monkeypatch.setattr(train_module, "train", real)
    assert main(["train", "--resume", str(part), "--no-progress"]) == 0
    a, b = _params(whole), _params(part)
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_resume_mistakes_are_one_line(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "no resume.npz there" in capsys.readouterr().err
    (tmp_path / "resume.npz").write_bytes(b"not a zip")
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "cannot be read" in capsys.readouterr().err
    done = tmp_path / "done"
    assert main([*RUN, "--epochs", "2", "--patience", "0", "--out", str(done)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(done), "--epochs", "2"]) == 2
    assert "already has 2 epochs" in capsys.readouterr().err
    early = tmp_path / "early"
    assert main([*RUN, "--epochs", "50", "--patience", "1", "--out", str(early)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(early), "--epochs", "60"]) == 2
    assert "stopped early" in capsys.readouterr().err


def _bytes(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def test_options_that_conflict_with_the_run_are_refused_by_name(tmp_path, capsys):
    run, other = tmp_path / "run", tmp_path / "other"
    assert main([*RUN, "--epochs", "2", "--patience", "0", "--out", str(run)]) == 0
    before = _bytes(run)
    capsys.readouterr()
    argv = ["train", "--resume", str(run), "--out", str(other), "--lr", "5", "--hidden", "50",
            "--dataset", "digits", "--epochs", "4"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    for named in (f"--out {other}", "--lr 5", "--hidden 50", "--dataset digits"):
        assert named in err, err
    assert "--epochs" not in err.split("conflict")[0]  # a safe option is no conflict
    assert _bytes(run) == before and not other.exists()  # nothing written anywhere


def test_options_equal_to_the_runs_own_and_the_safe_ones_apply(tmp_path, capsys):
    whole, part = tmp_path / "whole", tmp_path / "part"
    argv = [*RUN, "--patience", "0", "--lr", "0.1"]
    assert main([*argv, "--epochs", "4", "--out", str(whole)]) == 0
    assert main([*argv, "--epochs", "2", "--out", str(part)]) == 0
    capsys.readouterr()
    again = ["train", "--resume", str(part), "--out", str(part), "--lr", "0.1", "--hidden", "8",
             "--dataset", "blobs", "--epochs", "4", "-q"]  # fmt: skip
    assert main(again) == 0
    assert "resuming" in capsys.readouterr().out
    a, b = _params(whole), _params(part)
    assert all(np.array_equal(a[k], b[k]) for k in a) and _log(whole) == _log(part)


@pytest.mark.parametrize("patience", ["0", "1"])
def test_a_run_killed_while_writing_its_outputs_is_completed(tmp_path, capsys, patience):
    """Training ended (epoch limit, or early stopping), the outputs were never written: resuming
    trains nothing more and writes them, equal to those of the uninterrupted run."""
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    argv = [*RUN, "--epochs", "30", "--patience", patience]
    assert main([*argv, "--out", str(whole)]) == 0
    assert main([*argv, "--out", str(cut)]) == 0
    for name in ("manifest.json", "model.npz", "metrics.json", "curves.png"):
        (cut / name).unlink()  # what a SIGKILL in the middle of writing leaves
    capsys.readouterr()
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "manifest.json" in out
    a, b = _params(whole), _params(cut)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert _log(whole) == _log(cut)
    import json

    ma, mb = (json.loads((f / "metrics.json").read_text()) for f in (whole, cut))
    for key in ("epochs", "best_epoch", "stopped_early", "test_error", "valid_error"):
        assert ma[key] == mb[key], key
    # once whole, there is nothing left to do
    assert main(["train", "--resume", str(cut), "--no-progress"]) == 2
