"""Tests written to kill mutants that survived ``python -m benchmarks.mutation`` (see
benchmarks/RESULTS.md): each pins a behaviour no earlier test looked at."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


def test_linear_hints_at_reshape_only_for_a_single_example():
    W, b = np.ones((2, 3)), np.zeros(2)
    with pytest.raises(fg.ShapeError, match=r"x.reshape\(1, -1\)"):
        fg.Linear().fprop(np.ones(3), W, b)
    with pytest.raises(fg.ShapeError) as info:
        fg.Linear().fprop(np.ones((1, 1, 3)), W, b)
    assert "reshape" not in str(info.value)


def test_cross_entropy_labels_may_exceed_the_number_of_rows():
    f = np.full((2, 5), 0.2)
    loss = fg.CrossEntropy().fprop(f, np.array([4, 3]))  # 5 classes, 2 examples
    assert float(loss) == pytest.approx(-np.log(0.2))
