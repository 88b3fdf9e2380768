"""The recipe's --dropout and --batch-norm: checked, and built into the one MLP."""

from __future__ import annotations

import pytest

from flowgraph.training import recipe


def test_dropout_and_batch_norm_reach_the_model():
    c = recipe.resolve({"dropout": 0.25, "batch_norm": True, "hidden": [8, 8]})
    model = recipe.build_model(c, 64, 10)
    assert model.config["dropout"] == 0.25 and model.config["batch_norm"] is True
    assert [b.name for b in model.buffers] == ["running_mean1", "running_var1", "running_mean2",
                                               "running_var2"]  # fmt: skip
    assert model.train_graph.randoms and not model.predict_graph.training


def test_defaults_build_the_plain_network():
    model = recipe.build_model(recipe.resolve({"hidden": [8]}), 64, 10)
    assert not model.buffers and not model.train_graph.randoms


@pytest.mark.parametrize("given", [{"dropout": 1.0}, {"dropout": -0.1}, {"batch_norm": "yes"}])
def test_bad_values_are_one_error_naming_the_option(given):
    with pytest.raises(recipe.ConfigError, match=f"--{next(iter(given)).replace('_', '-')}"):
        recipe.resolve(given)
