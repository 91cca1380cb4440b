"""Controls for a checkpoint's CMNI: null distributions, p-values and a confidence interval.

* **Random initialisation**: the same architecture, freshly Glorot-initialised
  with ``n`` seeds (one ``torch.Generator`` per seed), run on the same test
  states. Answers: is the trained index larger than an untrained network's?
* **Label permutation**: the same trained network, its activations fixed, with
  the none/frog/toad group labels permuted across those states. Answers: is the
  index larger than the positive bias that ``min(.,.) if both > 0`` puts on pure
  noise? Vectorised: a chunk of permutations becomes a one-hot matrix
  (states, 3 x chunk) and all group sums are one matrix product.
* **Bootstrap**: states resampled with replacement within each group
  (stratified; group sizes fixed), percentile interval of the CMNI.

p-values are ``(1 + #{null >= observed}) / (1 + n)``, which is never 0 and is
exact for a Monte Carlo test; its floor, ``1 / (1 + n)``, is a table column
(``p_value_floor``) and must be below alpha (``AnalysisConfig`` refuses fewer draws).

**Two indices, one set of draws.** Every null and the bootstrap give, per draw,
the contrasts (dfrog, dtoad) of the counted units, and both the raw CMNI and
the scale-free index (``cmni.effect_size_cmni``) are computed from the same
draws; the scale-free index divides by the *observed* pooled sds (their
sampling variation, relative order 1/sqrt(2n), is small beside the means').

**Composition-matched groups** (``groups.match_composition``): labels are
permuted *within* each stratum (so every permuted group keeps its stratum
counts, and the reweighted means use the same weights), and the bootstrap
resamples within every group x stratum cell.

**Normal limit** (``normal_permutation_null``, ``normal_bootstrap``; the
analysis's default, ``AnalysisConfig.exact_resampling=False``). Both indices are
functions of the stratified contrasts only, i.e. of cell means. Under
within-stratum permutation the cell means have exactly known moments: with
``P_s`` the covariance (ddof 1) of the pooled none+frog+toad states of stratum
s, ``Cov(dfrog) = sum_s pi_s^2 P_s (1/n_frog,s + 1/n_none,s)``,
``Cov(dtoad)`` likewise and ``Cov(dfrog, dtoad) = sum_s pi_s^2 P_s / n_none,s``
(sampling without replacement), and by the finite-population central limit
theorem they are jointly normal for groups of thousands of states. The null is
then drawn as (dfrog, dtoad) ~ N(0, that covariance) and both indices computed
from each draw: the clamp is applied to every draw exactly, only the
distribution of the means is the normal limit. The bootstrap likewise draws
the contrasts from N(observed, sum_s pi_s^2 (C_g,s / n_g,s + C_none,s / n_none,s))
with C the cells' covariances, the limit of resampling within cells. The cost
is one pass for the cell covariances and a (draws x 2 units) Gaussian, not
(draws x states); ``exact_resampling=True`` permutes and resamples states
(``permutation_null``, ``bootstrap_cmni``), and the tests check the two agree.

**The interval** (``bc_interval``): Efron's bias-corrected percentile
interval. The clamp makes a resampled index larger on average than the index
it was resampled from, so the plain percentile interval sits too high; BC
shifts the percentiles by ``z0 = Phi^-1(share of draws below the observed,
ties counting half)``. No bootstrap interval is a valid confidence interval at
the boundary (an index of exactly 0, or units whose contrasts sit at 0):
there the lower end is 0 by construction and says nothing, which the tables
flag (``*_ci_low_informative`` False); read the permutation p-value instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import special

from mirror_neurons.analysis.cmni import D_CAP, mirror_scores
from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.stats import CellMoments, cell_moments, empirical_p, moments_from_cells
from mirror_neurons.train.model import MLP, ModelConfig


@dataclass(frozen=True)
class NullTest:
    observed: float
    null: np.ndarray  # (n,)

    @property
    def p_value(self) -> float:
        return empirical_p(self.null, self.observed)

    @property
    def p_value_floor(self) -> float:
        """The smallest p-value this many draws can give: 1 / (1 + n)."""
        return p_floor(len(self.null))


def p_floor(n: int) -> float:
    """Smallest Monte Carlo p-value of ``n`` draws, ``1 / (1 + n)``."""
    return 1.0 / (1 + n)


def min_draws(alpha: float) -> int:
    """The fewest draws whose p-value floor 1 / (1 + n) is below ``alpha`` (20 for alpha 0.05)."""
    n = max(int(np.floor(1.0 / alpha - 1.0)), 0)
    while p_floor(n) >= alpha:
        n += 1
    return n


def monte_carlo_p(observed: float, null: np.ndarray) -> float:
    return NullTest(observed, np.asarray(null)).p_value


def _cell_rows(a: np.ndarray, groups: Groups) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """Per stratum: the none, frog and toad states' activations (m_s, units) float32 and labels 0/1/2 (m_s,);
    and the weight (3, S) of a state of group g in stratum s in its group's (reweighted) mean."""
    groups.require("none", "frog", "toad")
    counts = groups.cell_counts()[:3].astype(np.float64)
    weight = np.where(counts > 0, groups.target()[0][None, :] / np.maximum(counts, 1), 0.0)
    xs, labels = [], []
    for s in range(groups.n_strata):
        idx = [np.arange(groups.n)[groups.cells[g][s]] for g in range(3)]
        xs.append(np.asarray(a[np.concatenate(idx)], dtype=np.float32))
        labels.append(np.concatenate([np.full(len(i), g, dtype=np.int64) for g, i in enumerate(idx)]))
    return xs, labels, weight


