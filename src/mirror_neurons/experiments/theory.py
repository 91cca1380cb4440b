"""Testing the paper's theory P ~ f(S/M, E) * g(D, I) (SPEC section 7; docs/theory.md).

The experiment, in order:

1. ``TheoryGrid``: the factors (capacity M by architecture, game complexity by
   the obstacle cap, dependency D, veil I, seeds), one dataset per
   (rate_max, D, I) and one many-models training run per dataset.
2. ``run_theory``: for each dataset cell, build the data, train every
   architecture x seed at once, analyse each model's chosen checkpoint; every
   step is skipped when its output is already complete, so a killed run resumes.
3. ``emergence``: the two pre-registered definitions (the paper's and the
   chance-corrected one), applied to one model's record.
4. ``fit_theory`` and ``verdicts``: the pre-registered logistic model and the
   decision rules that turn its profile intervals into "supports / contradicts /
   cannot decide", so the statement in the results comes from the numbers.

The definitions here are the pre-registration's; changing one means recording
the change and its reason in docs/theory.md.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from mirror_neurons import atomic
from mirror_neurons.errors import AnalysisError, ConfigError, DataError
from mirror_neurons.experiments.stats import LogisticFit, fit_logistic, profile_interval, wilson_interval

log = logging.getLogger(__name__)

PAPER_LOSS_THRESHOLD = 0.06
"""The paper's validation-loss threshold (full objective, L2 term included)."""
PAPER_CMNI_THRESHOLD = 0.005
"""The paper's "robust mirror patterns" CMNI threshold."""
NULL_QUANTILE = 0.95
"""Chance-corrected emergence: CMNI above this quantile of each null."""
VAL_FRACTION = 0.3
"""Validation share of each dataset; its first half judges training, its second half is analysed."""
MIN_EVENTS = 10
"""The fit is attempted only with at least this many emergent and non-emergent models."""
MEANINGFUL_OR = 2.0
"""An odds ratio across a factor's full range of at least 2 is meaningful; inside [1/2, 2] negligible."""
DEFINITIONS = ("paper", "chance")
DEFINITION_NAMES = {"paper": "paper's (val loss < 0.06 and CMNI > 0.005)", "chance": "chance-corrected (CMNI above both nulls' 95th percentile, >= 1 significant mirror unit)"}


# --- the grid ---------------------------------------------------------------------------------


def n_parameters(hidden: Sequence[int], n_inputs: int = 100, n_outputs: int = 4) -> int:
    """Trainable parameters (weights and biases, output layer included): the capacity M."""
    sizes = (n_inputs, *hidden, n_outputs)
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


@dataclass(frozen=True)
class DataCell:
    """One dataset of the grid: a game complexity level and a (D, I) point."""

    rate_max: float
    dependency: float
    veil: float

    @property
    def name(self) -> str:
        return f"r{self.rate_max:g}_D{self.dependency:g}_I{self.veil:g}"


