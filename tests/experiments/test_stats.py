"""Statistics of the theory experiment, checked against values computed independently."""

import numpy as np
import pytest
from scipy import optimize, special, stats

from mirror_neurons.errors import AnalysisError
from mirror_neurons.experiments.stats import (
    fit_logistic,
    is_separated,
    profile_interval,
    profile_loglik,
    wilson_interval,
)


@pytest.mark.parametrize(
    "k, n, lo, hi",
    [
        # Newcombe (1998), Stat. Med. 17:857, Table I, method 3 (Wilson score, no continuity correction)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe_table(k, n, lo, hi):
    got = wilson_interval(k, n)
    assert got[0] == pytest.approx(lo, abs=1e-4)
    assert got[1] == pytest.approx(hi, abs=1e-4)


def test_wilson_matches_scipy_and_separates_02_from_08_at_24_models():
    for k, n in [(8, 10), (2, 10), (5, 24), (19, 24), (24, 24)]:
        ref = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        lo, hi = wilson_interval(k, n)
        assert (lo, hi) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert wilson_interval(5, 24)[1] < wilson_interval(19, 24)[0]


def test_wilson_rejects_impossible_counts():
    with pytest.raises(AnalysisError, match="0..n"):
        wilson_interval(11, 10)


def _neg_loglik(beta, X, y):
    eta = X @ beta
    return -np.sum(y * eta - np.logaddexp(0, eta))


def test_logistic_recovers_known_coefficients_and_matches_scipy_optimum():
    rng = np.random.default_rng(7)
    n = 4000
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(0, 1, size=n), rng.normal(size=n) ** 2])
    truth = np.array([-0.5, 1.2, -2.0, 0.3])
    y = (rng.uniform(size=n) < special.expit(X @ truth)).astype(float)
    fit = fit_logistic(X, y, ["b0", "x", "u", "q"])
    assert fit.method == "ml" and fit.converged
    # the truth lies within 4 standard errors of the estimate
    assert np.all(np.abs(fit.coef - truth) < 4 * fit.se)
    # the estimate is the likelihood's maximum, found by a general-purpose optimiser
    ref = optimize.minimize(_neg_loglik, np.zeros(4), args=(X, y), method="BFGS", options={"gtol": 1e-8})
    assert fit.coef == pytest.approx(ref.x, abs=1e-4)
    # standard errors: inverse of the numerically differentiated Hessian of -loglik
    eps = 1e-4
    H = np.zeros((4, 4))
    for i in range(4):
        e = np.zeros(4)
        e[i] = eps
        gp = optimize.approx_fprime(fit.coef + e, _neg_loglik, 1e-6, X, y)
        gm = optimize.approx_fprime(fit.coef - e, _neg_loglik, 1e-6, X, y)
        H[i] = (gp - gm) / (2 * eps)
    assert fit.se == pytest.approx(np.sqrt(np.diag(np.linalg.inv(H))), rel=2e-2)


def test_firth_on_a_separated_2x2_table_adds_a_half_to_each_cell():
    # x = 1: 10 successes, 0 failures; x = 0: 5 and 5. Separated (x = 1 always succeeds).
    # For one binary covariate Firth's estimate is the log odds ratio with 0.5 added
    # to every cell (a known property of the Jeffreys-prior penalty on a saturated 2x2 model).
    x = np.r_[np.ones(10), np.zeros(10)]
    y = np.r_[np.ones(10), np.ones(5), np.zeros(5)]
    X = np.column_stack([np.ones(20), x])
    assert is_separated(X, y)
    fit = fit_logistic(X, y, ["b0", "x"])
    assert fit.method == "firth" and fit.notes
    assert fit["x"] == pytest.approx(np.log((10.5 / 0.5) / (5.5 / 5.5)), abs=1e-6)
    assert fit["b0"] == pytest.approx(0.0, abs=1e-6)
    lo, hi = profile_interval(X, y, fit, "x")
    assert 0 < lo < fit["x"] < hi  # finite, and excludes 0 (x = 1 always succeeded)


def test_overlapping_data_are_not_called_separated():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(200), rng.normal(size=200)])
    y = (rng.uniform(size=200) < 0.5).astype(float)
    assert not is_separated(X, y)


def test_profile_interval_ends_sit_at_the_chi2_quantile_of_an_independent_constrained_fit():
    rng = np.random.default_rng(3)
    n = 150
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (rng.uniform(size=n) < special.expit(0.3 + 0.8 * X[:, 1])).astype(float)
    fit = fit_logistic(X, y, ["b0", "x"])
    lo, hi = profile_interval(X, y, fit, "x")
    for end in (lo, hi):
        # refit the intercept alone with x's coefficient fixed, by a scalar optimiser
        ref = optimize.minimize_scalar(lambda b0: _neg_loglik(np.array([b0, end]), X, y))
        assert 2 * (fit.loglik + ref.fun) == pytest.approx(stats.chi2.ppf(0.95, 1), abs=1e-4)
        assert profile_loglik(X, y, 1, end, fit) == pytest.approx(-ref.fun, abs=1e-6)
    wlo, whi = fit.wald_interval()
    assert lo == pytest.approx(wlo[1], abs=0.1) and hi == pytest.approx(whi[1], abs=0.1)


def test_bad_designs_are_refused():
    X = np.column_stack([np.ones(10), np.arange(10), 2 * np.arange(10)])
    with pytest.raises(AnalysisError, match="rank-deficient"):
        fit_logistic(X, np.r_[np.zeros(5), np.ones(5)])
    with pytest.raises(AnalysisError, match="0 or 1"):
        fit_logistic(X[:, :2], np.full(10, 0.5))
