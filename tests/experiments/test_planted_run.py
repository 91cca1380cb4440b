"""experiment planted end to end on a tiny hand-built study: files, tables, model choice, the CLI."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from mirror_neurons.analysis.pipeline import AnalysisConfig
from mirror_neurons.cli import app
from mirror_neurons.data.dataset import Split, load_dataset, write_dataset
from mirror_neurons.errors import AnalysisError, ConfigError
from mirror_neurons.experiments.planted import PlantedGrid, load_summary, run_planted, summarise
from mirror_neurons.game.constants import PLAYERS, Scenario, Symbol
from mirror_neurons.train.checkpoint import save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig

from .progress_log import ProgressLog

STUDY = AnalysisConfig(alpha=0.1, min_effect=0.25, controls=False)
GRID = PlantedGrid(
    mirror_effects=(0.0, 2.0), single_effects=(2.0,), covariate_effects=(2.0,), reps=2, population_effects=(0.0, 2.0)
)


def states(n: int, seed: int) -> Split:
    """Frog at one column, Toad at another, shown as 4/5 or 9 by scenario; energy and flies at random."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 100), dtype=np.uint8)
    x[:, 0:32] = Symbol.SOLID
    scenario = rng.integers(0, 4, n).astype(np.uint8)
    frog, toad = rng.integers(0, 16, n), rng.integers(16, 32, n)
    rows = np.arange(n)
    x[rows, PLAYERS.start + frog] = np.where(
        np.isin(scenario, (Scenario.FROG, Scenario.BOTH)), Symbol.DISTRESS, Symbol.FROG
    )
    x[rows, PLAYERS.start + toad] = np.where(
        np.isin(scenario, (Scenario.TOAD, Scenario.BOTH)), Symbol.DISTRESS, Symbol.TOAD
    )
    x[:, 64:96] = np.where(rng.random((n, 32)) < 0.2, Symbol.FLY, 0)
    x[:, 97] = rng.integers(0, 21, n)
    return Split(x=x, label=rng.integers(0, 4, n).astype(np.uint8), scenario=scenario, frog_pos=frog.astype(np.uint8))


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("study")
    write_dataset(root / "data", {"train": states(200, 0), "val": states(100, 1), "test": states(1500, 2)}, {})
    data_hash = load_dataset(root / "data", splits=("test",)).hash
    rows = []
    for i, (hidden, competent) in enumerate([((6,), True), ((5, 4), True), ((6,), False)]):
        model = MLP(ModelConfig(hidden=hidden))
        model.reset_parameters(torch.Generator().manual_seed(i))
        rel = f"models/m{i}/m{i}_epoch-0001"
        save_checkpoint(root / "sweep" / rel, model, {"model_id": f"m{i}", "epoch": 1, "dataset_hash": data_hash})
        rows.append({"checkpoint": f"{rel}.json", "model_id": f"m{i}", "macro_recall": 0.7, "competent": competent})
    (root / "sweep" / "analysis").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), root / "sweep" / "analysis" / "checkpoints.parquet")
    (root / "sweep" / "analysis" / "config.json").write_text(
        json.dumps({**asdict(STUDY), "data_dir": str(root / "data")})
    )
    return root


@pytest.fixture(scope="module")
def result(study, tmp_path_factory):
    out = tmp_path_factory.mktemp("planted")
    return out, run_planted(study, out, GRID)


def test_writes_tables_for_competent_models_only(result):
    out, summary = result
    assert [m["model_id"] for m in summary["models"]] == ["m0", "m1"]
    units = pq.read_table(out / "units.parquet").to_pylist()
    per_model = 2 * (2 + 2 * 1 + 2 * 1)  # reps x (mirror + one-player decoys + covariate decoys)
    assert sum(u["grid"] == "unit" for u in units) == 2 * per_model == summary["n_plants"]
    analyses = pq.read_table(out / "analyses.parquet").to_pylist()
    population = [a for a in analyses if a["grid"] == "population"]
    assert sorted(a["count"] for a in population) == [
        1,
        1,
        2,
        2,
    ]  # round(0.25 * 6) in m0, max(1, round(0.25 * 5)) in m1
    assert all(a["p_random_init"] is not None for a in population)  # columns only the later analyses have are kept
    assert all(a["p_random_init"] is None for a in analyses if a["grid"] == "unit")
    assert {u["layer"] for u in units if u["model_id"] == "m1"} == {"dense_0", "dense_1"}  # rep % layers
    assert load_summary(out)["detection"] == summary["detection"]


