"""Power analysis of the second round (docs/theory.md, "Round two"), done before the run.

The smallest effect the round must detect is an odds ratio of 2 for a dataset-level
factor (dependency D) between its two ends, with power 0.8 at two-sided alpha 0.05.

1. ``n_per_group``: models per factor level for two independent proportions, the
   normal-approximation formula without continuity correction (Fleiss, Levin and Paik,
   *Statistical Methods for Rates and Proportions*, 3rd ed., eq. 4.14):
   ``n = (z_{1-a/2} sqrt(2 pbar qbar) + z_{1-b} sqrt(p0 q0 + p1 q1))^2 / (p1 - p0)^2``.
2. ``design_effect``: models of one dataset share its data, so they are not independent;
   with ``m`` models per dataset and intra-dataset correlation ``icc`` the variance grows by
   ``1 + (m - 1) icc`` (Kish).
3. ``seeds_per_cell``: the smallest number of seeds per (dataset, architecture) such that the
   models at one factor level, divided by the design effect, reach ``n_per_group``.

Pure functions of numbers; tests check them against a simulation and statsmodels' power
routines (an independent, arcsine-based calculation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from scipy import stats

from mirror_neurons.errors import ConfigError


@dataclass(frozen=True)
class Planning:
    """The planning values, fixed before the run (docs/theory.md gives the reasons)."""

    p0: float = 0.2
    """P at the low end of the factor: round one's share under the paper's definition (45/216 = 0.21)."""
    odds_ratio: float = 2.0
    alpha: float = 0.05
    power: float = 0.8
    icc: float = 0.05
    """Correlation of two models' outcomes within one dataset (on the probability scale)."""

    def to_dict(self) -> dict:
        return asdict(self)


def p1_of(p0: float, odds_ratio: float) -> float:
    """The probability whose odds are ``odds_ratio`` times those of ``p0``."""
    odds = odds_ratio * p0 / (1 - p0)
    return odds / (1 + odds)


def n_per_group(p0: float, odds_ratio: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Models per group to tell P = p0 from the P with ``odds_ratio`` times its odds (two-sided test)."""
    if not 0 < p0 < 1 or odds_ratio <= 0 or odds_ratio == 1:
        raise ConfigError(f"need 0 < p0 < 1 and an odds ratio other than 1, got p0={p0}, odds ratio {odds_ratio}")
    p1 = p1_of(p0, odds_ratio)
    za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    pbar = (p0 + p1) / 2
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p0 * (1 - p0) + p1 * (1 - p1))) ** 2 / (p1 - p0) ** 2
    return math.ceil(n)


def design_effect(models_per_dataset: int, icc: float) -> float:
    """Variance inflation of a mean over clustered models: 1 + (m - 1) icc."""
    return 1.0 + (models_per_dataset - 1) * icc


def seeds_per_cell(
    datasets_per_level: int, architectures: int, plan: Planning = Planning(), max_seeds: int = 1000
) -> int | None:
    """Seeds per (dataset, architecture) for ``plan``'s power at one factor level of ``datasets_per_level`` datasets.

    None when no number of seeds reaches it: with many models per dataset the effective
    sample size tends to ``datasets_per_level / icc``, so more datasets, not more seeds, are
    then needed.
    """
    need = n_per_group(plan.p0, plan.odds_ratio, plan.alpha, plan.power)
    for seeds in range(1, max_seeds + 1):
        m = architectures * seeds
        if datasets_per_level * m / design_effect(m, plan.icc) >= need:
            return seeds
    return None


def achieved_power(models_per_level: int, models_per_dataset: int, plan: Planning = Planning()) -> float:
    """Power of the two-proportion test with ``models_per_level`` clustered models per level (effective n)."""
    n = models_per_level / design_effect(models_per_dataset, plan.icc)
    p0, p1 = plan.p0, p1_of(plan.p0, plan.odds_ratio)
    pbar = (p0 + p1) / 2
    za = stats.norm.ppf(1 - plan.alpha / 2)
    se0, se1 = math.sqrt(2 * pbar * (1 - pbar) / n), math.sqrt((p0 * (1 - p0) + p1 * (1 - p1)) / n)
    return float(stats.norm.cdf((abs(p1 - p0) - za * se0) / se1))


def power_table(datasets_per_level: int, architectures: int, seeds: int, plan: Planning = Planning()) -> dict:
    """The numbers docs/theory.md quotes for a grid: need, seeds per cell needed, and the grid's own power."""
    m = architectures * seeds
    return {
        "planning": plan.to_dict(),
        "p1": p1_of(plan.p0, plan.odds_ratio),
        "n_per_group": n_per_group(plan.p0, plan.odds_ratio, plan.alpha, plan.power),
        "datasets_per_level": datasets_per_level,
        "architectures": architectures,
        "models_per_dataset": m,
        "design_effect": design_effect(m, plan.icc),
        "seeds_needed": seeds_per_cell(datasets_per_level, architectures, plan),
        "seeds": seeds,
        "power": achieved_power(datasets_per_level * m, m, plan),
    }
