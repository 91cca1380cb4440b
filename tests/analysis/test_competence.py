"""Baselines, confusion matrices and the competence rule, on hand-made states whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.analysis import competence as cp
from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import OWN_ENERGY, Action

HOP, JUMP, LEAP, HELP = (int(a) for a in Action)


def balanced_states(n_per=(40, 40, 10, 10)) -> tuple[np.ndarray, np.ndarray]:
    """States labeled as the labeling rule would in energy: jump exactly at energy 0, the rest at energy 5.

    Each row differs from every other (a counter in the ground row), so the ceiling of these alone is 1.
    """
    label = np.repeat([HOP, JUMP, LEAP, HELP], n_per)
    x = np.ones((len(label), 100), dtype=np.uint8)
    x[:, 0] = np.arange(len(label)) % 200
    x[:, 1] = np.arange(len(label)) // 200
    x[:, OWN_ENERGY] = np.where(label == JUMP, 0, 5)
    x[:, 98] = 0
    return x, label


def test_confusion_of_a_known_prediction():
    label = np.array([HOP, HOP, JUMP, LEAP, LEAP, HELP])
    pred = np.array([HOP, JUMP, JUMP, HOP, LEAP, LEAP])
    expected = np.zeros((4, 4), dtype=int)
    for t, p in zip(label, pred):
        expected[t, p] += 1
    cm = cp.confusion(pred, label)
    np.testing.assert_array_equal(cm, expected)
    assert cm[HOP, JUMP] == 1 and cm[LEAP, HOP] == 1 and cm[HELP, LEAP] == 1
    s = cp.score(pred, label)
    np.testing.assert_allclose(s.recall, [1 / 2, 1, 1 / 2, 0])
    assert s.macro_recall == pytest.approx((0.5 + 1 + 0.5 + 0) / 4)
    assert s.accuracy == pytest.approx(3 / 6)


def test_macro_recall_skips_absent_classes():
    s = cp.score(np.array([HOP, HOP, JUMP]), np.array([HOP, JUMP, JUMP]))
    assert np.isnan(s.recall[LEAP]) and np.isnan(s.recall[HELP])
    assert s.macro_recall == pytest.approx((1 + 0.5) / 2)
    assert s.as_dict()["recall"]["leap"] is None and s.columns()["recall_help"] is None


def test_energy_rule_on_a_balanced_test_set():
    x, label = balanced_states()
    s = cp.score(cp.energy_rule(x), label)
    np.testing.assert_allclose(s.recall, [1, 1, 0, 0])
    assert s.macro_recall == pytest.approx(0.5) and s.accuracy == pytest.approx(0.8)
    np.testing.assert_array_equal(s.confusion[:, HOP], [40, 0, 10, 10])


def test_label_prior_is_the_most_frequent_training_label():
    x, label = balanced_states()
    train = np.array([LEAP, LEAP, HOP, HELP, LEAP])
    pred = cp.label_prior(train, len(x))
    assert set(pred.tolist()) == {LEAP}
    s = cp.score(pred, label)
    np.testing.assert_allclose(s.recall, [0, 0, 1, 0])
    assert s.accuracy == pytest.approx(0.1)


def test_ceiling_of_a_duplicated_input_with_two_labels():
    x, label = balanced_states((3, 1, 0, 0))  # rows 0,1,2 hop; row 3 jump
    all_x = np.concatenate([x, x[:1], x[:1], x[1:2]])  # row 0 appears three times, row 1 twice
    all_label = np.concatenate([label, [LEAP, LEAP], [HELP]])
    # row 0: labels hop, leap, leap -> majority leap; row 1: hop, help -> tie -> hop (lower code)
    np.testing.assert_array_equal(cp.ceiling_prediction(x, all_x, all_label), [LEAP, HOP, HOP, JUMP])
    b = cp.baselines(x, label, label, all_x, all_label)
    assert b.ceiling.accuracy == pytest.approx(3 / 4)  # row 0 can never be right for a function of the input
    assert b.as_dict()["baselines"]["label_rule"]["accuracy"] == 1.0


def test_ceiling_refuses_test_rows_outside_the_dataset():
    x, label = balanced_states((2, 2, 0, 0))
    with pytest.raises(AnalysisError, match="not among the dataset rows"):
        cp.ceiling_prediction(x, x[:2], label[:2])


def test_competence_rule():
    x, label = balanced_states()
    energy = cp.score(cp.energy_rule(x), label)
    assert cp.is_competent(cp.score(label, label), energy)
    assert not cp.is_competent(energy, energy)
    # leap learned perfectly, help never: macro 0.75 clears the margin, but help is under the floor
    leap_only = np.where(label == LEAP, LEAP, cp.energy_rule(x))
    s = cp.score(leap_only, label)
    assert s.macro_recall == pytest.approx(0.75) and not cp.is_competent(s, energy)
    # 3 of 10 leap and 3 of 10 help states right, the rest as the energy rule: exactly at the bar (0.65, 0.3, 0.3)
    edge = cp.energy_rule(x)
    edge[np.flatnonzero(label == LEAP)[:3]] = LEAP
    edge[np.flatnonzero(label == HELP)[:3]] = HELP
    s = cp.score(edge, label)
    assert s.macro_recall == pytest.approx(0.5 + cp.MARGIN) and cp.is_competent(s, energy)
    edge[np.flatnonzero(label == HELP)[2]] = HOP  # one help state fewer: help 0.2 < FLOOR
    assert not cp.is_competent(cp.score(edge, label), energy)


def test_a_network_that_plays_worse_than_the_energy_rule_is_not_competent():
    """Leap and help learned, but 30 of the 40 hop states lost to leap: macro recall 0.8125 clears the
    margin and the floors, accuracy (10 + 40 + 10 + 10) / 100 = 0.7 falls below the energy rule's 0.8."""
    x, label = balanced_states()
    energy = cp.score(cp.energy_rule(x), label)
    trade = np.where((label == LEAP) | (label == HELP), label, cp.energy_rule(x))
    hop_rows = np.flatnonzero(label == HOP)
    trade[hop_rows[:30]] = LEAP
    s = cp.score(trade, label)
    assert s.macro_recall == pytest.approx(0.8125) and s.recall[LEAP] == 1 and s.recall[HELP] == 1
    assert s.accuracy == pytest.approx(0.7) and energy.accuracy == pytest.approx(0.8)
    assert not cp.is_competent(s, energy)


