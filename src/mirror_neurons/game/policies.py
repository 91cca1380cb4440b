"""Policies that drive players without a network: the published random policy.

``random_actions`` draws from the game's own counter-based stream (slot
``POLICY``), so a policy-driven game is as reproducible as the engine: the
same (seed, game index, turn) gives the same action in any batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from mirror_neurons.errors import ConfigError
from mirror_neurons.game import streams
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.rules import Game
from mirror_neurons.game.streams import Slot

PUBLISHED_PROBS = (0.5, 0.25, 0.125, 0.125)
"""The published generator's policy: hop 50 %, jump 25 %, leap 12.5 %, help 12.5 %."""


def check_probs(probs: Sequence[float]) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    if p.shape != (4,) or (p < 0).any() or not np.isclose(p.sum(), 1.0):
        raise ConfigError(f"policy probabilities must be 4 non-negative numbers summing to 1, got {list(probs)}")
    return p


@lru_cache(maxsize=64)
def _cdf(probs: tuple[float, ...]) -> np.ndarray:
    return np.cumsum(check_probs(probs))


def random_actions(batch: GameBatch, probs: Sequence[float] = PUBLISHED_PROBS) -> np.ndarray:
    """One action per game (B,) int64 for the current actor, drawn with ``probs``.

    The action is the first ``a`` with ``u < probs[0] + ... + probs[a]``, ``u`` the game's
    ``Slot.POLICY`` uniform for this turn (all games of a batch share the turn).
    """
    cdf = _cdf(tuple(float(p) for p in probs))
    bits = streams.draw_at(batch.keys, int(batch.turn[0]), Slot.POLICY, 0)
    u = (bits >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return np.minimum(np.searchsorted(cdf, u, side="right"), 3).astype(np.int64)


def random_action(game: Game, probs: Sequence[float] = PUBLISHED_PROBS) -> int:
    """The same draw as ``random_actions`` for one scalar ``rules.Game`` (its actor, this turn)."""
    cdf = _cdf(tuple(float(p) for p in probs))
    u = streams.uniform_int(streams.draw_int(game.key, game.turn, Slot.POLICY, 0))
    return min(int(np.searchsorted(cdf, u, side="right")), 3)