@dataclass(frozen=True)
class TheoryGrid:
    """The experiment's factors and the fixed training and analysis settings."""

    hidden: tuple[tuple[int, ...], ...] = ((4,), (16,), (32, 32), (64, 64, 64))
    """Architectures (capacity M); M = n_parameters(hidden)."""
    rate_max: tuple[float, ...] = (0.025, 0.075)
    """Game complexity levels: the obstacle rate cap (the paper: 0.075)."""
    dependency: tuple[float, ...] = (0.0, 0.5, 1.0)
    """Agent dependency D levels (GameConfig.dependency)."""
    veil: tuple[float, ...] = (0.0, 0.5, 1.0)
    """Veil of ignorance I levels (GameConfig.veil)."""
    seeds: int = 3
    """Models per (dataset, architecture), each with its own seed."""
    n_states: int = 30_000
    """Unique labeled states per dataset."""
    lr: float = 3e-3
    batch_size: int = 100
    """Larger than the paper's 20-25 to fit the demo's time budget (a run-time choice, see docs/theory.md)."""
    max_epochs: int = 12
    patience: int = 2
    dropout: float = 0.12
    n_permutations: int = 100
    """Label permutations for the permutation null of each analysed checkpoint."""
    n_random_inits: int = 40
    """Random initialisations for the random-init null of each architecture in each cell."""
    seed: int = 0
    """The one seed from which every dataset, model and null is derived."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(tuple(int(w) for w in h) for h in self.hidden))
        for name in ("rate_max", "dependency", "veil"):
            values = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            if not values or any(not 0.0 <= v <= 1.0 for v in values):
                raise ConfigError(f"{name} levels must be a non-empty list in 0..1, got {values}")
        if not self.hidden or any(not h or min(h) < 1 for h in self.hidden):
            raise ConfigError(f"hidden must list architectures with widths >= 1, got {self.hidden}")
        for name in ("seeds", "n_states", "batch_size", "max_epochs", "patience", "n_permutations", "n_random_inits"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides) -> TheoryGrid:
        """``demo`` (2-core machine, <= 30 min), ``full`` (a Ray cluster), ``tiny`` (tests)."""
        presets = {
            "demo": {},
            "full": dict(
                hidden=tuple((w,) * depth for depth in (1, 2, 3) for w in (4, 8, 16, 32, 64)),
                rate_max=(0.025, 0.075, 0.15),
                dependency=(0.0, 0.25, 0.5, 0.75, 1.0),
                veil=(0.0, 0.25, 0.5, 0.75, 1.0),
                seeds=10,
                n_states=300_000,
                max_epochs=30,
                patience=5,
                batch_size=25,
                n_permutations=1000,
                n_random_inits=500,
            ),
            "tiny": dict(
                hidden=((4,), (16,)), rate_max=(0.075,), dependency=(0.0, 1.0), veil=(1.0,), seeds=2,
                n_states=3000, max_epochs=2, patience=1, batch_size=50, n_permutations=20, n_random_inits=10,
            ),
        }
        if name not in presets:
            raise ConfigError(f"unknown theory preset {name!r}; choose one of {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    def cells(self) -> list[DataCell]:
        return [DataCell(r, d, i) for r in self.rate_max for d in self.dependency for i in self.veil]

    @property
    def n_models(self) -> int:
        return len(self.cells()) * len(self.hidden) * self.seeds

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = [list(h) for h in self.hidden]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TheoryGrid:
        return cls(**{**d, "hidden": tuple(tuple(h) for h in d["hidden"])})


# --- signal complexity ------------------------------------------------------------------------


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
        raise AnalysisError(f"the dataset manifest lacks the generation counts or label distribution ({e!r}); regenerate it") from e
    counts = np.array(list(labels.values()), dtype=float)
    p = counts[counts > 0] / counts.sum()
    return {"S": float(S), "S_H": float(-(p * np.log2(p)).sum())}


# --- emergence ----------------------------------------------------------------------------------


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
        d = {"definition": self.definition, "reason": self.reason, "x_mean": self.x_mean, "x_range": list(self.x_range), "e_range": list(self.e_range)}
        if self.fit is not None:
            wlo, whi = self.fit.wald_interval()
            d.update(
                method=self.fit.method, converged=self.fit.converged, n=self.fit.n, events=self.fit.events, notes=list(self.fit.notes),
                terms={
                    name: {"coef": float(self.fit.coef[i]), "se": float(self.fit.se[i]), "wald": [float(wlo[i]), float(whi[i])], "profile": list(self.intervals.get(name, (math.nan, math.nan)))}
                    for i, name in enumerate(self.fit.names)
                },
            )
        return d


def design(records: Sequence[dict], *, s_key: str = "S", x_mean: float | None = None) -> tuple[np.ndarray, float]:
    """The pre-registered design (n, 7): 1, x, x^2, E, D, I, (D - 0.5)(I - 0.5), x = log(S/M) centred."""
    S = np.array([r[s_key] for r in records], dtype=float)
    M = np.array([r["M"] for r in records], dtype=float)
    x = np.log(S / M)
    x_mean = float(x.mean()) if x_mean is None else x_mean
    x = x - x_mean
    E = np.array([r["E"] for r in records], dtype=float)
    D = np.array([r["dependency"] for r in records], dtype=float)
    I = np.array([r["veil"] for r in records], dtype=float)
    X = np.column_stack([np.ones(len(records)), x, x**2, E, D, I, (D - 0.5) * (I - 0.5)])
    return X, x_mean


def fit_theory(records: Sequence[dict], definition: str, *, s_key: str = "S", outcome_key: str | None = None) -> TheoryFit:
    """Fit logit P = b0 + b1 x + b2 x^2 + b3 E + b4 D + b5 I + b6 (D-.5)(I-.5) with profile intervals."""
    y = np.array([r[outcome_key or f"emergent_{definition}"] for r in records], dtype=float)
    events, n = int(y.sum()), len(y)
    if events < MIN_EVENTS or n - events < MIN_EVENTS:
        return TheoryFit(definition, None, reason=f"too few events to fit: {events} emergent of {n} models (needs >= {MIN_EVENTS} of each outcome)")
    X, x_mean = design(records, s_key=s_key)
    try:
        fit = fit_logistic(X, y, TERMS)
    except AnalysisError as e:
        return TheoryFit(definition, None, x_mean=x_mean, reason=f"the model cannot be fitted: {e}")
    intervals = {name: profile_interval(X, y, fit, name) for name in TERMS}
    return TheoryFit(
        definition, fit, intervals, x_mean,
        (float(X[:, 1].min()), float(X[:, 1].max())), (float(X[:, 3].min()), float(X[:, 3].max())),
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
        return Verdict(part, "contradicts", text + f": inside [1/{MEANINGFUL_OR:g}, {MEANINGFUL_OR:g}], no effect of meaningful size")
    return Verdict(part, "cannot decide", text + ": includes 1 and effects of meaningful size")


def verdicts(tf: TheoryFit) -> list[Verdict]:
    """The pre-registered decision rules (docs/theory.md), applied to one fitted model."""
    parts = ("P grows with dependency D", "P grows with the veil I", "P falls with error E", "P peaks at a balanced S/M")
    if tf.fit is None:
        return [Verdict(p, "cannot decide", tf.reason) for p in parts] + [Verdict("D and I interact", "reported", tf.reason)]
    iv = tf.intervals
    out = [
        _monotone(parts[0], *iv["D"], scale=1.0, direction=+1, what="for D 0 -> 1 at I = 0.5"),
        _monotone(parts[1], *iv["I"], scale=1.0, direction=+1, what="for I 0 -> 1 at D = 0.5"),
    ]
    e_span = tf.e_range[1] - tf.e_range[0]
    if e_span <= 0:
        out.append(Verdict(parts[2], "cannot decide", "E does not vary across models"))
    else:
        out.append(_monotone(parts[2], *iv["E"], scale=e_span, direction=-1, what=f"from the lowest to the highest E (span {e_span:.3g})"))
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
        out.append(Verdict(parts[3], "contradicts", where + ": curved but the optimum lies outside the studied range, so P is monotone in S/M here"))
    else:
        out.append(Verdict(parts[3], "cannot decide", where + ": the interval of b2 includes 0"))
    b6 = tf.fit["DxI"]
    lo6, hi6 = iv["DxI"]
    out.append(Verdict("D and I interact", "reported", f"b6 = {b6:.3g}, 95 % interval [{lo6:.3g}, {hi6:.3g}]"))
    return out


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


# --- the runner ----------------------------------------------------------------------------------

Progress = Callable[[str], None]


def _seed(*parts: int) -> int:
    """A seed derived from the experiment's seed and a position in the grid (SeedSequence, not arithmetic)."""
    (state,) = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)
    return int(state) & (2**62 - 1)


