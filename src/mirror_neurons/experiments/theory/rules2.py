"""The pre-registered part of the theory experiment, round two (docs/theory.md, "Round two").

Round one measured emergence on networks that never learned the game and against
a null confounded by weight scale and symbol coding (issue 18). Round two:

- **Competence on the task** (``task_competent``): ``analysis.competence``'s rule against
  the energy rule on the same states. A task with no help labels (every D < 0.75 game)
  cannot show help recall, so there the help clause is dropped and the macro recall is
  taken over the classes present; the margin, the leap floor and the accuracy clause stay.
- **Emergence, paired** (primary): the model is competent, and its scale-free,
  composition-matched index (``cmni_effect_size``) rose over its *own initialisation*
  (the epoch-0 checkpoint) by more than measurement noise: ``z = change / se > 1.645``
  (one-sided 5 %), ``se`` from the analysis stage's bootstrap of each checkpoint's index on
  the same states, the two added as if independent (conservative: the shared states
  correlate them positively).
- **Emergence, the paper's** (comparison): competent and raw CMNI > 0.005. The paper's loss
  threshold (0.06 under MSE + L2) has no meaning under the cross-entropy the competent recipe
  trains with; competence takes its place.
- **Continuous outcome**: the paired change of the scale-free index, per model.
- **Models** (statsmodels): logistic regression with standard errors clustered by dataset
  (``GLM(..., cov_type="cluster")``) for the binary outcomes; a linear mixed model with a
  random intercept per dataset (``MixedLM``) for the change. Terms: x = log(S/M) centred, x^2,
  depth (centred), D, I, (D - mean D)(I - 1/2). The separate fit with log S and log M in place of
  x and x^2 is reported beside it (the ratio form predicts b_logS = -b_logM).
- **Decision rules**: round one's, on 95 % cluster-robust Wald intervals (binary) and
  mixed-model Wald intervals (change); for the change, *meaningful* is a shift of at least
  0.2 standard deviations of the models' changes across the factor's range, *negligible* an
  interval inside +-0.2 sd. "P falls with E" is not tested: emergence requires competence, so
  it would be circular.
- **Arms**: a dataset with help labels (D >= 0.75) changes the task, so D is tested only
  among help-free datasets; datasets with help are a second arm, reported separately.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from mirror_neurons.analysis.competence import FLOOR, MARGIN, Scores, is_competent
from mirror_neurons.game.constants import Action

ROUND = 2
Z_EMERGE = float(stats.norm.ppf(0.95))
"""One-sided 5 % bar for the paired z of one model."""
PAPER_CMNI_THRESHOLD = 0.005
MEANINGFUL_OR = 2.0
MEANINGFUL_SD = 0.2
"""For the change: an effect across a factor's range of at least 0.2 sd of the changes is meaningful."""
MIN_EVENTS = 10
MIN_DATASETS = 4
"""Cluster-robust errors need clusters: fewer datasets in an arm and the fit is not attempted."""
DEFINITIONS = ("paired", "paper")
DEFINITION_NAMES = {
    "paired": "paired (competent, and the scale-free index rose over the model's own initialisation: z > 1.645)",
    "paper": "paper's, as a comparison (competent and raw CMNI > 0.005)",
}
ARMS = ("help-free", "with-help")
TERMS = ("intercept", "x", "x2", "depth", "D", "I", "DxI")
TERMS_SEPARATE = ("intercept", "log_S", "log_M", "depth", "D", "I", "DxI")
_TIE = 1e-9


def task_competent(scores: Scores, energy: Scores) -> bool:
    """``analysis.competence.is_competent``; on a task without help labels, the same rule without its help clause."""
    if not np.isnan(scores.recall[Action.HELP]):
        return is_competent(scores, energy)
    leap = scores.recall[Action.LEAP]
    return bool(
        scores.macro_recall >= energy.macro_recall + MARGIN - _TIE
        and leap >= FLOOR - _TIE
        and scores.accuracy >= energy.accuracy - _TIE
    )


def paired_change(trained: float, init: float, trained_draws: np.ndarray, init_draws: np.ndarray) -> dict:
    """The model's change of the index over its initialisation, its standard error and z."""
    se = float(math.sqrt(np.var(trained_draws, ddof=1) + np.var(init_draws, ddof=1)))
    change = float(trained - init)
    z = change / se if se > 0 else (math.inf if change > 0 else -math.inf if change < 0 else 0.0)
    return {"es_change": change, "es_change_se": se, "es_change_z": z}


