"""A sweep cut into groups of models, each group one task for an executor.

The plan depends on the sweep and ``group_size`` only, never on the executor:
models that can share a ``Stack`` (``trainer.stack_key``) are taken in sweep
order and cut into groups of at most ``group_size`` (balanced: 10 models in
groups of at most 4 -> 4, 3, 3). When no group size is given, an executor with
N workers gets groups of ceil(models / N), so that every worker has a stack to
train; the group size is recorded in RUN/run.json and a resumed run keeps it. Each group is one call of
``trainer.train_models`` on one worker, which trains its models together and
writes only their folders, ``RUN/models/<model_id>/``. Because the same groups
run the same code whether the executor is local or Ray, both write the same
bytes; ``group_size=None`` makes one group per stack key, which is exactly
what ``train_many`` does in one process.

A group task is idempotent: every model resumes from its last completed epoch
(its ``state.json``), so a task re-run after its worker died, or a sweep
started again after its driver died, ends with the checkpoints an
uninterrupted run would have written, none lost and none duplicated.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path

from mirror_neurons.data.dataset import Dataset, load_dataset
from mirror_neurons.distributed.executors import Executor, Resources
from mirror_neurons.errors import ConfigError
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.trainer import Progress, TrainResult, open_run, stack_key, train_models

log = logging.getLogger(__name__)


def plan_groups(configs: Sequence[TrainConfig], group_size: int | None = None) -> list[list[int]]:
    """Indices into ``configs`` of each task's models: same stack key, sweep order, balanced cuts."""
    if group_size is not None and group_size < 1:
        raise ConfigError(f"group_size must be >= 1 models per task, got {group_size}")
    by_key: dict[tuple, list[int]] = {}
    for i, c in enumerate(configs):
        by_key.setdefault(stack_key(c), []).append(i)
    groups = []
    for members in by_key.values():
        n_groups = 1 if group_size is None else math.ceil(len(members) / group_size)
        q, r = divmod(len(members), n_groups)
        start = 0
        for g in range(n_groups):
            size = q + (g < r)
            groups.append(members[start : start + size])
            start += size
    return groups


def _group_size(out_dir: Path, asked: int | None, n_models: int, parallelism: int) -> int | None:
    """The run's group size: the one asked for, else the one recorded by an earlier start, else one group per worker.

    The groups decide which models share a stack and so the rounding of their
    results: a resumed run keeps the groups it started with, whatever number of
    workers it resumes on, so that it ends with the bytes an uninterrupted run writes.
    """
    recorded, path = None, out_dir / "run.json"
    if path.is_file():
        try:
            info = json.loads(path.read_text()).get("info", {})
        except json.JSONDecodeError:
            info = {}  # open_run reports the damaged file
        if "group_size" in info:
            recorded = info["group_size"]
            if asked is not None and asked != recorded:
                raise ConfigError(
                    f"run folder {out_dir} was started with --group-size {recorded or 0}, not {asked}; resume it without "
                    "--group-size (it keeps its groups) or use another --out"
                )
            return recorded
    if asked is not None or parallelism <= 1:
        return asked
    return math.ceil(n_models / parallelism)


def train_group(data_dir: str, out_dir: str, model_ids: list[str], configs: list[dict], threads: int | None) -> list[TrainResult]:
    """One task: load the dataset from shared storage and train these models into the run folder."""
    dataset = load_dataset(data_dir, splits=("train", "val"))
    return train_models(
        [TrainConfig.from_dict(c) for c in configs], dataset, out_dir, model_ids=list(model_ids), threads=threads
    )


def train_distributed(
    executor: Executor,
    configs: Sequence[TrainConfig],
    model_ids: Sequence[str],
    dataset: Dataset,
    out_dir: str | Path,
    *,
    run_info: dict | None = None,
    group_size: int | None = None,
    resources: Resources = Resources(),
    threads: int | None = 1,
    progress: Progress | None = None,
) -> list[TrainResult]:
    """``train_many`` with each group of models as one task on ``executor``; results in ``configs`` order.

    The driver opens the run (RUN/run.json) before any task starts; workers
    read the dataset from ``dataset.path`` and write under ``out_dir``, so both
    must be on storage every node sees. ``progress`` receives each model's
    epochs when its group's task ends (tasks on other machines cannot call
    back into this process while they run).
    """
    out_dir = Path(out_dir).absolute()
    group_size = _group_size(out_dir, group_size, len(configs), executor.parallelism)
    open_run(out_dir, configs, model_ids, dataset, {**(run_info or {}), "group_size": group_size})
    groups = plan_groups(configs, group_size)
    log.info("%d models in %d tasks on the %s executor", len(configs), len(groups), executor.name)
    tasks = [
        (str(Path(dataset.path).absolute()), str(out_dir), [model_ids[i] for i in g], [configs[i].to_dict() for i in g], threads)
        for g in groups
    ]

    def replay(_: int, results: list[TrainResult]) -> None:
        if progress is None:
            return
        for r in results:  # the events the trainer would have sent, epoch by epoch
            best = math.inf
            for k, row in enumerate(r.history):
                best = row["val_loss"] if row["is_best"] else best
                last = k == len(r.history) - 1
                status, reason = (r.status, r.reason) if last else ("running", "")
                progress({**row, "model_id": r.model_id, "best_val_loss": best, "status": status, "reason": reason})

    by_group = executor.map(train_group, tasks, resources=resources, on_result=replay)
    results: list[TrainResult | None] = [None] * len(configs)
    for g, group_results in zip(groups, by_group, strict=True):
        for i, r in zip(g, group_results, strict=True):
            results[i] = r
    assert all(r is not None for r in results)
    return results
