"""Controls: label-permutation and random-init nulls, bootstrap interval, Monte Carlo p-values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis_synth import make_split
from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import compute_cmni
from mirror_neurons.analysis.controls import (
    bootstrap_cmni,
    monte_carlo_p,
    percentile_interval,
    permutation_null,
    random_init_null,
)
from mirror_neurons.analysis.groups import Groups, split_groups
from mirror_neurons.train.model import MLP, ModelConfig


def noise_and_mirror(seed=0, n=200):
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(4), n).astype(np.int8)
    a = rng.normal(size=(4 * n, 6)).astype(np.float32)
    mirror = a.copy()
    mirror[(label == 1) | (label == 2), :2] += 1.0
    return a, mirror, Groups(label, filtered=True)


def cmni_with_labels(a, labels) -> float:
    """CMNI from scratch: group means by boolean masks, MNS, mean over units."""
    mu = [a[labels == k].mean(0) for k in range(3)]
    df, dt = mu[1] - mu[0], mu[2] - mu[0]
    return float(np.where((df > 0) & (dt > 0), np.minimum(df, dt), 0).mean())


def test_monte_carlo_p_by_hand():
    assert monte_carlo_p(0.5, np.array([0.1, 0.6, 0.5])) == pytest.approx(3 / 4)
    assert monte_carlo_p(9.0, np.zeros(99)) == pytest.approx(1 / 100)


def test_permutation_null_equals_one_permutation_at_a_time():
    a, _, groups = noise_and_mirror()
    null = permutation_null(a, groups, 5, np.random.default_rng(7), chunk=2)
    sub = groups.label[groups.label < 3]  # none, frog, toad states, already in that order
    x = a[groups.label < 3]
    rng = np.random.default_rng(7)
    for i in range(5):
        assert null[i] == pytest.approx(cmni_with_labels(x, rng.permutation(sub)), rel=1e-5)


def test_permutation_p_separates_signal_from_noise():
    noise, mirror, groups = noise_and_mirror(seed=1)
    obs_mirror = compute_cmni({"d": mirror}, groups).cmni
    obs_noise = compute_cmni({"d": noise}, groups).cmni
    assert obs_noise > 0  # min(.,.) clipped at 0 is biased upwards on pure noise: why a null is needed
    p_mirror = monte_carlo_p(obs_mirror, permutation_null(mirror, groups, 99, np.random.default_rng(0)))
    p_noise = monte_carlo_p(obs_noise, permutation_null(noise, groups, 99, np.random.default_rng(0)))
    assert p_mirror == pytest.approx(0.01)
    assert p_noise > 0.05


def test_bootstrap_interval():
    _, mirror, groups = noise_and_mirror(seed=2)
    obs = compute_cmni({"d": mirror}, groups).cmni
    boot = bootstrap_cmni(mirror, groups, 200, np.random.default_rng(0))
    lo, hi = percentile_interval(boot, 0.95)
    assert lo < obs < hi
    # two planted units of +1 among six: the CMNI is near 2/6; the interval is tight around it
    assert 0.2 < lo and hi < 0.5
    const = np.repeat(np.array([[0.0], [1.0], [2.0], [3.0]]), 50, axis=0)  # constant within each group
    b = bootstrap_cmni(const, Groups(np.repeat(np.arange(4), 50).astype(np.int8), True), 20, np.random.default_rng(0))
    np.testing.assert_allclose(b, 1.0)  # min(1 - 0, 2 - 0) = 1 in every resample


def test_random_init_null_is_each_seed_s_cmni():
    split = make_split(600, seed=4)
    groups = split_groups(split)
    config = ModelConfig(hidden=(5, 4), dropout=0.0)
    null = random_init_null(config, split.x, groups, np.array([11, 12, 13]))
    for s, value in zip([11, 12, 13], null):
        model = MLP(config)
        model.reset_parameters(torch.Generator().manual_seed(s))
        assert value == pytest.approx(compute_cmni(capture(model, split.x), groups).cmni, rel=1e-5)
    assert len(set(np.round(null, 12))) == 3
    hidden = random_init_null(config, split.x, groups, np.array([11]), hidden_only=True)
    model = MLP(config)
    model.reset_parameters(torch.Generator().manual_seed(11))
    assert hidden[0] == pytest.approx(compute_cmni(capture(model, split.x), groups, hidden_only=True).cmni, rel=1e-5)
