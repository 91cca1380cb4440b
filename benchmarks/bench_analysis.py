"""Benchmark of the analysis stage (issue 5): per-checkpoint cost and a sweep-sized CMNI table.

    .venv/bin/python benchmarks/bench_analysis.py [--states 100000] [--sweep 3500] [--repeat 15]

1. One 2 x 17 checkpoint on ``--states`` test states: the median time of
   (a) activations of all layers, (b) group moments (mean, variance, skewness,
   kurtosis per unit and group) + CMNI, their sum (the goal: <= 50 ms on 2
   cores), then KL divergences, rank tests + unit classes, and each control at
   its default size (the permutation null and bootstrap in their normal limit
   beside the exact ones, for the ratio), the untrained-network nulls of one
   architecture (computed once per architecture), ``analyze_checkpoint``
   without / with controls (defaults: ablations on a 20,000-state subsample;
   without ablation; ablation on every state; demo preset; exact resampling), and the
   projection for the paper's sweep (issue 13's goal: <= 250 ms per checkpoint
   with every control, 3,500 checkpoints <= 15 min on 2 cores).
2. A sweep: ``--sweep`` checkpoints of the paper's sweep shapes (1-3 layers of
   5-50 units) written to a temporary run folder, then ``analyze_run`` without
   controls and without significance (the CMNI table), timed end to end. With
   ``--sweep-sample K`` only K checkpoints are written and the time is projected.

The test states are synthetic (random boards with a consistent players row per
scenario): timing does not depend on their content. Torch uses one thread
(``--threads``, as ``analyze`` does by default); the CPU time beside the wall
time is what the work costs on a machine shared with other jobs.
"""

from __future__ import annotations

import argparse
import os
import warnings
from dataclasses import replace
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import cmni_from_means
from mirror_neurons.analysis.controls import (
    bootstrap_diffs,
    normal_bootstrap,
    normal_permutation_null,
    permutation_diffs,
)
from mirror_neurons.analysis.decoding import cross_decode
from mirror_neurons.analysis.pipeline import (
    AnalysisConfig,
    analyze_checkpoint,
    analyze_run,
    architecture_nulls,
    prepare_test,
)
from mirror_neurons.analysis.stats import cell_moments, group_moments, kl_to_none
from mirror_neurons.study import analysis_preset
from mirror_neurons.analysis.units import classify, unit_tests
from mirror_neurons.data.dataset import Split, write_dataset
from mirror_neurons.game.constants import PLAYERS, Scenario, Symbol
from mirror_neurons.train.checkpoint import Checkpoint, save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig


def synthetic_split(n: int, seed: int) -> Split:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 100), dtype=np.uint8)
    x[:, 0:32] = rng.choice([Symbol.SOLID, Symbol.ROUGH], size=(n, 32), p=[0.8, 0.2])
    scenario = rng.choice(4, n, p=[0.4, 0.25, 0.25, 0.1]).astype(np.uint8)
    fp = rng.integers(0, 31, n)
    tp = (fp + rng.integers(1, 6, n)) % 32
    rows = np.arange(n)
    x[rows, PLAYERS.start + fp] = np.where(scenario % 2 == 1, Symbol.DISTRESS, Symbol.FROG)
    x[rows, PLAYERS.start + tp] = np.where(scenario >= Scenario.TOAD, Symbol.DISTRESS, Symbol.TOAD)
    x[:, 64:96] = np.where(rng.random((n, 32)) < 0.2, Symbol.FLY, 0)
    x[:, 97] = rng.integers(0, 21, n)
    return Split(x, rng.choice(4, n, p=[0.4, 0.4, 0.1, 0.1]).astype(np.uint8), scenario, fp.astype(np.uint8))


def model(hidden, seed: int) -> MLP:
    m = MLP(ModelConfig(hidden=hidden))
    m.reset_parameters(torch.Generator().manual_seed(seed))
    with torch.no_grad():
        for layer in m.layers:
            layer.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(seed + 1))
    return m.eval()


CPU: list[float] = []  # CPU seconds (all threads) of the last timeit call's median run


def timeit(fn, repeat: int) -> tuple[float, object]:
    """Median wall time of ``repeat`` runs after a warm-up; the median CPU time goes to CPU[-1].

    On a shared machine the wall time includes waiting for the cores; the CPU
    time (process_time, summed over threads) is what the work itself costs.
    """
    fn()  # warm-up
    times, cpu, out = [], [], None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    CPU.append(statistics.median(cpu))
    return statistics.median(times), out


