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


def render_picture(picture: Picture, last_actions: Sequence[Action | int | None] = (None, None)) -> str:
    """The whole picture as text (no trailing newline); ``last_actions`` is (Frog's, Toad's)."""
    if picture.turn >= picture.max_turns:
        status = "game over"
    else:
        status = f"{Player(picture.turn % 2).name.capitalize()} to move"
    flies, players, ground = board_rows(picture.views[Player.FROG])
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
    game: GameBatch | Game, row: int = 0, last_actions: Sequence[Action | int | None] = (None, None)
) -> str:
    """Text picture of one game (a ``GameBatch`` row or a ``rules.Game``)."""
    return render_picture(picture_of(game, row), last_actions)


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
