"""The in-package PPO: checkpoints the analysis reads, seeding, exact resume, NaN and bad input (issue 17)."""

import json

import pytest
import torch
from safetensors.torch import load_file

from mirror_neurons.errors import ConfigError, TrainingError
from mirror_neurons.train.checkpoint import iter_checkpoints, load_checkpoint, read_meta, save_checkpoint
from mirror_neurons.train.model import MLP, ModelConfig
from mirror_neurons.train.ppo import PPOConfig, load_partner, network_partner, train_ppo

TINY = dict(
    num_envs=8, num_steps=4, total_steps=8 * 4 * 4, max_turns=12, checkpoint_every=2, hidden=(5,), update_epochs=2
)


def final_weights(out):
    last = max(iter_checkpoints(out / "checkpoints"), key=lambda p: read_meta(p)["epoch"])
    return load_file(last.with_suffix(".safetensors"))


def test_checkpoints_at_init_and_every_n_iterations_load_as_models(tmp_path):
    cfg = PPOConfig(**TINY)
    train_ppo(cfg, tmp_path)
    metas = sorted((read_meta(p) for p in iter_checkpoints(tmp_path / "checkpoints")), key=lambda m: m["epoch"])
    assert [m["epoch"] for m in metas] == [0, 2, 4]
    assert [m["init"] for m in metas] == [True, False, False]
    assert metas[-1]["env_steps"] == 4 * 8 * 4
    ck = load_checkpoint(iter_checkpoints(tmp_path / "checkpoints")[0])
    assert ck.model.config.n_outputs == 4 and ck.model.config.encoding == "onehot"
    assert "seed" not in metas[0]["hyperparameters"] and metas[0]["hyperparameters"]["reward"] == "shared"


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_ppo(PPOConfig(**TINY, seed=seed), tmp_path / name)
    a, b, c = (final_weights(tmp_path / n) for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("max_turns", [12, 16])  # 16: the games end on the last step before the crash
def test_resume_after_a_crash_gives_the_uninterrupted_weights(tmp_path, max_turns):
    cfg = PPOConfig(**{**TINY, "max_turns": max_turns}, partner="self")
    train_ppo(cfg, tmp_path / "straight")

    def crash(row):
        if row["iteration"] == 3:  # after the checkpoint and resume file of iteration 2
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_ppo(cfg, tmp_path / "resumed", on_iteration=crash)
    assert json.loads((tmp_path / "resumed" / "log.json").read_text())[-1]["iteration"] == 2
    train_ppo(cfg, tmp_path / "resumed")
    a, b = final_weights(tmp_path / "straight"), final_weights(tmp_path / "resumed")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_with_another_configuration_is_refused(tmp_path):
    train_ppo(PPOConfig(**TINY), tmp_path)
    with pytest.raises(ConfigError, match="another configuration.*reward"):
        train_ppo(PPOConfig(**{**TINY, "reward": "selfish"}), tmp_path)


def test_a_nan_loss_stops_the_run_naming_model_and_iteration(tmp_path):
    cfg = PPOConfig(**TINY, reward_scale=1e308)  # rewards x 1e308 overflow to inf: the value loss is not finite
    with pytest.raises(TrainingError, match=r"ppo_shared_D1_random_seed0: the PPO loss became .* at iteration 1"):
        train_ppo(cfg, tmp_path)
    assert [read_meta(p)["epoch"] for p in iter_checkpoints(tmp_path / "checkpoints")] == [0]  # the last good one stays


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reward": "kind"}, "unknown reward setting 'kind'"),
        ({"partner": "nice"}, "unknown partner setting 'nice'"),
        ({"partner": "network"}, "needs partner_checkpoint"),
        ({"num_envs": 3, "num_steps": 3, "num_minibatches": 2}, "must divide"),
        ({"lr": float("nan")}, "lr must be a finite number"),
    ],
)
def test_bad_configuration(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        PPOConfig(**kwargs)


def test_a_partner_network_of_the_wrong_shape_is_refused(tmp_path):
    value_like = MLP(ModelConfig(hidden=(3,), n_outputs=1))
    with pytest.raises(ConfigError, match="4 action values"):
        network_partner(value_like)
    save_checkpoint(tmp_path / "v", value_like, {"model_id": "v", "epoch": 0})
    with pytest.raises(ConfigError, match="4 action values"):
        load_partner(tmp_path / "v.json")
    with pytest.raises(ConfigError, match="partner checkpoint: .*missing"):
        load_partner(tmp_path / "nothing.json")


def test_a_frozen_network_partner_plays_toad(tmp_path):
    train_ppo(PPOConfig(**TINY), tmp_path / "first")
    partner = max(iter_checkpoints(tmp_path / "first" / "checkpoints"), key=lambda p: read_meta(p)["epoch"])
    cfg = PPOConfig(**TINY, partner="network", partner_checkpoint=str(partner))
    train_ppo(cfg, tmp_path / "second")
    assert (
        read_meta(iter_checkpoints(tmp_path / "second" / "checkpoints")[-1])["hyperparameters"]["partner"] == "network"
    )
