"""The one empirical p-value of the package (issue 16: it was written out at every null)."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.analysis.stats import empirical_p


@pytest.mark.parametrize(
    ("null", "observed", "p"),
    [
        ([0.1, 0.2, 0.3], 0.5, 1 / 4),  # no draw as large: the floor 1 / (1 + n)
        ([0.1, 0.2, 0.3], 0.2, 3 / 4),  # ties count against the observation
        ([0.1, 0.2, 0.3], -1.0, 1.0),
        ([], 0.3, 1.0),
        (np.zeros((4, 5)), 0.0, 1.0),  # any shape: n is its size
        ([0.1, 0.2], float("nan"), 1 / 3),
    ],
)
def test_empirical_p_counts_the_observation_as_a_draw(null, observed, p):
    assert empirical_p(null, observed) == pytest.approx(p)


def test_empirical_p_is_uniform_under_the_null():
    """Observed and null drawn alike: P(p <= a) <= a for every a (exact for a Monte Carlo test)."""
    rng = np.random.default_rng(0)
    ps = np.array([empirical_p(rng.normal(size=19), rng.normal()) for _ in range(4000)])
    for a in (0.05, 0.1, 0.5):
        assert np.mean(ps <= a) <= a + 3 * np.sqrt(a * (1 - a) / len(ps))
