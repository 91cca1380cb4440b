"""What the instrument can see: planted units in a finished study's competent networks (issue 13, item 8).

``run_planted(source, out, grid)`` takes a study folder (or an analysed sweep
folder), picks each competent model's representative checkpoint
(``competence.best_per_model``: its competent checkpoint with the highest macro
recall), and for every model and replicate plants the units of ``PlantedGrid``
one spec at a time (``analysis.planted.analyze_plants``), running the
analysis with the study's measure settings (``study_config``):

- the **unit grid**: one planted unit per analysis, mirror units of Cohen's
  d in ``mirror_effects`` (0 is a pure-noise unit, a negative control),
  one-player decoys (``single_effects``) and energy and position decoys
  (``covariate_effects``, both signs), in hidden layer ``rep % layers``, and,
  in one-hot networks, real Dense units reading the distress indicators
  (``dense_effects``, first layer; circuits see their weights); with
  the per-checkpoint controls off (they do not change a unit's class);
- the **population grid**: a share of the first hidden layer's width planted
  at once as mirror units (``population_effects``), with the controls on, to
  see whether the checkpoint-level measures (CMNI, its scale-free variant, the
  random-initialisation and permutation p-values) move when a network really
  has mirror units.

The unit of replication is the model: every model gets the same grid, and the
summaries give the pooled rate over plants with its Wilson interval beside the
number of models and the spread of their own rates. Writes ``OUT/units.parquet``
(one row per planted unit: its spec, model, and every unit column of the
analysis), ``OUT/analyses.parquet`` (one row per analysis: its spec and the
checkpoint row) and ``OUT/summary.json`` (settings, models, the detection,
false-positive and population tables, runtime). Not resumable: a rerun starts
again (minutes on the demo).
"""

from __future__ import annotations

import io
import logging
import math
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mirror_neurons import atomic, tables
from mirror_neurons.analysis import planted
from mirror_neurons.analysis.competence import best_per_model
from mirror_neurons.analysis.pipeline import AnalysisConfig, prepare_test, read_parquet
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.errors import AnalysisError, ConfigError
from mirror_neurons.progress import Progress
from mirror_neurons.train.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

SUMMARY_FILE = tables.PLANTED_SUMMARY.file
UNITS_FILE = tables.PLANTED_UNITS.file
ANALYSES_FILE = tables.PLANTED_ANALYSES.file


@dataclass(frozen=True)
class PlantedGrid:
    """What is planted, how often, into how many models."""

    mirror_effects: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
    """Cohen's d of the planted mirror units (0: a pure-noise unit, a negative control)."""
    single_effects: tuple[float, ...] = (0.5, 1.0, 2.0)
    """Cohen's d of the one-player decoys (frog_only, toad_only)."""
    covariate_effects: tuple[float, ...] = (-2.0, -1.0, -0.5, 0.5, 1.0, 2.0)
    """SD of the energy and position decoys' signal, in noise SDs (both signs)."""
    dense_effects: tuple[float, ...] = (0.0, 0.3, 1.0)
    """Cohen's d of planted Dense units (``dense_mirror``: real input weights, so circuits are tested); one-hot models only."""
    reps: int = 8
    """Replicates per model (fresh noise each; hidden layer rep % layers). 8 x 9 demo models = 72 plants per
    cell, so a rate of 0 has a Wilson upper bound (0.051) near alpha."""
    population_effects: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0)
    """Cohen's d of the mirror units planted together for the checkpoint-level measures (empty: skip that grid)."""
    population_share: float = 0.25
    """Units planted together: this share of the first hidden layer's width (at least 1)."""
    population_reps: int = 1
    max_models: int = 0
    """Competent models used (0: all), in model-id order."""
    seed: int = 0

    def __post_init__(self) -> None:
        if self.reps < 1 or self.population_reps < 0 or self.max_models < 0:
            raise ConfigError(
                f"reps must be >= 1, population_reps and max_models >= 0; got {self.reps}, {self.population_reps}, {self.max_models}"
            )
        if not 0 < self.population_share <= 1:
            raise ConfigError(f"population_share must be in (0, 1], got {self.population_share}")
        if not all(
            math.isfinite(e)
            for e in (*self.mirror_effects, *self.single_effects, *self.covariate_effects, *self.population_effects)
        ):
            raise ConfigError("every planted effect must be a finite number")

    @classmethod
    def preset(cls, name: str, **overrides) -> PlantedGrid:
        """``demo``: the default grid; ``quick``: two reps and no population grid (for a first look)."""
        presets = {"demo": {}, "quick": {"reps": 2, "population_effects": ()}}
        if name not in presets:
            raise ConfigError(f"planted preset {name!r} is not known; choose one of {', '.join(presets)}")
        return cls(**{**presets[name], **overrides})

    def unit_specs(self, n_hidden: int, rep: int, encoding: str = "raw") -> list[planted.PlantSpec]:
        layer = rep % n_hidden
        kinds = [("mirror", self.mirror_effects), ("frog_only", self.single_effects), ("toad_only", self.single_effects),
                 ("energy", self.covariate_effects), ("position", self.covariate_effects)]  # fmt: skip
        specs = [planted.PlantSpec(k, e, layer) for k, effects in kinds for e in effects]
        if encoding == "onehot":  # a Dense unit reading distress indicators needs one-hot features
            specs += [planted.PlantSpec("dense_mirror", e, 0) for e in self.dense_effects]
        return specs

    def population_specs(self, width: int) -> list[planted.PlantSpec]:
        count = max(1, round(width * self.population_share))
        return [planted.PlantSpec("mirror", e, 0, count) for e in self.population_effects]


