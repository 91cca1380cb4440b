"""Scenario groups: the published filters, the alternative without them, and empty groups."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.analysis.groups import GROUPS, scenario_groups, split_groups
from mirror_neurons.errors import AnalysisError
from mirror_neurons.game.constants import PLAYERS, Scenario, Symbol

from analysis_synth import make_split


def test_filters_follow_the_published_rule(small_split):
    g = split_groups(small_split)
    players = small_split.x[:, PLAYERS]
    sc = small_split.scenario
    expected_frog = (sc == Scenario.FROG) & (players == Symbol.TOAD).any(1)
    expected_toad = (sc == Scenario.TOAD) & (players == Symbol.FROG).any(1)
    np.testing.assert_array_equal(g.label == GROUPS.index("frog"), expected_frog)
    np.testing.assert_array_equal(g.label == GROUPS.index("toad"), expected_toad)
    np.testing.assert_array_equal(g.label == GROUPS.index("none"), sc == Scenario.NONE)
    np.testing.assert_array_equal(g.label == GROUPS.index("both"), sc == Scenario.BOTH)
    # the synthetic set shows the other player's leap symbol in some single-distress states: those are left out
    assert (g.label == -1).sum() > 0
    unfiltered = split_groups(small_split, filtered=False)
    assert (unfiltered.label == -1).sum() == 0
    np.testing.assert_array_equal(unfiltered.label, sc)


def test_order_makes_groups_contiguous(small_split):
    g = split_groups(small_split)
    o = g.take(g.order())
    for name, sl in o.slices().items():
        assert isinstance(sl, slice), name
        assert (o.label[sl] == GROUPS.index(name)).all()


def test_empty_group_is_named():
    split = make_split(200, seed=3)
    keep = split.scenario != Scenario.TOAD
    x, sc = split.x[keep], split.scenario[keep]
    g = scenario_groups(x, sc)
    with pytest.raises(AnalysisError, match="'toad'"):
        g.index("toad")
    # Frog-distress states whose Toad never shows 't' empty the filtered frog group only
    x2 = x.copy()
    x2[np.ix_(sc == Scenario.FROG, np.arange(32, 64))] = np.where(
        x2[np.ix_(sc == Scenario.FROG, np.arange(32, 64))] == Symbol.TOAD,
        Symbol.JUMP,
        x2[np.ix_(sc == Scenario.FROG, np.arange(32, 64))],
    )
    with pytest.raises(AnalysisError, match="'frog'.*filtered=False"):
        scenario_groups(x2, sc).require("none", "frog")
    scenario_groups(x2, sc, filtered=False).require("none", "frog")
