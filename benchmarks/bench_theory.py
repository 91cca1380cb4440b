"""Cost of the theory experiment's full preset, extrapolated from measured throughput.

Measures, on this machine:
1. seconds per optimizer step of one Stack holding one depth's models of the
   full preset (5 widths x 10 seeds = 50 models, widths padded to 64) at
   batch 25, for depths 1, 2, 3;
2. seconds to analyse one checkpoint (CMNI, label-permutation null, unit
   tests) and per random initialisation of the random-init null, for a 3 x 64
   network on the full preset's analysed states.
Then multiplies by the full preset's counts (steps per epoch, epochs,
datasets, permutations, initialisations) to give CPU-core-hours.

    .venv/bin/python benchmarks/bench_theory.py [--epochs-mean 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import compute_cmni
from mirror_neurons.analysis.controls import permutation_null, random_init_null
from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.units import response_classes, unit_tests
from mirror_neurons.experiments.theory import VAL_FRACTION, TheoryGrid
from mirror_neurons.train.model import MLP, ModelConfig
from mirror_neurons.train.stack import Stack, with_ones


def step_seconds(depth: int, grid: TheoryGrid, steps: int = 60) -> float:
    widths = sorted({h[0] for h in grid.hidden if len(h) == depth})
    configs = [ModelConfig(hidden=(w,) * depth, dropout=grid.dropout) for w in widths for _ in range(grid.seeds)]
    stack = Stack(
        configs, lr=[grid.lr] * len(configs), l2=[0.01] * len(configs), loss="mse_l2", betas=(0.9, 0.999), eps=1e-7
    )
    M, B = len(configs), grid.batch_size
    g = torch.Generator().manual_seed(0)
    x = with_ones(torch.randint(0, 10, (M, B, 100), generator=g).float())
    y = torch.nn.functional.one_hot(torch.randint(0, 4, (M, B), generator=g), 4).float()
    masks = [torch.ones(M, B, w) for w in stack.sizes[1:-1]]
    for _ in range(5):
        stack.train_step(x, y, masks)
    start = time.perf_counter()
    for _ in range(steps):
        stack.train_step(x, y, masks)
    return (time.perf_counter() - start) / steps


def analysis_seconds(grid: TheoryGrid, n_states: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, (n_states, 100)).astype(np.float32)
    groups = Groups(
        label=rng.choice([0, 1, 2, 3], size=n_states, p=[0.7, 0.12, 0.12, 0.06]).astype(np.int8), filtered=True
    )
    model = MLP(ModelConfig(hidden=(64, 64, 64)))
    start = time.perf_counter()
    acts = capture(model, x)
    compute_cmni(acts, groups)
    a = np.concatenate(list(acts.values()), axis=1)
    permutation_null(a, groups, grid.n_permutations, rng)
    response_classes(unit_tests(a, groups))
    per_checkpoint = time.perf_counter() - start
    start = time.perf_counter()
    random_init_null(model.config, x, groups, np.arange(10))
    per_init = (time.perf_counter() - start) / 10
    return per_checkpoint, per_init


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--epochs-mean", type=float, default=20.0, help="assumed mean epochs per model before early stopping (max 30)"
    )
    args = ap.parse_args()
    grid = TheoryGrid.preset("full")
    n_cells = len(grid.cells())
    train_rows = round(grid.n_states * (1 - VAL_FRACTION))
    analysed = round(grid.n_states * VAL_FRACTION) // 2
    steps_per_epoch = -(-train_rows // grid.batch_size)
    print(
        f"torch threads {torch.get_num_threads()}; full preset: {n_cells} datasets, {grid.n_models} models, "
        f"{train_rows} training rows, batch {grid.batch_size} -> {steps_per_epoch} steps per epoch"
    )
    train_s = 0.0
    for depth in sorted({len(h) for h in grid.hidden}):
        s = step_seconds(depth, grid)
        n = sum(1 for h in grid.hidden if len(h) == depth) * grid.seeds
        per_epoch = s * steps_per_epoch
        print(
            f"depth {depth}: {n} models in one stack, {1e3 * s:.2f} ms per step, {per_epoch:.0f} s per epoch "
            f"({n * train_rows / per_epoch:,.0f} model-rows/s)"
        )
        train_s += per_epoch * args.epochs_mean
    per_ckpt, per_init = analysis_seconds(grid, analysed)
    n_ckpt = 2 * len(grid.hidden) * grid.seeds  # first-under-0.06 and lowest-loss checkpoints, at most
    analysis_s = n_ckpt * per_ckpt + len(grid.hidden) * grid.n_random_inits * per_init
    print(
        f"analysis on {analysed} states: {per_ckpt:.2f} s per checkpoint ({grid.n_permutations} permutations), "
        f"{1e3 * per_init:.1f} ms per random initialisation"
    )
    cell_h = (train_s + analysis_s) / 3600
    print(
        f"per dataset cell: training {train_s / 3600:.2f} h (mean {args.epochs_mean:g} epochs), analysis {analysis_s / 3600:.2f} h "
        f"-> {cell_h:.2f} core-hours; all {n_cells} cells: {n_cells * cell_h:.0f} core-hours "
        f"(data generation excluded); wall time with >= {n_cells} one-core workers: about {cell_h:.1f} h"
    )


if __name__ == "__main__":
    main()
