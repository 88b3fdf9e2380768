"""The progress callback alone: a tqdm bar on a terminal; in a log, a plain line every few
epochs (about ten in all) and one where training stopped, never carriage-return redraws."""

from __future__ import annotations

import io

import numpy as np

import flowgraph as fg
from flowgraph.training.history import History
from flowgraph.training.progress import LINES, Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _history(n: int) -> History:
    h = History()
    for e in range(1, n + 1):
        h.append(epoch=e, train_loss=1.0 / e, train_error=0.5, valid_loss=float("nan"),
                 valid_error=0.25, lr=0.1, seconds=0.0)  # fmt: skip
    return h


def _drive(progress: Progress, epochs_run: int) -> None:
    progress.on_train_begin(None)
    h = History()
    for e in range(1, epochs_run + 1):
        h.append(**{k: v[e - 1] for k, v in _history(epochs_run).to_dict().items()
                    if isinstance(v, list)})  # fmt: skip
        progress.on_epoch_end(None, h)
    progress.on_train_end(None, h)


def test_a_log_gets_about_ten_plain_lines_and_no_carriage_returns():
    log = io.StringIO()
    _drive(Progress(200, stream=log), 200)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == LINES
    assert lines[-1].startswith("training: 200/200 epochs, loss=0.0050, train err=0.500")
    assert "valid err=0.250" in lines[-1]


def test_a_run_that_stops_early_says_where():
    log = io.StringIO()
    _drive(Progress(200, stream=log), 33)
    lines = log.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("training: 33/200 epochs")


def test_a_terminal_gets_the_tqdm_bar():
    tty = Terminal()
    _drive(Progress(5, stream=tty), 5)
    text = tty.getvalue()
    assert "\r" in text and "5/5" in text and "loss=" in text
    assert "training: 5/5 epochs" not in text  # no plain lines besides the bar


def test_a_resumed_run_starts_the_bar_where_it_stood():
    tty = Terminal()
    p = Progress(10, done=7, stream=tty)
    p.on_train_begin(None)
    assert "7/10" in tty.getvalue()
    p.close()


def test_train_without_progress_prints_nothing(capsys):
    X, y = fg.datasets.make_blobs(60, seed=0)
    model = fg.mlp([2, 3], seed=0)
    fg.train(model, (X, y), epochs=3, batch_size=20, progress=False,
             optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip
    assert capsys.readouterr().err == ""
    assert np.isfinite(model.loss_value(X, y))


def test_a_jupyter_kernel_stream_counts_as_interactive():
    from flowgraph.training.progress import interactive

    Kernel = type("OutStream", (io.StringIO,), {"__module__": "ipykernel.iostream"})
    assert interactive(Kernel()) and interactive(Terminal()) and not interactive(io.StringIO())
