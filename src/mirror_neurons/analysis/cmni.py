"""The Checkpoint Mirror Neuron Index, exactly as SPEC section 6, and a scale-free variant.

Per unit n, with mu_s(n) its mean activation in scenario group s:

    dfrog(n) = mu_frog(n) - mu_none(n)        dtoad(n) = mu_toad(n) - mu_none(n)
    MNS(n)   = min(dfrog, dtoad) if dfrog > 0 and dtoad > 0, else 0
    MNE      = sum of MNS over all units of all layers (output layer included)
    CMNI     = MNE / number of units

``hidden_only=True`` drops the output layer from both sums (an option of ours;
the paper counts the 4 output units, so a 2 x 17 model has 38 units).

The index is in activation units, so it moves with the overall scale of a
network's activations (L2 training shrinks weights ~25-fold in sum of squares,
so raw CMNI against an untrained network mostly compares scales).
``effect_size_cmni``, the analysis's **primary index** (column
``cmni_effect_size``, ours), is the same formula on standardised contrasts:

    d_frog(n) = (mu_frog(n) - mu_none(n)) / s_frog,none(n)     (likewise d_toad)
    s_g,none(n)^2 = (n_g var_g(n) + n_none var_none(n)) / (n_g + n_none - 2)    (Cohen's pooled variance)
    d is capped to [-D_CAP, D_CAP] = [-10, 10]
    MNS_d(n) = min(d_frog, d_toad) if both > 0, else 0
    CMNI_d   = sum of MNS_d / number of units counted

with ``mu`` and ``var`` the group means and population variances (composition
-matched by default, see ``groups``; ``var`` of a reweighted group includes its
spread between strata) and ``n_g`` the group's state count. Units:

* a **dead unit** (constant in both groups compared, pooled sd 0, e.g. a ReLU
  that never fires) has d = 0 and adds 0, but still counts in the denominator,
  as in the raw CMNI;
* a unit constant within each group but at different levels (sd 0, means
  differ) would have an infinite d: it gets +-D_CAP, as does any |d| > 10, so
  one unit adds at most 10 / number of units;
* a unit with zero variance in one group only has a finite pooled sd: an
  ordinary d.

**The clamp.** ``min(., .) if both > 0 else 0`` never lets a unit subtract: on
pure noise each unit adds a positive amount with probability about 1/4, so
both indices are biased upwards, more so with fewer states (``controls``
measures this with its permutation null), and the index cannot see
anti-mirror units (both contrasts < 0), which the unit classes count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mirror_neurons.analysis.groups import GROUPS, Groups
from mirror_neurons.analysis.stats import Moments, cohens_d_from_moments, group_moments

NONE, FROG, TOAD, BOTH = (GROUPS.index(g) for g in GROUPS)
D_CAP = 10.0
"""|Cohen's d| at which a contrast is capped in ``effect_size_cmni`` (see the module docstring)."""


def mirror_scores(dfrog: np.ndarray, dtoad: np.ndarray) -> np.ndarray:
    """MNS per unit: min(dfrog, dtoad) where both are > 0, else 0."""
    return np.where((dfrog > 0) & (dtoad > 0), np.minimum(dfrog, dtoad), 0.0)


@dataclass(frozen=True)
class CMNIResult:
    layers: tuple[str, ...]
    widths: tuple[int, ...]
    dfrog: np.ndarray  # (units,) all layers side by side, in layer order
    dtoad: np.ndarray
    mns: np.ndarray
    hidden_only: bool

    @property
    def n_units(self) -> int:
        return int(sum(self.widths))

    @property
    def mne(self) -> float:
        return float(self.mns.sum())

    @property
    def cmni(self) -> float:
        return self.mne / self.n_units

    def per_layer(self) -> dict[str, dict[str, float]]:
        """{layer: {"mne", "cmni", "units"}} with each layer's own unit count as denominator."""
        out, start = {}, 0
        for name, w in zip(self.layers, self.widths):
            m = float(self.mns[start : start + w].sum())
            out[name] = {"mne": m, "cmni": m / w, "units": w}
            start += w
        return out


def cmni_from_means(
    mean: np.ndarray, layers: tuple[str, ...], widths: tuple[int, ...], *, hidden_only: bool = False
) -> CMNIResult:
    """CMNI from group means (4 groups in GROUPS order, units) of all layers side by side."""
    if hidden_only:
        keep = sum(widths[:-1])
        mean, layers, widths = mean[:, :keep], layers[:-1], widths[:-1]
    dfrog = mean[FROG] - mean[NONE]
    dtoad = mean[TOAD] - mean[NONE]
    return CMNIResult(tuple(layers), tuple(widths), dfrog, dtoad, mirror_scores(dfrog, dtoad), hidden_only)


def compute_cmni(acts: dict[str, np.ndarray], groups: Groups, *, hidden_only: bool = False) -> CMNIResult:
    """CMNI of activations {layer: (n, units)} over scenario groups (none, frog and toad must be non-empty)."""
    groups.require("none", "frog", "toad")
    layers = tuple(acts)
    widths = tuple(a.shape[1] for a in acts.values())
    mean = np.stack(
        [_group_mean(np.concatenate(list(acts.values()), axis=1), groups, g) for g in ("none", "frog", "toad")]
    )
    full = np.zeros((len(GROUPS), mean.shape[1]))
    full[[NONE, FROG, TOAD]] = mean
    return cmni_from_means(full, layers, widths, hidden_only=hidden_only)


def _group_mean(a: np.ndarray, groups: Groups, g: str) -> np.ndarray:
    return np.asarray(a[groups.index(g)], dtype=np.float64).mean(axis=0)


def effect_size_cmni(
    moments: Moments, layers: tuple[str, ...], widths: tuple[int, ...], *, hidden_only: bool = False
) -> CMNIResult:
    """The scale-free variant: MNS from Cohen's d (frog vs none, toad vs none) instead of raw differences.

    Its ``cmni`` is the mean over units of min(d_frog, d_toad) where both are > 0, each d capped
    to [-D_CAP, D_CAP]; dead units add 0 (see the module docstring).
    """
    c, m, v = moments.count, moments.mean, moments.var
    d_frog = cohens_d_from_moments(m[FROG], m[NONE], v[FROG], v[NONE], c[FROG], c[NONE])
    d_toad = cohens_d_from_moments(m[TOAD], m[NONE], v[TOAD], v[NONE], c[TOAD], c[NONE])
    # A constant-but-shifted unit would give an infinite d; cap so one unit cannot dominate.
    d_frog, d_toad = np.clip(d_frog, -D_CAP, D_CAP), np.clip(d_toad, -D_CAP, D_CAP)
    if hidden_only:
        keep = sum(widths[:-1])
        d_frog, d_toad, layers, widths = d_frog[:keep], d_toad[:keep], layers[:-1], widths[:-1]
    return CMNIResult(tuple(layers), tuple(widths), d_frog, d_toad, mirror_scores(d_frog, d_toad), hidden_only)


__all__ = [
    "D_CAP",
    "CMNIResult",
    "cmni_from_means",
    "compute_cmni",
    "effect_size_cmni",
    "group_moments",
    "mirror_scores",
]
