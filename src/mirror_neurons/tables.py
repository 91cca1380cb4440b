"""Every table and JSON file a stage writes, declared once: each writer checks its file here, each reader takes its names here.

A stage's files are the contract with the stages after it (docs/design.md, "Contracts between stages"), so
their columns and keys are written down in this one module, which sits early in the stage order (after
``game``, before ``data``) so that every stage may import it. ``STUDY_LAYOUT`` maps each file's path inside a study
folder to its declaration (``declared`` finds it), the other ``*_LAYOUT``s the same for
a stage's own --out folder and the experiments; the schemas themselves:

- data (``data.dataset``): ``SPLIT`` (``train``/``val``/``test.parquet``) and ``MANIFEST`` (``manifest.json``);
- train (``train.checkpoint``, ``train.run_folder``, ``train.sweep``, ``train.resume``): ``CHECKPOINT_META``
  (``STEM.json`` beside ``STEM.safetensors``), ``RUN`` (``run.json``), ``SWEEP_SUMMARY`` (``summary.json``),
  ``RESUME_STATE`` (``state.json`` and ``state-eNNNN.meta.json``);
- analysis (``analysis.pipeline``, ``analysis.paired``, ``analysis.case``): ``CHECKPOINTS``
  (``checkpoints.parquet``), ``UNITS`` (``units.parquet``), ``PAIRED_MODELS`` (``paired_models.parquet``),
  ``PAIRED`` (``paired.json``), ``CASE`` (``case.json``), ``BASELINES`` (``baselines.json``), ``ANALYSIS_CONFIG``
  (``config.json``);
- the study (``study``): ``STUDY`` (``study.json``);
- experiments (``experiments.planted``, ``experiments.rl``, ``experiments.theory``): planted units
  (``PLANTED_*``), the RL experiment (``RL_*``, its agents' PPO files ``PPO_*``) and the theory grid's two rounds
  (``THEORY_*``, ``THEORY2_*``); a JSON list's ``keys`` are each record's.

``checkpoints.parquet`` carries, besides the columns declared here, every measure's own columns (per-layer CMNI
``cmni.dense_i``, decoding ``decode.*``, ablation ``ablate.*``, q-values) and the checkpoint's metadata flattened
(``hyperparameters.*``, ``train_config.*``, ...); those are named where they are made (``CheckpointAnalysis.row``).
A declaration lists what readers rely on; a file may hold more (``open``), except the dataset's split files,
whose columns are exactly ``SPLIT``'s.

A column or key is ``always`` written, or only when its measure ran (significance, controls) or when the
checkpoint recorded it (epoch-0 flag, hyper-parameters): a reader must cope with its absence and says so.
``check`` lists a file's departures from its declaration: the writer refuses to write a file that departs
(a bug of this package), a reader refuses one that lacks an ``always`` column or key (an older or foreign
file), with one line naming the fix (``require``).
"""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from fnmatch import fnmatchcase

import pyarrow as pa

from mirror_neurons.errors import AnalysisError, CheckpointError, DataError, MirrorNeuronsError
from mirror_neurons.game.constants import STATE_SIZE, Scenario

GROUPS = tuple(s.name.lower() for s in Scenario)
"""The scenario groups' names in the order of ``game.constants.Scenario`` (none, frog, toad, both): the column
suffixes here and the order of every (4, units) array of the analysis (``analysis.groups`` takes them here)."""

_KINDS = {
    "string": pa.types.is_string,
    "int": pa.types.is_integer,
    "float": lambda t: pa.types.is_floating(t) or pa.types.is_integer(t),
    "bool": pa.types.is_boolean,
    "uint8": lambda t: t.equals(pa.uint8()),
}

_JSON_KINDS = {
    "string": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "object": lambda v: isinstance(v, dict),
}

ANALYZE_AGAIN = "run `mirror-neurons analyze` on the run again"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str
    """string, int, float (integers accepted), bool or uint8; an all-missing column (Parquet type null) fits any kind."""
    doc: str
    always: bool = True
    """Written for every row's source; False: only when its measure ran or the checkpoint recorded it."""

    def __post_init__(self) -> None:
        assert self.kind in _KINDS, f"{self.name}: unknown kind {self.kind!r}"


