"""CSVLogger: one row per epoch, written as training goes, every digit kept."""

from __future__ import annotations

import csv

import numpy as np

import flowgraph as fg
from flowgraph.training import CSVLogger


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


class _RowsSoFar(fg.Callback):
    def __init__(self, path):
        self.path, self.seen = path, []

    def on_epoch_end(self, model, history):
        self.seen.append(len(_rows(self.path)))


def _fit(callbacks, epochs=4, seed=0):
    X, y = fg.datasets.make_blobs(80, seed=0)
    model = fg.mlp([2, 5, 3], dtype=np.float64, seed=seed)
    history = fg.train(model, (X[:60], y[:60]), (X[60:], y[60:]), epochs=epochs, batch_size=10,
                       optimizer=fg.SGD(model.parameters, lr=0.1), progress=False,
                       callbacks=callbacks)  # fmt: skip
    return history


def test_one_row_per_epoch_written_as_it_trains(tmp_path):
    path = tmp_path / "logs" / "metrics.csv"
    watch = _RowsSoFar(path)
    history = _fit([CSVLogger(path), watch])
    assert watch.seen == [1, 2, 3, 4]  # on disk after each epoch, not at the end
    rows = _rows(path)
    assert [int(r["epoch"]) for r in rows] == history.epoch
    assert [float(r["train_loss"]) for r in rows] == history.train_loss  # every digit
    assert [float(r["valid_error"]) for r in rows] == history.valid_error
    assert {"epoch", "train_loss", "train_error", "valid_error", "lr", "seconds"} <= set(rows[0])


def test_a_new_run_starts_the_file_anew_and_append_continues_it(tmp_path):
    path = tmp_path / "metrics.csv"
    _fit([CSVLogger(path)], epochs=3)
    _fit([CSVLogger(path)], epochs=2)
    assert len(_rows(path)) == 2
    _fit([CSVLogger(path, append=True)], epochs=3)
    assert len(_rows(path)) == 5
    assert path.read_text().count("epoch") == 1  # one header


def test_nan_is_an_empty_cell(tmp_path):
    path = tmp_path / "m.csv"
    X, y = fg.datasets.make_blobs(40, seed=1)
    model = fg.mlp([2, 3], seed=0)
    fg.train(model, (X, y), epochs=2, batch_size=8, optimizer=fg.SGD(model.parameters, lr=0.1),
             progress=False, callbacks=[CSVLogger(path)])  # fmt: skip
    assert [r["valid_error"] for r in _rows(path)] == ["", ""]
