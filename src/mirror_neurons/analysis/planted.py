"""Positive and negative controls: units of known response planted into trained networks (issue 13, item 8).

Without them, "no mirror units" cannot be told from "the measures cannot see
them", and a unit called "mirror" cannot be told from a unit that tracks
something the scenario groups differ in (energy, Frog's column). So: take a
competent trained network, append to one of its hidden layers a unit whose
response is known, run the whole analysis (``pipeline.analyze_checkpoint``,
unchanged) on the widened network, and ask what each measure calls that unit.

**What a planted unit is.** A unit whose activation on a state ``x`` is

    offset + noise_sd * (effect * signal(x) + noise(x))

with ``signal`` one of ``KINDS`` (a function of the raw 100-integer state the
network reads, stated below) and ``noise`` a standard normal drawn by hashing
the state (``hash_normal``): a fixed function of the input, like any unit,
independent of every group and covariate by construction, so equal states get
equal activations. ``noise_sd`` is the median standard deviation of the layer's
own units on the test states and ``offset`` their median mean, so the unit sits
on the layer's scale (which matters for the raw CMNI only; every test and
effect size is scale-free). For the distress kinds (0/1 signals, constant within
each scenario group) ``effect`` is exactly the Cohen's d of the contrasts it
responds to; for the covariate kinds the signal is standardised on the test
states and ``effect`` is the SD of the signal part in noise SDs.

**Why in the activations, not in the weights.** A Dense unit is a ReLU of a
linear function of the input; it cannot add continuous noise of a chosen size,
so its effect size could not be set (a one-hot network's "any distress cell"
unit has d = infinity, and reading other inputs for spread would mix in the
very confounds the decoys test). The planted unit is computed by ``signal``
and ``noise`` inside ``PlantedMLP.forward`` and passes through the layer's
named hook point, so the analysis captures it, tests it, counts it in the
CMNI and its nulls (the random-initialisation null draws networks of the
widened architecture), and the ablation hooks can mask it. What this does not
test is circuits: the planted unit has no input weights (a zero row of its
layer's kernel) and drives nothing (a zero column of the next kernel; the
forward pass drops it before the next layer, so the outputs are bitwise the
trained network's). The zero row and column shift the kernel z-scores of the
other weights slightly. For circuits, ``DensePlant`` (kind ``dense_mirror``)
is a real Dense unit of a one-hot network's first layer, with input weights on
the distress indicators and on the flies row (its noise), whose kernel row the
circuit table reads.

**Kinds** (``signal``; ``f`` = 4 Frog, ``t`` = 5 Toad, 6-8 action symbols, 9 and 10 distress):

- ``mirror``: a distress cell anywhere in the players row: up with either
  player's distress (and both), i.e. a mirror unit of d = effect.
- ``frog_only``: a distress cell, Toad visible (5-8) and Frog's ``f`` absent:
  Frog in distress, Toad not (SPEC section 4: at the start of Frog's turn Frog
  shows ``f`` unless in distress). Responds to one player only.
- ``toad_only``: a distress cell and Frog visible as ``f``: Toad in distress, Frog not.
- ``energy``: Frog's energy (input 97).
- ``position``: Frog's column as the players row shows it: the ``f``, else
  the first distress cell, else the first non-empty cell (0 on an empty row).

The decoys (everything but ``mirror`` with effect > 0) are negative controls
for the mirror measures; ``energy`` and ``position`` test the composition of
the groups: a test set balanced by label has more energy-0 states and fewer
Frogs near the end in "none" than in "toad", so a unit that tracks energy or
position alone differs between the groups.

``analyze_plants`` runs the analysis once per planted spec and returns one
record per planted unit and one per analysis; ``detection_table`` and
``checkpoint_table`` summarise them into rates with Wilson intervals. The unit
of replication is the model: ``detection_table`` reports, beside the pooled
rate over plants, how many models contributed and the range of their own rates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy import special

from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.pipeline import AnalysisConfig, PreparedTest, analyze_checkpoint
from mirror_neurons.errors import ConfigError
from mirror_neurons.analysis.stats import wilson_interval
from mirror_neurons.game.constants import OWN_ENERGY, PLAYERS, Symbol
from mirror_neurons.train.checkpoint import Checkpoint
from mirror_neurons.train.model import MLP

KINDS: dict[str, str] = {
    "mirror": "up with any distress cell in the players row (either player's distress): a mirror unit",
    "frog_only": "up when Frog is in distress and Toad is not (distress shown, Toad visible, no f)",
    "toad_only": "up when Toad is in distress and Frog is not (distress shown and f visible)",
    "energy": "linear in Frog's energy (input 97), standardised",
    "position": "linear in Frog's visible column in the players row, standardised",
}
DISTRESS_KINDS = ("mirror", "frog_only", "toad_only")
"""Kinds with a 0/1 signal, constant within each scenario group: ``effect`` is their Cohen's d."""
COVARIATE_KINDS = ("energy", "position")
"""Kinds that track a covariate the scenario groups differ in, standardised on the test states."""

