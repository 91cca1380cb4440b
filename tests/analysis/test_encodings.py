"""The analysis of networks of every input encoding: they read raw test states, and mixing is said out loud."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from typer.testing import CliRunner

from analysis_synth import make_split
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run
from mirror_neurons.cli import app
from mirror_neurons.data.dataset import write_dataset
from mirror_neurons.errors import AnalysisError, CheckpointError
from mirror_neurons.train.checkpoint import load_checkpoint, save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig

FAST = AnalysisConfig(controls=False, behaviour_games=4, behaviour_turns=20)


def model(encoding: str, seed: int) -> MLP:
    net = MLP(ModelConfig(hidden=(6, 5), encoding=encoding))
    net.reset_parameters(torch.Generator().manual_seed(seed))
    return net.eval()


@pytest.fixture
def mixed_run(tmp_path):
    data = write_dataset(
        tmp_path / "data",
        {"train": make_split(50, 11), "val": make_split(50, 12), "test": make_split(600, 10)},
        {"seed": 0},
    )
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    run_dir = tmp_path / "run"
    for i, encoding in enumerate(("raw", "onehot", "recoded")):
        save_checkpoint(
            run_dir / "models" / encoding / "epoch-0001",
            model(encoding, i),
            {"model_id": encoding, "epoch": 1, "dataset_hash": ds_hash},
        )
    return run_dir, data


def test_mixed_encodings_are_refused_unless_asked_for(mixed_run):
    run_dir, data = mixed_run
    with pytest.raises(
        AnalysisError, match=r"several input encodings \(onehot, raw, recoded\); pass --mixed-encodings"
    ):
        analyze_run(run_dir, data, FAST)
    out = analyze_run(run_dir, data, FAST, mixed_encodings=True)
    table = pq.read_table(out / "checkpoints.parquet").to_pydict()
    assert sorted(table["encoding"]) == ["onehot", "raw", "recoded"]
    # each network was run on the raw test states through its own encoding: the accuracy recorded
    # is the one the module itself gives on those states
    test = make_split(600, 10)
    for encoding, accuracy in zip(table["encoding"], table["test_accuracy"]):
        net = load_checkpoint(run_dir / "models" / encoding / "epoch-0001.json").model
        with torch.no_grad():
            pred = net(torch.from_numpy(test.x.astype(np.float32))).argmax(1).numpy()
        assert accuracy == pytest.approx(np.mean(pred == test.label))


def test_cli_says_mixed_encodings_in_one_line(mixed_run):
    run_dir, data = mixed_run
    r = CliRunner().invoke(
        app, ["analyze", str(run_dir), "--data", str(data), "--no-controls", "--games", "4", "--turns", "20"]
    )
    assert r.exit_code == 2 and "--mixed-encodings" in r.output and len(r.output.strip().splitlines()) == 1


def test_a_checkpoint_whose_encoding_this_version_cannot_rebuild_is_refused(mixed_run):
    run_dir, _ = mixed_run
    path = run_dir / "models" / "onehot" / "epoch-0001.json"
    meta = json.loads(path.read_text())
    meta["model"]["encoding"] = "wavelet"
    path.write_text(json.dumps(meta))
    with pytest.raises(
        CheckpointError, match=r"epoch-0001.json records a model this version cannot rebuild \(encoding = 'wavelet'"
    ):
        load_checkpoint(path)


@pytest.mark.parametrize("encoding", ["raw", "onehot", "recoded"])
def test_networks_of_every_encoding_play_the_game(encoding):
    """Behaviour feeds Frog's raw view to the network, which encodes it itself: each encoding plays."""
    from mirror_neurons.analysis.behaviour import network_policy, play

    result = play(network_policy(model(encoding, 3)), n_games=4, turns=12, seed=1)
    assert result.frog_turns == 4 * 6  # Frog moves on every other of the 12 turns, in each of the 4 games
    assert sum(result.action_rates.values()) == pytest.approx(1.0)


def test_the_analyze_summary_reads_at_80_columns(tmp_path):
    """Every column of the summary table shows whole at 80 columns: no cell or header cut to an ellipsis."""
    from rich.console import Console

    from mirror_neurons.analysis.pipeline import summary_table

    rows = [{"model_id": f"c{i:03d}r{i}_h17x17_d0_lr0p003_b128_cross_entropy_onehot_balanced", "epoch": 12 + i,
             "test_accuracy": 0.9412, "macro_recall": 0.9291, "competent": True, "cmni_effect_size": 0.19861 - i / 100,
             "p_random_init_effect_size": 0.025, "p_permutation_effect_size": 0.001, "cmni": 0.25712, "n_mirror": 12}
            for i in range(3)]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "checkpoints.parquet")
    console = Console(width=80, record=True, file=open("/dev/null", "w"))
    console.print(summary_table(tmp_path))
    text = console.export_text()
    assert "…" not in text and max(len(line) for line in text.splitlines()) <= 80
    assert "c002r2" in text and "0.1786" in text and "yes" in text
