"""The one-command study: data -> sweep -> analysis -> report, resumable, described by one TOML file.

A study file (``docs/study.md``; the presets ``demo`` and ``paper`` are such
files in ``studies/``) names everything that decides a study's results: the
data knobs, the sweep, the analysis's control sizes, the report's behaviour
games, and optionally one seed for every stage. ``load_study(path)`` reads and
validates one; ``study_preset(name)`` reads a shipped one.

``run_study(study, out)`` runs the four stages into one folder::

    OUT/study.json        the study's name and settings, and per finished stage its wall time
    OUT/data/             the dataset (data stage's folder contract)
    OUT/sweep/            the sweep's run folder (checkpoints, histories)
    OUT/sweep/analysis/   the analysis tables
    OUT/report/report.html

Each stage is skipped when ``study.json`` records it as finished and its
output is on disk; otherwise it runs, and the stages themselves resume their
own partial work (the sweep continues from its checkpoints). So running the
same command again after an interruption continues where it stopped. A folder
that holds another study, or something that is not a study (a dataset, a
training run), is refused rather than mixed. The stage's progress is shown with
rich; ``progress=False`` keeps it quiet.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from importlib import resources
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from mirror_neurons import __version__, atomic
from mirror_neurons.errors import ConfigError
from mirror_neurons.tables import (
    ANALYSIS_FOLDER,
    BASELINES,
    CHECKPOINTS,
    MANIFEST,
    RUN,
    STUDY,
    STUDY_DATA_FOLDER,
    STUDY_SWEEP_FOLDER,
    SWEEP_SUMMARY,
)

log = logging.getLogger(__name__)

PRESETS = ("demo", "paper")
"""The shipped study files, ``studies/NAME.toml``."""
STUDY_FILE = STUDY.file
STAGES = ("data", "sweep", "analysis", "report")
STUDY_ENTRIES = (STUDY_FILE, "data", "sweep", "report", "planted")
"""What a study folder may hold (``planted``: ``experiment planted``'s usual --out); dot-files are locks and partial writes."""

# the study file's tables and their keys (docs/study.md)
TABLES = ("study", "data", "sweep", "analysis", "report")
STUDY_KEYS = ("name", "description", "seed")
DATA_KEYS = {  # key: its kind; "preset" is a data preset, dependency/veil/episode_turns go to the game
    "preset": str, "n_states": int, "seed": int, "test_size": int, "val_fraction": float, "max_games": int,
    "dependency": float, "veil": float, "episode_turns": int,
}  # fmt: skip
SWEEP_SOURCES = ("preset", "file")
SWEEP_TABLES = ("limits", "defaults", "grid", "configs")
REPORT_KEYS: dict[str, str] = {}
"""The study file's [report] keys and the ``report.html.write_report`` keywords they set (none today: the report
lays out what the analysis measured; its behaviour games are ``[analysis]`` ``behaviour_games``, ``behaviour_turns``)."""
MOVED_KEYS = {"games": "[analysis] behaviour_games", "turns": "[analysis] behaviour_turns"}
"""[report] keys of earlier study files, and where they went."""
MAX_SEED = 2**64 - 1


@dataclass(frozen=True)
class StudySpec:
    """A parsed, validated study: what each stage runs with."""

    name: str
    """Recorded in study.json (as ``preset``, its name before study files); a folder holds one study."""
    data: object
    """The data stage's ``DataConfig``."""
    sweep: object
    """The sweep stage's ``SweepSpec``."""
    analysis: object
    """The analysis stage's ``AnalysisConfig``."""
    report: dict = field(default_factory=dict)
    """Keywords of ``report.html.write_report`` (none today; ``REPORT_KEYS``)."""
    description: str = ""
    source: str = ""
    """The file it was read from (not part of the settings)."""

    def with_seed(self, seed: int) -> StudySpec:
        """The same study with ``seed`` as the data's, the sweep's root and the analysis's seed."""
        _check_seed(seed, "seed", "")
        return replace(
            self,
            data=replace(self.data, seed=seed),
            sweep=replace(self.sweep, seed=seed),
            analysis=replace(self.analysis, seed=seed),
        )

    def settings(self) -> dict:
        """Everything that decides the results, JSON-ready: two studies with equal settings give the same files."""
        sweep = {k: v for k, v in self.sweep.to_dict().items() if k not in ("source", "dataset")}
        return {
            "name": self.name,
            "data": self.data.to_dict(),
            "sweep": sweep,
            "analysis": asdict(self.analysis),
            "report": dict(sorted(self.report.items())),
        }


def preset_path(name: str) -> Path:
    """The shipped study file of a preset."""
    if name not in PRESETS:
        raise ConfigError(
            f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}, or give a study file with --config FILE"
        )
    return Path(str(resources.files("mirror_neurons") / "studies" / f"{name}.toml"))