def emergence(record: dict) -> dict[str, bool]:
    """Both round-two definitions for one model's record."""
    competent = bool(record["competent"])
    return {
        "paired": competent and record["es_change_z"] > Z_EMERGE,
        "paper": competent and record["cmni_trained"] > PAPER_CMNI_THRESHOLD,
    }


# --- the models -----------------------------------------------------------------------------------


def design(records: Sequence[dict], *, separate: bool = False) -> tuple[np.ndarray, dict]:
    """(n, 7) design of ``TERMS`` (or ``TERMS_SEPARATE``) and the centring used."""
    S = np.array([r["S"] for r in records], dtype=float)
    M = np.array([r["M"] for r in records], dtype=float)
    depth = np.array([r["depth"] for r in records], dtype=float)
    D = np.array([r["dependency"] for r in records], dtype=float)
    I = np.array([r["veil"] for r in records], dtype=float)  # noqa: E741
    centre = {"depth": float(depth.mean()), "D": float(D.mean())}
    dxi = (D - centre["D"]) * (I - 0.5)
    if separate:
        ls, lm = np.log(S), np.log(M)
        centre.update(log_S=float(ls.mean()), log_M=float(lm.mean()))
        cols = [ls - centre["log_S"], lm - centre["log_M"]]
    else:
        x = np.log(S / M)
        centre["x"] = float(x.mean())
        cols = [x - centre["x"], (x - centre["x"]) ** 2]
    X = np.column_stack([np.ones(len(records)), *cols, depth - centre["depth"], D, I, dxi])
    return X, centre


@dataclass
class ModelFit:
    """One fitted model: coefficients with 95 % intervals, or the reason there is none."""

    kind: str
    """"logistic, cluster-robust" or "mixed model"."""
    outcome: str
    terms: tuple[str, ...]
    n: int = 0
    events: int | None = None
    datasets: int = 0
    coef: dict[str, float] = field(default_factory=dict)
    se: dict[str, float] = field(default_factory=dict)
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Observed range of each factor (x, D, I) over the fitted models."""
    centre: dict[str, float] = field(default_factory=dict)
    outcome_sd: float = math.nan
    group_var: float = math.nan
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.coef)

    def to_dict(self) -> dict:
        d = {
            k: getattr(self, k)
            for k in (
                "kind",
                "outcome",
                "n",
                "events",
                "datasets",
                "reason",
                "notes",
                "outcome_sd",
                "group_var",
                "centre",
            )
        }
        d["terms"] = {
            t: {"coef": self.coef[t], "se": self.se[t], "ci": list(self.ci[t])} for t in self.terms if t in self.coef
        }
        d["ranges"] = {k: list(v) for k, v in self.ranges.items()}
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def _ranges(records: Sequence[dict], X: np.ndarray, separate: bool) -> dict:
    out = {
        "D": (min(r["dependency"] for r in records), max(r["dependency"] for r in records)),
        "I": (min(r["veil"] for r in records), max(r["veil"] for r in records)),
    }
    if not separate:
        out["x"] = (float(X[:, 1].min()), float(X[:, 1].max()))
    return out


def _usable(X: np.ndarray, terms: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Drop columns that do not vary (a single D level in an arm, one depth): they cannot be estimated."""
    keep = [0] + [j for j in range(1, X.shape[1]) if np.ptp(X[:, j]) > 0]
    return X[:, keep], tuple(terms[j] for j in keep)


