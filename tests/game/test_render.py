"""The ASCII picture: rows drawn from hand-built states, and twin agreement."""

import numpy as np
import pytest

from mirror_neurons.game import Game, GameBatch, GameConfig
from mirror_neurons.game.constants import Action, Symbol
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.render import board_rows, render, render_episode


def board_lines(text: str) -> dict[str, str]:
    """The three board rows of a picture, without their labels and bars."""
    rows = {}
    for line in text.splitlines():
        label, _, rest = line.partition("|")
        if rest.endswith("|"):
            rows[label.strip()] = rest[:-1]
    return rows


def hand_built_batch(**config) -> GameBatch:
    """A game whose state is set by hand: rough at 3-4, flies at 0 and 31, Frog at 2, Toad at 10."""
    batch = GameBatch(GameConfig(**config), seed=0, game_ids=[0])
    ground = np.full((1, 32), Symbol.SOLID, dtype=np.uint8)
    ground[0, [3, 4]] = Symbol.ROUGH
    flies = np.zeros((1, 32), dtype=bool)
    flies[0, [0, 31]] = True
    batch.ground, batch.flies = ground, flies  # whole-array assignment (the engine stores bit masks)
    batch.pos[0] = [2, 10]
    batch.energy[0] = [7, 0]
    batch.score[0] = [12, 5]
    return batch


def test_rows_show_flies_players_and_ground_with_distinct_characters():
    rows = board_lines(render(hand_built_batch()))
    assert rows["flies"] == "." + " " * 30 + "."
    assert rows["players"] == "  f       t" + " " * 21
    assert rows["ground"] == "___^^" + "_" * 27
    assert all(len(r) == 32 for r in rows.values())


def test_player_lines_show_column_energy_score_and_last_action():
    text = render(hand_built_batch(), last_actions=(Action.LEAP, None))
    assert "Frog f  col  2  energy  7/20  score  12  last leap" in text
    assert "Toad t  col 10  energy  0/20  score   5  last -" in text


def test_distress_shows_x_and_a_shared_column_shows_toad():
    batch = hand_built_batch()
    batch.pos[0] = [3, 20]  # Frog on rough ground
    assert board_lines(render(batch))["players"][3] == "X"
    batch.pos[0] = [20, 20]
    row = board_lines(render(batch))["players"]
    assert row[20] == "t" and row.count("f") == 0


def test_toad_own_distress_symbol_below_full_veil():
    batch = hand_built_batch(veil=0.0)  # veil 0: Toad's distress never shares code 9
    batch.pos[0] = [2, 4]
    assert board_lines(render(batch))["players"][4] == "Y"


def test_action_symbols_after_a_jump_and_the_clock():
    batch = GameBatch(GameConfig(max_turns=10), seed=0, game_ids=[0])
    assert render(batch).startswith("turn 0/10   Frog to move")
    batch.step([Action.JUMP])  # a jump neither moves nor scrolls
    text = render(batch, last_actions=(Action.JUMP, None))
    assert board_lines(text)["players"][15:17] == "Jt"
    assert text.startswith("turn 1/10   Toad to move")


def test_board_rows_reject_codes_outside_the_table():
    state = np.zeros(100, dtype=np.int64)
    state[0] = 7  # not a ground code
    with pytest.raises(KeyError):
        board_rows(state)


def test_batch_row_and_scalar_game_render_identically():
    config = GameConfig(max_turns=60)
    batch = GameBatch(config, seed=4, game_ids=[0, 5])
    game = Game(config, seed=4, game_id=5)
    while not batch.done[0]:
        actions = random_actions(batch)
        batch.step(actions)
        game.step(int(actions[1]))
        assert render(batch, row=1) == render(game)


def test_render_episode_frames():
    config = GameConfig(max_turns=8)
    frames = render_episode(config, seed=2, turns=20)
    assert len(frames) == 9  # the start, then one per turn, stopping at the game's end
    assert frames[0].startswith("turn 0/8") and frames[-1].startswith("turn 8/8   game over")
    assert frames == render_episode(config, seed=2, turns=20)
    assert frames != render_episode(config, seed=3, turns=20)
