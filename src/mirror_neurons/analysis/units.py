"""Per-unit significance and unit classes by stated rules (fixed before looking at any result).

For every unit, two contrasts: **frog** (frog-distress group vs none) and
**toad** (toad-distress group vs none), each tested with a one-sided
Mann-Whitney U test in both directions (``stats.mann_whitney``), with Cohen's d
and AUROC beside every p-value.

* mirror p = max(p_up_frog, p_up_toad): the intersection-union test of
  "up with Frog's distress AND up with Toad's distress" (a unit passes only if
  both one-sided tests do). anti-mirror p = max(p_down_frog, p_down_toad).
* per-contrast two-sided p = min(1, 2 min(p_up, p_down)).
* Benjamini-Hochberg across all units of the checkpoint, separately for the
  mirror p-values, the anti-mirror p-values and the 2 x units per-contrast
  p-values (q_mirror, q_anti, q_frog / q_toad).

**Composition-matched groups** (the analysis's default, ``groups.match_composition``):
each contrast is the stratum-weighted mean difference, tested by a normal test
of that difference (``stats.stratified_z``), and d is Cohen's d of the
reweighted groups, the same d as the primary index. AUROC needs ranks within
strata and is not computed there (NaN); the paper's view (unmatched groups)
keeps the Mann-Whitney tests and AUROC.

A contrast *responds* when its q < alpha AND |d| >= min_effect (default 0.2,
Cohen's "small"): with tens of thousands of test states per group, tiny shifts
are significant, and a class should mean a visible response. Classes, first
rule that applies:

1. **mirror**: q_mirror < alpha, d_frog >= min_effect and d_toad >= min_effect.
2. **anti-mirror**: q_anti < alpha, d_frog <= -min_effect and d_toad <= -min_effect.
3. **differentiating**: exactly one of the two contrasts responds (either
   direction), the other does not, AND the unit tells the two players'
   distress apart: the direct contrast frog-distress vs toad-distress responds
   too (two-sided Mann-Whitney, its own BH family, q < alpha, |d| >= min_effect).
   The last condition keeps a unit with d_frog = 0.21 and d_toad = 0.19 (equal
   responses on either side of the effect floor) out of the class. A unit with
   both contrasts responding in opposite directions is "other": it tells the
   players apart, but it does not respond to one player's distress only.
4. **mixed**: a hidden unit after the first hidden layer whose strongest
   positive inputs (``circuits.strong_inputs``: top_k = 3 by kernel z-score,
   each z > 1) include at least one mirror and at least one differentiating
   unit of the layer below. The output layer's units are actions and are never
   "mixed". A unit that is already mirror / anti-mirror / differentiating by its
   own responses keeps that class; ``mixed_inputs`` flags the wiring for all.
5. **other**.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mirror_neurons.analysis.circuits import kernel_zscores, strong_inputs
from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.stats import (
    CellMoments,
    benjamini_hochberg,
    cell_moments,
    cohens_d,
    cohens_d_from_moments,
    mann_whitney,
    moments_from_cells,
    stratified_z,
)
from mirror_neurons.train.model import MLP

CLASSES = ("mirror", "anti-mirror", "differentiating", "mixed", "other")


@dataclass(frozen=True)
class UnitTests:
    """(units,) arrays, all layers side by side."""

    p_up_frog: np.ndarray
    p_down_frog: np.ndarray
    p_up_toad: np.ndarray
    p_down_toad: np.ndarray
    d_frog: np.ndarray
    d_toad: np.ndarray
    auroc_frog: np.ndarray
    auroc_toad: np.ndarray
    p_mirror: np.ndarray
    p_anti: np.ndarray
    q_mirror: np.ndarray
    q_anti: np.ndarray
    p_frog: np.ndarray  # two-sided, per contrast
    p_toad: np.ndarray
    q_frog: np.ndarray
    q_toad: np.ndarray
    p_frog_vs_toad: np.ndarray  # two-sided, frog-distress vs toad-distress
    q_frog_vs_toad: np.ndarray
    d_frog_vs_toad: np.ndarray
    auroc_frog_vs_toad: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        return asdict(self)


def unit_tests(a: np.ndarray, groups: Groups, cells: CellMoments | None = None) -> UnitTests:
    """Tests, effect sizes and BH q-values for activations ``a`` (n, units) (``cells``: their cell moments, if at hand)."""
    if groups.matched:
        return _matched_tests(cells if cells is not None else cell_moments(a, groups), groups)
    none, frog, toad = (a[groups.index(g)] for g in ("none", "frog", "toad"))
    tf, tt, ft = mann_whitney(frog, none), mann_whitney(toad, none), mann_whitney(frog, toad)
    p_ft = np.minimum(1.0, 2 * np.minimum(ft.p_greater, ft.p_less))
    p_mirror = np.maximum(tf.p_greater, tt.p_greater)
    p_anti = np.maximum(tf.p_less, tt.p_less)
    p_frog = np.minimum(1.0, 2 * np.minimum(tf.p_greater, tf.p_less))
    p_toad = np.minimum(1.0, 2 * np.minimum(tt.p_greater, tt.p_less))
    q_contrast = benjamini_hochberg(np.stack([p_frog, p_toad]))
    return UnitTests(
        p_up_frog=tf.p_greater,
        p_down_frog=tf.p_less,
        p_up_toad=tt.p_greater,
        p_down_toad=tt.p_less,
        d_frog=cohens_d(frog, none),
        d_toad=cohens_d(toad, none),
        auroc_frog=tf.auroc,
        auroc_toad=tt.auroc,
        p_mirror=p_mirror,
        p_anti=p_anti,
        q_mirror=benjamini_hochberg(p_mirror),
        q_anti=benjamini_hochberg(p_anti),
        p_frog=p_frog,
        p_toad=p_toad,
        q_frog=q_contrast[0],
        q_toad=q_contrast[1],
        p_frog_vs_toad=p_ft,
        q_frog_vs_toad=benjamini_hochberg(p_ft),
        d_frog_vs_toad=cohens_d(frog, toad),
        auroc_frog_vs_toad=ft.auroc,
    )


def _matched_tests(cm: CellMoments, groups: Groups) -> UnitTests:
    """``unit_tests`` for composition-matched groups: stratified normal tests and reweighted Cohen's d."""
    groups.require("none", "frog", "toad")
    m = moments_from_cells(cm)

    def d(g1: int, g2: int) -> np.ndarray:
        return cohens_d_from_moments(m.mean[g1], m.mean[g2], m.var[g1], m.var[g2], m.count[g1], m.count[g2])

    up_f, down_f = stratified_z(cm, 1, 0)
    up_t, down_t = stratified_z(cm, 2, 0)
    up_ft, down_ft = stratified_z(cm, 1, 2)
    p_ft = np.minimum(1.0, 2 * np.minimum(up_ft, down_ft))
    p_mirror, p_anti = np.maximum(up_f, up_t), np.maximum(down_f, down_t)
    p_frog = np.minimum(1.0, 2 * np.minimum(up_f, down_f))
    p_toad = np.minimum(1.0, 2 * np.minimum(up_t, down_t))
    q_contrast = benjamini_hochberg(np.stack([p_frog, p_toad]))
    nan = np.full(len(p_frog), np.nan)
    return UnitTests(
        p_up_frog=up_f, p_down_frog=down_f, p_up_toad=up_t, p_down_toad=down_t, d_frog=d(1, 0), d_toad=d(2, 0),
        auroc_frog=nan, auroc_toad=nan, p_mirror=p_mirror, p_anti=p_anti, q_mirror=benjamini_hochberg(p_mirror),
        q_anti=benjamini_hochberg(p_anti), p_frog=p_frog, p_toad=p_toad, q_frog=q_contrast[0], q_toad=q_contrast[1],
        p_frog_vs_toad=p_ft, q_frog_vs_toad=benjamini_hochberg(p_ft), d_frog_vs_toad=d(1, 2), auroc_frog_vs_toad=nan,
    )  # fmt: skip


