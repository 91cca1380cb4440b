"""Read a finished run into ``ReportInputs``: the one place the report touches the disk.

A run folder is either a study folder (``study.json``, ``data/``, ``sweep/``)
or a sweep's run folder with an ``analysis/`` folder (then ``data_dir`` names
the dataset). Everything comes from the analysis stage's files, read under
their declared names (``mirror_neurons.tables``): the per-checkpoint table
(``checkpoints.parquet``), the paired test (``paired.json``), the baselines, and
the case example with its arrays (``case.json``, ``case.safetensors``, chosen and
measured by ``analysis.case``, its behaviour in the game included). The
report measures nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mirror_neurons import atomic, tables
from mirror_neurons.analysis.case import CASE_FILE, read_case
from mirror_neurons.analysis.groups import GROUPS
from mirror_neurons.analysis.paired import PAIRED_FILE, PAIRED_MODELS_FILE
from mirror_neurons.analysis.paired import read_paired as read_paired_file
from mirror_neurons.analysis.pipeline import CHANCE_P, read_parquet
from mirror_neurons.analysis.pipeline import read_baselines as pipeline_baselines
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.analysis.competence import COMPETENT_COLUMN, CONFUSION_COLUMNS, MACRO_RECALL_COLUMN, RECALL_COLUMNS
from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import Action, Scenario
from mirror_neurons.progress import Progress
from mirror_neurons.report.inputs import CHECKPOINT_COLUMNS, LOSS_THRESHOLD, Case, ReportInputs, load_reference_curve

log = logging.getLogger(__name__)

REPORT_STEPS = 3
"""The report's ``progress`` steps: reading the tables, reading the case example, drawing and writing."""

COMPETENCE_COLUMNS = (*RECALL_COLUMNS, MACRO_RECALL_COLUMN, COMPETENT_COLUMN, *CONFUSION_COLUMNS)
"""Columns the analysis writes under these names (``analysis.competence``), read as they are."""


def locate(run_dir: Path, data_dir: Path | None) -> tuple[Path, Path, dict]:
    """(sweep run folder, dataset folder, study record) of a study folder or a bare sweep folder."""
    record_file = run_dir / tables.STUDY.file
    fix = "rerun the stage that wrote it (`mirror-neurons run` with the same --out, or `mirror-neurons analyze`)"
    record = (
        tables.STUDY.require(atomic.read_json_object(record_file, AnalysisError, fix), record_file)
        if record_file.is_file()
        else {}
    )
    study_sweep = run_dir / tables.STUDY_SWEEP_FOLDER
    sweep = study_sweep if study_sweep.is_dir() else run_dir
    analysis = sweep / tables.ANALYSIS_FOLDER
    if data_dir is None:
        data_dir = run_dir / tables.STUDY_DATA_FOLDER
        saved = analysis / tables.ANALYSIS_CONFIG.file
        if not (data_dir / tables.MANIFEST.file).is_file() and saved.is_file():
            config = tables.ANALYSIS_CONFIG.require(atomic.read_json_object(saved, AnalysisError, fix), saved)
            data_dir = Path(config["data_dir"])  # where the analysis read it
    for table in (tables.CHECKPOINTS.file, tables.UNITS.file):  # an analysis without either is unfinished
        if not (analysis / table).is_file():
            raise AnalysisError(
                f"{sweep} has no {tables.ANALYSIS_FOLDER}/{table}; run `mirror-neurons analyze {sweep}` "
                f"(or `mirror-neurons run`) before the report"
            )
    if not (Path(data_dir) / tables.MANIFEST.file).is_file():
        raise AnalysisError(f"no dataset at {data_dir}; pass the run's dataset with --data DIR")
    return sweep, Path(data_dir), record


FLAGS = ("init", *COMPETENCE_COLUMNS)
"""Columns read as floats: null (not measured) -> NaN, True/False -> 1.0/0.0."""


