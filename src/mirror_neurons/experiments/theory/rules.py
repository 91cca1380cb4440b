"""The pre-registered part of the theory experiment, round one (docs/theory.md, "Pre-registration").

Definitions of the measured quantities (capacity M, signal complexity S), the
best-checkpoint rule, the two definitions of emergence, the proportions per
cell, the logistic model and the decision rules that turn its profile
intervals into "supports / contradicts / cannot decide". Nothing here trains,
reads files or draws: changing a line of this module is a change of the
pre-registration and must be recorded, with its reason, in docs/theory.md.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from mirror_neurons.errors import AnalysisError
from mirror_neurons.experiments.stats import LogisticFit, fit_logistic, profile_interval, wilson_interval

PAPER_LOSS_THRESHOLD = 0.06
"""The paper's validation-loss threshold (full objective, L2 term included)."""
PAPER_CMNI_THRESHOLD = 0.005
"""The paper's "robust mirror patterns" CMNI threshold."""
NULL_QUANTILE = 0.95
"""Chance-corrected emergence: CMNI above this quantile of each null."""
MIN_EVENTS = 10
"""The fit is attempted only with at least this many emergent and non-emergent models."""
MEANINGFUL_OR = 2.0
"""An odds ratio across a factor's full range of at least 2 is meaningful; inside [1/2, 2] negligible."""
DEFINITIONS = ("paper", "chance")
DEFINITION_NAMES = {
    "paper": "paper's (val loss < 0.06 and CMNI > 0.005)",
    "chance": "chance-corrected (CMNI above both nulls' 95th percentile, >= 1 significant mirror unit)",
}


def n_parameters(hidden: Sequence[int], n_inputs: int = 100, n_outputs: int = 4) -> int:
    """Trainable parameters (weights and biases, output layer included): the capacity M."""
    sizes = (n_inputs, *hidden, n_outputs)
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def signal_complexity(manifest: dict) -> dict[str, float]:
    """S of a dataset, from its manifest: the distinct-board yield and the label entropy.

    ``S`` = distinct boards per 1,000 Frog states recorded while generation
    collected the dataset's boards (``generation.distinct_boards /
    generation.frog_states_recorded``): how often the game shows Frog a board it
    has not shown before. The data stage de-duplicates on the board, so the
    count of distinct boards in a dataset is just its size; the yield is what
    varies with the game. ``S_H`` = entropy in bits of the natural label
    distribution (all rows before the split).
    """
    try:
        gen = manifest["generation"]
        labels = manifest["natural_distribution"]["label"]
        S = 1000.0 * gen["distinct_boards"] / gen["frog_states_recorded"]
    except (KeyError, TypeError, ZeroDivisionError) as e:
        raise AnalysisError(
            f"the dataset manifest lacks the generation counts or label distribution ({e!r}); regenerate it"
        ) from e
    counts = np.array(list(labels.values()), dtype=float)
    p = counts[counts > 0] / counts.sum()
    return {"S": float(S), "S_H": float(-(p * np.log2(p)).sum())}


def above_null(value: float, null: np.ndarray | None = None, p_value: float | None = None) -> bool:
    """CMNI above the 95th percentile of its null sample (or, given only a p-value, p < 0.05)."""
    if null is not None and len(null):
        return bool(value > np.quantile(np.asarray(null, dtype=float), NULL_QUANTILE))
    if p_value is not None and not math.isnan(p_value):
        return bool(p_value < round(1 - NULL_QUANTILE, 12))
    raise AnalysisError("a null needs either its samples or its p-value")


def emergence(record: dict) -> dict[str, bool]:
    """The two pre-registered definitions for one model's record (see docs/theory.md).

    ``record`` holds ``val_loss``, ``cmni``, ``n_mirror`` and, per null, either
    the 95th percentile (``perm_q95``, ``init_q95``) or a p-value (``p_perm``, ``p_init``).
    """
    paper = record["val_loss"] < PAPER_LOSS_THRESHOLD and record["cmni"] > PAPER_CMNI_THRESHOLD
    beats = []
    for null in ("perm", "init"):
        q = record.get(f"{null}_q95")
        if q is not None:
            beats.append(record["cmni"] > q)
        else:
            beats.append(above_null(record["cmni"], p_value=record[f"p_{null}"]))
    chance = all(beats) and record["n_mirror"] >= 1
    return {"paper": bool(paper), "chance": bool(chance)}


