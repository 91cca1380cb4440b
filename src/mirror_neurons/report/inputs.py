"""What the report shows, as plain data: ``ReportInputs`` and the published reference curve.

The report is drawn from a ``ReportInputs`` (arrays, mappings and strings, no
paths to open), so the layout and the figures can be tested on small tables
built in a test, and ``report.collect`` is the one place that reads a run
folder. The per-checkpoint table keeps the names the analysis declares for
its columns (``tables.CHECKPOINTS``); ``CHECKPOINT_COLUMNS`` are those the report reads.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from mirror_neurons.analysis.case import LOSS_THRESHOLD
from mirror_neurons.analysis.competence import (
    ACTION_NAMES,
    COMPETENT_COLUMN,
    CONFUSION_COLUMNS,
    MACRO_RECALL_COLUMN,
    RECALL_COLUMNS,
)

PAPER_LOSS = "mse_l2"
"""The objective whose validation loss is in the paper's units; the threshold applies to it only."""
PAPER_LEVEL_RULE = (
    f"validation loss below the paper's threshold {LOSS_THRESHOLD:g} for checkpoints trained with the "
    f"paper's loss; competent (section 3) for checkpoints trained with another loss, whose validation "
    f"loss is in other units"
)
CMNI_ROBUST = 0.005
CMNI_NONE = 0.0005
ALPHA = 0.05
"""Significance level for "beats chance"."""

CHECKPOINT_COLUMNS = {
    "checkpoint": "the checkpoint's JSON file, relative to the run folder",
    "model_id": "model name (architecture, learning rate, seed)",
    "hidden": "hidden layer widths as the report shows them, e.g. '17x17' (the table's JSON list, tables.hidden_label)",
    "n_layers": "number of hidden layers",
    "hyperparameters.lr": "learning rate",
    "hyperparameters.batch_size": "minibatch size",
    "epoch": "epoch of the checkpoint",
    "samples_seen": "training rows seen up to the checkpoint (an epoch's rows differ between runs and the paper)",
    "init": "the model's initial weights (epoch 0, written before the first step): 1.0 yes, 0.0 no",
    "val_loss": "validation loss in the model's own objective (MSE + L2, the paper's units, for loss mse_l2)",
    "hyperparameters.loss": "training objective: mse_l2 (the paper's), mse or cross_entropy",
    "encoding": "input encoding: raw (the paper's), onehot or recoded",
    "test_accuracy": "test accuracy",
    "mne": "Mirror Neuron Ensemble (sum of MNS)",
    "cmni": "CMNI = MNE / units",
    "cmni_effect_size": "the scale-free mirror index (docs/analysis.md), the primary measure",
    "p_chance": "p-value of CMNI against chance: the larger of the two controls' p-values (the analysis's)",
    "p_random_init": "p-value against the same architecture at random initialisation",
    "p_permutation": "p-value against the same network with scenario labels permuted",
    "cmni_ci_low": "bootstrap 95 % interval of CMNI, low end",
    "cmni_ci_high": "bootstrap 95 % interval of CMNI, high end",
    "null_chance_mean": "the larger of the two null distributions' means (random init, permuted labels)",
    "n_mirror": "units classed mirror",
    "n_anti_mirror": "units classed anti-mirror",
    "n_differentiating": "units classed differentiating",
    "n_mixed": "units classed mixed",
    **{c: f"test recall of {a}" for c, a in zip(RECALL_COLUMNS, ACTION_NAMES)},
    MACRO_RECALL_COLUMN: "test macro recall (mean recall over the four actions)",
    COMPETENT_COLUMN: "competent by analysis.competence.COMPETENCE_RULE (1.0 yes, 0.0 no, NaN not measured)",
    **{c: "test states of one (true label, prediction) pair" for c in CONFUSION_COLUMNS},
}


@dataclass
class Case:
    """The case checkpoint and everything measured on it."""

    name: str
    rule: str
    """How it was chosen, in one sentence."""
    row: dict
    """Its row of the checkpoint table (``CHECKPOINT_COLUMNS``)."""
    layer_names: list[str]
    classes: list[list[str]]
    """Class of every unit, per layer (the output layer included)."""
    means: list[np.ndarray]
    """Per layer (n_units, 4): mean activation in scenarios none, frog, toad, both."""
    variance: list[np.ndarray]
    skewness: list[np.ndarray]
    kurtosis: list[np.ndarray]
    kernels: list[np.ndarray]
    """Every Dense kernel (out, in), the first hidden layer's included."""
    boxes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """A few units' activations per scenario (unit label -> 4 arrays), for box plots."""
    nulls: dict[str, np.ndarray] = field(default_factory=dict)
    """Null distributions of CMNI for this checkpoint (control name -> samples)."""
    group_sizes: dict[str, int] = field(default_factory=dict)
    weight_tables: list[dict] = field(default_factory=list)
    """Paper-style weight tables: {caption, columns, rows}."""
    ablation: dict | None = None
    """{"groups": [...], "values": {name: [...]}, "ylabel": str, "table": {columns, rows}} or None."""
    episode: list[str] = field(default_factory=list)
    """ASCII frames of the case model playing Frog."""
    history: dict[str, np.ndarray] = field(default_factory=dict)
    """Its model's checkpoints over training: epoch, cmni, val_loss, competent (1.0 / 0.0 / NaN)."""
    self_preservation: dict | None = None
    """The paper's layer-2 circuit read from the case's weights (``analysis.circuits.self_preservation``) when the
    case has two hidden layers or more; otherwise ``ReportInputs.circuit`` carries it for a two-layer checkpoint."""


