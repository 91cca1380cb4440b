"""Read a finished run into ``ReportInputs``: the one place the report touches the disk.

A run folder is either a study folder (``study.json``, ``data/``, ``sweep/``)
or a sweep's run folder with an ``analysis/`` folder (then ``data_dir`` names
the dataset). The per-checkpoint table comes from the analysis stage
(``analysis/checkpoints.parquet``); the case checkpoint is then measured again
here with the analysis library (activations, groups, moments, unit classes,
nulls, circuits, ablation, behaviour), because the report needs raw
activations for its box plots and a null distribution to draw.

Case rule (stated in the report): among the competent checkpoints
(``analysis.competence``) when there are any, otherwise among all (and the
report says so): those with validation loss under the paper's threshold (or
the lowest-loss quarter when none reaches it), the one with the most mirror
units; ties go to the smaller p-value, then the larger CMNI. The behaviour
section measures the case model, so it plays a competent network when one exists.
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from mirror_neurons import atomic
from mirror_neurons.analysis import tables
from mirror_neurons.analysis.competence import COMPETENT_COLUMN, CONFUSION_COLUMNS, MACRO_RECALL_COLUMN, RECALL_COLUMNS
from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import Action, Scenario
from mirror_neurons.report.inputs import CHECKPOINT_COLUMNS, LOSS_THRESHOLD, Case, ReportInputs, load_reference_curve

log = logging.getLogger(__name__)

CASE_RULE = ("among the competent checkpoints (all checkpoints when none is competent), those with validation loss "
             "under the threshold (or the lowest-loss quarter when none reaches it); of these, the one with the most "
             "mirror units; ties go to the smaller p-value, then the larger CMNI.")
COMPETENCE_COLUMNS = (*RECALL_COLUMNS, MACRO_RECALL_COLUMN, COMPETENT_COLUMN, *CONFUSION_COLUMNS)
"""Columns the analysis writes under these names (``analysis.competence``), read as they are."""

READ_AS = {
    "model": "model_id", "hidden": "hidden", "layers": "n_layers", "lr": "hyperparameters.lr",
    "batch_size": "hyperparameters.batch_size", "loss": "hyperparameters.loss", "encoding": "encoding", "epoch": "epoch",
    "init": "init", "val_loss": "val_loss", "accuracy": "test_accuracy", "mne": "mne", "cmni": "cmni",
    "cmni_effect_size": "cmni_effect_size", "p_random_init": "p_random_init", "p_permutation": "p_permutation",
    "ci_low": "cmni_ci_low", "ci_high": "cmni_ci_high", "null_random_init_mean": "null_random_init_mean",
    "null_permutation_mean": "null_permutation_mean", "n_mirror": "n_mirror", "n_anti_mirror": "n_anti_mirror",
    "n_differentiating": "n_differentiating", "n_mixed": "n_mixed", "path": "checkpoint",
}
"""The report's name of each column it reads -> its declared name in ``analysis.tables.CHECKPOINTS`` (one each)."""


def locate(run_dir: Path, data_dir: Path | None) -> tuple[Path, Path, dict]:
    """(sweep run folder, dataset folder, study record) of a study folder or a bare sweep folder."""
    record_file = run_dir / "study.json"
    fix = "rerun the stage that wrote it (`mirror-neurons run` with the same --out, or `mirror-neurons analyze`)"
    record = atomic.read_json_object(record_file, AnalysisError, fix) if record_file.is_file() else {}
    sweep = run_dir / "sweep" if (run_dir / "sweep").is_dir() else run_dir
    if data_dir is None:
        data_dir = run_dir / "data"
        saved = sweep / "analysis" / "config.json"
        if not (data_dir / "manifest.json").is_file() and saved.is_file():
            recorded = atomic.read_json_object(saved, AnalysisError, fix).get("data_dir")
            data_dir = Path(recorded) if isinstance(recorded, str) else data_dir  # where the analysis read it
    for table in ("checkpoints.parquet", "units.parquet"):  # an analysis without either is unfinished
        if not (sweep / "analysis" / table).is_file():
            raise AnalysisError(
                f"{sweep} has no analysis/{table}; run `mirror-neurons analyze {sweep}` "
                f"(or `mirror-neurons run`) before the report"
            )
    if not (Path(data_dir) / "manifest.json").is_file():
        raise AnalysisError(f"no dataset at {data_dir}; pass the run's dataset with --data DIR")
    return sweep, Path(data_dir), record


