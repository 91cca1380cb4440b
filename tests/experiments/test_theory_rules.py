"""The pre-registered rules of the theory experiment (docs/theory.md), one by one."""

import numpy as np
import pytest
from scipy import special

from mirror_neurons.errors import AnalysisError, ConfigError
from mirror_neurons.experiments import theory
from mirror_neurons.experiments.theory import (
    TheoryGrid,
    choose_checkpoint,
    emergence,
    fit_theory,
    n_parameters,
    proportions,
    signal_complexity,
    verdicts,
)
from mirror_neurons.train.model import MLP, ModelConfig


@pytest.mark.parametrize("hidden", [(4,), (16,), (32, 32), (64, 64, 64), (17, 17)])
def test_capacity_is_the_networks_trainable_parameter_count(hidden):
    model = MLP(ModelConfig(hidden=hidden))
    assert n_parameters(hidden) == sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_demo_grid_matches_the_preregistration():
    grid = TheoryGrid.preset("demo")
    assert [n_parameters(h) for h in grid.hidden] == [424, 1684, 4420, 15044]
    assert len(grid.cells()) == 18 and grid.n_models == 216
    assert len(grid.dependency) >= 3 and len(grid.veil) >= 3 and len(grid.rate_max) >= 2
    assert TheoryGrid.from_dict(grid.to_dict()) == grid


def test_bad_grids_are_refused():
    with pytest.raises(ConfigError, match="unknown theory preset 'huge'"):
        TheoryGrid.preset("huge")
    with pytest.raises(ConfigError, match="veil levels"):
        TheoryGrid(veil=(0.0, 1.5))
    with pytest.raises(ConfigError, match="seeds must be >= 1"):
        TheoryGrid(seeds=0)


def test_signal_complexity_is_the_distinct_board_yield_and_the_label_entropy():
    manifest = {
        "generation": {"distinct_boards": 250, "frog_states_recorded": 1000, "games": 4},
        "natural_distribution": {"label": {"hop": 10, "jump": 10, "leap": 10, "help": 10}},
    }
    s = signal_complexity(manifest)
    assert s["S"] == 250.0  # distinct boards per 1,000 recorded Frog states
    assert s["S_H"] == pytest.approx(2.0)  # four equally likely labels
    manifest["natural_distribution"]["label"] = {"hop": 40, "jump": 0, "leap": 0, "help": 0}
    assert signal_complexity(manifest)["S_H"] == 0
    with pytest.raises(AnalysisError, match="regenerate"):
        signal_complexity({"generation": {}})


def _record(**kw):
    base = dict(val_loss=0.05, cmni=0.01, n_mirror=2, perm_q95=0.002, init_q95=0.004)
    return {**base, **kw}


@pytest.mark.parametrize(
    "changes, paper, chance",
    [
        ({}, True, True),
        ({"val_loss": 0.06}, False, True),  # the paper's threshold is strict
        ({"cmni": 0.005}, False, True),  # so is its CMNI threshold
        ({"n_mirror": 0}, True, False),  # no significant mirror unit
        ({"init_q95": 0.02}, True, False),  # beats the permutation null only
        ({"perm_q95": 0.02}, True, False),  # beats the random-init null only
        ({"cmni": 0.003, "perm_q95": 0.001, "init_q95": 0.001}, False, True),
    ],
)
def test_emergence_definitions(changes, paper, chance):
    assert emergence(_record(**changes)) == {"paper": paper, "chance": chance}


def test_emergence_from_p_values_when_no_null_samples():
    r = dict(val_loss=0.05, cmni=0.01, n_mirror=1, p_perm=0.01, p_init=0.04)
    assert emergence(r)["chance"]
    assert not emergence({**r, "p_init": 0.05})["chance"]


def test_best_checkpoint_is_the_first_under_006_else_the_lowest():
    h = [dict(epoch=1, val_loss=0.09), dict(epoch=2, val_loss=0.059), dict(epoch=3, val_loss=0.05)]
    chosen, lowest = choose_checkpoint(h)
    assert chosen["epoch"] == 2 and lowest["epoch"] == 3
    chosen, lowest = choose_checkpoint([dict(epoch=1, val_loss=0.09), dict(epoch=2, val_loss=0.07)])
    assert chosen["epoch"] == lowest["epoch"] == 2


