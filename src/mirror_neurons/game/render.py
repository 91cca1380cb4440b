"""ASCII pictures of a game: pure functions from a game's state to text.

The picture is drawn from the two players' 100-integer state vectors (SPEC
section 3), so it shows exactly what a network would see: the flies row, the
players row (one displayed symbol per column; when both players share a
column it shows Toad, as the state vector does) and the ground row, followed
by one line per player with its column, energy, score and last action. A
``GameBatch`` row and a ``rules.Game`` render identically. The last frame of
``render_episode(GameConfig(max_turns=100), seed=2, turns=40)``:

    turn 40/100   Frog to move
             0         1         2         3
    flies   | .       . .                    |
    players |            f        J          |
    ground  |____________________________^^^_|
    Frog f  col 12  energy 19/20  score  13  last hop
    Toad t  col 21  energy 20/20  score  11  last jump

Characters: ``.`` fly; ``f`` Frog, ``t`` Toad, ``J`` jump, ``L`` leap, ``H``
help, ``X`` distress (standing on rough ground), ``Y`` Toad's own distress
symbol (only when ``veil`` < 1); ``_`` solid ground, ``^`` rough ground.
With ``show_both=True`` (what ``mirror-neurons play`` draws) a column the
two players share shows ``&`` instead of Toad alone, so Frog never vanishes
from the terminal; the state vector itself keeps SPEC's rule.

``render_rgb`` draws the same picture as an image for Gymnasium's
``rgb_array`` mode (video recording): one coloured cell per column of the
three rows, each player at its own column (side by side when they share
one), and two energy bars; see its docstring for the palette.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import (
    FLIES,
    GROUND,
    MAX_ENERGY,
    OWN_ENERGY,
    OWN_POSITION,
    OWN_SCORE,
    OWN_SYMBOL,
    PLAYERS,
    WIDTH,
    Action,
    Player,
    Symbol,
)
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.rules import Game

GROUND_CHARS = {Symbol.SOLID: "_", Symbol.ROUGH: "^"}
FLY_CHARS = {Symbol.EMPTY: " ", Symbol.FLY: "."}
PLAYER_CHARS = {
    Symbol.EMPTY: " ",
    Symbol.FROG: "f",
    Symbol.TOAD: "t",
    Symbol.JUMP: "J",
    Symbol.LEAP: "L",
    Symbol.HELP: "H",
    Symbol.DISTRESS: "X",
    Symbol.TOAD_DISTRESS: "Y",
}
PLAYER_NAMES = {Player.FROG: "Frog f", Player.TOAD: "Toad t"}
ROW_LABEL_WIDTH = 8
BOTH_CHAR = "&"
"""Players row with ``show_both``: Frog and Toad in one column."""


@dataclass(frozen=True)
class Picture:
    """What one picture needs: both players' state vectors plus the clock."""

    views: tuple[np.ndarray, np.ndarray]
    """(100,) int64 state vector from Frog's view and from Toad's view."""
    turn: int
    """Turns taken so far; the actor is ``turn % 2``."""
    max_turns: int


def picture_of(game: GameBatch | Game, row: int = 0) -> Picture:
    """The ``Picture`` of one game: a ``GameBatch`` row or a ``rules.Game``."""
    if isinstance(game, GameBatch):
        views = (game.observe(Player.FROG)[row], game.observe(Player.TOAD)[row])
        turn = int(game.turn[row])
    else:
        views = (np.asarray(game.observe(Player.FROG)), np.asarray(game.observe(Player.TOAD)))
        turn = game.turn
    return Picture(views=views, turn=turn, max_turns=game.config.max_turns)


def board_rows(state: np.ndarray) -> tuple[str, str, str]:
    """The flies, players and ground rows of one (100,) state vector, 32 characters each."""
    flies = "".join(FLY_CHARS[Symbol(c)] for c in state[FLIES])
    players = "".join(PLAYER_CHARS[Symbol(c)] for c in state[PLAYERS])
    ground = "".join(GROUND_CHARS[Symbol(c)] for c in state[GROUND])
    return flies, players, ground


def player_line(who: Player, state: np.ndarray, last_action: Action | int | None) -> str:
    """``Frog f  col 15  energy 20/20  score   0  last hop`` from the player's own state vector."""
    last = "-" if last_action is None else Action(last_action).name.lower()
    return (
        f"{PLAYER_NAMES[who]}  col {int(state[OWN_POSITION]):2d}  "
        f"energy {int(state[OWN_ENERGY]):2d}/{MAX_ENERGY}  score {int(state[OWN_SCORE]):3d}  last {last}"
    )


