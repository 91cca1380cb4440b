"""End to end: build_dataset writes the same bytes for any chunking, refuses to clobber, loads back."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.errors import ConfigError, DataError
from mirror_neurons.game.constants import Scenario

CONFIG = DataConfig.preset("demo", n_states=4_000, seed=3, episode_turns=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    a = build_dataset(CONFIG, root / "a", workers=1, batch_games=16)
    b = build_dataset(CONFIG, root / "b", workers=2, batch_games=64)
    return a, b


@pytest.mark.slow
def test_same_seed_same_bytes_whatever_the_chunking(built):
    a, b = built
    ma, mb = (json.loads((p / "manifest.json").read_text()) for p in built)
    assert ma["files"] == mb["files"] and ma["dataset_hash"] == mb["dataset_hash"]
    for name in ("train", "val", "test"):
        assert (a / f"{name}.parquet").read_bytes() == (b / f"{name}.parquet").read_bytes()


@pytest.mark.slow
def test_dataset_content(built):
    data = load_dataset(built[0])
    rows = {s: getattr(data, s) for s in ("train", "val", "test")}
    assert sum(len(r) for r in rows.values()) == 4_000
    assert np.bincount(data.test.label, minlength=4).tolist() == [0.4 * len(data.test)] * 2 + [0.1 * len(data.test)] * 2
    x = {s: {row.tobytes() for row in r.x} for s, r in rows.items()}
    assert sum(len(v) for v in x.values()) == 4_000  # every row distinct, no test row in train or val
    all_x = np.concatenate([r.x for r in rows.values()])
    assert (all_x[:, [96, 98, 99]] == 0).all()
    scenario = np.concatenate([r.scenario for r in rows.values()])
    assert set(np.unique(scenario)) == set(Scenario)
    manifest = data.manifest
    assert manifest["config"] == CONFIG.to_dict() and manifest["seed"] == 3
    assert sum(manifest["natural_distribution"]["label"].values()) == 4_000
    assert manifest["generation"]["distinct_boards"] >= 4_000


@pytest.mark.slow
def test_other_seed_other_data(built, tmp_path):
    other = build_dataset(DataConfig.preset("demo", n_states=4_000, seed=4, episode_turns=300), tmp_path / "c")
    assert load_dataset(other).hash != load_dataset(built[0]).hash


@pytest.mark.slow
def test_rerun_is_a_no_op_and_a_different_dataset_is_refused(built):
    a = built[0]
    before = {p.name: p.stat().st_mtime_ns for p in a.iterdir()}
    assert build_dataset(CONFIG, a) == a
    with pytest.raises(DataError, match="different dataset .*n_states"):
        build_dataset(DataConfig.preset("demo", n_states=4_001, seed=3, episode_turns=300), a)
    assert {p.name: p.stat().st_mtime_ns for p in a.iterdir()} == before


@pytest.mark.slow
def test_damaged_dataset_is_named_not_reused(built, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in built[1].iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    data = (copy / "val.parquet").read_bytes()
    (copy / "val.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="damaged.*val.parquet"):
        build_dataset(CONFIG, copy)
    assert (copy / "val.parquet").read_bytes() == data[: len(data) // 2]  # left as it was


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"n_states": 0}, "n_states must be a positive integer, got 0"),
        ({"n_states": -5}, "got -5"),
        ({"seed": -1}, "seed must be"),
        ({"veil": 1.5}, "veil must be in 0..1, got 1.5"),
        ({"dependency": -0.1}, "dependency must be in 0..1"),
        ({"policy": (0.5, 0.5, 0.5, 0.5)}, "policy probabilities"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"test_size": 4_000}, "test_size"),
        ({"bogus": 1}, "unknown DataConfig field"),
    ],
)
def test_bad_config_names_the_value(overrides, message):
    with pytest.raises(ConfigError, match=message):
        DataConfig.preset("demo", **{"n_states": 4_000, **overrides})


def test_presets():
    assert DataConfig.preset("paper").n_states == 6_000_000
    assert DataConfig.preset("paper").resolved_test_size == 100_000
    assert DataConfig.preset("demo").n_states == 300_000
    knobs = DataConfig.preset("demo", dependency=0.0, veil=0.25)
    assert (knobs.game.dependency, knobs.game.veil) == (0.0, 0.25)
    assert DataConfig.preset("demo").game.dependency == 1.0 and DataConfig.preset("demo").game.veil == 1.0
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        DataConfig.preset("huge")


def test_knobs_reach_the_data(tmp_path):
    """D = 0: the world follows the leader, Frog never reaches column 26, so no help labels; I = 0: Toad shows 10."""
    config = DataConfig.preset("demo", n_states=3_000, seed=1, dependency=0.0, veil=0.0, episode_turns=300)
    data = load_dataset(build_dataset(config, tmp_path / "knobs"))
    x = np.concatenate([data.train.x, data.val.x, data.test.x])
    frog_pos = np.concatenate([data.train.frog_pos, data.val.frog_pos, data.test.frog_pos])
    assert frog_pos.max() < 26 and data.manifest["natural_distribution"]["label"]["help"] == 0
    assert data.manifest["test_label_shares"]["help"] == 0 and len(data.test) > 0
    assert (x[:, 32:64] == 10).any() and data.manifest["config"]["game"]["veil"] == 0.0


def test_config_built_without_a_preset_names_itself_custom_and_serialises():
    """The ``preset`` class method must not shadow the recorded preset name's default."""
    import json
    from dataclasses import asdict

    config = DataConfig(n_states=10)
    assert config.preset_name == "custom"
    json.dumps(asdict(config))  # a classmethod object here would raise TypeError
