"""`run` on Ray: the study's data and sweep stages as Ray tasks give the local executor's bytes."""

from __future__ import annotations

import dataclasses
import json

import tiny_run

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.distributed.executors import LocalExecutor, RayExecutor
from mirror_neurons.study import StudyPaths, run_study
from mirror_neurons.tables import MANIFEST
from mirror_neurons.train.sweep import parse_sweep, run_sweep

from . import ray_tasks

DATA = DataConfig.preset("demo", n_states=3000, seed=5)
# The docs' tiny run (tests/tiny_run.py) with two replicates (two tasks per configuration on the cluster) and
# fewer bootstrap draws; p floors stay below 0.05.
SWEEP = {**tiny_run.TINY_SWEEP, "sweep": {**tiny_run.TINY_SWEEP["sweep"], "replicates": 2}}
ANALYSIS = dataclasses.replace(tiny_run.TINY_ANALYSIS, n_bootstrap=10)


def test_study_on_ray_matches_its_stages_run_locally(ray_cluster, tmp_path):
    out = tmp_path / "study"
    report = run_study(
        "demo", out, data_config=DATA, sweep=parse_sweep(SWEEP), analysis_config=ANALYSIS,
        progress=False,
        executor=RayExecutor(), group_size=1,
    )  # fmt: skip
    assert report.is_file()
    local_data = build_dataset(DATA, tmp_path / "data")
    local_run = tmp_path / "sweep"
    run_sweep(parse_sweep(SWEEP), local_data, local_run, executor=LocalExecutor(), group_size=1)
    paths = StudyPaths(out)
    ray_data, ray_run = paths.data, paths.sweep
    ours, theirs = (json.loads((d / MANIFEST.file).read_text()) for d in (ray_data, local_data))
    assert ours["dataset_hash"] == theirs["dataset_hash"]

    def trained(run_dir):  # run.json names the dataset's folder, and the study adds analysis/ beside
        return {k: v for k, v in ray_tasks.run_files(run_dir).items() if k.startswith("models/") or k == "summary.json"}

    assert trained(ray_run) == trained(local_run)
    assert sum(1 for k in trained(local_run) if k.endswith(".safetensors") and "/state-" not in k) >= 4