def test_proportions_per_cell_with_wilson_intervals():
    recs = [dict(dependency=d, emergent_paper=e) for d, e in [(0, True), (0, False), (1, True), (1, True)]]
    rows = proportions(recs, ("dependency",), "paper")
    assert [(r["dependency"], r["k"], r["n"]) for r in rows] == [(0, 1, 2), (1, 2, 2)]
    assert rows[1]["hi"] == 1.0 and 0 < rows[1]["lo"] < 1


def _synthetic(truth, n_per=40, seed=0):
    """Records on the demo grid with emergence drawn from a known logistic model of the design."""
    rng = np.random.default_rng(seed)
    grid = TheoryGrid.preset("demo")
    recs = []
    for cell in grid.cells():
        S = 3000 if cell.rate_max < 0.05 else 9000
        for h in grid.hidden:
            for _ in range(n_per // 10):
                recs.append(
                    dict(S=S, M=n_parameters(h), E=rng.uniform(0.02, 0.2), dependency=cell.dependency, veil=cell.veil)
                )
    X, _ = theory.design(recs)
    y = rng.uniform(size=len(recs)) < special.expit(X @ np.asarray(truth))
    for r, e in zip(recs, y):
        r["emergent_chance"] = bool(e)
    return recs


def test_fit_recovers_a_known_dependency_effect_and_the_rules_read_it():
    #          b0   x     x2    E    D    I    DxI
    truth = [-0.5, 0.0, -1.0, 0.0, 3.0, 0.0, 0.0]
    recs = _synthetic(truth, n_per=80)
    tf = fit_theory(recs, "chance")
    assert tf.fit is not None and tf.fit.method == "ml"
    lo, hi = tf.intervals["D"]
    assert lo < 3.0 < hi
    v = {x.part: x.verdict for x in verdicts(tf)}
    assert v["P grows with dependency D"] == "supports"
    assert v["P peaks at a balanced S/M"] == "supports"  # b2 = -1, vertex at x = 0, inside the range
    assert v["P grows with the veil I"] in ("contradicts", "cannot decide")  # no effect in truth


def test_rules_call_a_known_zero_effect_negligible_with_enough_models():
    truth = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    tf = fit_theory(_synthetic(truth, n_per=400, seed=2), "chance")
    v = {x.part: x for x in verdicts(tf)}
    assert v["P grows with dependency D"].verdict == "contradicts"
    assert "no effect of meaningful size" in v["P grows with dependency D"].because


def test_too_few_events_cannot_decide():
    recs = _synthetic([-6, 0, 0, 0, 0, 0, 0], n_per=10)
    assert sum(r["emergent_chance"] for r in recs) < 10
    tf = fit_theory(recs, "chance")
    assert tf.fit is None and "too few events" in tf.reason
    assert {v.verdict for v in verdicts(tf)} <= {"cannot decide", "reported"}
    assert "too few events" in theory.statement({"chance": tf})


def test_the_separate_log_s_log_m_fit_finds_equal_and_opposite_terms_when_only_the_ratio_matters():
    """Pre-registered in round one, implemented on 2026-12-01: emergence driven by log(S/M) alone."""
    recs = _synthetic([-0.5, 1.2, 0.0, 0.0, 0.0, 0.0, 0.0], n_per=400, seed=3)
    tf = fit_theory(recs, "chance", separate=True)
    assert tf.fit is not None and tf.fit.names[:3] == ("intercept", "log_S", "log_M")
    (s_lo, s_hi), (m_lo, m_hi) = tf.intervals["log_S"], tf.intervals["log_M"]
    assert s_lo < 1.2 < s_hi and m_lo < -1.2 < m_hi
    reading = {v.part: v for v in verdicts(tf)}["S and M act as the ratio S/M"]
    assert reading.verdict == "reported" and "b_logS = -b_logM" in reading.because