def choose_checkpoint(history: Sequence[dict]) -> tuple[dict, dict]:
    """The pre-registered best-checkpoint rule on a model's checkpoints in epoch order.

    Returns (chosen, lowest): the first checkpoint with val_loss < 0.06 if any
    (else the lowest-loss one), and the lowest-loss checkpoint (for E and the
    sensitivity analysis). Each item needs ``epoch`` and ``val_loss``.
    """
    if not history:
        raise AnalysisError("the model has no checkpoint; did its training fail?")
    ordered = sorted(history, key=lambda h: h["epoch"])
    lowest = min(ordered, key=lambda h: (h["val_loss"], h["epoch"]))
    under = [h for h in ordered if h["val_loss"] < PAPER_LOSS_THRESHOLD]
    return (under[0] if under else lowest), lowest


# --- per-cell proportions -------------------------------------------------------------------------


def proportions(records: Sequence[dict], keys: Sequence[str], definition: str) -> list[dict]:
    """P per cell of ``keys`` (e.g. ("dependency", "veil")) with its 95 % Wilson interval."""
    cells: dict[tuple, list[bool]] = {}
    for r in records:
        cells.setdefault(tuple(r[k] for k in keys), []).append(bool(r[f"emergent_{definition}"]))
    rows = []
    for key in sorted(cells):
        outcomes = cells[key]
        k, n = sum(outcomes), len(outcomes)
        lo, hi = wilson_interval(k, n)
        rows.append({**dict(zip(keys, key)), "k": k, "n": n, "p": k / n, "lo": float(lo), "hi": float(hi)})
    return rows


# --- the fitted model and the decision rules -------------------------------------------------------

TERMS = ("intercept", "x", "x2", "E", "D", "I", "DxI")
TERMS_SEPARATE = ("intercept", "log_S", "log_M", "E", "D", "I", "DxI")
"""The pre-registered sensitivity fit: log S and log M as separate terms (the ratio form predicts b_logS = -b_logM)."""


@dataclass(frozen=True)
class TheoryFit:
    """The pre-registered logistic model for one definition of emergence."""

    definition: str
    fit: LogisticFit | None
    """None when there were too few events or the design was degenerate (see ``reason``)."""
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    """95 % profile-likelihood interval per term."""
    x_mean: float = 0.0
    x_range: tuple[float, float] = (0.0, 0.0)
    """Observed range of x = log(S/M) - x_mean."""
    e_range: tuple[float, float] = (0.0, 0.0)
    reason: str = ""

    def to_dict(self) -> dict:
        d = {
            "definition": self.definition,
            "reason": self.reason,
            "x_mean": self.x_mean,
            "x_range": list(self.x_range),
            "e_range": list(self.e_range),
        }
        if self.fit is not None:
            wlo, whi = self.fit.wald_interval()
            d.update(
                method=self.fit.method,
                converged=self.fit.converged,
                n=self.fit.n,
                events=self.fit.events,
                notes=list(self.fit.notes),
                terms={
                    name: {
                        "coef": float(self.fit.coef[i]),
                        "se": float(self.fit.se[i]),
                        "wald": [float(wlo[i]), float(whi[i])],
                        "profile": list(self.intervals.get(name, (math.nan, math.nan))),
                    }
                    for i, name in enumerate(self.fit.names)
                },
            )
        return d


def design(
    records: Sequence[dict], *, s_key: str = "S", x_mean: float | None = None, separate: bool = False
) -> tuple[np.ndarray, float]:
    """The pre-registered design (n, 7): 1, x, x^2, E, D, I, (D - 0.5)(I - 0.5), x = log(S/M) centred.

    ``separate``: the sensitivity design of ``TERMS_SEPARATE``, log S and log M (each centred) in place of x and x^2.
    """
    S = np.array([r[s_key] for r in records], dtype=float)
    M = np.array([r["M"] for r in records], dtype=float)
    x = np.log(S / M)
    x_mean = float(x.mean()) if x_mean is None else x_mean
    x = x - x_mean
    E = np.array([r["E"] for r in records], dtype=float)
    D = np.array([r["dependency"] for r in records], dtype=float)
    I = np.array([r["veil"] for r in records], dtype=float)
    first = [np.log(S) - np.log(S).mean(), np.log(M) - np.log(M).mean()] if separate else [x, x**2]
    X = np.column_stack([np.ones(len(records)), *first, E, D, I, (D - 0.5) * (I - 0.5)])
    return X, x_mean


