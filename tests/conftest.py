"""Fixtures shared by the test modules."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A NumPy generator with a fixed seed, new for each test."""
    return np.random.default_rng(20240611)
