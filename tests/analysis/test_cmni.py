"""CMNI, MNE and MNS computed by hand on a network with known weights (SPEC section 6).

The network: input 100 -> Dense(2) + ReLU -> Dense(4), linear.
    h0 = relu(x[97] - 1)          (energy minus one)
    h1 = relu(x[0])               (the first ground cell: 1 solid, 2 rough)
    o0 = h0 + h1,  o1 = 2 h0 - h1,  o2 = 0,  o3 = 2 h1
Test states (players row: Frog at column 0, Toad at column 1):
    none: energy 1 and 3, ground 1        -> h0 = 0, 2 (mean 1),  h1 = 1
    frog: energy 5, ground 2 (Toad 't')   -> h0 = 4,              h1 = 2
    toad: energy 2 and 4, ground 1        -> h0 = 1, 3 (mean 2),  h1 = 1
    both: energy 9, ground 2
Group means (h0, h1, o0, o1, o2, o3):
    none (1, 1, 2, 1, 0, 2); frog (4, 2, 6, 6, 0, 4); toad (2, 1, 3, 3, 0, 2)
    dfrog = (3, 1, 4, 5, 0, 2); dtoad = (1, 0, 1, 2, 0, 0)
    MNS   = (1, 0, 1, 2, 0, 0)  -> MNE = 4, CMNI = 4 / 6
    hidden only: MNE = 1, CMNI = 1 / 2; per layer: dense_0 1/2, dense_1 3/4.
One more scenario-1 state with Toad showing leap (7) and energy 13 (h0 = 12) is
dropped by the published filter; without the filter the frog mean of h0 becomes
(4 + 12) / 2 = 8, so dfrog(h0) = 7.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import compute_cmni, effect_size_cmni, mirror_scores
from mirror_neurons.analysis.groups import scenario_groups
from mirror_neurons.analysis.stats import group_moments
from mirror_neurons.game.constants import Scenario, Symbol
from mirror_neurons.train.model import MLP, ModelConfig


def hand_model() -> MLP:
    model = MLP(ModelConfig(hidden=(2,), dropout=0.5))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.zero_()
            layer.bias.zero_()
        model.layers[0].weight[0, 97] = 1.0
        model.layers[0].bias[0] = -1.0
        model.layers[0].weight[1, 0] = 1.0
        model.layers[1].weight[:] = torch.tensor([[1.0, 1.0], [2.0, -1.0], [0.0, 0.0], [0.0, 2.0]])
    return model


def state(scenario: Scenario, energy: int, ground0: int, toad_symbol: int | None = None) -> np.ndarray:
    x = np.zeros(100, dtype=np.uint8)
    x[0:32] = Symbol.SOLID
    x[0] = ground0
    frog_d = scenario in (Scenario.FROG, Scenario.BOTH)
    toad_d = scenario in (Scenario.TOAD, Scenario.BOTH)
    x[32] = Symbol.DISTRESS if frog_d else Symbol.FROG
    x[33] = Symbol.DISTRESS if toad_d else (toad_symbol or Symbol.TOAD)
    x[97] = energy
    return x


STATES = [
    (Scenario.NONE, 1, 1),
    (Scenario.NONE, 3, 1),
    (Scenario.FROG, 5, 2),
    (Scenario.TOAD, 2, 1),
    (Scenario.TOAD, 4, 1),
    (Scenario.BOTH, 9, 2),
]


def hand_data(extra_unfiltered: bool = False):
    rows = [state(*s) for s in STATES]
    scen = [s[0] for s in STATES]
    if extra_unfiltered:
        rows.append(state(Scenario.FROG, 13, 2, toad_symbol=Symbol.LEAP))
        scen.append(Scenario.FROG)
    return np.stack(rows), np.array(scen, dtype=np.uint8)


def test_cmni_by_hand():
    x, scen = hand_data(extra_unfiltered=True)
    acts = capture(hand_model(), x)
    res = compute_cmni(acts, scenario_groups(x, scen))
    np.testing.assert_allclose(res.dfrog, [3, 1, 4, 5, 0, 2])
    np.testing.assert_allclose(res.dtoad, [1, 0, 1, 2, 0, 0])
    np.testing.assert_allclose(res.mns, [1, 0, 1, 2, 0, 0])
    assert res.mne == pytest.approx(4.0)
    assert res.n_units == 6
    assert res.cmni == pytest.approx(4 / 6)
    per = res.per_layer()
    assert per["dense_0"]["cmni"] == pytest.approx(0.5)
    assert per["dense_1"]["cmni"] == pytest.approx(0.75)
    hidden = compute_cmni(acts, scenario_groups(x, scen), hidden_only=True)
    assert (hidden.mne, hidden.n_units, hidden.cmni) == pytest.approx((1.0, 2, 0.5))


def test_unfiltered_groups_include_the_action_symbol_state():
    x, scen = hand_data(extra_unfiltered=True)
    acts = capture(hand_model(), x)
    res = compute_cmni(acts, scenario_groups(x, scen, filtered=False))
    assert res.dfrog[0] == pytest.approx(7.0)


def test_mns_clamps_unless_both_positive():
    np.testing.assert_allclose(
        mirror_scores(np.array([1.0, -1.0, 2.0, 0.0]), np.array([0.5, 3.0, -0.1, 1.0])), [0.5, 0, 0, 0]
    )


def test_effect_size_cmni_is_scale_free():
    """Multiplying every activation by 10 multiplies CMNI by 10 but leaves the effect-size CMNI unchanged."""
    rng = np.random.default_rng(0)
    scen = np.repeat(np.arange(4, dtype=np.uint8), 50)
    x = np.zeros((200, 100), dtype=np.uint8)
    x[:, 32], x[:, 33] = Symbol.FROG, Symbol.TOAD
    groups = scenario_groups(x, scen)
    a = rng.normal(size=(200, 5)) + (scen > 0)[:, None] * np.array([0.5, 1.0, 0.0, -0.5, 0.2])
    m1, m10 = group_moments(a, groups), group_moments(10 * a, groups)
    e1 = effect_size_cmni(m1, ("dense_0",), (5,))
    e10 = effect_size_cmni(m10, ("dense_0",), (5,))
    assert e1.cmni == pytest.approx(e10.cmni)
    assert e1.cmni > 0
    raw1 = compute_cmni({"dense_0": a}, groups).cmni
    assert compute_cmni({"dense_0": 10 * a}, groups).cmni == pytest.approx(10 * raw1)