def data_config(grid: TheoryGrid, cell: DataCell, index: int):
    """The data stage's configuration of one cell's dataset."""
    from mirror_neurons.data.config import DataConfig
    from mirror_neurons.game.config import GameConfig

    game = GameConfig(rate_max=cell.rate_max, dependency=cell.dependency, veil=cell.veil)
    # No balanced test split: at D < 1 the game yields no help labels, so the 40/40/10/10 test set
    # cannot be drawn; the second half of the validation split is analysed instead (docs/theory.md).
    return DataConfig(n_states=grid.n_states, seed=_seed(grid.seed, 1, index), game=game, test_size=0, val_fraction=VAL_FRACTION)


def train_configs(grid: TheoryGrid, index: int, val_rows: int) -> tuple[list, list[str]]:
    """Every (architecture, seed) model of one cell, with its id; ``val_rows``: the validation rows training may see."""
    from mirror_neurons.train.config import TrainConfig
    from mirror_neurons.train.model import ModelConfig

    configs, ids = [], []
    for a, hidden in enumerate(grid.hidden):
        for rep in range(grid.seeds):
            configs.append(TrainConfig(
                model=ModelConfig(hidden=hidden, dropout=grid.dropout), lr=grid.lr, batch_size=grid.batch_size,
                max_epochs=grid.max_epochs, patience=grid.patience, seed=_seed(grid.seed, 2, index, a, rep), val_rows=val_rows,
            ))
            ids.append(f"h{'x'.join(map(str, hidden))}_r{rep}")
    return configs, ids


def init_null(hidden: Sequence[int], grid: TheoryGrid, states, groups, seed: int) -> np.ndarray:
    """CMNI (n_random_inits,) of freshly initialised networks of one architecture on the analysed states.

    It depends on the architecture and the states only, not on trained weights,
    so one sample serves every seed and checkpoint of that architecture in a cell.
    """
    from mirror_neurons.analysis.controls import random_init_null
    from mirror_neurons.train.model import ModelConfig

    seeds = np.random.default_rng(seed).integers(0, 2**62, grid.n_random_inits)
    return random_init_null(ModelConfig(hidden=tuple(hidden), dropout=grid.dropout), states.x.astype(np.float32), groups, seeds)


def analyse_checkpoint(path: Path, states, groups, grid: TheoryGrid, rng: np.random.Generator, init: np.ndarray) -> dict:
    """CMNI, both nulls and the mirror-unit count of one checkpoint on ``states``, with the analysis stage's functions.

    ``init`` is the architecture's random-initialisation null (``init_null``).
    """
    from mirror_neurons.analysis.activations import capture
    from mirror_neurons.analysis.cmni import compute_cmni
    from mirror_neurons.analysis.controls import permutation_null
    from mirror_neurons.analysis.units import response_classes, unit_tests
    from mirror_neurons.train.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    acts = capture(ckpt.model, states.x)
    cmni = compute_cmni(acts, groups).cmni
    a = np.concatenate(list(acts.values()), axis=1)  # (n, units): every layer, the output layer included, as CMNI counts
    perm = permutation_null(a, groups, grid.n_permutations, rng)
    classes = response_classes(unit_tests(a, groups))
    return {
        "epoch": int(ckpt.meta["epoch"]),
        "val_loss": float(ckpt.meta["val_loss"]),
        "val_accuracy": float(ckpt.meta["val_accuracy"]),
        "cmni": float(cmni),
        "perm_q95": float(np.quantile(perm, NULL_QUANTILE)),
        "init_q95": float(np.quantile(init, NULL_QUANTILE)),
        "p_perm": float((1 + np.sum(perm >= cmni)) / (1 + len(perm))),
        "p_init": float((1 + np.sum(init >= cmni)) / (1 + len(init))),
        "n_mirror": int(np.sum(classes == "mirror")),
        "n_units": int(a.shape[1]),
    }


