"""The opt-in fold of plain SGD into the weight-gradient products (``SGD(..., fold=True)``)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph.step.plan import StepPlan


@pytest.fixture(autouse=True)
def _buffer_every_value(monkeypatch):
    """Small test graphs: every value and gradient through out= (the plan skips small ones)."""
    monkeypatch.setattr(StepPlan, "small", 0)


def _trained(fold, dtype=np.float64, **sgd):
    X, y = fg.datasets.make_blobs(64, seed=0)
    model = fg.mlp([2, 8, 8, 3], dtype=dtype, seed=0)
    opt = fg.SGD(model.parameters, lr=0.1, fold=fold, **sgd)
    fg.train(model, (X.astype(dtype), y), epochs=3, batch_size=8, optimizer=opt, progress=False)
    return model, opt


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_folded_sgd_trains_to_the_same_parameters_up_to_rounding(dtype):
    plain, _ = _trained(False, dtype)
    folded, opt = _trained(True, dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for a, b in zip(plain.parameters, folded.parameters):
        np.testing.assert_allclose(a.value, b.value, rtol=tol, atol=tol)
    assert opt.folded == set()  # undone at the end of each epoch


def test_a_folded_weight_has_no_gradient_and_step_leaves_it_alone():
    X, y = fg.datasets.make_blobs(16, seed=0)
    model = fg.mlp([2, 4, 3], dtype=np.float64, seed=0)
    opt = fg.SGD(model.parameters, lr=0.5, fold=True)
    plan = fg.step_plan(model.train_graph)
    folded = plan.fold(opt)
    assert [p.name for p in folded] == ["W2", "W1"]
    W1 = model.parameters[0]
    before = W1.value.copy()
    feed = {model.x: X, model.y: y}
    plan.fprop(feed)
    plan.bprop()
    assert W1.grad is None and not np.array_equal(W1.value, before)  # updated in bprop
    moved = W1.value.copy()
    opt.step()
    assert np.array_equal(W1.value, moved)  # not a second time
    model.train_graph.fprop(feed)
    model.train_graph.bprop()  # unplanned: the gradient is there, step updates it
    opt.step()
    assert not np.array_equal(W1.value, moved)
    plan.fold(None)
    assert opt.folded == set() and plan.folded == {}


def test_momentum_is_never_folded():
    model = fg.mlp([2, 4, 3], dtype=np.float64, seed=0)
    opt = fg.SGD(model.parameters, lr=0.5, momentum=0.9, fold=True)
    assert fg.step_plan(model.train_graph).fold(opt) == []
    assert "fold" in (fg.SGD.__doc__ or "")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_folded_sgd_on_one_example_is_the_unfolded_step_bit_for_bit(dtype):
    """One example: the fold is SGD's own rank-1 update (BLAS ger) of Linear's factors."""
    X, y = fg.datasets.make_blobs(24, seed=1)
    results = []
    for fold in (False, True):
        model = fg.mlp([2, 8, 8, 3], dtype=dtype, seed=0)
        opt = fg.SGD(model.parameters, lr=0.1, fold=fold)
        fg.train(model, (X.astype(dtype), y), epochs=2, batch_size=1, optimizer=opt,
                 progress=False)  # fmt: skip
        results.append([p.value.copy() for p in model.parameters])
    for a, b in zip(*results):
        assert np.array_equal(a, b)
