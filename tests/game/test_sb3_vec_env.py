"""The batched vector env through Stable-Baselines3's VecEnv API: the same games as the Gymnasium VectorEnv,
SB3's own wrappers on top, and SB3's PPO learning on it for a few hundred steps."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="stable-baselines3 is in the 'test' extra: pip install -e '.[test]'")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import VecCheckNan, VecMonitor  # noqa: E402

from mirror_neurons.errors import ConfigError, GameError  # noqa: E402
from mirror_neurons.game import GameBatch, GameConfig  # noqa: E402
from mirror_neurons.game.constants import Player  # noqa: E402
from mirror_neurons.game.sb3_vec_env import FrogAndToadSB3VecEnv  # noqa: E402
from mirror_neurons.game.vector_env import FrogAndToadVectorEnv, learner_view  # noqa: E402

MAX_TURNS = 20  # 10 cycles (steps) per episode


def test_it_plays_the_same_games_as_the_gymnasium_vector_env():
    sb3 = FrogAndToadSB3VecEnv(num_envs=6, reward="shared", max_turns=MAX_TURNS)
    gym_env = FrogAndToadVectorEnv(6, reward="shared", max_turns=MAX_TURNS)
    assert sb3.seed(7) == [7] * 6  # one stream for the vector, game i plays (7, i)
    obs = sb3.reset()
    expected, _ = gym_env.reset(seed=7)
    np.testing.assert_array_equal(obs, expected)
    first_game = GameBatch(GameConfig(max_turns=MAX_TURNS), 7, [0])
    np.testing.assert_array_equal(obs[0], learner_view(first_game, Player.FROG)[0])
    rng = np.random.default_rng(0)
    for step in range(1, 2 * MAX_TURNS // 2 + 1):  # two whole episodes
        actions = rng.integers(0, 4, 6)
        obs, rewards, dones, infos = sb3.step(actions)
        e_obs, e_rewards, e_term, _, e_info = gym_env.step(actions)
        np.testing.assert_array_equal(obs, e_obs)
        np.testing.assert_array_equal(rewards, e_rewards)
        assert isinstance(infos, list) and len(infos) == 6 and all(isinstance(i, dict) for i in infos)
        assert dones.tolist() == [step % (MAX_TURNS // 2) == 0] * 6
        if dones[0]:  # autoreset: the last observation of each game in its info, the next game's first in obs
            for i in range(6):
                np.testing.assert_array_equal(infos[i]["terminal_observation"], e_info["final_obs"][i])
                assert infos[i]["TimeLimit.truncated"] is False
        else:
            assert infos == [{}] * 6


def test_sb3_wrappers_and_ppo_run_on_it():
    """SB3's VecCheckNan (raises on a NaN or inf) and VecMonitor (episode returns) over the adapter, then PPO."""
    env = VecMonitor(
        VecCheckNan(FrogAndToadSB3VecEnv(num_envs=8, reward="selfish", max_turns=MAX_TURNS), raise_exception=True)
    )
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=64, n_epochs=2, seed=3, device="cpu",
                policy_kwargs={"net_arch": [17, 17]})  # fmt: skip
    model.learn(total_timesteps=512)  # 2 rollouts of 8 games x 32 steps
    assert model.num_timesteps == 512
    episodes = list(model.ep_info_buffer)
    # 512 steps of 8 games in episodes of 10 steps: every game finished 6 episodes (the 7th is under way)
    assert len(episodes) == 8 * (512 // 8 // (MAX_TURNS // 2))
    assert all(e["l"] == MAX_TURNS // 2 for e in episodes)
    # selfish reward per cycle: a hop (0 or 1) + [Frog's energy > 0] (0 or 1), so a 10-cycle return lies in 0..20
    assert all(0 <= e["r"] <= 2 * MAX_TURNS // 2 for e in episodes)
    actions, _ = model.predict(env.reset(), deterministic=True)
    assert actions.shape == (8,) and set(actions.tolist()) <= {0, 1, 2, 3}
    env.close()


def test_attributes_and_methods_are_the_vectors():
    env = FrogAndToadSB3VecEnv(num_envs=3, reward="team", max_turns=MAX_TURNS)
    assert env.get_attr("reward") == ["team"] * 3 and env.get_attr("reward", indices=1) == ["team"]
    env.set_attr("survival", 2.0)
    assert env.env.survival == 2.0
    env.reset()
    states = env.env_method("get_state")
    assert len(states) == 3 and states[0]["pos"].shape == (3, 2)
    assert env.env_is_wrapped(VecMonitor) == [False] * 3
    with pytest.raises(ConfigError, match=r"set_attr acts on every game of the vector .* not on games \[0\]"):
        env.set_attr("survival", 1.0, indices=[0])
    with pytest.raises(ConfigError, match="env_method acts on every game"):
        env.env_method("get_state", indices=[1, 2])


def test_bad_construction_and_order_name_the_fix():
    with pytest.raises(ConfigError, match="not both"):
        FrogAndToadSB3VecEnv(FrogAndToadVectorEnv(2), reward="team")
    with pytest.raises(ConfigError, match="unknown reward setting 'kind'"):
        FrogAndToadSB3VecEnv(num_envs=2, reward="kind")
    env = FrogAndToadSB3VecEnv(num_envs=2)
    env.reset()
    with pytest.raises(GameError, match="without step_async"):
        env.step_wait()