def test_the_study_settings_are_used_and_recorded(result):
    _, summary = result
    assert summary["analysis_config"]["min_effect"] == 0.25 and summary["alpha"] == 0.1  # the study's measure settings
    assert summary["analysis_config"]["n_random_init"] == AnalysisConfig().n_random_init  # today's control counts
    assert summary["grid"]["reps"] == 2 and summary["seconds"] > 0
    rows = {(r["kind"], r["effect"], r["measure"]): r for r in summary["detection"]}
    assert rows[("mirror", 2.0, "class=mirror")]["rate"] == 1.0
    assert rows[("mirror", 2.0, "class=mirror")]["models"] == 2
    assert summary["smallest_detected"]["class=mirror"] == 2.0
    pop = {r["effect"]: r for r in summary["population"]}
    assert pop[2.0]["n_mirror"] > pop[0.0]["n_mirror"]
    assert "p_random_init<alpha" in pop[2.0]


def test_same_seed_same_tables(study, result, tmp_path):
    out, summary = result
    again = run_planted(study, tmp_path, GRID)
    assert again["detection"] == summary["detection"]
    same = [repr(pq.read_table(d / "units.parquet").drop_columns(["checkpoint"]).to_pylist()) for d in (tmp_path, out)]
    assert same[0] == same[1]  # repr: NaN (AUROC of matched contrasts) equals itself


def test_every_file_written_is_declared_and_fits(result):
    from declared_files import assert_declared_and_fitting

    from mirror_neurons.tables import PLANTED_LAYOUT

    assert assert_declared_and_fitting(result[0], PLANTED_LAYOUT) == [
        "analyses.parquet",
        "summary.json",
        "units.parquet",
    ]


def test_dense_plants_only_in_one_hot_networks():
    grid = PlantedGrid(dense_effects=(0.0, 1.0))
    assert not any(s.kind == "dense_mirror" for s in grid.unit_specs(2, 1, "raw"))
    dense = [s for s in grid.unit_specs(2, 1, "onehot") if s.kind == "dense_mirror"]
    assert [(s.effect, s.layer) for s in dense] == [(0.0, 0), (1.0, 0)]


def test_summarise_without_population():
    s = summarise(
        [
            {
                "grid": "unit",
                "kind": "mirror",
                "effect": 0.0,
                "model_id": "a",
                "class": "other",
                "mns": 0.0,
                "q_mirror": 1.0,
            }
        ],
        [],
        0.05,
    )
    assert s["population"] == [] and s["false_positives"][0]["rate"] == 0.0


def test_bad_input(tmp_path):
    with pytest.raises(AnalysisError, match="no analysed sweep"):
        run_planted(tmp_path, tmp_path / "out", GRID)
    with pytest.raises(AnalysisError, match="summary.json does not exist"):
        load_summary(tmp_path)
    with pytest.raises(ConfigError, match="preset 'huge'"):
        PlantedGrid.preset("huge")


def test_cli(study, tmp_path):
    runner = CliRunner()
    args = [
        "experiment",
        "planted",
        str(study),
        "--out",
        str(tmp_path / "p"),
        "--preset",
        "quick",
        "--reps",
        "1",
        "--models",
        "1",
        "--paper-view",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (
        "planted units in 1 models" in r.output and load_summary(tmp_path / "p")["analysis_config"]["matched"] is False
    )
    r = runner.invoke(app, ["experiment", "planted", str(tmp_path / "nothing"), "--out", str(tmp_path / "q")])
    assert r.exit_code == 2 and "no analysed sweep" in r.output


def test_progress_counts_the_models_planted_into(study, tmp_path):
    log = ProgressLog()
    one_plant = PlantedGrid(
        mirror_effects=(2.0,), single_effects=(), covariate_effects=(), reps=1, population_effects=()
    )
    summary = run_planted(study, tmp_path, one_plant, progress=log)
    log.assert_counts_up_to(2)  # the two competent models of three
    assert [m["model_id"] for m in summary["models"]] == [note.split()[0] for done, _, note in log.calls if done]


def test_the_paper_view_can_be_asked_for(study, tmp_path):
    tiny = PlantedGrid(
        mirror_effects=(2.0,), single_effects=(), covariate_effects=(), reps=1, population_effects=(), max_models=1
    )
    summary = run_planted(study, tmp_path, tiny, matched=False)
    assert summary["analysis_config"]["matched"] is False and summary["n_plants"] == 1