def response_classes(t: UnitTests, *, alpha: float = 0.05, min_effect: float = 0.2) -> np.ndarray:
    """Rules 1-3 and 5 (no wiring): (units,) array of class names."""
    mirror = (t.q_mirror < alpha) & (t.d_frog >= min_effect) & (t.d_toad >= min_effect)
    anti = (t.q_anti < alpha) & (t.d_frog <= -min_effect) & (t.d_toad <= -min_effect)
    resp_frog = (t.q_frog < alpha) & (np.abs(t.d_frog) >= min_effect)
    resp_toad = (t.q_toad < alpha) & (np.abs(t.d_toad) >= min_effect)
    tells_apart = (t.q_frog_vs_toad < alpha) & (np.abs(t.d_frog_vs_toad) >= min_effect)
    diff = (resp_frog ^ resp_toad) & tells_apart
    return np.select([mirror, anti, diff], ["mirror", "anti-mirror", "differentiating"], "other").astype(object)


def mixed_inputs(model: MLP, classes: np.ndarray, *, top_k: int = 3, z_min: float = 1.0) -> np.ndarray:
    """(units,) bool: a hidden unit after the first whose strongest inputs include a mirror and a differentiating unit."""
    zs = kernel_zscores(model)
    widths = model.config.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    flag = np.zeros(int(starts[-1]), dtype=bool)
    for layer in range(1, len(widths) - 1):  # hidden layers after the first; the output layer excluded
        below = classes[starts[layer - 1] : starts[layer]]
        for unit in range(widths[layer]):
            src = below[strong_inputs(zs[layer], unit, top_k=top_k, z_min=z_min)]
            flag[starts[layer] + unit] = ("mirror" in src) and ("differentiating" in src)
    return flag


def classify(
    model: MLP, t: UnitTests, *, alpha: float = 0.05, min_effect: float = 0.2, top_k: int = 3, z_min: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(classes, mixed_inputs flags), both (units,), by the rules in this module's docstring."""
    classes = response_classes(t, alpha=alpha, min_effect=min_effect)
    flags = mixed_inputs(model, classes, top_k=top_k, z_min=z_min)
    classes = np.where(flags & (classes == "other"), "mixed", classes).astype(object)
    return classes, flags


def class_counts(classes: np.ndarray) -> dict[str, int]:
    return {c: int((classes == c).sum()) for c in CLASSES}
