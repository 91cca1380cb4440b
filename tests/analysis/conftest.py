"""Fixtures of the analysis tests."""

from __future__ import annotations

import pytest

from analysis_synth import make_split
from mirror_neurons.data.dataset import Split


@pytest.fixture
def small_split() -> Split:
    return make_split(1200, seed=1)
