"""flowgraph train --dropout P --batch-norm: trained, saved with the running statistics, and
a resumed run bit for bit the uninterrupted one (masks, buffers and all)."""

from __future__ import annotations

import numpy as np

import flowgraph as fg
from flowgraph.cli import main

RUN = ["train", "--dataset", "blobs", "--n-samples", "240", "--hidden", "8", "--no-progress",
       "--dropout", "0.2", "--batch-norm", "--patience", "0"]  # fmt: skip


def _state(folder):
    model = fg.load_model(folder / "model.npz")
    return model, model.state(buffers=True)


def test_dropout_and_batch_norm_from_the_command_line_resume_bit_for_bit(tmp_path, capsys):
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert main([*RUN, "--epochs", "4", "--out", str(whole)]) == 0
    assert main([*RUN, "--epochs", "2", "--out", str(part)]) == 0
    assert main(["train", "--resume", str(part), "--epochs", "4", "--no-progress"]) == 0
    (model, a), (_, b) = _state(whole), _state(part)
    assert model.config["dropout"] == 0.2 and model.config["batch_norm"]
    assert "running_mean1" in a and not np.allclose(a["running_mean1"], 0)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_a_dropout_of_one_is_refused_naming_the_option(tmp_path, capsys):
    assert main(["train", "--dropout", "1", "--out", str(tmp_path / "r")]) != 0
    assert "--dropout" in capsys.readouterr().err
