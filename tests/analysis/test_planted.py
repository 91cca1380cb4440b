"""Planted units (analysis.planted): outputs unchanged, signals as stated, and what the measures see."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analysis_synth import make_split, random_model
from mirror_neurons.analysis import planted as P
from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.groups import GROUPS
from mirror_neurons.analysis.pipeline import AnalysisConfig, prepare_test
from mirror_neurons.errors import ConfigError
from mirror_neurons.train.checkpoint import Checkpoint
from mirror_neurons.train.model import MLP, ModelConfig

FAST = AnalysisConfig(controls=False, statistics=False)


@pytest.fixture(scope="module")
def test_set():
    return prepare_test(make_split(3000, seed=3))


@pytest.fixture(scope="module")
def checkpoint():
    return Checkpoint(
        path="synthetic.json", model=random_model((6, 5), seed=2), meta={"model_id": "m", "weights_sha256": "abc"}
    )


def planted_model(base, test, kinds=("mirror", "energy"), layers=(0, 1)):
    acts = capture(base, test.x)
    x = test.x.numpy()
    plants = [P.make_plant(k, 1.0, l, acts[f"dense_{l}"], x, seed=i) for i, (k, l) in enumerate(zip(kinds, layers))]
    return P.PlantedMLP(base, plants), acts


@pytest.mark.parametrize("encoding", ["raw", "onehot"])
def test_plant_leaves_outputs_bitwise_unchanged(test_set, encoding):
    base = MLP(ModelConfig(hidden=(7, 6, 5), encoding=encoding))
    base.reset_parameters(torch.Generator().manual_seed(0))
    model, acts = planted_model(base.eval(), test_set, kinds=("mirror", "frog_only", "position"), layers=(0, 0, 2))
    with torch.no_grad():
        assert torch.equal(model(test_set.x), base(test_set.x))
    mine = capture(model, test_set.x)
    assert model.config.hidden == (9, 6, 6)
    for name, a in acts.items():  # the trained units are untouched, bit for bit
        assert np.array_equal(mine[name][:, : a.shape[1]], a)
    for layer, unit, plant in model.planted_units():
        np.testing.assert_array_equal(mine[layer][:, unit], plant.activation(test_set.x.numpy()))
    # the widened kernels: a zero row in, a zero column out
    assert torch.all(model.layers[0].weight[7:] == 0) and torch.all(model.layers[1].weight[:, 7:] == 0)
    assert torch.equal(model.layers[1].weight[:, :7], base.layers[1].weight)


def test_signals_follow_the_groups(test_set):
    x = test_set.x.numpy()
    expect = {"mirror": (0, 1, 1, 1), "frog_only": (0, 1, 0, 0), "toad_only": (0, 0, 1, 0)}
    for kind, means in expect.items():
        s = P.plant_signal(kind, x)
        got = tuple(float(s[test_set.groups.index(g)].mean()) for g in GROUPS)
        assert got == means, kind


def test_position_signal_reads_frogs_column():
    x = np.zeros((3, 100), dtype=np.uint8)
    x[0, 32 + 7] = 4  # Frog at 7, Toad at 3
    x[0, 32 + 3] = 5
    x[1, 32 + 12] = 9  # Frog in distress at 12 (no f), Toad at 20
    x[1, 32 + 20] = 5
    np.testing.assert_array_equal(P.plant_signal("position", x), [7, 12, 0])


def test_hash_noise_is_a_fixed_normal_function_of_the_state():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10, size=(20000, 100)).astype(np.uint8)
    z = P.hash_normal(x, 5)
    assert abs(z.mean()) < 0.03 and abs(z.std() - 1) < 0.03
    np.testing.assert_array_equal(P.hash_normal(x[::-1], 5), z[::-1])  # a function of the state, not of its row
    assert abs(np.corrcoef(z, P.hash_normal(x, 6))[0, 1]) < 0.03
    assert abs(np.corrcoef(z, x[:, 97])[0, 1]) < 0.03


def test_strong_mirror_plant_is_detected_and_null_plants_are_not(checkpoint, test_set):
    specs = [P.PlantSpec("mirror", 2.0, layer=i % 2) for i in range(4)] + [
        P.PlantSpec("mirror", 0.0, layer=i % 2) for i in range(20)
    ]
    units, rows = P.analyze_plants(checkpoint, test_set, specs, FAST, np.random.default_rng(0), tags={"model_id": "m"})
    assert len(units) == len(rows) == 24
    table = {(r["effect"], r["measure"]): r for r in P.detection_table(units)}
    assert table[(2.0, "class=mirror")]["rate"] == 1.0
    null = table[(0.0, "class=mirror")]
    assert null["n"] == 20 and null["lo"] < FAST.alpha  # not called more often than alpha
    assert table[(0.0, "q_mirror<alpha")]["lo"] < FAST.alpha
    assert 2 <= table[(0.0, "mns>0")]["k"] <= 15  # the raw CMNI's clamp counts about a third of pure-noise units
    assert abs(table[(2.0, "class=mirror")]["d_frog"] - 2.0) < 0.3


def test_decoys_of_one_player_are_differentiating_not_mirror(checkpoint, test_set):
    specs = [P.PlantSpec(k, 2.0) for k in ("frog_only", "toad_only") for _ in range(2)]
    units, _ = P.analyze_plants(checkpoint, test_set, specs, FAST, np.random.default_rng(1))
    assert [u["class"] for u in units] == ["differentiating"] * 4


def test_covariate_decoys_are_not_mirror_when_groups_share_their_composition(checkpoint, test_set):
    # make_split draws energy and columns independently of the scenario: no composition artefact to find
    specs = [P.PlantSpec(k, e) for k in ("energy", "position") for e in (-2.0, 2.0) for _ in range(3)]
    units, _ = P.analyze_plants(checkpoint, test_set, specs, FAST, np.random.default_rng(2), tags={"model_id": "m"})
    for r in P.false_positive_rates(P.detection_table(units), measures=("class=mirror",)):
        assert r["k"] == 0, r


def test_calls_pick_up_new_class_and_q_columns():
    units = {
        "class": np.array(["mirror", "other"]),
        "class_matched": np.array(["other", "mirror"]),
        "mns": np.array([0.1, 0.0]),
        "q_mirror": np.array([0.01, 0.5]),
        "q_mirror_matched": np.array([0.5, 0.01]),
    }
    calls = P.unit_calls(units, 0.05)
    assert calls["class_matched=mirror"].tolist() == [False, True]
    assert calls["q_mirror_matched<alpha"].tolist() == [False, True]
    assert calls["mns>0"].tolist() == [True, False]


def test_detection_table_counts_models_and_wilson_intervals():
    units = [
        {
            "kind": "mirror",
            "effect": 1.0,
            "model_id": m,
            "class": c,
            "mns": 1.0,
            "q_mirror": 0.0,
            "d_frog": 1.0,
            "d_toad": 1.0,
        }
        for m, c in [("a", "mirror"), ("a", "mirror"), ("b", "mirror"), ("b", "other")]
    ]
    (row,) = [r for r in P.detection_table(units) if r["measure"] == "class=mirror"]
    assert (row["k"], row["n"], row["models"], row["model_min"], row["model_max"]) == (3, 4, 2, 0.5, 1.0)
    assert row["lo"] < 0.75 < row["hi"]


def test_checkpoint_table_rates_every_p_column_and_pairs_with_effect_zero():
    rows = [
        {
            "kind": "mirror",
            "effect": e,
            "count": 2,
            "model_id": m,
            "rep": 0,
            "cmni": c,
            "cmni_effect_size": 0.2,
            "n_mirror": 2,
            "p_random_init": p,
        }
        for m, e, c, p in [("a", 0.0, 0.1, 0.3), ("b", 0.0, 0.2, 0.3), ("a", 1.0, 0.4, 0.01), ("b", 1.0, 0.3, 0.2)]
    ]
    table = {r["effect"]: r for r in P.checkpoint_table(rows)}
    assert (
        table[1.0]["p_random_init<alpha"] == 0.5 and table[1.0]["n"] == 2 and table[1.0]["cmni"] == pytest.approx(0.35)
    )
    assert table[1.0]["delta.cmni"] == pytest.approx(0.2)  # (0.3 + 0.1) / 2, each model against its own noise plant
    assert table[0.0]["delta.cmni"] == 0.0 and table[0.0]["p_random_init<alpha"] == 0.0


def test_bad_plants_are_refused(checkpoint):
    with pytest.raises(ConfigError, match="kind 'smile'"):
        P.PlantSpec("smile", 1.0)
    with pytest.raises(ConfigError, match="layer 5 does not exist"):
        P.PlantedMLP(checkpoint.model, [P.Plant("mirror", 1.0, 5, 1.0, 0.0)])


def test_ablation_from_recorded_activations_sees_the_base_network(test_set):
    # predict_from recomputes later layers with model.layers: the widened kernels must give the base network's outputs
    from mirror_neurons.analysis.ablation import predict_from

    base = random_model((6, 5), seed=4)
    model, acts = planted_model(base, test_set)
    mine = capture(model, test_set.x)
    mask = np.ones(7, dtype=np.float32)
    mask[[1, 6]] = 0  # a trained unit and the planted one
    got = predict_from(model, mine, {"dense_0": mask})
    want = predict_from(base, acts, {"dense_0": mask[:6]})
    assert (got == want).mean() > 0.999  # equal up to the rounding of sums with zero terms


def test_an_energy_decoy_is_a_mirror_unit_in_the_paper_view_and_not_in_matched_groups(checkpoint):
    # Groups that differ in composition: 60 % of "none" states at energy 0 against 20 % of the distress groups,
    # energy above 0 drawn alike everywhere. A unit that tracks energy is then up with both players' distress.
    split = make_split(6000, seed=7)
    rng = np.random.default_rng(8)
    zero = rng.random(len(split.x)) < np.where(split.scenario == 0, 0.6, 0.2)
    split.x[:, 97] = np.where(zero, 0, rng.integers(1, 21, len(split.x)))
    specs = [P.PlantSpec("energy", 2.0) for _ in range(3)]
    called = {}
    for matched in (False, True):
        config = AnalysisConfig(controls=False, statistics=False, matched=matched)
        units, _ = P.analyze_plants(
            checkpoint, prepare_test(split, config=config), specs, config, np.random.default_rng(9)
        )
        called[matched] = [u["class"] for u in units]
    assert called[False] == ["mirror"] * 3  # the artefact the decoy exists to catch
    assert "mirror" not in called[True]  # composition matching removes it


@pytest.fixture(scope="module")
def onehot_checkpoint():
    model = MLP(ModelConfig(hidden=(8, 5), encoding="onehot"))
    model.reset_parameters(torch.Generator().manual_seed(5))
    return Checkpoint(path="onehot.json", model=model.eval(), meta={"model_id": "o", "weights_sha256": "def"})


def test_a_dense_plant_is_a_real_unit_that_changes_no_output(onehot_checkpoint, test_set):
    base = onehot_checkpoint.model
    acts = capture(base, test_set.x)
    plant = P.make_dense_plant("dense_mirror", 1.0, base, acts["dense_0"], test_set.x.numpy(), np.random.default_rng(0))
    model = P.PlantedMLP(base, [plant])
    with torch.no_grad():
        assert torch.equal(model(test_set.x), base(test_set.x))
        unit = model.layers[0](base.encoding.encode(test_set.x))[:, 8]  # the kernel row computes the unit
    mine = capture(model, test_set.x)["dense_0"]
    np.testing.assert_allclose(mine[:, 8], torch.relu(unit).numpy(), rtol=1e-5, atol=1e-5)
    assert mine[:, 8].min() > 0  # the bias keeps it off the ReLU's floor


def test_dense_plants_are_seen_and_their_circuit_reads_distress(onehot_checkpoint, test_set):
    specs = [P.PlantSpec("dense_mirror", 2.0)] * 3 + [P.PlantSpec("dense_mirror", 0.0)] * 3
    units, _ = P.analyze_plants(
        onehot_checkpoint, test_set, specs, FAST, np.random.default_rng(3), tags={"model_id": "o"}
    )
    table = {(r["effect"], r["measure"]): r for r in P.detection_table(units)}
    assert table[(2.0, "class=mirror")]["rate"] == 1.0 and table[(0.0, "class=mirror")]["k"] == 0
    assert table[(2.0, "circuit reads distress")]["rate"] == 1.0
    assert abs(table[(2.0, "class=mirror")]["d_frog"] - 2.0) < 0.4
    assert [r["kind"] for r in P.false_positive_rates(P.detection_table(units))] == [
        "dense_mirror"
    ] * 3  # effect 0 only


def test_dense_plants_need_a_one_hot_network_and_the_first_layer(checkpoint, test_set):
    with pytest.raises(ConfigError, match="one-hot"):
        P.analyze_plants(checkpoint, test_set, [P.PlantSpec("dense_mirror", 1.0)], FAST, np.random.default_rng(0))
    with pytest.raises(ConfigError, match="first hidden layer"):
        P.PlantSpec("dense_mirror", 1.0, layer=1)