@dataclass
class ReportInputs:
    title: str
    run_dir: str
    preset: str
    distributions: dict[str, dict[str, int]]
    """{"label": {hop: n, ...}, "scenario": {none: n, ...}} over the whole dataset."""
    curves: dict[str, tuple[np.ndarray, np.ndarray]]
    """Model name -> (epochs, validation losses) of every epoch."""
    checkpoints: dict[str, np.ndarray]
    """Columns of ``CHECKPOINT_COLUMNS``, one entry per checkpoint."""
    reference: dict[str, np.ndarray]
    case: Case | None = None
    behaviour: dict | None = None
    """{"metrics": [...], "values": {policy: [...]}, "errors": {policy: [...]}, "games": n, "turns": n}."""
    circuit: dict | None = None
    """When the case model has one hidden layer: the best two-layer checkpoint by the same rule
    ({name, classes, kernels}), on which the paper's layer-2 circuit claim is tested."""
    facts: dict[str, object] = field(default_factory=dict)
    """Sizes and timings of the run (rows, models, checkpoints, seconds per stage)."""
    notes: list[str] = field(default_factory=list)
    """What this run cannot show at its scale, and adapters used; printed at the top."""
    threshold: float = LOSS_THRESHOLD
    baselines: dict | None = None
    """``analysis/baselines.json`` (``analysis.competence.Baselines.as_dict``), or None for an older analysis."""
    learning: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Model name -> (epochs, score) of the score named by ``learning_metric``."""
    learning_metric: str = "val_macro_recall"
    """val_macro_recall (the trainer's per-epoch history) or macro_recall (test, checkpoints only: no histories)."""
    answer: dict | None = None
    """The run's answer to "did training make mirror units?" (``analysis.paired.answer``: verdict, decided_by,
    headline, evidence, configuration, measure), shown as the report's first paragraph; None draws none."""
    paired: dict | None = None
    """``analysis/paired.json`` (per-configuration paired tests, training nulls, rule, alpha), or None when missing."""
    paired_models: dict[str, np.ndarray] = field(default_factory=dict)
    """``analysis/paired_models.parquet``: one entry per model (init, trained and change of each measure, labels,
    architecture, encoding, configuration, competent)."""

    def initial(self) -> np.ndarray:
        """(n_checkpoints,) bool: epoch-0 checkpoints (a model's initial weights), never a trained network."""
        init = np.asarray(self.checkpoints.get("init", np.zeros(self.n_checkpoints)), dtype=float)
        return np.nan_to_num(init, nan=0.0) == 1.0

    def competent(self) -> np.ndarray:
        """(n_checkpoints,) bool: checkpoints competent by the analysis (False where not measured)."""
        return np.asarray(self.checkpoints.get(COMPETENT_COLUMN, np.zeros(self.n_checkpoints)), dtype=float) == 1.0

    def paper_loss(self) -> np.ndarray:
        """(n_checkpoints,) bool: trained with the paper's objective (``PAPER_LOSS``; runs that predate
        the loss option recorded none and trained with it)."""
        loss = self.checkpoints.get("hyperparameters.loss", np.full(self.n_checkpoints, np.nan))
        return np.array([not isinstance(v, str) or v == PAPER_LOSS for v in loss], dtype=bool)

    def at_paper_level(self, margin: float = 0.0) -> np.ndarray:
        """(n_checkpoints,) bool, ``PAPER_LEVEL_RULE``: where the paper's loss threshold (plus ``margin``)
        can be read, it decides; elsewhere competence stands in for "the network has learned the task"."""
        loss = np.asarray(self.checkpoints.get("val_loss", np.full(self.n_checkpoints, np.nan)), dtype=float)
        return np.where(self.paper_loss(), loss < self.threshold + margin, self.competent())

    @property
    def competence_measured(self) -> bool:
        return bool(self.n_checkpoints) and bool(
            np.isfinite(np.asarray(self.checkpoints.get(COMPETENT_COLUMN, [np.nan]), dtype=float)).all()
        )

    @property
    def n_checkpoints(self) -> int:
        return len(self.checkpoints.get("cmni", ()))


def load_reference_curve() -> dict[str, np.ndarray]:
    """The published CMNI-by-epoch curve of the 2 x 17 case model: epoch, cmni, val_loss, mne (arrays)."""
    text = resources.files("mirror_neurons.report").joinpath("reference_cmni_by_epoch.csv").read_text()
    epochs, cmni, loss, mne = [], [], [], []
    for row in csv.DictReader(text.splitlines()):
        name = row["checkpoint_id"]
        epochs.append(int(re.search(r"epoch(\d+)", name).group(1)))
        loss.append(float(re.search(r"valLoss([0-9.]+)", name).group(1)))
        cmni.append(float(row["cmni"]))
        mne.append(float(row["total_mns"]))
    order = np.argsort(epochs)
    return {k: np.asarray(v)[order] for k, v in (("epoch", epochs), ("cmni", cmni), ("val_loss", loss), ("mne", mne))}
