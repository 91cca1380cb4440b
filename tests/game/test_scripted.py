"""Scripted policies: the labeling rule agrees with the data stage's labeler; helpers help when they should."""

import numpy as np
import pytest

from mirror_neurons.analysis.behaviour import rule_policy
from mirror_neurons.errors import ConfigError
from mirror_neurons.game.config import GameConfig
from mirror_neurons.game.constants import Action, Player, Symbol
from mirror_neurons.game.engine import GameBatch
from mirror_neurons.game.policies import random_actions
from mirror_neurons.game.scripted import SCRIPTED, carer, get_scripted, helper, rule, selfish


def test_rule_is_the_labelers_rule_on_frogs_turns():
    """Two implementations of SPEC section 4's rule (engine arrays vs the labeler on Frog's view) agree."""
    b = GameBatch(GameConfig(max_turns=300), 4, 64)
    compared = 0
    while not b.done[0]:
        if b.actor[0] == Player.FROG:
            np.testing.assert_array_equal(rule(b), rule_policy(b))
            compared += b.size
        b.step(random_actions(b))
    assert compared == 150 * 64


def _state(frog_pos=10, toad_pos=12, frog_energy=10, toad_energy=10, toad_rough=False):
    b = GameBatch(GameConfig(), 0, 1)
    ground = np.full(32, Symbol.SOLID)
    if toad_rough:
        ground[toad_pos] = Symbol.ROUGH
    b.ground = ground
    b.pos = [[frog_pos, toad_pos]]
    b.energy = [[frog_energy, toad_energy]]
    return b


def test_helpers_help_a_partner_in_distress_and_the_rule_does_not_at_mid_screen():
    b = _state(toad_rough=True)
    assert helper(b)[0] == carer(b)[0] == Action.HELP
    assert rule(b)[0] == selfish(b)[0] == Action.HOP


@pytest.mark.parametrize("toad_pos, toad_energy", [(27, 10), (12, 20)])
def test_helpers_do_not_help_when_help_cannot_work(toad_pos, toad_energy):
    """Help needs the partner at column < 27 (partner + 5 inside the world) and below full energy."""
    b = _state(toad_pos=toad_pos, toad_energy=toad_energy, toad_rough=True)
    assert helper(b)[0] != Action.HELP


def test_carer_helps_a_stuck_partner_and_everyone_jumps_at_energy_0():
    assert carer(_state(toad_energy=0))[0] == Action.HELP
    assert helper(_state(toad_energy=0))[0] == Action.HOP
    for name, policy in SCRIPTED.items():
        if name not in ("hop", "random"):
            assert policy(_state(frog_energy=0, toad_rough=True))[0] == Action.JUMP, name


def test_unknown_name():
    with pytest.raises(ConfigError, match="unknown scripted policy 'kind'"):
        get_scripted("kind")