_DISTRESS = (Symbol.DISTRESS, Symbol.TOAD_DISTRESS)
_TOAD_SHOWN = (Symbol.TOAD, Symbol.JUMP, Symbol.LEAP, Symbol.HELP)


def plant_signal(kind: str, x: np.ndarray) -> np.ndarray:
    """The signal (n,) float64 of a kind (``KINDS``) on raw states ``x`` (n, 100)."""
    players = np.asarray(x)[:, PLAYERS]  # (n, 32)
    distress = np.isin(players, _DISTRESS)
    any_distress = distress.any(axis=1)
    frog_shown = (players == Symbol.FROG).any(axis=1)
    if kind == "mirror":
        return any_distress.astype(np.float64)
    if kind == "frog_only":
        return (any_distress & ~frog_shown & np.isin(players, _TOAD_SHOWN).any(axis=1)).astype(np.float64)
    if kind == "toad_only":
        return (any_distress & frog_shown).astype(np.float64)
    if kind == "energy":
        return np.asarray(x)[:, OWN_ENERGY].astype(np.float64)
    if kind == "position":
        first = lambda mask: np.where(mask.any(axis=1), mask.argmax(axis=1), -1)  # noqa: E731
        col = first(players == Symbol.FROG)
        col = np.where(col < 0, first(distress), col)
        col = np.where(col < 0, first(players != Symbol.EMPTY), col)
        return np.maximum(col, 0).astype(np.float64)
    raise ConfigError(f"plant kind {kind!r} is not known; choose one of {', '.join(KINDS)}")