def render_picture(
    picture: Picture, last_actions: Sequence[Action | int | None] = (None, None), *, show_both: bool = False
) -> str:
    """The whole picture as text (no trailing newline); ``last_actions`` is (Frog's, Toad's).

    ``show_both``: a column both players stand on shows ``BOTH_CHAR`` instead
    of Toad's symbol (the state vector's rule, kept when False).
    """
    if picture.turn >= picture.max_turns:
        status = "game over"
    else:
        status = f"{Player(picture.turn % 2).name.capitalize()} to move"
    flies, players, ground = board_rows(picture.views[Player.FROG])
    column = int(picture.views[Player.FROG][OWN_POSITION])
    if show_both and column == int(picture.views[Player.TOAD][OWN_POSITION]):
        players = players[:column] + BOTH_CHAR + players[column + 1 :]
    ruler = "".join(str(c // 10) if c % 10 == 0 else " " for c in range(WIDTH))
    pad = " " * ROW_LABEL_WIDTH
    lines = [
        f"turn {picture.turn}/{picture.max_turns}   {status}",
        f"{pad} {ruler}".rstrip(),
        f"{'flies':<{ROW_LABEL_WIDTH}}|{flies}|",
        f"{'players':<{ROW_LABEL_WIDTH}}|{players}|",
        f"{'ground':<{ROW_LABEL_WIDTH}}|{ground}|",
    ]
    lines += [player_line(who, picture.views[who], last_actions[who]) for who in Player]
    return "\n".join(lines)


def render(
    game: GameBatch | Game,
    row: int = 0,
    last_actions: Sequence[Action | int | None] = (None, None),
    *,
    show_both: bool = False,
) -> str:
    """Text picture of one game (a ``GameBatch`` row or a ``rules.Game``); ``show_both``: see ``render_picture``."""
    return render_picture(picture_of(game, row), last_actions, show_both=show_both)


# -- the picture as an image (Gymnasium's rgb_array) ---------------------------------

CELL = 16
"""Pixels per cell side. 32 x 16 = 512 wide and 4 x 16 = 64 high: multiples of 16, as video codecs like."""
SKY = (205, 228, 250)
GROUND_COLOURS = {Symbol.SOLID: (150, 110, 60), Symbol.ROUGH: (70, 70, 80)}
FLY_COLOUR = (20, 20, 20)
PLAYER_COLOURS = {Player.FROG: (40, 170, 60), Player.TOAD: (185, 130, 40)}
MARKER_COLOURS = {
    Symbol.JUMP: (250, 225, 40),
    Symbol.LEAP: (40, 90, 230),
    Symbol.HELP: (230, 60, 210),
    Symbol.DISTRESS: (230, 25, 25),
    Symbol.TOAD_DISTRESS: (255, 130, 0),
}
"""Colour of the small square inside a player showing its displayed symbol; its base symbol shows none."""
BAR_BACKGROUND = (235, 235, 235)


def picture_rgb(picture: Picture) -> np.ndarray:
    """The picture as a (64, 512, 3) uint8 image: flies, players, ground rows, then energy bars.

    Rows are ``CELL`` pixels high and each of the 32 columns ``CELL`` wide:

    * flies row: sky, a dark square where a fly is;
    * players row: sky; Frog green and Toad ochre, each at its own column
      (index 99 of its own state vector), Frog on the left half and Toad on
      the right when they share one; a small square in the player shows its
      displayed symbol (index 96): yellow jump, blue leap, magenta help, red
      distress, orange Toad's own distress code (veil < 1), none for f / t;
    * ground row: brown solid, dark grey rough;
    * last row: Frog's energy bar (top half) and Toad's (bottom half), full
      width at 20.
    """
    frog_view = picture.views[Player.FROG]
    image = np.empty((4 * CELL, WIDTH * CELL, 3), dtype=np.uint8)  # (height, width, rgb)
    image[: 2 * CELL] = SKY

    def fill(row: int, column: int, colour, left: int = 0, right: int = CELL, inset: int = 0) -> None:
        top, x0 = row * CELL, column * CELL
        image[top + inset : top + CELL - inset, x0 + left + inset : x0 + right - inset] = colour

    for column, code in enumerate(frog_view[FLIES]):
        if code == Symbol.FLY:
            fill(0, column, FLY_COLOUR, inset=CELL // 4)
    for column, code in enumerate(frog_view[GROUND]):
        fill(2, column, GROUND_COLOURS[Symbol(code)])
    shared = int(frog_view[OWN_POSITION]) == int(picture.views[Player.TOAD][OWN_POSITION])
    for who in Player:
        view = picture.views[who]
        left, right = (0, CELL) if not shared else ((0, CELL // 2) if who == Player.FROG else (CELL // 2, CELL))
        fill(1, int(view[OWN_POSITION]), PLAYER_COLOURS[who], left, right)
        marker = MARKER_COLOURS.get(Symbol(int(view[OWN_SYMBOL])))
        if marker is not None:
            fill(1, int(view[OWN_POSITION]), marker, left, right, inset=CELL // 4 if not shared else CELL // 8)
    image[3 * CELL :] = BAR_BACKGROUND
    for who in Player:
        top = 3 * CELL + who * (CELL // 2)
        width = round(WIDTH * CELL * int(picture.views[who][OWN_ENERGY]) / MAX_ENERGY)
        image[top + 1 : top + CELL // 2 - 1, :width] = PLAYER_COLOURS[who]
    return image


def render_rgb(game: GameBatch | Game, row: int = 0) -> np.ndarray:
    """(64, 512, 3) uint8 image of one game (a ``GameBatch`` row or a ``rules.Game``); see ``picture_rgb``."""
    return picture_rgb(picture_of(game, row))


def render_episode(
    config: GameConfig,
    seed: int,
    turns: int,
    game_id: int = 0,
    policy: Callable[[GameBatch], np.ndarray] | None = None,
) -> list[str]:
    """Frames of the first ``turns`` turns of game ``game_id``: the start, then one per turn.

    ``policy(batch) -> (1,) actions`` drives both players; the default is the
    published random policy on the game's own stream, so the frames are a pure
    function of (config, seed, game_id, turns).
    """
    choose = policy or random_actions
    batch = GameBatch(config, seed, [game_id])
    last: list[Action | None] = [None, None]
    frames = [render(batch)]
    for _ in range(min(turns, config.max_turns)):
        actor = int(batch.actor[0])
        action = Action(int(np.asarray(choose(batch))[0]))
        batch.step([action])
        last[actor] = action
        frames.append(render(batch, last_actions=last))
    return frames
