"""Reliability, faults: a diverged training run keeps the best parameters seen (or the last
finite ones), and the command line writes its files, says what happened and exits non-zero."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.cli import main


class _Poison(fg.Callback):
    """After epoch ``at``, a weight becomes NaN: the next epoch's loss is not finite."""

    def __init__(self, at):
        self.at, self.saved = at, None

    def on_epoch_end(self, model, history):
        if len(history) == self.at:
            self.saved = model.state()
            model.parameters[0].value[0, 0] = np.nan
        return False


def _data():
    X, y = fg.datasets.make_blobs(120, seed=0)
    return (X[:80], y[:80]), (X[80:], y[80:])


@pytest.mark.parametrize("stopping", [False, True])
def test_the_model_keeps_finite_parameters_and_the_error_carries_the_history(stopping):
    train, valid = _data()
    model = fg.mlp([2, 6, 3], dtype=np.float64, seed=0)
    poison = _Poison(at=3)
    stopper = fg.EarlyStopping(patience=50) if stopping else None
    with np.errstate(all="ignore"), pytest.raises(fg.DivergenceError, match="diverged in epoch 4"
                                                  ) as caught:  # fmt: skip
        fg.train(model, train, valid, epochs=10, batch_size=8, progress=False, callbacks=[poison],
                 optimizer=fg.SGD(model.parameters, lr=0.1), early_stopping=stopper)  # fmt: skip
    history = caught.value.history
    assert history.diverged and len(history) == 3
    state = model.state()
    assert all(np.all(np.isfinite(v)) for v in state.values())
    if stopping:  # the best epoch's parameters
        assert "best parameters" in str(caught.value) and history.best_epoch is not None
        assert np.isfinite(model.loss_value(*valid))
    else:  # those after epoch 3, before the poison
        assert "after epoch 3" in str(caught.value)
        for name, value in poison.saved.items():
            assert np.array_equal(state[name], value)


def test_the_cli_writes_every_file_and_exits_1_when_training_diverges(tmp_path, monkeypatch,
                                                                      capsys):  # fmt: skip
    train_module = importlib.import_module("flowgraph.training.recipe")
    real = train_module.train

    def poisoned(*args, callbacks=(), **kwargs):
        return real(*args, callbacks=[*callbacks, _Poison(at=2)], **kwargs)

    monkeypatch.setattr(train_module, "train", poisoned)
    status = main(["train", "--dataset", "blobs", "--n-samples", "200", "--epochs", "20",
                   "--no-progress", "--out", str(tmp_path)])  # fmt: skip
    assert status == 1
    out, err = capsys.readouterr()
    assert "diverged in epoch 3" in err and "every output was written" in err
    for name in ("model.npz", "metrics.json", "metrics.csv", "curves.png", "manifest.json"):
        assert (tmp_path / name).stat().st_size > 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["diverged"] is True and metrics["epochs"] == 2
    model = fg.load_model(tmp_path / "model.npz")
    assert all(np.all(np.isfinite(p.value)) for p in model.parameters)