_M1, _M2, _GOLDEN = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB), np.uint64(0x9E3779B97F4A7C15)


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = z + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def hash_normal(x: np.ndarray, seed: int) -> np.ndarray:
    """A standard normal (n,) float64 per state: a fixed pseudo-random function of the state's 100 integers and ``seed``.

    The state is folded into 64 bits (each integer mixed with its index and the
    seed), then through splitmix64's finaliser, a uniform in (0, 1) and the
    normal quantile. Equal states give equal values; different seeds give
    unrelated functions.
    """
    xi = np.asarray(x).astype(np.uint64)  # (n, 100)
    key = np.full(len(xi), np.uint64(seed % 2**64), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(xi.shape[1]):
            key = _mix(key ^ (xi[:, j] + np.uint64(j) * np.uint64(1 << 8)))
    u = ((key >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53
    return special.ndtri(u)


@dataclass(frozen=True)
class Plant:
    """One planted unit: activation = offset + noise_sd * (effect * (signal - center) / scale + noise)."""

    kind: str
    effect: float
    layer: int
    """Index of the hidden layer it is appended to (0 = dense_0)."""
    noise_sd: float
    offset: float
    center: float = 0.0
    scale: float = 1.0
    seed: int = 0
    """Seed of its noise function (``hash_normal``)."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"plant kind {self.kind!r} is not known; choose one of {', '.join(KINDS)}")
        if not (math.isfinite(self.effect) and self.noise_sd > 0 and self.scale > 0):
            raise ConfigError(f"a plant needs a finite effect and positive noise_sd and scale, got {self}")

    def activation(self, x: np.ndarray) -> np.ndarray:
        """(n,) float32 on raw states ``x`` (n, 100)."""
        s = (plant_signal(self.kind, x) - self.center) / self.scale
        return (self.offset + self.noise_sd * (self.effect * s + hash_normal(x, self.seed))).astype(np.float32)


def make_plant(kind: str, effect: float, layer: int, layer_acts: np.ndarray, x: np.ndarray, seed: int) -> Plant:
    """A plant on the scale of a layer whose activations on the test states ``x`` are ``layer_acts`` (n, units).

    noise_sd = the median SD of the layer's live units (1 if all are constant);
    offset = the median of their means. Covariate kinds are standardised on ``x``.
    """
    sd = layer_acts.std(axis=0)
    live = sd > 0
    noise_sd = float(np.median(sd[live])) if live.any() else 1.0
    offset = float(np.median(layer_acts.mean(axis=0))) if layer_acts.size else 0.0
    center, scale = 0.0, 1.0
    if kind in COVARIATE_KINDS:
        s = plant_signal(kind, x)
        center, scale = float(s.mean()), float(s.std()) or 1.0
    return Plant(kind, float(effect), int(layer), noise_sd, offset, center, scale, int(seed))


DENSE_KINDS: dict[str, str] = {
    "dense_mirror": "a real Dense unit of the first hidden layer of a one-hot network: weight effect * noise SD on every "
    "players-row distress indicator, noise from random weights on the flies-row indicators",
}
"""Kinds planted as weights, not as functions: circuits see their input weights (one-hot networks only)."""


@dataclass(frozen=True)
class DensePlant:
    """A planted Dense unit of the first hidden layer: activation(features @ weights + bias), features = the encoding's.

    ``weights`` (the encoding's width) read the players-row distress indicators
    with ``effect * noise_sd`` each and the flies-row "fly" indicators with
    random weights scaled so that their sum has SD ``noise_sd`` on the test
    states: the flies pattern is drawn independently of everything else (SPEC
    section 4, step 5), so it is noise that no group or stratum differs in.
    The bias keeps the unit above 0 on every test state, so Cohen's d of either
    distress contrast is ``effect``.
    """

    kind: str
    effect: float
    weights: tuple[float, ...]
    bias: float
    layer: int = 0

    def __post_init__(self) -> None:
        if self.kind not in DENSE_KINDS or self.layer != 0:
            raise ConfigError(
                f"a dense plant is one of {', '.join(DENSE_KINDS)} in layer 0, got {self.kind!r} in layer {self.layer}"
            )


def make_dense_plant(
    kind: str, effect: float, model: MLP, layer_acts: np.ndarray, x: np.ndarray, rng: np.random.Generator
) -> DensePlant:
    """A ``DensePlant`` for a one-hot ``model`` on the scale of its first layer (``layer_acts``, on states ``x``)."""
    encoding = model.config.input_encoding
    if model.config.encoding != "onehot":
        raise ConfigError(f"{kind} plants read one-hot features; this model's encoding is {model.config.encoding!r}")
    names = encoding.feature_names
    distress = [
        i for i, n in enumerate(names) if n.startswith("players[") and n.endswith(("= distress", "= toad-distress"))
    ]
    flies = [i for i, n in enumerate(names) if n.startswith("flies[") and n.endswith("= fly")]
    with torch.no_grad():
        features = (
            encoding.encode(torch.as_tensor(np.asarray(x), dtype=torch.float32)).numpy().astype(np.float64)
        )  # (n, width)
    v = rng.standard_normal(len(flies))
    noise = features[:, flies] @ v
    if noise.std() == 0:
        raise ConfigError("the flies row is the same in every test state, so it cannot carry a dense plant's noise")
    sd = layer_acts.std(axis=0)
    noise_sd = float(np.median(sd[sd > 0])) if np.any(sd > 0) else 1.0
    w = np.zeros(len(names))
    w[flies] = noise_sd * v / noise.std()
    w[distress] = effect * noise_sd
    bias = noise_sd - float((features @ w).min())  # the smallest activation on the test states is one noise SD
    return DensePlant(kind, float(effect), tuple(float(a) for a in w), bias)


class PlantedMLP(MLP):
    """A trained ``MLP`` with planted units appended to hidden layers; its outputs are the base model's, bitwise.

    ``layers`` and ``config`` describe the widened network (a planted unit is a
    zero row of its layer's kernel and a zero column of the next one), so every
    analysis that reads the architecture or the kernels sees it. ``forward``
    computes the base model's layers themselves, appends the planted units'
    activations before the layer's hook point (where the analysis captures and
    masks) and drops them again before the next layer.
    """

    def __init__(self, base: MLP, plants: Sequence[Plant | DensePlant]):
        n_hidden = len(base.config.hidden)
        bad = [p.layer for p in plants if not 0 <= p.layer < n_hidden]
        if bad:
            raise ConfigError(f"plant layer {bad[0]} does not exist: the model has hidden layers 0..{n_hidden - 1}")
        extra = [sum(p.layer == i for p in plants) for i in range(n_hidden)]
        super().__init__(replace(base.config, hidden=tuple(h + e for h, e in zip(base.config.hidden, extra))))
        self.base = base
        self.plants = tuple(plants)
        self.base_widths = base.config.widths
        with torch.no_grad():
            for i, (mine, theirs) in enumerate(zip(self.layers, base.layers)):
                mine.weight.zero_()
                mine.bias.zero_()
                out, inp = theirs.weight.shape
                mine.weight[:out, :inp] = theirs.weight
                mine.bias[:out] = theirs.bias
            for _layer, unit, p in self.planted_units():
                if isinstance(p, DensePlant):  # a real Dense unit: its input weights are in the kernel
                    self.layers[0].weight[unit] = torch.tensor(p.weights, dtype=self.layers[0].weight.dtype)
                    self.layers[0].bias[unit] = p.bias
        self.eval()

    def planted_units(self) -> list[tuple[str, int, Plant | DensePlant]]:
        """(layer name, unit index within the layer, plant) of every planted unit, in order."""
        names = self.config.layer_names
        seen = [0] * len(self.base_widths)
        out = []
        for p in self.plants:
            out.append((names[p.layer], self.base_widths[p.layer] + seen[p.layer], p))
            seen[p.layer] += 1
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # raw states (n, 100) -> (n, 4)
        base = self.base
        h = base.encoding.encode(x)  # (n, n_features)
        *hidden, out = base.layers
        names = self.config.layer_names
        raw = None
        for i, (name, layer) in enumerate(zip(names, hidden)):
            a = base.activation(layer(h))  # (n, base width)
            mine = [p for p in self.plants if p.layer == i]
            if not mine:
                h = base.dropout(self.points[name](a))
                continue
            if raw is None:
                raw = x.detach().cpu().numpy()
            columns = []
            for p in mine:
                if isinstance(p, DensePlant):  # h is still the encoded input: this is layer 0
                    w = torch.tensor(p.weights, dtype=h.dtype)
                    columns.append(base.activation(h @ w + p.bias).to(a.dtype))
                else:
                    columns.append(torch.from_numpy(p.activation(raw)).to(a.dtype))
            planted = torch.stack(columns, dim=1)  # (n, k)
            full = base.dropout(self.points[name](torch.cat([a, planted], dim=1)))  # (n, base width + k)
            h = full[:, : a.shape[1]].contiguous()  # planted units drive nothing
        return self.points[names[-1]](out(h))


# --- running the analysis on planted networks ------------------------------------------------


@dataclass(frozen=True)
class PlantSpec:
    """What to plant in one analysis: ``count`` units of one kind and effect in hidden layer ``layer``."""

    kind: str
    effect: float
    layer: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS and self.kind not in DENSE_KINDS:
            raise ConfigError(
                f"plant kind {self.kind!r} is not known; choose one of {', '.join([*KINDS, *DENSE_KINDS])}"
            )
        if self.kind in DENSE_KINDS and self.layer != 0:
            raise ConfigError(f"{self.kind} plants go into the first hidden layer (layer 0), got layer {self.layer}")
        if self.count < 1:
            raise ConfigError(f"a plant spec needs count >= 1, got {self.count}")


def _scalar(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def analyze_plants(
    checkpoint: Checkpoint,
    test: PreparedTest,
    specs: Sequence[PlantSpec],
    config: AnalysisConfig,
    rng: np.random.Generator,
    *,
    tags: Mapping[str, object] | None = None,
    on_spec: Callable[[int, int], None] | None = None,
) -> tuple[list[dict], list[dict]]:
    """Plant each spec into ``checkpoint``'s network in turn and analyse it: (unit records, analysis records).

    One analysis per spec (so the false-discovery-rate families hold the
    network's own units and this spec's planted units only). A unit record is
    every column ``CheckpointAnalysis.unit_columns`` gives the planted unit, a
    checkpoint record the analysis's ``row()``; both carry ``kind``, ``effect``,
    ``layer``, ``count``, ``plant`` (index within the spec) and ``tags``.
    """
    base = checkpoint.model
    acts = capture(base, test.x)  # {layer: (n, units)}, the trained network's own, for the plants' scale
    names = base.config.layer_names
    x = test.x.numpy()
    units, rows = [], []
    for i, spec in enumerate(specs):
        if not 0 <= spec.layer < len(base.config.hidden):
            raise ConfigError(
                f"plant layer {spec.layer} does not exist: the model has hidden layers 0..{len(base.config.hidden) - 1}"
            )
        if spec.kind in DENSE_KINDS:
            plants = [make_dense_plant(spec.kind, spec.effect, base, acts[names[0]], x, rng) for _ in range(spec.count)]
        else:
            seeds = rng.integers(0, 2**63, size=spec.count)
            plants = [make_plant(spec.kind, spec.effect, spec.layer, acts[names[spec.layer]], x, int(s)) for s in seeds]
        model = PlantedMLP(base, plants)
        ck = Checkpoint(path=checkpoint.path, model=model, meta={**checkpoint.meta, "model": model.config.to_dict()})
        res = analyze_checkpoint(ck, test, config)
        cols = res.unit_columns()
        label = {
            "kind": spec.kind,
            "effect": float(spec.effect),
            "layer": spec.layer,
            "count": spec.count,
            **(tags or {}),
        }
        circuits = {(r["layer"], r["unit"]): r for r in res.circuits or []}
        for j, (layer, unit, plant) in enumerate(model.planted_units()):
            (row,) = np.flatnonzero((cols["layer"] == layer) & (cols["unit"] == unit))
            record = {**label, "plant": j, **{k: _scalar(v[row]) for k, v in cols.items()}}
            if isinstance(plant, DensePlant):  # what the circuit table says this unit reads (None: not in the table)
                record["circuit_inputs"] = circuits.get((layer, unit), {}).get("strongest_inputs")
            units.append(record)
        rows.append({**label, **{k: _scalar(v) for k, v in res.row().items()}})
        if on_spec is not None:
            on_spec(i, len(specs))
    return units, rows


# --- summaries ---------------------------------------------------------------------------------

MEASURE_NAMES: dict[str, str] = {
    "class=mirror": "classified mirror (q_mirror < alpha, d_frog and d_toad >= min_effect)",
    "class=differentiating": "classified differentiating",
    "class=anti-mirror": "classified anti-mirror",
    "mns>0": "MNS > 0 (the raw CMNI counts it)",
    "q_mirror<alpha": "q_mirror < alpha (no effect floor)",
    "circuit reads distress": "dense plants: the circuit table lists the unit with only distress indicators as its strongest inputs",
}
"""The unit-level calls ``unit_calls`` makes, and what each means."""
MIRROR_MEASURES = ("class=mirror", "mns>0", "q_mirror<alpha")
"""Calls that say "this is a mirror unit": a decoy they call is a false positive."""


def unit_calls(units: Mapping[str, np.ndarray], alpha: float) -> dict[str, np.ndarray]:
    """Per measure, (n,) bool: does it call each planted unit (rows of ``units``, column arrays)?

    Besides ``MEASURE_NAMES``, any further class column (``class_*``) and any
    ``q_mirror*`` column the analysis writes is picked up, so new measures are
    evaluated without changing this module.
    """
    calls: dict[str, np.ndarray] = {}
    for col in sorted(c for c in units if c == "class" or c.startswith("class_")):
        v = np.asarray(units[col]).astype(str)
        for cls in ("mirror", "differentiating", "anti-mirror"):
            calls[f"{col}={cls}"] = v == cls
    if "mns" in units:
        calls["mns>0"] = np.asarray(units["mns"], dtype=float) > 0
    for col in sorted(c for c in units if c.startswith("q_mirror")):
        calls[f"{col}<alpha"] = np.nan_to_num(np.asarray(units[col], dtype=float), nan=1.0) < alpha
    if "circuit_inputs" in units:
        calls["circuit reads distress"] = np.array([_reads_distress(v) for v in units["circuit_inputs"]], dtype=bool)
    return calls


def _reads_distress(inputs: object) -> bool:
    """The circuit table names at least one strong input, and every one is a players-row distress indicator."""
    if not isinstance(inputs, str) or inputs.startswith("none"):
        return False
    return all("= distress" in part or "= toad-distress" in part for part in inputs.split("; "))


def _columns(records: Sequence[Mapping]) -> dict[str, np.ndarray]:
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    return {k: np.array([r.get(k) for r in records], dtype=object) for k in keys}


def _cells(cols: Mapping[str, np.ndarray]) -> list[tuple[str, float, np.ndarray]]:
    kinds, effects = cols["kind"].astype(str), cols["effect"].astype(float)
    order = [*KINDS, *DENSE_KINDS]
    cells = sorted(
        {(k, e) for k, e in zip(kinds, effects)}, key=lambda c: (order.index(c[0]) if c[0] in order else 99, c[1])
    )
    return [(str(k), float(e), (kinds == k) & (effects == e)) for k, e in cells]


def detection_table(units: Sequence[Mapping], alpha: float = 0.05, confidence: float = 0.95) -> list[dict]:
    """Per (kind, effect, measure): how often the measure calls the planted unit, with a Wilson interval.

    Rows: kind, effect, measure, k, n, rate, lo, hi, models (how many models
    contributed), model_min and model_max (the lowest and highest per-model
    rate: the spread between models, the unit of replication), d_frog and
    d_toad (median realised Cohen's d of the planted units).
    """
    if not units:
        return []
    cols = _columns(units)
    calls = unit_calls(cols, alpha)
    models = cols["model_id"].astype(str) if "model_id" in cols else np.full(len(units), "model")
    out = []
    for kind, effect, cell in _cells(cols):
        d = {
            c: float(np.nanmedian(cols[c][cell].astype(float))) if c in cols else float("nan")
            for c in ("d_frog", "d_toad")
        }
        for measure, hit in calls.items():
            if measure == "circuit reads distress" and kind not in DENSE_KINDS:
                continue  # function plants have no input weights to read
            k, n = int(hit[cell].sum()), int(cell.sum())
            lo, hi = wilson_interval(k, n, confidence)
            per_model = [hit[cell & (models == m)].mean() for m in np.unique(models[cell])]
            out.append({"kind": kind, "effect": effect, "measure": measure, "k": k, "n": n, "rate": k / n,
                        "lo": float(lo), "hi": float(hi), "models": len(per_model),
                        "model_min": float(min(per_model)), "model_max": float(max(per_model)), **d})  # fmt: skip
    return out


CHECKPOINT_MEASURES = ("cmni", "cmni_effect_size", "n_mirror", "cmni_ci_low", "cmni_effect_size_ci_low")
"""Checkpoint-level numbers ``checkpoint_table`` averages (those the analysis gives); p-values are found by name."""


def checkpoint_table(rows: Sequence[Mapping], alpha: float = 0.05, confidence: float = 0.95) -> list[dict]:
    """Per (kind, effect): mean checkpoint-level measures of the planted networks and how often each p < alpha.

    Every ``CHECKPOINT_MEASURES`` column is averaged
    (``count``: the mean number of units planted together), and also given as
    ``delta.<column>``: the mean paired change from the effect-0 analysis of the
    same model, replicate and count (pure-noise units of the same number, so
    the architecture is the same). Every ``p_*`` column gets a rate of p < alpha
    (``p_*_floor`` columns, the smallest p a control can give, excepted) with
    its Wilson interval, so new checkpoint-level tests are picked up without
    changing this module.
    """
    if not rows:
        return []
    cols = _columns(rows)
    n = len(rows)
    num = lambda c: np.array([np.nan if v is None else v for v in cols[c]], dtype=float)  # noqa: E731
    counts = num("count") if "count" in cols else np.ones(n)
    numeric = lambda c: all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None for v in cols[c])  # noqa: E731
    means = [c for c in CHECKPOINT_MEASURES if c in cols and numeric(c)]
    tests = sorted(c for c in cols if c.startswith("p_") and not c.endswith("_floor") and numeric(c))
    pair = [tuple(str(cols[k][i]) if k in cols else "" for k in ("kind", "model_id", "rep", "count")) for i in range(n)]
    effects = cols["effect"].astype(float)
    zero = {pair[i]: i for i in range(n) if effects[i] == 0}
    out = []
    for kind, effect, cell in _cells(cols):
        r: dict = {"kind": kind, "effect": effect, "count": float(np.mean(counts[cell])), "n": int(cell.sum())}
        for c in means:
            v = num(c)
            r[c] = float(np.nanmean(v[cell]))
            paired = [v[i] - v[zero[pair[i]]] for i in np.flatnonzero(cell) if pair[i] in zero]
            r[f"delta.{c}"] = float(np.nanmean(paired)) if paired else float("nan")
        for c in tests:
            v = num(c)[cell]
            v = v[np.isfinite(v)]
            k = int((v < alpha).sum())
            lo, hi = wilson_interval(k, len(v), confidence)
            r[f"{c}<alpha"] = k / len(v) if len(v) else float("nan")
            r[f"{c}<alpha.lo"], r[f"{c}<alpha.hi"] = float(lo), float(hi)
        out.append(r)
    return out


POSITIVE_KINDS = ("mirror", "dense_mirror")
"""Kinds that are mirror units when their effect is above 0; every other plant is a negative control."""


def is_negative(kind: str, effect: float) -> bool:
    """A plant no mirror measure should call: a decoy, or a mirror kind of effect 0."""
    return kind not in POSITIVE_KINDS or effect == 0


def false_positive_rates(table: Sequence[Mapping], measures: Sequence[str] = MIRROR_MEASURES) -> list[dict]:
    """The rows of ``detection_table`` that are negative controls for a mirror measure: decoys and null plants."""
    return [r for r in table if r["measure"] in measures and is_negative(r["kind"], r["effect"])]


def smallest_detected(table: Sequence[Mapping], measure: str = "class=mirror", rate: float = 0.8) -> float | None:
    """The smallest planted mirror effect the measure calls at least ``rate`` of the time (None: none)."""
    hits = [
        r["effect"]
        for r in table
        if r["kind"] == "mirror" and r["measure"] == measure and r["effect"] > 0 and r["rate"] >= rate
    ]
    return min(hits) if hits else None


__all__ = [
    "COVARIATE_KINDS",
    "DENSE_KINDS",
    "DISTRESS_KINDS",
    "DensePlant",
    "KINDS",
    "POSITIVE_KINDS",
    "is_negative",
    "make_dense_plant",
    "MEASURE_NAMES",
    "MIRROR_MEASURES",
    "Plant",
    "PlantSpec",
    "PlantedMLP",
    "analyze_plants",
    "checkpoint_table",
    "detection_table",
    "false_positive_rates",
    "hash_normal",
    "make_plant",
    "plant_signal",
    "smallest_detected",
    "unit_calls",
]
