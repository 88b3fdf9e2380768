"""Initialisers: Glorot's bound, seeds, and why zeros or one shared constant fail (symmetry)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg
from flowgraph import init


def test_glorot_uniform_lies_within_the_bound_and_fills_it():
    H_k, H_km1 = 300, 200
    W = init.glorot_uniform((H_k, H_km1), 0)
    b = np.sqrt(6.0) / np.sqrt(H_k + H_km1)
    assert W.shape == (H_k, H_km1) and W.dtype == np.float32
    assert np.abs(W).max() <= b
    # 60,000 uniform draws: the extremes come within 1% of the bound, the mean sits near 0
    assert np.abs(W).max() > 0.99 * b
    assert abs(W.mean()) < 0.01 * b
    # variance of U[-b, b] is b^2 / 3 = 2 / (H_k + H_{k-1})
    assert W.var() == pytest.approx(2.0 / (H_k + H_km1), rel=0.03)


def test_glorot_uniform_dtype_and_shape_check():
    assert init.glorot_uniform((3, 4), 0, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="weight shape"):
        init.glorot_uniform((3,), 0)


def test_seeds_and_generators_reproduce():
    a = init.glorot_uniform((5, 7), 1)
    assert np.array_equal(a, init.glorot_uniform((5, 7), 1))
    assert not np.array_equal(a, init.glorot_uniform((5, 7), 2))
    g1, g2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(init.normal((4, 4), g1), init.normal((4, 4), g2))
    # a generator is consumed: two draws from one generator differ
    assert not np.array_equal(init.normal((4, 4), g1), init.normal((4, 4), g1))
    with pytest.raises(TypeError, match="seed or a numpy Generator"):
        init.glorot_uniform((2, 2), "zero")


def test_normal_constant_zeros():
    W = init.normal((400, 300), 0, std=0.05)
    assert W.std() == pytest.approx(0.05, rel=0.02)
    assert np.all(init.constant((3, 2), 0, value=0.25) == np.float32(0.25))
    Z = init.zeros((3, 2), 0, dtype=np.float64)
    assert Z.dtype == np.float64 and not Z.any()


def test_get_by_name_or_callable():
    assert init.get("glorot") is init.glorot_uniform
    assert init.get("zeros") is init.zeros
    assert init.get(init.normal) is init.normal
    with pytest.raises(ValueError, match="unknown initialiser 'xavier'"):
        init.get("xavier")


def test_mlp_biases_start_at_zero_weights_glorot():
    model = fg.mlp([6, 5, 3], seed=4)
    for b in model.biases:
        assert not b.value.any()
    W1 = model["W1"].value
    assert np.array_equal(W1, init.glorot_uniform((5, 6), np.random.default_rng(4)))


def _blobs(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 4)) + 2.0 * np.eye(3, 4)[y]
    return X, y


def _train(model: fg.Model, epochs: int = 5) -> None:
    opt = fg.SGD(model.parameters, 0.1, momentum=0.5)
    fg.train(model, _blobs(), epochs=epochs, batch_size=10, optimizer=opt, progress=False)


def test_constant_init_hidden_units_stay_identical_after_training():
    """Symmetry: with one shared constant, every hidden unit of a layer computes the same
    function, receives the same gradient, and so stays a copy of the others."""
    model = fg.mlp([4, 6, 5, 3], dtype=np.float64, weight_init=fg.init.constant)
    before = model.state()
    _train(model)
    W1, b1, W2, b2, W3 = (model[n].value for n in ("W1", "b1", "W2", "b2", "W3"))
    assert not np.array_equal(W1, before["W1"])  # it did learn something...
    # ...but the rows of W(k) (one per unit of layer k) are all equal, and so are the biases
    for W, b in ((W1, b1), (W2, b2)):
        np.testing.assert_allclose(W, np.broadcast_to(W[:1], W.shape), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, np.full_like(b, b[0]), rtol=1e-10, atol=1e-12)
    # the output layer sees identical hidden units: its columns are equal too
    np.testing.assert_allclose(W3, np.broadcast_to(W3[:, :1], W3.shape), rtol=1e-10, atol=1e-12)
    # Glorot's random start breaks the symmetry
    glorot = fg.mlp([4, 6, 5, 3], dtype=np.float64, seed=0)
    _train(glorot)
    assert np.abs(glorot["W1"].value - glorot["W1"].value[:1]).max() > 1e-3


def test_zero_weights_with_tanh_are_a_saddle_point():
    """All weights 0: h(k) = tanh(0) = 0, so every weight gradient is 0 and only the output
    bias learns (it fits the class frequencies)."""
    model = fg.mlp([4, 6, 3], dtype=np.float64, weight_init="zeros")
    _train(model)
    for W in model.weights:
        assert not W.value.any()
    assert not model["b1"].value.any()
    assert model["b2"].value.any()


def test_glorot_uniform_default_seed_is_zero():
    from flowgraph.init import glorot_uniform

    np.testing.assert_array_equal(glorot_uniform((3, 4)), glorot_uniform((3, 4), rng=0))
    assert not np.array_equal(glorot_uniform((3, 4)), glorot_uniform((3, 4), rng=1))
