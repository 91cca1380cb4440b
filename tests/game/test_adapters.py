"""PettingZoo and Gymnasium adapters: the libraries' own checks, plus what they do not check.

The libraries' tests check the API's shape. The tests below check the claims
of the docstrings: a seeded episode is the engine's game (seed, k), many
steps are deterministic, rewards and episode ends follow the documented rules.
"""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import (
    api_test,
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

import mirror_neurons.game as game
from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game import GameBatch, GameConfig
from mirror_neurons.game.constants import Action, Player
from mirror_neurons.game.policies import random_actions

SHORT = {"max_turns": 40}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        # the issue fixes the agent names "frog"/"toad"; PettingZoo recommends "player_0"
        warnings.filterwarnings("ignore", message="We recommend agents to be named")
        yield


# -- PettingZoo's own tests ------------------------------------------------------------


def test_pettingzoo_api_tests():
    api_test(game.env(**SHORT), num_cycles=60)
    parallel_api_test(game.parallel_env(**SHORT), num_cycles=60)


def test_pettingzoo_seed_tests():
    seed_test(lambda: game.env(**SHORT), num_cycles=30)
    parallel_seed_test(lambda: game.parallel_env(**SHORT), num_cycles=30)


def test_pettingzoo_render_test(capsys):
    render_test(
        lambda render_mode=None: game.env(render_mode=render_mode, **SHORT)
    )  # every mode, rgb_array's shape too
    assert "players |" in capsys.readouterr().out  # "human" printed the picture


def test_pettingzoo_rgb_array_is_the_renderers_image_of_the_game():
    from mirror_neurons.game.render import render_rgb

    for env in (game.env(render_mode="rgb_array", **SHORT), game.parallel_env(render_mode="rgb_array", **SHORT)):
        env.reset(seed=3)
        image = env.render()
        assert image.shape == (64, 512, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, render_rgb(GameBatch(GameConfig(**SHORT), 3, [0])))


def test_pettingzoo_max_cycles_test():
    max_cycles_test(game)


# -- the AEC environment is the engine's game -------------------------------------------


def play_aec(env, seed, frog_actions, toad_actions, reset_seed=True):
    """Run the AEC env; returns the observations each agent got before acting, and rewards."""
    env.reset(seed=seed if reset_seed else None)
    seen, rewards = [], []
    actions = {"frog": iter(frog_actions), "toad": iter(toad_actions)}
    for agent in env.agent_iter():
        obs, reward, terminated, truncated, _ = env.last()
        seen.append((agent, obs.copy()))
        rewards.append((agent, reward))
        env.step(None if terminated or truncated else next(actions[agent]))
    return seen, rewards


def test_aec_episode_is_the_engines_game_and_next_resets_play_the_next_games():
    config = GameConfig(max_turns=50, dependency=0.5, veil=0.5)
    rng = np.random.default_rng(11)
    frog, toad = rng.integers(0, 4, 25), rng.integers(0, 4, 25)
    env = game.env(config=config)
    for game_id, reset_seed in ((0, True), (1, False), (2, False)):
        seen, _ = play_aec(env, 7, frog, toad, reset_seed=reset_seed)
        batch = GameBatch(config, 7, [game_id])
        for turn in range(50):
            agent, obs = seen[turn]
            who = turn % 2
            assert agent == ("frog", "toad")[who]
            np.testing.assert_array_equal(obs, batch.observe(who)[0])
            batch.step([(frog, toad)[who][turn // 2]])
        assert len(seen) == 52  # 50 turns, then one dead step each


def test_aec_many_steps_are_deterministic_and_seeds_differ():
    rng = np.random.default_rng(3)
    frog, toad = rng.integers(0, 4, 100), rng.integers(0, 4, 100)
    runs = [play_aec(game.env(max_turns=200), seed, frog, toad) for seed in (5, 5, 6)]
    for (agent_a, obs_a), (agent_b, obs_b) in zip(runs[0][0], runs[1][0], strict=True):
        assert agent_a == agent_b
        np.testing.assert_array_equal(obs_a, obs_b)
    assert runs[0][1] == runs[1][1]
    assert any(not np.array_equal(a[1], b[1]) for a, b in zip(runs[0][0], runs[2][0]))


def test_aec_rewards_are_own_score_changes_or_the_team_sum():
    # from the start (energy 20, column 15) a hop always succeeds and scores 1 (SPEC 2)
    env = game.env(max_turns=10)
    env.reset(seed=0)
    env.step(Action.HOP)
    assert env.rewards == {"frog": 1, "toad": 0}
    env.step(Action.JUMP)
    assert env.rewards == {"frog": 0, "toad": 0}
    team = game.env(max_turns=10, reward="team")
    team.reset(seed=0)
    team.step(Action.HOP)
    assert team.rewards == {"frog": 1, "toad": 1}


def test_aec_cumulative_reward_is_what_last_returns_to_the_next_actor():
    env = game.env(max_turns=10)
    env.reset(seed=0)
    env.step(Action.HOP)  # Frog scores; Toad's reward waits for Toad
    assert env.agent_selection == "toad"
    assert env.last()[1] == 0
    env.step(Action.HOP)  # Toad, also from full energy, scores
    assert env.agent_selection == "frog"
    assert env.last()[1] == 1


def test_aec_ends_by_termination_at_max_turns_even_mid_cycle():
    env = game.env(max_turns=5)  # odd: the game ends after Frog's third turn
    env.reset(seed=0)
    for _ in range(5):
        env.step(Action.JUMP)
    assert env.terminations == {"frog": True, "toad": True}
    assert env.truncations == {"frog": False, "toad": False}
    env.step(None)
    env.step(None)
    assert env.agents == []


def test_aec_max_cycles_truncates():
    env = game.env(max_cycles=3)
    env.reset(seed=0)
    for _ in range(6):
        env.step(Action.HOP)
    assert env.truncations == {"frog": True, "toad": True}
    assert env.terminations == {"frog": False, "toad": False}


def test_bad_input_is_named():
    env = game.env(max_turns=10)
    env.reset(seed=0)
    with pytest.raises(GameError, match="got 7"):
        env.step(7)
    with pytest.raises(ConfigError, match="max_turn"):
        game.env(max_turn=10)
    with pytest.raises(ConfigError, match="'points'"):
        game.parallel_env(reward="points")
    with pytest.raises(ConfigError, match="seed"):
        env.reset(seed=-1)
    with pytest.raises(ConfigError, match="render_mode"):
        game.env(render_mode="rgb")


def test_observation_space_bounds_hold_over_a_long_game_with_toad_distress_codes():
    env = game.env(max_turns=400, veil=0.0)
    env.reset(seed=9)
    rng = np.random.default_rng(0)
    space = env.observation_space("frog")
    assert space.shape == (100,) and space.dtype == np.int64
    for agent in env.agent_iter():
        obs, _, terminated, truncated, _ = env.last()
        assert space.contains(obs), obs
        env.step(None if terminated or truncated else int(rng.choice(4, p=[0.5, 0.25, 0.125, 0.125])))


# -- the Parallel environment: Frog's action, then Toad's ----------------------------------


def play_parallel(env, seed, frog, toad):
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    rewards = []
    for f, t in zip(frog, toad):
        if not env.agents:
            break
        obs, rew, term, trunc, _ = env.step({"frog": f, "toad": t})
        trace.append(obs)
        rewards.append((rew, term, trunc))
    return trace, rewards


def test_parallel_step_applies_frogs_turn_then_toads_and_is_deterministic():
    config = GameConfig(max_turns=61)  # odd: the last cycle ignores Toad's action
    rng = np.random.default_rng(5)
    frog, toad = rng.integers(0, 4, 40), rng.integers(0, 4, 40)
    trace, rewards = play_parallel(game.parallel_env(config=config), 8, frog, toad)
    again, rewards_again = play_parallel(game.parallel_env(config=config), 8, frog, toad)
    assert len(trace) == 32  # reset + 31 cycles
    batch = GameBatch(config, 8, [0])
    for cycle, obs in enumerate(trace):
        for who, name in enumerate(("frog", "toad")):
            np.testing.assert_array_equal(obs[name], batch.observe(who)[0])
            np.testing.assert_array_equal(again[cycle][name], obs[name])
        if not batch.done[0]:
            before = batch.score[0].copy()
            batch.step([frog[cycle]])
            if not batch.done[0]:
                batch.step([toad[cycle]])
            gained = batch.score[0] - before
            assert rewards[cycle][0] == {"frog": gained[0], "toad": gained[1]}
    assert rewards == rewards_again
    assert rewards[-1][1] == {"frog": True, "toad": True}


def test_parallel_missing_action_and_step_after_end():
    env = game.parallel_env(max_cycles=1)
    env.reset(seed=0)
    with pytest.raises(ConfigError, match="toad"):
        env.step({"frog": 0})
    _, _, _, truncations, _ = env.step({"frog": 0, "toad": 0})
    assert truncations == {"frog": True, "toad": True} and env.agents == []
    with pytest.raises(GameError, match="reset"):
        env.step({"frog": 0, "toad": 0})


# -- Gymnasium -------------------------------------------------------------------------------


def test_gymnasium_registered_and_passes_check_env():
    assert game.ENV_ID in gym.registry
    for mode in (None, "ansi", "rgb_array"):
        env = gym.make(game.ENV_ID, max_turns=30, render_mode=mode)
        check_env(env.unwrapped, skip_render_check=False)


def test_gymnasium_ansi_render_is_the_picture():
    env = gym.make(game.ENV_ID, render_mode="ansi", dependency=0.0)
    env.reset(seed=0)
    text = env.render()
    assert "players |" in text and "Frog f  col 15" in text
    assert env.unwrapped.config.dependency == 0.0


def test_gymnasium_random_toad_is_the_engines_game():
    env = gym.make(game.ENV_ID, max_turns=30)
    obs, _ = env.reset(seed=12)
    rng = np.random.default_rng(1)
    batch = GameBatch(GameConfig(max_turns=30), 12, [0])
    terminated = False
    while not terminated:
        np.testing.assert_array_equal(obs, batch.observe(Player.FROG)[0])
        action = int(rng.integers(4))
        obs, reward, terminated, truncated, info = env.step(action)
        gained = batch.step([action])[0, Player.FROG]
        toad_action = random_actions(batch)
        assert info["toad_action"] == toad_action[0]
        batch.step(toad_action)
        assert reward == gained and not truncated
    assert batch.done[0] and info["turn"] == 30


def test_gymnasium_callable_toad_sees_its_own_view_and_team_reward():
    seen = []

    def toad(observation):
        seen.append(observation.copy())
        return Action.HOP

    env = gym.make(game.ENV_ID, max_turns=20, toad=toad, reward="team")
    env.reset(seed=3)
    batch = GameBatch(GameConfig(max_turns=20), 3, [0])
    for turn in range(10):
        _, reward, *_ = env.step(Action.JUMP)
        batch.step([Action.JUMP])
        np.testing.assert_array_equal(seen[turn], batch.observe(Player.TOAD)[0])
        gained = batch.step([Action.HOP])[0]
        assert reward == gained.sum()
    assert len(seen) == 10


def frog_trace(env, seed, steps=25):
    """Frog's observations over ``steps`` hops (Toad random), after ``reset(seed=seed)``."""
    obs, _ = env.reset(seed=seed)
    trace = [obs]
    for _ in range(steps):
        obs, *_ = env.step(Action.HOP)
        trace.append(obs)
    return np.array(trace)


def engine_trace(seed, game_id, steps=25):
    batch = GameBatch(GameConfig(), seed, [game_id])
    trace = [batch.observe(Player.FROG)[0]]
    for _ in range(steps):
        batch.step([Action.HOP])
        batch.step(random_actions(batch))
        trace.append(batch.observe(Player.FROG)[0])
    return np.array(trace)


def test_gymnasium_unseeded_resets_play_the_next_games_of_the_seed():
    env = gym.make(game.ENV_ID)
    traces = [frog_trace(env, seed) for seed in (21, None, None)]
    for game_id, trace in enumerate(traces):
        np.testing.assert_array_equal(trace, engine_trace(21, game_id))
    assert not np.array_equal(traces[1], traces[2])  # the games differ, so the check has teeth


def test_gymnasium_bad_toad_policy_is_named():
    with pytest.raises(ConfigError, match="'smart'"):
        gym.make(game.ENV_ID, toad="smart")
    env = gym.make(game.ENV_ID, toad=lambda obs: 9)
    env.reset(seed=0)
    with pytest.raises(GameError, match="toad's action"):
        env.step(0)
