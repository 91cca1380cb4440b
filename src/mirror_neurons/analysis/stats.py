"""Per-unit statistics of activations by scenario group, and the tests behind unit classes.

Everything is vectorised across units: activations arrive as one (n, units)
array (layers side by side) and every result is a (units,) or (groups, units)
array. Conventions:

* **Moments** (SPEC section 6): mean, population variance (ddof 0), skewness
  ``m3 / m2**1.5`` and excess kurtosis ``m4 / m2**2 - 3`` with central moments
  ``m_k`` (the biased estimators, scipy's defaults). A constant unit (a dead
  ReLU) has variance 0 and undefined skewness and kurtosis: NaN, as scipy gives.
* **KL divergence** between a group's and the no-distress group's activation
  histograms, per unit: ``bins`` (32) equal-width bins spanning the unit's
  range over all grouped test states (the same bins for every group); every
  bin count gets a pseudocount (0.5, the Krichevsky-Trofimov / Jeffreys prior)
  before normalising, so empty bins never give infinity;
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
from scipy import special

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


def group_moments(a: np.ndarray, groups: Groups, require: tuple[str, ...] = GROUPS, *, higher: bool = True) -> Moments:
    """Mean, population variance, skewness and excess kurtosis of ``a`` (n, units) per group.

    ``higher=False`` skips skewness and kurtosis (left NaN): half the passes, for CMNI-only tables.
    """
    groups.require(*require)
    u = a.shape[1]
    out = {k: np.full((len(GROUPS), u), np.nan) for k in ("mean", "var", "skew", "kurt")}
    count = np.zeros(len(GROUPS), dtype=np.int64)
    for i, (g, sel) in enumerate(groups.slices().items()):
        count[i] = len(a[sel])
        if count[i] == 0:
            continue
        if not higher:
            # means and variances only: float64 accumulators over the float32 data, no float64 copy
            x32 = np.asarray(a[sel], dtype=np.float32)
            mean = x32.sum(axis=0, dtype=np.float64) / count[i]
            d32 = x32 - mean.astype(np.float32)
            out["mean"][i] = mean
            out["var"][i] = np.einsum("ij,ij->j", d32, d32, dtype=np.float64) / count[i] - (d32.sum(axis=0, dtype=np.float64) / count[i]) ** 2
            continue
        x = np.asarray(a[sel], dtype=np.float64)  # (n_g, units)
        mean = x.mean(axis=0)
        d = x - mean
        d2 = d * d
        m2 = d2.mean(axis=0)
        out["mean"][i], out["var"][i] = mean, m2
        m3 = np.einsum("ij,ij->j", d2, d) / count[i]  # no (n, units) temporaries
        m4 = np.einsum("ij,ij->j", d2, d2) / count[i]
        # scipy treats a spread below float64 resolution as zero ("catastrophic cancellation")
        const = m2 <= (np.finfo(np.float64).resolution * np.abs(mean)) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            skew = np.where(const, np.nan, m3 / m2**1.5)
            kurt = np.where(const, np.nan, m4 / m2**2 - 3.0)
        out["skew"][i], out["kurt"][i] = skew, kurt
    return Moments(count=count, **out)


def group_histograms(a: np.ndarray, groups: Groups, *, bins: int = 32) -> np.ndarray:
    """Counts (4 groups, units, bins) of each unit's activations in equal-width bins.

    The bins of a unit span its range over all states that belong to a group, so
    every group of a unit is binned the same way. A constant unit puts everything
    in bin 0. The bin index, the unit's offset and the group's offset are formed
    in float32 (exact: all below 2**24) so the pass over (n, units) stays cheap.
    """
    u = a.shape[1]
    sl = groups.slices()
    parts = [np.asarray(a[sl[g]], dtype=np.float32) for g in GROUPS]
    lo = np.min([p.min(axis=0) if len(p) else np.full(u, np.inf, np.float32) for p in parts], axis=0)
    hi = np.max([p.max(axis=0) if len(p) else np.full(u, -np.inf, np.float32) for p in parts], axis=0)
    scale = np.where(hi > lo, bins / np.where(hi > lo, hi - lo, 1.0), 0.0).astype(np.float32)
    unit_offset = (np.arange(u) * bins).astype(np.float32)
    counts = np.zeros((len(GROUPS), u * bins), dtype=np.int64)
    for i, x in enumerate(parts):
        if len(x) == 0:
            continue
        key = (x - lo) * scale
        np.minimum(key, np.float32(bins - 1), out=key)
        key += unit_offset
        counts[i] = np.bincount(key.astype(np.int32).ravel(), minlength=u * bins)
    return counts.reshape(len(GROUPS), u, bins)


def kl_from_counts(p: np.ndarray, q: np.ndarray, *, pseudocount: float = 0.5) -> np.ndarray:
    """KL(P || Q) in nats per row of histogram counts (units, bins), each count smoothed by ``pseudocount``."""
    p = p + pseudocount
    q = q + pseudocount
    p = p / p.sum(axis=-1, keepdims=True)
    q = q / q.sum(axis=-1, keepdims=True)
    return (p * np.log(p / q)).sum(axis=-1)


def kl_to_none(a: np.ndarray, groups: Groups, *, bins: int = 32, pseudocount: float = 0.5) -> dict[str, np.ndarray]:
    """{"frog_none", "toad_none", "both_none"}: KL(group || none) per unit (units,) from ``group_histograms``."""
    groups.require(*GROUPS)
    h = group_histograms(a, groups, bins=bins)
    none = h[GROUPS.index("none")]
    constant = ((h.sum(axis=0) > 0).sum(axis=-1) == 1)  # a unit with a range fills bins 0 and bins-1
    return {
        f"{g}_none": np.where(constant, 0.0, kl_from_counts(h[GROUPS.index(g)], none, pseudocount=pseudocount))
        for g in ("frog", "toad", "both")
    }


@dataclass(frozen=True)
class RankTest:
    """Mann-Whitney U of x against y, per unit."""

    u: np.ndarray  # (units,) U statistic of x
    p_greater: np.ndarray  # H1: x tends to be larger than y
    p_less: np.ndarray  # H1: x tends to be smaller
    auroc: np.ndarray  # U / (n1 n2)


def mann_whitney(x: np.ndarray, y: np.ndarray) -> RankTest:
    """Both one-sided Mann-Whitney tests of x (n1, u) vs y (n2, u) from one sort per unit.

    Same numbers as ``scipy.stats.mannwhitneyu(x, y, axis=0, method="asymptotic")``
    with ``alternative="greater"`` and ``"less"``; all-tied units give p = 1.
    Ranks (ties averaged), the rank sum of x and the tie term all come from a
    single argsort of each unit's pooled values, vectorised across units.
    """
    x, y = np.asarray(x), np.asarray(y)
    n1, n2 = len(x), len(y)
    n = n1 + n2
    dtype = np.result_type(x.dtype, y.dtype, np.float32)
    pooled = np.concatenate([x, y], axis=0).astype(dtype, copy=False).T.copy()  # (u, n)
    u = pooled.shape[0]
    order = np.argsort(pooled, axis=1)
    s = np.take_along_axis(pooled, order, axis=1)
    new = np.ones((u, n), dtype=bool)
    new[:, 1:] = s[:, 1:] != s[:, :-1]
    flat = new.ravel()
    starts = np.flatnonzero(flat)  # first element of each tie group (flat index)
    lengths = np.diff(np.append(starts, u * n)).astype(np.float64)
    mean_rank = starts % n + (lengths + 1) / 2.0  # 1-based average rank of each tie group
    rank = mean_rank[np.cumsum(flat) - 1].reshape(u, n)  # rank of each sorted element
    u1 = np.where(order < n1, rank, 0.0).sum(axis=1) - n1 * (n1 + 1) / 2.0
    tie = np.bincount(starts // n, weights=lengths**3 - lengths, minlength=u)
    mu = n1 * n2 / 2.0
    var = n1 * n2 / 12.0 * ((n + 1) - tie / (n * (n - 1)))
    sd = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z_greater = (u1 - mu - 0.5) / sd
        z_less = ((n1 * n2 - u1) - mu - 0.5) / sd
    p_greater = np.where(sd > 0, special.ndtr(-z_greater), 1.0)
    p_less = np.where(sd > 0, special.ndtr(-z_less), 1.0)
    return RankTest(u=u1, p_greater=p_greater, p_less=p_less, auroc=u1 / (n1 * n2))


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
