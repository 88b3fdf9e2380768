"""Resuming: N epochs, then the rest from a TrainState (with the parameters and the optimiser's
state of that moment), give the parameters and history of one uninterrupted run, bit for bit."""

from __future__ import annotations

import json

import numpy as np
import pytest

import flowgraph as fg


def _setup(stopping: bool):
    X, y = fg.datasets.make_blobs(150, seed=0)
    model = fg.mlp([2, 8, 3], dtype=np.float64, seed=0)
    sgd = fg.SGD(model.parameters, lr=0.1)
    stopper = fg.EarlyStopping(patience=3) if stopping else None
    return model, sgd, stopper, (X[:100], y[:100]), (X[100:], y[100:])


@pytest.mark.parametrize("stopping", [False, True])
def test_three_plus_rest_equals_one_run(stopping):
    model, sgd, stopper, train, valid = _setup(stopping)
    whole = fg.train(model, train, valid, epochs=8, batch_size=16, optimizer=sgd,
                     early_stopping=stopper, seed=3, progress=False)  # fmt: skip
    expected = model.state()

    model, sgd, stopper, train, valid = _setup(stopping)
    state, snapshot = fg.TrainState(), _Snapshot()
    fg.train(model, train, valid, epochs=3, batch_size=16, optimizer=sgd, callbacks=[snapshot],
             early_stopping=stopper, seed=3, progress=False, state=state)  # fmt: skip
    saved = json.loads(json.dumps(state.to_dict()))  # through a file's JSON
    params = snapshot.params  # at the end of epoch 3 (train restores the best ones after it)

    model, sgd, stopper, train, valid = _setup(stopping)
    model.load_state(params)
    resumed = fg.TrainState.from_dict(saved, best_state=state.best_state)
    rest = fg.train(model, train, valid, epochs=8, batch_size=16, optimizer=sgd,
                    early_stopping=stopper, seed=3, progress=False, state=resumed)  # fmt: skip
    assert rest.epoch == whole.epoch and rest.train_loss == whole.train_loss
    assert rest.valid_error == whole.valid_error and rest.best_epoch == whole.best_epoch
    for name, value in expected.items():
        assert np.array_equal(model.state()[name], value), name


class _Snapshot(fg.Callback):
    def on_epoch_end(self, model, history):
        self.params = model.state()
        return False


def test_a_malformed_state_is_a_clear_error():
    with pytest.raises(ValueError, match="not a training state"):
        fg.TrainState.from_dict({"epoch": 2})
    with pytest.raises(ValueError, match="epoch 5 but 0"):
        fg.TrainState.from_dict({"epoch": 5, "step": 0, "rng": None, "history": {
            k: [] for k in ("epoch", "train_loss", "train_error", "valid_loss", "valid_error",
                            "lr", "seconds")}})  # fmt: skip
