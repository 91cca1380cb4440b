"""Ray overheads and per-task throughput: the measured inputs of docs/ray.md's projection.

Measured on a private local Ray cluster (``--cpus`` workers, default all cores):

1. start-up: ``ray.init(address="local")`` until a first task has returned;
2. scheduling: the round trip of one no-op task (submit, run, get), one at a
   time; and no-op tasks per second when many are submitted at once;
3. a sweep task: one group of G models (the paper's case model, 2 x 17, batch
   25, seeds and learning rates varied) trained for one epoch of ``--steps``
   steps, in this process and as one Ray task (which also loads the dataset);
   model-rows/s per core for each G, the number that sizes a sweep;
4. the data stage: a dataset of ``--states`` states built locally (one
   process) and on Ray (chunks of games as tasks).

    .venv/bin/python benchmarks/bench_ray.py
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.dataset import Split, load_dataset, write_dataset
from mirror_neurons.distributed.executors import LocalExecutor, RayExecutor, Resources, import_ray
from mirror_neurons.train.groups import train_group
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.trainer import open_run


def noop(x: int) -> int:
    return x


def import_trainer() -> float:
    """Seconds a fresh worker spends importing torch and the trainer (0 once imported).

    Holds its worker for a second after, so that tasks sent together warm different workers.
    """
    start = time.perf_counter()
    import mirror_neurons.train.groups  # noqa: F401

    seconds = time.perf_counter() - start
    time.sleep(1.0)
    return seconds


def synthetic_dataset(out: Path, n_train: int, n_val: int) -> Path:
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
        label = np.argmax(x[:, :4], axis=1).astype(np.uint8)
        z = np.zeros(n, dtype=np.uint8)
        return Split(x, label, z, z.copy())

    write_dataset(
        out, {"train": split(n_train), "val": split(n_val), "test": split(1000)}, {"source": "bench_ray synthetic"}
    )
    return out


def group_configs(size: int, first: int, steps: int, val_rows: int) -> list[TrainConfig]:
    rng = np.random.default_rng(first)
    return [
        TrainConfig(
            model=ModelConfig(hidden=(17, 17), dropout=0.12),
            lr=float(np.exp(rng.uniform(np.log(4e-6), np.log(5e-5)))),
            batch_size=25,
            seed=first + i,
            max_epochs=1,
            epoch_rows=steps * 25,
            val_rows=val_rows,
        )
        for i in range(size)
    ]


def group_tasks(data: Path, out: Path, groups: list[list[TrainConfig]]) -> list[tuple]:
    """Open one run holding every group's models; one train_group argument tuple per group."""
    configs = [c for g in groups for c in g]
    ids = [f"m{i:03d}" for i in range(len(configs))]
    open_run(out, configs, ids, load_dataset(data, splits=("train", "val")), {})
    tasks, start = [], 0
    for g in groups:
        tasks.append((str(data), str(out), ids[start : start + len(g)], [c.to_dict() for c in g], 1))
        start += len(g)
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--train-rows", type=int, default=200_000)
    parser.add_argument("--steps", type=int, default=400, help="optimizer steps per model in each sweep task")
    parser.add_argument("--val-rows", type=int, default=5_000)
    parser.add_argument("--states", type=int, default=300_000, help="dataset size for the data stage (the demo preset)")
    args = parser.parse_args()
    ray = import_ray()
    print(f"ray {ray.__version__}, {args.cpus} CPUs, load average {os.getloadavg()[0]:.1f} at start")

    # 1. start-up
    start = time.perf_counter()
    ex = RayExecutor(num_cpus=args.cpus)
    ex.map(noop, [(0,)])
    print(f"start-up: {time.perf_counter() - start:.2f} s until a first task returned")
    try:
        # 2. scheduling
        ex.map(noop, [(i,) for i in range(4 * args.cpus)])  # warm every worker
        start, n = time.perf_counter(), 30
        for i in range(n):
            ex.map(noop, [(i,)])
        print(
            f"one no-op task, submitted and awaited alone: {1000 * (time.perf_counter() - start) / n:.1f} ms round trip"
        )
        start, n = time.perf_counter(), 1000
        ex.map(noop, [(i,) for i in range(n)])
        print(f"{n} no-op tasks at once: {n / (time.perf_counter() - start):,.0f} tasks/s")

        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            data = synthetic_dataset(tmp / "data", args.train_rows, args.train_rows // 4)
            start = time.perf_counter()
            load_dataset(data, splits=("train", "val"))
            print(f"loading the {args.train_rows:,}-row dataset in a task: {time.perf_counter() - start:.2f} s")

            # 3. sweep tasks, on workers that have imported torch already
            cold = ex.map(import_trainer, [()] * args.cpus, resources=Resources(num_cpus=1))
            print(f"importing torch and the trainer in a fresh worker: {max(cold):.2f} s (once per worker)")
            print(f"\none epoch of {args.steps} steps (batch 25) per model, 2 x 17 models, 1 torch thread per task:")
            print("| models per task G | local: s per task | model-rows/s per core | Ray, 1 task: s | Ray overhead s | "
                  f"Ray, {args.cpus} tasks at once: s | parallel efficiency |")  # fmt: skip
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for size in (1, 5, 25):
                rows = size * args.steps * 25
                local_tasks = group_tasks(
                    data, tmp / f"local{size}", [group_configs(size, 0, args.steps, args.val_rows)]
                )
                start = time.perf_counter()
                LocalExecutor().map(train_group, local_tasks)
                local_s = time.perf_counter() - start
                one = group_tasks(data, tmp / f"ray{size}", [group_configs(size, 0, args.steps, args.val_rows)])
                start = time.perf_counter()
                ex.map(train_group, one)
                ray_s = time.perf_counter() - start
                many = group_tasks(
                    data,
                    tmp / f"many{size}",
                    [group_configs(size, 100 * k, args.steps, args.val_rows) for k in range(args.cpus)],
                )
                start = time.perf_counter()
                ex.map(train_group, many)
                many_s = time.perf_counter() - start
                print(
                    f"| {size} | {local_s:.2f} | {rows / local_s:,.0f} | {ray_s:.2f} | {ray_s - local_s:+.2f} | "
                    f"{many_s:.2f} | {local_s * args.cpus / many_s:.0%} |"
                )

            # 4. data
            config = DataConfig.preset("demo", n_states=args.states, seed=0)
            start = time.perf_counter()
            build_dataset(config, tmp / "d_local", workers=1)
            local_s = time.perf_counter() - start
            start = time.perf_counter()
            build_dataset(config, tmp / "d_ray", workers=ex.parallelism, executor=ex)
            ray_s = time.perf_counter() - start
            same = (tmp / "d_local" / "manifest.json").read_bytes() == (tmp / "d_ray" / "manifest.json").read_bytes()
            print(f"\ndata, {args.states:,} states: local (1 process) {local_s:.2f} s, Ray ({ex.parallelism} CPUs) {ray_s:.2f} s; "
                  f"manifests identical: {same}")  # fmt: skip
    finally:
        ex.close()
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    main()
