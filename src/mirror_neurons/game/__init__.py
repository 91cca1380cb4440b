"""The Frog and Toad game: rules, batched engine, standard adapters, rendering.

Importing this package registers the Gymnasium environment
``mirror_neurons/FrogAndToad-v0``.
"""

from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player, Scenario, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.rules import Game
from mirror_neurons.game.gymnasium_env import ENV_ID, FrogAndToadEnv
from mirror_neurons.game.gymnasium_env import register as _register_gymnasium


def env(**kwargs):
    """PettingZoo AEC environment, turn-based (``pettingzoo_env.FrogAndToadAEC`` documents it)."""
    from mirror_neurons.game.pettingzoo_env import env as make  # PettingZoo is imported on first use

    return make(**kwargs)


def parallel_env(**kwargs):
    """PettingZoo Parallel environment (``pettingzoo_env.FrogAndToadParallel`` documents it)."""
    from mirror_neurons.game.pettingzoo_env import parallel_env as make

    return make(**kwargs)


_register_gymnasium()

__all__ = [
    "ENV_ID",
    "Action",
    "FrogAndToadEnv",
    "Game",
    "GameBatch",
    "GameConfig",
    "Player",
    "Scenario",
    "Symbol",
    "env",
    "parallel_env",
]