def scale_free_cell(grid: TheoryGrid, cell: DataCell, index: int, folder: Path, records: Sequence[dict]) -> list[dict]:
    """Exploratory (not pre-registered): the scale-free index of each analysed checkpoint against untrained networks.

    The analysis stage's ``effect_size_cmni`` (MNS from Cohen's d instead of raw
    activation differences) of each model's analysed checkpoint, and of
    ``n_random_inits`` freshly initialised networks per architecture on the same
    states; written to ``cells/<cell>/scale_free.json`` and skipped when present.
    """
    from mirror_neurons.analysis.activations import capture
    from mirror_neurons.analysis.cmni import effect_size_cmni
    from mirror_neurons.analysis.groups import split_groups
    from mirror_neurons.analysis.stats import group_moments
    from mirror_neurons.data.dataset import load_dataset
    from mirror_neurons.train.checkpoint import load_checkpoint
    from mirror_neurons.train.model import MLP, ModelConfig

    out_file = folder / "scale_free.json"
    if out_file.is_file():
        return json.loads(out_file.read_text())
    dataset = load_dataset(folder / "data")
    half = len(dataset.val) // 2
    states = dataset.val.take(np.arange(half, len(dataset.val)))
    groups = split_groups(states)
    x = states.x.astype(np.float32)

    def index_of(model) -> float:
        acts = capture(model, x)
        a = np.concatenate(list(acts.values()), axis=1)
        return float(effect_size_cmni(group_moments(a, groups), model.config.layer_names, model.config.widths).cmni)

    nulls = {}
    for a, hidden in enumerate(grid.hidden):
        import torch

        model = MLP(ModelConfig(hidden=hidden, dropout=grid.dropout))
        seeds = np.random.default_rng(_seed(grid.seed, 5, index, a)).integers(0, 2**62, grid.n_random_inits)
        values = []
        for seed in seeds:
            model.reset_parameters(torch.Generator().manual_seed(int(seed)))
            values.append(index_of(model))
        nulls[tuple(hidden)] = np.array(values)
    rows = []
    for r in records:
        path = next((folder / "run" / "models" / r["model_id"]).glob(f"*_epoch-{r['epoch']:04d}_*.json"))
        value = index_of(load_checkpoint(path).model)
        null = nulls[tuple(r["hidden"])]
        rows.append({"model_id": r["model_id"], "es_cmni": value, "es_init_q95": float(np.quantile(null, NULL_QUANTILE)),
                     "es_init_median": float(np.median(null)), "es_p_init": float((1 + np.sum(null >= value)) / (1 + len(null)))})
    atomic.write_json(out_file, rows)
    return rows


def _checkpoint_metas(paths: Iterable[Path]) -> list[dict]:
    out = []
    for p in paths:
        meta = json.loads(Path(p).read_text())
        out.append({"path": str(p), "epoch": int(meta["epoch"]), "val_loss": float(meta["val_loss"]), "val_accuracy": float(meta["val_accuracy"])})
    return out


def run_cell(grid: TheoryGrid, cell: DataCell, index: int, folder: Path, progress: Progress | None = None) -> list[dict]:
    """Data, training and analysis of one dataset cell; each step skipped when already complete."""
    from mirror_neurons.data.build import build_dataset
    from mirror_neurons.data.dataset import MANIFEST, load_dataset
    from mirror_neurons.analysis.groups import split_groups
    from mirror_neurons.train.trainer import train_many

    say = progress or (lambda message: None)
    records_file = folder / "models.json"
    if records_file.is_file():
        return json.loads(records_file.read_text())
    data_dir = folder / "data"
    if not (data_dir / MANIFEST).is_file():
        say(f"{cell.name}: data")
        build_dataset(data_config(grid, cell, index), data_dir)
    dataset = load_dataset(data_dir)
    complexity = signal_complexity(dataset.manifest)
    val_rows = len(dataset.val) // 2  # the first half judges training, the second half is analysed
    if val_rows < 1:
        raise ConfigError(f"{cell.name}: the validation split has {len(dataset.val)} rows, too few to halve; raise n_states")
    analysed = dataset.val.take(np.arange(val_rows, len(dataset.val)))
    configs, ids = train_configs(grid, index, val_rows)
    say(f"{cell.name}: training {len(configs)} models")
    results = train_many(configs, dataset, folder / "run", model_ids=ids, run_info={"theory_cell": asdict(cell), "grid": grid.to_dict()})
    say(f"{cell.name}: analysis")
    groups = split_groups(analysed)
    nulls = {h: init_null(h, grid, analysed, groups, _seed(grid.seed, 4, index, a)) for a, h in enumerate(grid.hidden)}
    records = []
    for m, (result, config) in enumerate(zip(results, configs)):
        rng = np.random.default_rng(_seed(grid.seed, 3, index, m))
        metas = _checkpoint_metas(result.checkpoints)
        if not metas:
            log.warning("%s/%s has no checkpoint (%s); left out", cell.name, result.model_id, result.reason)
            continue
        chosen, lowest = choose_checkpoint(metas)
        init = nulls[tuple(config.model.hidden)]
        first = analyse_checkpoint(Path(chosen["path"]), analysed, groups, grid, rng, init)
        low = first if lowest["path"] == chosen["path"] else analyse_checkpoint(Path(lowest["path"]), analysed, groups, grid, rng, init)
        hidden = list(config.model.hidden)
        record = {
            "cell": cell.name, "rate_max": cell.rate_max, "dependency": cell.dependency, "veil": cell.veil,
            **complexity, "hidden": hidden, "M": n_parameters(hidden), "hidden_units": int(sum(hidden)),
            "model_id": result.model_id, "seed": config.seed, "status": result.status, "epochs": result.epochs,
            "reached_threshold": chosen["val_loss"] < PAPER_LOSS_THRESHOLD,
            "E": 1.0 - lowest["val_accuracy"],
            **first,
            "lowest": low,
        }
        for definition, value in emergence(record).items():
            record[f"emergent_{definition}"] = value
        for definition, value in emergence(low).items():
            record[f"emergent_{definition}_lowest"] = value
        records.append(record)
    atomic.write_json(records_file, records)
    return records