def fit_theory(
    records: Sequence[dict],
    definition: str,
    *,
    s_key: str = "S",
    outcome_key: str | None = None,
    separate: bool = False,
) -> TheoryFit:
    """Fit logit P = b0 + b1 x + b2 x^2 + b3 E + b4 D + b5 I + b6 (D-.5)(I-.5) with profile intervals.

    ``separate``: the sensitivity fit with log S and log M in place of x and x^2 (``TERMS_SEPARATE``).
    """
    terms = TERMS_SEPARATE if separate else TERMS
    y = np.array([r[outcome_key or f"emergent_{definition}"] for r in records], dtype=float)
    events, n = int(y.sum()), len(y)
    if events < MIN_EVENTS or n - events < MIN_EVENTS:
        return TheoryFit(
            definition,
            None,
            reason=f"too few events to fit: {events} emergent of {n} models (needs >= {MIN_EVENTS} of each outcome)",
        )
    X, x_mean = design(records, s_key=s_key, separate=separate)
    try:
        fit = fit_logistic(X, y, terms)
    except AnalysisError as e:
        return TheoryFit(definition, None, x_mean=x_mean, reason=f"the model cannot be fitted: {e}")
    intervals = {name: profile_interval(X, y, fit, name) for name in terms}
    return TheoryFit(
        definition,
        fit,
        intervals,
        x_mean,
        (float(X[:, 1].min()), float(X[:, 1].max())),
        (float(X[:, 3].min()), float(X[:, 3].max())),
    )


@dataclass(frozen=True)
class Verdict:
    part: str
    verdict: str
    """"supports", "contradicts", "cannot decide" or "reported"."""
    because: str


def _or_text(lo: float, hi: float) -> str:
    def f(v):
        return "inf" if v == math.inf else ("0" if v == 0 else f"{v:.3g}")

    return f"[{f(lo)}, {f(hi)}]"


def _monotone(part: str, lo: float, hi: float, scale: float, direction: int, what: str) -> Verdict:
    """Rule for "P grows (direction +1) / falls (-1) with a factor", from the coefficient's interval."""
    with np.errstate(over="ignore"):
        or_lo, or_hi = sorted((math.exp(min(lo * scale, 700)), math.exp(min(hi * scale, 700))))
    text = f"odds ratio {what} {_or_text(or_lo, or_hi)} (95 % profile interval)"
    predicted = or_lo > 1 if direction > 0 else or_hi < 1
    opposite = or_hi < 1 if direction > 0 else or_lo > 1
    negligible = 1 / MEANINGFUL_OR <= or_lo and or_hi <= MEANINGFUL_OR
    if predicted:
        return Verdict(part, "supports", text + ": entirely on the predicted side of 1")
    if opposite:
        return Verdict(part, "contradicts", text + ": entirely on the opposite side of 1")
    if negligible:
        return Verdict(
            part,
            "contradicts",
            text + f": inside [1/{MEANINGFUL_OR:g}, {MEANINGFUL_OR:g}], no effect of meaningful size",
        )
    return Verdict(part, "cannot decide", text + ": includes 1 and effects of meaningful size")