def study_preset(name: str) -> StudySpec:
    """A shipped study by name (one of ``PRESETS``)."""
    return load_study(preset_path(name))


def load_study(path: str | Path) -> StudySpec:
    """Read and validate a study file; ``ConfigError`` naming the file, the key and the fix otherwise."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise ConfigError(
            f"study file {path} {what}; give a TOML file (docs/study.md) or --preset NAME ({', '.join(PRESETS)})"
        )
    return parse_study(atomic.read_toml(path, ConfigError, "the study file"), source=str(path))


def parse_study(raw: dict, source: str = "<study>") -> StudySpec:
    """A ``StudySpec`` from a study file's tables (see the module docstring and docs/study.md)."""
    where = f"{source}: "
    _only(raw, TABLES, where, "the top level")
    tables = {name: raw.get(name, {}) for name in TABLES}
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{where}{name} must be a table ([{name}]), got {table!r}")
    study = tables["study"]
    _only(study, STUDY_KEYS, where, "[study]")
    name = _typed(study, "name", str, where, "[study]", Path(source).stem)
    description = _typed(study, "description", str, where, "[study]", "")
    if not name or any(c in name for c in "/\\\n"):
        raise ConfigError(
            f'{where}[study] name = {name!r} must be a short name without slashes, e.g. name = "my-study"'
        )
    spec = StudySpec(
        name=name, description=description, source=source,
        data=_data(tables["data"], where), sweep=_sweep(tables["sweep"], where, source, name),
        analysis=_analysis(tables["analysis"], where), report=_report(tables["report"], where),
    )  # fmt: skip
    if "seed" in study:
        spec = spec.with_seed(_check_seed(study["seed"], "seed", f"{where}[study] "))
    return spec


