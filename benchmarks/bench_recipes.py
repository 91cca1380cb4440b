"""Training speed of the paper's recipe and of the competent one, side by side in one run.

Competent networks (issue 12) train with one-hot inputs (385 features instead of 100),
cross-entropy, class-balanced sampling and batch 128. This measures what that costs per
model, so that the demo's 10-minute budget is judged on figures, not guesses:

  A. the paper's recipe: raw input, MSE + 0.01 * sum(W**2), dropout 0.12, batch 25, shuffle;
  B. the competent recipe: onehot, cross-entropy, no L2, no dropout, batch 128, balanced;
  C. B on the raw input (the demo's encoding contrast).

Each recipe trains a stack of ``--models`` 2 x 17 models (seeds 0..) for one epoch of
``--steps`` steps each (validation and checkpoint writes included), in one process with one
torch thread, as the demo's workers do. Recipes alternate within each round and the rounds
repeat (``--repeats``), so a drift of the machine's load shows as spread, not as a ratio.
Also timed once: encoding the training split (``Encoding.stored`` over every row).

    .venv/bin/python benchmarks/bench_recipes.py                 # the demo dataset's size, synthetic
    .venv/bin/python benchmarks/bench_recipes.py --data DIR      # an existing dataset folder
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.encoding import get_encoding
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.trainer import train_many

RECIPES = {
    "A. paper: raw, mse_l2, dropout 0.12, batch 25": dict(encoding="raw", loss="mse_l2", l2=0.01, dropout=0.12, batch_size=25, sampling="shuffle", lr=1e-4),
    "B. competent: onehot, cross_entropy, balanced, batch 128": dict(encoding="onehot", loss="cross_entropy", l2=0.0, dropout=0.0, batch_size=128, sampling="balanced", lr=3e-3),
    "C. B with raw input": dict(encoding="raw", loss="cross_entropy", l2=0.0, dropout=0.0, batch_size=128, sampling="balanced", lr=3e-3),
}  # fmt: skip


def configs(recipe: dict, models: int, steps: int, val_rows: int) -> list[TrainConfig]:
    r = dict(recipe)
    model = ModelConfig(hidden=(17, 17), dropout=r.pop("dropout"), encoding=r.pop("encoding"))
    return [
        TrainConfig(model=model, seed=i, max_epochs=1, epoch_rows=steps * r["batch_size"], val_rows=val_rows, **r)
        for i in range(models)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="dataset folder (default: synthetic, demo-sized)")
    parser.add_argument("--train-rows", type=int, default=236_000)
    parser.add_argument("--models", type=int, default=9, help="models per stack (the demo's competent group holds 9)")
    parser.add_argument("--steps", type=int, default=600, help="optimizer steps per model per recipe and round")
    parser.add_argument("--val-rows", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.data is None:
            from bench_train import synthetic_dataset  # benchmarks/ is on sys.path when run as a script

            data = synthetic_dataset(tmp / "data", args.train_rows, args.train_rows // 4)
        else:
            data = args.data
        dataset = load_dataset(data, splits=("train", "val"))
        print(f"dataset: {args.data or 'synthetic'}, {len(dataset.train)} train rows; {args.models} models x {args.steps} steps "
              f"per recipe and round; torch {torch.__version__}, 1 thread")  # fmt: skip

        x = torch.from_numpy(np.asarray(dataset.train.x, dtype=np.uint8))
        start = time.perf_counter()
        get_encoding("onehot").stored(x)
        print(f"encoding the training split one-hot (once per run and encoding): {time.perf_counter() - start:.2f} s")

        results: dict[str, list[float]] = {name: [] for name in RECIPES}
        for rep in range(args.repeats):
            for name, recipe in RECIPES.items():
                cs = configs(recipe, args.models, args.steps, args.val_rows)
                start = time.perf_counter()
                train_many(cs, dataset, tmp / f"{rep}-{name[0]}", threads=1)
                results[name].append(sum(c.epoch_rows for c in cs) / (time.perf_counter() - start))

        print()
        print("| recipe | model-rows/s, median (min-max) | rows/s per model | steps/s per model | x recipe A |")
        print("|---|---:|---:|---:|---:|")
        base = np.median(results[next(iter(RECIPES))])
        for name, values in results.items():
            med, batch = float(np.median(values)), RECIPES[name]["batch_size"]
            print(f"| {name} | {med:,.0f} ({min(values):,.0f}-{max(values):,.0f}) | {med / args.models:,.0f} "
                  f"| {med / args.models / batch:,.0f} | {med / base:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