def read_checkpoint_table(path: Path, notes: list[str]) -> dict[str, np.ndarray]:
    """``analysis/checkpoints.parquet`` under its declared names (``tables.CHECKPOINTS``), after checking it against
    that declaration: a table without a column the analysis always writes is refused. ``hidden`` is read as the
    report shows it ('17x17', ``tables.hidden_label``); columns the table lacks are NaN."""
    table = tables.CHECKPOINTS.require(read_parquet(path), path)  # a damaged file is one line, not a pyarrow traceback
    if table.num_rows == 0:
        raise AnalysisError(
            f"{path} holds no checkpoints; run `mirror-neurons analyze` on a run with checkpoints first"
        )
    names = table.column_names
    out: dict[str, np.ndarray] = {}
    for column in tables.CHECKPOINTS.names:
        if column in names:
            out[column] = np.asarray(table.column(column).to_numpy(zero_copy_only=False))
    for column in FLAGS:
        if column in names:
            out[column] = np.array([np.nan if v is None else float(v) for v in table.column(column).to_pylist()])
    out["hidden"] = np.array([tables.hidden_label(h) for h in out["hidden"]])
    for column in CHECKPOINT_COLUMNS:
        if column not in out:
            out[column] = np.full(table.num_rows, np.nan)
    controls = "p_random_init" in names or "p_permutation" in names
    if controls and CHANCE_P not in names:
        notes.append(
            f"The analysis table predates its {CHANCE_P} column (the chance test), so no checkpoint reads as beating "
            f"chance; run `mirror-neurons analyze` again."
        )
    measured = ("p_random_init", "p_permutation", "cmni_ci_low", "cmni_ci_high", "n_mirror")  # absent when not run
    absent = [k for k in measured if np.all(pd_isnan(out[k]))]
    if absent:
        notes.append(f"The analysis table has no values for {', '.join(absent)}; those cells read n/a.")
    return out


def pd_isnan(a: np.ndarray) -> np.ndarray:
    try:
        return np.isnan(np.asarray(a, dtype=float))
    except (TypeError, ValueError):
        return np.zeros(len(a), dtype=bool)


def read_histories(sweep: Path) -> dict[str, list[dict]]:
    """Model id -> its every epoch's history row, from the trainer's ``models/<id>/state.json``
    (``tables.RESUME_STATE``, rows ``tables.RESUME_HISTORY``); empty for a run that left none."""
    histories = {}
    for f in sorted(sweep.glob(f"models/*/{tables.RESUME_STATE_FILE}")):
        state = tables.RESUME_STATE
        record = state.require(atomic.read_json_object(f, state.error, state.fix), f)
        histories[record["model_id"]] = tables.RESUME_HISTORY.require(record["history"], f)
    return histories


