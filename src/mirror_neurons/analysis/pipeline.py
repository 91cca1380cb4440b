"""Analysis of one checkpoint (``analyze_checkpoint``) and of a whole run or sweep (``analyze_run``).

``analyze_checkpoint`` is the notebook entry point: give it a ``Checkpoint`` and
the test ``Split`` (or a ``PreparedTest`` built once and reused across
checkpoints) and get a ``CheckpointAnalysis`` holding the paper's measures
(moments, CMNI, MNS per unit), our statistics (rank tests, q-values, effect
sizes, unit classes), the controls, cross-decoding, ablations and circuit
tables.

``analyze_run`` analyses every checkpoint under a run folder and writes
``RUNDIR/analysis/checkpoints.parquet`` (one row per checkpoint) and
``RUNDIR/analysis/units.parquet`` (one row per unit per checkpoint). Progress
is saved in atomic part files every few checkpoints, so an interrupted run
resumes; a checkpoint already analysed with the same weights and the same
analysis settings (``AnalysisConfig.digest``, which includes ``TABLE_VERSION``)
is skipped. ``RUNDIR/analysis/baselines.json`` holds the baselines every
checkpoint is judged against (``analysis.competence``): the energy rule, the
label prior and the information ceiling, and the competence rule's constants.

Input 98 stays zero: the published pipeline fed the scenario code there at
inference (SPEC section 8); a test set with a non-zero input 98 is refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from mirror_neurons import atomic
from mirror_neurons.progress import Progress
from mirror_neurons.analysis import ablation as ablation_mod
from mirror_neurons import tables
from mirror_neurons.analysis import case
from mirror_neurons.analysis import paired
from mirror_neurons.analysis import competence
from mirror_neurons.analysis.activations import as_inputs, capture
from mirror_neurons.analysis.circuits import circuit_table
from mirror_neurons.analysis.cmni import CMNIResult, cmni_from_means, effect_size_cmni
from mirror_neurons.analysis.controls import (
    NullTest,
    bc_interval,
    both_indices,
    bootstrap_diffs,
    contrasts,
    lower_end_informative,
    min_draws,
    normal_bootstrap,
    normal_permutation_null,
    p_floor,
    permutation_diffs,
    random_init_indices,
)
from mirror_neurons.analysis.decoding import CrossDecoding, cross_decode
from mirror_neurons.analysis.groups import GROUPS, Groups, match_composition, scenario_groups, stratum_codes
from mirror_neurons.analysis.stats import (
    Moments,
    benjamini_hochberg,
    cell_moments,
    group_moments,
    kl_to_none,
    moments_from_cells,
)
from mirror_neurons.analysis.units import CLASSES, UnitTests, class_counts, classify, unit_tests
from mirror_neurons.data.dataset import Split, load_dataset
from mirror_neurons.distributed.executors import ProcessExecutor
from mirror_neurons.errors import AnalysisError, ConfigError, DataError
from mirror_neurons.game.constants import OWN_SCORE
from mirror_neurons.train.checkpoint import Checkpoint, iter_checkpoints, load_checkpoint, read_meta
from mirror_neurons.train.export import from_torch
from mirror_neurons.train.model import MLP

log = logging.getLogger(__name__)

TABLE_VERSION = 6
"""Version of the columns the analysis writes; part of ``AnalysisConfig.digest``.

