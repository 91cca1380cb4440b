"""Cross-decoding: a shared distress direction transfers between players; a private one does not."""

from __future__ import annotations

import numpy as np

from mirror_neurons.analysis.decoding import cross_decode, fit_logistic
from mirror_neurons.analysis.groups import Groups


def test_logistic_fit_is_at_the_optimum():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 3))
    y = (x @ np.array([1.0, -2.0, 0.0]) + rng.normal(size=500) > 0).astype(float)
    w = fit_logistic(x, y, l2=0.01)
    xb = np.hstack([x, np.ones((500, 1))])
    p = 1 / (1 + np.exp(-xb @ w))
    reg = np.r_[np.full(3, 0.01 * 500), 0.0]
    np.testing.assert_allclose(xb.T @ (p - y) + reg * w, 0.0, atol=1e-6)  # the gradient vanishes
    assert w[0] > 0 > w[1]


def layer(shared: bool, seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(4), n).astype(np.int8)
    a = rng.normal(size=(4 * n, 12))
    if shared:
        a[(label == 1) | (label == 2), 0] += 1.5  # one unit up for either player's distress
    else:
        a[label == 1, 0] += 1.5  # Frog's distress on unit 0 only
        a[label == 2, 1] += 1.5  # Toad's on unit 1 only
    return a, Groups(label, filtered=True)


def test_shared_direction_transfers():
    a, g = layer(shared=True)
    r = cross_decode(a, g, np.random.default_rng(0), n_permutations=19)
    assert r.within_frog > 0.8 and r.frog_to_toad > 0.8 and r.toad_to_frog > 0.8
    assert r.p_frog_to_toad == 0.05 and r.p_toad_to_frog == 0.05  # above all 19 permutations


def test_private_directions_do_not_transfer():
    a, g = layer(shared=False)
    r = cross_decode(a, g, np.random.default_rng(0), n_permutations=19)
    assert r.within_frog > 0.8 and r.within_toad > 0.8
    assert 0.4 < r.frog_to_toad < 0.62 and 0.4 < r.toad_to_frog < 0.62