def verdicts(tf: TheoryFit) -> list[Verdict]:
    """The pre-registered decision rules (docs/theory.md), applied to one fitted model."""
    parts = (
        "P grows with dependency D",
        "P grows with the veil I",
        "P falls with error E",
        "P peaks at a balanced S/M",
    )
    if tf.fit is None:
        return [Verdict(p, "cannot decide", tf.reason) for p in parts] + [
            Verdict("D and I interact", "reported", tf.reason)
        ]
    iv = tf.intervals
    if "log_S" in tf.fit.names:
        return _separate_verdicts(tf, parts)
    out = [
        _monotone(parts[0], *iv["D"], scale=1.0, direction=+1, what="for D 0 -> 1 at I = 0.5"),
        _monotone(parts[1], *iv["I"], scale=1.0, direction=+1, what="for I 0 -> 1 at D = 0.5"),
    ]
    e_span = tf.e_range[1] - tf.e_range[0]
    if e_span <= 0:
        out.append(Verdict(parts[2], "cannot decide", "E does not vary across models"))
    else:
        out.append(
            _monotone(
                parts[2],
                *iv["E"],
                scale=e_span,
                direction=-1,
                what=f"from the lowest to the highest E (span {e_span:.3g})",
            )
        )
    b1, b2 = tf.fit["x"], tf.fit["x2"]
    lo2, hi2 = iv["x2"]
    vertex = -b1 / (2 * b2) if b2 != 0 else math.inf
    xlo, xhi = tf.x_range
    inside = xlo <= vertex <= xhi
    where = f"b2 = {b2:.3g}, 95 % interval [{lo2:.3g}, {hi2:.3g}]; vertex of the parabola at x = {vertex:.3g} (S/M = {math.exp(min(vertex + tf.x_mean, 700)):.3g}), observed x in [{xlo:.3g}, {xhi:.3g}]"
    if hi2 < 0 and inside:
        out.append(Verdict(parts[3], "supports", where + ": an interior optimum"))
    elif lo2 > 0:
        out.append(Verdict(parts[3], "contradicts", where + ": a U shape, the opposite of an optimum"))
    elif hi2 < 0:
        out.append(
            Verdict(
                parts[3],
                "contradicts",
                where + ": curved but the optimum lies outside the studied range, so P is monotone in S/M here",
            )
        )
    else:
        out.append(Verdict(parts[3], "cannot decide", where + ": the interval of b2 includes 0"))
    b6 = tf.fit["DxI"]
    lo6, hi6 = iv["DxI"]
    out.append(Verdict("D and I interact", "reported", f"b6 = {b6:.3g}, 95 % interval [{lo6:.3g}, {hi6:.3g}]"))
    return out


def _separate_verdicts(tf: TheoryFit, parts: tuple[str, ...]) -> list[Verdict]:
    """The sensitivity fit with log S and log M: D, I and E by the same rules; the ratio form reported."""
    iv = tf.intervals
    e_span = tf.e_range[1] - tf.e_range[0]
    s, m = tf.fit["log_S"], tf.fit["log_M"]
    return [
        _monotone(parts[0], *iv["D"], scale=1.0, direction=+1, what="for D 0 -> 1 at I = 0.5"),
        _monotone(parts[1], *iv["I"], scale=1.0, direction=+1, what="for I 0 -> 1 at D = 0.5"),
        _monotone(
            parts[2], *iv["E"], scale=e_span, direction=-1, what=f"from the lowest to the highest E (span {e_span:.3g})"
        )
        if e_span > 0
        else Verdict(parts[2], "cannot decide", "E does not vary across models"),
        Verdict(
            "S and M act as the ratio S/M",
            "reported",
            f"b_logS = {s:.3g} [{iv['log_S'][0]:.3g}, {iv['log_S'][1]:.3g}], b_logM = {m:.3g} [{iv['log_M'][0]:.3g}, {iv['log_M'][1]:.3g}] "
            f"(95 % profile intervals); the ratio form predicts b_logS = -b_logM (sum {s + m:.3g})",
        ),
    ]


# --- results as text ---------------------------------------------------------------------------------


def statement(fits: dict[str, TheoryFit]) -> str:
    """A plain statement, generated from the fitted numbers, of what the data supports, contradicts or cannot decide."""
    lines = []
    for definition, tf in fits.items():
        lines.append(f"With the {DEFINITION_NAMES[definition]} definition of emergence:")
        if tf.fit is not None and tf.fit.notes:
            lines.extend(f"  (note: {n})" for n in tf.fit.notes)
        for v in verdicts(tf):
            lines.append(f"- {v.part}: **{v.verdict}** ({v.because}).")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