def permutation_diffs(
    a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator, *, chunk: int = 32
) -> np.ndarray:
    """(n, 2, units) contrasts (dfrog, dtoad) of ``a`` with the none/frog/toad labels permuted within each stratum.

    Vectorised: a chunk of permutations is one weighted one-hot matrix (states, 3 x chunk) whose
    entries are the states' weights in their permuted group; all group means are one matrix product.
    """
    xs, labels, weight = _cell_rows(a, groups)
    x = np.concatenate(xs)
    stratum = np.concatenate([np.full(len(lab), s) for s, lab in enumerate(labels)])
    rows = np.arange(len(x))[:, None]
    out = []
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        perm = np.stack([np.concatenate([rng.permutation(lab) for lab in labels]) for _ in range(k)], axis=1)  # (m, k)
        onehot = np.zeros((len(x), k * 3), dtype=np.float32)
        onehot[rows, perm + 3 * np.arange(k)[None, :]] = weight[perm, stratum[:, None]]
        mean = (onehot.T @ x).astype(np.float64).reshape(k, 3, -1)
        out.append(np.stack([mean[:, 1] - mean[:, 0], mean[:, 2] - mean[:, 0]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2, a.shape[1]))


def permutation_null(a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator, *, chunk: int = 32) -> np.ndarray:
    """CMNI (n,) of ``a`` (states, units: the units the index counts) with group labels permuted (within strata)."""
    d = permutation_diffs(a, groups, n, rng, chunk=chunk)
    return mirror_scores(d[:, 0], d[:, 1]).mean(axis=1)


def bootstrap_diffs(a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 2, units) contrasts of bootstrap resamples drawn with replacement within every group x stratum cell."""
    xs, labels, weight = _cell_rows(a, groups)
    mean = np.zeros((n, 3, a.shape[1]))
    for g in range(3):
        for s, (x, lab) in enumerate(zip(xs, labels)):
            xg = x[lab == g]
            m = len(xg)
            if m == 0:
                continue
            w = np.stack([np.bincount(rng.integers(0, m, m), minlength=m) for _ in range(n)])
            mean[:, g] += weight[g, s] * (w.astype(np.float32) @ xg)
    return np.stack([mean[:, 1] - mean[:, 0], mean[:, 2] - mean[:, 0]], axis=1)


def bootstrap_cmni(a: np.ndarray, groups: Groups, n: int, rng: np.random.Generator) -> np.ndarray:
    """CMNI (n,) of bootstrap resamples of the test states (stratified by group, and by stratum when matched)."""
    d = bootstrap_diffs(a, groups, n, rng)
    return mirror_scores(d[:, 0], d[:, 1]).mean(axis=1)


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def random_init_null(
    config: ModelConfig, x: torch.Tensor | np.ndarray, groups: Groups, seeds: np.ndarray, *, hidden_only: bool = False
) -> np.ndarray:
    """CMNI (len(seeds),) of freshly initialised models of ``config`` on states ``x`` (``random_init_indices``'s first column)."""
    return random_init_indices(config, x, groups, seeds, hidden_only=hidden_only)[:, 0]


# -- both indices from contrasts, the normal-limit nulls and the BC interval ------


@dataclass(frozen=True)
class Contrasts:
    """Observed stratified contrasts of the counted units and the pooled sds of the scale-free index."""

    dfrog: np.ndarray  # (units,)
    dtoad: np.ndarray
    sd_frog: np.ndarray  # (units,) pooled sd (ddof 1) of frog and none
    sd_toad: np.ndarray


def contrasts(cm: CellMoments, counted: int | None = None) -> Contrasts:
    """The counted units' (first ``counted`` columns) contrasts and sds from their cell moments."""
    m = moments_from_cells(cm)
    u = slice(0, counted)

    def sd(g: int) -> np.ndarray:
        n1, n0 = m.count[g], m.count[0]
        return np.sqrt((n1 * m.var[g][u] + n0 * m.var[0][u]) / max(n1 + n0 - 2, 1))

    return Contrasts(m.mean[1][u] - m.mean[0][u], m.mean[2][u] - m.mean[0][u], sd(1), sd(2))


def standardise(diff: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """diff / sd capped to [-D_CAP, D_CAP]; sd 0: 0 if diff is 0, else +-D_CAP (as ``cmni.effect_size_cmni``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.where(diff == 0, 0.0, np.sign(diff) * np.inf))
    return np.clip(d, -D_CAP, D_CAP)


def both_indices(dfrog: np.ndarray, dtoad: np.ndarray, c: Contrasts) -> np.ndarray:
    """(..., 2): [raw CMNI, scale-free index] of contrasts (..., units), with the observed sds ``c``."""
    raw = mirror_scores(dfrog, dtoad).mean(axis=-1)
    scaled = mirror_scores(standardise(dfrog, c.sd_frog), standardise(dtoad, c.sd_toad)).mean(axis=-1)
    return np.stack([raw, scaled], axis=-1)


def _still(z: np.ndarray, c: Contrasts) -> np.ndarray:
    """``z`` (n, 2 units) with the draws of units whose observed pooled sd is 0 set to exactly 0.

    Such a unit is constant within its groups (a dead ReLU): its contrast cannot move under
    resampling within them (nor under permutation when the sd is the permuted groups'). The eigen-decomposition of a singular covariance leaves draws of
    about 1e-17 there, which ``standardise`` would turn into +-D_CAP and so into a null and an
    interval of the scale-free index far from the index itself (found with planted units).
    """
    k = len(c.dfrog)
    z[:, :k][:, c.sd_frog == 0] = 0.0
    z[:, k:][:, c.sd_toad == 0] = 0.0
    return z


def _gaussian(cov: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, dim) draws of N(0, cov); cov may be singular (dead units): a symmetric square root."""
    # torch's LAPACK runs on the analysis's own thread setting; NumPy's threaded one stalled for 0.4 s on a busy machine
    vals, vecs = torch.linalg.eigh(torch.from_numpy((cov + cov.T) / 2))
    root = (vecs * torch.sqrt(torch.clamp(vals, min=0.0))).numpy()
    return np.einsum("nd,ed->ne", rng.standard_normal((n, len(cov))), root)


def _block(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.block([[a, c], [c, b]])


def normal_permutation_null(
    cm: CellMoments, n: int, rng: np.random.Generator, counted: int | None = None
) -> np.ndarray:
    """(n, 2) [raw CMNI, scale-free index] under within-stratum label permutation, in its normal limit.

    ``cm`` needs the cells' covariances (``cell_moments(..., cov=True)``); see the module docstring.
    """
    u = slice(0, counted)
    obs = contrasts(cm, counted)
    k = len(obs.dfrog)
    a = np.zeros((k, k))
    b, c = np.zeros((k, k)), np.zeros((k, k))
    centres, within = [], np.zeros(k)
    for s, pi in enumerate(cm.pi):
        cnt = cm.count[:3, s].astype(np.float64)
        total = cnt.sum()
        if pi == 0 or (cnt == 0).any():
            continue
        centre = (cnt[:, None] * cm.mean[:3, s, u]).sum(axis=0) / total
        scatter = sum(
            cnt[g] * (cm.cov[g, s][u, u] + np.outer(cm.mean[g, s, u] - centre, cm.mean[g, s, u] - centre))
            for g in range(3)
        )
        pooled = scatter / max(total - 1, 1)  # P_s, ddof 1
        centres.append((pi, centre))
        within += pi * np.diag(pooled)
        a += pi**2 * pooled * (1 / cnt[1] + 1 / cnt[0])
        b += pi**2 * pooled * (1 / cnt[2] + 1 / cnt[0])
        c += pi**2 * pooled / cnt[0]
    z = _gaussian(_block(a, b, c), n, rng)
    # Standardise each draw by the sd its permuted groups would have: within-stratum labels are
    # exchangeable, so every reweighted group has the pooled within-stratum variance plus the spread
    # of the stratum centres. Standardising by the observed groups' sd instead would send a unit that
    # is silent in none and frog but active in toad (observed frog-contrast sd 0) to +-D_CAP in draws
    # where permutation gives it a frog contrast, and the null far above the index.
    weight = sum(pi for pi, _ in centres) or 1.0
    mean_all = sum(pi * centre for pi, centre in centres) / weight
    between = sum(pi * (centre - mean_all) ** 2 for pi, centre in centres) / weight
    sd_null = np.sqrt(within / weight + between) if centres else np.zeros(k)
    null = Contrasts(obs.dfrog, obs.dtoad, sd_null, sd_null)
    z = _still(z, null)  # a unit constant in all three groups cannot move at all
    return both_indices(z[:, :k], z[:, k:], null)


def normal_bootstrap(cm: CellMoments, n: int, rng: np.random.Generator, counted: int | None = None) -> np.ndarray:
    """(n, 2) [raw CMNI, scale-free index] of the within-cell bootstrap in its normal limit (module docstring)."""
    u = slice(0, counted)
    obs = contrasts(cm, counted)
    k = len(obs.dfrog)
    var = [np.zeros((k, k)) for _ in range(3)]  # Cov of each group's reweighted mean
    for g in range(3):
        for s, pi in enumerate(cm.pi):
            if pi and cm.count[g, s]:
                var[g] += pi**2 * cm.cov[g, s][u, u] / cm.count[g, s]
    z = _still(_gaussian(_block(var[1] + var[0], var[2] + var[0], var[0]), n, rng), obs)
    return both_indices(obs.dfrog + z[:, :k], obs.dtoad + z[:, k:], obs)


def bc_interval(values: np.ndarray, observed: float, level: float = 0.95) -> tuple[float, float]:
    """Efron's bias-corrected percentile interval of bootstrap ``values`` around ``observed`` (module docstring)."""
    values = np.asarray(values)
    n = len(values)
    below = (np.sum(values < observed) + 0.5 * np.sum(values == observed)) / n
    z0 = special.ndtri(np.clip(below, 0.5 / n, 1 - 0.5 / n))
    z = special.ndtri(np.array([(1 - level) / 2, 1 - (1 - level) / 2]))
    q = np.clip(special.ndtr(2 * z0 + z), 0.0, 1.0)
    lo, hi = np.quantile(values, q)
    return float(lo), float(hi)


def lower_end_informative(values: np.ndarray, observed: float, level: float = 0.95) -> bool:
    """False when the index sits at its boundary: observed 0, or more than (1 - level) / 2 of the draws at 0."""
    return bool(observed > 0 and np.mean(np.asarray(values) <= 0) <= (1 - level) / 2)


def _layer_outputs(model: MLP, feats: torch.Tensor) -> list[np.ndarray]:
    """Every Dense layer's output on encoded features, in inference mode (dropout off): ``MLP.forward``
    after its encoding step, as ``activations.capture`` records it (tested equal)."""
    out = []
    with torch.no_grad():
        x = feats
        for j, layer in enumerate(model.layers):
            x = layer(x)
            if j < len(model.layers) - 1:
                x = model.activation(x)
            out.append(x.numpy())
    return out


def random_init_indices(
    config: ModelConfig, x: torch.Tensor | np.ndarray, groups: Groups, seeds: np.ndarray, *, hidden_only: bool = False
) -> np.ndarray:
    """(len(seeds), 2) [raw CMNI, scale-free index] of freshly initialised models of ``config`` on states ``x``.

    Measured exactly as a checkpoint (composition-matched when ``groups`` is), on the none, frog
    and toad states only.
    """
    keep = np.flatnonzero(
        (groups.label >= 0) & (groups.label < 3) & ((groups.stratum >= 0) if groups.matched else True)
    )
    sub = groups.take(keep)
    xs = x[torch.as_tensor(keep)] if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, np.float32)[keep])
    model = MLP(config).eval()
    feats = model.encoding.encode(xs)  # (m, features): encoded once, not once per seed (recoding costs 0.2 s a pass)
    out = np.empty((len(seeds), 2))
    for i, s in enumerate(seeds):
        model.reset_parameters(torch.Generator().manual_seed(int(s)))
        acts = _layer_outputs(model, feats)
        a = np.concatenate(acts[:-1] if hidden_only else acts, axis=1)
        c = contrasts(cell_moments(a, sub))
        out[i] = both_indices(c.dfrog, c.dtoad, c)
    return out


__all__ = [
    "Contrasts",
    "NullTest",
    "bc_interval",
    "both_indices",
    "bootstrap_cmni",
    "bootstrap_diffs",
    "contrasts",
    "lower_end_informative",
    "min_draws",
    "monte_carlo_p",
    "normal_bootstrap",
    "normal_permutation_null",
    "p_floor",
    "percentile_interval",
    "permutation_diffs",
    "permutation_null",
    "random_init_indices",
    "random_init_null",
]
