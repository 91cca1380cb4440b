"""The one-command study: data -> sweep -> analysis -> report, resumable.

``run_study(preset, out)`` runs the four stages into one folder::

    OUT/study.json        preset, and per finished stage its wall time
    OUT/data/             the dataset (data stage's folder contract)
    OUT/sweep/            the sweep's run folder (checkpoints, histories)
    OUT/sweep/analysis/   the analysis tables
    OUT/report/report.html

Each stage is skipped when ``study.json`` records it as finished and its
output is on disk; otherwise it runs, and the stages themselves resume their
own partial work (the sweep continues from its checkpoints). So running the
same command again after an interruption continues where it stopped. The
stage's progress is shown with rich; ``progress=False`` keeps it quiet.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from mirror_neurons import __version__, atomic
from mirror_neurons.errors import ConfigError

log = logging.getLogger(__name__)

PRESETS = ("demo", "paper")
STUDY_FILE = "study.json"
STAGES = ("data", "sweep", "analysis", "report")


@dataclass(frozen=True)
class StudyPaths:
    root: Path

    @property
    def record(self) -> Path:
        return self.root / STUDY_FILE

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def sweep(self) -> Path:
        return self.root / "sweep"

    @property
    def analysis(self) -> Path:
        return self.sweep / "analysis"

    @property
    def report(self) -> Path:
        return self.root / "report" / "report.html"

    def output_present(self, stage: str) -> bool:
        """Whether a stage's output is on disk (the record says whether it finished)."""
        return {
            "data": (self.data / "manifest.json").is_file(),
            "sweep": (self.sweep / "summary.json").is_file(),
            # baselines.json came with the competence columns: an analysis without it predates them and runs again
            "analysis": (self.analysis / "checkpoints.parquet").is_file() and (self.analysis / "baselines.json").is_file(),
            "report": self.report.is_file(),
        }[stage]


def read_record(paths: StudyPaths) -> dict:
    import json

    if not paths.record.is_file():
        return {}
    try:
        return json.loads(paths.record.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"{paths.record} is not valid JSON ({e.msg}); remove it to start the study again") from e


class StageProgress:
    """A rich progress bar for one stage, handed to the stage as its ``progress`` callback.

    The data stage calls it as ``progress(step, done, total)``, the trainer
    with one dict per model-epoch (the bar then counts model-epochs), the
    analysis as ``progress(done, total)``.
    """

    def __init__(self, bar: Progress | None, task):
        self.bar, self.task = bar, task

    def __call__(self, *args, **kwargs) -> None:
        if self.bar is None:
            return
        if args and isinstance(args[0], dict):  # one trained epoch of one model
            row = args[0]
            loss = row.get("best_val_loss")
            self.bar.update(self.task, advance=1, status=f"{str(row.get('model_id', ''))[:28]} epoch {row.get('epoch', '?')}"
                            + (f" best {loss:.4f}" if isinstance(loss, float) else ""))
            return
        numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
        texts = [a for a in args if isinstance(a, str)] + [str(v) for k, v in kwargs.items() if k in ("message", "desc")]
        update = {}
        if len(numbers) >= 2:
            update.update(completed=numbers[0], total=numbers[1])
        elif len(numbers) == 1:
            update.update(completed=numbers[0])
        if "done" in kwargs:
            update["completed"] = kwargs["done"]
        if "total" in kwargs:
            update["total"] = kwargs["total"]
        if texts:
            update["status"] = texts[-1][:60]
        self.bar.update(self.task, **update)