def read_checkpoint_table(path: Path, notes: list[str]) -> dict[str, np.ndarray]:
    """``analysis/checkpoints.parquet`` under the report's names (``READ_AS``), after checking it against its
    declaration (``analysis.tables.CHECKPOINTS``): a table without a column the analysis always writes is refused."""
    from mirror_neurons.analysis.pipeline import read_parquet

    table = tables.CHECKPOINTS.require(read_parquet(path), path)  # a damaged file is one line, not a pyarrow traceback
    if table.num_rows == 0:
        raise AnalysisError(f"{path} holds no checkpoints; run `mirror-neurons analyze` on a run with checkpoints first")
    names = table.column_names
    n = table.num_rows
    nan = np.full(n, np.nan)
    out: dict[str, np.ndarray] = {}
    for key, column in READ_AS.items():
        if column in names:
            out[key] = np.asarray(table.column(column).to_numpy(zero_copy_only=False))
    for key in (*COMPETENCE_COLUMNS, "init"):  # null (not measured) -> NaN; True/False -> 1.0/0.0
        if key in names:
            out[key] = np.array([np.nan if v is None else float(v) for v in table.column(key).to_pylist()])
    out["hidden"] = np.array([tables.hidden_label(h) for h in out["hidden"]])
    p_init = np.asarray(out.get("p_random_init", nan), dtype=float)
    p_perm = np.asarray(out.get("p_permutation", nan), dtype=float)
    # Beating chance needs both controls: the larger p-value (intersection-union test).
    out["p_value"] = np.fmax(p_init, p_perm)
    out["null_mean"] = np.fmax(np.asarray(out.get("null_random_init_mean", nan), dtype=float),
                              np.asarray(out.get("null_permutation_mean", nan), dtype=float))
    for key in CHECKPOINT_COLUMNS:
        if key not in out:
            out[key] = nan.copy()
    measured = ("p_random_init", "p_permutation", "ci_low", "ci_high", "n_mirror")  # absent when a measure did not run
    absent = [k for k in measured if np.all(pd_isnan(out[k]))]
    if absent:
        notes.append(f"The analysis table has no values for {', '.join(absent)}; those cells read n/a.")
    return out


def checkpoint_path(sweep: Path, row: dict) -> Path:
    path = Path(str(row.get("path"))) if row.get("path") not in (None, "") else None
    if path is not None and not path.is_absolute():
        path = sweep / path
    if path is None or not path.with_suffix(".json").is_file():
        raise AnalysisError(f"checkpoint file {path} of the analysis table is missing from {sweep}; rerun the analysis")
    return path


def pd_isnan(a: np.ndarray) -> np.ndarray:
    try:
        return np.isnan(np.asarray(a, dtype=float))
    except (TypeError, ValueError):
        return np.zeros(len(a), dtype=bool)


def choose_case(checkpoints: dict[str, np.ndarray], threshold: float, min_layers: int = 1) -> int | None:
    """Index of the case checkpoint by ``CASE_RULE`` among models of at least ``min_layers`` hidden layers."""
    loss = np.asarray(checkpoints["val_loss"], dtype=float)
    deep = np.asarray(checkpoints["layers"], dtype=float) >= min_layers if min_layers > 1 else np.ones(len(loss), bool)
    competent = np.asarray(checkpoints.get(COMPETENT_COLUMN, np.zeros(len(loss))), dtype=float) == 1.0
    if (deep & competent).any():
        deep = deep & competent
    if not deep.any():
        return None
    eligible = np.flatnonzero(deep & (loss < threshold))
    if not len(eligible):
        eligible = np.flatnonzero(deep & (loss <= np.nanquantile(loss[deep], 0.25)))
    mirror = np.nan_to_num(np.asarray(checkpoints["n_mirror"], dtype=float)[eligible], nan=0)
    p = np.nan_to_num(np.asarray(checkpoints["p_value"], dtype=float)[eligible], nan=1)
    cmni = np.nan_to_num(np.asarray(checkpoints["cmni"], dtype=float)[eligible], nan=0)
    order = np.lexsort((-cmni, p, -mirror))  # last key is primary
    return int(eligible[order[0]])


