"""Unit classes follow the stated rules: a rule table, planted activations, and mixed wiring."""

from __future__ import annotations

import numpy as np
import torch

from mirror_neurons.analysis.groups import Groups
from mirror_neurons.analysis.units import UnitTests, class_counts, classify, response_classes, unit_tests
from mirror_neurons.train.model import MLP, ModelConfig

S, NS = 1e-6, 0.5  # a significant and a non-significant q-value

# (q_mirror, q_anti, q_frog, q_toad, q_frog_vs_toad, d_frog, d_toad, d_frog_vs_toad) -> class
RULES = [
    ((S, 1, S, S, NS, 0.8, 0.6, 0.1), "mirror"),
    ((S, 1, S, S, S, 0.8, 0.1, 0.6), "differentiating"),  # IUT passes, but the toad effect is below the floor
    ((S, 1, S, S, NS, 0.19, 0.8, -0.5), "other"),  # frog effect below the floor, frog-vs-toad not significant
    ((1, S, S, S, NS, -0.5, -0.9, 0.3), "anti-mirror"),
    ((1, 1, S, NS, S, 0.7, 0.0, 0.7), "differentiating"),
    ((1, 1, NS, S, S, 0.0, -0.7, 0.7), "differentiating"),  # down with Toad's distress only
    ((1, 1, S, NS, NS, 0.25, 0.15, 0.1), "other"),  # one side just over the floor, but it cannot tell them apart
    ((1, 1, S, S, S, 0.7, -0.7, 1.4), "other"),  # opposite directions
    ((NS, NS, NS, NS, NS, 0.0, 0.0, 0.0), "other"),
]


def rule_inputs(rows) -> UnitTests:
    cols = np.array([r for r, _ in rows], dtype=np.float64).T
    qm, qa, qf, qt, qft, df, dt, dft = cols
    one = np.ones_like(qm)
    return UnitTests(
        p_up_frog=one, p_down_frog=one, p_up_toad=one, p_down_toad=one, d_frog=df, d_toad=dt,
        auroc_frog=one / 2, auroc_toad=one / 2, p_mirror=qm, p_anti=qa, q_mirror=qm, q_anti=qa,
        p_frog=qf, p_toad=qt, q_frog=qf, q_toad=qt, p_frog_vs_toad=qft, q_frog_vs_toad=qft,
        d_frog_vs_toad=dft, auroc_frog_vs_toad=one / 2,
    )  # fmt: skip


def test_rule_table():
    got = response_classes(rule_inputs(RULES), alpha=0.05, min_effect=0.2)
    assert list(got) == [c for _, c in RULES]


def planted(n_per_group: int = 300, seed: int = 0):
    """Activations (4 groups x n, 15 units) with known responses; group order none, frog, toad, both."""
    rng = np.random.default_rng(seed)
    label = np.repeat(np.arange(4), n_per_group).astype(np.int8)
    frog = (label == 1) | (label == 3)
    toad = (label == 2) | (label == 3)
    a = rng.normal(size=(len(label), 15))
    a[:, 0] += 1.0 * (frog | toad)  # mirror
    a[:, 1] -= 1.0 * (frog | toad)  # anti-mirror
    a[:, 2] += 1.0 * frog  # differentiating (Frog)
    a[:, 3] -= 1.0 * toad  # differentiating (Toad, down)
    a[:, 5] = 0.0  # dead
    a[:, 6] += 1.0 * frog - 1.0 * toad  # opposite directions
    return a, Groups(label, filtered=True)


def mixing_model() -> MLP:
    """hidden (8, 3): layer-1 unit 0 gets mirror unit 0 + differentiating unit 2; unit 1 gets mirror + anti; unit 2 two differentiating."""
    model = MLP(ModelConfig(hidden=(8, 3), dropout=0.0))
    with torch.no_grad():
        w = torch.zeros(3, 8)
        w[0, 0] = w[0, 2] = 1.0
        w[1, 0] = w[1, 1] = 1.0
        w[2, 2] = w[2, 3] = 1.0
        model.layers[1].weight.copy_(w)
    return model


def test_planted_units_are_classified():
    a, groups = planted()
    t = unit_tests(a, groups)
    classes, flags = classify(mixing_model(), t)
    expected = ["mirror", "anti-mirror", "differentiating", "differentiating", "other", "other", "other", "other"]
    assert list(classes[:8]) == expected
    assert list(classes[8:11]) == ["mixed", "other", "other"]
    assert list(flags[8:11]) == [True, False, False]
    assert not flags[11:].any()  # output units are never mixed
    assert t.p_mirror[5] == 1.0 and t.p_anti[5] == 1.0 and t.d_frog[5] == 0.0  # dead unit: no evidence, no error
    assert class_counts(classes) == {"mirror": 1, "anti-mirror": 1, "differentiating": 2, "mixed": 1, "other": 10}
    # effect sizes sit beside the p-values: the planted shift of 1 sd gives d near 1 and AUROC near 0.76
    assert 0.8 < t.d_frog[0] < 1.2 and 0.7 < t.auroc_frog[0] < 0.82
    assert t.d_frog[1] < -0.8 and t.auroc_toad[1] < 0.3


def test_no_signal_no_classes():
    rng = np.random.default_rng(5)
    label = np.repeat(np.arange(4), 300).astype(np.int8)
    t = unit_tests(rng.normal(size=(1200, 15)), Groups(label, filtered=True))
    classes, _ = classify(mixing_model(), t)
    assert (t.q_mirror > 0.05).all() and (t.q_anti > 0.05).all()
    assert set(classes) == {"other"}
