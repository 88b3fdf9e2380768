"""flowgraph train can do what the library can: --l1-prox, --init, --hidden none/0,
--n-samples/--noise for the 2-D sets (with defaults that learn them), warnings for options
that have no effect; evaluate re-creates the same generated data."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main

QUICK = ["--no-progress", "--epochs", "5"]


def _metrics(out):
    return json.loads((out / "metrics.json").read_text())


def test_l1_prox_makes_weights_exactly_zero(tmp_path):
    assert main(["train", "--dataset", "blobs", *QUICK, "--hidden", "16", "--l1-prox", "0.5",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    model = fg.load_model(tmp_path / "model.npz")
    zeros = sum(int(np.count_nonzero(W.value == 0)) for W in model.weights)
    assert zeros > 0.3 * sum(W.value.size for W in model.weights)
    assert all(np.count_nonzero(b.value) > 0 for b in model.biases)  # never the biases
    assert _metrics(tmp_path)["config"]["l1_prox"] == 0.5


@pytest.mark.parametrize("init", ["zeros", "constant"])
def test_symmetric_inits_keep_every_hidden_unit_the_same(tmp_path, init):
    assert main(["train", "--dataset", "moons", *QUICK, "--hidden", "6", "--init", init,
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    W1 = fg.load_model(tmp_path / "model.npz").weights[0].value
    assert np.allclose(W1, W1[0])  # the lecture's symmetry: all rows (units) equal


@pytest.mark.parametrize("hidden", [["none"], ["0"], []])
def test_no_hidden_layer(tmp_path, hidden, capsys):
    assert main(["train", "--dataset", "blobs", *QUICK, "--hidden", *hidden,
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    assert "network 2 -> 3," in capsys.readouterr().out
    assert len(fg.load_model(tmp_path / "model.npz").weights) == 1


def test_zero_width_mixed_with_others_is_refused(capsys, tmp_path):
    assert main(["train", "--hidden", "10", "0", "--out", str(tmp_path)]) == 2
    assert "stands alone" in capsys.readouterr().err


def test_two_d_sets_get_their_size_and_noise_and_evaluate_recreates_them(tmp_path, capsys):
    out = tmp_path / "r"
    argv = ["train", "--dataset", "circles", *QUICK, "--n-samples", "300", "--noise", "0.2",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    assert "circles: 300 examples" in capsys.readouterr().out
    assert main(["evaluate", str(out / "model.npz")]) == 0
    text = capsys.readouterr().out
    assert "45 examples" in text  # 15% of the same 300 points


def test_noise_on_digits_is_one_line(capsys, tmp_path):
    assert main(["train", "--noise", "0.1", "--out", str(tmp_path)]) == 2
    assert "noise is for the 2-D sets" in capsys.readouterr().err


def test_default_moons_run_learns_a_curved_boundary(tmp_path, capsys):
    assert main(["train", "--dataset", "moons", "--no-progress", "--out", str(tmp_path)]) == 0
    assert "moons: 1000 examples" in capsys.readouterr().out
    assert _metrics(tmp_path)["test_error"] < 0.05  # a straight line leaves ~12% wrong


@pytest.mark.parametrize(
    "extra, note",
    [(["--schedule", "constant", "--decay", "0.01"], "--decay is ignored"),
     (["--schedule", "constant", "--warmup", "5"], "--warmup is ignored"),
     (["--l1", "0.01", "--l1-prox", "0.01"], "applied twice")],
)  # fmt: skip
def test_options_without_effect_are_warned_about(extra, note, tmp_path, capsys):
    assert main(["train", "--dataset", "blobs", *QUICK, *extra, "--out", str(tmp_path)]) == 0
    assert note in capsys.readouterr().err
