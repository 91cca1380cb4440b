"""Round two's power analysis, checked against a simulation and an independent formula."""

import math

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from mirror_neurons.errors import ConfigError
from mirror_neurons.experiments.theory import power
from mirror_neurons.experiments.theory.power import (
    Planning,
    achieved_power,
    design_effect,
    n_per_group,
    p1_of,
    seeds_per_cell,
)
from mirror_neurons.experiments.theory.round2 import RoundTwoGrid


def test_an_odds_ratio_of_two_from_p_02_is_p_one_third():
    assert p1_of(0.2, 2.0) == pytest.approx(1 / 3)  # odds 0.25 -> 0.5
    assert p1_of(0.5, 2.0) == pytest.approx(2 / 3)


@pytest.mark.parametrize("p0", [0.1, 0.2, 0.5])
def test_n_per_group_agrees_with_the_arcsine_calculation(p0):
    """statsmodels' NormalIndPower on Cohen's h is another approximation of the same test: within 3 %."""
    n = n_per_group(p0, 2.0)
    h = proportion_effectsize(p1_of(p0, 2.0), p0)
    assert n == pytest.approx(NormalIndPower().solve_power(h, power=0.8, alpha=0.05), rel=0.03)


def test_n_per_group_gives_power_08_in_a_simulation():
    """Two groups of n, the pooled two-proportion z-test at 5 %: it rejects about 80 % of the time."""
    n = n_per_group(0.2, 2.0)
    rng = np.random.default_rng(0)
    trials = 20_000
    k0, k1 = rng.binomial(n, 0.2, trials), rng.binomial(n, 1 / 3, trials)
    pbar = (k0 + k1) / (2 * n)
    z = (k1 / n - k0 / n) / np.sqrt(pbar * (1 - pbar) * 2 / n)
    assert np.mean(np.abs(z) > 1.959964) == pytest.approx(0.80, abs=0.015)
    assert achieved_power(n, 1) == pytest.approx(0.80, abs=0.005)  # the formula's own power at its n


def test_design_effect_matches_clustered_simulation():
    """Beta-binomial clusters with ICC rho: the variance of the mean grows by 1 + (m - 1) rho."""
    rng = np.random.default_rng(1)
    p, rho, m, clusters, reps = 0.3, 0.05, 20, 30, 4000
    s = 1 / rho - 1  # a + b for Beta(a, b) with ICC 1 / (a + b + 1)
    pj = rng.beta(p * s, (1 - p) * s, (reps, clusters))
    means = rng.binomial(m, pj).sum(axis=1) / (m * clusters)
    ratio = means.var() / (p * (1 - p) / (m * clusters))
    assert ratio == pytest.approx(design_effect(m, rho), rel=0.08)


def test_seeds_per_cell_is_the_smallest_sufficient_and_none_when_clusters_bound():
    plan = Planning()
    need = n_per_group(plan.p0, plan.odds_ratio)
    s = seeds_per_cell(18, 15, plan)
    assert s is not None
    effective = lambda seeds: 18 * 15 * seeds / design_effect(15 * seeds, plan.icc)  # noqa: E731
    assert effective(s) >= need and (s == 1 or effective(s - 1) < need)
    assert 6 / plan.icc < need and seeds_per_cell(6, 4, plan) is None  # 6 datasets can never give 172 effective models


def test_the_full_preset_uses_at_least_the_seeds_its_power_analysis_asks():
    full = RoundTwoGrid.preset("full").power()
    assert full["seeds_needed"] is not None and full["seeds"] >= full["seeds_needed"] and full["power"] >= 0.8
    demo = RoundTwoGrid.preset("demo").power()
    assert demo["power"] < 0.8  # documented: the demo is underpowered for D


def test_bad_planning_values_are_refused():
    with pytest.raises(ConfigError, match="odds ratio other than 1"):
        n_per_group(0.2, 1.0)
    with pytest.raises(ConfigError, match="0 < p0 < 1"):
        power.n_per_group(1.0, 2.0)
    assert math.isfinite(achieved_power(100, 10))