def locate_study(source: Path) -> tuple[Path, Path]:
    """(analysed sweep folder, dataset folder) of a study folder or an analysed sweep folder."""
    sweep = source / "sweep" if (source / "sweep").is_dir() else source
    table = sweep / "analysis" / tables.CHECKPOINTS.file
    if not table.is_file():
        raise AnalysisError(
            f"{source} holds no analysed sweep ({table} is missing); run `mirror-neurons run` or `mirror-neurons analyze` first"
        )
    data = source / "data"
    saved = sweep / "analysis" / tables.ANALYSIS_CONFIG.file
    if not (data / tables.MANIFEST.file).is_file() and saved.is_file():
        recorded = atomic.read_json_object(saved, AnalysisError, "run `mirror-neurons analyze` again").get("data_dir")
        data = Path(recorded) if isinstance(recorded, str) else data
    if not (data / tables.MANIFEST.file).is_file():
        raise AnalysisError(f"no dataset at {data}; the study's analysis/config.json names none that exists")
    return sweep, data


MEASURE_SETTINGS = (
    "filtered",
    "matched",
    "min_stratum_states",
    "hidden_only",
    "alpha",
    "min_effect",
    "top_k",
    "z_min",
    "seed",
)
"""Settings taken from the study's analysis: what defines the groups, the classes and the draws (counts of nulls are not)."""


def study_config(sweep: Path) -> AnalysisConfig:
    """The study's measure settings (``MEASURE_SETTINGS``, from its analysis/config.json) with today's control counts.

    The numbers of null draws come from ``AnalysisConfig``'s defaults, not from the study: the controls ask
    what the current measures see, and a study analysed with fewer draws than a p-value floor below alpha
    needs is refused by ``AnalysisConfig`` itself.
    """
    saved = sweep / "analysis" / tables.ANALYSIS_CONFIG.file
    if not saved.is_file():
        return AnalysisConfig()
    d = atomic.read_json_object(saved, AnalysisError, "run `mirror-neurons analyze` again")
    names = {f.name for f in fields(AnalysisConfig)} & set(MEASURE_SETTINGS)
    return AnalysisConfig(**{k: v for k, v in d.items() if k in names})


def competent_checkpoints(sweep: Path, max_models: int = 0) -> list[tuple[str, str]]:
    """(model_id, checkpoint path relative to the sweep) of each competent model's representative, by model id."""
    t = read_parquet(sweep / "analysis" / tables.CHECKPOINTS.file)
    need = {"checkpoint", "model_id", "macro_recall", "competent"}
    if not need <= set(t.column_names):
        raise AnalysisError(
            f"{sweep}/analysis/checkpoints.parquet lacks {sorted(need - set(t.column_names))}; run `mirror-neurons analyze` again"
        )
    c = {k: t.column(k).to_pylist() for k in need}
    best = best_per_model(c["model_id"], c["macro_recall"], [bool(v) for v in c["competent"]])
    chosen = [(m, c["checkpoint"][i]) for m, i in sorted(best.items()) if c["competent"][i]]
    if not chosen:
        raise AnalysisError(
            f"no competent model in {sweep}: planted units only say what the measures see in networks that play the game"
        )
    return chosen[:max_models] if max_models else chosen


