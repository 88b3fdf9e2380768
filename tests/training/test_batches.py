"""The running training error of an epoch (training.batches): each step's predicted classes
kept in one array and compared with the labels once, at the epoch's end (issue 20: no
comparison per step), is the count batch by batch, exactly; scores whose argmax is not one
class per example of the batch fall back on the batch-by-batch count from there on."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
import flowgraph.training.batches as batches_module
from flowgraph.training.batches import Batches


def _setup(batch_size, n=23, seed=0):
    rng = np.random.default_rng(seed)
    model = fg.mlp([3, 5, 4], seed=seed)
    X, y = rng.standard_normal((n, 3)), rng.integers(0, 4, n)
    return model, Batches(model, model.as_feed((X, y)), batch_size)


def _one_epoch(model, batches, seed, tamper=None):
    """Every batch of one epoch through the training graph's fprop, counted both ways: the
    reference (wrong, batch by batch) and the epoch's array (count, then wrong_in_epoch)."""
    reference, start = 0, 0
    for k, (batch, parts) in enumerate(batches.epoch(np.random.default_rng(seed))):
        model.train_graph.fprop(batch)
        if tamper is not None:
            tamper(k, batches.scores)
        reference += batches.wrong(batch, parts)
        batches.count(batch, parts, start)
        start += len(parts[0])
    return reference, batches.wrong_in_epoch()


@pytest.mark.parametrize("batch_size", [1, 4, 7, 23, 50])
def test_the_epochs_count_is_the_sum_of_the_batches_counts(batch_size):
    model, batches = _setup(batch_size)
    assert batches.vectorised
    for seed in range(3):  # a new epoch starts its count from zero
        reference, counted = _one_epoch(model, batches, seed)
        assert counted == reference and 0 < counted < 23


def test_an_epoch_stopped_early_counts_the_batches_it_saw():
    model, batches = _setup(4)
    reference, start = 0, 0
    for k, (batch, parts) in enumerate(batches.epoch(np.random.default_rng(0))):
        model.train_graph.fprop(batch)
        reference += batches.wrong(batch, parts)
        batches.count(batch, parts, start)
        start += len(parts[0])
        if k == 2:  # Ctrl-C or a NaN loss: the loop stops after this batch
            break
    assert batches.wrong_in_epoch() == reference and start == 12


def test_scores_of_another_shape_are_counted_batch_by_batch_from_there_on():
    """One row of scores for a batch of four (a broadcast the array cannot hold): that batch
    and the rest are compared as before, one by one, and the sum is still exact."""
    model, batches = _setup(4)

    def one_row_at_the_third_batch(k, scores):
        if k == 2:
            scores.value = scores.value[:1]

    reference, counted = _one_epoch(model, batches, 0, one_row_at_the_third_batch)
    assert counted == reference
    assert batches.counted == 8 and batches.wrong_apart > 0  # the array held the first two


def test_scores_the_count_cannot_read_raise_as_before():
    model, batches = _setup(4)

    def one_dimensional(k, scores):
        scores.value = scores.value[:, 0]

    with pytest.raises(ValueError):  # argmax along axis 1 of a vector: NumPy's AxisError
        _one_epoch(model, batches, 0, one_dimensional)


def test_without_classes_nothing_is_counted():
    from helper_models import linear_regression

    rng = np.random.default_rng(0)
    model = linear_regression()
    X = rng.standard_normal((6, 3))
    batches = Batches(model, model.as_feed({"x": X, "t": X[:, :1]}), 4)
    assert not batches.counts_errors and not batches.vectorised
    reference, counted = _one_epoch(model, batches, 0)
    assert counted == reference == 0


# -- large data in batches of 16 or more: each batch gathered apart, the same rows -------------
@pytest.mark.parametrize("batch_size", [16, 20, 64])
def test_gathered_batches_are_the_shuffled_copys_slices(monkeypatch, batch_size):
    model, batches = _setup(batch_size, n=50)
    assert not batches.gather  # small data: one shuffled copy per epoch, cut into views
    copied = [(list(f.values()), p) for f, p in batches.epoch(np.random.default_rng(3))]
    monkeypatch.setattr(batches_module, "GATHER_BYTES", 0)
    model, batches = _setup(batch_size, n=50)
    assert batches.gather
    gathered = [(list(f.values()), p) for f, p in batches.epoch(np.random.default_rng(3))]
    assert len(gathered) == len(copied) == -(-50 // batch_size)
    for (feed_g, parts_g), (feed_c, parts_c) in zip(gathered, copied):
        for g, c in zip(parts_g + feed_g, parts_c + feed_c):
            assert g.dtype == c.dtype and g.flags.c_contiguous
            np.testing.assert_array_equal(g, c)
    reference, counted = _one_epoch(model, batches, 4)  # the running error, gathered too
    assert counted == reference


def test_training_on_gathered_batches_gives_the_same_bits(monkeypatch):
    def trained(gather_bytes):
        monkeypatch.setattr(batches_module, "GATHER_BYTES", gather_bytes)
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((200, 6)).astype(np.float32), rng.integers(0, 3, 200)
        model = fg.mlp([6, 8, 3], seed=0)
        history = fg.train(model, (X, y), epochs=3, batch_size=32, progress=False,
                           optimizer=fg.SGD(model.parameters, lr=0.1))  # fmt: skip
        return [p.value for p in model.parameters], history.train_loss, history.train_error

    (p1, loss1, err1), (p2, loss2, err2) = trained(1 << 62), trained(0)
    assert loss1 == loss2 and err1 == err2
    for a, b in zip(p1, p2):
        np.testing.assert_array_equal(a, b)