def run_theory(grid: TheoryGrid, out: str | Path, *, progress: Progress | None = None, figures: bool = True, executor=None) -> dict:
    """Run (or resume) the whole experiment under ``out`` and write its summary; returns the summary.

    Cells are independent: with an ``executor`` (``distributed.executors``,
    e.g. a ``RayExecutor`` whose workers share ``out``'s storage) each cell is
    one task of one CPU; without one they run here, one after another.

    Layout::

        OUT/grid.json                    the grid (a different grid in the same folder is refused)
        OUT/cells/<cell>/data/           the cell's dataset
        OUT/cells/<cell>/run/            its many-models training run
        OUT/cells/<cell>/models.json     one record per model (written when the cell is complete)
        OUT/records.json, OUT/summary.json, OUT/results.md, OUT/figures/*.png
    """
    out = Path(out)
    grid_file = out / "grid.json"
    if grid_file.is_file():
        old = json.loads(grid_file.read_text())
        if old != json.loads(json.dumps(grid.to_dict())):
            raise ConfigError(f"{out} holds a theory run of another grid; use another --out or remove {out}")
    else:
        atomic.write_json(grid_file, grid.to_dict())
    cells = grid.cells()
    tasks = [(grid, cell, index, out / "cells" / cell.name) for index, cell in enumerate(cells)]
    if executor is None:
        per_cell = [run_cell(*task, progress) for task in tasks]
    else:
        from mirror_neurons.distributed.executors import Resources

        def done(i: int, _records) -> None:
            if progress is not None:
                progress(f"{cells[i].name}: complete")

        per_cell = executor.map(run_cell, tasks, resources=Resources(num_cpus=1), on_result=done)
    records = []
    for (grid_, cell, index, folder), cell_records in zip(tasks, per_cell):
        extra = {row["model_id"]: row for row in scale_free_cell(grid, cell, index, folder, cell_records)}
        records.extend({**r, "scale_free": extra[r["model_id"]]} for r in cell_records)
    atomic.write_json(out / "records.json", records)
    summary = summarise(records)
    atomic.write_json(out / "summary.json", summary)
    atomic.write_text(out / "results.md", results_markdown(summary, grid))
    if figures:
        write_figures(summary, records, out / "figures")
        write_report(summary, records, out / "report.html")
    return summary


# --- summary, text and figures ---------------------------------------------------------------------


def summarise(records: Sequence[dict]) -> dict:
    """Proportions per cell, the pre-registered fits, their verdicts and the sensitivity fits."""
    summary: dict = {"n_models": len(records), "definitions": {}}
    if not records:
        return summary
    for definition in DEFINITIONS:
        main = fit_theory(records, definition)
        sens = {
            "S_H (label entropy) as S": fit_theory(records, definition, s_key="S_H"),
            "lowest-loss checkpoint": fit_theory(records, definition, outcome_key=f"emergent_{definition}_lowest"),
        }
        summary["definitions"][definition] = {
            "k": int(sum(r[f"emergent_{definition}"] for r in records)),
            "by_DI": proportions(records, ("dependency", "veil"), definition),
            "by_complexity_M": proportions(records, ("rate_max", "M"), definition),
            "by_cell": proportions(records, ("rate_max", "dependency", "veil"), definition),
            "fit": main.to_dict(),
            "verdicts": [asdict(v) for v in verdicts(main)],
            "statement": statement({definition: main}),
            "sensitivity": {name: {"fit": tf.to_dict(), "verdicts": [asdict(v) for v in verdicts(tf)]} for name, tf in sens.items()},
        }
    summary["nulls_by_M"] = nulls_by_capacity(records)
    summary["exploratory"] = exploratory(records)
    S = {}
    for r in records:
        S.setdefault(r["rate_max"], []).append((r["S"], r["S_H"]))
    summary["S_by_complexity"] = {str(k): {"S_mean": float(np.mean([s for s, _ in v])), "S_H_mean": float(np.mean([h for _, h in v]))} for k, v in S.items()}
    summary["reached_threshold"] = int(sum(r["reached_threshold"] for r in records))
    summary["cmni"] = {"median": float(np.median([r["cmni"] for r in records])), "max": float(np.max([r["cmni"] for r in records]))}
    return summary


