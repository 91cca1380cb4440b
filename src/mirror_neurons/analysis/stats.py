"""Per-unit statistics of activations by scenario group, and the tests behind unit classes.

Everything is vectorised across units: activations arrive as one (n, units)
array (layers side by side) and every result is a (units,) or (groups, units)
array. Conventions:

* **Moments** (SPEC section 6): mean, population variance (ddof 0), skewness
  ``m3 / m2**1.5`` and excess kurtosis ``m4 / m2**2 - 3`` with central moments
  ``m_k`` (the biased estimators, scipy's defaults). A constant unit (a dead
  ReLU) has variance 0 and undefined skewness and kurtosis: NaN, as scipy gives.
* **KL divergence** between two groups' activation histograms, per unit: both
  groups share ``bins`` equal-width bins spanning the unit's range over the two
  groups; every bin count gets a pseudocount (0.5, the Krichevsky-Trofimov /
  Jeffreys prior) before normalising, so empty bins never give infinity;
  ``KL(P || Q) = sum P log(P / Q)`` in nats. A constant unit gives 0.
* **Mann-Whitney U** (rank test, normal approximation with tie correction and
  continuity correction: ``scipy.stats.mannwhitneyu(method="asymptotic")``),
  one-sided in both directions from one ranking. A contrast in which every value
  is tied (a dead unit) gives p = 1 both ways.
* **Effect sizes** beside every p-value: Cohen's d (difference of means over the
  pooled standard deviation, ddof 1; 0 when both groups are constant and equal)
  and AUROC = U / (n1 n2), the probability that a state of the first group has
  a larger activation than one of the second (ties count one half).
* **Benjamini-Hochberg** q-values (step-up, monotone, capped at 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from mirror_neurons.analysis.groups import GROUPS, Groups


@dataclass(frozen=True)
class Moments:
    """Per group (rows in GROUPS order) and unit (columns)."""

    count: np.ndarray  # (4,) int64
    mean: np.ndarray  # (4, units) float64
    var: np.ndarray  # (4, units)
    skew: np.ndarray  # (4, units), NaN for a constant unit
    kurt: np.ndarray  # (4, units), excess; NaN for a constant unit

    def of(self, group: str) -> dict[str, np.ndarray]:
        i = GROUPS.index(group)
        return {"mean": self.mean[i], "var": self.var[i], "skew": self.skew[i], "kurt": self.kurt[i]}


def group_moments(a: np.ndarray, groups: Groups, require: tuple[str, ...] = GROUPS) -> Moments:
    """Mean, population variance, skewness and excess kurtosis of ``a`` (n, units) per group."""
    groups.require(*require)
    u = a.shape[1]
    out = {k: np.full((len(GROUPS), u), np.nan) for k in ("mean", "var", "skew", "kurt")}
    count = np.zeros(len(GROUPS), dtype=np.int64)
    for i, (g, sel) in enumerate(groups.slices().items()):
        x = np.asarray(a[sel], dtype=np.float64)  # (n_g, units)
        count[i] = len(x)
        if len(x) == 0:
            continue
        mean = x.mean(axis=0)
        d = x - mean
        d2 = d * d
        m2 = d2.mean(axis=0)
        m3 = (d2 * d).mean(axis=0)
        m4 = (d2 * d2).mean(axis=0)
        # scipy treats a spread below float64 resolution as zero ("catastrophic cancellation")
        const = m2 <= (np.finfo(np.float64).resolution * np.abs(mean)) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            skew = np.where(const, np.nan, m3 / m2**1.5)
            kurt = np.where(const, np.nan, m4 / m2**2 - 3.0)
        out["mean"][i], out["var"][i], out["skew"][i], out["kurt"][i] = mean, m2, skew, kurt
    return Moments(count=count, **out)


def kl_divergence(p_acts: np.ndarray, q_acts: np.ndarray, *, bins: int = 32, pseudocount: float = 0.5) -> np.ndarray:
    """KL(P || Q) per unit (nats) between histograms of ``p_acts`` (n1, u) and ``q_acts`` (n2, u)."""
    p_acts = np.asarray(p_acts, dtype=np.float64)
    q_acts = np.asarray(q_acts, dtype=np.float64)
    u = p_acts.shape[1]
    lo = np.minimum(p_acts.min(axis=0), q_acts.min(axis=0))
    hi = np.maximum(p_acts.max(axis=0), q_acts.max(axis=0))
    width = np.where(hi > lo, hi - lo, 1.0)
    offset = np.arange(u) * bins

    def hist(x: np.ndarray) -> np.ndarray:  # (u, bins) smoothed probabilities
        b = np.clip(((x - lo) / width * bins).astype(np.int64), 0, bins - 1)
        c = np.bincount((b + offset).ravel(), minlength=u * bins).reshape(u, bins) + pseudocount
        return c / c.sum(axis=1, keepdims=True)

    p, q = hist(p_acts), hist(q_acts)
    kl = (p * np.log(p / q)).sum(axis=1)
    return np.where(hi > lo, kl, 0.0)


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of x against y, per unit."""

    u: np.ndarray  # (units,) U statistic of x
    p_greater: np.ndarray  # H1: x tends to be larger than y
    p_less: np.ndarray  # H1: x tends to be smaller
    auroc: np.ndarray  # U / (n1 n2)


