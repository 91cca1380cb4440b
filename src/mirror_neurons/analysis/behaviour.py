"""Behaviour: the trained network plays Frog in the real game (Toad plays the published random policy).

For ``n_games`` seeded games of ``turns`` turns, Frog is driven by a policy and
Toad by ``game.policies.random_actions``. Reported per policy:

* ``score_per_turn``: Frog's score (hops) per Frog turn;
* ``team_score_per_turn``: both players' score per Frog turn;
* ``help_rate_toad_distress``: fraction of Frog turns with Toad in distress and
  Frog not in which Frog helps (the labeling rule helps here only at p >= 26);
* ``jump_rate_energy0``: fraction of Frog turns at energy 0 in which Frog jumps
  (the only sensible move; the labeling rule always jumps);
* the action distribution.

Policies: ``network_policy(model)``, ``rule_policy`` (SPEC section 4's labeling
rule, read off the engine's true state) and ``random_policy`` (the published
0.5/0.25/0.125/0.125). Games use the same seed and game indices for every
policy, so the comparison is paired.

Frog's view is encoded as the data stage prepares training states (SPEC
section 4): the state from Frog's point of view at the start of its turn (its
own symbol back to base 4 unless in distress), score, own-symbol and position
entries zeroed (index 96, 98, 99), the *true* energy, and the flies row replaced
by one of the six fixed training fly patterns (chosen per game and turn from
the game's own stream), since the network was never trained on real flies and
its labels never depend on them. NOTE: this is a minimal local encoding; it is
to be unified with the data stage's preparation functions once they exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mirror_neurons.analysis.activations import predict
from mirror_neurons.game import streams
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import (
    FLIES,
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
from mirror_neurons.game.streams import Slot
from mirror_neurons.train.model import MLP

FLY_PATTERNS = (
    (0, 1, 10, 15, 16, 21, 26),
    (0, 3, 5, 8, 13, 18, 19, 24, 28),
    (1, 3, 13, 19, 23, 27, 28, 31),
    (1, 4, 12, 19, 26),
    (1, 5, 12, 14, 18, 29),
    (1, 6, 12, 14, 17, 23, 24, 28),
)
"""SPEC section 4 step 5: the six fixed fly rows of prepared states."""

_PATTERN_ROWS = np.zeros((len(FLY_PATTERNS), WIDTH), dtype=np.int64)
for _i, _cols in enumerate(FLY_PATTERNS):
    _PATTERN_ROWS[_i, list(_cols)] = Symbol.FLY

Policy = Callable[[GameBatch], np.ndarray]


def frog_view(batch: GameBatch) -> np.ndarray:
    """Frog's state vector (B, 100) int64 prepared like a training input (see module docstring)."""
    x = batch.observe(Player.FROG)
    rows = np.arange(batch.size)
    col = PLAYERS.start + batch.pos[:, Player.FROG]
    shown = x[rows, col]
    toad_here = batch.pos[:, Player.TOAD] == batch.pos[:, Player.FROG]  # Toad is drawn on top
    reset = ~toad_here & np.isin(shown, (Symbol.JUMP, Symbol.LEAP, Symbol.HELP))
    x[rows[reset], col[reset]] = Symbol.FROG  # a symbol returns to base at the start of its own turn
    choice = np.minimum((streams.uniform(batch.keys, batch.turn, Slot.PREPARE, 2)[:, 1] * 6).astype(np.int64), 5)
    x[:, FLIES] = _PATTERN_ROWS[choice]
    x[:, [OWN_SYMBOL, OWN_SCORE, OWN_POSITION]] = 0
    return x


def network_policy(model: MLP) -> Policy:
    def act(batch: GameBatch) -> np.ndarray:
        return predict(model, torch.from_numpy(frog_view(batch).astype(np.float32))).astype(np.int64)

    return act


def rule_policy(batch: GameBatch) -> np.ndarray:
    """The labeling rule of SPEC section 4 applied to Frog's true state (B,) int64."""
    rows = np.arange(batch.size)
    p = batch.pos[:, Player.FROG]
    energy = batch.energy[:, Player.FROG]
    distress = batch.distress()
    nxt = np.minimum(p + 1, WIDTH - 1)
    solid_next = batch.ground[rows, nxt] == Symbol.SOLID
    return np.select(
        [
            energy <= 0,
            p == WIDTH - 1,
            (p >= 26) & ~distress[:, Player.FROG] & distress[:, Player.TOAD],
            solid_next,
            p + 1 + 4 < WIDTH - 1,
        ],
        [Action.JUMP, Action.HELP, Action.HELP, Action.HOP, Action.LEAP],
        Action.HOP,
    ).astype(np.int64)


def random_policy(batch: GameBatch) -> np.ndarray:
    return random_actions(batch)


@dataclass(frozen=True)
class Behaviour:
    frog_turns: int
    score_per_turn: float
    team_score_per_turn: float
    help_rate_toad_distress: float
    toad_distress_turns: int
    jump_rate_energy0: float
    energy0_turns: int
    action_rates: dict[str, float]


def play(policy: Policy, *, n_games: int = 256, turns: int = 400, seed: int = 0, config: GameConfig | None = None) -> Behaviour:
    """Play ``n_games`` games of ``turns`` turns with Frog driven by ``policy``."""
    config = GameConfig(max_turns=turns) if config is None else config
    batch = GameBatch(config, seed, n_games)
    score = np.zeros((n_games, 2), dtype=np.int64)
    actions, toad_help_case, energy0 = [], [], []
    while not batch.done.any():
        if batch.turn[0] % 2 == Player.FROG:
            distress = batch.distress()
            toad_help_case.append(distress[:, Player.TOAD] & ~distress[:, Player.FROG])
            energy0.append(batch.energy[:, Player.FROG] == 0)
            a = policy(batch)
            actions.append(a)
        else:
            a = random_actions(batch)
        score += batch.step(a)
    acts = np.stack(actions)  # (frog turns, games)
    help_case, zero = np.stack(toad_help_case), np.stack(energy0)
    frog_turns = acts.size
    rate = lambda mask, action: float((acts[mask] == action).mean()) if mask.any() else float("nan")  # noqa: E731
    return Behaviour(
        frog_turns=int(frog_turns),
        score_per_turn=float(score[:, Player.FROG].sum() / frog_turns),
        team_score_per_turn=float(score.sum() / frog_turns),
        help_rate_toad_distress=rate(help_case, Action.HELP),
        toad_distress_turns=int(help_case.sum()),
        jump_rate_energy0=rate(zero, Action.JUMP),
        energy0_turns=int(zero.sum()),
        action_rates={a.name.lower(): float((acts == a).mean()) for a in Action},
    )


def compare(model: MLP, *, n_games: int = 256, turns: int = 400, seed: int = 0, config: GameConfig | None = None) -> dict[str, Behaviour]:
    """The network, the labeling rule and the random policy on the same seeded games."""
    kw = dict(n_games=n_games, turns=turns, seed=seed, config=config)
    return {"network": play(network_policy(model), **kw), "rule": play(rule_policy, **kw), "random": play(random_policy, **kw)}
