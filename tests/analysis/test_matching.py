"""Composition-matched contrasts, the scale-free index's edge cases, nulls in their normal limit, floors, q-values."""

from __future__ import annotations

import warnings

import numpy as np
import pyarrow as pa
import pytest

from analysis_synth import make_split, random_model
from mirror_neurons.analysis.cmni import D_CAP, effect_size_cmni
from mirror_neurons.analysis.controls import (
    bc_interval,
    both_indices,
    contrasts,
    lower_end_informative,
    min_draws,
    normal_bootstrap,
    normal_permutation_null,
    p_floor,
    permutation_diffs,
)
from mirror_neurons.analysis.groups import Groups, match_composition, stratum_codes, stratum_name
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_checkpoint, model_q_values, prepare_test, q_column
from mirror_neurons.analysis.stats import cell_moments, group_moments
from mirror_neurons.analysis.units import unit_tests
from mirror_neurons.errors import AnalysisError, ConfigError
from mirror_neurons.train.checkpoint import Checkpoint


def planted(n_per_cell: dict[tuple[int, int], int]) -> tuple[Groups, np.ndarray]:
    """States with group g in stratum code s, n_per_cell[(g, s)] of each, matched; (groups, codes)."""
    label, codes = [], []
    for (g, s), n in n_per_cell.items():
        label += [g] * n
        codes += [s] * n
    groups = Groups(np.array(label, dtype=np.int8), filtered=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return match_composition(groups, np.array(codes), min_count=2), np.array(codes)


# none mostly in stratum 0, toad mostly in stratum 9 (energy > 0, Frog at column >= 26, label jump): as the real test set
CELLS = {(0, 0): 30, (0, 9): 10, (1, 0): 20, (1, 9): 20, (2, 0): 8, (2, 9): 32, (3, 0): 10, (3, 9): 10}


def test_a_unit_that_tracks_only_the_stratum_has_no_matched_contrast():
    groups, codes = planted(CELLS)
    a = np.stack([(codes == 9) * 2.0 + 0.5, (codes == 9) * 1.0 + np.isin(groups.label, (1, 2))], axis=1)  # (n, 2)
    raw = group_moments(a, Groups(groups.label, True))  # the paper's view: plain group means
    assert raw.mean[2, 0] - raw.mean[0, 0] == pytest.approx(2 * (32 / 40 - 10 / 40))  # composition leaks in
    m = group_moments(a, groups)
    # unit 0 is a stratum detector: every matched group mean is the none group's, 0.5 + 2 * 10/40
    np.testing.assert_allclose(m.mean[:, 0], 0.5 + 2 * 10 / 40)
    # unit 1 adds exactly 1 with either player's distress: the matched contrast is exactly 1
    assert m.mean[1, 1] - m.mean[0, 1] == pytest.approx(1.0) and m.mean[2, 1] - m.mean[0, 1] == pytest.approx(1.0)
    t = unit_tests(a, groups)
    assert t.d_toad[0] == 0 and t.p_up_toad[0] == 1 and t.p_down_toad[0] == 1


def test_matched_weights_by_hand():
    groups, _ = planted(CELLS)
    np.testing.assert_allclose(groups.composition.target[0], [30 / 40, 10 / 40])  # pi: the none group's composition
    w = groups.state_weights()
    toad = groups.label == 2
    assert w[toad].sum() == pytest.approx(1.0)
    assert set(np.round(w[toad], 12)) == {round(0.75 / 8, 12), round(0.25 / 32, 12)}
    a = np.random.default_rng(0).normal(size=(groups.n, 3))
    m = group_moments(a, groups)
    for g in range(4):
        sel = groups.label == g
        mean = (w[sel, None] * a[sel]).sum(0)
        np.testing.assert_allclose(m.mean[g], mean, atol=1e-6)  # float32 data, float64 sums
        np.testing.assert_allclose(m.var[g], (w[sel, None] * (a[sel] - mean) ** 2).sum(0), atol=1e-6)


def test_a_stratum_too_small_is_named_and_left_out():
    groups = Groups(np.array([0] * 10 + [1] * 10 + [2] * 9 + [0, 0, 1, 2], dtype=np.int8), True)
    codes = np.array([1] * 29 + [13] * 4)  # stratum 13 (8 + 4 + jump) holds 2 none, 1 frog, 1 toad
    with pytest.warns(UserWarning, match=r"energy>0, Frog col>=26, jump \(none 2, frog 1, toad 1\)"):
        m = match_composition(groups, codes, min_count=2)
    np.testing.assert_array_equal(m.composition.codes, [1])
    np.testing.assert_allclose(m.composition.kept[:3], [10 / 12, 10 / 11, 9 / 10])
    assert (m.stratum[-4:] == -1).all()
    with pytest.raises(AnalysisError, match="no stratum .* at least 20 .*--paper-view"):
        match_composition(groups, codes, min_count=20)


def test_stratum_codes_and_names():
    x = np.zeros((3, 100), dtype=np.uint8)
    x[:, 97] = [0, 5, 5]
    codes = stratum_codes(x, np.array([3, 26, 25]), np.array([1, 3, 0]))
    np.testing.assert_array_equal(codes, [1, 8 + 4 + 3, 8])
    assert stratum_name(15) == "energy>0, Frog col>=26, help" and stratum_name(1) == "energy=0, Frog col<26, jump"


def test_scale_free_index_dead_and_constant_units():
    label = np.repeat(np.arange(4), 10).astype(np.int8)
    groups = Groups(label, True)
    a = np.zeros((40, 3))
    a[:, 1] = np.where(np.isin(label, (1, 2)), 2.0, 1.0)  # constant within each group, shifted by distress: d = +inf
    a[:, 2] = np.random.default_rng(1).normal(size=40)
    m = group_moments(a, groups)
    r = effect_size_cmni(m, ("dense_1",), (3,))
    assert r.dfrog[0] == 0 and r.dtoad[0] == 0  # a dead unit adds 0 but counts in the denominator
    assert r.dfrog[1] == D_CAP and r.mns[1] == D_CAP  # capped: adds at most 10 / units
    assert r.cmni == pytest.approx((D_CAP + r.mns[2]) / 3)
    c = contrasts(cell_moments(a, groups))
    np.testing.assert_allclose(both_indices(c.dfrog, c.dtoad, c)[1], r.cmni)  # the controls' index is the same one


def test_normal_limit_permutation_null_matches_exact_permutations():
    split = make_split(3000, seed=5)
    test = prepare_test(split, min_stratum_states=5)
    a = np.random.default_rng(2).gamma(1.0, size=(test.groups.n, 4)).astype(np.float32)  # skewed, like ReLU units
    cm = cell_moments(a, test.groups, cov=True)
    c = contrasts(cm)
    exact = both_indices(*permutation_diffs(a, test.groups, 1500, np.random.default_rng(0)).transpose(1, 0, 2), c)
    normal = normal_permutation_null(cm, 20000, np.random.default_rng(1))
    for k in (0, 1):
        assert normal[:, k].mean() == pytest.approx(exact[:, k].mean(), rel=0.08)
        assert np.quantile(normal[:, k], 0.95) == pytest.approx(np.quantile(exact[:, k], 0.95), rel=0.1)
    boot = normal_bootstrap(cm, 4000, np.random.default_rng(3))
    assert boot[:, 0].mean() > both_indices(c.dfrog, c.dtoad, c)[0]  # the clamp biases resampled indices upwards


def test_dead_units_do_not_move_the_scale_free_null_or_interval():
    """Four skewed live units beside two dead ones (constant 0) and two that fire only in toad states
    (observed frog-contrast sd 0): neither kind may send null or bootstrap draws to +-D_CAP. The
    scale-free null of the eight units stays near the live four's, scaled by 4/8, and the bootstrap
    interval holds the observed index."""
    split = make_split(3000, seed=5)
    test = prepare_test(split, min_stratum_states=5)
    rng = np.random.default_rng(2)
    live = rng.gamma(1.0, size=(test.groups.n, 4)).astype(np.float32)
    toad_only = np.zeros((test.groups.n, 2), dtype=np.float32)
    toad_rows = test.groups.index("toad")
    toad_only[toad_rows] = rng.gamma(1.0, size=(len(toad_rows), 2))
    a = np.concatenate([live, np.zeros((test.groups.n, 2), np.float32), toad_only], axis=1)
    cm_live, cm_all = cell_moments(live, test.groups, cov=True), cell_moments(a, test.groups, cov=True)
    assert (contrasts(cm_all).sd_frog[4:] == 0).all()  # the case that broke: sd 0 in frog and none
    null_live = normal_permutation_null(cm_live, 4000, np.random.default_rng(1))[:, 1]
    null_all = normal_permutation_null(cm_all, 4000, np.random.default_rng(1))[:, 1]
    assert null_all.mean() < null_live.mean() and null_all.max() < 1.0  # one unit at D_CAP = 10 would add 10/8
    c = contrasts(cm_all)
    observed = both_indices(c.dfrog, c.dtoad, c)[1]
    boot = normal_bootstrap(cm_all, 4000, np.random.default_rng(3))[:, 1]
    lo, hi = bc_interval(boot, observed)
    assert lo <= observed <= hi and boot.max() < 1.0


def test_bc_interval_and_the_boundary():
    rng = np.random.default_rng(0)
    values = rng.normal(1.0, 0.1, 4000)
    lo, hi = bc_interval(values, 1.0)
    assert lo == pytest.approx(np.quantile(values, 0.025), abs=0.01) and hi == pytest.approx(
        np.quantile(values, 0.975), abs=0.01
    )
    shifted = bc_interval(values, 0.9)  # draws sit above the observed: the interval moves down
    assert shifted[1] < hi and shifted[0] < lo
    at_zero = np.abs(rng.normal(0, 0.01, 1000))
    assert bc_interval(at_zero, 0.0)[0] == pytest.approx(at_zero.min())
    assert not lower_end_informative(at_zero, 0.0) and lower_end_informative(values, 1.0)


@pytest.mark.parametrize(("alpha", "need"), [(0.05, 20), (0.1, 10), (0.01, 100), (0.03, 33)])
def test_p_value_floor_below_alpha(alpha, need):
    assert p_floor(need) < alpha <= p_floor(need - 1)
    assert min_draws(alpha) == need


def test_configs_whose_p_values_cannot_reach_alpha_are_refused():
    with pytest.raises(
        ConfigError, match=r"n_decoding_permutations = 2 gives a smallest p-value of 1/3 = 0.333.*at least 20"
    ):
        AnalysisConfig(n_decoding_permutations=2)
    with pytest.raises(ConfigError, match="n_random_init = 19 .* 1/20 = 0.05"):
        AnalysisConfig(n_random_init=19)
    AnalysisConfig(n_random_init=20, n_ablation_draws=0)  # 1/21 < 0.05; 0 skips that control
    AnalysisConfig(controls=False, n_decoding_permutations=2)  # no control, no p-value
    AnalysisConfig(alpha=0.1, n_random_init=10, n_permutations=10, n_decoding_permutations=10, n_ablation_draws=10)


def test_model_q_values_by_hand():
    ck = pa.table({"model_id": ["a", "a", "a", "b"], "p_permutation": [0.01, 0.04, None, 0.04],
                   "p_permutation_floor": [0.005] * 4, "ablate.mirror.p": [0.5, 0.02, 0.02, 0.3]})  # fmt: skip
    out = model_q_values(ck).to_pydict()
    # model a: p = 0.01, 0.04 -> BH q = 0.02, 0.04; model b alone keeps its p
    assert out["q_permutation"][:2] == pytest.approx([0.02, 0.04]) and out["q_permutation"][2] is None
    assert out["q_permutation"][3] == pytest.approx(0.04)
    assert out["ablate.mirror.q"][:3] == pytest.approx([0.5, 0.03, 0.03])
    assert "q_permutation_floor" not in out
    assert (
        q_column("decode.dense_1.p_frog_to_toad") == "decode.dense_1.q_frog_to_toad"
        and q_column("p_random_init_floor") is None
    )


def test_row_holds_the_primary_index_first_floors_baselines_and_the_recoded_control():
    split = make_split(2000, seed=3)
    config = AnalysisConfig(n_random_init=20, n_permutations=99, n_bootstrap=200, n_decoding_permutations=20,
                            n_ablation_draws=20, n_decoding_untrained=2, min_stratum_states=5)  # fmt: skip
    test = prepare_test(split, config=config)
    one = analyze_checkpoint(Checkpoint("a.json", random_model((6, 5), seed=1), {"weights_sha256": "a"}), test, config)
    row = one.row()
    keys = list(row)
    assert keys.index("cmni_effect_size") < keys.index("cmni")
    assert row["p_random_init_floor"] == pytest.approx(1 / 21) and row["p_permutation_floor"] == pytest.approx(1 / 100)
    assert row["decode.p_floor"] == pytest.approx(1 / 21) and row["matched"] is True
    for k in ("p_random_init_effect_size", "p_random_init_recoded", "null_random_init_recoded_effect_size_mean",
              "decode.input.frog_to_toad", "decode.dense_1.untrained_frog_to_toad", "cmni_effect_size_ci_low",
              "cmni_ci_low_informative", "matched_share_toad"):  # fmt: skip
        assert row[k] is not None, k
    # an architecture's untrained networks are shared by its checkpoints (seeded by the architecture, not the weights)
    other = analyze_checkpoint(
        Checkpoint("b.json", random_model((6, 5), seed=2), {"weights_sha256": "b"}), test, config
    )
    np.testing.assert_array_equal(one.controls.random_init.null, other.controls.random_init.null)
    assert not np.array_equal(one.controls.permutation.null, other.controls.permutation.null)
    assert one.controls.architecture.recoded is not None
    assert not np.allclose(one.controls.architecture.recoded, one.controls.architecture.indices)


@pytest.mark.parametrize("encoding", ["raw", "recoded", "onehot"])
def test_untrained_indices_equal_a_captured_network_of_that_encoding(encoding):
    import torch

    from mirror_neurons.analysis.activations import capture
    from mirror_neurons.analysis.controls import random_init_indices
    from mirror_neurons.train.model import MLP, ModelConfig

    split = make_split(1500, seed=8)
    test = prepare_test(split, min_stratum_states=5)
    config = ModelConfig(hidden=(5, 4), encoding=encoding)
    got = random_init_indices(config, test.x, test.groups, np.array([21]))
    model = MLP(config)
    model.reset_parameters(torch.Generator().manual_seed(21))
    a = np.concatenate(list(capture(model, test.x).values()), axis=1)
    c = contrasts(cell_moments(a, test.groups))
    np.testing.assert_allclose(got[0], both_indices(c.dfrog, c.dtoad, c), rtol=1e-5)


def test_strata_without_the_label_keep_the_help_band():
    """With the label, a toad state at Frog's column >= 26 labelled help (because Toad is in distress) has no none
    twin and falls out; strata of energy x band alone keep it."""
    x = np.zeros((12, 100), dtype=np.uint8)
    x[:, 97] = 5
    frog_pos = np.array([27, 27, 28, 29] * 3)
    label = np.array([0] * 8 + [3] * 4)  # none and frog states hop, toad states help
    groups = Groups(np.repeat(np.array([0, 1, 2], dtype=np.int8), 4), True)
    with pytest.raises(AnalysisError, match=r"no stratum .*energy>0, Frog col>=26, hop \(none 4, frog 4, toad 0\)"):
        match_composition(groups, stratum_codes(x, frog_pos, label), min_count=2)
    codes = stratum_codes(x, frog_pos, label, by_label=False)
    np.testing.assert_array_equal(codes, 12)
    assert stratum_name(12, by_label=False) == "energy>0, Frog col>=26"
    m = match_composition(groups, codes, min_count=2, by_label=False)
    np.testing.assert_allclose(m.composition.kept[:3], 1.0)


def test_stratified_z_test_by_hand():
    from scipy.stats import norm

    from mirror_neurons.analysis.stats import stratified_z

    groups, codes = planted(CELLS)
    a = np.random.default_rng(4).normal(size=(groups.n, 1)) + (groups.label == 2)[:, None] * 0.3
    cm = cell_moments(a, groups)
    pi = np.array([30 / 40, 10 / 40])
    diff = var = 0.0
    for k, s in enumerate((0, 9)):
        t, n = a[(groups.label == 2) & (codes == s), 0], a[(groups.label == 0) & (codes == s), 0]
        diff += pi[k] * (t.mean() - n.mean())
        var += pi[k] ** 2 * (t.var() / len(t) + n.var() / len(n))
    up, down = stratified_z(cm, 2, 0)
    assert up[0] == pytest.approx(norm.sf(diff / np.sqrt(var)), rel=1e-6)
    assert down[0] == pytest.approx(norm.cdf(diff / np.sqrt(var)), rel=1e-6)


def test_matched_histograms_see_no_difference_in_a_stratum_detector():
    from mirror_neurons.analysis.stats import kl_to_none

    groups, codes = planted({(0, 0): 300, (0, 9): 100, (1, 0): 200, (1, 9): 200, (2, 0): 80, (2, 9): 320,
                             (3, 0): 100, (3, 9): 100})  # fmt: skip
    a = ((codes == 9) * 2.0 + np.random.default_rng(0).normal(0, 0.1, groups.n))[:, None]
    paper = kl_to_none(a, Groups(groups.label, True))["toad_none"][0]
    matched = kl_to_none(a, groups)["toad_none"][0]
    assert paper > 0.3 and matched < 0.2 * paper  # what is left is sampling noise in 32 bins of a few hundred states
