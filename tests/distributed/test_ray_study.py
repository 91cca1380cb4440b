"""`run` on Ray: the study's data and sweep stages as Ray tasks give the local executor's bytes."""

from __future__ import annotations

import json

from mirror_neurons.analysis.pipeline import AnalysisConfig
from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.distributed.executors import LocalExecutor, RayExecutor
from mirror_neurons.study import StudyPaths, run_study
from mirror_neurons.train.sweep import parse_sweep, run_sweep

from . import ray_tasks

DATA = DataConfig.preset("demo", n_states=3000, seed=5)
SWEEP = {
    "sweep": {"name": "tiny", "seed": 7, "replicates": 2},
    "limits": {"max_epochs": 3, "patience": 2, "epoch_rows": 1500},
    "defaults": {"dropout": 0.12, "batch_size": 25},
    "configs": [{"hidden": [8, 8], "lr": 3e-3}, {"hidden": [6], "lr": 5e-3}],
}
ANALYSIS = AnalysisConfig(
    n_random_init=20,
    n_permutations=20,
    n_bootstrap=10,
    n_decoding_permutations=20,
    n_ablation_draws=20,
    n_decoding_untrained=1,
    min_stratum_states=2,
    behaviour_games=8,
    behaviour_turns=20,
)  # p floors below 0.05


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
    ours, theirs = (json.loads((d / "manifest.json").read_text()) for d in (ray_data, local_data))
    assert ours["dataset_hash"] == theirs["dataset_hash"]

    def trained(run_dir):  # run.json names the dataset's folder, and the study adds analysis/ beside
        return {k: v for k, v in ray_tasks.run_files(run_dir).items() if k.startswith("models/") or k == "summary.json"}

    assert trained(ray_run) == trained(local_run)
    assert sum(1 for k in trained(local_run) if k.endswith(".safetensors") and "/state-" not in k) >= 4