def mann_whitney(x: np.ndarray, y: np.ndarray) -> RankTest:
    """Both one-sided Mann-Whitney tests of x (n1, u) vs y (n2, u) from one ranking per unit.

    Same numbers as ``scipy.stats.mannwhitneyu(x, y, axis=0, method="asymptotic")``
    with ``alternative="greater"`` and ``"less"``; all-tied units give p = 1.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n1, n2 = len(x), len(y)
    n = n1 + n2
    z = np.concatenate([x, y], axis=0)  # (n, u)
    ranks = stats.rankdata(z, axis=0)
    u1 = ranks[:n1].sum(axis=0) - n1 * (n1 + 1) / 2.0
    tie = _tie_term(z)
    mu = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    s = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_greater = (u1 - mu - 0.5) / s
        z_less = ((n1 * n2 - u1) - mu - 0.5) / s
    p_greater = np.where(s > 0, special.ndtr(-z_greater), 1.0)
    p_less = np.where(s > 0, special.ndtr(-z_less), 1.0)
    return RankTest(u=u1, p_greater=p_greater, p_less=p_less, auroc=u1 / (n1 * n2))


def _tie_term(z: np.ndarray) -> np.ndarray:
    """sum over tie groups of (t**3 - t), per column of z (n, u)."""
    n, u = z.shape
    s = np.sort(z, axis=0).T  # (u, n)
    new = np.ones_like(s, dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    starts = np.flatnonzero(new.ravel())
    lengths = np.diff(np.append(starts, n * u)).astype(np.float64)
    return np.bincount(starts // n, weights=lengths**3 - lengths, minlength=u)


def cohens_d(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(mean x - mean y) / pooled sd (ddof 1), per unit; 0 if both constant and equal, +-inf if constant and different."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return cohens_d_from_moments(x.mean(0), y.mean(0), x.var(0), y.var(0), len(x), len(y))


def cohens_d_from_moments(m1, m2, v1, v2, n1, n2) -> np.ndarray:
    """Cohen's d from group means and *population* variances (converted to ddof 1)."""
    n1 = np.asarray(n1, dtype=np.float64)
    n2 = np.asarray(n2, dtype=np.float64)
    pooled = (n1 * v1 + n2 * v2) / np.maximum(n1 + n2 - 2, 1)
    diff = np.asarray(m1, dtype=np.float64) - m2
    sd = np.sqrt(pooled)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = diff / sd
    return np.where(sd > 0, d, np.where(diff == 0, 0.0, np.copysign(np.inf, diff)))


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """BH q-values of p-values (any shape; NaN p-values are treated as 1)."""
    p = np.asarray(p, dtype=np.float64)
    flat = np.where(np.isnan(p), 1.0, p).ravel()
    m = len(flat)
    if m == 0:
        return p.copy()
    order = np.argsort(flat)
    scaled = flat[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    q = np.empty(m)
    q[order] = q_sorted
    return q.reshape(p.shape)
