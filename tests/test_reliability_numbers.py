"""Reliability, numbers: no silent wrong number (integer weights in a penalty would wrap
around or overflow)."""

from __future__ import annotations

import numpy as np
import pytest

import flowgraph as fg


@pytest.mark.parametrize("penalty", [fg.L2Penalty(), fg.L1Penalty()])
@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.bool_])
def test_integer_arrays_fed_to_penalties_are_clear_errors(penalty, dtype):
    W = fg.Input("W")
    graph = fg.Graph(penalty(W))
    big = np.full((4, 4), 100, dtype=dtype)  # int8: 100^2 wraps around
    with pytest.raises(fg.BoxError, match="floating-point weights"):
        graph.fprop({W: big})