Bump it whenever a table gains or changes columns: rows written before then
carry another digest, so a resumed analysis analyses their checkpoints again
instead of reusing rows without the new columns. 2: test recall per class,
macro recall, confusion matrix and competence (issue 12); 3: the input encoding;
4: composition-matched contrasts, the scale-free index's nulls and interval,
p-value floors and per-model q-values, decoding baselines, the recoded
random-init control (issue 13); 5: ablations on a fixed subsample of at most
``ablation_states`` test states, with its size in ``ablate.n_states``; 6: the chance test's ``p_chance``
and ``null_chance_mean`` (``chance_columns``), which the report computed before (issue 16).
"""
BASELINES_FILE = tables.BASELINES.file


@dataclass(frozen=True)
class AnalysisConfig:
    """Settings of an analysis; the defaults are the paper's measures plus our statistics and controls."""

    filtered: bool = True
    """Scenario groups with the published filters (see ``groups``); False: scenario codes alone."""
    matched: bool = True
    """Composition-matched contrasts (``groups.match_composition``); False: the paper's view, raw group means."""
    min_stratum_states: int = 20
    """States of none, frog and toad a stratum needs to enter the common support of the matching."""
    match_label: bool = True
    """Strata include the action label (16 strata); False: energy x Frog's band only (4). See docs/analysis.md:
    with the label, toad states at Frog's column >= 26 (labelled help *because* Toad is in distress) fall out."""
    exact_resampling: bool = False
    """Permute and resample states (slow); False: the same nulls in their normal limit (``controls``)."""
    hidden_only: bool = False
    """CMNI over hidden units only (the paper counts the output layer too)."""
    statistics: bool = True
    """Skewness, kurtosis and KL divergences per unit and group (off: means and variances only)."""
    significance: bool = True
    """Per-unit rank tests, q-values, effect sizes, unit classes, circuits."""
    alpha: float = 0.05
    """False discovery rate for unit classes (Benjamini-Hochberg)."""
    min_effect: float = 0.2
    """|Cohen's d| a contrast needs, besides q < alpha, to count as a response."""
    top_k: int = 3
    """Strongest inputs considered per unit (mixed units, circuit tables)."""
    z_min: float = 1.0
    """Weight z-score an input needs to count as strong."""
    kl_bins: int = 32
    """Histogram bins for the KL divergences."""
    controls: bool = True
    """Random-init and permutation nulls, bootstrap interval, cross-decoding, ablations."""
    n_random_init: int = 50
    """Untrained networks per architecture (shared by all its checkpoints; with the recoded control, twice)."""
    n_permutations: int = 200
    n_bootstrap: int = 200
    ci_level: float = 0.95
    n_decoding_permutations: int = 39
    """Label permutations of the cross-decoding probe (floor 1/40); each costs an AUROC over the test half."""
    n_decoding_untrained: int = 5
    """Untrained networks whose layers give the cross-decoding baseline (mean AUROC)."""
    n_ablation_draws: int = 30
    """Random unit sets per class in the ablation test (same count per layer as the class; floor 1/31)."""
    ablation_states: int = 20_000
    """Test states the ablations are measured on: all when the test set is no larger, otherwise a fixed random
    subsample drawn from ``seed`` alone (the same states for every checkpoint of a run, for the class and its
    random sets alike, so the p-value stays exact). Each draw is a forward pass over them; at 20,000 states a
    changed share has a standard error of at most 0.0036. 0: all states."""
    behaviour_games: int = 256
    """Seeded games per policy in which the case checkpoint plays Frog (``analysis.case``, the report's behaviour)."""
    behaviour_turns: int = 200
    """Turns per behaviour game."""
    seed: int = 0
    """Root seed; each checkpoint's draws come from (seed, checkpoint weights hash), an architecture's
    untrained networks from (seed, architecture)."""

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ConfigError(f"alpha must be in (0, 1), got {self.alpha}")
        if not 0 < self.ci_level < 1:
            raise ConfigError(f"ci_level must be in (0, 1), got {self.ci_level}")
        for name in (
            "n_random_init",
            "n_permutations",
            "n_bootstrap",
            "n_decoding_permutations",
            "n_ablation_draws",
            "ablation_states",
            "top_k",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 1 <= self.behaviour_games <= 1_000_000:
            raise ConfigError(f"behaviour_games = {self.behaviour_games} is out of range; allowed 1..1000000")
        if not 2 <= self.behaviour_turns <= 1_000_000:
            raise ConfigError(f"behaviour_turns = {self.behaviour_turns} is out of range; allowed 2..1000000")
        if self.kl_bins < 2:
            raise ConfigError(f"kl_bins must be >= 2, got {self.kl_bins}")
        if self.min_stratum_states < 2:
            raise ConfigError(f"min_stratum_states must be >= 2, got {self.min_stratum_states}")
        if self.controls:
            # every p-value a control gives must be able to fall below alpha: floor 1 / (1 + n) < alpha
            need = min_draws(self.alpha)
            for name in ("n_random_init", "n_permutations", "n_decoding_permutations", "n_ablation_draws"):
                n = getattr(self, name)
                if 0 < n < need:
                    raise ConfigError(
                        f"{name} = {n} gives a smallest p-value of 1/{n + 1} = {p_floor(n):.3g}, not below alpha "
                        f"{self.alpha}; use at least {need} (or 0 to skip that control)"
                    )

    def digest(self) -> str:
        """Hash of the settings and of ``TABLE_VERSION``: rows with another digest are analysed again."""
        settings = {**asdict(self), "table_version": TABLE_VERSION}
        return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class PreparedTest:
    """The test split reordered so every scenario group is contiguous, with its input tensor built once."""

    x: torch.Tensor  # (n, 100) float32
    label: np.ndarray  # (n,) action labels
    scenario: np.ndarray  # (n,)
    groups: Groups
    nulls: dict = field(default_factory=dict, compare=False, repr=False)
    """Untrained-network nulls measured on these states, by ``architecture_key`` (``cached_architecture_nulls``)."""


def prepare_test(
    split: Split,
    *,
    filtered: bool = True,
    matched: bool = True,
    min_stratum_states: int = 20,
    config: AnalysisConfig | None = None,
) -> PreparedTest:
    """The test split ordered by group (then stratum), composition-matched unless ``matched=False``.

    ``config`` (if given) sets ``filtered``, ``matched`` and ``min_stratum_states`` from an ``AnalysisConfig``.
    """
    match_label = True
    if config is not None:
        filtered, matched, min_stratum_states = config.filtered, config.matched, config.min_stratum_states
        match_label = config.match_label
    if len(split) == 0:
        raise DataError("the test split is empty; analysis needs test states")
    if np.any(split.x[:, OWN_SCORE] != 0):
        raise DataError(
            "input 98 (own score / scenario code) is non-zero in the test set; the model was trained with it at 0 "
            "(SPEC section 8: the published pipeline leaked the scenario there); regenerate the dataset"
        )
    groups = scenario_groups(split.x, split.scenario, filtered=filtered)
    if matched:
        groups.require("none", "frog", "toad")
        codes = stratum_codes(split.x, split.frog_pos, split.label, by_label=match_label)
        groups = match_composition(groups, codes, min_count=min_stratum_states, by_label=match_label)
    order = groups.order()
    return PreparedTest(as_inputs(split.x[order]), split.label[order], split.scenario[order], groups.take(order))


@dataclass(frozen=True)
class ArchitectureNulls:
    """What untrained networks of one architecture give on one test set: shared by all its checkpoints.

    Computed once per architecture and encoding (``architecture_nulls``); ``analyze_run`` caches it
    under ``RUNDIR/analysis/architectures/``.
    """

    key: str
    indices: np.ndarray  # (n_random_init, 2): raw CMNI and scale-free index of untrained networks, own encoding
    recoded: np.ndarray | None  # the same seeds with encoding "recoded" (for raw-encoding models; else None)
    decoding: dict[str, tuple[float, float]]  # hidden layer -> mean untrained (frog_to_toad, toad_to_frog) AUROC
    decoding_input: tuple[float, float]  # the probe on the raw 100-integer input

    def as_arrays(self) -> dict[str, np.ndarray]:
        out = {"indices": self.indices, "decoding_input": np.array(self.decoding_input)}
        if self.recoded is not None:
            out["recoded"] = self.recoded
        out.update({f"decoding.{k}": np.array(v) for k, v in self.decoding.items()})
        return out

    @classmethod
    def from_arrays(cls, key: str, arrays: dict[str, np.ndarray]) -> ArchitectureNulls:
        decoding = {
            k.split(".", 1)[1]: tuple(float(x) for x in v) for k, v in arrays.items() if k.startswith("decoding.")
        }
        return cls(
            key, arrays["indices"], arrays.get("recoded"), decoding, tuple(float(x) for x in arrays["decoding_input"])
        )


def architecture_key(model_config, config: AnalysisConfig) -> str:
    """What an architecture's untrained networks depend on: its shape, activation, encoding and the analysis settings."""
    arch = {k: v for k, v in asdict(model_config).items() if k != "dropout"}  # dropout is off at inference
    settings = {k: getattr(config, k) for k in ("seed", "n_random_init", "n_decoding_untrained", "hidden_only", "filtered",
                                                "matched", "min_stratum_states", "match_label")}  # fmt: skip
    blob = json.dumps(
        {"arch": arch, "settings": settings, "table_version": TABLE_VERSION}, sort_keys=True, default=list
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def architecture_nulls(model_config, test: PreparedTest, config: AnalysisConfig) -> ArchitectureNulls:
    """Untrained networks of ``model_config``: the random-init null (raw and recoded) and the decoding baselines.

    Seeds come from (config.seed, the architecture's shape), so every checkpoint of an architecture meets
    the same null and the recoded control uses the very same initial weights (recoding keeps the input width).
    """
    shape = json.dumps([list(model_config.hidden), model_config.activation])
    ss = np.random.SeedSequence([config.seed, int(hashlib.sha256(shape.encode()).hexdigest()[:15], 16)])
    s_init, s_dec = ss.spawn(2)
    seeds = s_init.generate_state(max(config.n_random_init, config.n_decoding_untrained), dtype=np.uint32)
    hidden_only = config.hidden_only
    indices = random_init_indices(
        model_config, test.x, test.groups, seeds[: config.n_random_init], hidden_only=hidden_only
    )
    recoded = None
    if model_config.encoding == "raw" and config.n_random_init:
        recoded = random_init_indices(
            replace(model_config, encoding="recoded"),
            test.x,
            test.groups,
            seeds[: config.n_random_init],
            hidden_only=hidden_only,
        )
    rng = np.random.default_rng(s_dec)
    model = MLP(model_config)
    per_layer: dict[str, list[tuple[float, float]]] = {}
    decoding_input = (float("nan"), float("nan"))
    try:
        for s in seeds[: config.n_decoding_untrained]:
            model.reset_parameters(torch.Generator().manual_seed(int(s)))
            acts = capture(model, test.x)
            for name in list(acts)[:-1]:
                d = cross_decode(acts[name], test.groups, rng, n_permutations=0)
                per_layer.setdefault(name, []).append((d.frog_to_toad, d.toad_to_frog))
        d = cross_decode(test.x.numpy(), test.groups, rng, n_permutations=0)
        decoding_input = (d.frog_to_toad, d.toad_to_frog)
    except AnalysisError as e:  # too few states to decode: the checkpoint's own decoding is skipped too, with a warning
        warnings.warn(f"cross-decoding baselines skipped: {e}", stacklevel=2)
        per_layer = {}
    decoding = {k: tuple(float(x) for x in np.mean(v, axis=0)) for k, v in per_layer.items()}
    return ArchitectureNulls(architecture_key(model_config, config), indices, recoded, decoding, decoding_input)


@dataclass(frozen=True)
class Controls:
    """The nulls and intervals of one checkpoint: raw CMNI (the paper's) and the scale-free index side by side."""

    random_init: NullTest | None
    permutation: NullTest | None
    bootstrap: np.ndarray  # (n_bootstrap,) CMNI values
    ci: tuple[float, float]  # bias-corrected percentile interval of the raw CMNI (``controls.bc_interval``)
    random_init_effect_size: NullTest | None = None
    permutation_effect_size: NullTest | None = None
    random_init_recoded: NullTest | None = None  # the trained index against untrained *recoded* networks
    random_init_recoded_effect_size: NullTest | None = None
    bootstrap_effect_size: np.ndarray | None = None
    ci_effect_size: tuple[float, float] = (float("nan"), float("nan"))
    ci_low_informative: bool = False
    ci_effect_size_low_informative: bool = False
    architecture: ArchitectureNulls | None = None


@dataclass
class CheckpointAnalysis:
    """Everything measured on one checkpoint; ``row()`` and ``unit_columns()`` flatten it for tables."""

    meta: dict
    path: str
    accuracy: float
    layers: tuple[str, ...]
    widths: tuple[int, ...]
    group_counts: dict[str, int]
    cmni: CMNIResult
    cmni_all: CMNIResult  # all units, whatever hidden_only says (for the units table)
    cmni_d: CMNIResult
    moments: Moments
    kl: dict[str, np.ndarray]
    tests: UnitTests | None = None
    classes: np.ndarray | None = None
    mixed_inputs: np.ndarray | None = None
    circuits: list[dict] | None = None
    controls: Controls | None = None
    decoding: dict[str, CrossDecoding] | None = None
    ablation: dict[str, ablation_mod.AblationResult] | None = None
    ablation_states: int = 0  # test states the ablations were measured on (``AnalysisConfig.ablation_states``)
    config: AnalysisConfig = field(default_factory=AnalysisConfig)
    composition: object | None = None
    """``groups.Composition`` of the matched groups (None: the paper's view)."""
    scores: competence.Scores | None = None
    """The output layer's argmax against the test labels: confusion matrix, recalls, accuracy."""
    competent: bool | None = None
    """``competence.COMPETENCE_RULE`` against the energy rule on the same test states."""

    def row(self) -> dict:
        r: dict = {
            "test_accuracy": self.accuracy,
            "cmni_effect_size": self.cmni_d.cmni,  # the primary index; raw CMNI beside it for the paper
            "cmni": self.cmni.cmni,
            "mne": self.cmni.mne,
            "n_units": self.cmni.n_units,
            **{f"n_{g}_states": c for g, c in self.group_counts.items()},
            "matched": self.composition is not None,
        }
        if self.composition is not None:
            r["n_strata"] = len(self.composition.codes)
            r.update({f"matched_share_{g}": float(k) for g, k in zip(GROUPS, self.composition.kept)})
        if self.scores is not None:
            r.update(self.scores.columns())
            r[competence.COMPETENT_COLUMN] = self.competent
        for name, v in self.cmni.per_layer().items():
            r[f"cmni.{name}"] = v["cmni"]
        if self.classes is not None:
            r.update({f"n_{c.replace('-', '_')}": n for c, n in class_counts(self.classes).items()})
        if self.controls is not None:
            r.update(self._control_columns(self.controls))
        arch = self.controls.architecture if self.controls is not None else None
        if arch is not None and self.decoding:
            r["decode.input.frog_to_toad"], r["decode.input.toad_to_frog"] = arch.decoding_input
        for layer, d in (self.decoding or {}).items():
            r[f"decode.{layer}.frog_to_toad"] = d.frog_to_toad
            r[f"decode.{layer}.p_frog_to_toad"] = d.p_frog_to_toad
            r[f"decode.{layer}.toad_to_frog"] = d.toad_to_frog
            r[f"decode.{layer}.p_toad_to_frog"] = d.p_toad_to_frog
            r["decode.p_floor"] = d.p_floor
            if arch is not None and layer in arch.decoding:
                r[f"decode.{layer}.untrained_frog_to_toad"], r[f"decode.{layer}.untrained_toad_to_frog"] = (
                    arch.decoding[layer]
                )
        if self.ablation:
            r["ablate.p_floor"] = p_floor(self.config.n_ablation_draws)
            r["ablate.n_states"] = self.ablation_states
        for cls, a in (self.ablation or {}).items():
            key = cls.replace("-", "_")
            r[f"ablate.{key}.changed"] = a.changed
            r[f"ablate.{key}.p"] = a.p_value
            for s, v in a.changed_by_scenario.items():
                r[f"ablate.{key}.changed_{s}"] = v
        return r

    @staticmethod
    def _control_columns(c: Controls) -> dict:
        """Per null: p, its floor 1 / (1 + draws), the null's mean (and 95th percentile for untrained networks)."""
        r: dict = {}
        for name, raw, scaled in (("random_init", c.random_init, c.random_init_effect_size),
                                  ("permutation", c.permutation, c.permutation_effect_size),
                                  ("random_init_recoded", c.random_init_recoded, c.random_init_recoded_effect_size)):  # fmt: skip
            if raw is None and name == "random_init_recoded":
                continue
            r[f"p_{name}_effect_size"] = scaled.p_value if scaled else None
            r[f"p_{name}"] = raw.p_value if raw else None
            r[f"p_{name}_floor"] = raw.p_value_floor if raw else None
            r[f"null_{name}_effect_size_mean"] = float(scaled.null.mean()) if scaled else None
            r[f"null_{name}_mean"] = float(raw.null.mean()) if raw else None
            if name != "permutation":
                r[f"null_{name}_effect_size_q95"] = float(np.quantile(scaled.null, 0.95)) if scaled else None
                r[f"null_{name}_q95"] = float(np.quantile(raw.null, 0.95)) if raw else None
        r["cmni_effect_size_ci_low"], r["cmni_effect_size_ci_high"] = c.ci_effect_size
        r["cmni_effect_size_ci_low_informative"] = c.ci_effect_size_low_informative
        r["cmni_ci_low"], r["cmni_ci_high"] = c.ci
        r["cmni_ci_low_informative"] = c.ci_low_informative
        return r

    def unit_columns(self) -> dict[str, np.ndarray]:
        layer = np.repeat(np.array(self.layers, dtype=object), self.widths)
        cols: dict[str, np.ndarray] = {
            "layer": layer,
            "unit": np.concatenate([np.arange(w) for w in self.widths]),
            "dfrog": self.cmni_all.dfrog,
            "dtoad": self.cmni_all.dtoad,
            "mns": self.cmni_all.mns,
        }
        stats = ("mean", "var", "skew", "kurt") if self.config.statistics else ("mean", "var")
        for i, g in enumerate(GROUPS):
            for stat in stats:
                cols[f"{stat}_{g}"] = getattr(self.moments, stat)[i]
        for pair, v in self.kl.items():
            cols[f"kl_{pair}"] = v
        if self.tests is not None:
            cols.update(self.tests.columns())
            cols["class"] = self.classes.astype(str)
            cols["mixed_inputs"] = self.mixed_inputs
        return cols


def ablation_rows(n: int, config: AnalysisConfig) -> np.ndarray:
    """Sorted indices of the test states the ablations use: all ``n``, or ``config.ablation_states`` of them drawn
    from ``config.seed`` alone, so every checkpoint analysed on this test set is ablated on the same states."""
    if not config.ablation_states or n <= config.ablation_states:
        return np.arange(n)
    return np.sort(
        np.random.default_rng([config.seed, ABLATION_STREAM]).choice(n, config.ablation_states, replace=False)
    )


ABLATION_STREAM = 0xAB1A7E
"""Second word of the ablation subsample's seed, apart from every checkpoint's stream (``_rng_for``)."""


def _rng_for(meta: dict, config: AnalysisConfig) -> np.random.SeedSequence:
    key = str(meta.get("weights_sha256", "")) or json.dumps(meta, sort_keys=True, default=str)
    return np.random.SeedSequence([config.seed, int(hashlib.sha256(key.encode()).hexdigest()[:15], 16)])


def as_checkpoint(source: Checkpoint | torch.nn.Module) -> Checkpoint:
    """What ``analyze_checkpoint`` reads: a ``Checkpoint`` as it is; this package's ``MLP``, or a plain
    ``nn.Sequential`` of Linear layers with one activation type and four outputs (hop, jump, leap, help),
    turned into one by ``train.export.from_torch``, wrapped with metadata that names its weights' hash.
    ``AnalysisError`` (one line) for anything else, saying what is needed."""
    if isinstance(source, Checkpoint):
        return source
    if isinstance(source, MLP):
        model = source
    elif isinstance(source, torch.nn.Sequential):
        try:
            model = from_torch(source)
        except ConfigError as e:
            raise AnalysisError(f"analyze_checkpoint cannot read this nn.Sequential: {e}") from e
    else:
        raise AnalysisError(
            f"analyze_checkpoint needs a Checkpoint (train.checkpoint.load_checkpoint), an MLP, or an nn.Sequential of "
            f"Linear layers with one activation type and 4 outputs (hop, jump, leap, help; see train.export.from_torch), "
            f"got {type(source).__name__}"
        )
    from safetensors.torch import save

    digest = hashlib.sha256(save({k: v.detach().contiguous() for k, v in model.state_dict().items()})).hexdigest()
    return Checkpoint(
        path=Path(f"<in-memory {type(source).__name__}>"),
        model=model,
        meta={"model": model.config.to_dict(), "weights_sha256": digest},
    )


def analyze_checkpoint(
    checkpoint: Checkpoint | torch.nn.Module,
    test: Split | PreparedTest,
    config: AnalysisConfig = AnalysisConfig(),
    *,
    nulls: ArchitectureNulls | None = None,
) -> CheckpointAnalysis:
    """All measures of one checkpoint on the test states (see the module docstring).

    ``checkpoint``: a loaded ``Checkpoint``, or a model in memory: this package's ``MLP`` or a plain
    ``nn.Sequential`` of Linear layers and one activation type (``as_checkpoint``).
    ``nulls``: the untrained networks of this checkpoint's architecture (``architecture_nulls``); if not
    given, computed once per architecture and kept on the ``PreparedTest`` (``test.nulls``), so pass the
    same prepared test for every checkpoint (a ``Split`` is prepared afresh on each call).
    """
    checkpoint = as_checkpoint(checkpoint)
    if isinstance(test, Split):
        test = prepare_test(test, config=config)
    same_strata = not config.matched or test.groups.composition.by_label == config.match_label
    if test.groups.matched != config.matched or not same_strata:
        raise AnalysisError(
            f"the test states were prepared with matched={test.groups.matched} (strata by label: "
            f"{test.groups.composition.by_label if test.groups.matched else '-'}) but the config says matched={config.matched}, "
            f"match_label={config.match_label}; "
            f"prepare them with prepare_test(split, config=config)"
        )
    groups = test.groups
    model = checkpoint.model
    groups.require(*GROUPS)
    acts = capture(model, test.x)
    layers = tuple(acts)
    widths = tuple(a.shape[1] for a in acts.values())
    scores = competence.score(acts[layers[-1]].argmax(axis=1), test.label)
    energy = competence.score(competence.energy_rule(test.x.numpy()), test.label)
    accuracy = scores.accuracy
    # (n, units), layers side by side; only the statistics beyond means and variances need it (and the matching)
    need_a = config.statistics or config.significance or config.controls or groups.matched
    a = np.concatenate(list(acts.values()), axis=1) if need_a else None
    cells = None
    if groups.matched:  # one pass over the cells serves the moments, the unit tests and the controls
        cells = cell_moments(a, groups, higher=config.statistics, cov=config.controls and not config.exact_resampling)
        moments = moments_from_cells(cells)
    else:
        per_layer = [group_moments(x, groups, higher=config.statistics) for x in acts.values()]
        moments = Moments(
            per_layer[0].count,
            *(np.concatenate([getattr(m, k) for m in per_layer], axis=1) for k in ("mean", "var", "skew", "kurt")),
        )
    cmni_all = cmni_from_means(moments.mean, layers, widths)
    cmni = cmni_from_means(moments.mean, layers, widths, hidden_only=config.hidden_only)
    cmni_d = effect_size_cmni(moments, layers, widths, hidden_only=config.hidden_only)
    kl = kl_to_none(a, groups, bins=config.kl_bins) if config.statistics else {}
    result = CheckpointAnalysis(
        meta=checkpoint.meta, path=str(checkpoint.path), accuracy=accuracy, layers=layers, widths=widths,
        group_counts=groups.counts(), cmni=cmni, cmni_all=cmni_all, cmni_d=cmni_d, moments=moments, kl=kl, config=config,
        scores=scores, competent=competence.is_competent(scores, energy), composition=groups.composition,
    )  # fmt: skip
    if config.significance:
        result.tests = unit_tests(a, groups, cells)
        result.classes, result.mixed_inputs = classify(
            model,
            result.tests,
            alpha=config.alpha,
            min_effect=config.min_effect,
            top_k=config.top_k,
            z_min=config.z_min,
        )
        result.circuits = circuit_table(model, result.classes, top_k=config.top_k, z_min=config.z_min)
    if config.controls:
        ss = _rng_for(checkpoint.meta, config)
        _, s_perm, s_boot, s_dec, s_abl = ss.spawn(5)
        if nulls is None and (config.n_random_init or config.n_decoding_untrained):
            nulls = cached_architecture_nulls(
                model.config, test, config, None
            )  # once per architecture per PreparedTest
        result.controls = _index_controls(
            a, sum(cmni.widths), groups, (cmni.cmni, cmni_d.cmni), nulls, config, s_perm, s_boot, cells
        )
        rng = np.random.default_rng(s_dec)
        try:
            result.decoding = {
                name: cross_decode(acts[name], groups, rng, n_permutations=config.n_decoding_permutations)
                for name in layers[:-1]
            }
        except AnalysisError as e:  # too few states for a train and a test half: no decoding columns, said aloud
            warnings.warn(f"cross-decoding skipped for {checkpoint.path}: {e}", stacklevel=2)
            result.decoding = None
        if result.classes is not None:
            rng = np.random.default_rng(s_abl)
            rows = ablation_rows(len(test.label), config)
            sub = {name: acts[name][rows] for name in layers}
            base = sub[layers[-1]].argmax(axis=1)
            result.ablation_states = len(base)
            result.ablation = {
                cls: ablation_mod.ablate_class(
                    model,
                    test.x[rows],
                    test.scenario[rows],
                    result.classes == cls,
                    rng,
                    n_draws=config.n_ablation_draws,
                    baseline=base,
                    acts=sub,
                )
                for cls in ("mirror", "anti-mirror", "differentiating", "mixed")
                if np.any(result.classes[: sum(widths[:-1])] == cls)
            }
    return result


def _index_controls(
    a: np.ndarray,
    n_counted: int,
    groups: Groups,
    observed: tuple[float, float],
    nulls: ArchitectureNulls | None,
    config: AnalysisConfig,
    s_perm: np.random.SeedSequence,
    s_boot: np.random.SeedSequence,
    cells=None,
) -> Controls:
    """Random-init, recoded and permutation nulls and the bootstrap interval of both indices (``controls``).

    ``a`` (n, units) all units; the indices count the first ``n_counted``. ``cells``: ``a``'s cell moments
    with covariances, if at hand.
    """
    counted = a[:, :n_counted]
    if config.exact_resampling:
        c = contrasts(cell_moments(counted, groups))
        perm = both_indices(
            *permutation_diffs(counted, groups, config.n_permutations, np.random.default_rng(s_perm)).transpose(
                1, 0, 2
            ),
            c,
        )
        boot = both_indices(
            *bootstrap_diffs(counted, groups, config.n_bootstrap, np.random.default_rng(s_boot)).transpose(1, 0, 2), c
        )
    else:
        cm = cells if cells is not None and cells.cov is not None else cell_moments(counted, groups, cov=True)
        perm = normal_permutation_null(cm, config.n_permutations, np.random.default_rng(s_perm), n_counted)
        boot = normal_bootstrap(cm, config.n_bootstrap, np.random.default_rng(s_boot), n_counted)

    def tests(null: np.ndarray | None) -> tuple[NullTest | None, NullTest | None]:
        if null is None or len(null) == 0:
            return None, None
        return NullTest(observed[0], null[:, 0]), NullTest(observed[1], null[:, 1])

    ri, ri_d = tests(nulls.indices if nulls is not None else None)
    rec, rec_d = tests(nulls.recoded if nulls is not None else None)
    perm_raw, perm_d = tests(perm)
    nan2 = (float("nan"), float("nan"))
    ci = bc_interval(boot[:, 0], observed[0], config.ci_level) if len(boot) else nan2
    ci_d = bc_interval(boot[:, 1], observed[1], config.ci_level) if len(boot) else nan2
    informative = [len(boot) > 0 and lower_end_informative(boot[:, k], observed[k], config.ci_level) for k in (0, 1)]
    return Controls(ri, perm_raw, boot[:, 0], ci, ri_d, perm_d, rec, rec_d, boot[:, 1], ci_d, *informative, nulls)


# -- a whole run -----------------------------------------------------------------


def recorded_data_dir(run_dir: Path, metas: list[dict]) -> Path | None:
    """The dataset folder a run recorded: its first checkpoint's ``data_dir`` (checkpoints stamped with the states
    they are analysed on: the RL experiment's), else ``run.json``'s ``dataset_path`` (train, sweep); None if neither.
    Both names are declared in ``tables`` (``CHECKPOINT_META``, ``RUN``); a relative path is read from ``run_dir``."""
    recorded = metas[0].get("data_dir") if metas else None
    path = run_dir / tables.RUN.file
    if not recorded and path.is_file():
        recorded = atomic.read_json_object(path, DataError, "pass --data DIR").get(tables.RUN["dataset_path"].name)
    if not isinstance(recorded, str) or not recorded:
        return None
    p = Path(recorded)
    return p if p.is_absolute() else (run_dir / p if (run_dir / p).exists() else p)


def _flatten(meta: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in meta.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, f"{key}."))
        elif isinstance(v, (list, tuple)):
            out[key] = json.dumps(v)
        elif v is None or isinstance(v, (bool, int, float, str)):
            out[key] = v
        else:
            out[key] = str(v)
    return out


def _table(rows: list[dict]) -> pa.Table:
    keys: list[str] = []
    for r in rows:
        keys.extend(k for k in r if k not in keys)
    cols = {}
    for k in keys:
        vals = [r.get(k) for r in rows]
        try:
            cols[k] = pa.array(vals)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            cols[k] = pa.array([None if v is None else str(v) for v in vals])
    return pa.table(cols)


def _write_parquet(path: Path, table: pa.Table) -> None:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    atomic.write_bytes(path, sink.getvalue().to_pybytes())


def read_parquet(path: Path) -> pa.Table:
    """A table the analysis wrote; ``AnalysisError`` naming it if it is truncated or not Parquet at all."""
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        reason = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
        raise AnalysisError(f"{path} is damaged ({reason}); remove it and run `mirror-neurons analyze` again") from None


def _read_tables(paths: list[Path]) -> pa.Table | None:
    found = [read_parquet(p) for p in paths if p.is_file()]
    if not found:
        return None
    return pa.concat_tables(found, promote_options="permissive")


def _model_id(path: Path, run_dir: Path, meta: dict) -> str:
    mid = meta.get("model_id")
    if isinstance(mid, str) and mid:
        return mid
    rel = path.parent.relative_to(run_dir)
    return str(rel) if str(rel) != "." else path.stem


def analyze_run(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    config: AnalysisConfig = AnalysisConfig(),
    *,
    allow_other_data: bool = False,
    mixed_encodings: bool = False,
    part_every: int = 25,
    workers: int = 1,
    threads: int = 1,
    progress: Progress | None = None,
) -> Path:
    """Analyse every checkpoint of a run or sweep; write RUNDIR/analysis/{checkpoints,units}.parquet. Returns the folder.

    Checkpoints of several input encodings (``ModelConfig.encoding``) are refused unless
    ``mixed_encodings``: each is measured in its own encoding, but a CMNI or unit count
    of a one-hot network and of a raw one are not the same measurement, so the caller
    must say it means to put them in one table (the ``encoding`` column tells them apart).

    ``workers`` > 1 analyses checkpoints in that many processes; ``threads`` is the torch threads of
    each (default 1: small models gain nothing from more, and a busy machine loses); results and
    files are the same. Untrained-network nulls are computed once per architecture and cached in
    ``RUNDIR/analysis/architectures/KEY.npz`` (``architecture_nulls``). ``progress(done, n, name)``
    is called after each checkpoint (n = checkpoints left to analyse; ``mirror_neurons.progress``).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise AnalysisError(
            f"run folder {run_dir} does not exist; pass the --out folder of `mirror-neurons train/sweep`"
        )
    out = run_dir / "analysis"
    paths = [p for p in iter_checkpoints(run_dir) if out not in p.parents]
    if not paths:
        raise AnalysisError(f"no checkpoints (STEM.json + STEM.safetensors) under {run_dir}")
    metas = {path: read_meta(path) for path in paths}
    encodings = sorted({str((m.get("model") or {}).get("encoding", "raw")) for m in metas.values()})
    if len(encodings) > 1 and not mixed_encodings:
        raise AnalysisError(
            f"{run_dir} holds checkpoints of several input encodings ({', '.join(encodings)}); pass --mixed-encodings "
            f"to analyse them in one table (each in its own encoding; compare measures within an encoding)"
        )
    if data_dir is None:
        data_dir = recorded_data_dir(run_dir, [read_meta(paths[0])])
        if data_dir is None:
            raise DataError(f"{run_dir} does not record its dataset folder; pass --data DIR")
    dataset = load_dataset(data_dir)  # every split: the information ceiling looks up each test input among all rows
    test = prepare_test(dataset.test, config=config)
    digest = config.digest()

    parts = out / "parts"
    final_ck, final_units = out / tables.CHECKPOINTS.file, out / tables.UNITS.file
    existing_ck = _read_tables([final_ck, *sorted(parts.glob("*.checkpoints.parquet"))])
    done = set()
    if existing_ck is not None and {"checkpoint", "weights_sha256", "analysis_config"} <= set(existing_ck.column_names):
        d = existing_ck.select(["checkpoint", "weights_sha256", "analysis_config"]).to_pylist()
        done = {(r["checkpoint"], r["weights_sha256"], r["analysis_config"]) for r in d}
    n_parts = len(list(parts.glob("*.checkpoints.parquet")))

    rows: list[dict] = []
    unit_parts: list[dict[str, np.ndarray]] = []

    def flush() -> None:
        nonlocal n_parts, rows, unit_parts
        if not rows:
            return
        stem = parts / f"{n_parts:06d}-{time.time_ns()}"
        units = {k: np.concatenate([u[k] for u in unit_parts]) for k in unit_parts[0]} if unit_parts else {}
        _write_parquet(Path(f"{stem}.units.parquet"), _unit_table(units, unit_parts))
        _write_parquet(Path(f"{stem}.checkpoints.parquet"), _table(rows))  # written last: marks the part complete
        n_parts += 1
        rows, unit_parts = [], []

    todo = []
    for path in paths:
        rel = str(path.relative_to(run_dir))
        meta = metas[path]
        if (rel, meta.get("weights_sha256"), digest) in done:
            continue
        ck_hash = meta.get("dataset_hash")
        if ck_hash != dataset.hash:  # a checkpoint that records no hash is no proof of its data either
            trained = (
                f"was trained on dataset {str(ck_hash)[:12]}" if ck_hash is not None else "records no dataset hash"
            )
            msg = f"checkpoint {rel} {trained} but {data_dir} is {dataset.hash[:12]}"
            if not allow_other_data:
                raise DataError(f"{msg}; pass the run's own --data, or --allow-other-data to analyse anyway")
            warnings.warn(f"{msg}; analysed anyway (--allow-other-data)", stacklevel=2)
        todo.append(path)
    # written once every checkpoint is known to fit this dataset: a refused run leaves nothing behind
    baselines_file = out / BASELINES_FILE
    atomic.write_json(baselines_file, tables.BASELINES.writing(run_baselines(dataset).as_dict(), baselines_file))

    def collect(i: int, path: Path, result: tuple[dict, dict]) -> None:
        rows.append(result[0])
        unit_parts.append(result[1])
        if progress is not None:
            progress(i + 1, len(todo), path.stem)
        if len(rows) >= part_every:
            flush()

    nulls_dir = out / ARCHITECTURES_DIR
    if workers <= 1 or len(todo) < 2:
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for i, path in enumerate(todo):
                collect(i, path, _analyze_path(path, run_dir, test, config, dataset.hash, digest, nulls_dir))
        finally:
            torch.set_num_threads(before)
    else:  # chunks of checkpoints as tasks of the stages' one process pool; rows kept in checkpoint order
        k = max(1, -(-len(todo) // (4 * workers)))  # about four chunks per worker: even loads, few set-ups
        chunks = [todo[i : i + k] for i in range(0, len(todo), k)]
        args = [
            (
                [str(p) for p in chunk],
                str(run_dir),
                str(data_dir),
                asdict(config),
                threads,
                dataset.hash,
                digest,
                str(nulls_dir),
            )
            for chunk in chunks
        ]
        ready: dict[int, list] = {}
        done = [0, 0]  # chunks collected, checkpoints collected

        def on_result(j: int, results: list) -> None:
            ready[j] = results
            while done[0] in ready:
                for path, result in zip(chunks[done[0]], ready.pop(done[0])):
                    collect(done[1], path, result)
                    done[1] += 1
                done[0] += 1

        ProcessExecutor(workers, preload=(__name__,)).map(_analyze_chunk, args, on_result=on_result)
    flush()
    _merge(out, final_ck, final_units, parts)
    paired.write_paired(out, seed=config.seed)  # model level: each model against its own initialisation

    def measure(rel: str) -> tuple[CheckpointAnalysis, MLP]:
        ck = load_checkpoint(run_dir / rel)
        nulls = (
            cached_architecture_nulls(ck.model.config, test, config, nulls_dir, dataset.hash)
            if config.controls
            else None
        )
        with warnings.catch_warnings():  # said once already, while the table was made
            warnings.simplefilter("ignore")
            return analyze_checkpoint(ck, test, config, nulls=nulls), ck.model

    case.write_case(
        out, measure, test, seed=config.seed, games=config.behaviour_games, turns=config.behaviour_turns
    )  # the report's case example, measured here
    record = {**asdict(config), "digest": digest, "data_dir": str(data_dir), tables.ANALYSED_DATASET_HASH: dataset.hash}
    config_file = out / tables.ANALYSIS_CONFIG.file
    atomic.write_json(config_file, tables.ANALYSIS_CONFIG.writing(record, config_file))
    return out


def run_baselines(dataset) -> competence.Baselines:
    """The baselines of ``analysis.competence`` on a dataset's test split (prior from train, ceiling from all rows)."""
    splits = (dataset.train, dataset.val, dataset.test)
    return competence.baselines(
        dataset.test.x, dataset.test.label, dataset.train.label,
        np.concatenate([s.x for s in splits]), np.concatenate([s.label for s in splits]), dataset.val.x, dataset.val.label,
    )  # fmt: skip


def _analyze_path(
    path: Path,
    run_dir: Path,
    test: PreparedTest,
    config: AnalysisConfig,
    data_hash: str,
    digest: str,
    nulls_dir: Path | None = None,
) -> tuple[dict, dict]:
    """One checkpoint -> (its row of checkpoints.parquet, its columns of units.parquet)."""
    rel = str(path.relative_to(run_dir))
    meta = read_meta(path)
    ck = load_checkpoint(path)
    nulls = cached_architecture_nulls(ck.model.config, test, config, nulls_dir, data_hash) if config.controls else None
    res = analyze_checkpoint(ck, test, config, nulls=nulls)
    model_id = _model_id(path, run_dir, meta)
    row = {"checkpoint": rel, "model_id": model_id, "epoch": meta.get("epoch"), "val_loss": meta.get("val_loss")}
    row["hidden"] = json.dumps(list(ck.model.config.hidden))
    row["n_layers"] = len(ck.model.config.hidden)
    row["encoding"] = ck.model.config.encoding
    row.update(res.row())
    row.update(chance_columns(row))
    for k, v in _flatten({k: v for k, v in meta.items() if k not in ("model", "weights_file")}).items():
        row[k if k not in row else f"meta.{k}"] = v
    row["weights_sha256"] = meta.get("weights_sha256")
    row["analysis_config"] = digest
    row[tables.ANALYSED_DATASET_HASH] = data_hash
    cols = res.unit_columns()
    n = len(cols["unit"])
    epoch = meta.get("epoch")
    units = {"checkpoint": np.full(n, rel, dtype=object), "model_id": np.full(n, model_id, dtype=object),
             "epoch": np.full(n, -1 if epoch is None else epoch), **cols}  # fmt: skip
    return row, units


_WORKER: dict = {}
"""A worker process's prepared test states and settings, kept between its tasks (``_analyze_chunk``)."""


def _analyze_chunk(
    paths: list[str],
    run_dir: str,
    data_dir: str,
    config: dict,
    threads: int,
    data_hash: str,
    digest: str,
    nulls_dir: str,
) -> list[tuple[dict, dict]]:
    """A worker's task (``distributed.executors.ProcessExecutor``): ``_analyze_path`` of each of ``paths``.

    The test split is loaded and prepared once per worker process and data folder, not once per task;
    ``config``: ``asdict(AnalysisConfig)``.
    """
    key = (data_dir, json.dumps(config, sort_keys=True))
    if _WORKER.get("key") != key:
        settings = AnalysisConfig(**config)
        dataset = load_dataset(data_dir, splits=("test",))
        with warnings.catch_warnings():  # the driver has already warned about dropped strata
            warnings.simplefilter("ignore")
            _WORKER.update(key=key, test=prepare_test(dataset.test, config=settings), config=settings)
    torch.set_num_threads(threads)  # this process's own setting: workers share the cores
    return [
        _analyze_path(Path(p), Path(run_dir), _WORKER["test"], _WORKER["config"], data_hash, digest, Path(nulls_dir))
        for p in paths
    ]


ARCHITECTURES_DIR = "architectures"


def cached_architecture_nulls(
    model_config, test: PreparedTest, config: AnalysisConfig, folder: Path | None, data_hash: str = ""
) -> ArchitectureNulls:
    """``architecture_nulls``, computed once per architecture: from ``test.nulls``, else ``folder/KEY-DATA.npz``.

    The key covers the architecture and the settings (``architecture_key``), the file name the dataset
    hash, and the file records the number of test states: a file from another test set is recomputed,
    never reused. Concurrent workers may both compute one; the write is atomic.
    """
    import io

    key = architecture_key(model_config, config)
    if key in test.nulls:
        return test.nulls[key]
    path = None if folder is None else folder / f"{key}-{data_hash[:12]}.npz"
    if path is not None and path.is_file():
        try:
            with np.load(path) as z:
                arrays = {k: z[k] for k in z.files}
            if int(arrays.pop("n_states", -1)) == test.groups.n:
                test.nulls[key] = ArchitectureNulls.from_arrays(key, arrays)
                return test.nulls[key]
        except (OSError, ValueError, KeyError):
            pass  # damaged or foreign: computed again below
    nulls = architecture_nulls(model_config, test, config)
    if path is not None:
        buf = io.BytesIO()
        np.savez(buf, n_states=np.array(test.groups.n), **nulls.as_arrays())
        atomic.write_bytes(path, buf.getvalue())
    test.nulls[key] = nulls
    return nulls


CHANCE_P = "p_chance"
CHANCE_NULL_MEAN = "null_chance_mean"


def chance_columns(row: dict) -> dict:
    """The chance test of a checkpoint's row with controls: ``CHANCE_P``, the larger of ``p_random_init`` and
    ``p_permutation``, since beating chance needs both controls (an intersection-union test), and
    ``CHANCE_NULL_MEAN``, the larger of the two nulls' means. A control that did not run is left out (None);
    a row without controls gets neither column."""
    if "p_random_init" not in row and "p_permutation" not in row:
        return {}

    def larger(*keys: str) -> float | None:
        v = np.fmax(*(np.nan if row.get(k) is None else float(row[k]) for k in keys))
        return None if np.isnan(v) else float(v)

    return {
        CHANCE_P: larger("p_random_init", "p_permutation"),
        CHANCE_NULL_MEAN: larger("null_random_init_mean", "null_permutation_mean"),
    }


def _unit_table(units: dict[str, np.ndarray], unit_parts: list[dict]) -> pa.Table:
    # Columns absent from some checkpoints (significance off) are filled with nulls.
    keys: list[str] = []
    for u in unit_parts:
        keys.extend(k for k in u if k not in keys)
    cols = {}
    for k in keys:
        pieces = [u[k] if k in u else np.full(len(u["unit"]), None, dtype=object) for u in unit_parts]
        arr = np.concatenate(pieces)
        cols[k] = pa.array(arr.tolist() if arr.dtype == object else arr)
    return pa.table(cols)


def _merge(out: Path, final_ck: Path, final_units: Path, parts: Path) -> None:
    """Fold the part files into the two final tables, keeping the newest analysis of each checkpoint."""
    ck_parts = sorted(parts.glob("*.checkpoints.parquet"))
    if not ck_parts and final_ck.is_file():
        return
    unit_parts = [Path(str(p).replace(".checkpoints.parquet", ".units.parquet")) for p in ck_parts]
    ck = _read_tables([final_ck, *ck_parts])
    units = _read_tables([final_units, *unit_parts])
    # keep the newest analysis of each checkpoint file: later tables win
    last = {k: i for i, k in enumerate(ck.column("checkpoint").to_pylist())}
    keep = sorted(last.values())
    ck = model_q_values(ck.take(pa.array(keep, pa.int64())))
    if units is not None:
        # units rows belong to the checkpoint rows kept: match on checkpoint path, newest occurrence
        ck_paths = set(ck.column("checkpoint").to_pylist())
        mask = np.isin(np.array(units.column("checkpoint").to_pylist(), dtype=object), list(ck_paths))
        units = units.filter(pa.array(mask))
        units = _dedupe_units(units)
    for schema, table in ((tables.UNITS, units), (tables.CHECKPOINTS, ck)):  # the declared contract with the report
        problems = schema.check(table) if table is not None and table.num_rows else []
        assert not problems, f"analysis would write a {schema.file} that departs from mirror_neurons.tables: {problems}"
    _write_parquet(final_units, units if units is not None else pa.table({}))
    _write_parquet(final_ck, ck)
    for p in ck_parts + unit_parts:
        p.unlink(missing_ok=True)


def q_column(p_column: str) -> str | None:
    """The per-model q-value column of a p-value column ('p_permutation' -> 'q_permutation',
    'decode.dense_1.p_frog_to_toad' -> 'decode.dense_1.q_frog_to_toad', 'ablate.mirror.p' -> 'ablate.mirror.q');
    None for a column that is not a checkpoint's p-value (floors)."""
    head, _, last = p_column.rpartition(".")
    if p_column == CHANCE_P:  # the larger of two p-values that have their own q-values
        return None
    if last.endswith("_floor") or not (last == "p" or last.startswith("p_")):
        return None
    return f"{head}.{'q' + last[1:]}" if head else "q" + last[1:]


def model_q_values(ck: pa.Table) -> pa.Table:
    """Benjamini-Hochberg q-values of every p-value column across the checkpoints of each model (``model_id``).

    A model's checkpoints are tested against the same nulls many times; the q-value controls the false
    discovery rate among them. Missing p-values are left out of their model's family and get a missing q.
    """
    if "model_id" not in ck.column_names:
        return ck
    models = np.array(ck.column("model_id").to_pylist(), dtype=object)
    for name in list(ck.column_names):
        qname = q_column(name)
        if qname is None:
            continue
        p = np.array([np.nan if v is None else float(v) for v in ck.column(name).to_pylist()])
        q = np.full(len(p), np.nan)
        for m in set(models):
            rows = np.flatnonzero((models == m) & ~np.isnan(p))
            if len(rows):
                q[rows] = benjamini_hochberg(p[rows])
        col = pa.array([None if np.isnan(v) else float(v) for v in q], pa.float64())
        ck = (
            ck.set_column(ck.column_names.index(qname), qname, col)
            if qname in ck.column_names
            else ck.append_column(qname, col)
        )
    return ck


def _dedupe_units(units: pa.Table) -> pa.Table:
    """Keep, per (checkpoint, layer, unit), the last row (a re-analysed checkpoint replaces the old rows)."""
    keys = list(
        zip(units.column("checkpoint").to_pylist(), units.column("layer").to_pylist(), units.column("unit").to_pylist())
    )
    last = {k: i for i, k in enumerate(keys)}
    return units.take(pa.array(sorted(last.values()), pa.int64()))


__all__ = [
    "AnalysisConfig",
    "CheckpointAnalysis",
    "PreparedTest",
    "analyze_checkpoint",
    "analyze_run",
    "prepare_test",
    "CLASSES",
    "competence_summary",
    "read_baselines",
    "run_baselines",
]


SUMMARY_COLUMNS = (  # (column, header, format): short headers, so the table fits 80 columns
    ("model_id", "model", "{}"), ("epoch", "ep", "{}"), ("test_accuracy", "acc", "{:.3f}"), ("macro_recall", "macro", "{:.3f}"),
    ("competent", "comp", "{}"), ("cmni_effect_size", "index", "{:.4f}"), ("p_random_init_effect_size", "p init", "{:.3f}"),
    ("p_permutation_effect_size", "p perm", "{:.3f}"), ("cmni", "CMNI", "{:.4f}"), ("n_mirror", "mir", "{}"),
)  # fmt: skip


def summary_table(out: str | Path, top: int = 10):
    """A rich Table of the ``top`` checkpoints by the scale-free index (raw CMNI for older tables)
    from RUNDIR/analysis/checkpoints.parquet, narrow enough for an 80-column terminal."""
    from rich import box
    from rich.table import Table

    ck = pq.read_table(Path(out) / tables.CHECKPOINTS.file).to_pylist()
    key = "cmni_effect_size" if any(r.get("cmni_effect_size") is not None for r in ck) else "cmni"
    ck.sort(key=lambda r: -(r.get(key) or 0.0))
    cols = [c for c in SUMMARY_COLUMNS if any(c[0] in r for r in ck)]
    table = Table(
        title=f"{len(ck)} checkpoints analysed (top {min(top, len(ck))} by {key})",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="index: scale-free mirror index; p init / p perm: its p against untrained networks / "
        "permuted groups; mir: mirror units",
    )
    for _, header, _ in cols:
        table.add_column(header, justify="left" if header == "model" else "right", no_wrap=True)
    for r in ck[:top]:
        cells = []
        for c, _, f in cols:
            v = r.get(c)
            if c == "model_id" and v is not None:
                v = short_model_id(str(v))
            cells.append("-" if v is None else "yes" if v is True else "no" if v is False else f.format(v))
        table.add_row(*cells)
    return table


def short_model_id(model_id: str) -> str:
    """A sweep's model id without its hyper-parameter tag ("c000r1_h17x17_..." -> "c000r1"); others cut to 16 characters."""
    head = model_id.split("_", 1)[0]
    return head if len(head) >= 4 and head[0] == "c" and "r" in head else model_id[:16]


def read_baselines(out: str | Path) -> dict:
    """RUNDIR/analysis/baselines.json (layout: ``competence.Baselines.as_dict``)."""
    path = Path(out) / BASELINES_FILE
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist; run `mirror-neurons analyze` on the run again to write it")
    fix = "run `mirror-neurons analyze` on the run again to rewrite it"
    return tables.BASELINES.require(atomic.read_json_object(path, AnalysisError, fix), path)


def competence_summary(out: str | Path) -> str:
    """One line: how many checkpoints and models (model_id) are competent, beside the energy rule's figures.

    A model counts as competent when at least one of its checkpoints is.
    """
    ck = pq.read_table(Path(out) / tables.CHECKPOINTS.file)
    if competence.COMPETENT_COLUMN not in ck.column_names:
        return "this analysis table has no competence columns; run `mirror-neurons analyze` again to add them"
    rows = ck.select(["model_id", "epoch", "test_accuracy", "macro_recall", "competent"]).to_pylist()
    energy = read_baselines(out)["baselines"]["energy_rule"]
    models = {r["model_id"] for r in rows}
    good = [r for r in rows if r["competent"]]
    line = (
        f"competent ({competence.COMPETENCE_RULE}): {len(good)} of {len(rows)} checkpoints, "
        f"{len({r['model_id'] for r in good})} of {len(models)} models; energy rule: accuracy {energy['accuracy']:.3f}, "
        f"macro recall {energy['macro_recall']:.3f}"
    )
    scored = [r for r in rows if r["macro_recall"] is not None]
    if scored:
        best = max(scored, key=lambda r: r["macro_recall"])
        line += (
            f"; best checkpoint by macro recall: {best['model_id']} epoch {best['epoch']}, accuracy "
            f"{best['test_accuracy']:.3f}, macro recall {best['macro_recall']:.3f}"
        )
    return line


def temporal_view(run_dir: str | Path) -> dict[str, dict[str, np.ndarray]]:
    """The temporal view: per model, its checkpoints' epoch, val loss and CMNI (with interval if measured), by epoch.

    Reads RUNDIR/analysis/checkpoints.parquet; {model_id: {"epoch", "val_loss", "cmni", "cmni_ci_low", "cmni_ci_high",
    "cmni_effect_size", "cmni_effect_size_ci_low", "cmni_effect_size_ci_high"}} (NaN where a table lacks a column).
    """
    path = Path(run_dir) / "analysis" / tables.CHECKPOINTS.file
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist; run `mirror-neurons analyze {run_dir}` first")
    rows = pq.read_table(path).to_pylist()
    out: dict[str, dict[str, np.ndarray]] = {}
    for mid in sorted({r["model_id"] for r in rows}):
        mine = sorted((r for r in rows if r["model_id"] == mid), key=lambda r: (r["epoch"] is None, r["epoch"] or 0))
        out[mid] = {
            k: np.array([np.nan if r.get(k) is None else r[k] for r in mine], dtype=np.float64)
            for k in (
                "epoch",
                "val_loss",
                "cmni",
                "cmni_ci_low",
                "cmni_ci_high",
                "cmni_effect_size",
                "cmni_effect_size_ci_low",
                "cmni_effect_size_ci_high",
            )
        }
    return out
