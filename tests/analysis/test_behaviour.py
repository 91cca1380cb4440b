"""Behaviour in the real game: the encoding of Frog's view and the three policies."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neurons.analysis.behaviour import frog_view, network_policy, play, random_policy, rule_policy
from mirror_neurons.data.prepare import FLY_PATTERNS
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import FLIES, PLAYERS, Action, Player, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.train.model import MLP, ModelConfig


def constant_model(action: Action) -> MLP:
    model = MLP(ModelConfig(hidden=(3,), dropout=0.0))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.zero_()
            layer.bias.zero_()
        model.layers[-1].bias[action] = 1.0
    return model


def test_frog_view_is_a_prepared_state():
    batch = GameBatch(GameConfig(max_turns=200), 3, 16)
    for _ in range(40):  # play on a little, Toad and Frog random
        batch.step(random_actions(batch))
    if batch.turn[0] % 2 != Player.FROG:
        batch.step(random_actions(batch))
    x, frog_pos = frog_view(batch)
    np.testing.assert_array_equal(frog_pos, batch.pos[:, Player.FROG])
    np.testing.assert_array_equal(x[:, 0:32], batch.ground)
    assert (x[:, [96, 98, 99]] == 0).all()
    np.testing.assert_array_equal(x[:, 97], batch.energy[:, Player.FROG])
    patterns = {tuple(np.flatnonzero(r == Symbol.FLY)) for r in x[:, FLIES]}
    assert patterns <= set(FLY_PATTERNS)
    frog_cell = x[np.arange(16), PLAYERS.start + batch.pos[:, Player.FROG]]
    alone = batch.pos[:, 0] != batch.pos[:, 1]
    expected = np.where(batch.distress()[:, Player.FROG], Symbol.DISTRESS, Symbol.FROG)
    np.testing.assert_array_equal(frog_cell[alone], expected[alone])


def test_rule_and_random_policies():
    rule = play(rule_policy, n_games=32, turns=300, seed=1)
    rand = play(random_policy, n_games=32, turns=300, seed=1)
    assert rule.frog_turns == rand.frog_turns == 32 * 150
    assert rule.energy0_turns > 0 and rule.jump_rate_energy0 == 1.0  # the rule's first line
    assert rand.energy0_turns > 0 and 0.1 < rand.jump_rate_energy0 < 0.4  # the random policy jumps 25 %
    assert 0.4 < rand.action_rates["hop"] < 0.6
    assert sum(rand.action_rates.values()) == pytest.approx(1.0)
    assert play(random_policy, n_games=32, turns=300, seed=1) == rand  # seeded: identical


def test_network_policy_plays_its_argmax():
    always_jump = play(network_policy(constant_model(Action.JUMP)), n_games=8, turns=100, seed=0)
    assert always_jump.action_rates["jump"] == 1.0
    assert always_jump.score_per_turn == 0.0  # jumping never scores
    always_hop = play(network_policy(constant_model(Action.HOP)), n_games=8, turns=100, seed=0)
    assert always_hop.score_per_turn > 0.5
    assert np.isnan(always_hop.help_rate_toad_distress) or always_hop.help_rate_toad_distress == 0.0