def ms(t: float) -> str:
    return f"{1e3 * t:8.1f} ms wall {1e3 * CPU[-1]:8.1f} ms cpu"


def per_checkpoint(states: int, repeat: int) -> None:
    test = prepare_test(synthetic_split(states, 0))
    m = model((17, 17), 1)
    g = test.groups
    print(f"== one 2 x 17 checkpoint, {states:,} test states (median of {repeat}) ==")
    t_act, acts = timeit(lambda: capture(m, test.x), repeat)
    layers, widths = tuple(acts), tuple(a.shape[1] for a in acts.values())

    def moments_cmni():
        a = np.concatenate(list(acts.values()), axis=1)
        mo = group_moments(a, g)
        return cmni_from_means(mo.mean, layers, widths).cmni

    print(f"activations (38 units)                 {ms(t_act)}")
    cpu_act = CPU[-1]
    t_mom, value = timeit(moments_cmni, repeat)
    print(f"moments x 4 groups + CMNI               {ms(t_mom)}   (CMNI {value:.5f})")
    print(
        f"  activations + CMNI + four statistics  {1e3 * (t_act + t_mom):8.1f} ms wall {1e3 * (cpu_act + CPU[-1]):8.1f} ms cpu   (goal <= 50 ms)"
    )
    a = np.concatenate(list(acts.values()), axis=1)
    t_kl, _ = timeit(lambda: kl_to_none(a, g), repeat)
    print(f"KL divergences (3 pairs)                {ms(t_kl)}")
    t_sig, _ = timeit(lambda: classify(m, unit_tests(a, g)), max(3, repeat // 3))
    print(f"rank tests, BH, effect sizes, classes   {ms(t_sig)}")
    cfg = AnalysisConfig()
    rng = np.random.default_rng(0)
    r = 3
    counted = a
    t, cm = timeit(lambda: cell_moments(counted, g, cov=True), r)
    print(f"cell moments + covariances (14 strata)  {ms(t)}")
    t, _ = timeit(lambda: normal_permutation_null(cm, cfg.n_permutations, rng), r)
    print(f"control: permutations x {cfg.n_permutations:<4} (normal)   {ms(t)}")
    t, _ = timeit(lambda: normal_bootstrap(cm, cfg.n_bootstrap, rng), r)
    print(f"control: bootstrap x {cfg.n_bootstrap:<4} (normal)      {ms(t)}")
    t, _ = timeit(lambda: permutation_diffs(counted, g, cfg.n_permutations, rng), 1)
    print(f"  exact permutations x {cfg.n_permutations:<4} (for ratio)  {ms(t)}")
    t, _ = timeit(lambda: bootstrap_diffs(counted, g, cfg.n_bootstrap, rng), 1)
    print(f"  exact bootstrap x {cfg.n_bootstrap:<4} (for ratio)     {ms(t)}")
    t, _ = timeit(
        lambda: [cross_decode(acts[k], g, rng, n_permutations=cfg.n_decoding_permutations) for k in layers[:-1]], r
    )
    print(f"cross-decoding, 2 layers x {cfg.n_decoding_permutations} perms      {ms(t)}")
    t_arch, nulls = timeit(lambda: architecture_nulls(m.config, test, cfg), 1)
    t_arch_cpu = CPU[-1]
    print(
        f"untrained nulls, once per architecture: {cfg.n_random_init} raw + {cfg.n_random_init} recoded, "
        f"{cfg.n_decoding_untrained} decoding   {ms(t_arch)}"
    )
    ck = Checkpoint(Path("bench.json"), m, {"weights_sha256": "bench"})
    demo = analysis_preset("demo")
    for name, c in (
        ("analyze_checkpoint, no controls, no significance", AnalysisConfig(controls=False, significance=False)),
        ("analyze_checkpoint, no controls", AnalysisConfig(controls=False)),
        ("analyze_checkpoint, all controls (defaults)", AnalysisConfig()),
        ("  the same, no ablation", replace(AnalysisConfig(), n_ablation_draws=0)),
        ("  the same, ablation on all states", replace(AnalysisConfig(), ablation_states=0)),
        ("analyze_checkpoint, all controls (demo preset)", demo),
        ("analyze_checkpoint, defaults, exact resampling", replace(AnalysisConfig(), exact_resampling=True)),
    ):
        shared = architecture_nulls(m.config, test, c) if c.controls else None
        t, res = timeit(
            lambda c=c, shared=shared: analyze_checkpoint(ck, test, c, nulls=shared), 3 if c.controls else repeat
        )
        print(f"{name:<48} {ms(t)}")
        if name.startswith("analyze_checkpoint, all controls (defaults)"):
            per_ck = CPU[-1]
    cpu_arch = t_arch_cpu
    # the paper's sweep: 3,500 checkpoints of up to 50 architectures, on 2 workers (CPU time / 2: the work, not the wait)
    total = (3500 * per_ck + 50 * cpu_arch) / 2
    print(
        f"projected, 3,500 checkpoints + 50 architectures' untrained nulls on 2 workers: {total / 60:5.1f} min of CPU per core "
        f"({1e3 * per_ck:.0f} ms per checkpoint, {cpu_arch:.1f} s per architecture; goal <= 15 min, <= 250 ms)"
    )


def sweep(n: int, sample: int | None, states: int, sig_sample: int = 0) -> None:
    shapes = [(w,) * depth for depth in (1, 2, 3) for w in (5, 11, 17, 25, 35, 50)]
    k = n if sample is None else sample
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = write_dataset(tmp / "data", {"train": synthetic_split(10, 1), "val": synthetic_split(10, 2),
                                            "test": synthetic_split(states, 0)}, {"seed": 0})  # fmt: skip
        t = time.perf_counter()
        for i in range(k):
            hidden = shapes[i % len(shapes)]
            save_checkpoint(tmp / "run" / "models" / f"m{i % 50:02d}" / f"epoch-{i:04d}", model(hidden, i),
                            {"model_id": f"m{i % 50:02d}", "epoch": i, "val_loss": 0.1})  # fmt: skip
        t_write = time.perf_counter() - t
        print(f"== sweep: {k:,} checkpoints of {len(shapes)} shapes (1-3 x 5-50 units), {states:,} test states ==")
        print(f"writing the checkpoints (not analysis)  {t_write:8.1f} s")

        def timed(label: str, config: AnalysisConfig, count: int, workers: int = 1) -> None:
            shutil.rmtree(tmp / "run" / "analysis", ignore_errors=True)
            t, c = time.perf_counter(), time.process_time()
            analyze_run(tmp / "run", data, config, part_every=250, workers=workers)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            print(f"{label:<44} {wall:7.1f} s wall {cpu:7.1f} s cpu ({1e3 * wall / count:6.1f} ms wall per checkpoint)")
            if count < n:
                print(
                    f"  projected for {n:,} checkpoints: {wall / count * n / 60:5.1f} min wall, {cpu / count * n / 60:5.1f} min cpu"
                )

        table = AnalysisConfig(controls=False, significance=False, statistics=False)
        timed("CMNI table (means, variances, CMNI)", table, k)
        timed("+ skewness, kurtosis, KL", AnalysisConfig(controls=False, significance=False), k)
        if sig_sample:
            for j in sorted((tmp / "run").rglob("*.json"))[sig_sample:]:
                j.unlink()
            timed("+ rank tests, q-values, classes", AnalysisConfig(controls=False), sig_sample)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--states", type=int, default=100_000)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--sweep", type=int, default=3500)
    p.add_argument("--sweep-sample", type=int, default=None)
    p.add_argument("--skip-sweep", action="store_true")
    p.add_argument("--skip-single", action="store_true", help="only the sweep")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads in this process (0: torch's default; analyze uses 1)"
    )
    p.add_argument("--significance-sample", type=int, default=50, help="checkpoints re-analysed with significance on")
    args = p.parse_args(argv)
    warnings.simplefilter(
        "ignore"
    )  # strata dropped from the synthetic set: named once per run, not the timing's concern
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cpus, python {sys.version.split()[0]}"
    )
    if not args.skip_single:
        per_checkpoint(args.states, args.repeat)
    if not args.skip_sweep:
        sweep(args.sweep, args.sweep_sample, args.states, args.significance_sample)


if __name__ == "__main__":
    main()
