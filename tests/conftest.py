"""Shared fixtures: kept minimal on purpose (each test file builds what it needs)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded generator for every test: no test depends on another's draws."""
    return np.random.default_rng(12345)
