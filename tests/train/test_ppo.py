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


def _values_and_grads(fn, params, n):
    for p in params:
        p.grad = None
    logits, values = fn()
    weights = torch.arange(n, dtype=torch.float32) / n
    ((logits.sum(1) * weights).sum() + (values[:, 0] ** 2).sum()).backward()
    return [logits.detach(), values.detach(), *(p.grad.clone() for p in params)]


@pytest.mark.parametrize("hidden", [(17, 17), (5,)])
def test_the_stacked_first_layers_compute_what_the_two_networks_compute(hidden):
    """``_both`` (one product for both first layers) against each network run on its own: outputs and every
    gradient. Bit for bit at the experiment's 2 x 17; within float32 rounding at any width."""
    from mirror_neurons.game.vector_env import FrogAndToadVectorEnv
    from mirror_neurons.train.ppo import _body, _both

    cfg = PPOConfig(hidden=hidden)
    g = torch.Generator().manual_seed(0)
    policy, value = MLP(cfg.policy_config), MLP(cfg.value_config)
    policy.reset_parameters(g)
    value.reset_parameters(g)
    with torch.no_grad():
        for p in [*policy.parameters(), *value.parameters()]:
            p.add_(torch.rand(p.shape, generator=g) - 0.5)  # non-zero biases too
    env = FrogAndToadVectorEnv(512, partner="random", reward="shared", max_turns=40)
    obs, _ = env.reset(seed=1)
    features = policy.encoding.encode(torch.from_numpy(obs))
    params = [*policy.parameters(), *value.parameters()]
    stacked = _values_and_grads(lambda: _both(policy, value, features), params, len(obs))
    separate = _values_and_grads(lambda: (_body(policy, features), _body(value, features)), params, len(obs))
    for a, b in zip(stacked, separate, strict=True):
        if hidden == (17, 17):
            assert torch.equal(a, b)
        else:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


# Final checkpoint bytes of the RL demo's PPO settings (256 games x 32 cycles, 3 epochs of 2 minibatches, 2 x 17)
# for six iterations, recorded with the code of commit 7cbfbdd, before the rollout encoded once, the update kept
# its buffers and the two first layers became one product: the speed-ups must not move a bit.
RECORDED_BEFORE_SPEEDUPS = {("random", 1.0): "cd1e5a3bebf1e3d2", ("self", 0.0): "afd214d9c88f7b8f"}


@pytest.mark.slow
@pytest.mark.parametrize(("partner", "dependency"), sorted(RECORDED_BEFORE_SPEEDUPS))
def test_the_demo_settings_give_the_bytes_recorded_before_the_speedups(tmp_path, partner, dependency):
    import hashlib

    cfg = PPOConfig(num_envs=256, num_steps=32, total_steps=256 * 32 * 6, update_epochs=3, num_minibatches=2,
                    checkpoint_every=1000, partner=partner, dependency=dependency, seed=3)  # fmt: skip
    train_ppo(cfg, tmp_path)
    last = sorted((tmp_path / "checkpoints").glob("*.safetensors"))[-1]
    assert hashlib.sha256(last.read_bytes()).hexdigest()[:16] == RECORDED_BEFORE_SPEEDUPS[(partner, dependency)]


def test_checkpoints_of_a_fractional_dependency_keep_their_names(tmp_path):
    """The model id of D = 0.5 holds a dot ('..._D0.5_...'); every checkpoint must keep its own file, not
    collapse onto one named up to the dot (which the full RL preset hit before the fix)."""
    cfg = PPOConfig(**TINY, dependency=0.5)
    train_ppo(cfg, tmp_path)
    paths = iter_checkpoints(tmp_path / "checkpoints")
    assert [p.name for p in paths] == [f"{cfg.model_id}_step-{i:05d}.json" for i in (0, 2, 4)]
    assert [read_meta(p)["epoch"] for p in paths] == [0, 2, 4]
    assert all(p.with_suffix(".safetensors").is_file() for p in paths)