def nulls_by_capacity(records: Sequence[dict]) -> list[dict]:
    """Per architecture: median CMNI of the trained models against the medians of their nulls' 95th percentiles."""
    rows = []
    for M in sorted({r["M"] for r in records}):
        rs = [r for r in records if r["M"] == M]
        rows.append({
            "M": M, "hidden": rs[0]["hidden"], "n": len(rs),
            "cmni": float(np.median([r["cmni"] for r in rs])),
            "perm_q95": float(np.median([r["perm_q95"] for r in rs])),
            "init_q95": float(np.median([r["init_q95"] for r in rs])),
            "beats_perm": int(sum(r["cmni"] > r["perm_q95"] for r in rs)),
            "beats_init": int(sum(r["cmni"] > r["init_q95"] for r in rs)),
            "with_mirror_unit": int(sum(r["n_mirror"] >= 1 for r in rs)),
            **({
                "es_cmni": float(np.median([r["scale_free"]["es_cmni"] for r in rs])),
                "es_init_q95": float(np.median([r["scale_free"]["es_init_q95"] for r in rs])),
                "es_beats_init": int(sum(r["scale_free"]["es_cmni"] > r["scale_free"]["es_init_q95"] for r in rs)),
            } if all("scale_free" in r for r in rs) else {}),
        })
    return rows


EXPLORATORY_NAME = "permutation-only (exploratory, not pre-registered): CMNI above its label-permutation null's 95th percentile and >= 1 significant mirror unit"


def exploratory(records: Sequence[dict]) -> dict:
    """An analysis added after seeing trial cells, reported as exploratory and never as a verdict of the theory.

    Trial cells showed untrained networks with a far larger raw CMNI than
    trained ones (the index is in activation units, and the L2 penalty shrinks
    trained activations), so the pre-registered chance-corrected definition may
    never be met. This drops the random-initialisation condition.
    """
    recs = [{**r, "emergent_perm": bool(r["cmni"] > r["perm_q95"] and r["n_mirror"] >= 1)} for r in records]
    tf = fit_theory(recs, "perm", outcome_key="emergent_perm")
    return {
        "definition": EXPLORATORY_NAME,
        "k": int(sum(r["emergent_perm"] for r in recs)),
        "by_DI": proportions(recs, ("dependency", "veil"), "perm"),
        "by_complexity_M": proportions(recs, ("rate_max", "M"), "perm"),
        "fit": tf.to_dict(),
        "readings": [asdict(v) for v in verdicts(tf)],
    }


def _ratio_rows(summary: dict, records: Sequence[dict], definition: str) -> list[dict]:
    """P per (complexity, M) point with its mean S/M."""
    ratio: dict[tuple, list[float]] = {}
    for r in records:
        ratio.setdefault((r["rate_max"], r["M"]), []).append(r["S"] / r["M"])
    return [{**row, "ratio": float(np.mean(ratio[(row["rate_max"], row["M"])]))} for row in summary["definitions"][definition]["by_complexity_M"]]


def figure_set(summary: dict, records: Sequence[dict]) -> list[tuple[str, str, object]]:
    """(file stem, title, Matplotlib figure) for each of the experiment's figures."""
    import matplotlib.pyplot as plt

    from mirror_neurons.experiments import plots

    out = []
    fig, ax = plt.subplots(figsize=(6.5, 4))
    plots.plot_p_vs_ratio({d: _ratio_rows(summary, records, d) for d in DEFINITIONS}, ax=ax)
    out.append(("p_vs_ratio", "P against S/M (pooled over D, I and seeds; 95 % Wilson intervals)", fig))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, d in zip(axes, DEFINITIONS):
        plots.plot_di_heatmap(summary["definitions"][d]["by_DI"], ax=ax, title=DEFINITION_NAMES[d].split(" (")[0])
    out.append(("p_by_DI", "P over the (D, I) grid, both definitions (k/n and 95 % Wilson interval per cell)", fig))
    by_cell: dict[str, list[float]] = {}
    for r in sorted(records, key=lambda r: (r["rate_max"], r["dependency"], r["veil"])):
        by_cell.setdefault(f"r{r['rate_max']:g} D{r['dependency']:g} I{r['veil']:g}", []).append(r["cmni"])
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(by_cell)), 4))
    plots.plot_cmni_by_cell(by_cell, ax=ax)
    out.append(("cmni_by_cell", "CMNI of every model's analysed checkpoint, per dataset cell", fig))
    return out


def write_figures(summary: dict, records: Sequence[dict], folder: Path) -> list[Path]:
    import io

    import matplotlib.pyplot as plt

    paths = []
    for stem, _title, fig in figure_set(summary, records):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
        plt.close(fig)
        path = folder / f"{stem}.png"
        atomic.write_bytes(path, buf.getvalue())
        paths.append(path)
    return paths


def _fmt(v: float) -> str:
    return "inf" if v == math.inf else "-inf" if v == -math.inf else f"{v:.3g}"