def read_curves(
    histories: dict[str, list[dict]], checkpoints: dict[str, np.ndarray], notes: list[str]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validation loss of every epoch per model, from the trainer's histories (``read_histories``).

    Falls back to the checkpoints' own (epoch, val loss) pairs, which are only
    the improving epochs, and says so in the report.
    """
    curves = {}
    for model, rows in histories.items():
        rows = [r for r in rows if r["val_loss"] is not None]
        if rows:
            curves[model] = (np.array([r["epoch"] for r in rows]), np.array([r["val_loss"] for r in rows], dtype=float))
    if curves:
        return curves
    notes.append(
        "The sweep left no per-epoch history, so the loss curves show the improving epochs (the checkpoints) only."
    )
    models = np.asarray(checkpoints["model_id"])
    for m in dict.fromkeys(models.tolist()):
        sel = models == m
        order = np.argsort(np.asarray(checkpoints["epoch"])[sel])
        curves[str(m)] = (
            np.asarray(checkpoints["epoch"])[sel][order],
            np.asarray(checkpoints["val_loss"], dtype=float)[sel][order],
        )
    return curves


LEARNING_METRIC = "val_macro_recall"
"""The per-epoch history score of the learning curves (``tables.RESUME_HISTORY``)."""


def read_learning(
    histories: dict[str, list[dict]], checkpoints: dict[str, np.ndarray], notes: list[str]
) -> tuple[dict, str]:
    """({model: (epochs, score)}, metric): validation macro recall of every epoch per model.

    From the trainer's histories (``read_histories``); without them, the test macro recall of each
    checkpoint from the analysis table (improving epochs only), and the report says so.
    """
    curves = {}
    for model, rows in histories.items():
        mine = [r for r in rows if r[LEARNING_METRIC] is not None]
        if mine:
            curves[model] = (
                np.array([r["epoch"] for r in mine]),
                np.array([r[LEARNING_METRIC] for r in mine], dtype=float),
            )
    if curves:
        return curves, LEARNING_METRIC
    notes.append(
        "The sweep's histories record no validation recall per epoch, so the learning curves show "
        "the test macro recall of the checkpoints (the improving epochs) only."
    )
    models = np.asarray(checkpoints["model_id"])
    macro = np.asarray(checkpoints.get(MACRO_RECALL_COLUMN, np.full(len(models), np.nan)), dtype=float)
    curves = {}
    for m in dict.fromkeys(models.tolist()):
        sel = np.flatnonzero(models == m)
        sel = sel[np.argsort(np.asarray(checkpoints["epoch"])[sel])]
        if np.isfinite(macro[sel]).any():
            curves[str(m)] = (np.asarray(checkpoints["epoch"])[sel], macro[sel])
    return curves, MACRO_RECALL_COLUMN


def competent_counts(checkpoints: dict[str, np.ndarray]) -> str:
    """'k of n / j of m': competent checkpoints, and models with a competent checkpoint; 'not measured' without the column."""
    flag = np.asarray(checkpoints.get(COMPETENT_COLUMN, []), dtype=float)
    if not len(flag) or not np.isfinite(flag).all():
        return "not measured"
    models = np.asarray(checkpoints["model_id"]).astype(str)
    return f"{int((flag == 1).sum())} of {len(flag)} / {len(set(models[flag == 1]))} of {len(set(models))}"


def read_baselines(sweep: Path, notes: list[str]) -> dict | None:
    """``analysis/baselines.json``, or None (with a note) for an analysis written before it existed."""
    path = sweep / tables.ANALYSIS_FOLDER / tables.BASELINES.file
    if not path.is_file():
        notes.append(
            "The analysis wrote no baselines.json (it predates the baselines); run `mirror-neurons analyze` again."
        )
        return None
    return pipeline_baselines(sweep / tables.ANALYSIS_FOLDER)


PAIRED_MISSING = (
    "Not established: rerun `mirror-neurons analyze` on a run trained with this version, whose models "
    "have epoch-0 checkpoints. This analysis has no paired test of trained networks against their own "
    "initialisation (analysis/paired.json)."
)


def read_paired(sweep: Path) -> tuple[dict, dict | None, dict[str, np.ndarray]]:
    """(answer, paired.json, paired_models columns) of ``analysis.paired``; without paired.json the answer says
    the question is not established and how to get it."""
    path = sweep / tables.ANALYSIS_FOLDER / PAIRED_FILE
    if not path.is_file():
        return (
            {
                "verdict": "not established",
                "decided_by": "none: no paired test in this analysis",
                "headline": PAIRED_MISSING,
                "evidence": [],
                "configuration": None,
                "measure": None,
            },
            None,
            {},
        )
    paired = read_paired_file(path)
    answer = paired["answer"]
    models: dict[str, np.ndarray] = {}
    if (sweep / tables.ANALYSIS_FOLDER / PAIRED_MODELS_FILE).is_file():
        path = sweep / tables.ANALYSIS_FOLDER / PAIRED_MODELS_FILE
        table = tables.PAIRED_MODELS.require(read_parquet(path), path)
        models = {k: np.asarray(v) for k, v in table.to_pydict().items()}
    return answer, paired, models


def read_case_inputs(
    sweep: Path, checkpoints: dict[str, np.ndarray], notes: list[str]
) -> tuple[Case | None, dict | None, dict | None]:
    """(the case, the two-layer circuit or None, its behaviour or None) from ``analysis/case.json`` and ``case.safetensors``
    (``analysis.case``), joined to the case's row of the checkpoint table. None without case files, with a note."""
    found = read_case(sweep / tables.ANALYSIS_FOLDER)
    if found is None:
        notes.append(
            f"The analysis wrote no case example (analysis/{CASE_FILE}): no checkpoint could be chosen, or the "
            f"analysis predates it; run `mirror-neurons analyze {sweep}` again."
        )
        return None, None, None
    f, arrays = found
    paths = np.asarray(checkpoints["checkpoint"]).astype(str)
    at = np.flatnonzero(paths == str(f["checkpoint"]))
    if not len(at):
        raise AnalysisError(
            f"{sweep}/analysis/{CASE_FILE} names checkpoint {f['checkpoint']}, which the checkpoint table "
            f"does not hold; run `mirror-neurons analyze {sweep}` again"
        )
    i = int(at[0])
    row = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in checkpoints.items()}
    row["_episode_actions"] = f.get("episode_actions", {})
    names = list(f["layer_names"])
    per_layer = lambda key: [arrays[f"{key}.{n}"] for n in names]  # noqa: E731
    models = np.asarray(checkpoints["model_id"])
    sel = np.flatnonzero(models == row["model_id"])
    sel = sel[np.argsort(np.asarray(checkpoints["epoch"])[sel])]
    history = {
        k: np.asarray(checkpoints[k])[sel]
        for k in ("epoch", "cmni", "cmni_effect_size", "val_loss", "init", COMPETENT_COLUMN)
    }
    ablation = f.get("ablation")
    if ablation:  # missing values are null in JSON, NaN in the figures
        ablation["values"] = {k: [np.nan if v is None else v for v in vs] for k, vs in ablation["values"].items()}
    case = Case(
        name=f"{row['model_id']}, epoch {int(row['epoch'])}",
        rule=f["rule"],
        row=row,
        layer_names=names,
        classes=f["classes"],
        means=per_layer("means"),
        variance=per_layer("variance"),
        skewness=per_layer("skewness"),
        kurtosis=per_layer("kurtosis"),
        kernels=[arrays[f"kernel.{k}"] for k in range(len(names))],
        boxes={label: [arrays[f"boxes.{k}.{g}"] for g in GROUPS] for k, label in enumerate(f["boxes"])},
        nulls={name: arrays[f"nulls.{k}"] for k, name in enumerate(f["nulls"])},
        group_sizes=f["group_sizes"],
        weight_tables=f["weight_tables"],
        ablation=ablation,
        episode=f["episode"],
        history=history,
        self_preservation=f.get("self_preservation"),
    )
    small = {g: n for g, n in case.group_sizes.items() if n < 100}
    if small:
        notes.append(
            "Some scenario groups of the test set are small ("
            + ", ".join(f"{g} {n}" for g, n in small.items())
            + " states), so per-unit statistics of those groups are noisy and intervals are wide."
        )
    circuit = None
    if f.get("circuit"):
        c = f["circuit"]
        circuit = {
            "name": f"{c['model_id']}, epoch {c['epoch']}",
            "classes": c["classes"],
            "competent": c["competent"],
            "kernels": [arrays[f"circuit.kernel.{k}"] for k in range(len(c["classes"]))],
            "self_preservation": c.get("self_preservation"),
        }
    return case, circuit, f.get("behaviour")