def _only(table: dict, allowed, where: str, name: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{where}unknown key {key!r} in {name}; allowed keys: {', '.join(allowed)}")


def _typed(table: dict, key: str, kind: type, where: str, name: str, default=None):
    """``table[key]`` (or ``default``) if it is of ``kind`` (an int is a float too; a bool is neither)."""
    if key not in table:
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if kind is float and ok and not math.isfinite(value):
        ok = False
    if not ok:
        noun = {str: "a string", int: "an integer", float: "a finite number", bool: "true or false"}[kind]
        raise ConfigError(f"{where}{name} {key} = {value!r} must be {noun}")
    return value


def _check_seed(value, key: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{where}{key} = {value!r} must be an integer in 0..2**64-1, e.g. {key} = 0")
    return value


def _data(table: dict, where: str):
    from mirror_neurons.data.config import PRESETS as DATA_PRESETS
    from mirror_neurons.data.config import DataConfig

    _only(table, tuple(DATA_KEYS), where, "[data]")
    values = {key: _typed(table, key, kind, where, "[data]") for key, kind in DATA_KEYS.items() if key in table}
    if "seed" in values:
        _check_seed(values["seed"], "seed", f"{where}[data] ")
    preset = values.pop("preset", "demo")
    if preset not in DATA_PRESETS:
        raise ConfigError(
            f"{where}[data] preset = {preset!r} is not a data preset; choose one of {', '.join(DATA_PRESETS)}"
        )
    try:
        return DataConfig.preset(preset, **values)
    except ConfigError as e:
        raise ConfigError(f"{where}[data] {e}") from None


def _sweep(table: dict, where: str, source: str, study_name: str):
    from mirror_neurons.train.sweep import SWEEP_KEYS, load_sweep, parse_sweep
    from mirror_neurons.train.sweep import preset_path as sweep_preset_path

    inline_keys = tuple(k for k in SWEEP_KEYS if k != "dataset") + SWEEP_TABLES
    given = [k for k in SWEEP_SOURCES if k in table]
    if len(given) > 1 or (given and set(table) - set(given)):
        raise ConfigError(
            f"{where}[sweep] takes one of: preset = NAME, file = PATH, or the sweep's own keys "
            f"({', '.join(inline_keys)}); got {', '.join(table)}"
        )
    if given:  # a shipped sweep or a sweep file; its errors name the study file too
        value = _typed(table, given[0], str, where, "[sweep]")
        path = Path(value) if given[0] == "file" else None
        try:
            if path is None:
                return load_sweep(sweep_preset_path(value))
            return load_sweep(path if path.is_absolute() else Path(source).parent / path)
        except ConfigError as e:
            raise ConfigError(f"{where}[sweep] {e}") from None
    if not table:
        raise ConfigError(f"{where}no [sweep]: give preset = NAME, file = PATH or the sweep inline (docs/study.md)")
    _only(table, inline_keys, where, "[sweep]")
    raw = {
        "sweep": {"name": study_name, **{k: v for k, v in table.items() if k not in SWEEP_TABLES}},
        **{k: table[k] for k in SWEEP_TABLES if k in table},
    }
    return parse_sweep(raw, source=f"{source} [sweep]")


def _analysis(table: dict, where: str):
    from mirror_neurons.analysis.pipeline import AnalysisConfig

    kinds = {f.name: type(f.default) for f in fields(AnalysisConfig)}
    _only(table, tuple(kinds), where, "[analysis]")
    values = {key: _typed(table, key, kinds[key], where, "[analysis]") for key in table}
    if "seed" in values:
        _check_seed(values["seed"], "seed", f"{where}[analysis] ")
    try:
        return AnalysisConfig(**values)
    except ConfigError as e:
        raise ConfigError(f"{where}[analysis] {e}") from None


def _report(table: dict, where: str) -> dict:
    for key, moved in MOVED_KEYS.items():
        if key in table:
            raise ConfigError(
                f"{where}[report] {key} is now {moved}: the analysis plays the behaviour games; move it there"
            )
    _only(table, tuple(REPORT_KEYS), where, "[report]")
    return {}


def analysis_preset(preset: str):
    """The analysis settings of a shipped study (its file's [analysis] table)."""
    return study_preset(preset).analysis


@dataclass(frozen=True)
class StudyPaths:
    root: Path

    @property
    def record(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def data(self) -> Path:
        return self.root / STUDY_DATA_FOLDER

    @property
    def sweep(self) -> Path:
        return self.root / STUDY_SWEEP_FOLDER

    @property
    def analysis(self) -> Path:
        return self.sweep / ANALYSIS_FOLDER

    @property
    def report(self) -> Path:
        return self.root / "report" / "report.html"

    def output_present(self, stage: str) -> bool:
        """Whether a stage's output is on disk (the record says whether it finished)."""
        return {
            "data": (self.data / MANIFEST.file).is_file(),
            "sweep": (self.sweep / SWEEP_SUMMARY.file).is_file(),
            # baselines.json came with the competence columns: an analysis without it predates them and runs again
            "analysis": (self.analysis / CHECKPOINTS.file).is_file() and (self.analysis / BASELINES.file).is_file(),
            "report": self.report.is_file(),
        }[stage]


def read_record(paths: StudyPaths) -> dict:
    """``study.json`` checked against ``tables.STUDY``; empty before the first stage finished."""
    if not paths.record.is_file():
        return {}
    fix = "remove it to start the study again"
    return STUDY.require(atomic.read_json_object(paths.record, ConfigError, fix), paths.record)


def check_study_folder(paths: StudyPaths) -> None:
    """Refuse an existing folder that is not a study's: a dataset, a training run, or anything else."""
    root = paths.root
    if not root.is_dir() or paths.record.is_file():
        return
    fix = f"give a new or empty folder for --out, e.g. --out {root / 'study'}"
    if (root / MANIFEST.file).is_file():
        raise ConfigError(f"--out {root} is a dataset folder, not a study folder; {fix}")
    if (root / RUN.file).is_file():
        raise ConfigError(f"--out {root} is a training run folder, not a study folder; {fix}")
    foreign = sorted(p.name for p in root.iterdir() if p.name not in STUDY_ENTRIES and not p.name.startswith("."))
    if foreign:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ConfigError(f"--out {root} holds files that are not a study's ({shown}); {fix}")


def check_same_study(paths: StudyPaths, record: dict, spec: StudySpec) -> None:
    """Refuse a folder that holds another study; a record from before study files is checked by its name."""
    if not record:
        return
    if record.get("preset") != spec.name:
        raise ConfigError(
            f"{paths.root} holds a study of preset {record.get('preset')!r}, not {spec.name!r}; "
            f"use another --out, or --preset {record.get('preset')} (or the study file it was started with)"
        )
    old = record.get("study")
    if old is None:
        return
    new = spec.settings()
    changed = [key for key in new if key in old and not same_settings(old[key], new[key])]
    if changed:
        raise ConfigError(
            f"{paths.root} holds study {spec.name!r} with other {', '.join(changed)} settings; use another --out, "
            f"or run it with the settings it was started with (recorded in {paths.record})"
        )


def same_settings(old, new) -> bool:
    """Whether recorded settings and new ones agree on every key both hold.

    A key only one side holds is a field added (or removed) by another version of the package, at its
    default: a study started before a config gained a field resumes after the update.
    """
    if isinstance(old, dict) and isinstance(new, dict):
        return all(same_settings(old[k], new[k]) for k in old.keys() & new.keys())
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(same_settings(a, b) for a, b in zip(old, new))
    return old == new


class StageProgress:
    """A rich progress bar for one stage, handed to the stage as its ``progress(done, total, note)``
    (``mirror_neurons.progress``): data counts games, the sweep model-epochs, the analysis checkpoints
    and the report its steps; the note, cut to ``STATUS_WIDTH``, is the bar's status.
    """

    def __init__(self, bar: Progress | None, task):
        self.bar, self.task = bar, task

    def __call__(self, done: int, total: int, note: str = "") -> None:
        if self.bar is None:
            return
        status = {"status": note[:STATUS_WIDTH]} if note else {}
        self.bar.update(self.task, completed=done, total=total, **status)


STATUS_WIDTH = 32
"""Characters of a stage's status: with the name, a 20-character bar, percentage and time, 80 columns."""


def stage_columns() -> tuple:
    """The study's progress line: name (9), bar (20), percentage, elapsed time, status: at most 80 columns."""
    return (
        TextColumn("{task.description:<9}"),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
    )


def resolve_study(
    study: str | Path | StudySpec,
    *,
    data_config=None,
    sweep=None,
    analysis_config=None,
    report_options: dict | None = None,
    seed: int | None = None,
) -> StudySpec:
    """The study to run: a preset name (str), a study file (Path) or a spec, with the stages' overrides applied.

    A str is always a preset's name and a Path always a file, so a folder named like a preset changes nothing.
    """
    if isinstance(study, StudySpec):
        spec = study
    elif isinstance(study, Path):
        spec = load_study(study)
    else:
        spec = study_preset(study)
    if isinstance(sweep, (str, Path)):
        from mirror_neurons.train.sweep import load_sweep

        sweep = load_sweep(sweep)
    overrides = {"data": data_config, "sweep": sweep, "analysis": analysis_config, "report": report_options}
    spec = replace(spec, **{k: v for k, v in overrides.items() if v is not None})
    return spec.with_seed(seed) if seed is not None else spec


def run_study(
    study: str | Path | StudySpec = "demo",
    out: str | Path = "runs/demo",
    *,
    data_config=None,
    sweep=None,
    analysis_config=None,
    report_options: dict | None = None,
    seed: int | None = None,
    console: Console | None = None,
    progress: bool = True,
    executor=None,
    group_size: int | None = None,
    threads: int = 1,
    analysis_workers: int | None = None,
    tensorboard: bool = False,
) -> Path:
    """Run (or continue) the whole study into ``out``; returns the report's path.

    ``study`` is a preset's name, a study file's ``Path`` or a ``StudySpec``.
    ``data_config`` (a ``DataConfig``), ``sweep`` (a ``SweepSpec`` or a TOML
    path), ``analysis_config`` (an ``AnalysisConfig``) and ``report_options``
    (keywords of ``report.html.write_report``) replace the study's stages, for
    small test runs; ``seed`` replaces the data's, the sweep's and the
    analysis's seeds. An ``executor`` (``mirror_neurons.distributed``) runs the
    data stage's chunks of games and the sweep's groups of ``group_size``
    models as its tasks. ``threads`` is torch's thread count for training and
    analysis, ``analysis_workers`` the analysis's processes (default: up to 2).
    ``tensorboard`` also logs the sweep's curves under ``OUT/sweep/tensorboard``.
    """
    spec = resolve_study(
        study,
        data_config=data_config,
        sweep=sweep,
        analysis_config=analysis_config,
        report_options=report_options,
        seed=seed,
    )
    paths = StudyPaths(Path(out))
    check_study_folder(paths)
    record = read_record(paths)
    check_same_study(paths, record, spec)
    record = {"preset": spec.name, "package_version": __version__, "stages": {}, **record, "study": spec.settings()}
    board = None
    if tensorboard:  # checked before any stage runs: a missing package fails now, not after the data
        from mirror_neurons.train.progress import tensorboard_log

        board = tensorboard_log(paths.sweep / "tensorboard")
    workers = analysis_workers or max(1, min(2, os.cpu_count() or 1))
    console = console or Console()
    stages: dict[str, Callable[[StageProgress], None]] = {
        "data": lambda p: _data_stage(spec, paths, p, executor),
        "sweep": lambda p: _sweep_stage(spec, paths, p, executor, group_size, threads, board),
        "analysis": lambda p: _analysis_stage(spec, paths, p, threads, workers),
        "report": lambda p: _report_stage(spec, paths, p),
    }
    with Progress(*stage_columns(), console=console, disable=not progress, transient=False) as bar:
        tasks = {name: bar.add_task(name, total=None, status="waiting") for name in STAGES}
        for name in STAGES:
            done = name in record["stages"] and paths.output_present(name)
            if done and not (name == "report" and _report_stale(record)):
                bar.update(tasks[name], total=1, completed=1, status="done earlier, skipped")
                continue
            bar.update(tasks[name], status="running")
            start = time.perf_counter()
            stages[name](StageProgress(bar, tasks[name]))
            seconds = time.perf_counter() - start
            record["stages"][name] = {
                "seconds": round(seconds, 2),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            atomic.write_json(paths.record, STUDY.writing(record, paths.record))
            task = bar.tasks[tasks[name]]
            bar.update(tasks[name], total=task.total or 1, completed=task.total or 1, status=f"done in {seconds:.1f} s")
    return paths.report


def _report_stale(record: dict) -> bool:
    """The report is redrawn when an earlier stage finished after it."""
    stages = record["stages"]
    if "report" not in stages:
        return True
    return any(stages.get(s, {}).get("finished", "") > stages["report"]["finished"] for s in STAGES[:-1])


# -- the stages: each a call into its package -------------------------------------------


def _data_stage(spec: StudySpec, paths: StudyPaths, progress: StageProgress, executor=None) -> None:
    from mirror_neurons.data.build import build_dataset

    if paths.output_present("data"):
        return  # written completely (staged) by an earlier run that stopped before recording it
    if executor is None:
        build_dataset(spec.data, paths.data, progress=progress)
    else:
        build_dataset(spec.data, paths.data, progress=progress, workers=executor.parallelism, executor=executor)


def _sweep_stage(
    spec: StudySpec,
    paths: StudyPaths,
    progress: StageProgress,
    executor=None,
    group_size=None,
    threads: int = 1,
    board=None,
) -> None:
    from mirror_neurons.train.sweep import run_sweep

    run_sweep(
        spec.sweep,
        paths.data,
        paths.sweep,
        on_epoch=board,
        progress=progress,
        executor=executor,
        group_size=group_size,
        threads=threads,
    )


def _analysis_stage(
    spec: StudySpec, paths: StudyPaths, progress: StageProgress, threads: int = 1, workers: int = 1
) -> None:
    from mirror_neurons.analysis.pipeline import analyze_run

    # the demo sweep sets competent one-hot networks beside paper-faithful raw ones on purpose;
    # every table and the report carry each model's encoding
    analyze_run(
        paths.sweep,
        paths.data,
        spec.analysis,
        mixed_encodings=True,
        workers=workers,
        threads=threads,
        progress=progress,
    )


def _report_stage(spec: StudySpec, paths: StudyPaths, progress: StageProgress) -> None:
    from mirror_neurons.report.html import write_report

    write_report(paths.root, out=paths.report, progress=progress, **spec.report)
