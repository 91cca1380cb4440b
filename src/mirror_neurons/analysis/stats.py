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
* **Composition-matched groups** (``Groups.matched``, see ``groups``): every
  moment is computed per cell (group x stratum, ``cell_moments``) and combined
  with the group's stratum weights (``moments_from_cells``): the mean
  ``sum_s w_s mean_s``, and central moments of the reweighted group about that
  mean (so a group's variance includes the spread between its strata). A
  contrast between two groups is the stratum-weighted mean difference, tested
  by ``stratified_z`` (its standard error ``sqrt(sum_s pi_s^2 (v1_s/n1_s + v2_s/n2_s))``,
  a normal test of the same difference the CMNI uses; with thousands of states
  per group the normal limit is exact enough, and it costs one pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import special, stats

from mirror_neurons.analysis.groups import GROUPS, Groups
from mirror_neurons.errors import AnalysisError


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


@dataclass(frozen=True)
class CellMoments:
    """Moments per group (GROUPS order) and stratum (``Groups.cells``); population (ddof 0) estimators."""

    count: np.ndarray  # (4, S) int64
    target: np.ndarray  # (4, S) each group's stratum weights (rows sum to 1)
    mean: np.ndarray  # (4, S, units) float64; 0 in an empty cell
    var: np.ndarray  # (4, S, units)
    m3: np.ndarray | None = None  # (4, S, units) third and fourth central moments (``higher``)
    m4: np.ndarray | None = None
    cov: np.ndarray | None = None  # (4, S, units, units) covariance of none, frog and toad cells (``cov``); both: 0

    @property
    def pi(self) -> np.ndarray:
        """(S,) the none group's composition: the weights of every contrast."""
        return self.target[0]


def cell_moments(a: np.ndarray, groups: Groups, *, higher: bool = False, cov: bool = False) -> CellMoments:
    """Moments of ``a`` (n, units) in every cell of ``groups`` (float64 accumulators over float32 data)."""
    cells = groups.cells
    n_g, n_s, u = len(GROUPS), groups.n_strata, a.shape[1]
    count = np.zeros((n_g, n_s), dtype=np.int64)
    mean, var = np.zeros((n_g, n_s, u)), np.zeros((n_g, n_s, u))
    m3 = np.zeros((n_g, n_s, u)) if higher else None
    m4 = np.zeros((n_g, n_s, u)) if higher else None
    cv = np.zeros((n_g, n_s, u, u)) if cov else None
    for g in range(n_g):
        for k in range(n_s):
            x = np.asarray(a[cells[g][k]], dtype=np.float32)
            n = len(x)
            count[g, k] = n
            if n == 0:
                continue
            mu = x.sum(axis=0, dtype=np.float64) / n
            d = x - mu.astype(np.float32)
            dm = d.sum(axis=0, dtype=np.float64) / n  # float32 rounding of the centre, corrected below
            mean[g, k] = mu + dm
            var[g, k] = np.einsum("ij,ij->j", d, d, dtype=np.float64) / n - dm**2
            if higher:
                d64 = d.astype(np.float64) - dm
                d2 = d64 * d64
                m3[g, k] = np.einsum("ij,ij->j", d2, d64) / n
                m4[g, k] = np.einsum("ij,ij->j", d2, d2) / n
            if cov and g < 3:
                # torch's matmul (its own thread setting: one per analysis worker), not NumPy's BLAS, whose
                # threads stall for tens of ms on a busy machine at this size
                dt = torch.from_numpy(d)
                cv[g, k] = (dt.T @ dt).numpy().astype(np.float64) / n - np.outer(dm, dm)
    return CellMoments(count, groups.target(), mean, np.maximum(var, 0.0), m3, m4, cv)


def moments_from_cells(cm: CellMoments) -> Moments:
    """Each group's moments as the mixture of its cells with the group's stratum weights."""
    w = np.where(cm.count > 0, cm.target, 0.0)[:, :, None]  # (4, S, 1)
    mean = (w * cm.mean).sum(axis=1)
    delta = cm.mean - mean[:, None, :]
    var = (w * (cm.var + delta**2)).sum(axis=1)
    skew = kurt = np.full_like(mean, np.nan)
    if cm.m3 is not None:
        m3 = (w * (cm.m3 + 3 * cm.var * delta + delta**3)).sum(axis=1)
        m4 = (w * (cm.m4 + 4 * cm.m3 * delta + 6 * cm.var * delta**2 + delta**4)).sum(axis=1)
        const = var <= (np.finfo(np.float64).resolution * np.abs(mean)) ** 2
        with np.errstate(divide="ignore", invalid="ignore"):
            skew = np.where(const, np.nan, m3 / var**1.5)
            kurt = np.where(const, np.nan, m4 / var**2 - 3.0)
    count = np.where(cm.target > 0, cm.count, 0).sum(axis=1)
    empty = count == 0
    mean[empty], var[empty] = np.nan, np.nan
    return Moments(count=count, mean=mean, var=var, skew=skew, kurt=kurt)


def stratified_difference(cm: CellMoments, g1: int, g2: int) -> tuple[np.ndarray, np.ndarray]:
    """(difference, standard error), (units,) each: ``sum_s pi_s (mean(g1, s) - mean(g2, s))`` and its sd."""
    pi = cm.pi[:, None]
    n1, n2 = np.maximum(cm.count[g1], 1)[:, None], np.maximum(cm.count[g2], 1)[:, None]
    diff = (pi * (cm.mean[g1] - cm.mean[g2])).sum(axis=0)
    se = np.sqrt((pi**2 * (cm.var[g1] / n1 + cm.var[g2] / n2)).sum(axis=0))
    return diff, se


def stratified_z(cm: CellMoments, g1: int, g2: int) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p-values (greater, less), (units,) each, of the stratified difference of g1 over g2.

    Normal test of ``stratified_difference``. A unit constant in every cell (standard error 0) gets
    p = 1 both ways if the difference is 0, else 0 in the difference's direction and 1 in the other.
    """
    diff, se = stratified_difference(cm, g1, g2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = diff / se
    p_greater = np.where(se > 0, special.ndtr(-z), np.where(diff > 0, 0.0, 1.0))
    p_less = np.where(se > 0, special.ndtr(z), np.where(diff < 0, 0.0, 1.0))
    return p_greater, p_less


def group_moments(a: np.ndarray, groups: Groups, require: tuple[str, ...] = GROUPS, *, higher: bool = True) -> Moments:
    """Mean, population variance, skewness and excess kurtosis of ``a`` (n, units) per group.

    ``higher=False`` skips skewness and kurtosis (left NaN): half the passes, for CMNI-only tables.
    Composition-matched groups: the moments of each group reweighted to its target composition.
    """
    groups.require(*require)
    if groups.matched:
        return moments_from_cells(cell_moments(a, groups, higher=higher))
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
            out["var"][i] = (
                np.einsum("ij,ij->j", d32, d32, dtype=np.float64) / count[i]
                - (d32.sum(axis=0, dtype=np.float64) / count[i]) ** 2
            )
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
    in bin 0. Composition-matched groups give weighted counts (floats summing to the group's size). The bin index, the unit's offset and the group's offset are formed
    in float32 (exact: all below 2**24) so the pass over (n, units) stays cheap.
    """
    u = a.shape[1]
    sl = groups.slices()
    parts = [np.asarray(a[sl[g]], dtype=np.float32) for g in GROUPS]
    lo = np.min([p.min(axis=0) if len(p) else np.full(u, np.inf, np.float32) for p in parts], axis=0)
    hi = np.max([p.max(axis=0) if len(p) else np.full(u, -np.inf, np.float32) for p in parts], axis=0)
    scale = np.where(hi > lo, bins / np.where(hi > lo, hi - lo, 1.0), 0.0).astype(np.float32)
    unit_offset = (np.arange(u) * bins).astype(np.float32)
    # composition-matched groups: each state counts with its weight, scaled so a group's weights sum to its size
    weights = groups.state_weights() if groups.matched else None
    counts = np.zeros((len(GROUPS), u * bins), dtype=np.int64 if weights is None else np.float64)
    for i, x in enumerate(parts):
        if len(x) == 0:
            continue
        key = (x - lo) * scale
        np.minimum(key, np.float32(bins - 1), out=key)
        key += unit_offset
        w = None if weights is None else np.repeat(weights[sl[GROUPS[i]]] * len(x), u)
        counts[i] = np.bincount(key.astype(np.int32).ravel(), weights=w, minlength=u * bins)
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
    constant = (h.sum(axis=0) > 0).sum(axis=-1) == 1  # a unit with a range fills bins 0 and bins-1
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


def wilson_interval(k, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for k successes in n trials (arrays broadcast).

    lo, hi = (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n), p = k/n.
    Cells with n = 0 give (nan, nan).
    """
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise AnalysisError(f"successes must lie in 0..n, got k={k.tolist()}, n={n.tolist()}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo, hi = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return lo, hi


def empirical_p(null, observed: float) -> float:
    """One-sided Monte Carlo p-value of ``observed`` against draws ``null`` (any shape, n values):
    ``(1 + #{null >= observed}) / (1 + n)``.

    The observed value counts as one more draw of the null, so p is never 0 and
    the test is exact (North, Curtis and Sham 2002, Am J Hum Genet 71:439); its floor, with no
    draw as large, is ``1 / (1 + n)``. A NaN observation gives that floor too
    (no comparison is true), as the formula written out always has.
    """
    null = np.asarray(null)
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))
