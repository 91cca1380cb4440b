"""Ablation: zeroing units inside the forward pass changes exactly the predictions it should."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis_synth import make_split
from mirror_neurons.analysis.ablation import ablate_class, masks_for
from mirror_neurons.game.constants import Scenario
from mirror_neurons.train.model import MLP, ModelConfig


def gate_model() -> MLP:
    """h0 = relu(energy - 5), h1 = relu(ground[0]); o0 = h0, o1 = 0.5 (bias), o2 = o3 = -1 (bias).

    Hop (0) is predicted iff energy - 5 > 0.5, i.e. energy >= 6; zeroing h0 turns all of those into jump (1).
    h1 feeds nothing, so zeroing it changes nothing.
    """
    model = MLP(ModelConfig(hidden=(2,), dropout=0.0))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.zero_()
            layer.bias.zero_()
        model.layers[0].weight[0, 97] = 1.0
        model.layers[0].bias[0] = -5.0
        model.layers[0].weight[1, 0] = 1.0
        model.layers[1].weight[0, 0] = 1.0
        model.layers[1].bias.copy_(torch.tensor([0.0, 0.5, -1.0, -1.0]))
    return model


def test_masks_for_flat_indices():
    m = masks_for(MLP(ModelConfig(hidden=(3, 2))), np.array([1, 4]))
    np.testing.assert_array_equal(m["dense_0"], [1, 0, 1])
    np.testing.assert_array_equal(m["dense_1"], [1, 0])
    assert "dense_2" not in m


def test_ablating_the_gate_unit():
    split = make_split(2000, seed=6)
    model = gate_model()
    rng = np.random.default_rng(0)
    res = ablate_class(
        model, split.x, split.scenario, np.array([True, False, False, False, False, False]), rng, n_draws=40
    )
    high = split.x[:, 97] >= 6
    assert res.n_units == 1
    assert res.changed == pytest.approx(high.mean())
    for s in Scenario:
        assert res.changed_by_scenario[s.name.lower()] == pytest.approx(high[split.scenario == s].mean())
    # a random single unit of the 2-unit layer is h0 (same effect) or h1 (no effect)
    assert set(np.round(res.random_changed, 12)) <= {0.0, round(float(high.mean()), 12)}
    assert res.p_value == pytest.approx((1 + np.sum(res.random_changed >= res.changed)) / 41)
    idle = ablate_class(
        model, split.x, split.scenario, np.array([False, True, False, False, False, False]), rng, n_draws=5
    )
    assert idle.changed == 0.0
    # output units are never ablated
    out_only = ablate_class(
        model, split.x, split.scenario, np.array([False, False, True, True, True, True]), rng, n_draws=5
    )
    assert out_only.n_units == 0 and out_only.changed == 0.0 and np.isnan(out_only.p_value)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_ablation_from_recorded_activations_equals_the_hooked_pass(activation):
    from mirror_neurons.analysis.ablation import predict_from
    from mirror_neurons.analysis.activations import capture, predict

    split = make_split(500, seed=9)
    model = MLP(ModelConfig(hidden=(7, 6, 5), dropout=0.3, activation=activation))
    model.reset_parameters(torch.Generator().manual_seed(3))
    acts = capture(model, split.x)
    rng = np.random.default_rng(0)
    for _ in range(10):
        units = rng.choice(18, size=rng.integers(1, 6), replace=False)  # any hidden units, any layers
        masks = masks_for(model, units)
        np.testing.assert_array_equal(predict_from(model, acts, masks), predict(model, split.x, masks))
    r1 = ablate_class(
        model, split.x, split.scenario, np.isin(np.arange(22), [0, 8]), np.random.default_rng(1), n_draws=20
    )
    r2 = ablate_class(
        model, split.x, split.scenario, np.isin(np.arange(22), [0, 8]), np.random.default_rng(1), n_draws=20, acts=acts
    )
    assert r1.changed == r2.changed
    np.testing.assert_array_equal(r1.random_changed, r2.random_changed)


def test_ablation_subsample_is_fixed_by_the_seed_and_shared_by_checkpoints():
    """The ablation states depend on (n, seed) only: the class and its random sets, and every checkpoint of a run,
    are measured on the same states; a test set no larger than the cap is used whole."""
    from mirror_neurons.analysis.pipeline import AnalysisConfig, ablation_rows

    cfg = AnalysisConfig(ablation_states=1000)
    rows = ablation_rows(5000, cfg)
    assert len(rows) == 1000 and len(np.unique(rows)) == 1000 and np.all(np.diff(rows) > 0) and rows[-1] < 5000
    np.testing.assert_array_equal(rows, ablation_rows(5000, AnalysisConfig(ablation_states=1000)))
    assert not np.array_equal(rows, ablation_rows(5000, AnalysisConfig(ablation_states=1000, seed=1)))
    np.testing.assert_array_equal(ablation_rows(800, cfg), np.arange(800))
    np.testing.assert_array_equal(ablation_rows(5000, AnalysisConfig(ablation_states=0)), np.arange(5000))
    # a uniform draw: each scenario-sized block of the states is hit about in proportion
    counts = np.bincount(rows // 1250, minlength=4)
    assert np.all(np.abs(counts - 250) < 60), counts
