"""Benchmark the data stage end to end: unique labeled states per second and peak memory.

    python benchmarks/bench_data.py --preset demo --workers 2
    python benchmarks/bench_data.py --preset paper --workers 2

Builds the dataset into a temporary folder (generation, preparation, labeling,
split and the Parquet files), then prints the rate, the peak resident memory of
this process and of its worker processes, the files' size, and the label and
scenario distributions of the full dataset and of the test set.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.generate import default_workers


def percent(counts: dict[str, int]) -> str:
    total = sum(counts.values()) or 1
    return "  ".join(f"{k} {100 * v / total:.1f}%" for k, v in counts.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="demo", choices=["demo", "paper"])
    parser.add_argument("--states", type=int, default=None)
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--batch-games", type=int, default=8192)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = DataConfig.preset(args.preset, n_states=args.states, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "dataset"
        start = time.perf_counter()
        build_dataset(config, out, workers=args.workers, batch_games=args.batch_games)
        seconds = time.perf_counter() - start
        manifest = json.loads((out / "manifest.json").read_text())
        size = sum(f.stat().st_size for f in out.iterdir())
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    n = config.n_states
    print(f"preset {args.preset}: {n:,} unique labeled states, workers {args.workers}, seed {args.seed}")
    print(f"  end to end {seconds:.1f} s  ->  {n / seconds:,.0f} unique labeled states/s")
    print(
        f"  CPU: main process {own.ru_utime + own.ru_stime:.1f} s, workers {workers.ru_utime + workers.ru_stime:.1f} s; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other jobs share them)"
    )
    print(f"  peak RSS: main process {peak_self:.2f} GiB, largest worker {peak_children:.2f} GiB")
    print(f"  files {size / 2**20:.0f} MiB; rows {manifest['rows']}; generation {manifest['generation']}")
    print(f"  dataset_hash {manifest['dataset_hash']}")
    natural = manifest["natural_distribution"]
    test = manifest["distributions"]["test"]
    print(f"  full dataset labels:   {percent(natural['label'])}")
    print(f"  full dataset scenario: {percent(natural['scenario'])}")
    print(f"  test set labels:       {percent(test['label'])}")
    print(f"  test set scenario:     {percent(test['scenario'])}")


if __name__ == "__main__":
    main()
