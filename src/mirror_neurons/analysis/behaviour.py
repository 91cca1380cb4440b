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
rule on Frog's prepared view) and ``random_policy`` (the published
0.5/0.25/0.125/0.125). Games use the same seed and game indices for every
policy, so the comparison is paired.

Frog's view is encoded by the data stage's own preparation (``data.prepare``):
the board from Frog's point of view at the start of its turn
(``frog_view_boards``: Frog shows 4 unless in distress, Toad drawn on top when
they share a column), ``prepare`` for the rows (flies replaced by one of the six
training fly patterns, drawn from the game's stream; indices 96, 98, 99 zero),
then the *true* energy in place of the resampled one: the network acts on the
game as it is. The labeling rule's policy is ``data.prepare.label_states`` on
that same encoding, so it is exactly the rule that labeled the training data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from mirror_neurons.analysis.activations import predict
from mirror_neurons.data.prepare import frog_view_boards, label_states, prepare
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import OWN_ENERGY, Action, Player
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.render import render
from mirror_neurons.train.model import MLP

Policy = Callable[[GameBatch], np.ndarray]


def frog_view(batch: GameBatch) -> tuple[np.ndarray, np.ndarray]:
    """Frog's prepared state (B, 100) uint8 and Frog's position (B,), as the data stage encodes it."""
    keys = frog_view_boards(batch.ground, batch.pos, batch.displayed_symbols())
    x, frog_pos = prepare(keys, batch.game_ids, batch.turn, batch.seed)
    x = np.ascontiguousarray(x)
    x[:, OWN_ENERGY] = batch.energy[:, Player.FROG]
    return x, frog_pos


def network_policy(model: MLP) -> Policy:
    def act(batch: GameBatch) -> np.ndarray:
        return predict(model, torch.from_numpy(frog_view(batch)[0].astype(np.float32))).astype(np.int64)

    return act


def rule_policy(batch: GameBatch) -> np.ndarray:
    """SPEC section 4's labeling rule (``data.prepare.label_states``) on Frog's view (B,) int64."""
    x, frog_pos = frog_view(batch)
    return label_states(x, frog_pos)[0].astype(np.int64)


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


def play(
    policy: Policy, *, n_games: int = 256, turns: int = 400, seed: int = 0, config: GameConfig | None = None
) -> Behaviour:
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


def compare(
    model: MLP, *, n_games: int = 256, turns: int = 400, seed: int = 0, config: GameConfig | None = None
) -> dict[str, Behaviour]:
    """The network, the labeling rule and the random policy on the same seeded games."""
    kw = dict(n_games=n_games, turns=turns, seed=seed, config=config)
    return {
        "network": play(network_policy(model), **kw),
        "rule": play(rule_policy, **kw),
        "random": play(random_policy, **kw),
    }


def model_policy(model):
    """The network plays Frog (``network_policy``), Toad plays randomly; records Frog's actions in ``policy.chosen``."""
    frog = network_policy(model)
    chosen: list[int] = []

    def policy(batch):
        if int(batch.actor[0]) != Player.FROG:
            return random_actions(batch)
        action = frog(batch)
        chosen.append(int(action[0]))
        return action

    policy.chosen = chosen
    return policy


def play_episode(model, seed: int, frames: int = 10, warmup_max: int = 400) -> tuple[list[str], dict[str, int]]:
    """ASCII frames of the network playing Frog, starting at the first Frog turn with someone in distress.

    The game is played from its start (the obstacle rate grows from 0, so the
    first turns are plain ground); frames begin at the first Frog turn, within
    ``warmup_max`` turns, where a player stands on rough ground. Returns the
    frames and the counts of Frog's actions in them.
    """
    policy = model_policy(model)
    batch = GameBatch(GameConfig(), seed, [0])
    last: list[int | None] = [None, None]
    for _ in range(warmup_max):
        if int(batch.actor[0]) == Player.FROG and batch.distress()[0].any():
            break
        actor = int(batch.actor[0])
        action = int(policy(batch)[0])
        batch.step([action])
        last[actor] = action
    start = len(policy.chosen)
    shots = [render(batch, last_actions=last)]
    for _ in range(frames - 1):
        actor = int(batch.actor[0])
        action = int(policy(batch)[0])
        batch.step([action])
        last[actor] = action
        shots.append(render(batch, last_actions=last))
    chosen = policy.chosen[start:]
    counts = {a.name.lower(): chosen.count(int(a)) for a in Action if chosen.count(int(a))}
    return shots, counts


def behaviour_table(model: MLP, seed: int, *, n_games: int = 256, turns: int = 200) -> dict:
    """The report's behaviour rates: the network, the labeling rule and random play on the same seeded games
    (``compare``), as plain lists for ``case.json``.

    Survival is the share of Frog's turns not stranded at energy 0. Error bars
    are binomial standard errors over Frog turns, which treats turns as
    independent (they are not, within a game), so they understate the spread.
    """
    results = compare(model, n_games=n_games, turns=turns, seed=seed)
    metrics = ["help when only Toad is in distress", "jump at energy 0", "survival (energy > 0)", "score per turn"]
    values, errors = {}, {}
    for name, b in results.items():
        survival = 1.0 - b.energy0_turns / b.frog_turns if b.frog_turns else float("nan")
        v = [b.help_rate_toad_distress, b.jump_rate_energy0, survival, b.score_per_turn]
        n = [b.toad_distress_turns, b.energy0_turns, b.frog_turns, b.frog_turns]
        values[name] = v
        errors[name] = [
            float(np.sqrt(max(x * (1 - x), 0) / k)) if k and np.isfinite(x) and 0 <= x <= 1 else 0.0
            for x, k in zip(v, n)
        ]
    return {
        "metrics": metrics,
        "values": values,
        "errors": errors,
        "games": n_games,
        "turns": turns,
        "counts": {
            name: {
                "Frog turns": b.frog_turns,
                "Toad-only distress turns": b.toad_distress_turns,
                "energy-0 turns": b.energy0_turns,
            }
            for name, b in results.items()
        },
    }
