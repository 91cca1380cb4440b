"""The tables the analysis stage writes, declared once: the writer checks them, every reader takes their names here.

``RUNDIR/analysis/`` holds (written by ``analysis.pipeline.analyze_run`` and ``analysis.paired.write_paired``):

- ``checkpoints.parquet`` (``CHECKPOINTS``): one row per checkpoint. Besides the
  columns declared here it carries every measure's own columns (per-layer CMNI
  ``cmni.dense_i``, decoding ``decode.*``, ablation ``ablate.*``, q-values) and the
  checkpoint's metadata flattened (``hyperparameters.*``, ``train_config.*``, ...);
  those are named where they are made (``CheckpointAnalysis.row``).
- ``units.parquet`` (``UNITS``): one row per unit of every checkpoint.
- ``paired_models.parquet`` and ``paired.json``: the model-level paired test
  (``analysis.paired``); ``baselines.json`` (``analysis.competence``);
  ``config.json``: the ``AnalysisConfig`` with its digest, the dataset folder and
  the analysed dataset's hash (``ANALYSED_DATASET_HASH``).

A column is ``always`` written, or only when its measure ran (significance,
controls) or when the checkpoint recorded it (epoch-0 flag, hyper-parameters):
a reader must cope with its absence and says so. ``TableSchema.check`` lists a
table's departures from its declaration: the writer refuses to write a table
that departs (a bug of this package), a reader refuses a table that lacks an
``always`` column (an older or foreign file), naming the fix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa

from mirror_neurons.analysis.groups import GROUPS
from mirror_neurons.errors import AnalysisError

_KINDS = {
    "string": pa.types.is_string,
    "int": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "bool": pa.types.is_boolean,
}


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    """string, int, float (integers accepted) or bool; an all-missing column (Parquet type null) fits any kind."""
    doc: str
    always: bool = True
    """Written for every checkpoint; False: only when its measure ran or the checkpoint recorded it."""


@dataclass(frozen=True)
class TableSchema:
    file: str
    columns: tuple[Column, ...]

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.file} declares no column {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def check(self, table: pa.Table) -> list[str]:
        """Departures of ``table`` from this declaration: missing ``always`` columns, columns of the wrong kind."""
        problems = []
        for c in self.columns:
            if c.name not in table.column_names:
                if c.always:
                    problems.append(f"no column {c.name!r}")
                continue
            t = table.schema.field(c.name).type
            if not (pa.types.is_null(t) or _KINDS[c.kind](t)):
                problems.append(f"column {c.name!r} is {t}, declared {c.kind}")
        return problems

    def require(self, table: pa.Table, path) -> pa.Table:
        """``table`` (read from ``path``) as it is, or one ``AnalysisError`` naming what is wrong and the fix."""
        problems = self.check(table)
        if problems:
            raise AnalysisError(
                f"{path} is not the {self.file} this version writes ({'; '.join(problems[:3])}); "
                f"run `mirror-neurons analyze` on the run again"
            )
        return table


CHECKPOINTS = TableSchema(
    "checkpoints.parquet",
    (
        Column("checkpoint", "string", "the checkpoint's JSON file, relative to the run folder"),
        Column("model_id", "string", "the model the checkpoint belongs to (its checkpoints share it)"),
        Column("epoch", "int", "epoch of the checkpoint (0: the initial weights)", always=False),
        Column("init", "bool", "the model's initial weights, written before the first step", always=False),
        Column("val_loss", "float", "validation loss in the model's own objective", always=False),
        Column("hidden", "string", "hidden widths as a JSON list, '[17, 17]' (read it with ``widths``)"),
        Column("n_layers", "int", "number of hidden layers"),
        Column("encoding", "string", "input encoding: raw, onehot or recoded"),
        Column("test_accuracy", "float", "accuracy on the test states"),
        Column("recall_hop", "float", "test recall of hop"),
        Column("recall_jump", "float", "test recall of jump"),
        Column("recall_leap", "float", "test recall of leap"),
        Column("recall_help", "float", "test recall of help"),
        Column("macro_recall", "float", "mean test recall over the four actions"),
        Column("competent", "bool", "passes the competence rule (analysis.competence)"),
        Column("mne", "float", "Mirror Neuron Ensemble"),
        Column("cmni", "float", "CMNI = MNE / units (the paper's index)"),
        Column("cmni_effect_size", "float", "the scale-free index, the primary measure (docs/analysis.md)"),
        Column("n_units", "int", "units counted by the indices"),
        Column("n_mirror", "int", "units classed mirror", always=False),
        Column("n_anti_mirror", "int", "units classed anti-mirror", always=False),
        Column("n_differentiating", "int", "units classed differentiating", always=False),
        Column("n_mixed", "int", "units classed mixed", always=False),
        Column("p_random_init", "float", "p of raw CMNI against untrained networks of the architecture", always=False),
        Column("p_permutation", "float", "p of raw CMNI against permuted scenario labels", always=False),
        Column("null_random_init_mean", "float", "mean raw CMNI of the untrained networks", always=False),
        Column("null_permutation_mean", "float", "mean raw CMNI under permuted labels", always=False),
        Column("cmni_ci_low", "float", "bootstrap interval of raw CMNI, low end", always=False),
        Column("cmni_ci_high", "float", "bootstrap interval of raw CMNI, high end", always=False),
        Column("hyperparameters.lr", "float", "learning rate, from the checkpoint", always=False),
        Column("hyperparameters.batch_size", "int", "minibatch size, from the checkpoint", always=False),
        Column("hyperparameters.loss", "string", "training objective, from the checkpoint", always=False),
        Column(
            "samples_seen",
            "int",
            "training rows seen when the checkpoint was written, from the checkpoint",
            always=False,
        ),
        Column(
            "dataset_hash",
            "string",
            "hash of the dataset the checkpoint was trained on, from the checkpoint",
            always=False,
        ),
        Column("weights_sha256", "string", "hash of the checkpoint's weights file", always=False),
        Column("analysis_config", "string", "digest of the analysis settings (AnalysisConfig.digest)"),
        Column("analysed_dataset_hash", "string", "hash of the dataset whose test states were analysed"),
    ),
)

UNITS = TableSchema(
    "units.parquet",
    (
        Column("checkpoint", "string", "the checkpoint's JSON file, relative to the run folder"),
        Column("model_id", "string", "the model"),
        Column("epoch", "int", "epoch of the checkpoint (-1: not recorded)"),
        Column("layer", "string", "the unit's layer, dense_i"),
        Column("unit", "int", "the unit's index within its layer"),
        Column("dfrog", "float", "Frog-distress minus no-distress mean activation (the paper's CMNI terms)"),
        Column("dtoad", "float", "Toad-distress minus no-distress mean activation"),
        Column("mns", "float", "the unit's mirror neuron score"),
        *(
            Column(f"{stat}_{g}", "float", f"{stat} of the unit's activation in the {g} group")
            for g in GROUPS
            for stat in ("mean", "var")
        ),
        Column("class", "string", "mirror, anti-mirror, differentiating, mixed or other", always=False),
    ),
)

ANALYSED_DATASET_HASH = "analysed_dataset_hash"
"""Key of the analysed dataset's hash in ``checkpoints.parquet`` and ``config.json`` (a checkpoint's own
``dataset_hash`` names the data it was trained on; ``--allow-other-data`` lets the two differ)."""


def widths(hidden: str) -> tuple[int, ...]:
    """Hidden widths from the ``hidden`` column ('[17, 17]' -> (17, 17)); ``AnalysisError`` for anything else."""
    try:
        value = json.loads(hidden)
        if isinstance(value, list) and value and all(isinstance(w, int) and w > 0 for w in value):
            return tuple(value)
    except (TypeError, ValueError):
        pass
    raise AnalysisError(
        f"hidden = {hidden!r} is not a JSON list of widths like '[17, 17]'; run `mirror-neurons analyze` again"
    )


def hidden_label(hidden: str) -> str:
    """'[17, 17]' -> '17x17', the architecture as tables and figures show it."""
    return "x".join(str(w) for w in widths(hidden))
