"""The Frog and Toad game: rules, batched engine, standard adapters, rendering.

Importing this package registers the Gymnasium environment
``mirror_neurons/FrogAndToad-v0``.
"""

from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player, Scenario, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.rules import Game

__all__ = ["Action", "Game", "GameBatch", "GameConfig", "Player", "Scenario", "Symbol"]
