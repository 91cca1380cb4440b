"""What the PettingZoo and Gymnasium environments share: the one game, config, spaces, rewards, seeds.

The adapters only translate between one game and the libraries' conventions;
the rules live in ``rules.Game``, the scalar twin of the batched engine, which
``OneGame`` plays. This module holds the pieces both adapters need
so that they cannot drift apart: the one game an environment plays
(``OneGame``), building a ``GameConfig`` from keyword arguments, the
observation and action spaces, the reward modes, and the mapping from
``reset(seed=...)`` to a game of the per-game random stream.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Sequence

import numpy as np
from gymnasium import error as gym_error
from gymnasium import logger, spaces

from mirror_neurons.errors import ConfigError, GameError
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
    STATE_SIZE,
    WIDTH,
    Action,
    Player,
    Symbol,
)
from mirror_neurons.game.policies import PUBLISHED_PROBS, random_action
from mirror_neurons.game.render import render, render_rgb
from mirror_neurons.game.rules import Game

AGENTS = ("frog", "toad")
"""Agent names, indexed by ``Player``: Frog moves first."""

REWARD_MODES = ("score", "team")
"""``score``: the change in the agent's own score (default); ``team``: the change in both players' scores summed."""

RENDER_MODES = ("ansi", "human", "rgb_array")
"""``render()`` returns the text picture (``ansi``), prints it (``human``) or returns a (64, 512, 3) uint8 image (``rgb_array``)."""


class UnsupportedRenderMode(ConfigError, gym_error.UnsupportedMode):
    """Raised when an environment is made with a ``render_mode`` it cannot draw.

    It is Gymnasium's ``error.UnsupportedMode`` (what Gymnasium raises for an
    unsupported mode) and the project's ``ConfigError`` (a ``ValueError``) at once.
    """


def check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise UnsupportedRenderMode(f"render_mode must be one of {list(RENDER_MODES)} or None, got {render_mode!r}")
    return render_mode


def render_frame(
    one: OneGame | None, last_actions: Sequence[Action | None], render_mode: str | None
) -> str | np.ndarray | None:
    """What ``render()`` returns in ``render_mode``: the text (ansi), None after printing it (human), an image (rgb_array)."""
    if render_mode is None:
        logger.warn("render() called without a render_mode; pass render_mode='ansi', 'human' or 'rgb_array'")
        return None
    if one is None:
        raise GameError("render() before reset(); call reset() first")
    if render_mode == "rgb_array":
        return render_rgb(one.game)
    text = render(one.game, last_actions=last_actions)
    if render_mode == "human":
        print(text + "\n")
        return None
    return text


class OneGame:
    """The game an environment plays: game ``game_id`` of ``seed``, as ``GameBatch(config, seed, [game_id])``.

    It runs on the scalar twin ``rules.Game``: at one game, NumPy's per-call
    overhead makes a ``GameBatch`` of one several times slower per turn than
    plain Python (docs/benchmarks.md), and the twins play the same game turn for turn (tested in
    ``tests/game``; ``tests/game/test_adapters.py`` compares whole episodes of
    every adapter with ``GameBatch``).
    """

    def __init__(self, config: GameConfig, seed: int, game_id: int):
        self.game = Game(config, seed, game_id)

    @property
    def turn(self) -> int:
        return self.game.turn

    @property
    def done(self) -> bool:
        return self.game.done

    def scores(self) -> tuple[int, int]:
        """Scores of (Frog, Toad)."""
        frog, toad = self.game.players
        return frog.score, toad.score

    def observe(self, who: int) -> np.ndarray:
        """(100,) int64 state vector from ``who``'s view."""
        return np.array(self.game.observe(who), dtype=np.int64)

    def step(self, action: int) -> tuple[int, int]:
        """The actor plays ``action``; returns the change in (Frog's, Toad's) score."""
        (frog, toad) = self.scores()
        self.game.step(action)
        return self.game.players[0].score - frog, self.game.players[1].score - toad

    def random_action(self, probs: Sequence[float] = PUBLISHED_PROBS) -> int:
        """The published random policy's action for the actor (``policies.random_action``)."""
        return random_action(self.game, probs)


_CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(GameConfig))


def make_config(config: GameConfig | None, overrides: dict) -> GameConfig:
    """``config`` (default ``GameConfig()``) with ``overrides`` (GameConfig field names) applied."""
    unknown = sorted(set(overrides) - set(_CONFIG_FIELDS))
    if unknown:
        raise ConfigError(f"unknown game option(s) {unknown}; valid ones are {list(_CONFIG_FIELDS)}")
    return dataclasses.replace(config or GameConfig(), **overrides)


def observation_high(config: GameConfig) -> np.ndarray:
    """(100,) int64 upper bound of each state-vector entry (SPEC section 3); the lower bound is 0.

    A player scores at most one point per own turn (a hop), so ``max_turns``
    bounds the score; index 96 and the players row may hold Toad's own
    distress code (10) when ``veil`` < 1.
    """
    high = np.zeros(STATE_SIZE, dtype=np.int64)
    high[GROUND] = Symbol.ROUGH
    high[PLAYERS] = Symbol.TOAD_DISTRESS
    high[FLIES] = Symbol.FLY
    high[OWN_SYMBOL] = Symbol.TOAD_DISTRESS
    high[OWN_ENERGY] = MAX_ENERGY
    high[OWN_SCORE] = config.max_turns
    high[OWN_POSITION] = WIDTH - 1
    return high


def observation_space(config: GameConfig) -> spaces.Box:
    return spaces.Box(low=0, high=observation_high(config), shape=(STATE_SIZE,), dtype=np.int64)


def action_space() -> spaces.Discrete:
    return spaces.Discrete(4)


def check_reward_mode(mode: str) -> str:
    if mode not in REWARD_MODES:
        raise ConfigError(f"reward must be one of {list(REWARD_MODES)}, got {mode!r}")
    return mode


def rewards(score_delta: tuple[int, int], mode: str) -> tuple[int, int]:
    """Rewards of (Frog, Toad) from one turn's changes in (Frog's, Toad's) score."""
    if mode == "team":
        both = score_delta[0] + score_delta[1]
        return both, both
    return score_delta


def check_action(action: object, agent: str) -> int:
    """The action as a plain int 0..3, or a ``GameError`` naming the bad value."""
    if isinstance(action, (int, np.integer)) and not isinstance(action, bool) and 0 <= action <= 3:
        return int(action)
    if isinstance(action, np.ndarray) and action.shape in ((), (1,)) and action.dtype.kind in "iu":
        return check_action(action.reshape(-1)[0], agent)
    raise GameError(f"{agent}'s action must be an integer 0..3 (hop, jump, leap, help), got {action!r}")


class EpisodeSeeds:
    """Maps resets to games of the counter-based stream: ``reset(seed=s)`` plays game (s, 0).

    Each later ``reset()`` without a seed plays the next game of the same seed,
    (s, 1), (s, 2), ..., so a seeded run of many episodes is reproducible and
    its episodes are the same games that ``GameBatch(config, s, [k])`` plays.
    A first reset without any seed draws ``s`` with ``fresh`` (OS entropy by default).
    """

    def __init__(self, fresh: Callable[[], int] | None = None):
        self.seed: int | None = None
        self.next_game = 0
        self._fresh = fresh or (lambda: secrets.randbits(63))

    def next(self, seed: int | None) -> tuple[int, int]:
        """(seed, game index) for this reset."""
        if seed is not None:
            if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or not 0 <= seed < 2**64:
                raise ConfigError(f"seed must be an integer in 0..2**64-1, got {seed!r}")
            self.seed, self.next_game = int(seed), 0
        elif self.seed is None:
            self.seed, self.next_game = int(self._fresh()), 0
        game = self.next_game
        self.next_game += 1
        return self.seed, game


def agent_index(agent: str) -> Player:
    return Player(AGENTS.index(agent))
