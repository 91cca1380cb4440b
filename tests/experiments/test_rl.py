"""The RL experiment: measures of play, the drawing of analysis states, a tiny run, and the command's bad input."""

import json

import numpy as np
import pytest
import torch
from declared_files import assert_declared_and_fitting
from typer.testing import CliRunner

from mirror_neurons.cli import app
from mirror_neurons.data.dataset import Split, read_manifest
from mirror_neurons.errors import ConfigError
from mirror_neurons.experiments.rl import RLGrid, _draw_states, play, run_rl
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.scripted import get_scripted
from mirror_neurons.train.checkpoint import iter_checkpoints, read_meta, save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig
from mirror_neurons.tables import RL_LAYOUT
from mirror_neurons.train.ppo import PPOConfig

from .progress_log import ProgressLog

GAME = GameConfig(max_turns=200)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks on two shared cores: a second torch thread only waits for the first."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_measures_of_scripted_play():
    long = GameConfig(max_turns=600)  # 300 hops: always-hop runs out of energy on rough ground
    hop, _ = play(get_scripted("hop"), long, partner="random", seed=1, n_games=32)
    carer, _ = play(get_scripted("carer"), long, partner="random", seed=1, n_games=32)
    assert hop["help_rate"] == hop["help_rate_partner_distress"] == 0.0
    assert hop["jump_rate_energy0"] == 0.0  # always hop never jumps, even stuck at energy 0
    assert carer["help_rate_partner_distress"] > 0.5
    assert carer["jump_rate_energy0"] == 1.0 or np.isnan(carer["jump_rate_energy0"])  # NaN: never at energy 0
    for m in (hop, carer):  # team reward = all hops; 300 cycles per game
        assert m["return_team"] == pytest.approx(m["team_score_per_turn"] * 300)
        assert 0 <= m["score_per_turn"] <= 1 and 0 <= m["survival"] <= 1


def test_recorded_states_are_frogs_view_with_scenarios():
    _, states = play(get_scripted("random"), GAME, partner="random", seed=2, n_games=4, record=True)
    assert len(states) == 4 * 100 and states.x.dtype == np.uint8
    assert (states.x[:, [96, 98, 99]] == 0).all()
    rows = np.arange(len(states))
    frog_cell = states.x[rows, 32 + states.frog_pos.astype(int)]
    assert np.isin(frog_cell, [4, 5, 6, 7, 8, 9]).all()  # Frog's column is occupied (by Toad when they share it)


def test_states_are_drawn_with_equal_quotas_per_scenario():
    n = 400
    scenario = np.repeat([0, 1, 2, 3], [250, 50, 60, 40]).astype(np.uint8)
    x = np.zeros((n, 100), dtype=np.uint8)
    x[:, 0], x[:, 1] = np.arange(n) % 256, np.arange(n) // 256  # all distinct
    states = Split(x, np.zeros(n, np.uint8), scenario, np.zeros(n, np.uint8))
    drawn = _draw_states(states, 160, np.random.default_rng(0))
    assert len(drawn) == 160 and np.bincount(drawn.scenario, minlength=4).tolist() == [40, 40, 40, 40]
    drawn = _draw_states(states, 240, np.random.default_rng(0))  # quota 60: scenario 3 has only 40, scenario 1 50
    counts = np.bincount(drawn.scenario, minlength=4)
    assert len(drawn) == 240 and counts[1] == 50 and counts[3] == 40 and counts[2] == 60


def test_a_tiny_experiment_stamps_its_checkpoints_with_the_visited_states(tmp_path):
    grid = RLGrid(
        dependencies=(1.0,),
        seeds=1,
        eval_games=4,
        eval_seeds=2,
        states_per_agent=40,
        workers=1,
        ppo=PPOConfig(num_envs=4, num_steps=4, total_steps=32, max_turns=20, hidden=(4,), checkpoint_every=2),
    )
    log = ProgressLog()
    summary = run_rl(grid, tmp_path, analyze=False, progress=log)
    log.assert_counts_up_to(2)  # agents trained, of the two
    trained = [note for note in (c[2] for c in log.calls) if note.startswith("agent ")]
    assert sorted(trained) == sorted(f"agent {c.model_id} done" for c in grid.agent_configs())
    scripted = json.loads((tmp_path / "scripted.json").read_text())
    assert set(scripted["cells"]["1"]["policies"]) >= {"hop", "random", "rule", "carer"}
    manifest = read_manifest(tmp_path / "states")
    metas = [read_meta(p) for p in iter_checkpoints(tmp_path / "agents")]
    assert len(metas) == 2 * 2 and {m["dataset_hash"] for m in metas} == {manifest["dataset_hash"]}
    assert set(summary["cells"]) == {"selfish, D=1", "shared, D=1"}
    # every file is declared in mirror_neurons.tables and fits; the analysis folder is absent (analyze=False)
    files = assert_declared_and_fitting(tmp_path, RL_LAYOUT, may_lack=("agents/analysis/",))
    assert {"grid.json", "scripted.json", "behaviour.json", "summary.json", "states/manifest.json"} <= set(files)
    with pytest.raises(ConfigError, match="another grid"):
        run_rl(RLGrid(dependencies=(0.0,), seeds=1, workers=1, ppo=grid.ppo), tmp_path, analyze=False)


def cli(*args):
    return CliRunner().invoke(app, ["experiment", "rl", *map(str, args)])


def test_command_bad_input_is_one_line_and_exit_2(tmp_path):
    wrong = MLP(ModelConfig(hidden=(3,), n_outputs=2))
    save_checkpoint(tmp_path / "wrong", wrong, {"model_id": "wrong", "epoch": 0})
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "grid.json").write_text("{}")
    cases = [
        (["--rewards", "selfish,kind"], "unknown reward setting 'kind'"),
        (["--partner", "nice"], "unknown partner setting 'nice'"),
        (["--partner", "network", "--partner-checkpoint", tmp_path / "wrong.json"], "4 action values"),
    ]
    for args, message in cases:
        r = cli("--out", tmp_path / "x", *args)
        assert r.exit_code == 2 and message in r.output and len(r.output.strip().splitlines()) == 1, r.output
    r = cli("--out", tmp_path / "old")
    assert r.exit_code == 2 and "another grid" in r.output