def fit_logistic(records: Sequence[dict], outcome: str, *, separate: bool = False) -> ModelFit:
    """Logistic regression of ``outcome`` (a bool per record) with dataset-clustered standard errors."""
    import statsmodels.api as sm

    terms = TERMS_SEPARATE if separate else TERMS
    y = np.array([bool(r[outcome]) for r in records], dtype=float)
    groups = np.array([r["dataset"] for r in records])
    fit = ModelFit(
        "logistic, cluster-robust by dataset", outcome, terms, n=len(y), events=int(y.sum()), datasets=len(set(groups))
    )
    if fit.events < MIN_EVENTS or fit.n - fit.events < MIN_EVENTS:
        fit.reason = f"too few events to fit: {fit.events} of {fit.n} models (needs >= {MIN_EVENTS} of each outcome)"
        return fit
    if fit.datasets < MIN_DATASETS:
        fit.reason = f"{fit.datasets} datasets, too few clusters for cluster-robust errors (needs >= {MIN_DATASETS})"
        return fit
    X, centre = design(records, separate=separate)
    fit.centre, fit.ranges = centre, _ranges(records, X, separate)
    X, fit.terms = _usable(X, terms)
    codes = np.unique(groups, return_inverse=True)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.GLM(y, X, family=sm.families.Binomial()).fit(cov_type="cluster", cov_kwds={"groups": codes})
        except Exception as e:  # statsmodels raises PerfectSeparationError and linear-algebra errors here
            fit.reason = f"the model cannot be fitted: {type(e).__name__}: {e}"
            return fit
    fit.notes = sorted({str(w.message).splitlines()[0] for w in caught})
    if any("separation" in n.lower() for n in fit.notes):
        fit.reason = "the outcome is (quasi-)separated by the design: the maximum-likelihood estimate does not exist"
        return fit
    _store(fit, res)
    return fit


def fit_mixed(records: Sequence[dict], outcome: str = "es_change", *, separate: bool = False) -> ModelFit:
    """Linear mixed model of ``outcome`` (a number per record), random intercept per dataset, REML."""
    import statsmodels.api as sm

    terms = TERMS_SEPARATE if separate else TERMS
    y = np.array([r[outcome] for r in records], dtype=float)
    groups = np.array([r["dataset"] for r in records])
    fit = ModelFit(
        "linear mixed model, random intercept per dataset", outcome, terms, n=len(y), datasets=len(set(groups))
    )
    if fit.datasets < MIN_DATASETS or not np.all(np.isfinite(y)):
        fit.reason = (
            f"{fit.datasets} datasets (needs >= {MIN_DATASETS})"
            if fit.datasets < MIN_DATASETS
            else "non-finite changes"
        )
        return fit
    X, centre = design(records, separate=separate)
    fit.centre, fit.ranges = centre, _ranges(records, X, separate)
    X, fit.terms = _usable(X, terms)
    fit.outcome_sd = float(np.std(y, ddof=1))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = sm.MixedLM(y, X, groups=groups).fit(reml=True)
        except Exception as e:  # singular designs and failed optimisations
            fit.reason = f"the model cannot be fitted: {type(e).__name__}: {e}"
            return fit
    fit.notes = sorted({str(w.message).splitlines()[0] for w in caught})
    fit.group_var = float(np.asarray(res.cov_re).ravel()[0])
    _store(fit, res, k=len(fit.terms))
    return fit


def _store(fit: ModelFit, res, k: int | None = None) -> None:
    k = len(fit.terms) if k is None else k
    params, bse = np.asarray(res.params)[:k], np.asarray(res.bse)[:k]
    ci = np.asarray(res.conf_int(alpha=0.05))[:k]
    for j, t in enumerate(fit.terms):
        fit.coef[t], fit.se[t], fit.ci[t] = float(params[j]), float(bse[j]), (float(ci[j, 0]), float(ci[j, 1]))


# --- the decision rules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    part: str
    verdict: str
    """"supports", "contradicts", "cannot decide", "not tested" or "reported"."""
    because: str


PARTS = ("P grows with dependency D", "P grows with the veil I", "P peaks at a balanced S/M", "P falls with error E")


def _g(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.3g}"


def _monotone(fit: ModelFit, part: str, term: str) -> Verdict:
    """ "P grows with a factor": the effect across the factor's observed range, by the fit's kind."""
    if term not in fit.coef:
        return Verdict(part, "cannot decide", f"{term} does not vary in this arm")
    lo_f, hi_f = fit.ranges[term]
    span = hi_f - lo_f
    lo, hi = (v * span for v in fit.ci[term])
    if fit.events is not None:  # logistic: odds ratio across the range
        with np.errstate(over="ignore"):
            a, b = math.exp(min(lo, 700)), math.exp(min(hi, 700))
        text = f"odds ratio for {term} {lo_f:g} -> {hi_f:g}: [{_g(a)}, {_g(b)}] (95 % cluster-robust interval)"
        negligible = 1 / MEANINGFUL_OR <= a and b <= MEANINGFUL_OR
        above, below = a > 1, b < 1
    else:  # mixed model: change of the index across the range, in sd of the changes
        sd = fit.outcome_sd
        text = (
            f"change of the paired effect for {term} {lo_f:g} -> {hi_f:g}: [{_g(lo)}, {_g(hi)}] "
            f"(95 % interval; sd of the changes {_g(sd)})"
        )
        negligible = -MEANINGFUL_SD * sd <= lo and hi <= MEANINGFUL_SD * sd
        above, below = lo > 0, hi < 0
    if above:
        return Verdict(part, "supports", text + ": entirely on the predicted side")
    if below:
        return Verdict(part, "contradicts", text + ": entirely on the opposite side")
    if negligible:
        return Verdict(part, "contradicts", text + ": no effect of meaningful size")
    return Verdict(part, "cannot decide", text + ": includes no effect and effects of meaningful size")


