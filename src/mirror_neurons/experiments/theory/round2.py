"""The theory experiment, round two: competent networks, each against its own initialisation (docs/theory.md).

``RoundTwoGrid`` crosses game complexity (S, three levels or more) with capacity,
width and depth varied separately (so M is not one-to-one with depth), dependency
D and veil I, with ``data_replicates`` datasets per (S, D, I) point. Every model
is trained with the competent recipe and written at epoch 0 by the trainer; its
initial and its trained checkpoint (the last, best validation loss) are analysed
by the analysis stage on the same states, and ``rules2`` turns the pair into the
model's outcomes. ``run_round_two`` runs or resumes every dataset cell (locally
or one cell per executor task, like round one) and writes::

    OUT/grid.json, OUT/cells/<cell>/{data,run,models.json}, OUT/records.json, OUT/summary.json, OUT/results.md
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mirror_neurons import atomic
from mirror_neurons.tables import THEORY2_CELL_MODELS, THEORY2_GRID, THEORY2_RECORDS, THEORY2_SUMMARY, THEORY2_TIMING
from mirror_neurons.analysis import competence
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_checkpoint, prepare_test
from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.dataset import MANIFEST, load_dataset
from mirror_neurons.errors import ConfigError
from mirror_neurons.experiments.theory import power, rules2
from mirror_neurons.experiments.theory.grid import VAL_FRACTION
from mirror_neurons.experiments.theory.present2 import results_markdown
from mirror_neurons.experiments.theory.rules import proportions, signal_complexity
from mirror_neurons.experiments.theory.run import cell_steps, derive_seed, read_declared, run_cells, write_declared
from mirror_neurons.game.config import GameConfig
from mirror_neurons.progress import Progress
from mirror_neurons.train import trainer
from mirror_neurons.train.checkpoint import load_checkpoint, read_meta
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig

log = logging.getLogger(__name__)

HELP_FREE_BELOW = 0.75
"""D levels below this give tasks without help labels (measured: none at D <= 0.6, some at 0.75; docs/theory.md)."""


@dataclass(frozen=True)
class Cell2:
    """One dataset of round two: a (rate_max, D, I) point and its replicate."""

    rate_max: float
    dependency: float
    veil: float
    replicate: int = 0

    @property
    def name(self) -> str:
        return f"r{self.rate_max:g}_D{self.dependency:g}_I{self.veil:g}_d{self.replicate}"


@dataclass(frozen=True)
class RoundTwoGrid:
    """Round two's factors and its fixed recipe (the competent one, docs/training.md recipe f)."""

    widths: tuple[int, ...] = (8, 32)
    depths: tuple[int, ...] = (1, 2)
    """Every width at every depth: capacity M and depth vary separately."""
    rate_max: tuple[float, ...] = (0.025, 0.075, 0.15)
    """Game complexity (S) levels: the obstacle rate cap."""
    dependency: tuple[float, ...] = (0.0, 0.5, 1.0)
    veil: tuple[float, ...] = (0.0, 1.0)
    data_replicates: int = 1
    """Datasets per (rate_max, D, I) point, each from its own seed: more clusters for the dataset-level factors."""
    seeds: int = 4
    """Models per (dataset, architecture)."""
    n_states: int = 40_000
    encoding: str = "onehot"
    loss: str = "cross_entropy"
    sampling: str = "balanced"
    dropout: float = 0.0
    lr: float = 3e-3
    batch_size: int = 128
    max_epochs: int = 12
    """The trainer draws at most the training split per epoch: 12 x 28,000 rows, about what docs/training.md's
    competent networks needed (10 x 40,000)."""
    patience: int = 3
    n_bootstrap: int = 200
    """Bootstrap draws of each analysed checkpoint's index (the se of the paired change)."""
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("widths", "depths"):
            values = tuple(int(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            if not values or min(values) < 1:
                raise ConfigError(f"{name} must be a non-empty list of integers >= 1, got {values}")
        for name in ("rate_max", "dependency", "veil"):
            values = tuple(float(v) for v in getattr(self, name))
            object.__setattr__(self, name, values)
            if not values or any(not 0.0 <= v <= 1.0 for v in values):
                raise ConfigError(f"{name} levels must be a non-empty list in 0..1, got {values}")
        for name in ("data_replicates", "seeds", "n_states", "batch_size", "max_epochs", "patience", "n_bootstrap"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")

    @classmethod
    def preset(cls, name: str, **overrides) -> RoundTwoGrid:
        """``demo`` (2 cores, <= 30 min), ``full`` (a Ray cluster; the power analysis's seeds), ``tiny`` (tests)."""
        presets = {
            "demo": {},
            "full": dict(
                widths=(4, 8, 16, 32, 64),
                depths=(1, 2, 3),
                dependency=(0.0, 0.25, 0.5, 1.0),
                veil=(0.0, 0.5, 1.0),
                data_replicates=2,
                seeds=3,
                n_states=100_000,
                max_epochs=30,
                patience=5,
                n_bootstrap=500,
            ),
            "tiny": dict(
                widths=(4, 8),
                depths=(1, 2),
                rate_max=(0.075,),
                dependency=(0.0, 1.0),
                veil=(1.0,),
                seeds=2,
                n_states=12_000,
                max_epochs=2,
                patience=1,
                n_bootstrap=50,
            ),
        }
        if name not in presets:
            raise ConfigError(f"unknown round-two preset {name!r}; choose one of {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    @property
    def hidden(self) -> list[tuple[int, ...]]:
        return [(w,) * d for d in self.depths for w in self.widths]

    def cells(self) -> list[Cell2]:
        return [
            Cell2(r, d, i, k)
            for r in self.rate_max
            for d in self.dependency
            for i in self.veil
            for k in range(self.data_replicates)
        ]

    @property
    def n_models(self) -> int:
        return len(self.cells()) * len(self.hidden) * self.seeds

    def power(self) -> dict:
        """The power analysis for D at this grid: its two help-free ends, every S, I and replicate at each."""
        free = [d for d in self.dependency if d < HELP_FREE_BELOW]
        per_level = len(self.rate_max) * len(self.veil) * self.data_replicates
        table = power.power_table(per_level, len(self.hidden), self.seeds)
        table["levels"] = [min(free), max(free)] if len(free) >= 2 else free
        return table

    def to_dict(self) -> dict:
        return {"round": rules2.ROUND, **asdict(self)}

    @classmethod
    def from_dict(cls, d: dict) -> RoundTwoGrid:
        return cls(**{k: v for k, v in d.items() if k != "round"})


def n_parameters(hidden, n_inputs: int) -> int:
    sizes = (n_inputs, *hidden, 4)
    return int(sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])))


def _data_config(grid: RoundTwoGrid, cell: Cell2, index: int) -> DataConfig:
    game = GameConfig(rate_max=cell.rate_max, dependency=cell.dependency, veil=cell.veil)
    # no balanced test split (no help labels at D < 0.75); the second half of the validation split is analysed
    return DataConfig(
        n_states=grid.n_states,
        seed=derive_seed(grid.seed, 21, index),
        game=game,
        test_size=0,
        val_fraction=VAL_FRACTION,
    )


def _train_configs(grid: RoundTwoGrid, index: int, val_rows: int) -> tuple[list[TrainConfig], list[str]]:
    configs, ids = [], []
    for a, hidden in enumerate(grid.hidden):
        for rep in range(grid.seeds):
            model = ModelConfig(hidden=hidden, dropout=grid.dropout, encoding=grid.encoding)
            configs.append(TrainConfig(
                model=model, lr=grid.lr, batch_size=grid.batch_size, max_epochs=grid.max_epochs, patience=grid.patience,
                loss=grid.loss, l2=0.0, sampling=grid.sampling, seed=derive_seed(grid.seed, 22, index, a, rep), val_rows=val_rows,
            ))  # fmt: skip
            ids.append(f"h{'x'.join(map(str, hidden))}_r{rep}")
    return configs, ids


ANALYSIS = dict(
    statistics=False,
    significance=False,
    controls=True,
    n_random_init=0,
    n_permutations=0,
    n_decoding_permutations=0,
    n_decoding_untrained=0,
    n_ablation_draws=0,
)
"""What round two needs of the analysis stage: the matched scale-free index, competence and its bootstrap."""


def _measure(path: Path, test, config: AnalysisConfig, energy: competence.Scores) -> dict:
    res = analyze_checkpoint(load_checkpoint(path), test, config)
    draws = res.controls.bootstrap_effect_size
    return {
        "epoch": int(res.meta["epoch"]),
        "val_loss": float(res.meta["val_loss"]),
        "es": float(res.cmni_d.cmni),
        "cmni": float(res.cmni.cmni),
        "draws": draws,
        "accuracy": res.scores.accuracy,
        "macro_recall": res.scores.macro_recall,
        "recall": [None if np.isnan(r) else float(r) for r in res.scores.recall],
        "competent": rules2.task_competent(res.scores, energy),
    }


def run_cell(
    grid: RoundTwoGrid, cell: Cell2, index: int, folder: Path, progress: Progress | None = None, threads: int | None = 1
) -> list[dict]:
    """Data, training and the paired analysis of one dataset cell; each step skipped when complete.

    ``progress`` hears each step (``run.cell_steps``)."""
    say = cell_steps(progress, grid, index)
    records_file = folder / THEORY2_CELL_MODELS.file
    if records_file.is_file():
        return read_declared(THEORY2_CELL_MODELS, records_file)
    started = time.perf_counter()
    data_dir = folder / "data"
    if not (data_dir / MANIFEST).is_file():
        say(f"{cell.name}: data")
        build_dataset(_data_config(grid, cell, index), data_dir)
    dataset = load_dataset(data_dir)
    complexity = signal_complexity(dataset.manifest)
    help_rows = int(dataset.manifest["natural_distribution"]["label"].get("help", 0))
    val_rows = len(dataset.val) // 2
    analysed = dataset.val.take(np.arange(val_rows, len(dataset.val)))
    configs, ids = _train_configs(grid, index, val_rows)
    say(f"{cell.name}: training {len(configs)} models")
    t_train = time.perf_counter()
    results = trainer.train_many(
        configs,
        dataset,
        folder / "run",
        model_ids=ids,
        run_info={"theory_round": 2, "cell": asdict(cell)},
        threads=threads,
    )
    t_analysis = time.perf_counter()
    say(f"{cell.name}: analysis")
    config = AnalysisConfig(**ANALYSIS, n_bootstrap=grid.n_bootstrap, seed=derive_seed(grid.seed, 23, index))
    test = prepare_test(analysed, config=config)
    energy = competence.score(competence.energy_rule(test.x.numpy()), test.label)
    n_inputs = ModelConfig(encoding=grid.encoding).n_features
    records = []
    for result, tc in zip(results, configs):
        paths = sorted(result.checkpoints, key=lambda p: read_meta(p)["epoch"])
        if len(paths) < 2:
            log.warning(
                "%s/%s has no trained checkpoint beside its initialisation (%s); left out",
                cell.name,
                result.model_id,
                result.reason,
            )
            continue
        init, trained = _measure(Path(paths[0]), test, config, energy), _measure(Path(paths[-1]), test, config, energy)
        if init["epoch"] != 0:
            raise ConfigError(
                f"{result.model_id} has no epoch-0 checkpoint; the trainer writes one for every fresh model"
            )
        hidden = list(tc.model.hidden)
        record = {
            "cell": cell.name, "dataset": cell.name, "rate_max": cell.rate_max, "dependency": cell.dependency, "veil": cell.veil,
            "replicate": cell.replicate, "arm": "with-help" if help_rows else "help-free", "help_rows": help_rows, **complexity,
            "hidden": hidden, "width": hidden[0], "depth": len(hidden), "M": n_parameters(hidden, n_inputs),
            "model_id": result.model_id, "seed": tc.seed, "status": result.status, "epochs": result.epochs,
            "trained_epoch": trained["epoch"], "val_loss": trained["val_loss"], "accuracy": trained["accuracy"],
            "macro_recall": trained["macro_recall"], "recall": trained["recall"], "competent": trained["competent"],
            "energy_accuracy": energy.accuracy, "energy_macro_recall": energy.macro_recall,
            "es_init": init["es"], "es_trained": trained["es"], "cmni_init": init["cmni"], "cmni_trained": trained["cmni"],
            **rules2.paired_change(trained["es"], init["es"], trained["draws"], init["draws"]),
        }  # fmt: skip
        record.update({f"emergent_{k}": v for k, v in rules2.emergence(record).items()})
        records.append(record)
    done = time.perf_counter()
    timing = {
        "data_s": t_train - started,
        "train_s": t_analysis - t_train,
        "analysis_s": done - t_analysis,
        "models": len(configs),
    }
    write_declared(THEORY2_TIMING, folder / THEORY2_TIMING.file, timing)
    write_declared(THEORY2_CELL_MODELS, records_file, records)
    return records


def run_round_two(
    grid: RoundTwoGrid, out: str | Path, *, progress: Progress | None = None, executor=None, threads: int | None = 1
) -> dict:
    """Run (or resume) round two under ``out``; returns the summary (see the module docstring for the layout)."""
    out = Path(out)
    per_cell = run_cells(
        grid, out, run_cell, progress=progress, executor=executor, threads=threads, grid_schema=THEORY2_GRID
    )
    records = [r for cell_records in per_cell for r in cell_records]
    write_declared(THEORY2_RECORDS, out / THEORY2_RECORDS.file, records)
    summary = summarise(records, grid)
    summary["timing"] = cell_timing(out, grid.cells())
    write_declared(THEORY2_SUMMARY, out / THEORY2_SUMMARY.file, summary)
    atomic.write_text(out / "results.md", results_markdown(summary))
    return summary


def cell_timing(out: Path, cells: list[Cell2]) -> dict:
    """Measured seconds per cell (data, training, analysis), from each cell's timing.json."""
    timing = [out / "cells" / c.name / THEORY2_TIMING.file for c in cells]
    rows = [read_declared(THEORY2_TIMING, p) for p in timing if p.is_file()]
    if not rows:
        return {}
    total = [r["data_s"] + r["train_s"] + r["analysis_s"] for r in rows]
    return {
        "cells": len(rows),
        "mean_s": float(np.mean(total)),
        "max_s": float(np.max(total)),
        **{f"mean_{k}": float(np.mean([r[k] for r in rows])) for k in ("data_s", "train_s", "analysis_s")},
        "models_per_cell": rows[0]["models"],
    }


# --- the summary ------------------------------------------------------------------------------------


def _mean_change(records: list[dict], keys: tuple[str, ...]) -> list[dict]:
    cells: dict[tuple, list[dict]] = {}
    for r in records:
        cells.setdefault(tuple(r[k] for k in keys), []).append(r)
    rows = []
    for key in sorted(cells):
        rs = cells[key]
        ch = np.array([r["es_change"] for r in rs])
        rows.append(
            {
                **dict(zip(keys, key)),
                "n": len(rs),
                "competent": int(sum(r["competent"] for r in rs)),
                "mean_change": float(ch.mean()),
                "sd_change": float(ch.std(ddof=1)) if len(ch) > 1 else None,
                "es_init": float(np.mean([r["es_init"] for r in rs])),
                "es_trained": float(np.mean([r["es_trained"] for r in rs])),
            }
        )
    return rows


def _arm(records: list[dict], arm: str) -> dict:
    test_d = arm == "help-free"
    out: dict = {
        "n_models": len(records),
        "n_datasets": len({r["dataset"] for r in records}),
        "competent": int(sum(r["competent"] for r in records)),
        "definitions": {},
    }
    if not records:
        return out
    for d in rules2.DEFINITIONS:
        fit = rules2.fit_logistic(records, f"emergent_{d}")
        separate = rules2.fit_logistic(records, f"emergent_{d}", separate=True)
        out["definitions"][d] = {
            "k": int(sum(r[f"emergent_{d}"] for r in records)),
            "by_DI": proportions(records, ("dependency", "veil"), d),
            "by_complexity_M": proportions(records, ("rate_max", "M"), d),
            "by_width_depth": proportions(records, ("width", "depth"), d),
            "fit": fit.to_dict(),
            "verdicts": [asdict(v) for v in rules2.verdicts(fit, test_d=test_d)],
            "separate_fit": separate.to_dict(),
            "ratio_form": asdict(rules2.ratio_form(separate)),
        }
    mixed = rules2.fit_mixed(records)
    separate = rules2.fit_mixed(records, separate=True)
    out["change"] = {
        "by_DI": _mean_change(records, ("dependency", "veil")),
        "by_complexity_M": _mean_change(records, ("rate_max", "M")),
        "by_width_depth": _mean_change(records, ("width", "depth")),
        "fit": mixed.to_dict(),
        "verdicts": [asdict(v) for v in rules2.verdicts(mixed, test_d=test_d)],
        "separate_fit": separate.to_dict(),
        "ratio_form": asdict(rules2.ratio_form(separate)),
    }
    return out


def summarise(records: list[dict], grid: RoundTwoGrid) -> dict:
    """Per arm: proportions, fits and verdicts for both definitions and for the paired change."""
    summary: dict = {"round": 2, "n_models": len(records), "grid": grid.to_dict(), "power": grid.power(), "arms": {}}
    for arm in rules2.ARMS:
        summary["arms"][arm] = _arm([r for r in records if r["arm"] == arm], arm)
    S: dict = {}
    for r in records:
        S.setdefault(r["rate_max"], set()).add((r["dataset"], r["S"], r["S_H"]))
    summary["S_by_complexity"] = {
        str(k): {
            "S_mean": float(np.mean([s for _, s, _ in sorted(v)])),
            "S_H_mean": float(np.mean([h for _, _, h in sorted(v)])),
        }
        for k, v in sorted(S.items())
    }  # sorted: a set's order would move the last digit between runs
    summary["competent"] = int(sum(r["competent"] for r in records))
    return summary


def verdict_lines(summary: dict) -> list[str]:
    """Round two's verdicts as plain lines, per arm and outcome (the CLI prints them)."""
    lines = []
    for arm, a in summary["arms"].items():
        if not a["n_models"]:
            continue
        outcomes = [(rules2.DEFINITION_NAMES[d], dd["verdicts"]) for d, dd in a["definitions"].items()]
        outcomes.append(("the paired change (mixed model)", a["change"]["verdicts"]))
        for name, verdicts in outcomes:
            lines.append(f"{arm} tasks, {name}:")
            lines += [f"- {v['part']}: {v['verdict']}" for v in verdicts]
    return lines
