"""A sweep cut into groups of models, each group one task for an executor (``distributed.executors``).

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
import threading
from collections.abc import Sequence
from pathlib import Path

from mirror_neurons.data.dataset import Dataset, load_dataset
from mirror_neurons.distributed.executors import Executor, Resources
from mirror_neurons.errors import ConfigError
from mirror_neurons.tables import RESUME_STATE_FILE
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.run_folder import open_run, run_info
from mirror_neurons.train.trainer import EpochHook, TrainResult, stack_key, train_models

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
    """The run's group size: the one it started with, else the one asked for, else one group per worker.

    The groups decide which models share a stack and so the rounding of their
    results: a resumed run keeps the groups it started with (None: one group per
    kind of stack, as a run started in one process has), whatever number of workers
    it resumes on, so that it ends with the bytes an uninterrupted run writes.
    """
    info = run_info(out_dir)
    if info is not None:
        recorded = info.get("group_size")
        if asked is not None and asked != recorded:
            started = f"--group-size {recorded}" if recorded else "one group per kind of stack (--group-size 0)"
            raise ConfigError(
                f"run folder {out_dir} was started with {started}, not --group-size {asked}; resume it without "
                "--group-size (it keeps its groups) or use another --out"
            )
        return recorded
    if asked is not None or parallelism <= 1:
        return asked
    return math.ceil(n_models / parallelism)


class _EpochWatcher:
    """Sends ``on_epoch`` the epochs that workers finish, read from their state files while they run.

    Tasks on other processes or machines cannot call back into this one, but each
    model's RUN/models/<id>/state.json is rewritten (atomically) after every epoch:
    a thread polls them, and ``finish`` sends what a task's results hold beyond.
    Epochs already on disk when the watcher starts (a resumed run) are not sent,
    as ``train_many`` does not send them either.
    """

    def __init__(self, out_dir: Path, model_ids: Sequence[str], on_epoch: EpochHook, interval: float = 1.0):
        self.files = {mid: out_dir / "models" / mid / RESUME_STATE_FILE for mid in model_ids}
        self.on_epoch, self.interval = on_epoch, interval
        self.sent = {mid: len(self._read(path).get("history", [])) for mid, path in self.files.items()}
        self.seen: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="epoch-watcher", daemon=True)

    def __enter__(self) -> _EpochWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.wait(self.interval):
            for mid, path in self.files.items():
                try:
                    stamp = path.stat().st_mtime_ns
                except FileNotFoundError:
                    continue
                if self.seen.get(mid) != stamp:
                    self.seen[mid] = stamp
                    state = self._read(path)
                    self._send(mid, state.get("history", []), state.get("status", "running"), state.get("reason", ""))

    def finish(self, results: Sequence[TrainResult]) -> None:
        """A task ended: send each of its models' epochs not sent yet."""
        for r in results:
            self._send(r.model_id, r.history, r.status, r.reason)

    def _send(self, model_id: str, history: list[dict], status: str, reason: str) -> None:
        with self.lock:
            start = self.sent[model_id]
            best = min((row["val_loss"] for row in history[:start] if row["is_best"]), default=math.inf)
            for k in range(start, len(history)):
                row = history[k]
                best = row["val_loss"] if row["is_best"] else best
                now = (status, reason) if k == len(history) - 1 else ("running", "")
                self.on_epoch({**row, "model_id": model_id, "best_val_loss": best, "status": now[0], "reason": now[1]})
            self.sent[model_id] = max(start, len(history))

    @staticmethod
    def _read(path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}


def train_group(
    data_dir: str, out_dir: str, model_ids: list[str], configs: list[dict], threads: int | None
) -> list[TrainResult]:
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
    on_epoch: EpochHook | None = None,
) -> list[TrainResult]:
    """``train_many`` with each group of models as one task on ``executor``; results in ``configs`` order.

    The driver opens the run (RUN/run.json) before any task starts; workers
    read the dataset from ``dataset.path`` and write under ``out_dir``, so both
    must be on storage every node sees. ``on_epoch`` receives each model's
    epochs when its group's task ends (tasks on other machines cannot call
    back into this process while they run).
    """
    out_dir = Path(out_dir).absolute()
    group_size = _group_size(out_dir, group_size, len(configs), executor.parallelism)
    open_run(out_dir, configs, model_ids, dataset, {**(run_info or {}), "group_size": group_size})
    groups = plan_groups(configs, group_size)
    log.info("%d models in %d tasks on the %s executor", len(configs), len(groups), executor.name)
    tasks = [
        (
            str(Path(dataset.path).absolute()),
            str(out_dir),
            [model_ids[i] for i in g],
            [configs[i].to_dict() for i in g],
            threads,
        )
        for g in groups
    ]

    watcher = _EpochWatcher(out_dir, model_ids, on_epoch) if on_epoch is not None else None
    if watcher is None:
        by_group = executor.map(train_group, tasks, resources=resources)
    else:
        with watcher:
            by_group = executor.map(train_group, tasks, resources=resources, on_result=lambda _, rs: watcher.finish(rs))
    results: list[TrainResult | None] = [None] * len(configs)
    for g, group_results in zip(groups, by_group, strict=True):
        for i, r in zip(g, group_results, strict=True):
            results[i] = r
    assert all(r is not None for r in results)
    return results
