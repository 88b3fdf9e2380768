"""train(): per-example and mini-batch SGD, early stopping, callbacks, reproducibility, Ctrl-C,
divergence."""

from __future__ import annotations

import math
import os
import signal

import numpy as np
import pytest

import flowgraph as fg


def _blobs(n: int = 90, seed: int = 0, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clouds in 4-D; ``noise`` = the fraction of labels drawn at random."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]
    flip = rng.random(n) < noise
    y = np.where(flip, rng.integers(0, 3, n), y)
    return X, y


def _two_clouds(n: int, seed: int, flip: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.0, -1.0)
    return X, np.where(rng.random(n) < flip, 1 - y, y)


@pytest.mark.parametrize("batch_size", [1, 16])
def test_sgd_reduces_the_loss(batch_size):
    """batch_size=1 is the lecture's per-example SGD; larger is mini-batch."""
    X, y = _blobs()
    model = fg.mlp([4, 8, 3], seed=0)
    before = model.loss_value(X, y)
    steps = []

    class Count(fg.Callback):
        def on_step_end(self, model, step):
            steps.append(step)

    opt = fg.SGD(model.parameters, 0.05 if batch_size == 1 else 0.3)
    history = fg.train(
        model, (X, y), epochs=5, batch_size=batch_size, optimizer=opt, progress=False,
        callbacks=[Count()],
    )  # fmt: skip
    assert model.loss_value(X, y) < 0.5 * before
    assert history.train_loss[-1] < history.train_loss[0]
    assert model.error(X, y) < 0.2
    # one update per batch: ceil(N / batch_size) per epoch
    assert len(steps) == opt.t == 5 * math.ceil(90 / batch_size)
    assert history.epoch == [1, 2, 3, 4, 5]
    assert all(math.isnan(v) for v in history.valid_error)  # no validation set
    assert history.best_epoch is None


def test_history_records_each_epoch():
    X, y = _blobs()
    Xv, yv = _blobs(30, seed=1)
    model = fg.mlp([4, 8, 3], seed=0)
    opt = fg.SGD(model.parameters, 0.2, schedule="inverse", decay=0.1)
    history = fg.train(
        model, (X, y), (Xv, yv), epochs=3, batch_size=30, optimizer=opt, progress=False
    )
    assert len(history) == 3
    # the rate alpha_t after 3 updates per epoch
    assert history.lr == pytest.approx([0.2 / (1 + 0.1 * t) for t in (4, 7, 10)])
    assert history.valid_error[-1] == model.error(Xv, yv)
    assert history.best_epoch == int(np.argmin(history.valid_error)) + 1
    assert all(s >= 0 for s in history.seconds)
    records = history.records()
    assert records[0]["epoch"] == 1 and set(records[0]) >= {"train_loss", "valid_error", "lr"}
    d = history.to_dict()
    assert d["interrupted"] is False and d["train_error"] == history.train_error


def test_early_stopping_restores_the_best_epoch():
    """A tiny train set with 30% wrong labels, a large rate: the validation error reaches its
    best and then gets worse. The parameters at the end are those after the best epoch."""
    train_set, valid_set = _two_clouds(30, 0, 0.3), _two_clouds(200, 1, 0.0)
    model = fg.mlp([2, 50, 50, 2], seed=0)
    states = []

    class Record(fg.Callback):
        def on_epoch_end(self, model, history):
            states.append(model.state())

    patience = 10
    history = fg.train(
        model, train_set, valid_set, epochs=100, batch_size=5,
        optimizer=fg.SGD(model.parameters, 0.3, momentum=0.9),
        early_stopping=fg.EarlyStopping(patience), progress=False, callbacks=[Record()],
    )  # fmt: skip
    best = history.best_epoch
    assert history.stopped_early and not history.interrupted
    assert len(history) == best + patience  # the look-ahead
    assert history.valid_error[best - 1] == min(history.valid_error)
    assert history.valid_error[-1] > history.valid_error[best - 1]  # it did get worse
    for name, value in model.state().items():
        assert np.array_equal(value, states[best - 1][name]), name
        assert not np.array_equal(value, states[-1][name]), name
    assert model.error(*valid_set) == history.valid_error[best - 1]


def test_early_stopping_without_restoring_and_min_delta():
    train_set, valid_set = _two_clouds(30, 0, 0.3), _two_clouds(200, 1, 0.0)
    model = fg.mlp([2, 50, 50, 2], seed=0)
    stop = fg.EarlyStopping(patience=10, restore_best=False)
    history = fg.train(
        model, train_set, valid_set, epochs=100, batch_size=5,
        optimizer=fg.SGD(model.parameters, 0.3, momentum=0.9), early_stopping=stop,
        progress=False,
    )  # fmt: skip
    assert model.error(*valid_set) == history.valid_error[-1] != min(history.valid_error)
    # with a min_delta larger than any error, only the first epoch ever improves
    model = fg.mlp([2, 50, 50, 2], seed=0)
    history = fg.train(
        model, train_set, valid_set, epochs=100, batch_size=5,
        optimizer=fg.SGD(model.parameters, 0.3), early_stopping=fg.EarlyStopping(3, 1.0),
        progress=False,
    )  # fmt: skip
    assert history.best_epoch == 1 and len(history) == 4
    with pytest.raises(ValueError, match="patience must be >= 1"):
        fg.EarlyStopping(0)


def _run(model_seed: int, train_seed: int) -> dict[str, np.ndarray]:
    X, y = _blobs(noise=0.2)
    Xv, yv = _blobs(30, seed=1)
    model = fg.mlp([4, 16, 16, 3], seed=model_seed)
    fg.train(
        model, (X, y), (Xv, yv), epochs=4, batch_size=7, seed=train_seed,
        optimizer=fg.SGD(model.parameters, 0.1, momentum=0.9, schedule="power", decay=0.6),
        early_stopping=fg.EarlyStopping(2), progress=False,
    )  # fmt: skip
    return model.state()


def test_training_is_reproducible_bit_for_bit():
    a, b = _run(0, 0), _run(0, 0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c = _run(0, 1)  # another shuffling order
    assert not all(np.array_equal(a[k], c[k]) for k in a)
    d = _run(1, 0)  # another initialisation
    assert not all(np.array_equal(a[k], d[k]) for k in a)


def test_callback_can_stop_training():
    X, y = _blobs()

    class StopAfterTwo(fg.Callback):
        def __init__(self):
            self.began = self.ended = False

        def on_train_begin(self, model):
            self.began = True

        def on_epoch_end(self, model, history):
            return len(history) == 2

        def on_train_end(self, model, history):
            self.ended = True

    cb = StopAfterTwo()
    model = fg.mlp([4, 3])
    history = fg.train(
        model, (X, y), epochs=10, batch_size=10, optimizer=fg.SGD(model.parameters, 0.1),
        progress=False, callbacks=[cb],
    )  # fmt: skip
    assert len(history) == 2 and cb.began and cb.ended and not history.stopped_early


def test_ctrl_c_stops_at_the_end_of_the_batch():
    """A SIGINT sent to this process in the middle of epoch 3 ends training after that batch:
    train returns normally, with history.interrupted, and Ctrl-C behaves as before afterwards."""
    X, y = _blobs()
    Xv, yv = _blobs(30, seed=1)
    batches_per_epoch = 9
    steps = []

    class CtrlC(fg.Callback):
        def on_step_end(self, model, step):
            steps.append(step)
            if step == 2 * batches_per_epoch + 4:
                os.kill(os.getpid(), signal.SIGINT)

    model = fg.mlp([4, 8, 3], seed=0)
    handler_before = signal.getsignal(signal.SIGINT)
    history = fg.train(
        model, (X, y), (Xv, yv), epochs=50, batch_size=10, optimizer=fg.SGD(model.parameters, 0.1),
        early_stopping=fg.EarlyStopping(50), progress=False, callbacks=[CtrlC()],
    )  # fmt: skip
    assert history.interrupted and not history.stopped_early
    assert steps[-1] == 2 * batches_per_epoch + 4  # no batch after the one interrupted
    assert len(history) == 3  # the partial epoch is recorded
    assert history.best_epoch is not None and model.error(Xv, yv) == min(history.valid_error)
    assert signal.getsignal(signal.SIGINT) is handler_before


def test_a_huge_learning_rate_diverges_with_a_clear_error():
    """ReLU units are unbounded: with alpha = 1000 the loss overflows to NaN in the first
    epoch, and training stops at that batch rather than finishing the epoch."""
    X, y = _blobs()
    model = fg.mlp([4, 8, 3], activation="relu", seed=0)
    steps = []

    class Count(fg.Callback):
        def on_step_end(self, model, step):
            steps.append(step)

    with np.errstate(over="ignore", invalid="ignore"):
        with pytest.raises(fg.DivergenceError, match="epoch 1: .* (nan|inf); lower the learning"):
            fg.train(
                model, (X, y), epochs=20, batch_size=5, progress=False, callbacks=[Count()],
                optimizer=fg.SGD(model.parameters, 1e3),
            )  # fmt: skip
    assert len(steps) < 18  # an epoch has 18 batches


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(train=(np.zeros((5, 3)), np.zeros(5))), ValueError, r"shape \(N, 4\)"),
        (dict(train=(np.zeros((5, 4)), np.zeros(4))), ValueError, r"y must have shape \(5,\)"),
        (dict(train=(np.zeros((5, 4)), np.full(5, 3))), ValueError, r"labels must lie in \[0, 3\)"),
        (dict(train=(np.zeros((5, 4)), np.full(5, 0.5))), ValueError, "integers"),
        (dict(train=np.zeros((5, 4))), TypeError, r"\(X, y\) tuple"),
        (dict(epochs=0), ValueError, "epochs and batch_size must be >= 1"),
        (dict(early_stopping=fg.EarlyStopping()), ValueError, "valid=\\(X, y\\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, error, message):
    model = fg.mlp([4, 3])
    args = dict(
        train=_blobs(), epochs=1, batch_size=4, optimizer=fg.SGD(model.parameters, 0.1),
        progress=False,
    )  # fmt: skip
    args.update(kwargs)
    with pytest.raises(error, match=message):
        fg.train(model, args.pop("train"), **args)


def test_float_labels_that_are_whole_numbers_are_accepted(capsys):
    X, y = _blobs()
    model = fg.mlp([4, 3])
    fg.train(
        model, (X, y.astype(float)), epochs=1, batch_size=30,
        optimizer=fg.SGD(model.parameters, 0.1), progress=False,
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert out == "" and err == ""  # progress=False is silent


def test_progress_bar_shows_loss_and_validation_error(capsys):
    X, y = _blobs()
    model = fg.mlp([4, 3])
    fg.train(
        model, (X, y), (X, y), epochs=2, batch_size=30, optimizer=fg.SGD(model.parameters, 0.1),
    )  # fmt: skip
    err = capsys.readouterr().err
    assert "2/2" in err and "loss=" in err and "valid err=" in err


def test_history_plot_writes_a_png(tmp_path):
    X, y = _blobs()
    model = fg.mlp([4, 3])
    history = fg.train(
        model, (X, y), (X, y), epochs=3, batch_size=30, optimizer=fg.SGD(model.parameters, 0.1),
        progress=False,
    )  # fmt: skip
    fig = history.plot(tmp_path / "curves.png", title="blobs")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(fig.axes) == 2


# -- any Model, feeds, bad data -------------------------------------------------------------------


def _regression(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return {"x": X, "t": X @ np.array([[1.0], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(n, 1))}


def test_a_regression_model_trains_on_feeds_and_records_the_validation_loss():
    from helper_models import linear_regression

    model = linear_regression()
    train_feed, valid_feed = _regression(120, 0), _regression(40, 1)
    history = fg.train(
        model, train_feed, valid_feed, epochs=40, batch_size=10, progress=False,
        optimizer=fg.SGD(model.parameters, 0.05), early_stopping=fg.EarlyStopping(3),
    )  # fmt: skip
    np.testing.assert_allclose(model["W"].value, [[1.0, -2.0, 0.5]], atol=0.05)
    assert len(history.valid_loss) == len(history) and history.valid_loss[-1] < 0.02
    assert all(math.isnan(v) for v in history.train_error + history.valid_error)  # no classes
    # early stopping watched the validation loss, and restored the best epoch's parameters
    assert history.valid_loss[history.best_epoch - 1] == min(history.valid_loss)
    assert model.loss_value(valid_feed) == pytest.approx(min(history.valid_loss), rel=1e-12)
    with pytest.raises(ValueError, match="monitor='valid_error'.*needs a model with a"):
        fg.train(
            model, train_feed, valid_feed, epochs=1, batch_size=10, progress=False,
            optimizer=fg.SGD(model.parameters, 0.05),
            early_stopping=fg.EarlyStopping(3, monitor="valid_error"),
        )  # fmt: skip
    # (X, t) as a pair: the one data Input and the one target
    fg.train(model, (train_feed["x"], train_feed["t"]), epochs=1, batch_size=10,
             optimizer=fg.SGD(model.parameters, 0.05), progress=False)  # fmt: skip


def test_a_classifier_may_stop_on_its_validation_loss():
    train_set, valid_set = _two_clouds(30, 0, 0.3), _two_clouds(200, 1, 0.0)
    model = fg.mlp([2, 50, 50, 2], seed=0)
    history = fg.train(
        model, train_set, valid_set, epochs=100, batch_size=5, progress=False,
        optimizer=fg.SGD(model.parameters, 0.3, momentum=0.9),
        early_stopping=fg.EarlyStopping(5, monitor="valid_loss"),
    )  # fmt: skip
    best = history.best_epoch
    assert history.stopped_early and len(history) == best + 5
    assert history.valid_loss[best - 1] == min(history.valid_loss)
    assert model.loss_value(*valid_set) == pytest.approx(history.valid_loss[best - 1], rel=1e-6)
    assert all(0 <= e <= 1 for e in history.valid_error)  # the error is recorded all the same


@pytest.mark.parametrize(
    "train_set, valid_set, message",
    [
        ({"x": np.zeros((5, 4)), "y": np.zeros(4, int)}, None, r"y must have shape \(5,\)"),
        ({"x": np.zeros((0, 4)), "y": np.zeros(0, int)}, None, "train: no examples"),
        (_blobs(), (np.zeros((0, 4)), np.zeros(0, int)), "valid: no examples"),
        ({"x": np.zeros((5, 4)), "label": np.zeros(5, int)}, None, "'label', which is not"),
        ({"x": np.zeros((5, 4))}, None, "no array for Input 'y'"),
    ],
)
def test_feeds_are_checked_before_training(train_set, valid_set, message):
    model = fg.mlp([4, 3])
    with pytest.raises(fg.FlowgraphError, match=message):
        fg.train(model, train_set, valid_set, epochs=1, batch_size=4, progress=False,
                 optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_bad_data_not_divergence(bad):
    X, y = _blobs()
    X[17, 3] = bad
    model = fg.mlp([4, 3])
    before = model.state()
    with pytest.raises(fg.DataError, match=rf"train: array 'x' holds {bad} at index \(17, 3\)"):
        fg.train(model, (X, y), epochs=1, batch_size=4, progress=False,
                 optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip
    assert all(np.array_equal(v, model.state()[k]) for k, v in before.items())  # no step taken
    Xv, yv = _blobs(30, seed=1)
    Xv[0, 0] = bad
    with pytest.raises(fg.DataError, match=r"valid: array 'x' holds .* at index \(0, 0\)"):
        fg.train(model, _blobs(), (Xv, yv), epochs=1, batch_size=4, progress=False,
                 optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip


def test_unequal_lengths_name_the_arrays():
    from helper_models import linear_regression

    model = linear_regression()
    feed = _regression(20, 0)
    feed["t"] = feed["t"][:19]
    with pytest.raises(fg.DataError, match="same length along axis 0.*x has 20, t has 19"):
        fg.train(model, feed, epochs=1, batch_size=4, progress=False,
                 optimizer=fg.SGD(model.parameters, 0.1))  # fmt: skip


def test_regression_history_plots_its_losses(tmp_path):
    from helper_models import linear_regression

    model = linear_regression()
    history = fg.train(model, _regression(40, 0), _regression(20, 1), epochs=3, batch_size=10,
                       optimizer=fg.SGD(model.parameters, 0.05), progress=False)  # fmt: skip
    fig = history.plot(tmp_path / "curves.png")
    assert len(fig.axes) == 1 and (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["best epoch", "training loss", "validation loss"]


@pytest.mark.parametrize("output", ["the same scores, built twice", "another function"])
def test_train_error_is_counted_whatever_node_the_output_reads(output):
    """history.train_error is the fraction of training examples classified wrong whenever the
    model classifies (model.error works), also when its output does not read the loss's
    scores node: a softmax of the same scores built a second time, or of other scores."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, 2)), rng.integers(0, 3, 30)
    x, t = fg.Input("x"), fg.Input("y")
    V = fg.Parameter(rng.standard_normal((3, 2)), "V")
    if output == "another function":
        scores = fg.tanh(x @ V.T)  # argmax tanh(a) = argmax a: the same classes as the loss's
    else:
        scores = x @ V.T
    model = fg.Model(loss=fg.softmax_cross_entropy(x @ V.T, t), output=fg.softmax(scores))
    # lr 1e-300: the parameters do not move (in float64), so the running error is model.error
    history = fg.train(model, (X, y), epochs=2, batch_size=7, progress=False,
                       optimizer=fg.SGD(model.parameters, lr=1e-300))  # fmt: skip
    assert history.train_error == [pytest.approx(model.error(X, y), abs=1e-12)] * 2
    assert 0 < history.train_error[0] < 1