def results_markdown(summary: dict, grid: TheoryGrid) -> str:
    """The results as Markdown: counts, tables of P, the fitted coefficients and the generated statement."""
    lines = [f"Models analysed: {summary['n_models']} (grid: {len(grid.cells())} datasets x {len(grid.hidden)} architectures x {grid.seeds} seeds); "
             f"{summary.get('reached_threshold', 0)} reached val loss < 0.06. CMNI median {summary.get('cmni', {}).get('median', math.nan):.4g}, "
             f"max {summary.get('cmni', {}).get('max', math.nan):.4g}.", ""]
    if "S_by_complexity" in summary:
        lines += ["| rate_max | mean S (new boards per 1,000 recorded states) | mean S_H (label entropy, bits) |", "|---|---|---|"]
        lines += [f"| {k} | {v['S_mean']:.0f} | {v['S_H_mean']:.3f} |" for k, v in summary["S_by_complexity"].items()]
        lines.append("")
    for definition, d in summary["definitions"].items():
        lines += [f"### Emergence, {DEFINITION_NAMES[definition]}", "", f"{d['k']} of {summary['n_models']} models.", ""]
        lines += ["P over (D, I), pooled over complexity, capacity and seeds:", "", "| D | I | k/n | P | 95 % Wilson |", "|---|---|---|---|---|"]
        lines += [f"| {r['dependency']:g} | {r['veil']:g} | {r['k']}/{r['n']} | {r['p']:.2f} | [{r['lo']:.2f}, {r['hi']:.2f}] |" for r in d["by_DI"]]
        lines += ["", "P per game complexity and capacity, pooled over D, I and seeds:", "", "| rate_max | M | k/n | P | 95 % Wilson |", "|---|---|---|---|---|"]
        lines += [f"| {r['rate_max']:g} | {r['M']} | {r['k']}/{r['n']} | {r['p']:.2f} | [{r['lo']:.2f}, {r['hi']:.2f}] |" for r in d["by_complexity_M"]]
        fit = d["fit"]
        lines.append("")
        if "terms" in fit:
            lines += [f"Fitted model ({fit['method']}, n = {fit['n']}, {fit['events']} emergent; x = log(S/M) - {fit['x_mean']:.3g}):", "",
                      "| term | coefficient | SE | 95 % Wald | 95 % profile |", "|---|---|---|---|---|"]
            for name, t in fit["terms"].items():
                lines.append(f"| {name} | {t['coef']:.3g} | {t['se']:.3g} | [{_fmt(t['wald'][0])}, {_fmt(t['wald'][1])}] | [{_fmt(t['profile'][0])}, {_fmt(t['profile'][1])}] |")
            lines += [f"Note: {n}" for n in fit.get("notes", [])]
        else:
            lines.append(f"No fit: {fit['reason']}.")
        lines += ["", "Verdicts (pre-registered rules):", ""]
        lines += [f"- {v['part']}: **{v['verdict']}** ({v['because']})." for v in d["verdicts"]]
        lines += ["", "Sensitivity:", ""]
        for name, s in d["sensitivity"].items():
            short = "; ".join(f"{v['part']}: {v['verdict']}" for v in s["verdicts"] if v["verdict"] != "reported")
            lines.append(f"- {name}: {short}.")
        lines.append("")
    if summary.get("nulls_by_M"):
        lines += ["### CMNI against its nulls, per architecture (medians over models)", "",
                  "| hidden | M | models | CMNI | permutation null q95 | random-init null q95 | beat perm | beat init | >= 1 mirror unit |", "|---|---|---|---|---|---|---|---|---|"]
        lines += [f"| {'x'.join(map(str, r['hidden']))} | {r['M']} | {r['n']} | {r['cmni']:.4f} | {r['perm_q95']:.4f} | {r['init_q95']:.4f} | {r['beats_perm']} | {r['beats_init']} | {r['with_mirror_unit']} |" for r in summary["nulls_by_M"]]
        lines.append("")
        if all("es_cmni" in r for r in summary["nulls_by_M"]):
            lines += ["Exploratory (not pre-registered): the scale-free index (`effect_size_cmni`: MNS from Cohen's d) of the same checkpoints "
                      "against untrained networks of the same architecture on the same states (medians over models):", "",
                      "| hidden | models | scale-free CMNI | untrained null q95 | beat the untrained null |", "|---|---|---|---|---|"]
            lines += [f"| {'x'.join(map(str, r['hidden']))} | {r['n']} | {r['es_cmni']:.4f} | {r['es_init_q95']:.4f} | {r['es_beats_init']} |" for r in summary["nulls_by_M"]]
            lines.append("")
    ex = summary.get("exploratory")
    if ex:
        lines += [f"### Exploratory: {ex['definition']}", "", f"{ex['k']} of {summary['n_models']} models.", "",
                  "| D | I | k/n | P | 95 % Wilson |", "|---|---|---|---|---|"]
        lines += [f"| {r['dependency']:g} | {r['veil']:g} | {r['k']}/{r['n']} | {r['p']:.2f} | [{r['lo']:.2f}, {r['hi']:.2f}] |" for r in ex["by_DI"]]
        lines += ["", "| rate_max | M | k/n | P | 95 % Wilson |", "|---|---|---|---|---|"]
        lines += [f"| {r['rate_max']:g} | {r['M']} | {r['k']}/{r['n']} | {r['p']:.2f} | [{r['lo']:.2f}, {r['hi']:.2f}] |" for r in ex["by_complexity_M"]]
        fit = ex["fit"]
        if "terms" in fit:
            lines += ["", f"Fit ({fit['method']}, {fit['events']} of {fit['n']}):", "", "| term | coefficient | 95 % profile |", "|---|---|---|"]
            lines += [f"| {name} | {t['coef']:.3g} | [{_fmt(t['profile'][0])}, {_fmt(t['profile'][1])}] |" for name, t in fit["terms"].items()]
        lines += ["", "Readings by the same rules (exploratory, not verdicts):", ""]
        lines += [f"- {v['part']}: {v['verdict']} ({v['because']})." for v in ex["readings"]]
        lines.append("")
    return "\n".join(lines)