def read_histories(sweep: Path, checkpoints: dict[str, np.ndarray], notes: list[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Validation loss of every epoch per model, from the trainer's ``models/<id>/state.json`` histories.

    Falls back to the checkpoints' own (epoch, val loss) pairs, which are only
    the improving epochs, and says so in the report.
    """
    curves = {}
    for f in sorted(sweep.glob("models/*/state.json")):
        epochs, losses = _read_history(f)
        if len(epochs):
            curves[json.loads(f.read_text()).get("model_id", f.parent.name)] = (epochs, losses)
    if curves:
        return curves
    notes.append("The sweep left no per-epoch history, so the loss curves show the improving epochs (the checkpoints) only.")
    models = np.asarray(checkpoints["model"])
    for m in dict.fromkeys(models.tolist()):
        sel = models == m
        order = np.argsort(np.asarray(checkpoints["epoch"])[sel])
        curves[str(m)] = (np.asarray(checkpoints["epoch"])[sel][order], np.asarray(checkpoints["val_loss"], dtype=float)[sel][order])
    return curves


def _read_history(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rows = json.loads(path.read_text()).get("history", [])
    rows = [r for r in rows if isinstance(r, dict) and "epoch" in r and r.get("val_loss") is not None]
    return np.array([r["epoch"] for r in rows]), np.array([r["val_loss"] for r in rows], dtype=float)


LEARNING_METRICS = ("val_macro_recall", "val_accuracy")
"""Per-epoch history scores for the learning curves, first present wins (older runs have neither)."""


def read_learning(sweep: Path, checkpoints: dict[str, np.ndarray], notes: list[str]) -> tuple[dict, str]:
    """({model: (epochs, score)}, metric): validation macro recall (or accuracy) of every epoch per model.

    From the trainer's ``models/<id>/state.json`` histories; without them, the test macro recall of each
    checkpoint from the analysis table (improving epochs only), and the report says so.
    """
    histories = {}
    for f in sorted(sweep.glob("models/*/state.json")):
        state = json.loads(f.read_text())
        rows = [r for r in state.get("history", []) if isinstance(r, dict) and "epoch" in r]
        histories[state.get("model_id", f.parent.name)] = rows
    for metric in LEARNING_METRICS:
        curves = {}
        for model, rows in histories.items():
            mine = [r for r in rows if r.get(metric) is not None]
            if mine:
                curves[model] = (np.array([r["epoch"] for r in mine]), np.array([r[metric] for r in mine], dtype=float))
        if curves:
            return curves, metric
    notes.append("The sweep's histories record no validation accuracy or recall per epoch, so the learning curves show "
                 "the test macro recall of the checkpoints (the improving epochs) only.")
    models = np.asarray(checkpoints["model"])
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
    models = np.asarray(checkpoints["model"]).astype(str)
    return (f"{int((flag == 1).sum())} of {len(flag)} / "
            f"{len(set(models[flag == 1]))} of {len(set(models))}")


def read_baselines(sweep: Path, notes: list[str]) -> dict | None:
    """``analysis/baselines.json``, or None (with a note) for an analysis written before it existed."""
    path = sweep / "analysis" / "baselines.json"
    if not path.is_file():
        notes.append("The analysis wrote no baselines.json (it predates the baselines); run `mirror-neurons analyze` again.")
        return None
    return json.loads(path.read_text())


PAIRED_MISSING = ("Not established: rerun `mirror-neurons analyze` on a run trained with this version, whose models "
                  "have epoch-0 checkpoints. This analysis has no paired test of trained networks against their own "
                  "initialisation (analysis/paired.json).")


def read_paired(sweep: Path) -> tuple[dict, dict | None, dict[str, np.ndarray]]:
    """(answer, paired.json, paired_models columns) of ``analysis.paired``; without paired.json the answer says
    the question is not established and how to get it."""
    from mirror_neurons.analysis.paired import PAIRED_FILE, PAIRED_MODELS_FILE
    from mirror_neurons.analysis.pipeline import read_parquet

    path = sweep / "analysis" / PAIRED_FILE
    if not path.is_file():
        return {"verdict": "not established", "decided_by": "none: no paired test in this analysis",
                "headline": PAIRED_MISSING, "evidence": [], "configuration": None, "measure": None}, None, {}
    fix = f"run `mirror-neurons analyze {sweep}` again to rewrite it"
    paired = atomic.read_json_object(path, AnalysisError, fix)
    answer = paired.get("answer")
    if not isinstance(answer, dict) or "headline" not in answer:
        raise AnalysisError(f"{path} holds no answer (an 'answer' object with a 'headline'); {fix}")
    models: dict[str, np.ndarray] = {}
    if (sweep / "analysis" / PAIRED_MODELS_FILE).is_file():
        table = read_parquet(sweep / "analysis" / PAIRED_MODELS_FILE)
        models = {k: np.asarray(v) for k, v in table.to_pydict().items()}
    return answer, paired, models


def analysis_config(sweep: Path, notes: list[str] | None = None):
    """The analysis settings the run was analysed with (``analysis/config.json``), so the case matches its row.

    Settings an older version wrote that this version refuses (a control too small to reach p < 0.05) fall
    back to today's defaults, with a note, so an older study still gets its report.
    """
    from dataclasses import fields

    from mirror_neurons.analysis.pipeline import AnalysisConfig
    from mirror_neurons.errors import ConfigError

    path = sweep / "analysis" / "config.json"
    fix = f"run `mirror-neurons analyze {sweep}` again to rewrite it"
    saved = atomic.read_json_object(path, AnalysisError, fix) if path.is_file() else {}
    try:
        return AnalysisConfig(**{f.name: saved[f.name] for f in fields(AnalysisConfig) if f.name in saved})
    except ConfigError as e:
        if notes is not None and not any(n.startswith("The analysis settings") for n in notes):
            notes.append(f"The analysis settings of this run are refused by this version ({e}); the case checkpoint was "
                         f"measured again with today's defaults, so its figures may differ from its row in the tables. "
                         f"Rerun `mirror-neurons analyze {sweep}`.")
        return AnalysisConfig()


def measure_case(path: Path, test, config, *, max_box: int = 3) -> dict:
    """Everything sections 3, 4, 5 and 7 show about one checkpoint, from ``analysis.pipeline.analyze_checkpoint``.

    With the run's own analysis settings the controls draw from the same
    streams, so the case's numbers are those of its row in the table.
    """
    from mirror_neurons.analysis.activations import capture
    from mirror_neurons.analysis.groups import GROUPS
    from mirror_neurons.analysis.pipeline import analyze_checkpoint, prepare_test
    from mirror_neurons.train.checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    model = ck.model
    prepared = prepare_test(test, config=config)
    res = analyze_checkpoint(ck, prepared, config)
    acts = capture(model, prepared.x)
    a = np.concatenate(list(acts.values()), axis=1)  # (n, units), layers side by side
    groups = prepared.groups
    widths = res.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    per_layer = lambda v: [np.asarray(v[:, starts[i]:starts[i + 1]]).T for i in range(len(widths))]  # noqa: E731
    classes = res.classes if res.classes is not None else np.full(int(starts[-1]), "other", dtype=object)
    names = list(res.layers)
    hidden = np.arange(int(starts[-2]))

    def unit_name(u: int) -> str:
        layer = int(np.searchsorted(starts, u, side="right") - 1)
        return f"{names[layer]}.{u - starts[layer]} ({classes[u]})"

    # Box plots: the mirror units with the largest smaller effect size; without mirror units, the units
    # whose activations move most with either player's distress (sum of |Cohen's d|), so never a dead unit.
    if res.tests is not None and np.any(classes[hidden] == "mirror"):
        lift = np.minimum(res.tests.d_frog, res.tests.d_toad)
        mirror = hidden[classes[hidden] == "mirror"]
        pick = mirror[np.argsort(-lift[mirror], kind="stable")][:max_box]
    elif res.tests is not None:
        moved = np.nan_to_num(np.abs(res.tests.d_frog) + np.abs(res.tests.d_toad), posinf=0.0)
        pick = hidden[np.argsort(-moved[hidden], kind="stable")][:max_box]
    else:
        pick = hidden[np.argsort(-res.moments.var[0, hidden], kind="stable")][:max_box]
    boxes = {unit_name(int(u)): [a[groups.index(g), u][:5000] for g in GROUPS] for u in pick}
    nulls = {}
    if res.controls is not None:
        if res.controls.random_init is not None:
            nulls["random init"] = res.controls.random_init.null
        if res.controls.permutation is not None:
            nulls["permuted labels"] = res.controls.permutation.null
    weight_tables = []
    if res.circuits:
        cols = ["layer", "unit", "class", "strongest_inputs", "drives", "drive_z", "path"]
        weight_tables.append({
            "caption": "Circuits of the classified units: strongest inputs and the action each drives "
                       "(weight z-scores against the whole kernel, as the paper's Tables 7-10)",
            "columns": [c.replace("_", " ") for c in cols],
            "rows": [[f"{r[c]:.2f}" if isinstance(r[c], float) else r[c] for c in cols] for r in res.circuits]})
    ablation = None
    if res.ablation:
        labels, cls_vals, rnd_vals, rnd_err, table = [], [], [], [], []
        for c, r in res.ablation.items():
            labels.append(f"{c} ({r.n_units})")
            cls_vals.append(r.changed)
            rnd = r.random_changed
            rnd_vals.append(float(np.mean(rnd)) if len(rnd) else float("nan"))
            rnd_err.append(float(np.std(rnd)) if len(rnd) else 0.0)
            table.append([c, r.n_units, f"{r.changed:.3f}", *(f"{r.changed_by_scenario.get(s, float('nan')):.3f}" for s in GROUPS),
                          f"{rnd_vals[-1]:.3f}", f"{r.p_value:.3f}"])
        ablation = {"groups": labels, "ylabel": "share of test states whose action changes",
                    "values": {"class ablated": cls_vals, "as many random units": rnd_vals},
                    "errors": {"as many random units": rnd_err},
                    "table": {"columns": ["class", "units", "changed", *(f"changed ({s})" for s in GROUPS),
                                          "random units (mean)", "p"], "rows": table}}
    return {
        "model": model,
        "accuracy": res.accuracy,
        "layer_names": names,
        "classes": [list(map(str, classes[starts[i]:starts[i + 1]])) for i in range(len(widths))],
        "means": per_layer(res.moments.mean),
        "variance": per_layer(res.moments.var),
        "skewness": per_layer(res.moments.skew),
        "kurtosis": per_layer(res.moments.kurt),
        "kernels": [w.detach().numpy().copy() for w in model.kernels()],
        "boxes": boxes,
        "nulls": nulls,
        "group_sizes": res.group_counts,
        "weight_tables": weight_tables,
        "ablation": ablation,
    }


def quietly(notes: list[str], measure, *args):
    """``measure(*args)``, its warnings (a control skipped on a small test set) turned into notes of the report
    instead of lines on the terminal, once each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = measure(*args)
    for w in caught:
        note = f"Measuring the case: {w.message}"
        if note not in notes:
            notes.append(note)
    return out


def model_policy(model):
    """The network plays Frog (through ``analysis.behaviour.network_policy``), Toad plays randomly; records Frog's actions."""
    from mirror_neurons.analysis.behaviour import network_policy
    from mirror_neurons.game.constants import Player
    from mirror_neurons.game.policies import random_actions

    frog = network_policy(model)
    chosen: list[int] = []

    def policy(batch):
        if int(batch.actor[0]) != Player.FROG:
            return random_actions(batch)
        action = frog(batch)
        chosen.append(int(action[0]))
        return action

    policy.chosen = chosen
    return policy


def play_episode(model, seed: int, frames: int = 10, warmup_max: int = 400) -> tuple[list[str], dict[str, int]]:
    """ASCII frames of the network playing Frog, starting at the first Frog turn with someone in distress.

    The game is played from its start (the obstacle rate grows from 0, so the
    first turns are plain ground); frames begin at the first Frog turn, within
    ``warmup_max`` turns, where a player stands on rough ground. Returns the
    frames and the counts of Frog's actions in them.
    """
    from mirror_neurons.game.config import GameConfig
    from mirror_neurons.game.constants import Action, Player
    from mirror_neurons.game.engine import GameBatch
    from mirror_neurons.game.render import render

    policy = model_policy(model)
    batch = GameBatch(GameConfig(), seed, [0])
    last: list[int | None] = [None, None]
    for _ in range(warmup_max):
        if int(batch.actor[0]) == Player.FROG and batch.distress()[0].any():
            break
        actor = int(batch.actor[0])
        action = int(policy(batch)[0])
        batch.step([action])
        last[actor] = action
    start = len(policy.chosen)
    shots = [render(batch, last_actions=last)]
    for _ in range(frames - 1):
        actor = int(batch.actor[0])
        action = int(policy(batch)[0])
        batch.step([action])
        last[actor] = action
        shots.append(render(batch, last_actions=last))
    chosen = policy.chosen[start:]
    counts = {a.name.lower(): chosen.count(int(a)) for a in Action if chosen.count(int(a))}
    return shots, counts


def behaviour_of(model, seed: int, *, n_games: int = 256, turns: int = 200) -> dict:
    """Section 8's rates: the network, the labeling rule and random play on the same seeded games.

    Survival is the share of Frog's turns not stranded at energy 0. Error bars
    are binomial standard errors over Frog turns, which treats turns as
    independent (they are not, within a game), so they understate the spread.
    """
    from mirror_neurons.analysis.behaviour import compare

    results = compare(model, n_games=n_games, turns=turns, seed=seed)
    metrics = ["help when only Toad is in distress", "jump at energy 0", "survival (energy > 0)", "score per turn"]
    values, errors = {}, {}
    for name, b in results.items():
        survival = 1.0 - b.energy0_turns / b.frog_turns if b.frog_turns else float("nan")
        v = [b.help_rate_toad_distress, b.jump_rate_energy0, survival, b.score_per_turn]
        n = [b.toad_distress_turns, b.energy0_turns, b.frog_turns, b.frog_turns]
        values[name] = v
        errors[name] = [float(np.sqrt(max(x * (1 - x), 0) / k)) if k and np.isfinite(x) and 0 <= x <= 1 else 0.0
                        for x, k in zip(v, n)]
    return {"metrics": metrics, "values": values, "errors": errors, "games": n_games, "turns": turns,
            "counts": {name: {"Frog turns": b.frog_turns, "Toad-only distress turns": b.toad_distress_turns,
                              "energy-0 turns": b.energy0_turns} for name, b in results.items()}}


def collect(run_dir: str | Path, data_dir: str | Path | None = None, *, seed: int = 0, progress=None,
            threshold: float = LOSS_THRESHOLD, behaviour_games: int = 256, behaviour_turns: int = 200) -> ReportInputs:
    """Everything the report shows, read and measured from a finished run.

    ``behaviour_games`` seeded games of ``behaviour_turns`` turns per policy feed section 8.
    """
    from mirror_neurons.data.dataset import load_dataset

    say = progress or (lambda *a, **k: None)
    run_dir = Path(run_dir)
    sweep, data, record = locate(run_dir, Path(data_dir) if data_dir else None)
    notes: list[str] = []
    say("reading the analysis tables")
    checkpoints = read_checkpoint_table(sweep / "analysis" / "checkpoints.parquet", notes)
    dataset = load_dataset(data, splits=("test",))
    manifest = dataset.manifest
    distributions = {}
    for key, enum in (("label", Action), ("scenario", Scenario)):
        total = {member.name.lower(): 0 for member in enum}  # in code order, not the manifest's sorted order
        for split in ("train", "val"):
            for k, v in manifest.get("distributions", {}).get(split, {}).get(key, {}).items():
                total[k] = total.get(k, 0) + int(v)
        distributions[key] = total
    curves = read_histories(sweep, checkpoints, notes)
    learning, learning_metric = read_learning(sweep, checkpoints, notes)
    baselines = read_baselines(sweep, notes)
    answer, paired, paired_models = read_paired(sweep)
    case = None
    behaviour = None
    circuit = None
    if len(checkpoints["cmni"]):
        i = choose_case(checkpoints, threshold)
        row = {k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in checkpoints.items()}
        path = checkpoint_path(sweep, row)
        say("measuring the case checkpoint")
        m = quietly(notes, measure_case, path, dataset.test, analysis_config(sweep, notes))
        say("playing an episode")
        frames, counts = play_episode(m["model"], seed)
        row["_episode_actions"] = counts
        models = np.asarray(checkpoints["model"])
        sel = np.flatnonzero(models == row["model"])
        sel = sel[np.argsort(np.asarray(checkpoints["epoch"])[sel])]
        history = {k: np.asarray(checkpoints[k])[sel] for k in ("epoch", "cmni", "cmni_effect_size", "val_loss", "init",
                                                                COMPETENT_COLUMN)}
        case = Case(
            name=f"{row['model']}, epoch {int(row['epoch'])}", rule=CASE_RULE, row=row,
            layer_names=m["layer_names"], classes=m["classes"], means=m["means"], variance=m["variance"],
            skewness=m["skewness"], kurtosis=m["kurtosis"], kernels=m["kernels"], boxes=m["boxes"], nulls=m["nulls"],
            group_sizes=m["group_sizes"], weight_tables=m["weight_tables"], ablation=m["ablation"], episode=frames,
            history=history,
        )
        small = {g: n for g, n in m["group_sizes"].items() if n < 100}
        if small:
            notes.append("Some scenario groups of the test set are small (" + ", ".join(f"{g} {n}" for g, n in small.items())
                         + " states), so per-unit statistics of those groups are noisy and intervals are wide.")
        if len(m["layer_names"]) < 3:  # one hidden layer: the paper's layer-2 circuit needs a deeper model
            j = choose_case(checkpoints, threshold, min_layers=2)
            if j is not None:
                say("measuring the best two-layer checkpoint's circuit")
                deep_row = {k: (v[j].item() if hasattr(v[j], "item") else v[j]) for k, v in checkpoints.items()}
                d = quietly(notes, measure_case, checkpoint_path(sweep, deep_row), dataset.test, analysis_config(sweep, notes))
                circuit = {"name": f"{deep_row['model']}, epoch {int(deep_row['epoch'])}", "classes": d["classes"],
                           "kernels": d["kernels"], "competent": deep_row.get(COMPETENT_COLUMN) == 1.0}
        say("measuring behaviour")
        behaviour = behaviour_of(m["model"], seed, n_games=behaviour_games, turns=behaviour_turns)
        behaviour["checkpoint"] = case.name
        behaviour["competent"] = row.get(COMPETENT_COLUMN) == 1.0
    rows = manifest.get("rows", {})
    stages = record.get("stages", {})
    facts = {
        "states (train / val / test)": " / ".join(f"{int(rows.get(s, 0)):,}" for s in ("train", "val", "test")),
        "models": len(curves),
        "checkpoints": len(checkpoints["cmni"]),
        "competent checkpoints / models": competent_counts(checkpoints),
        **{f"{s} (s)": f"{stages[s]['seconds']:.0f}" for s in ("data", "sweep", "analysis", "report")
           if "seconds" in stages.get(s, {})},
    }
    if stages:
        facts["data to analysis (s)"] = f"{sum(stages.get(k, {}).get('seconds', 0) for k in ('data', 'sweep', 'analysis')):.0f}"
    preset = record.get("preset", "custom")
    if preset != "paper":
        notes.insert(0, (
            f"This is a {preset} run: {int(rows.get('train', 0)) + int(rows.get('val', 0)):,} training and validation "
            f"states and {len(curves)} models, where the paper used about 6 million states and 50 configurations trained "
            f"for up to 500 epochs. Comparisons with the paper's absolute figures (losses, accuracy, CMNI values) are "
            f"therefore indicative; the chance tests and confidence intervals are valid at any scale."))
    return ReportInputs(
        title="Mirror-neuron patterns: study report", run_dir=str(run_dir), preset=preset, distributions=distributions,
        curves=curves, checkpoints=checkpoints, reference=load_reference_curve(), case=case, behaviour=behaviour,
        circuit=circuit,
        facts=facts, notes=notes, threshold=threshold, baselines=baselines, learning=learning,
        learning_metric=learning_metric, answer=answer, paired=paired, paired_models=paired_models,
    )
