"""The ASCII picture: rows drawn from hand-built states, and twin agreement."""

import numpy as np
import pytest

from mirror_neurons.game import Game, GameBatch, GameConfig
from mirror_neurons.game.constants import Action, Player, Symbol
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


# -- the board as an image (rgb_array) ------------------------------------------------


def cell(image: np.ndarray, row: int, column: int, dx: int = 8, dy: int = 8) -> tuple[int, int, int]:
    """Colour of pixel (dx, dy) of a board cell: row 0 flies, 1 players, 2 ground (16-pixel cells)."""
    return tuple(int(v) for v in image[16 * row + dy, 16 * column + dx])


def test_rgb_image_has_each_thing_at_its_column():
    from mirror_neurons.game.render import FLY_COLOUR, GROUND_COLOURS, PLAYER_COLOURS, SKY, render_rgb

    image = render_rgb(hand_built_batch())  # rough at 3-4, flies at 0 and 31, Frog at 2, Toad at 10
    assert image.shape == (64, 512, 3) and image.dtype == np.uint8
    assert cell(image, 0, 0) == cell(image, 0, 31) == FLY_COLOUR and cell(image, 0, 1) == SKY
    assert cell(image, 0, 0, dx=0, dy=0) == SKY  # a fly is a dot, not a whole cell
    assert cell(image, 1, 2) == PLAYER_COLOURS[Player.FROG] and cell(image, 1, 10) == PLAYER_COLOURS[Player.TOAD]
    assert [cell(image, 1, c) for c in range(32) if c not in (2, 10)] == [SKY] * 30
    assert [cell(image, 2, c) for c in range(6)] == [GROUND_COLOURS[Symbol.SOLID]] * 3 + [
        GROUND_COLOURS[Symbol.ROUGH]
    ] * 2 + [GROUND_COLOURS[Symbol.SOLID]]
    # energy bars: Frog 7/20 of 512 pixels (179.2 -> 179), Toad 0
    frog_bar = (image[3 * 16 + 4] == PLAYER_COLOURS[Player.FROG]).all(axis=1)
    toad_bar = (image[3 * 16 + 12] == PLAYER_COLOURS[Player.TOAD]).all(axis=1)
    assert frog_bar.sum() == 179 and frog_bar[:179].all() and toad_bar.sum() == 0


def test_rgb_image_marks_distress_and_action_and_splits_a_shared_column():
    from mirror_neurons.game.render import MARKER_COLOURS, PLAYER_COLOURS, render_rgb

    batch = hand_built_batch()
    batch.pos[0] = [3, 20]  # Frog on rough ground: distress
    image = render_rgb(batch)
    assert (
        cell(image, 1, 3) == MARKER_COLOURS[Symbol.DISTRESS]
        and cell(image, 1, 3, dx=1, dy=1) == PLAYER_COLOURS[Player.FROG]
    )
    batch.pos[0] = [20, 20]
    image = render_rgb(batch)
    assert (
        cell(image, 1, 20, dx=2) == PLAYER_COLOURS[Player.FROG]
        and cell(image, 1, 20, dx=13) == PLAYER_COLOURS[Player.TOAD]
    )
    jumped = GameBatch(GameConfig(max_turns=10), seed=0, game_ids=[0])
    jumped.step([Action.JUMP])  # Frog at 15 shows the jump symbol until its next turn
    assert cell(render_rgb(jumped), 1, 15) == MARKER_COLOURS[Symbol.JUMP]


def test_batch_row_and_scalar_game_draw_the_same_images():
    from mirror_neurons.game.render import render_rgb

    config = GameConfig(max_turns=40)
    batch = GameBatch(config, seed=4, game_ids=[0, 5])
    game = Game(config, seed=4, game_id=5)
    while not batch.done[0]:
        actions = random_actions(batch)
        batch.step(actions)
        game.step(int(actions[1]))
        np.testing.assert_array_equal(render_rgb(batch, row=1), render_rgb(game))


def test_show_both_draws_a_shared_column_as_both_and_keeps_the_state_vectors_rule_otherwise():
    from mirror_neurons.game.render import BOTH_CHAR

    batch = hand_built_batch()
    batch.pos[0] = [20, 20]
    assert board_lines(render(batch, show_both=True))["players"][20] == BOTH_CHAR
    assert board_lines(render(batch))["players"][20] == "t"
    batch.pos[0] = [2, 10]
    assert render(batch, show_both=True) == render(batch)
