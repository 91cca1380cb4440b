"""Running the theory experiment: each cell's data, training and analysis, resumable, locally or one cell per task.

``run_cell`` builds one (rate_max, D, I) dataset, trains every architecture x
seed at once with the many-models trainer and analyses each model's chosen
checkpoint with the analysis stage's functions; ``run_theory`` runs (or
resumes) every cell, then writes the records, the summary, the Markdown
results and the figures. Every step is skipped when its output is complete.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from mirror_neurons import atomic
from mirror_neurons.tables import (
    THEORY_CELL_MODELS,
    THEORY_GRID,
    THEORY_RECORDS,
    THEORY_SCALE_FREE,
    THEORY_SUMMARY,
    JsonSchema,
)
from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import compute_cmni, effect_size_cmni
from mirror_neurons.analysis.controls import permutation_null, random_init_null
from mirror_neurons.analysis.groups import split_groups
from mirror_neurons.analysis.stats import empirical_p, group_moments
from mirror_neurons.analysis.units import response_classes, unit_tests
from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.dataset import MANIFEST, load_dataset
from mirror_neurons.distributed.executors import Resources
from mirror_neurons.errors import ConfigError
from mirror_neurons.experiments.theory.grid import VAL_FRACTION, DataCell, TheoryGrid
from mirror_neurons.experiments.theory.present import results_markdown, write_figures
from mirror_neurons.experiments.theory.rules import (
    NULL_QUANTILE,
    PAPER_LOSS_THRESHOLD,
    choose_checkpoint,
    emergence,
    n_parameters,
    signal_complexity,
)
from mirror_neurons.experiments.theory.summary import summarise
from mirror_neurons.game.config import GameConfig
from mirror_neurons.progress import Progress
from mirror_neurons.train import trainer
from mirror_neurons.train.checkpoint import load_checkpoint, read_meta
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import MLP, ModelConfig

log = logging.getLogger(__name__)


def derive_seed(*parts: int) -> int:
    """A seed derived from the experiment's seed and a position in the grid (SeedSequence, not arithmetic)."""
    (state,) = np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)
    return int(state) & (2**62 - 1)


def data_config(grid: TheoryGrid, cell: DataCell, index: int):
    """The data stage's configuration of one cell's dataset."""
    game = GameConfig(rate_max=cell.rate_max, dependency=cell.dependency, veil=cell.veil)
    # No balanced test split: at D < 1 the game yields no help labels, so the 40/40/10/10 test set
    # cannot be drawn; the second half of the validation split is analysed instead (docs/theory.md).
    return DataConfig(
        n_states=grid.n_states, seed=derive_seed(grid.seed, 1, index), game=game, test_size=0, val_fraction=VAL_FRACTION
    )


def train_configs(grid: TheoryGrid, index: int, val_rows: int) -> tuple[list, list[str]]:
    """Every (architecture, seed) model of one cell, with its id; ``val_rows``: the validation rows training may see."""
    configs, ids = [], []
    for a, hidden in enumerate(grid.hidden):
        for rep in range(grid.seeds):
            configs.append(
                TrainConfig(
                    model=ModelConfig(hidden=hidden, dropout=grid.dropout),
                    lr=grid.lr,
                    batch_size=grid.batch_size,
                    max_epochs=grid.max_epochs,
                    patience=grid.patience,
                    seed=derive_seed(grid.seed, 2, index, a, rep),
                    val_rows=val_rows,
                )
            )
            ids.append(f"h{'x'.join(map(str, hidden))}_r{rep}")
    return configs, ids


def init_null(hidden: Sequence[int], grid: TheoryGrid, states, groups, seed: int) -> np.ndarray:
    """CMNI (n_random_inits,) of freshly initialised networks of one architecture on the analysed states.

    It depends on the architecture and the states only, not on trained weights,
    so one sample serves every seed and checkpoint of that architecture in a cell.
    """
    seeds = np.random.default_rng(seed).integers(0, 2**62, grid.n_random_inits)
    return random_init_null(
        ModelConfig(hidden=tuple(hidden), dropout=grid.dropout), states.x.astype(np.float32), groups, seeds
    )


