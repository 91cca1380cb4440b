"""Per-unit statistics against scipy and against small cases worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mirror_neurons.analysis.groups import GROUPS, Groups
from mirror_neurons.analysis.stats import (
    benjamini_hochberg,
    cohens_d,
    group_histograms,
    group_moments,
    kl_to_none,
    mann_whitney,
)


def groups_of(labels) -> Groups:
    return Groups(np.asarray(labels, dtype=np.int8), filtered=True)


def test_moments_match_scipy_biased_estimators():
    rng = np.random.default_rng(0)
    labels = rng.integers(-1, 4, 400)
    a = rng.gamma(2.0, size=(400, 6)).astype(np.float32)
    a[:, 5] = 0.0  # a dead ReLU
    m = group_moments(a, groups_of(labels))
    for i, g in enumerate(GROUPS):
        sel = a[labels == i].astype(np.float64)
        assert m.count[i] == len(sel)
        np.testing.assert_allclose(m.mean[i], sel.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(m.var[i], np.var(sel, axis=0), rtol=1e-10)
        np.testing.assert_allclose(m.skew[i][:5], stats.skew(sel[:, :5], axis=0), rtol=1e-9)
        np.testing.assert_allclose(m.kurt[i][:5], stats.kurtosis(sel[:, :5], axis=0), rtol=1e-9)
        assert m.var[i][5] == 0 and np.isnan(m.skew[i][5]) and np.isnan(m.kurt[i][5])


def test_moments_by_hand():
    # values 0, 0, 0, 4: mean 1, m2 = (1+1+1+9)/4 = 3, m3 = (-1-1-1+27)/4 = 6, m4 = (1+1+1+81)/4 = 21
    a = np.array([[0.0], [0.0], [0.0], [4.0], [1.0], [1.0], [2.0], [3.0]])
    m = group_moments(a, groups_of([0, 0, 0, 0, 1, 2, 3, 3]))
    assert m.mean[0, 0] == pytest.approx(1.0)
    assert m.var[0, 0] == pytest.approx(3.0)
    assert m.skew[0, 0] == pytest.approx(6 / 3**1.5)
    assert m.kurt[0, 0] == pytest.approx(21 / 9 - 3)


def test_kl_by_hand():
    # One unit, 2 bins over its range [0, 1] (over all grouped states). none: 1 state in bin 0, 3 in bin 1;
    # frog: 3 and 1. Pseudocount 0.5: P_frog = (3.5, 1.5)/5, P_none = (1.5, 3.5)/5;
    # KL(frog || none) = 0.7 ln(3.5/1.5) + 0.3 ln(1.5/3.5) = 0.4 ln(7/3).
    none = [0.0, 0.9, 1.0, 0.95]
    frog = [0.0, 0.1, 0.2, 1.0]
    toad = [0.9, 0.0, 1.0, 0.95]  # the same histogram as none
    both = [0.5]  # falls in bin 1 (0.5 * 2 = 1)
    a = np.array(none + frog + toad + both)[:, None]
    g = groups_of([0] * 4 + [1] * 4 + [2] * 4 + [3])
    h = group_histograms(a, g, bins=2)
    np.testing.assert_array_equal(h[:, 0], [[1, 3], [3, 1], [1, 3], [0, 1]])
    kl = kl_to_none(a, g, bins=2, pseudocount=0.5)
    assert kl["frog_none"][0] == pytest.approx(0.4 * np.log(7 / 3))
    assert kl["toad_none"][0] == pytest.approx(0.0, abs=1e-12)
    # P_both = (0.5, 1.5)/2, P_none = (1.5, 3.5)/5
    assert kl["both_none"][0] == pytest.approx(0.25 * np.log(0.25 / 0.3) + 0.75 * np.log(0.75 / 0.7))
    dead = kl_to_none(np.zeros((13, 1)), g)
    assert all(v[0] == pytest.approx(0.0) for v in dead.values())


@pytest.mark.parametrize("seed", [0, 1])
def test_mann_whitney_matches_scipy_with_ties(seed):
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.normal(0.3, 1, size=(60, 4)), 0).round(1)  # ReLU-like, many ties at 0
    y = np.maximum(rng.normal(0.0, 1, size=(45, 4)), 0).round(1)
    r = mann_whitney(x, y)
    for alt, ours in (("greater", r.p_greater), ("less", r.p_less)):
        ref = stats.mannwhitneyu(x, y, alternative=alt, method="asymptotic", axis=0)
        np.testing.assert_allclose(ours, ref.pvalue, rtol=1e-10)
    np.testing.assert_allclose(r.u, stats.mannwhitneyu(x, y, method="asymptotic", axis=0).statistic)


def test_auroc_and_dead_units():
    # x = (1, 2), y = (0, 2): pairs x>y: (1,0), (2,0); ties: (2,2) -> U = 2.5, AUROC = 2.5 / 4
    r = mann_whitney(np.array([[1.0], [2.0]]), np.array([[0.0], [2.0]]))
    assert r.auroc[0] == pytest.approx(0.625)
    dead = mann_whitney(np.zeros((30, 2)), np.zeros((20, 2)))
    np.testing.assert_array_equal(dead.p_greater, [1.0, 1.0])
    np.testing.assert_array_equal(dead.p_less, [1.0, 1.0])
    np.testing.assert_array_equal(dead.auroc, [0.5, 0.5])


def test_cohens_d_by_hand():
    # x = (1, 3): mean 2, var(ddof 1) 2; y = (0, 2): mean 1, var 2; pooled sd sqrt(2) -> d = 1/sqrt(2)
    d = cohens_d(np.array([[1.0, 5.0, 1.0], [3.0, 5.0, 1.0]]), np.array([[0.0, 5.0, 0.0], [2.0, 5.0, 0.0]]))
    assert d[0] == pytest.approx(1 / np.sqrt(2))
    assert d[1] == 0.0  # constant and equal
    assert d[2] == np.inf  # constant and different: perfectly separated


def test_benjamini_hochberg_by_hand():
    # m = 4, sorted p = .01 .02 .03 .5: p*m/rank = .04 .04 .04 .5 (then the running minimum from the top)
    q = benjamini_hochberg(np.array([0.5, 0.01, 0.03, 0.02]))
    np.testing.assert_allclose(q, [0.5, 0.04, 0.04, 0.04])
    q = benjamini_hochberg(np.array([0.04, 0.01]))  # .01*2/1 = .02, .04*2/2 = .04
    np.testing.assert_allclose(q, [0.04, 0.02])
    assert benjamini_hochberg(np.array([0.9, np.nan]))[1] == 1.0


def test_means_and_variances_only_path_agrees():
    rng = np.random.default_rng(3)
    labels = np.sort(rng.integers(0, 4, 2000))
    a = (rng.gamma(2.0, size=(2000, 5)) + 10.0).astype(np.float32)  # a mean far from 0 tests the centring
    full = group_moments(a, groups_of(labels))
    fast = group_moments(a, groups_of(labels), higher=False)
    np.testing.assert_allclose(fast.mean, full.mean, rtol=1e-9)
    np.testing.assert_allclose(fast.var, full.var, rtol=1e-5)
    assert np.isnan(fast.skew).all() and np.isnan(fast.kurt).all()
