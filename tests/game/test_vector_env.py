"""The vector env: the batched engine behind gymnasium's VectorEnv (issue 17)."""

import gymnasium as gym
import numpy as np
import pytest

import mirror_neurons.game  # noqa: F401  (registers the single env)
from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Player, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.vector_env import REWARDS, FrogAndToadVectorEnv, cycle_reward, learner_view

ZEROED = [96, 98, 99]


def single_view(obs):
    obs = np.array(obs, dtype=np.int64)
    obs[ZEROED] = 0
    return obs


@pytest.mark.parametrize("game", [0, 1])
def test_each_game_is_the_single_env_game(game):
    """Game i of the first episode is the single env's (i+1)-th episode of the same seed, step for step."""
    env = FrogAndToadVectorEnv(3, partner="random", reward="score", max_turns=24)
    single = gym.make("mirror_neurons/FrogAndToad-v0", max_turns=24)
    obs, _ = env.reset(seed=11)
    s_obs, _ = single.reset(seed=11)
    for _ in range(game):  # the single env plays the next game of the seed at each reset
        s_obs, _ = single.reset()
    np.testing.assert_array_equal(obs[game], single_view(s_obs))
    rng = np.random.default_rng(0)
    for _ in range(12):
        actions = rng.integers(0, 4, 3)
        obs, reward, terminated, truncated, info = env.step(actions)
        s_obs, s_reward, s_term, _, _ = single.step(int(actions[game]))
        seen = info["final_obs"][game] if terminated[game] else obs[game]
        np.testing.assert_array_equal(seen, single_view(s_obs))
        assert reward[game] == s_reward and terminated[game] == s_term and not truncated.any()
    assert terminated.all()  # 24 turns = 12 cycles


def test_autoreset_same_step_starts_the_next_games():
    env = FrogAndToadVectorEnv(4, partner="hop", max_turns=6)
    env.reset(seed=5)
    for _ in range(3):
        obs, _, terminated, _, info = env.step(np.zeros(4, dtype=np.int64))
    assert terminated.all() and info["_final_obs"].all()
    fresh = GameBatch(GameConfig(max_turns=6), 5, np.arange(4, 8))  # episode 1 plays games 4..7
    np.testing.assert_array_equal(obs, learner_view(fresh, Player.FROG))
    assert info["episode_score"].shape == (4, 2)
    obs2, _, terminated2, _, _ = env.step(np.zeros(4, dtype=np.int64))
    assert not terminated2.any()


def test_spaces_and_same_seed_same_games():
    a, b = FrogAndToadVectorEnv(8, reward="shared"), FrogAndToadVectorEnv(8, reward="shared")
    oa, _ = a.reset(seed=3)
    ob, _ = b.reset(seed=3)
    assert a.observation_space.contains(oa) and all(a.single_observation_space.contains(o) for o in oa)
    rng = np.random.default_rng(1)
    for _ in range(20):
        act = rng.integers(0, 4, 8)
        ra, rb = a.step(act), b.step(act)
        for x, y in zip(ra[:4], rb[:4]):
            np.testing.assert_array_equal(x, y)
    assert len({o.tobytes() for o in ra[0]}) > 1  # the games of one vector differ


def test_state_round_trip_continues_identically():
    env = FrogAndToadVectorEnv(5, max_turns=40)
    env.reset(seed=2)
    rng = np.random.default_rng(3)
    for _ in range(7):
        env.step(rng.integers(0, 4, 5))
    saved = env.get_state()
    other = FrogAndToadVectorEnv(5, max_turns=40)
    other.set_state(saved)
    for _ in range(20):  # crosses the episode end (20 cycles)
        act = rng.integers(0, 4, 5)
        for x, y in zip(env.step(act)[:3], other.step(act)[:3]):
            np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "reward, expected",
    [
        ("score", [1.0, 0.0]),
        ("team", [2.0, 1.0]),
        ("selfish", [1.0 + 1.0, 0.0 + 0.0]),  # Frog alive in game 0, at energy 0 in game 1
        ("shared", [2.0 + 2.0, 1.0 + 1.0]),  # both alive in game 0; only Toad in game 1
    ],
)
def test_rewards_as_documented(reward, expected):
    delta = np.array([[1, 1], [0, 1]])  # (Frog's, Toad's) hops in each game
    energy = np.array([[5, 3], [0, 7]])
    np.testing.assert_array_equal(cycle_reward(reward, delta, energy, survival=1.0), expected)
    assert set(REWARDS) == {"score", "team", "selfish", "shared"}


def test_toad_view_swaps_base_symbols():
    b = GameBatch(GameConfig(), 0, 1)
    frog, toad = learner_view(b, Player.FROG)[0], learner_view(b, Player.TOAD)[0]
    assert frog[32 + 15] == Symbol.FROG and frog[32 + 16] == Symbol.TOAD
    assert toad[32 + 16] == Symbol.FROG and toad[32 + 15] == Symbol.TOAD
    assert (frog[ZEROED] == 0).all() and (toad[ZEROED] == 0).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reward": "kind"}, "unknown reward setting 'kind'"),
        ({"partner": "nice"}, "unknown partner setting 'nice'"),
        ({"num_envs": 0}, "num_envs must be"),
        ({"dependency": 2.0}, "dependency must be in 0..1"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        FrogAndToadVectorEnv(**({"num_envs": 2} | kwargs))


def test_bad_use():
    env = FrogAndToadVectorEnv(2)
    with pytest.raises(GameError, match="before reset"):
        env.step(np.zeros(2, dtype=np.int64))
    with pytest.raises(ConfigError, match="not a list"):
        env.reset(seed=[1, 2])
    env.reset(seed=0)
    with pytest.raises(GameError, match="integers 0..3"):
        env.step(np.array([0, 4]))


def test_gymnasium_vector_wrapper_accepts_it():
    from gymnasium.wrappers.vector import RecordEpisodeStatistics

    env = RecordEpisodeStatistics(FrogAndToadVectorEnv(3, partner="random", reward="score", max_turns=10))
    env.reset(seed=0)
    for _ in range(5):
        _, _, terminated, _, info = env.step(np.zeros(3, dtype=np.int64))
    assert terminated.all() and "episode" in info
