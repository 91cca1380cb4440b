"""Generation: the unique boards are the first distinct ones in (game, turn) order, however the games are cut."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.generate import collect_boards, first_occurrences, record_chunk
from mirror_neurons.data.prepare import board_without_frog, decode_boards
from mirror_neurons.errors import DataError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Player
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions

SMALL = DataConfig(n_states=1_500, seed=5, game=GameConfig(max_turns=200))


def test_first_occurrences_keeps_the_first_of_each_value():
    keys = np.array([7, 3, 7, 7, 1, 3, 9, 1], dtype=np.uint64)
    np.testing.assert_array_equal(first_occurrences(keys), [0, 1, 4, 6])
    many = np.random.default_rng(0).integers(0, 300, size=5_000).astype(np.uint64)
    naive: dict[int, int] = {}
    for i, k in enumerate(many.tolist()):
        naive.setdefault(k, i)
    np.testing.assert_array_equal(first_occurrences(many), sorted(naive.values()))


@pytest.mark.slow
def test_boards_are_the_first_distinct_frog_views_in_game_order():
    """Independent path: play each game alone with the engine's observe(), dedup with a Python dict."""
    boards = record_chunk(SMALL, 0, 6)
    boards = boards.take(np.lexsort((boards.turn, boards.game)))  # a chunk comes sorted by board key
    seen: dict[tuple, tuple[int, int, int]] = {}
    for game in range(6):
        batch = GameBatch(SMALL.game, SMALL.seed, [game])
        for t in range(SMALL.game.max_turns):
            if t % 2 == 0:
                view = batch.observe(Player.FROG)[0]
                row = view[32:64].copy()
                pf, pt = batch.pos[0]
                if pf != pt and row[pf] != 9:
                    row[pf] = 4  # Frog's symbol is back to base at the start of its turn
                seen.setdefault((*view[0:32], *row), (game, t, int(pf)))
            batch.step(random_actions(batch))
    ground, players, frog_pos = decode_boards(boards.keys)
    got = [(*g, *p) for g, p in zip(ground.T.tolist(), players.T.tolist(), strict=True)]
    assert got == list(seen)  # same boards, same order
    assert list(zip(boards.game.tolist(), boards.turn.tolist(), frog_pos.tolist(), strict=True)) == list(seen.values())


EARLY = DataConfig(n_states=300, seed=5, game=GameConfig(max_turns=20))  # low yield: several rounds of games


@pytest.mark.slow
@pytest.mark.parametrize(
    ("config", "workers", "batch_games"), [(SMALL, 1, 5), (SMALL, 2, 7), (EARLY, 1, 13), (EARLY, 2, 50)]
)
def test_collection_does_not_depend_on_chunks_or_workers(config, workers, batch_games):
    reference, stats = collect_boards(config, workers=1, batch_games=1_000)
    boards, other_stats = collect_boards(config, workers=workers, batch_games=batch_games)
    assert len(boards) == config.n_states
    for name in ("keys", "game", "turn"):
        np.testing.assert_array_equal(getattr(boards, name), getattr(reference, name))
    assert other_stats == stats
    keys = board_without_frog(boards.keys)
    assert len(np.unique(keys)) == len(keys)
    if config is EARLY:
        assert stats["games"] > 1.1 * 300 / (0.6 * 10) + 1  # more than the first round was needed


def test_impossible_request_says_why():
    tiny = DataConfig(n_states=50, game=GameConfig(max_turns=2))  # every game records the same start board
    with pytest.raises(DataError, match="saturated"):
        collect_boards(tiny)
    capped = DataConfig(n_states=5_000, game=GameConfig(max_turns=20), max_games=3)
    with pytest.raises(DataError, match="after 3 games"):
        collect_boards(capped)
