"""The playground's dropout setting: checked, used in training only, reproducible."""

from __future__ import annotations

import numpy as np
import pytest

from flowgraph.playground.session import Run
from flowgraph.playground.settings import SettingsError, parse


def test_dropout_is_a_setting_within_its_limits():
    assert parse({"dropout": 0.3}).dropout == 0.3
    assert "dropout=0.3" in parse({"dropout": 0.3}).to_query()
    with pytest.raises(SettingsError, match="dropout"):
        parse({"dropout": 1.0})


@pytest.mark.parametrize("problem", ["classification", "regression"])
def test_a_run_with_dropout_trains_reproducibly(problem):
    runs = []
    for _ in range(2):
        run = Run(parse({"dropout": 0.3, "problem": problem, "n": 60}))
        losses = [run.step() for _ in range(15)]
        runs.append((losses, [p.value.copy() for p in run.net.parameters]))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
    assert run.net.train_graph.randoms and not run.net.predict_graph.training
