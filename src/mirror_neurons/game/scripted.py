"""Scripted policies on the batched engine: the yardsticks of the RL experiment (issue 17).

Each policy maps a ``GameBatch`` to one action per game (B,) int64 for the
current actor (Frog on even turns, Toad on odd ones) and reads the engine's
true state, so every policy plays either role. They exist to answer one
question before any agent learns: *does helping pay in this game and under
this reward?* (docs/rl.md, "Where cooperation pays").

- ``hop``: always hop.
- ``random``: the published random policy (``policies.random_actions``).
- ``rule``: SPEC section 4's labeling rule, from the actor's side: energy 0
  -> jump; at column 31 -> help; at column >= 26, not in distress and the
  partner in distress -> help; solid ground ahead -> hop; room to leap -> leap;
  otherwise hop.
- ``selfish``: the rule without its two help rules (never helps).
- ``forager``: ``selfish`` that also jumps for a fly over its own column while
  its energy is <= 16 (the best never-helping rule we found; docs/rl.md).
- ``helper``: helps whenever the partner is in distress and help can work
  (own energy > 0, the partner below full energy and at column < 27, where a
  help lands); otherwise the rule.
- ``carer``: ``helper`` that also helps a partner stuck at energy 0, and
  forages like ``forager`` otherwise (the best helping rule we found).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.constants import MAX_ENERGY, WIDTH, Action
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions

BatchPolicy = Callable[[GameBatch], np.ndarray]
"""A policy for the current actor of every game: ``GameBatch`` -> (B,) int64 action codes."""

_HOP, _JUMP, _LEAP, _HELP = (int(a) for a in Action)
_LEAP_LEN = 5
_FORAGE_BELOW = 16
"""``forager`` and ``carer`` jump for a fly only at energy <= this (a fly gives 4, capped at 20)."""


def _view(batch: GameBatch) -> dict[str, np.ndarray]:
    """The actor's and partner's (B,) arrays: position, energy, distress; ground ahead and a fly overhead."""
    a = int(batch.turn[0]) & 1
    pos, energy, distress = batch.pos, batch.energy, batch.distress()
    p = pos[:, a]
    return {
        "p": p, "e": energy[:, a], "own_distress": distress[:, a],
        "partner_p": pos[:, 1 - a], "partner_e": energy[:, 1 - a], "partner_distress": distress[:, 1 - a],
        "rough_ahead": ((batch.rough_mask >> np.minimum(p + 1, WIDTH - 1)) & 1).astype(bool),
        "fly_here": ((batch.fly_mask >> p) & 1).astype(bool),
    }  # fmt: skip


def _move(v: dict[str, np.ndarray]) -> np.ndarray:
    """Rules 4-6 of the labeling rule: hop onto solid ground, leap over rough ground if there is room, else hop."""
    return np.where(~v["rough_ahead"], _HOP, np.where(v["p"] + 1 + 4 < WIDTH - 1, _LEAP, _HOP)).astype(np.int64)


def hop(batch: GameBatch) -> np.ndarray:
    return np.zeros(batch.size, dtype=np.int64)


def selfish(batch: GameBatch) -> np.ndarray:
    v = _view(batch)
    return np.where(v["e"] <= 0, _JUMP, _move(v))


def forager(batch: GameBatch) -> np.ndarray:
    v = _view(batch)
    act = np.where(v["fly_here"] & (v["e"] <= _FORAGE_BELOW), _JUMP, _move(v))
    return np.where(v["e"] <= 0, _JUMP, act)


def rule(batch: GameBatch) -> np.ndarray:
    v = _view(batch)
    helps = (v["p"] == WIDTH - 1) | ((v["p"] >= 26) & ~v["own_distress"] & v["partner_distress"])
    return np.where(v["e"] <= 0, _JUMP, np.where(helps, _HELP, _move(v)))


def _help_works(v: dict[str, np.ndarray]) -> np.ndarray:
    return (v["e"] > 0) & (v["partner_e"] < MAX_ENERGY) & (v["partner_p"] < WIDTH - _LEAP_LEN)


def helper(batch: GameBatch) -> np.ndarray:
    v = _view(batch)
    return np.where(_help_works(v) & v["partner_distress"], _HELP, rule(batch))


def carer(batch: GameBatch) -> np.ndarray:
    v = _view(batch)
    need = _help_works(v) & (v["partner_distress"] | (v["partner_e"] == 0))
    return np.where(need, _HELP, forager(batch))


SCRIPTED: dict[str, BatchPolicy] = {
    "hop": hop, "random": random_actions, "rule": rule, "selfish": selfish, "forager": forager,
    "helper": helper, "carer": carer,
}  # fmt: skip
"""Every scripted policy by name, in the order of the tables."""
HELPING = ("rule", "helper", "carer")
"""The scripted policies that ever help (``rule`` only at the right edge)."""


def get_scripted(name: str) -> BatchPolicy:
    try:
        return SCRIPTED[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown scripted policy {name!r}; choose one of {', '.join(SCRIPTED)}") from None
