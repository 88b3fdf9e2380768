"""flowgraph.analysis.lottery: magnitude pruning and winning tickets, on a little digits data."""

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import analysis as A
from flowgraph.analysis import data as D


@pytest.fixture(scope="module")
def digits():
    d = D.load("digits")
    return D.split(d["X"], d["y"], 150, n_test=300, seed=0)


def test_magnitude_masks_prune_the_smallest_weights_of_each_layer():
    model = fg.mlp([6, 10, 4], seed=0)
    masks = A.magnitude_masks(model, 0.5)
    W1, W2 = model.weights
    assert masks[W1].sum() == 30 and masks[W2].sum() == 30  # 50% of 60; output 25% of 40
    assert np.abs(W1.value[masks[W1] == 0]).max() <= np.abs(W1.value[masks[W1] == 1]).min()
    again = A.magnitude_masks(model, 0.5, masks)  # prunes half of what is left
    assert again[W1].sum() == 15 and np.all(again[W1] <= masks[W1])
    assert again[W2].sum() == 30 - round(0.25 * 30) and np.all(again[W2] <= masks[W2])
    assert A.sparsity(again) == pytest.approx((again[W1].sum() + again[W2].sum()) / 100)
    with pytest.raises(A.AnalysisError, match="fraction"):
        A.magnitude_masks(model, 1.0)


def test_pruned_weights_are_exactly_zero_after_training(digits):
    train, _ = digits
    model = fg.mlp([64, 20, 10], seed=0)
    masks = A.magnitude_masks(model, 0.7)
    A.train_masked(model, masks, train, epochs=3, batch_size=16, lr=0.05)
    for W, m in masks.items():
        assert np.all(W.value[m == 0] == 0.0)
        assert np.count_nonzero(W.value[m == 1]) == int(m.sum())  # the others did train


def test_lottery_ticket_rounds(digits):
    train, test = digits
    model = fg.mlp([64, 20, 10], "relu", seed=0)
    r = A.lottery_ticket(model, train, test, rounds=2, fraction=0.5, epochs=3)
    assert r.remaining[0] == 1.0 and r.remaining[1] > r.remaining[2] > 0.2
    assert len(r.ticket_error) == len(r.random_error) == 3
    for W, m in r.masks.items():
        assert np.all(W.value[m == 0] == 0.0)
