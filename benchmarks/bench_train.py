"""Training speed: a plain PyTorch loop vs the stacked trainer, side by side in one run.

Cases (all at the paper's batch sizes; nothing is sped up by larger batches):
  1. the case-example model (2 x 17, batch 25, lr 4e-6, dropout 0.12) in a plain loop:
     nn.Sequential, torch.optim.Adam, a Python loop over minibatches;
  2. the same model in our trainer, alone;
  3. 50 copies of it with different seeds and learning rates, in our trainer at once;
  4. the paper preset's 50 mixed configurations, in our trainer at once.
Cases 3 and 4 run twice: in one process, and cut into ``--workers`` groups trained by
as many worker processes (``mirror-neurons sweep --workers N``), starting them included.

Each case runs a fixed number of optimizer steps per model (``--steps``), as one
epoch of ``steps * batch`` rows plus its validation pass (``--val-rows``) and
checkpoint writes, so the per-epoch costs of the trainer are included.
Reported: model-rows/s (training rows per second summed over models), rows/s per
model, model-epochs per hour (for a demo-sized epoch and for the paper's
3.8M-row epoch), and achieved GFLOP/s against the measured float32 matmul peak.

    .venv/bin/python benchmarks/bench_train.py               # synthetic demo-sized data
    .venv/bin/python benchmarks/bench_train.py --data DIR    # an existing dataset folder
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mirror_neurons.data.dataset import Split, load_dataset, write_dataset
from mirror_neurons.distributed.executors import ProcessExecutor
from mirror_neurons.train.groups import train_distributed
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.sweep import load_sweep
from mirror_neurons.train.trainer import train_many

PAPER_EPOCH_ROWS = 3_800_000


def synthetic_dataset(out: Path, n_train: int, n_val: int) -> Path:
    """Game-like uint8 inputs (codes 0..9, energies 0..20) with labels from a fixed rule."""
    rng = np.random.default_rng(0)

    def split(n):
        x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
        x[:, 97] = rng.integers(0, 21, size=n)
        label = np.argmax(x[:, :4], axis=1).astype(np.uint8)
        z = np.zeros(n, dtype=np.uint8)
        return Split(x, label, z, z.copy())

    write_dataset(
        out, {"train": split(n_train), "val": split(n_val), "test": split(1000)}, {"source": "bench_train synthetic"}
    )
    return out


def flops_per_row(hidden: tuple[int, ...]) -> int:
    """Multiply-adds x 2 for forward (all layers), weight gradients (all) and input gradients (all but the first)."""
    sizes = (100, *hidden, 4)
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 2 * (sum(macs) + sum(macs) + sum(macs[1:]))


def matmul_peak(threads: int, n: int = 1024, reps: int = 20) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def plain_loop(dataset, steps: int, threads: int) -> float:
    """Case 1: returns rows/s."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x, label = dataset.train.torch()
    y = nn.functional.one_hot(label, 4).float()
    net = nn.Sequential(
        nn.Linear(100, 17), nn.ReLU(), nn.Dropout(0.12),
        nn.Linear(17, 17), nn.ReLU(), nn.Dropout(0.12),
        nn.Linear(17, 4),
    )  # fmt: skip
    opt = torch.optim.Adam(net.parameters(), lr=4e-6, eps=1e-7)
    kernels = [m.weight for m in net if isinstance(m, nn.Linear)]
    perm = torch.randperm(len(x))
    B = 25
    start = time.perf_counter()
    for s in range(steps):
        rows = perm[s * B : (s + 1) * B]
        loss = ((net(x[rows]) - y[rows]) ** 2).mean() + 0.01 * sum((w**2).sum() for w in kernels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return steps * B / (time.perf_counter() - start)


def trainer_case(
    configs: list[TrainConfig], dataset, steps: int, val_rows: int, out: Path, workers: int = 1
) -> tuple[float, float]:
    """Cases 2-4: one epoch of ``steps`` steps per model; returns (model-rows/s, GFLOP/s).

    ``workers`` > 1: the models in that many groups, each trained by a worker process
    (``mirror-neurons sweep --workers N``); the time includes starting the workers and
    their loading the dataset.
    """
    configs = [
        TrainConfig.from_dict(
            {**c.to_dict(), "epoch_rows": steps * c.batch_size, "val_rows": val_rows, "max_epochs": 1}
        )
        for c in configs
    ]
    start = time.perf_counter()
    if workers == 1:
        train_many(configs, dataset, out, threads=1)
    else:
        with ProcessExecutor(workers=workers) as executor:
            train_distributed(executor, configs, [f"m{i:03d}" for i in range(len(configs))], dataset, out)
    elapsed = time.perf_counter() - start
    rows = sum(c.epoch_rows for c in configs)
    flops = sum(c.epoch_rows * flops_per_row(c.model.hidden) for c in configs)
    return rows / elapsed, flops / elapsed / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="dataset folder (default: synthetic, demo-sized)")
    parser.add_argument("--train-rows", type=int, default=240_000)
    parser.add_argument("--steps", type=int, default=2000, help="optimizer steps per model in each case")
    parser.add_argument("--val-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="rounds of case 1 and case 3 measured back to back")
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for the multi-process rows (default: all cores)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = args.data or synthetic_dataset(tmp / "data", args.train_rows, args.train_rows // 4)
        dataset = load_dataset(data, splits=("train", "val"))
        n_train = len(dataset.train)
        print(f"dataset: {data if args.data else 'synthetic'}, {n_train} train rows, {len(dataset.val)} val rows; "
              f"{args.steps} steps per model per case; torch {torch.__version__}, {torch.get_num_threads()} threads available")  # fmt: skip
        peak1, peak2 = matmul_peak(1), matmul_peak(2)
        print(
            f"matmul peak (1024^2 float32 torch.mm): {peak1:.1f} GFLOP/s on 1 thread, {peak2:.1f} GFLOP/s on 2 threads"
        )

        case_model = TrainConfig(model=ModelConfig(hidden=(17, 17), dropout=0.12), lr=4e-6, batch_size=25)
        f_case = flops_per_row((17, 17))
        rng = np.random.default_rng(1)
        copies = [
            TrainConfig.from_dict(
                {**case_model.to_dict(), "seed": i, "lr": float(np.exp(rng.uniform(np.log(4e-6), np.log(5e-5))))}
            )
            for i in range(50)
        ]
        rows = {}
        r = plain_loop(dataset, args.steps, 2)
        rows["1. plain loop, torch's default 2 threads"] = (r, 1, r * f_case / 1e9)
        # the machine's load drifts (other sessions share it): alternate case 1 and case 3 and
        # compare the runs of each round, measured back to back
        ratios: dict[int, list[float]] = {1: [], args.workers: []}
        for rep in range(args.repeats):
            r1 = plain_loop(dataset, args.steps, 1)
            rows[f"1. plain loop, 1 thread (round {rep + 1})"] = (r1, 1, r1 * f_case / 1e9)
            for workers in ratios:
                r3, g3 = trainer_case(copies, dataset, args.steps, args.val_rows, tmp / f"c3-{rep}-{workers}", workers)
                rows[f"3. trainer, 50 copies (seeds, lrs), {_processes(workers)} (round {rep + 1})"] = (r3, 50, g3)
                ratios[workers].append(r3 / r1)
        r, g = trainer_case([case_model], dataset, args.steps, args.val_rows, tmp / "c2")
        rows["2. trainer, alone"] = (r, 1, g)
        paper = [c for _, c in load_sweep("paper").models()]
        for workers in ratios:
            r, g = trainer_case(paper, dataset, args.steps, args.val_rows, tmp / f"c4-{workers}", workers)
            rows[f"4. trainer, paper's 50 configurations, {_processes(workers)}"] = (r, 50, g)
        baseline = float(np.median([v[0] for k, v in rows.items() if k.startswith("1. plain loop, 1 thread")]))

        print()
        print(
            f"| case | model-rows/s | rows/s per model | model-epochs/h ({n_train // 1000}k rows) | model-epochs/h (paper 3.8M) | GFLOP/s | % of 1-thread peak | x plain |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for name, (r, m, g) in rows.items():
            print(
                f"| {name} | {r:,.0f} | {r / m:,.0f} | {r / n_train * 3600:,.1f} | {r / PAPER_EPOCH_ROWS * 3600:,.2f} "
                f"| {g:.2f} | {100 * g / peak1:.1f} % | {r / baseline:.1f} |"
            )
        print()
        print("x plain = model-rows/s over the median of the 1-thread plain-loop runs; model-epochs/h sum over models.")
        for workers, values in ratios.items():
            print(
                f"case 3 ({_processes(workers)}) / case 1, round by round: {', '.join(f'{x:.1f}' for x in values)} (median {np.median(values):.1f})"
            )


def _processes(workers: int) -> str:
    return "1 process" if workers == 1 else f"{workers} worker processes"


if __name__ == "__main__":
    main()
