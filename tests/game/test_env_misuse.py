"""Driving the environments wrongly raises the project's errors with the fix, never a bare TypeError (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

import mirror_neurons.game as game
from mirror_neurons.errors import ConfigError, GameError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.gymnasium_env import FrogAndToadEnv
from mirror_neurons.game.rules import Game


def stepped_without_reset_parallel():
    game.parallel_env().step({"frog": 0, "toad": 0})


def stepped_with_none_parallel():
    env = game.parallel_env()
    env.reset(seed=0)
    env.step(None)


@pytest.mark.parametrize(
    ("misuse", "error", "message"),
    [
        (lambda: FrogAndToadEnv().step(0), GameError, r"step\(\) before reset\(\); call reset\(\) first"),
        (stepped_without_reset_parallel, GameError, r"step\(\) before reset\(\); call reset\(\) first"),
        (stepped_with_none_parallel, GameError, r"step\(\) takes a dict of actions by agent"),
        (lambda: FrogAndToadEnv(max_turns="10"), ConfigError, "max_turns must be an integer, got '10'"),
        (lambda: GameConfig(veil="1"), ConfigError, "veil must be a number, got '1'"),
        (lambda: GameConfig(dependency=float("nan")), ConfigError, "dependency must be a number, got nan"),
        (lambda: FrogAndToadEnv().reset(seed=2**64), ConfigError, r"seed must be an integer in 0..2\*\*64-1"),
        (lambda: game.parallel_env().reset(seed=2**64), ConfigError, r"seed must be an integer in 0..2\*\*64-1"),
        (lambda: game.env().reset(seed=-1), ConfigError, r"seed must be an integer in 0..2\*\*64-1"),
        (lambda: GameBatch(GameConfig(), 2**64, 1), GameError, r"seed must be an integer in 0..2\*\*64-1"),
        (
            lambda: Game(GameConfig(), 2**64),
            GameError,
            r"seed must be in 0..2\*\*64-1 and game_id >= 0, got seed=18446744073709551616",
        ),
    ],
)
def test_misuse_names_the_fix(misuse, error, message):
    with pytest.raises(error, match=message):
        misuse()


def test_largest_seed_and_numpy_integers_are_accepted():
    GameBatch(GameConfig(max_turns=np.int64(4)), 2**64 - 1, 2)
    FrogAndToadEnv().reset(seed=2**64 - 1)