@dataclass(frozen=True)
class TableSchema:
    """A Parquet table: its file name, its declared columns, and the error and fix a reader raises when it departs."""

    file: str
    """The file's name in its folder, ``folder / file``; a glob pattern (``*.parquet``) where one declaration
    covers several files, whose names a helper gives (``split_file``)."""
    columns: tuple[Column, ...]
    error: type[MirrorNeuronsError] = AnalysisError
    fix: str = ANALYZE_AGAIN
    open: bool = True
    """Other columns may follow the declared ones (False: exactly these, in this order)."""
    what: str = ""
    """The file in words, as messages name it ("the WHAT this version writes"); empty: ``file``."""

    def __post_init__(self) -> None:
        if not self.what:
            object.__setattr__(self, "what", self.file)

    def __getitem__(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.what} declares no column {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        """The exact Arrow schema of a closed table whose columns are all uint8 (the dataset's split files)."""
        assert not self.open and all(c.kind == "uint8" for c in self.columns), self.what
        return pa.schema([pa.field(c.name, pa.uint8(), nullable=False) for c in self.columns])

    def check(self, table: pa.Table) -> list[str]:
        """Departures of ``table`` from this declaration: missing ``always`` columns, columns of the wrong kind
        (and, for a closed table, columns it does not declare or out of order)."""
        problems = []
        for c in self.columns:
            if c.name not in table.column_names:
                if c.always:
                    problems.append(f"no column {c.name!r}")
                continue
            t = table.schema.field(c.name).type
            if not (pa.types.is_null(t) or _KINDS[c.kind](t)):
                problems.append(f"column {c.name!r} is {t}, declared {c.kind}")
        if not self.open and not problems and list(table.column_names) != list(self.names):
            extra = [n for n in table.column_names if n not in self.names]
            problems.append(f"undeclared columns {extra[:3]}" if extra else "columns out of the declared order")
        return problems

    def require(self, table: pa.Table, path) -> pa.Table:
        """``table`` (read from ``path``) as it is, or one ``error`` naming what is wrong and the fix."""
        problems = self.check(table)
        if problems:
            raise self.error(
                f"{path} is not the {self.what} this version writes ({'; '.join(problems[:3])}); {self.fix}"
            )
        return table

    def writing(self, table: pa.Table, path) -> pa.Table:
        """``table`` about to be written to ``path`` (the file itself, not its folder); an ``AssertionError`` (a bug
        here, not bad input) if it departs."""
        problems = self.check(table)
        assert not problems, f"{path} departs from its declaration {self.what}: {'; '.join(problems)}"
        return table


@dataclass(frozen=True)
class Key:
    name: str
    kind: str
    """string, int, float (integers accepted), bool, list or object; null fits any kind."""
    doc: str
    always: bool = True
    """Written every time; False: only in some runs (named in ``doc``)."""

    def __post_init__(self) -> None:
        assert self.kind in _JSON_KINDS, f"{self.name}: unknown kind {self.kind!r}"


@dataclass(frozen=True)
class JsonSchema:
    """A JSON file: its name, the top-level keys readers rely on, and the error and fix a reader raises.

    ``top`` is the kind of the whole document: an object (its ``keys`` declared) or a list of records, each an
    object whose ``keys`` are declared."""

    file: str
    """The file's name in its folder, ``folder / file``; a glob pattern (``*.json``) where one declaration
    covers several files, whose names their writer gives (a checkpoint's stem, ``RESUME_STATE_FILE``)."""
    keys: tuple[Key, ...] = ()
    error: type[MirrorNeuronsError] = AnalysisError
    fix: str = ANALYZE_AGAIN
    top: str = "object"
    what: str = ""
    """The file in words, as messages name it ("the WHAT this version writes"); empty: ``file``."""

    def __post_init__(self) -> None:
        if not self.what:
            object.__setattr__(self, "what", self.file)

    def __getitem__(self, name: str) -> Key:
        for k in self.keys:
            if k.name == name:
                return k
        raise KeyError(f"{self.what} declares no key {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keys)

    def check(self, value: object) -> list[str]:
        """Departures of the parsed document ``value``: another top-level kind, missing ``always`` keys, wrong kinds
        (of a list, in each record, named by its index)."""
        if not _JSON_KINDS[self.top](value):
            return [f"a JSON {type(value).__name__}, not {'an object' if self.top == 'object' else 'a list'}"]
        if self.top == "object":
            return self._check_keys(value)
        problems = []
        for i, record in enumerate(value):
            if not isinstance(record, dict):
                problems.append(f"record {i} is a JSON {type(record).__name__}, not an object")
            else:
                problems += [f"record {i}: {p}" for p in self._check_keys(record)]
        return problems

    def _check_keys(self, value: dict) -> list[str]:
        problems = []
        for k in self.keys:
            if k.name not in value:
                if k.always:
                    problems.append(f"no key {k.name!r}")
                continue
            v = value[k.name]
            if v is not None and not _JSON_KINDS[k.kind](v):
                problems.append(f"{k.name!r} is a {type(v).__name__}, declared {k.kind}")
        return problems

    def require(self, value: object, path) -> dict | list:
        """``value`` (parsed from ``path``) as it is, or one ``error`` naming what is wrong and the fix."""
        problems = self.check(value)
        if problems:
            raise self.error(
                f"{path} is not the {self.what} this version writes ({'; '.join(problems[:3])}); {self.fix}"
            )
        return value

    def writing(self, value: object, path) -> object:
        """``value`` about to be written to ``path`` (the file itself, not its folder); an ``AssertionError`` (a bug
        here, not bad input) if it departs."""
        problems = self.check(value)
        assert not problems, f"{path} departs from its declaration {self.what}: {'; '.join(problems)}"
        return value


# -- data: the dataset folder (data.dataset) -----------------------------------------------------------------

REGENERATE = "regenerate the dataset with `mirror-neurons data`"
SPLITS = ("train", "val", "test")
"""The dataset's splits; each is the file ``split_file(NAME)``."""
FEATURES = tuple(f"x{i}" for i in range(STATE_SIZE))
"""The model input's columns, one per state integer."""
META_COLUMNS = ("label", "scenario", "frog_pos")

SPLIT = TableSchema(
    "*.parquet",
    (
        *(Column(f, "uint8", f"state integer {i} (docs/spec-summary.md section 3)") for i, f in enumerate(FEATURES)),
        Column("label", "uint8", "the best action (game.constants.Action)"),
        Column("scenario", "uint8", "who is in distress (game.constants.Scenario)"),
        Column("frog_pos", "uint8", "Frog's column"),
    ),
    error=DataError,
    fix=REGENERATE,
    open=False,
    what="split file (train.parquet, val.parquet, test.parquet)",
)


def split_file(split: str) -> str:
    """The file name of the dataset's split ``split`` (one of ``SPLITS``): ``train.parquet``."""
    assert split in SPLITS, split
    return f"{split}.parquet"


MANIFEST = JsonSchema(
    "manifest.json",
    (
        Key("format", "string", "mirror-neurons-dataset/1"),
        Key("package_version", "string", "the version that wrote the dataset"),
        Key("rows", "object", "split -> row count"),
        Key("distributions", "object", "split -> label and scenario counts by name"),
        Key("files", "object", "split file name -> SHA-256 of its bytes"),
        Key("dataset_hash", "string", "SHA-256 over the sorted (file, hash) pairs (data.dataset.combined_hash)"),
        Key("config", "object", "the DataConfig", always=False),
        Key("seed", "int", "the data seed", always=False),
        Key("test_size", "object", "planned and used test states", always=False),
        Key("generation", "object", "the game-playing statistics", always=False),
        Key("natural_distribution", "object", "label and scenario counts before balancing", always=False),
        Key("test_label_shares", "object", "the test split's share of each label", always=False),
        Key("preparation", "object", "energy and fly draws of the preparation step", always=False),
    ),
    error=DataError,
    fix=REGENERATE,
)

# -- train: checkpoints and run folders (train.checkpoint, train.run_folder, train.sweep, train.resume) --------

DAMAGED_CHECKPOINT = "the checkpoint is damaged"
CHECKPOINT_META = JsonSchema(
    "*.json",
    (
        Key("model", "object", "the architecture (ModelConfig.to_dict)"),
        Key("outputs", "list", "the actions in output order"),
        Key("inputs", "object", "the state the model reads, its encoding and the first layer's width"),
        Key("weights_file", "string", "STEM.safetensors, in the same folder"),
        Key("weights_sha256", "string", "SHA-256 of the weights file"),
        Key("package_version", "string", "the version that wrote the checkpoint"),
        Key("model_id", "string", "the model the checkpoint belongs to", always=False),
        Key("epoch", "int", "epoch of the checkpoint (0: the initial weights)", always=False),
        Key("init", "bool", "the model's initial weights, written before the first step", always=False),
        Key("seed", "int", "the model's seed", always=False),
        Key("dataset_hash", "string", "hash of the dataset the model was trained on", always=False),
        Key("val_loss", "float", "validation loss in the model's own objective", always=False),
        Key("hyperparameters", "object", "the training recipe", always=False),
        Key("train_config", "object", "the whole TrainConfig", always=False),
        Key("samples_seen", "int", "training rows seen when the checkpoint was written", always=False),
        Key(
            "data_dir",
            "string",
            "the dataset folder of the states it is analysed on (RL checkpoints, stamped by "
            "experiments.rl; supervised runs record theirs in run.json's dataset_path)",
            always=False,
        ),
        Key("analysis_states", "string", "how those states were drawn (RL: rl-visited-states)", always=False),
    ),
    error=CheckpointError,
    fix=DAMAGED_CHECKPOINT,
    what="checkpoint metadata (STEM.json)",
)
"""A checkpoint's ``STEM.json`` beside its ``STEM.safetensors``; the writer picks the stem (``train.checkpoint``)."""
RUN = JsonSchema(
    "run.json",
    (
        Key("models", "object", "model id -> its TrainConfig"),
        Key("dataset_hash", "string", "the dataset every model trains on"),
        Key("dataset_path", "string", "its folder, absolute"),
        Key("info", "object", "what the caller recorded (a sweep: its specification)"),
        Key("versions", "object", "package and library versions"),
    ),
    error=CheckpointError,
    fix="train into a new folder (--out)",
)
SWEEP_SUMMARY = JsonSchema(
    "summary.json",
    (
        Key("sweep", "string", "the sweep's name"),
        Key("models", "list", "per model: model_id, status, reason, epochs, best_epoch, best_val_loss, checkpoints"),
    ),
    fix="run the sweep again (it resumes)",
)
RESUME_STATE = JsonSchema(
    "state*.json",
    (
        Key("model_id", "string", "the model"),
        Key("epoch", "int", "epochs done"),
        Key("config", "object", "the TrainConfig"),
        Key("steps", "int", "optimiser steps done"),
        Key("samples", "int", "training rows seen"),
        Key("best_val_loss", "float", "best validation loss so far (null: none finite)"),
        Key("best_epoch", "int", "its epoch"),
        Key("since_best", "int", "epochs since it (early stopping)"),
        Key("status", "string", "running, finished, ..."),
        Key("reason", "string", "why training stopped, if it did"),
        Key("checkpoints", "list", "checkpoint stems written so far"),
        Key("history", "list", "one row per epoch"),
        Key("tensors", "string", "STEM.safetensors with weights, Adam moments and the generator"),
        Key("tensors_sha256", "string", "its SHA-256"),
    ),
    error=CheckpointError,
    fix="the resume state is damaged; delete the model's folder to train it afresh",
    what="resume state (state.json, state-eNNNN.meta.json)",
)
RESUME_HISTORY = JsonSchema(
    RESUME_STATE.file,
    (
        Key("epoch", "int", "the epoch the row ends"),
        Key("steps", "int", "optimiser steps done"),
        Key("samples", "int", "training rows seen"),
        Key("train_loss", "float", "mean training loss of the epoch"),
        Key("val_loss", "float", "validation loss in the model's own objective (null: diverged)"),
        Key("val_mse", "float", "validation mean squared error"),
        Key("val_accuracy", "float", "validation accuracy"),
        Key("val_recall", "list", "validation recall of hop, jump, leap and help"),
        Key("val_macro_recall", "float", "their mean (null: no finite recall)"),
        Key("is_best", "bool", "the best validation loss so far"),
    ),
    error=CheckpointError,
    fix="the resume state is damaged; delete the model's folder to train it afresh",
    top="list",
    what="resume state's history (state.json, state-eNNNN.meta.json)",
)
"""Each row of ``RESUME_STATE``'s ``history``, one per epoch (``train.trainer``); it lies in those files."""
RESUME_STATE_FILE = "state.json"
"""The latest resume state's copy in each model's folder (``RESUME_STATE``): its ``history`` is every epoch's."""
RESUME_EPOCH_FILES = "state-e[0-9][0-9][0-9][0-9].meta.json"
"""Each kept epoch's resume state (``RESUME_STATE``) in a model's folder, ``state-eNNNN.meta.json``."""


# -- analysis: RUNDIR/analysis/ (analysis.pipeline, analysis.paired, analysis.case) ----------------------------
ANALYSIS_FOLDER = "analysis"
"""The analysis stage's folder inside the run folder it analysed, RUNDIR/analysis/ (``ANALYSIS_LAYOUT``)."""
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
        Column(
            "p_chance",
            "float",
            "p of raw CMNI against chance: the larger of p_random_init and p_permutation, since beating chance "
            "needs both controls (analysis.pipeline.chance_columns)",
            always=False,
        ),
        Column("null_chance_mean", "float", "the larger of the two nulls' mean raw CMNI", always=False),
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


PAIRED_MODELS = TableSchema(
    "paired_models.parquet",
    (
        Column("model_id", "string", "the model (an empty table holds this column only)"),
        Column("configuration", "string", "its configuration key (analysis.paired.configuration_key)", always=False),
        Column("label", "string", "the configuration in words", always=False),
        Column("labels", "string", "the labels the model was trained on", always=False),
        Column("architecture", "string", "hidden widths, 17x17", always=False),
        Column("encoding", "string", "input encoding", always=False),
        Column("trained_epoch", "int", "epoch of the trained checkpoint", always=False),
        Column("competent", "bool", "the trained checkpoint passes the competence rule", always=False),
        *(
            Column(f"{m}_{at}", "float", f"{m} {words}", always=False)
            for m in ("cmni_effect_size", "cmni", "n_mirror")
            for at, words in (
                ("init", "at epoch 0"),
                ("trained", "of the trained checkpoint"),
                ("change", "trained - init"),
            )
        ),
    ),
)
PAIRED = JsonSchema(
    "paired.json",
    (
        Key("rule", "string", "the test in words"),
        Key("measures", "list", "measures tested, the primary first"),
        Key("min_seeds", "int", "models a configuration needs for its test"),
        Key("alpha", "float", "significance level"),
        Key("models", "int", "models in the table"),
        Key("models_paired", "int", "models with an initial and a trained checkpoint"),
        Key("models_without_init", "int", "models left out (no epoch-0 checkpoint)"),
        Key("configurations", "list", "one paired test per configuration and measure (analysis.paired.ConfigTest)"),
        Key("training_nulls", "list", "trained models against their training nulls"),
        Key("answer", "object", "headline, decided_by and the evidence"),
        Key("depth", "object", "deep against shallow models"),
    ),
)
CASE = JsonSchema(
    "case.json",
    (
        Key("rule", "string", "how the case checkpoint was chosen (analysis.case.CASE_RULE)"),
        Key("threshold", "float", "the competence threshold it passed"),
        Key("checkpoint", "string", "the case checkpoint, relative to the run folder"),
        Key("model_id", "string", "its model"),
        Key("epoch", "int", "its epoch"),
        Key("accuracy", "float", "its test accuracy"),
        Key("layer_names", "list", "its hidden layers"),
        Key("classes", "list", "per layer, each unit's class"),
        Key("boxes", "list", "the units drawn as distributions"),
        Key("nulls", "list", "the nulls it is compared with"),
        Key("group_sizes", "object", "states per scenario group"),
        Key("weight_tables", "list", "the strongest weights between classes"),
        Key("ablation", "object", "ablation by class against random units (null: not measured)"),
        Key("episode", "list", "one game played by the case model, frame by frame"),
        Key("episode_actions", "object", "its action counts"),
        Key("circuit", "object", "the best two-layer checkpoint's circuit (null: the case is deep enough)"),
        Key("behaviour", "object", "the case model's play against the scripted references"),
        Key("self_preservation", "object", "the self-preservation circuit's z-scores (null: one hidden layer)"),
    ),
)
BASELINES = JsonSchema(
    "baselines.json",
    (
        Key("classes", "list", "the actions, in output order"),
        Key("test_states", "int", "test states measured"),
        Key("rule", "object", "the competence rule: statement, margin, floor, competent_macro_recall"),
        Key("baselines", "object", "each reference policy's accuracy, recall and confusion"),
        Key("validation", "object", "the same on the validation states"),
    ),
)
ANALYSIS_CONFIG = JsonSchema(
    "config.json",
    (
        Key("digest", "string", "AnalysisConfig.digest: the settings that change the numbers"),
        Key("data_dir", "string", "the dataset folder analysed"),
        Key(ANALYSED_DATASET_HASH, "string", "its dataset_hash"),
        Key("seed", "int", "the analysis seed"),
        Key("matched", "bool", "composition-matched contrasts (False: the paper's view)"),
        Key("controls", "bool", "whether the controls ran"),
        Key("statistics", "bool", "whether the significance tests ran"),
        Key("alpha", "float", "significance level"),
    ),
)
"""Its other keys are ``AnalysisConfig``'s fields, declared there (``dataclasses.asdict``)."""

# -- the study folder (study) --------------------------------------------------------------------------------
STUDY_DATA_FOLDER = "data"
"""The dataset's folder inside a study folder (``DATA_LAYOUT``)."""
STUDY_SWEEP_FOLDER = "sweep"
"""The sweep's run folder inside a study folder (``RUN_LAYOUT``; its analysis in ``ANALYSIS_FOLDER``)."""

STUDY = JsonSchema(
    "study.json",
    (
        Key("preset", "string", "the study file's name"),
        Key("package_version", "string", "the version that ran the study"),
        Key("stages", "object", "stage -> when it finished and how long it took"),
        Key("study", "object", "the study's settings"),
    ),
    error=MirrorNeuronsError,
    fix="run the study into a new folder (--out)",
)

# -- experiments ---------------------------------------------------------------------------------------------

PLANTED_TAGS = (
    Column("grid", "string", "unit or population"),
    Column("model_id", "string", "the model planted into"),
    Column("checkpoint", "string", "its checkpoint"),
    Column("rep", "int", "repetition"),
)
PLANTED_UNITS = TableSchema("units.parquet", PLANTED_TAGS, fix="run `mirror-neurons experiment planted` again")
"""One row per planted unit; its measures follow (``analysis.planted.analyze_plants``)."""
PLANTED_ANALYSES = TableSchema("analyses.parquet", PLANTED_TAGS, fix="run `mirror-neurons experiment planted` again")
"""One row per planted checkpoint; its checkpoint-level measures follow."""
PLANTED_SUMMARY = JsonSchema(
    "summary.json",
    (
        Key("alpha", "float", "significance level"),
        Key("kinds", "object", "kind of planted unit -> what it responds to"),
        Key("measures", "object", "measure that may detect them -> its rule in words"),
        Key("n_plants", "int", "unit-level plants"),
        Key("detection", "list", "detection rate per kind, effect and measure"),
        Key("false_positives", "list", "the detection rows of the negative controls: decoys and null plants"),
        Key("smallest_detected", "object", "per measure, the smallest effect detected"),
        Key("population", "list", "the population-level plants' checkpoint table"),
        Key("source", "string", "the study planted into"),
        Key("sweep", "string", "its analysed sweep folder"),
        Key("data_dir", "string", "its dataset folder"),
        Key("grid", "object", "the PlantedGrid"),
        Key("analysis_config", "object", "the AnalysisConfig the plants were measured with"),
        Key("models", "list", "the models and checkpoints planted into"),
        Key("seconds", "float", "wall time of the run"),
    ),
    fix="run `mirror-neurons experiment planted` again",
)

RL_FIX = "run `mirror-neurons experiment rl` again (it resumes)"
RL_GRID = JsonSchema(
    "grid.json",
    (
        Key("rewards", "list", "the agents' rewards, selfish and/or shared"),
        Key("dependencies", "list", "the dependencies D of the cells"),
        Key("seeds", "int", "agents per cell"),
        Key("partner", "string", "Toad's policy: a scripted policy, network or self"),
        Key("partner_checkpoint", "string", "the frozen partner's checkpoint (null: none)"),
        Key("eval_games", "int", "evaluation games per seed"),
        Key("eval_seeds", "int", "evaluation seeds"),
        Key("states_per_agent", "int", "visited states drawn per agent for the analysis"),
        Key("ppo", "object", "the agents' PPO settings (PPOConfig.to_dict)"),
    ),
    fix=RL_FIX,
)
"""The ``RLGrid`` (``RLGrid.to_dict``); a folder of another grid is refused."""
RL_SCRIPTED = JsonSchema(
    "scripted.json",
    (
        Key("cells", "object", "per D, each scripted policy's measures and whether cooperation pays"),
        Key("games_per_seed", "int", "games per evaluation seed"),
        Key("max_turns", "int", "turns per game"),
        Key("partner", "string", "Toad's policy"),
    ),
    fix=RL_FIX,
)
RL_BEHAVIOUR = JsonSchema(
    "behaviour.json",
    (
        Key("agents", "object", "model id -> the agent's behaviour"),
        Key("baselines", "object", "the scripted references on the agents' games"),
        Key("eval_seed", "int", "first evaluation seed"),
        Key("eval_games", "int", "games per evaluation"),
    ),
    fix=RL_FIX,
)
RL_SUMMARY = JsonSchema(
    "summary.json",
    (
        Key("cells", "object", "per reward and D: the agents' measures"),
        Key("baselines", "object", "the scripted references"),
        Key("hypotheses", "object", "the pre-registered tests (docs/rl.md) and their verdicts"),
        Key("agents_beat_random_score_per_turn", "object", "per reward and D: H0, agents beat random play"),
    ),
    fix=RL_FIX,
)
PPO_CONFIG = JsonSchema(
    "config.json",
    (
        Key("reward", "string", "the agent's reward: score, team, selfish or shared (game.vector_env.REWARDS)"),
        Key("dependency", "float", "the dependency D"),
        Key("partner", "string", "Toad's policy"),
        Key("seed", "int", "the agent's seed"),
        Key("hidden", "list", "the hidden widths of both networks, the policy and the value function"),
        Key("encoding", "string", "both networks' input encoding"),
        Key("total_steps", "int", "environment steps to train for"),
        Key("max_turns", "int", "turns per game"),
        Key("checkpoint_every", "int", "iterations between checkpoints"),
    ),
    fix=RL_FIX,
)
"""A PPO run's ``PPOConfig`` (``train.ppo``, ``PPOConfig.to_dict``); a resumed run must have the same one."""
PPO_LOG = JsonSchema(
    "log.json",
    (
        Key("iteration", "int", "the PPO iteration"),
        Key("env_steps", "int", "environment steps taken"),
        Key("policy_loss", "float", "clipped surrogate loss"),
        Key("value_loss", "float", "value-function loss"),
        Key("entropy", "float", "policy entropy"),
        Key("clip_fraction", "float", "share of ratios clipped"),
        Key("reward_per_step", "float", "mean reward per environment step"),
        Key("episode_return", "float", "mean return of the games finished (null: none)"),
    ),
    fix=RL_FIX,
    top="list",
)
"""One record per PPO iteration (``train.ppo``)."""

THEORY_FIX = "run `mirror-neurons experiment theory` again (it resumes)"
THEORY_GRID = JsonSchema(
    "grid.json",
    (
        Key("rate_max", "list", "the cells' signal complexities (the data's rate_max)"),
        Key("dependency", "list", "the cells' dependencies D"),
        Key("veil", "list", "the cells' veils I"),
        Key("hidden", "list", "the architectures' hidden widths"),
        Key("seeds", "int", "models per architecture and cell"),
        Key("n_states", "int", "states per cell's dataset"),
        Key("n_permutations", "int", "permuted-label draws per checkpoint"),
        Key("n_random_inits", "int", "untrained networks per architecture"),
        Key("lr", "float", "learning rate"),
        Key("batch_size", "int", "minibatch size"),
        Key("max_epochs", "int", "epochs at most"),
        Key("patience", "int", "early-stopping patience"),
        Key("dropout", "float", "dropout rate"),
        Key("seed", "int", "the experiment's seed"),
    ),
    error=DataError,
    fix=THEORY_FIX,
)
"""The grid (``TheoryGrid.to_dict``); a folder of another grid is refused."""
THEORY_MODEL_KEYS = (
    Key("cell", "string", "the dataset cell"),
    Key("rate_max", "float", "its signal complexity"),
    Key("dependency", "float", "its dependency D"),
    Key("veil", "float", "its veil I"),
    Key("S", "float", "signal complexity: distinct boards per thousand Frog states"),
    Key("S_H", "float", "signal complexity as label entropy"),
    Key("hidden", "list", "hidden widths"),
    Key("M", "int", "capacity: the model's parameters"),
    Key("hidden_units", "int", "hidden units"),
    Key("model_id", "string", "the model"),
    Key("seed", "int", "its seed"),
    Key("status", "string", "how its training ended"),
    Key("epochs", "int", "epochs trained"),
    Key("reached_threshold", "bool", "the chosen checkpoint's val loss is under the paper's 0.06"),
    Key("E", "float", "error: 1 - the best validation accuracy"),
    Key("epoch", "int", "epoch of the chosen checkpoint"),
    Key("val_loss", "float", "its validation loss"),
    Key("val_accuracy", "float", "its validation accuracy"),
    Key("cmni", "float", "its CMNI on the analysed states"),
    Key("perm_q95", "float", "95th percentile of CMNI under permuted labels"),
    Key("init_q95", "float", "95th percentile of CMNI of untrained networks"),
    Key("p_perm", "float", "p of CMNI against permuted labels"),
    Key("p_init", "float", "p of CMNI against untrained networks"),
    Key("n_mirror", "int", "units classed mirror"),
    Key("n_units", "int", "units counted"),
    Key("lowest", "object", "the same measures of the lowest-loss checkpoint"),
    *(
        Key(f"emergent_{definition}{which}", "bool", f"emergence by the {definition} definition{words}")
        for definition in ("paper", "chance")
        for which, words in (("", ""), ("_lowest", ", of the lowest-loss checkpoint"))
    ),
)
"""One model's record (``experiments.theory.run.run_cell``)."""
THEORY_CELL_MODELS = JsonSchema("models.json", THEORY_MODEL_KEYS, error=DataError, fix=THEORY_FIX, top="list")
"""One record per model of the cell, written when the cell is complete."""
THEORY_RECORDS = JsonSchema(
    "records.json",
    (*THEORY_MODEL_KEYS, Key("scale_free", "object", "the cell's scale_free.json row of the model")),
    error=DataError,
    fix=THEORY_FIX,
    top="list",
)
"""One record per model of every cell."""
THEORY_SUMMARY = JsonSchema(
    "summary.json",
    (
        Key("n_models", "int", "models with a record"),
        Key("definitions", "object", "per emergence definition: counts, proportions, the fit and its verdicts"),
        Key("nulls_by_M", "list", "the nulls' quantiles by capacity"),
        Key("exploratory", "object", "the exploratory (not pre-registered) results"),
        Key("S_by_complexity", "object", "per rate_max, the mean signal complexities"),
        Key("reached_threshold", "int", "models whose checkpoint reached the paper's loss threshold"),
        Key("cmni", "object", "median and max CMNI"),
    ),
    error=DataError,
    fix=THEORY_FIX,
)
THEORY_SCALE_FREE = JsonSchema(
    "scale_free.json",
    (
        Key("model_id", "string", "the model"),
        Key("es_cmni", "float", "the scale-free index of its analysed checkpoint"),
        Key("es_init_q95", "float", "95th percentile of the index of untrained networks"),
        Key("es_init_median", "float", "their median"),
        Key("es_p_init", "float", "p of the index against them"),
    ),
    error=DataError,
    fix=THEORY_FIX,
    top="list",
)
"""Exploratory: one row per model of the cell (``experiments.theory.run.scale_free_cell``)."""

THEORY2_FIX = "run `mirror-neurons experiment theory --round 2` again (it resumes)"
THEORY2_GRID = JsonSchema(
    "grid.json",
    (
        Key("round", "int", "2"),
        Key("rate_max", "list", "the cells' signal complexities"),
        Key("dependency", "list", "the cells' dependencies D"),
        Key("veil", "list", "the cells' veils I"),
        Key("data_replicates", "int", "datasets per cell"),
        Key("widths", "list", "hidden widths"),
        Key("depths", "list", "hidden layer counts"),
        Key("seeds", "int", "models per architecture and dataset"),
        Key("n_states", "int", "states per dataset"),
        Key("n_bootstrap", "int", "bootstrap draws of the paired change"),
        Key("sampling", "string", "how the datasets' states are drawn"),
        Key("encoding", "string", "input encoding"),
        Key("loss", "string", "training objective"),
        Key("lr", "float", "learning rate"),
        Key("batch_size", "int", "minibatch size"),
        Key("max_epochs", "int", "epochs at most"),
        Key("patience", "int", "early-stopping patience"),
        Key("dropout", "float", "dropout rate"),
        Key("seed", "int", "the experiment's seed"),
    ),
    error=DataError,
    fix=THEORY2_FIX,
)
"""Round two's grid (``RoundTwoGrid.to_dict``); a folder of another grid is refused."""
THEORY2_MODEL_KEYS = (
    Key("cell", "string", "the dataset cell"),
    Key("dataset", "string", "the dataset (its cell's name)"),
    Key("rate_max", "float", "signal complexity setting"),
    Key("dependency", "float", "dependency D"),
    Key("veil", "float", "veil I"),
    Key("replicate", "int", "the dataset's replicate"),
    Key("arm", "string", "with-help or help-free, from the measured help labels"),
    Key("help_rows", "int", "help labels in the natural distribution"),
    Key("S", "float", "signal complexity: distinct boards per thousand Frog states"),
    Key("S_H", "float", "signal complexity as label entropy"),
    Key("hidden", "list", "hidden widths"),
    Key("width", "int", "hidden width"),
    Key("depth", "int", "hidden layers"),
    Key("M", "int", "capacity: the model's parameters"),
    Key("model_id", "string", "the model"),
    Key("seed", "int", "its seed"),
    Key("status", "string", "how its training ended"),
    Key("epochs", "int", "epochs trained"),
    Key("trained_epoch", "int", "epoch of the trained checkpoint"),
    Key("val_loss", "float", "its validation loss"),
    Key("accuracy", "float", "its accuracy on the analysed states"),
    Key("macro_recall", "float", "its macro recall"),
    Key("recall", "list", "its recall per action (null: action absent)"),
    Key("competent", "bool", "passes the task-competence rule"),
    Key("energy_accuracy", "float", "the energy rule's accuracy on the same states"),
    Key("energy_macro_recall", "float", "its macro recall"),
    Key("es_init", "float", "scale-free index at initialisation"),
    Key("es_trained", "float", "scale-free index trained"),
    Key("cmni_init", "float", "CMNI at initialisation"),
    Key("cmni_trained", "float", "CMNI trained"),
    Key("es_change", "float", "trained - init of the scale-free index"),
    Key("es_change_se", "float", "its bootstrap standard error"),
    Key("es_change_z", "float", "change / standard error"),
    Key("emergent_paper", "bool", "emergence by the paper's definition"),
    Key("emergent_paired", "bool", "emergence beyond the model's own initialisation"),
)
"""One model's record (``experiments.theory.round2.run_cell``)."""
THEORY2_CELL_MODELS = JsonSchema("models.json", THEORY2_MODEL_KEYS, error=DataError, fix=THEORY2_FIX, top="list")
THEORY2_RECORDS = JsonSchema("records.json", THEORY2_MODEL_KEYS, error=DataError, fix=THEORY2_FIX, top="list")
THEORY2_SUMMARY = JsonSchema(
    "summary.json",
    (
        Key("round", "int", "2: the report lays out round two's section"),
        Key("n_models", "int", "models with a record"),
        Key("competent", "int", "competent models"),
        Key("arms", "object", "per arm: the paired tests and verdicts"),
        Key("power", "object", "the power of the tests"),
        Key("grid", "object", "the grid"),
        Key("S_by_complexity", "object", "per rate_max, the mean signal complexities"),
        Key("timing", "object", "measured seconds per cell (empty: no timing.json)"),
    ),
    error=DataError,
    fix=THEORY2_FIX,
)
THEORY2_TIMING = JsonSchema(
    "timing.json",
    (
        Key("data_s", "float", "seconds building the cell's dataset"),
        Key("train_s", "float", "seconds training its models"),
        Key("analysis_s", "float", "seconds of the paired analysis"),
        Key("models", "int", "models trained"),
    ),
    error=DataError,
    fix=THEORY2_FIX,
)

# -- where each file lies ------------------------------------------------------------------------------------

Layout = tuple[tuple[str, TableSchema | JsonSchema], ...]
"""(path pattern inside a folder, the declaration of the files there), first match wins (``declared``)."""


def _here(*schemas: TableSchema | JsonSchema, under: str = "") -> Layout:
    """Each declaration at its own file name in the folder ``under`` (``""``: the folder itself)."""
    return tuple((f"{under}{s.file}", s) for s in schemas)


def _inside(folder: str, layout: Layout) -> Layout:
    """``layout`` moved into ``folder`` (``sweep/``)."""
    return tuple((f"{folder}{p}", s) for p, s in layout)


DATA_LAYOUT: Layout = (*((split_file(s), SPLIT) for s in SPLITS), *_here(MANIFEST))
RUN_LAYOUT: Layout = (
    *_here(RUN, SWEEP_SUMMARY),
    (f"models/*/{RESUME_STATE_FILE}", RESUME_STATE),
    (f"models/*/{RESUME_EPOCH_FILES}", RESUME_STATE),
    *_here(CHECKPOINT_META, under="models/*/"),  # after the resume state, which the pattern would also match
)
ANALYSIS_LAYOUT: Layout = _here(CHECKPOINTS, UNITS, PAIRED_MODELS, PAIRED, CASE, BASELINES, ANALYSIS_CONFIG)
STUDY_LAYOUT: Layout = (
    *_here(STUDY),
    *_inside("data/", DATA_LAYOUT),
    *_inside("sweep/analysis/", ANALYSIS_LAYOUT),
    *_inside("sweep/", RUN_LAYOUT),
)
"""Path inside a study folder (``mirror-neurons run``) -> the declaration of the file there, first match wins.
The same files in a stage's own --out folder: ``DATA_LAYOUT``, ``RUN_LAYOUT``, ``ANALYSIS_LAYOUT`` (RUN/analysis/)."""
PLANTED_LAYOUT: Layout = _here(PLANTED_UNITS, PLANTED_ANALYSES, PLANTED_SUMMARY)
RL_LAYOUT: Layout = (
    *_here(RL_GRID, RL_SCRIPTED, RL_BEHAVIOUR, RL_SUMMARY),
    *_inside("states/", DATA_LAYOUT),
    *_inside("agents/analysis/", ANALYSIS_LAYOUT),
    # each PPO agent's folder (train.ppo), after the analysis folder, which the patterns would also match
    *_here(PPO_CONFIG, PPO_LOG, under="agents/*/"),
    *_here(CHECKPOINT_META, under="agents/*/checkpoints/"),
)
THEORY_LAYOUT: Layout = (
    *_here(THEORY_GRID, THEORY_RECORDS, THEORY_SUMMARY),
    *_here(THEORY_CELL_MODELS, THEORY_SCALE_FREE, under="cells/*/"),
    *_inside("cells/*/data/", DATA_LAYOUT),
    *_inside("cells/*/run/", tuple((p, s) for p, s in RUN_LAYOUT if s is not SWEEP_SUMMARY)),  # train_many, no sweep
)
THEORY2_LAYOUT: Layout = (
    *_here(THEORY2_GRID, THEORY2_RECORDS, THEORY2_SUMMARY),
    *_here(THEORY2_CELL_MODELS, THEORY2_TIMING, under="cells/*/"),
    *_inside("cells/*/data/", DATA_LAYOUT),
    *_inside("cells/*/run/", tuple((p, s) for p, s in RUN_LAYOUT if s is not SWEEP_SUMMARY)),
)


def declared(path: str, layout: Layout = STUDY_LAYOUT):
    """The declaration of the file at ``path`` (relative, with ``/``) in a folder of ``layout``; None if undeclared."""
    return next((schema for pattern, schema in layout if fnmatchcase(path, pattern)), None)
