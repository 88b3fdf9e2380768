"""The parts the loop calls, each alone: the stop flag (and how flags nest), early stopping as a
callback, the rollback on divergence, and continuing a run whose early stopping had stopped."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.training.divergence import Rollback
from flowgraph.training.history import History
from flowgraph.training.resume import TrainState, continue_from
from flowgraph.training.signals import StopFlag


def test_a_second_signal_raises():
    with StopFlag() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.set
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is not stop.handle  # restored


def test_flags_nest_both_ways():
    with StopFlag() as outer:
        with StopFlag() as inner:
            assert not inner.set
            os.kill(os.getpid(), signal.SIGINT)
            assert inner.set and not outer.set
        assert outer.set  # handed on: the caller knows training was asked to stop
        with StopFlag() as later:
            assert later.set  # a stop asked before it began still holds


def _history(values):
    h = History()
    for e, v in enumerate(values, 1):
        h.append(epoch=e, train_loss=v, train_error=0.0, valid_loss=v, valid_error=v, lr=0.1,
                 seconds=0.0)  # fmt: skip
    return h


class _Model:
    classifier = True

    def __init__(self):
        self.theta = {"w": np.zeros(1)}

    def state(self):
        return {k: v.copy() for k, v in self.theta.items()}

    def load_state(self, s):
        self.theta = {k: v.copy() for k, v in s.items()}


def test_early_stopping_as_a_callback_keeps_and_restores_the_best():
    model, stop = _Model(), fg.EarlyStopping(patience=2)
    stop.on_train_begin(model)
    values = [0.5, 0.3, 0.4, 0.35]
    halts = []
    for e in range(1, 5):
        model.theta["w"][:] = e
        halts.append(stop.on_epoch_end(model, _history(values[:e])))
    assert halts == [False, False, False, True] and stop.best_epoch == 2
    h = _history(values)
    stop.on_train_end(model, h)
    assert h.best_epoch == 2 and model.theta["w"][0] == 2  # the best epoch's parameters


def test_rollback_keeps_the_last_finite_epoch():
    model = _Model()
    rollback = Rollback(model)
    model.theta["w"][:] = 1
    rollback.keep(model, 1)
    model.theta["w"][:] = np.nan
    h = History()
    with pytest.raises(fg.DivergenceError, match="after epoch 1 are kept") as caught:
        rollback.check(model, h, 2, float("inf"), 0.5)
    assert model.theta["w"][0] == 1 and caught.value.history is h and h.diverged
    rollback.check(model, h, 3, 0.25, 0.5)  # a finite loss: nothing happens


def test_a_state_whose_early_stopping_had_stopped_trains_no_more():
    stop = fg.EarlyStopping(patience=2)
    state = TrainState(3, 30, np.random.default_rng(0).bit_generator.state,
                       _history([0.5, 0.6, 0.7]), {"best": 0.5, "best_epoch": 1, "wait": 2},
                       {"w": np.zeros(1)})  # fmt: skip
    history, first, step = continue_from(state, np.random.default_rng(1), stop)
    assert history.stopped_early and first > 10**9 and step == 30
    assert stop.best_epoch == 1 and stop.stopped


def test_train_continues_a_stopped_run_without_training(tmp_path):
    X, y = fg.datasets.make_blobs(120, seed=0)
    model = fg.mlp([2, 4, 3], dtype=np.float64, seed=0)
    sgd, state = fg.SGD(model.parameters, lr=0.1), TrainState()
    stopper = fg.EarlyStopping(patience=1)
    fg.train(model, (X[:80], y[:80]), (X[80:], y[80:]), epochs=50, batch_size=16, optimizer=sgd,
             early_stopping=stopper, progress=False, state=state)  # fmt: skip
    assert state.history.stopped_early
    done, theta = state.epoch, model.state()
    history = fg.train(model, (X[:80], y[:80]), (X[80:], y[80:]), epochs=60, batch_size=16,
                       optimizer=sgd, early_stopping=stopper, progress=False,
                       state=state)  # fmt: skip
    assert len(history) == done and history.stopped_early and sgd.t == state.step
    assert all(np.array_equal(theta[k], v) for k, v in model.state().items())
