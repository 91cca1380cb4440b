"""The batched engine as a whole: invariants, twin agreement, determinism, streams and bad input.

Property tests (hypothesis) play random action sequences on a small batch and,
after every turn, check the SPEC invariants (energy 0..20, columns 0..31, only
SPEC section 3 codes in the state vector) and that every row equals the
scalar twin ``rules.Game`` playing the same game.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror_neurons.errors import GameError
from mirror_neurons.game import Game, GameBatch, GameConfig
from mirror_neurons.game import streams
from mirror_neurons.game.constants import MAX_ENERGY, WIDTH, Action, Symbol
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.streams import Slot

PLAYER_CODES = {0, 4, 5, 6, 7, 8, 9}  # SPEC section 3, players row
OWN_SYMBOL_CODES = PLAYER_CODES - {0}


def check_state_vector(state: np.ndarray, veil: float) -> None:
    """(B, 100) vectors hold only the codes SPEC section 3 allows in each field."""
    players = PLAYER_CODES | ({int(Symbol.TOAD_DISTRESS)} if veil < 1 else set())
    own = OWN_SYMBOL_CODES | ({int(Symbol.TOAD_DISTRESS)} if veil < 1 else set())
    assert set(np.unique(state[:, 0:32]).tolist()) <= {1, 2}
    assert set(np.unique(state[:, 32:64]).tolist()) <= players
    assert set(np.unique(state[:, 64:96]).tolist()) <= {0, 3}
    assert set(np.unique(state[:, 96]).tolist()) <= own
    assert ((state[:, 97] >= 0) & (state[:, 97] <= MAX_ENERGY)).all()
    assert (state[:, 98] >= 0).all()
    assert ((state[:, 99] >= 0) & (state[:, 99] < WIDTH)).all()
    occupied = (state[:, 32:64] != 0).sum(axis=1)
    assert ((occupied == 1) | (occupied == 2)).all()  # one column when the players share it
    assert (state[np.arange(len(state)), 32 + state[:, 99]] != 0).all()  # the player's own column is drawn


def assert_twin(batch: GameBatch, games: list[Game]) -> None:
    """Every row of ``batch`` equals its scalar twin: state vectors of both views, rate and queue."""
    views = [batch.observe(0), batch.observe(1)]
    for i, g in enumerate(games):
        for who in (0, 1):
            assert views[who][i].tolist() == g.observe(who), f"game row {i}, view {who}, turn {g.turn}"
        assert batch.rate[i] == g.rate and batch.queued[i] == g.queued
        assert batch.flies[i].tolist() == g.flies
    assert (batch.turn == games[0].turn).all()


configs = st.builds(
    GameConfig,
    max_turns=st.just(400),
    dependency=st.sampled_from([1.0, 0.0, 0.5, 0.37]),
    veil=st.sampled_from([1.0, 0.0, 0.6]),
    fly_spawn_prob=st.sampled_from([0.01, 0.2]),
    rate_max=st.sampled_from([0.075, 0.5]),
    rate_step=st.sampled_from([0.005, 0.05]),
)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    config=configs,
    seed=st.integers(0, 2**40),
    game_ids=st.lists(st.integers(0, 10**9), min_size=1, max_size=4, unique=True),
    actions=st.lists(st.lists(st.integers(0, 3), min_size=4, max_size=4), min_size=1, max_size=150),
)
def test_random_play_keeps_invariants_and_matches_the_twin(config, seed, game_ids, actions) -> None:
    batch = GameBatch(config, seed, game_ids)
    games = [Game(config, seed, i) for i in game_ids]
    assert_twin(batch, games)
    for turn_actions in actions:
        a = np.array(turn_actions[: len(game_ids)])
        delta = batch.step(a)
        for i, g in enumerate(games):
            actor = g.turn % 2
            assert delta[i, actor] == g.step(int(a[i])) and delta[i, 1 - actor] == 0
        assert ((batch.energy >= 0) & (batch.energy <= MAX_ENERGY)).all()
        assert ((batch.pos >= 0) & (batch.pos < WIDTH)).all()
        for who in (0, 1):
            check_state_vector(batch.observe(who), config.veil)
        assert_twin(batch, games)


@pytest.mark.slow
def test_long_policy_games_match_the_twin() -> None:
    """Whole episodes under the published policy, deep into the obstacle ramp, with D and I below 1."""
    for config in (GameConfig(max_turns=700), GameConfig(max_turns=700, dependency=0.2, veil=0.4)):
        batch = GameBatch(config, 17, [3, 99, 123456])
        games = [Game(config, 17, i) for i in (3, 99, 123456)]
        while not batch.done[0]:
            a = random_actions(batch)
            batch.step(a)
            for g, x in zip(games, a, strict=True):
                g.step(int(x))
            if batch.turn[0] % 50 == 0:
                assert_twin(batch, games)
        assert_twin(batch, games)
        assert (batch.rate == config.rate_max).all()  # the ramp was reached
        assert (batch.ground == Symbol.ROUGH).any()


# -- determinism --------------------------------------------------------------------------------------


_WEIGHTS = np.random.default_rng(0).integers(1, 2**63, size=200, dtype=np.uint64) | np.uint64(1)


def trajectory_digests(config: GameConfig, seed: int, game_ids, turns: int) -> dict[int, int]:
    """A 64-bit fingerprint per game of both views at every turn, playing the published policy.

    Each turn's (B, 200) views are folded in with fixed random odd weights (mod 2**64), so any
    difference in any field at any turn changes the fingerprint (but for a 2**-64 chance).
    """
    batch = GameBatch(config, seed, np.asarray(game_ids))
    digest = np.zeros(batch.size, dtype=np.uint64)
    for _ in range(turns):
        views = np.concatenate([batch.observe(0), batch.observe(1)], axis=1).astype(np.uint64)  # (B, 200)
        digest = digest * np.uint64(0x9E3779B97F4A7C15) + (views * _WEIGHTS).sum(axis=1, dtype=np.uint64)
        batch.step(random_actions(batch))
    return {int(i): int(d) for i, d in zip(game_ids, digest, strict=True)}


@pytest.mark.slow
def test_a_game_is_the_same_alone_in_a_batch_of_4096_and_in_chunks() -> None:
    config = GameConfig(max_turns=200)
    big = trajectory_digests(config, 5, range(4096), 120)
    for i in (0, 1, 777, 4095):
        assert trajectory_digests(config, 5, [i], 120)[i] == big[i]
    reordered = trajectory_digests(config, 5, [4095, 10, 0], 120)  # order within a batch is irrelevant
    assert all(reordered[i] == big[i] for i in (4095, 10, 0))
    assert len(set(big.values())) == 4096  # different games differ


@pytest.mark.slow
def test_chunks_in_separate_processes_match_one_batch() -> None:
    config = GameConfig(max_turns=120)
    whole = trajectory_digests(config, 8, range(100), 120)
    with ProcessPoolExecutor(max_workers=2) as pool:
        parts = list(pool.map(trajectory_digests, [config] * 2, [8, 8], [range(50), range(50, 100)], [120, 120]))
    assert {**parts[0], **parts[1]} == whole


@pytest.mark.slow
def test_same_seed_same_trajectory_different_seed_differs() -> None:
    config = GameConfig(max_turns=150)
    a = trajectory_digests(config, 1, range(8), 150)
    assert trajectory_digests(config, 1, range(8), 150) == a
    b = trajectory_digests(config, 2, range(8), 150)
    assert all(a[i] != b[i] for i in range(8))


def test_the_actions_steer_the_game() -> None:
    """Same seed and game, different actions: different trajectories (the stream is keyed, not the policy)."""
    config = GameConfig(max_turns=50)
    runs = []
    for first in (Action.HOP, Action.LEAP):
        b = GameBatch(config, 0, [0])
        b.step([first])
        for _ in range(20):
            b.step([Action.HOP])
        runs.append(b.observe(0)[0])
    assert not np.array_equal(*runs)


# -- streams ------------------------------------------------------------------------------------------


def test_python_and_numpy_draws_agree() -> None:
    keys = streams.game_keys(123, np.array([0, 1, 2**40]))
    for turn in (-1, 0, 7, 10**6):
        for slot in Slot:
            bits = streams.draw_bits(keys, turn, slot, 5)
            for i in range(5):
                assert np.array_equal(streams.draw_at(keys, turn, slot, i), bits[:, i])
                assert [streams.draw_int(int(k), turn, slot, i) for k in keys] == bits[:, i].tolist()
            u = streams.uniform(keys, turn, slot)[:, 0]
            assert [streams.uniform_int(int(x)) for x in bits[:, 0]] == u.tolist()


def test_draws_are_distinct_across_games_turns_slots_and_counters() -> None:
    keys = streams.game_keys(0, np.arange(64))
    draws = np.concatenate([streams.draw_bits(keys, t, s, 64).ravel() for t in range(-1, 8) for s in Slot])
    assert len(np.unique(draws)) == len(draws)


def test_uniform_draws_look_uniform() -> None:
    u = streams.uniform(streams.game_keys(3, np.arange(100_000)), 0, Slot.POLICY)[:, 0]
    counts = np.histogram(u, bins=10, range=(0, 1))[0]
    assert (np.abs(counts - 10_000) < 5 * np.sqrt(10_000 * 0.9)).all()


# -- bad input ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [4, -1, 17])
def test_action_outside_0_to_3_is_named(bad: int) -> None:
    batch = GameBatch(GameConfig(), 0, [0, 1])
    with pytest.raises(GameError, match=rf"0\.\.3.*\[{bad}\]"):
        batch.step([0, bad])
    with pytest.raises(GameError, match=rf"0\.\.3.*got {bad}"):
        Game(GameConfig(), 0).step(bad)


def test_non_integer_actions_are_refused() -> None:
    with pytest.raises(GameError, match=r"integers 0\.\.3.*1\.5"):
        GameBatch(GameConfig(), 0, [0]).step([1.5])
    with pytest.raises(GameError, match="got True"):
        Game(GameConfig(), 0).step(True)
    with pytest.raises(GameError, match=r"one per game \(3\), got shape \(2,\)"):
        GameBatch(GameConfig(), 0, 3).step([0, 1])


def test_step_after_the_end_is_refused() -> None:
    config = GameConfig(max_turns=3)
    batch, game = GameBatch(config, 0, [0]), Game(config, 0)
    for _ in range(3):
        batch.step([Action.JUMP])
        game.step(Action.JUMP)
    assert batch.done.all() and game.done
    with pytest.raises(GameError, match="already ended after 3 turns"):
        batch.step([Action.HOP])
    with pytest.raises(GameError, match="ended after 3 turns"):
        game.step(Action.HOP)


def test_negative_seed_and_game_ids_are_named() -> None:
    with pytest.raises(GameError, match=r"an integer in 0..2\*\*64-1 \(the streams are 64-bit\), got -1"):
        GameBatch(GameConfig(), -1, [0])
    with pytest.raises(GameError, match="seed=-5"):
        Game(GameConfig(), -5)
    with pytest.raises(GameError, match=r"game_ids.*\[-2\]"):
        GameBatch(GameConfig(), 0, [-2])
    with pytest.raises(GameError, match="game_id=-3"):
        Game(GameConfig(), 0, -3)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        streams.game_keys(-1, np.array([0]))


def test_masks_are_the_decoded_rows() -> None:
    batch = GameBatch(GameConfig(fly_spawn_prob=0.3), 0, 50)
    for _ in range(30):
        batch.step(random_actions(batch))
    bits = 1 << np.arange(32)
    assert np.array_equal((batch.rough_mask[:, None] & bits) != 0, batch.ground == Symbol.ROUGH)
    assert np.array_equal((batch.fly_mask[:, None] & bits) != 0, batch.flies)
    assert batch.flies.any() and (batch.ground == Symbol.ROUGH).any()


def test_decoded_rows_cannot_be_edited_in_place() -> None:
    """``ground`` and ``flies`` are decoded copies: writing into them would be lost, so it raises."""
    batch = GameBatch(GameConfig(), 0, [0])
    with pytest.raises(ValueError, match="read-only"):
        batch.ground[0, 3] = Symbol.ROUGH
    with pytest.raises(ValueError, match="read-only"):
        batch.flies[0, 3] = True
    with pytest.raises(GameError, match="SOLID.*ROUGH"):
        batch.ground = np.zeros((1, 32), dtype=np.uint8)
    with pytest.raises(GameError, match="share one turn"):
        GameBatch(GameConfig(), 0, 2).turn = [0, 1]
