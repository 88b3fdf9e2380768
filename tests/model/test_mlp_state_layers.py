"""fg.mlp with dropout and batch norm: trained by fg.train, saved and loaded with its buffers."""

from __future__ import annotations

import numpy as np

import flowgraph as fg


def test_an_mlp_with_dropout_and_batch_norm_trains_saves_and_loads(tmp_path):
    X, y = fg.datasets.load_digits()
    X = X / 16.0
    model = fg.mlp([64, 32, 10], dropout=0.2, batch_norm=True, seed=0, dtype=np.float64)
    assert [b.name for b in model.buffers] == ["running_mean1", "running_var1"]
    fg.train(model, (X[:300], y[:300]), (X[300:400], y[300:400]), epochs=3, batch_size=32,
             optimizer=fg.SGD(model.parameters, lr=0.1), seed=0, progress=False)
    assert model.error(X[300:400], y[300:400]) < 0.5
    assert not np.allclose(model.buffers[0].value, 0)
    model.save(tmp_path / "m.npz")
    loaded = fg.load_model(tmp_path / "m.npz")
    assert loaded.config["dropout"] == 0.2 and loaded.config["batch_norm"] is True
    np.testing.assert_array_equal(loaded.buffers[1].value, model.buffers[1].value)
    np.testing.assert_array_equal(loaded.predict_proba(X[:50]), model.predict_proba(X[:50]))


def test_a_plain_mlp_config_is_unchanged():
    assert "dropout" not in fg.mlp([2, 3, 2]).config
    assert "batch_norm" not in fg.mlp([2, 3, 2]).config