# --- the report ------------------------------------------------------------------------------------

VERDICT_CSS = {"supports": "reproduced", "contradicts": "not-reproduced", "cannot decide": "not-testable"}
"""Verdict -> the report stylesheet's cell classes (green, red, grey)."""


def load_section(out: str | Path, number: int = 9):
    """The theory section of a finished experiment folder ``out`` (for ``mirror-neurons report --theory``)."""
    out = Path(out)
    files = [out / "summary.json", out / "records.json"]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise DataError(
            f"{out} holds no finished theory experiment ({', '.join(missing)} missing); "
            f"run `mirror-neurons experiment theory --out {out}` first"
        )
    fix = f"run `mirror-neurons experiment theory --out {out}` again to rewrite it"
    summary = atomic.read_json_object(files[0], DataError, fix)
    try:
        records = json.loads(files[1].read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{files[1]} is not valid JSON ({getattr(e, 'msg', e)}); {fix}") from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(f"{files[1]} must hold a list of records; {fix}")
    try:
        return theory_section(summary, records, number=number)
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a summary of another shape than run_theory writes
        raise DataError(f"{files[0]} is not a theory summary (bad or missing {e}); {fix}") from None


def theory_section(summary: dict, records: Sequence[dict], number: int = 9):
    """The experiment as one section of the project's HTML report (``report.sections.Section``)."""
    from mirror_neurons.report.sections import Section, Table, figure

    s = Section(
        "theory", f"{number}. Theory: P ~ f(S/M, E) * g(D, I)",
        f"{summary['n_models']} models over capacity M, game complexity (S), dependency D and veil I; "
        "emergence by two pre-registered definitions, P per cell with 95 % Wilson intervals, and the "
        "pre-registered logistic fit read by fixed decision rules (docs/theory.md).",
    )
    if not records:
        s.notes.append("No model has been analysed yet.")
        return s
    readings = {
        "p_vs_ratio": "; ".join(
            f"{DEFINITION_NAMES[d].split(' (')[0]}: P from {min(r['p'] for r in rows):.2f} to {max(r['p'] for r in rows):.2f} across S/M"
            for d in DEFINITIONS if (rows := summary["definitions"][d]["by_complexity_M"])
        ) + ".",
        "p_by_DI": "; ".join(
            f"{DEFINITION_NAMES[d].split(' (')[0]}: {summary['definitions'][d]['k']} of {summary['n_models']} models emergent"
            for d in DEFINITIONS
        ) + ".",
        "cmni_by_cell": f"Median CMNI {summary['cmni']['median']:.4f}, largest {summary['cmni']['max']:.4f}; the dashed line is the paper's 0.005.",
    }
    for stem, title, fig in figure_set(summary, records):
        s.figures.append(figure(fig, title, readings[stem]))
    for d in DEFINITIONS:
        rows = [[v["part"], v["verdict"], v["because"]] for v in summary["definitions"][d]["verdicts"]]
        s.tables.append(Table(f"Verdicts, {DEFINITION_NAMES[d]} definition", ["part of the theory", "verdict", "because"], rows))
    nulls = summary.get("nulls_by_M", [])
    if nulls:
        scale_free = all("es_cmni" in r for r in nulls)
        columns = ["hidden", "M", "models", "CMNI", "permutation null q95", "random-init null q95", "beat both"]
        columns += ["scale-free CMNI", "untrained null q95", "beat it (exploratory)"] if scale_free else []
        rows = []
        for r in nulls:
            row = ["x".join(map(str, r["hidden"])), str(r["M"]), str(r["n"]), f"{r['cmni']:.4f}", f"{r['perm_q95']:.4f}", f"{r['init_q95']:.4f}",
                   str(sum(1 for m in records if m["M"] == r["M"] and m["cmni"] > m["perm_q95"] and m["cmni"] > m["init_q95"]))]
            if scale_free:
                row += [f"{r['es_cmni']:.4f}", f"{r['es_init_q95']:.4f}", str(r["es_beats_init"])]
            rows.append(row)
        s.tables.append(Table("CMNI against its nulls per architecture (medians over models)", columns, rows))
    return s


def write_report(summary: dict, records: Sequence[dict], out: str | Path, *, title: str = "Testing the theory of emergence") -> Path:
    """The experiment's own self-contained HTML page, laid out by the project report's template."""
    import datetime as dt

    from mirror_neurons import __version__
    from mirror_neurons.report.html import _environment

    env = _environment()
    html = env.get_template("report.html.j2").render(
        title=title, run_dir=str(Path(out).parent), preset="theory",
        created=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=__version__,
        facts={"models": summary["n_models"], **{f"emergent ({d})": summary["definitions"][d]["k"] for d in summary.get("definitions", {})}},
        notes=[], sections=[theory_section(summary, records)], css=env.loader.get_source(env, "report.css")[0],
        verdict_classes=VERDICT_CSS,
    )
    atomic.write_text(out, html)
    return Path(out)
