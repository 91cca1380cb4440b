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
from mirror_neurons.analysis.stats import benjamini_hochberg, cohens_d, mann_whitney
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


def unit_tests(a: np.ndarray, groups: Groups) -> UnitTests:
    """Rank tests, effect sizes and BH q-values for activations ``a`` (n, units)."""
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