def collect(
    run_dir: str | Path,
    data_dir: str | Path | None = None,
    *,
    progress: Progress | None = None,
    threshold: float = LOSS_THRESHOLD,
) -> ReportInputs:
    """Everything the report shows, read from a finished run (``progress``: steps 0 and 1 of the report's 3)."""
    say = progress or (lambda done, total, note="": None)
    run_dir = Path(run_dir)
    sweep, data, record = locate(run_dir, Path(data_dir) if data_dir else None)
    notes: list[str] = []
    say(0, REPORT_STEPS, "reading the analysis tables")
    checkpoints = read_checkpoint_table(sweep / tables.ANALYSIS_FOLDER / tables.CHECKPOINTS.file, notes)
    dataset = load_dataset(data, splits=("test",))
    manifest = dataset.manifest
    distributions = {}
    for key, enum in (("label", Action), ("scenario", Scenario)):
        total = {member.name.lower(): 0 for member in enum}  # in code order, not the manifest's sorted order
        for split in ("train", "val"):
            for k, v in manifest.get("distributions", {}).get(split, {}).get(key, {}).items():
                total[k] = total.get(k, 0) + int(v)
        distributions[key] = total
    histories = read_histories(sweep)
    curves = read_curves(histories, checkpoints, notes)
    learning, learning_metric = read_learning(histories, checkpoints, notes)
    baselines = read_baselines(sweep, notes)
    answer, paired, paired_models = read_paired(sweep)
    say(1, REPORT_STEPS, "reading the case example")
    case, circuit, case_behaviour = read_case_inputs(sweep, checkpoints, notes)
    behaviour = None
    if case is not None and case_behaviour is not None:  # rates not measured are null in JSON, NaN in figures
        values = {k: [np.nan if v is None else v for v in vs] for k, vs in case_behaviour["values"].items()}
        behaviour = {
            **case_behaviour,
            "values": values,
            "checkpoint": case.name,
            "competent": case.row.get(COMPETENT_COLUMN) == 1.0,
        }
    rows = manifest.get("rows", {})
    stages = record.get("stages", {})
    facts = {
        "states (train / val / test)": " / ".join(f"{int(rows.get(s, 0)):,}" for s in ("train", "val", "test")),
        "models": len(curves),
        "checkpoints": len(checkpoints["cmni"]),
        "competent checkpoints / models": competent_counts(checkpoints),
        **{
            f"{s} (s)": f"{stages[s]['seconds']:.0f}"
            for s in ("data", "sweep", "analysis", "report")
            if "seconds" in stages.get(s, {})
        },
    }
    if stages:
        facts["data to analysis (s)"] = (
            f"{sum(stages.get(k, {}).get('seconds', 0) for k in ('data', 'sweep', 'analysis')):.0f}"
        )
    preset = record.get("preset", "custom")
    if preset != "paper":
        notes.insert(
            0,
            (
                f"This is a {preset} run: {int(rows.get('train', 0)) + int(rows.get('val', 0)):,} training and validation "
                f"states and {len(curves)} models, where the paper used about 6 million states and 50 configurations trained "
                f"for up to 500 epochs. Comparisons with the paper's absolute figures (losses, accuracy, CMNI values) are "
                f"therefore indicative; the chance tests and confidence intervals are valid at any scale."
            ),
        )
    return ReportInputs(
        title="Mirror-neuron patterns: study report",
        run_dir=str(run_dir),
        preset=preset,
        distributions=distributions,
        curves=curves,
        checkpoints=checkpoints,
        reference=load_reference_curve(),
        case=case,
        behaviour=behaviour,
        circuit=circuit,
        facts=facts,
        notes=notes,
        threshold=threshold,
        baselines=baselines,
        learning=learning,
        learning_metric=learning_metric,
        answer=answer,
        paired=paired,
        paired_models=paired_models,
    )