def test_best_per_model():
    ids = ["a", "a", "a", "b", "b"]
    macro = [0.5, 0.9, 0.7, 0.55, 0.6]
    competent = [False, False, True, False, False]
    # a: its only competent checkpoint beats a higher-macro incompetent one; b: highest macro, later on ties
    assert cp.best_per_model(ids, macro, competent) == {"a": 2, "b": 4}


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cp.confusion([0, 4], [0, 1]), "pred holds 4, not an action code 0..3"),
        (lambda: cp.confusion([0, 1, 2], [0, 1]), "one prediction per labeled state"),
        (lambda: cp.score([], []), "empty"),
        (lambda: cp.energy_rule(np.zeros((3, 99))), r"\(n, 100\)"),
        (lambda: cp.label_prior([], 3), "train split is empty"),
        (lambda: cp.confusion([0.5, 1.0], [0, 1]), "dtype float64 .first value 0.5.; give integer action codes"),
    ],
)
def test_bad_input_is_one_line(call, match):
    with pytest.raises(AnalysisError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_baselines_on_the_validation_split():
    x, label = balanced_states()
    val_x, val_label = balanced_states((6, 2, 1, 1))  # hop 60 %: the prior (hop) scores 0.6, the energy rule 0.8
    b = cp.baselines(x, label, np.array([HOP, HOP, JUMP]), x, label, val_x, val_label)
    assert b.validation["energy_rule"].accuracy == pytest.approx(0.8)
    assert b.validation["label_prior"].accuracy == pytest.approx(0.6)
    assert b.as_dict()["validation"]["energy_rule"]["macro_recall"] == pytest.approx(0.5)
    assert b.label_prior.accuracy == pytest.approx(0.4) and b.as_dict()["baselines"]["label_prior"]["label"] == "hop"