def run_study(
    preset: str = "demo",
    out: str | Path = "runs/demo",
    *,
    data_config=None,
    sweep=None,
    analysis_config=None,
    report_options: dict | None = None,
    console: Console | None = None,
    progress: bool = True,
    executor=None,
    group_size: int | None = None,
) -> Path:
    """Run (or continue) the whole study into ``out``; returns the report's path.

    ``data_config`` (a ``DataConfig``), ``sweep`` (a ``SweepSpec`` or a TOML
    path), ``analysis_config`` (an ``AnalysisConfig``) and ``report_options``
    (keywords of ``report.html.write_report``) override the preset's stages,
    for small test runs and custom studies. A folder that holds a study of another preset is
    refused rather than mixed. An ``executor`` (``mirror_neurons.distributed``) runs the
    data stage's chunks of games and the sweep's groups of ``group_size`` models as its tasks.
    """
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    paths = StudyPaths(Path(out))
    record = read_record(paths)
    if record and record.get("preset") != preset:
        raise ConfigError(
            f"{paths.root} holds a study of preset {record.get('preset')!r}, not {preset!r}; "
            f"use another --out or --preset {record.get('preset')}"
        )
    record = {"preset": preset, "package_version": __version__, "stages": {}, **record}
    console = console or Console()
    stages: dict[str, Callable[[StageProgress], None]] = {
        "data": lambda p: _data_stage(preset, paths, data_config, p, executor),
        "sweep": lambda p: _sweep_stage(preset, paths, sweep, p, executor, group_size),
        "analysis": lambda p: _analysis_stage(preset, paths, analysis_config, p),
        "report": lambda p: _report_stage(paths, report_options or {}, p),
    }
    columns = (TextColumn("{task.description:<9}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[status]}"))
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
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
            record["stages"][name] = {"seconds": round(seconds, 2), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            atomic.write_json(paths.record, record)
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


def _data_stage(preset: str, paths: StudyPaths, config, progress: StageProgress, executor=None) -> None:
    from mirror_neurons.data.build import DataConfig, build_dataset

    if paths.output_present("data"):
        return  # written completely (staged) by an earlier run that stopped before recording it
    config = config if config is not None else DataConfig.preset(preset)
    if executor is None:
        build_dataset(config, paths.data, progress=progress)
    else:
        build_dataset(config, paths.data, progress=progress, workers=executor.parallelism, executor=executor)


def _sweep_stage(preset: str, paths: StudyPaths, sweep, progress: StageProgress, executor=None, group_size=None) -> None:
    from mirror_neurons.train.sweep import load_sweep, run_sweep

    spec = load_sweep(preset if sweep is None else sweep) if sweep is None or isinstance(sweep, (str, Path)) else sweep
    if progress.bar is not None:  # the bar counts model-epochs; early stopping ends some models sooner
        progress.bar.update(progress.task, total=sum(c.max_epochs for _, c in spec.models()), completed=0)
    run_sweep(spec, paths.data, paths.sweep, progress=progress, executor=executor, group_size=group_size)


def analysis_preset(preset: str):
    """The analysis settings of a preset.

    ``paper``: the analysis defaults. ``demo``: the demo sweep leaves a few
    hundred checkpoints and the analysis has about two minutes, so the controls
    are smaller where they cost: 39 random initialisations per architecture and
    39 decoding permutations (smallest p 1/40), 20 random ablation draws (1/21);
    the label permutations and bootstrap are cheap in their normal limit (999
    and 1000). Every floor is below alpha 0.05 (``AnalysisConfig`` refuses less).
    """
    from mirror_neurons.analysis.pipeline import AnalysisConfig

    if preset == "demo":
        return AnalysisConfig(n_random_init=39, n_permutations=999, n_bootstrap=1000, n_decoding_permutations=39,
                              n_ablation_draws=20)
    return AnalysisConfig()


def _analysis_stage(preset: str, paths: StudyPaths, config, progress: StageProgress) -> None:
    from mirror_neurons.analysis.pipeline import analyze_run

    # the demo sweep sets competent one-hot networks beside paper-faithful raw ones on purpose;
    # every table and the report carry each model's encoding
    analyze_run(paths.sweep, paths.data, config if config is not None else analysis_preset(preset), mixed_encodings=True,
                workers=max(1, min(2, os.cpu_count() or 1)), on_checkpoint=lambda i, n, _path: progress(i + 1, n))


def _report_stage(paths: StudyPaths, options: dict, progress: StageProgress) -> None:
    from mirror_neurons.report.html import write_report

    write_report(paths.root, out=paths.report, progress=progress, **options)