def _parquet(records: list[dict], schema: tables.TableSchema, path: Path) -> bytes:
    """Records as one Parquet table, checked against ``schema`` before it is written to ``path``; a key absent
    from a record (a control that was off) is null there."""
    keys = list(dict.fromkeys(k for r in records for k in r))  # every record's keys, not only the first's
    table = schema.writing(pa.table({k: pa.array([r.get(k) for r in records]) for k in keys}), path)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def run_planted(
    source: str | Path,
    out: str | Path,
    grid: PlantedGrid = PlantedGrid(),
    *,
    matched: bool | None = None,
    progress: Progress | None = None,
) -> dict:
    """Plant ``grid`` into every competent model of ``source``; write OUT/{units,analyses}.parquet and summary.json.

    ``matched`` overrides the study's choice of composition-matched contrasts (False: the paper's view).
    ``progress(done, total, note)`` counts the models planted into, of all.
    """
    start = time.perf_counter()
    source, out = Path(source), Path(out)
    sweep, data_dir = locate_study(source)
    config = study_config(sweep)
    if matched is not None:
        config = replace(config, matched=matched)
    unit_config = replace(config, controls=False, statistics=False)
    population_config = replace(config, statistics=False)
    models = competent_checkpoints(sweep, grid.max_models)
    test = prepare_test(load_dataset(data_dir, splits=("test",)).test, config=config)
    units, analyses = [], []
    streams = np.random.SeedSequence(grid.seed).spawn(len(models))
    if progress is not None:
        progress(0, len(models), f"planting into {len(models)} competent models")
    for done, ((model_id, rel), ss) in enumerate(zip(models, streams), start=1):
        ck = load_checkpoint(sweep / rel)
        rng = np.random.default_rng(ss)
        n_hidden = len(ck.model.config.hidden)
        for rep in range(grid.reps):
            tags = {"grid": "unit", "model_id": model_id, "checkpoint": rel, "rep": rep}
            specs = grid.unit_specs(n_hidden, rep, ck.model.config.encoding)
            u, a = planted.analyze_plants(ck, test, specs, unit_config, rng, tags=tags)
            units += u
            analyses += a
        for rep in range(grid.population_reps if grid.population_effects else 0):
            tags = {"grid": "population", "model_id": model_id, "checkpoint": rel, "rep": rep}
            u, a = planted.analyze_plants(
                ck, test, grid.population_specs(ck.model.config.hidden[0]), population_config, rng, tags=tags
            )
            units += u
            analyses += a
        if progress is not None:
            progress(done, len(models), f"{model_id} planted ({time.perf_counter() - start:.0f} s)")
    summary = summarise(units, analyses, config.alpha)
    summary.update({
        "source": str(source), "sweep": str(sweep), "data_dir": str(data_dir), "grid": asdict(grid),
        "analysis_config": asdict(config), "models": [{"model_id": m, "checkpoint": c} for m, c in models],
        "seconds": round(time.perf_counter() - start, 1),
    })  # fmt: skip
    atomic.write_bytes(out / UNITS_FILE, _parquet(units, tables.PLANTED_UNITS, out / UNITS_FILE))
    atomic.write_bytes(out / ANALYSES_FILE, _parquet(analyses, tables.PLANTED_ANALYSES, out / ANALYSES_FILE))
    atomic.write_json(out / SUMMARY_FILE, tables.PLANTED_SUMMARY.writing(summary, out / SUMMARY_FILE))
    return summary


def summarise(units: list[dict], analyses: list[dict], alpha: float) -> dict:
    """The tables of summary.json from the records of ``run_planted`` (pure: tested without a study)."""
    unit_level = [u for u in units if u.get("grid", "unit") == "unit"]
    table = planted.detection_table(unit_level, alpha)
    population = [a for a in analyses if a.get("grid") == "population"]
    return {
        "alpha": alpha,
        "kinds": planted.KINDS,
        "measures": planted.MEASURE_NAMES,
        "n_plants": len(unit_level),
        "detection": table,
        "false_positives": planted.false_positive_rates(table),
        "smallest_detected": {m: planted.smallest_detected(table, m) for m in sorted({r["measure"] for r in table})},
        "population": planted.checkpoint_table(population, alpha),
    }


def load_summary(out: str | Path) -> dict:
    """OUT/summary.json of a finished ``run_planted``; ``AnalysisError`` naming the fix if it is missing or damaged."""
    path = Path(out) / SUMMARY_FILE
    fix = f"run `mirror-neurons experiment planted STUDY --out {out}` again"
    if not path.is_file():
        raise AnalysisError(f"{path} does not exist; {fix}")
    summary = atomic.read_json_object(path, AnalysisError, fix)
    if not isinstance(summary.get("detection"), list):
        raise AnalysisError(f"{path} is not a planted-units summary (no detection table); {fix}")
    return tables.PLANTED_SUMMARY.require(summary, path)


__all__ = [
    "PlantedGrid",
    "competent_checkpoints",
    "load_summary",
    "locate_study",
    "run_planted",
    "study_config",
    "summarise",
]