def analyse_checkpoint(
    path: Path, states, groups, grid: TheoryGrid, rng: np.random.Generator, init: np.ndarray
) -> dict:
    """CMNI, both nulls and the mirror-unit count of one checkpoint on ``states``, with the analysis stage's functions.

    ``init`` is the architecture's random-initialisation null (``init_null``).
    """
    ckpt = load_checkpoint(path)
    acts = capture(ckpt.model, states.x)
    cmni = compute_cmni(acts, groups).cmni
    a = np.concatenate(
        list(acts.values()), axis=1
    )  # (n, units): every layer, the output layer included, as CMNI counts
    perm = permutation_null(a, groups, grid.n_permutations, rng)
    classes = response_classes(unit_tests(a, groups))
    return {
        "epoch": int(ckpt.meta["epoch"]),
        "val_loss": float(ckpt.meta["val_loss"]),
        "val_accuracy": float(ckpt.meta["val_accuracy"]),
        "cmni": float(cmni),
        "perm_q95": float(np.quantile(perm, NULL_QUANTILE)),
        "init_q95": float(np.quantile(init, NULL_QUANTILE)),
        "p_perm": empirical_p(perm, cmni),
        "p_init": empirical_p(init, cmni),
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
    out_file = folder / THEORY_SCALE_FREE.file
    if out_file.is_file():
        return read_declared(THEORY_SCALE_FREE, out_file)
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
        model = MLP(ModelConfig(hidden=hidden, dropout=grid.dropout))
        seeds = np.random.default_rng(derive_seed(grid.seed, 5, index, a)).integers(0, 2**62, grid.n_random_inits)
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
        rows.append(
            {
                "model_id": r["model_id"],
                "es_cmni": value,
                "es_init_q95": float(np.quantile(null, NULL_QUANTILE)),
                "es_init_median": float(np.median(null)),
                "es_p_init": empirical_p(null, value),
            }
        )
    write_declared(THEORY_SCALE_FREE, out_file, rows)
    return rows


def _checkpoint_metas(paths: Iterable[Path]) -> list[dict]:
    out = []
    for p in paths:
        meta = read_meta(p)
        out.append(
            {
                "path": str(p),
                "epoch": int(meta["epoch"]),
                "val_loss": float(meta["val_loss"]),
                "val_accuracy": float(meta["val_accuracy"]),
            }
        )
    return out


def run_cell(
    grid: TheoryGrid, cell: DataCell, index: int, folder: Path, progress: Progress | None = None, threads: int = 1
) -> list[dict]:
    """Data, training and analysis of one dataset cell; each step skipped when already complete.

    ``progress`` hears each step (``cell_steps``); ``threads`` is torch's thread count while the cell's
    models train (``trainer.train_many``)."""
    say = cell_steps(progress, grid, index)
    records_file = folder / THEORY_CELL_MODELS.file
    if records_file.is_file():
        return read_declared(THEORY_CELL_MODELS, records_file)
    data_dir = folder / "data"
    if not (data_dir / MANIFEST).is_file():
        say(f"{cell.name}: data")
        build_dataset(data_config(grid, cell, index), data_dir)
    dataset = load_dataset(data_dir)
    complexity = signal_complexity(dataset.manifest)
    val_rows = len(dataset.val) // 2  # the first half judges training, the second half is analysed
    if val_rows < 1:
        raise ConfigError(
            f"{cell.name}: the validation split has {len(dataset.val)} rows, too few to halve; raise n_states"
        )
    analysed = dataset.val.take(np.arange(val_rows, len(dataset.val)))
    configs, ids = train_configs(grid, index, val_rows)
    say(f"{cell.name}: training {len(configs)} models")
    results = trainer.train_many(
        configs,
        dataset,
        folder / "run",
        model_ids=ids,
        run_info={"theory_cell": asdict(cell), "grid": grid.to_dict()},
        threads=threads,
    )
    say(f"{cell.name}: analysis")
    groups = split_groups(analysed)
    nulls = {
        h: init_null(h, grid, analysed, groups, derive_seed(grid.seed, 4, index, a)) for a, h in enumerate(grid.hidden)
    }
    records = []
    for m, (result, config) in enumerate(zip(results, configs)):
        rng = np.random.default_rng(derive_seed(grid.seed, 3, index, m))
        metas = _checkpoint_metas(result.checkpoints)
        if not metas:
            log.warning("%s/%s has no checkpoint (%s); left out", cell.name, result.model_id, result.reason)
            continue
        chosen, lowest = choose_checkpoint(metas)
        init = nulls[tuple(config.model.hidden)]
        first = analyse_checkpoint(Path(chosen["path"]), analysed, groups, grid, rng, init)
        low = (
            first
            if lowest["path"] == chosen["path"]
            else analyse_checkpoint(Path(lowest["path"]), analysed, groups, grid, rng, init)
        )
        hidden = list(config.model.hidden)
        record = {
            "cell": cell.name,
            "rate_max": cell.rate_max,
            "dependency": cell.dependency,
            "veil": cell.veil,
            **complexity,
            "hidden": hidden,
            "M": n_parameters(hidden),
            "hidden_units": int(sum(hidden)),
            "model_id": result.model_id,
            "seed": config.seed,
            "status": result.status,
            "epochs": result.epochs,
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
    write_declared(THEORY_CELL_MODELS, records_file, records)
    return records


def run_theory(
    grid: TheoryGrid,
    out: str | Path,
    *,
    progress: Progress | None = None,
    figures: bool = True,
    executor=None,
    threads: int = 1,
) -> dict:
    """Run (or resume) the whole experiment under ``out`` and write its summary; returns the summary.

    Cells are independent: with an ``executor`` (``distributed.executors``,
    e.g. a ``RayExecutor`` whose workers share ``out``'s storage) each cell is
    one task of one CPU; without one they run here, one after another.
    ``threads`` is torch's thread count while each cell's models train.

    The experiment's own page, ``OUT/report.html``, is laid out by the report
    package (``report.html.write_theory_report``, which the CLI calls after this).

    Layout::

        OUT/grid.json                    the grid (a different grid in the same folder is refused)
        OUT/cells/<cell>/data/           the cell's dataset
        OUT/cells/<cell>/run/            its many-models training run
        OUT/cells/<cell>/models.json     one record per model (written when the cell is complete)
        OUT/records.json, OUT/summary.json, OUT/results.md, OUT/figures/*.png
    """
    out = Path(out)
    per_cell = run_cells(grid, out, run_cell, progress=progress, executor=executor, threads=threads)
    records = []
    for index, (cell, cell_records) in enumerate(zip(grid.cells(), per_cell)):
        folder = out / "cells" / cell.name
        extra = {row["model_id"]: row for row in scale_free_cell(grid, cell, index, folder, cell_records)}
        records.extend({**r, "scale_free": extra[r["model_id"]]} for r in cell_records)
    write_declared(THEORY_RECORDS, out / THEORY_RECORDS.file, records)
    summary = summarise(records)
    write_declared(THEORY_SUMMARY, out / THEORY_SUMMARY.file, summary)
    atomic.write_text(out / "results.md", results_markdown(summary, grid))
    if figures:
        write_figures(summary, records, out / "figures")
    return summary


def cell_steps(progress: Progress | None, grid, index: int) -> Callable[[str], None]:
    """A cell's step notes as ``progress(index, cells, note)``: cells run here one after another, so ``index``
    of them are done (on an executor a cell gets no ``progress``; ``run_cells`` counts the cells back)."""
    if progress is None:
        return lambda note: None
    n_cells = len(grid.cells())
    return lambda note: progress(index, n_cells, note)


def write_declared(schema: JsonSchema, path: Path, value: object) -> None:
    """``value`` written to ``path`` as JSON, after checking it against its declaration ``schema``."""
    atomic.write_json(path, schema.writing(value, path))


def read_declared(schema: JsonSchema, path: Path) -> dict | list:
    """The JSON in ``path`` as ``schema`` declares it; ``schema.error`` in one line naming the fix otherwise."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise schema.error(f"{path} is not valid JSON ({getattr(e, 'msg', e)}); {schema.fix}") from None
    return schema.require(value, path)


def run_cells(
    grid,
    out: Path,
    cell_fn,
    *,
    progress: Progress | None = None,
    executor=None,
    threads: int = 1,
    grid_schema: JsonSchema = THEORY_GRID,
) -> list:
    """Each cell of ``grid`` through ``cell_fn(grid, cell, index, folder, progress, threads)`` (round one's or round
    two's ``run_cell``), here or as one executor task per cell; refuses an ``out`` that holds another grid.
    ``grid_schema`` declares the round's ``grid.json``.

    ``progress(done, total, note)`` counts finished cells of all, with each step's note when the cells run here.
    """
    grid_file = out / grid_schema.file
    if grid_file.is_file():
        if json.loads(grid_file.read_text()) != json.loads(json.dumps(grid.to_dict())):
            raise ConfigError(f"{out} holds a theory run of another grid; use another --out or remove {out}")
    else:
        write_declared(grid_schema, grid_file, grid.to_dict())
    cells = grid.cells()
    tasks = [(grid, cell, index, out / "cells" / cell.name) for index, cell in enumerate(cells)]
    finished = 0

    def done(i: int, _records=None) -> None:
        nonlocal finished
        finished += 1
        if progress is not None:
            progress(finished, len(cells), f"{cells[i].name}: complete")

    if executor is None:
        per_cell = []
        for i, task in enumerate(tasks):
            per_cell.append(cell_fn(*task, progress, threads))
            done(i)
        return per_cell
    return executor.map(
        cell_fn, [(*task, None, threads) for task in tasks], resources=Resources(num_cpus=1), on_result=done
    )
