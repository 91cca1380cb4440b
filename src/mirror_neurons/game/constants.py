"""Names for every code of the game, defined once (SPEC sections 2 and 3).

Actions, board symbols, distress scenarios and players are ``IntEnum``s so that
no bare ``3`` meaning "help" appears anywhere else in the project. The symbol
codes are the state vector's codes; ``TOAD_DISTRESS`` (10) exists only for the
``veil`` knob below 1, where distress symbols are player-specific.
"""

from enum import IntEnum

WIDTH = 32
"""Columns in the visible world (index 0..31)."""

MAX_ENERGY = 20
"""Energy cap; both players start with it."""

FROG_START = 15
TOAD_START = 16
CENTER = WIDTH // 2
"""The scroll keeps the players' anchor at this column."""

STATE_SIZE = 100
GROUND = slice(0, 32)
PLAYERS = slice(32, 64)
FLIES = slice(64, 96)
OWN_SYMBOL = 96
OWN_ENERGY = 97
OWN_SCORE = 98
OWN_POSITION = 99


class Action(IntEnum):
    """The four actions; the same for Frog and Toad."""

    HOP = 0
    JUMP = 1
    LEAP = 2
    HELP = 3


MOVING_ACTIONS = (Action.HOP, Action.LEAP, Action.HELP)
"""Actions after which the world scrolls and the obstacle rate grows."""


class Symbol(IntEnum):
    """Codes of the state vector (SPEC section 3)."""

    EMPTY = 0
    SOLID = 1
    ROUGH = 2
    FLY = 3
    FROG = 4
    TOAD = 5
    JUMP = 6
    LEAP = 7
    HELP = 8
    DISTRESS = 9
    TOAD_DISTRESS = 10


class Scenario(IntEnum):
    """Who is in distress in a state (stored at index 98 by the labeler)."""

    NONE = 0
    FROG = 1
    TOAD = 2
    BOTH = 3


class Player(IntEnum):
    """Index of a player in the engine's arrays; Frog moves first."""

    FROG = 0
    TOAD = 1


BASE_SYMBOL = (Symbol.FROG, Symbol.TOAD)
"""Base symbol of each player, indexed by ``Player``."""

ACTION_SYMBOL = {Action.JUMP: Symbol.JUMP, Action.LEAP: Symbol.LEAP, Action.HELP: Symbol.HELP}

ACTION_KEYS = {"h": Action.HOP, "j": Action.JUMP, "l": Action.LEAP, "p": Action.HELP}
"""Keyboard keys for ``mirror-neurons play``."""