def _hump(fit: ModelFit) -> Verdict:
    part = PARTS[2]
    if "x2" not in fit.coef:
        return Verdict(part, "cannot decide", "S/M does not vary in this arm")
    b1, b2 = fit.coef["x"], fit.coef["x2"]
    lo2, hi2 = fit.ci["x2"]
    vertex = -b1 / (2 * b2) if b2 != 0 else math.inf
    xlo, xhi = fit.ranges["x"]
    where = (
        f"b2 = {b2:.3g}, 95 % interval [{lo2:.3g}, {hi2:.3g}]; vertex at x = {_g(vertex)} "
        f"(S/M = {_g(math.exp(min(vertex + fit.centre['x'], 700)))}), observed x in [{xlo:.3g}, {xhi:.3g}]"
    )
    if hi2 < 0 and xlo <= vertex <= xhi:
        return Verdict(part, "supports", where + ": an interior optimum")
    if lo2 > 0:
        return Verdict(part, "contradicts", where + ": a U shape")
    if hi2 < 0:
        return Verdict(part, "contradicts", where + ": curved, but the optimum lies outside the studied range")
    return Verdict(part, "cannot decide", where + ": the interval of b2 includes 0")


def verdicts(fit: ModelFit, *, test_d: bool = True) -> list[Verdict]:
    """The rules applied to one fit; ``test_d`` False in the with-help arm, where D is not a free factor."""
    not_e = Verdict(
        PARTS[3], "not tested", "emergence requires competence, so a test of P against error would be circular"
    )
    if not fit.ok:
        out = [Verdict(p, "cannot decide", fit.reason) for p in PARTS[:3]]
        if not test_d:
            out[0] = Verdict(PARTS[0], "not tested", "D is not varied within this arm")
        return out + [not_e]
    d = _monotone(fit, PARTS[0], "D") if test_d else Verdict(PARTS[0], "not tested", "D is not varied within this arm")
    out = [d, _monotone(fit, PARTS[1], "I"), _hump(fit), not_e]
    if "depth" in fit.coef:
        lo, hi = fit.ci["depth"]
        out.append(
            Verdict(
                "depth, at equal S/M",
                "reported",
                f"coefficient per layer {fit.coef['depth']:.3g}, 95 % interval [{lo:.3g}, {hi:.3g}]",
            )
        )
    if "DxI" in fit.coef:
        lo, hi = fit.ci["DxI"]
        out.append(
            Verdict("D and I interact", "reported", f"b = {fit.coef['DxI']:.3g}, 95 % interval [{lo:.3g}, {hi:.3g}]")
        )
    return out


def ratio_form(fit: ModelFit) -> Verdict:
    """The separate fit's reading: S/M acts as a ratio when b_logS = -b_logM (b_logS + b_logM = 0)."""
    part = "S and M act as the ratio S/M"
    if not fit.ok or "log_S" not in fit.coef or "log_M" not in fit.coef:
        return Verdict(part, "reported", fit.reason or "log S or log M does not vary")
    s, m = fit.coef["log_S"], fit.coef["log_M"]
    return Verdict(
        part,
        "reported",
        f"b_logS = {s:.3g} [{fit.ci['log_S'][0]:.3g}, {fit.ci['log_S'][1]:.3g}], "
        f"b_logM = {m:.3g} [{fit.ci['log_M'][0]:.3g}, {fit.ci['log_M'][1]:.3g}]; the ratio form predicts "
        f"b_logS = -b_logM (sum {s + m:.3g})",
    )
