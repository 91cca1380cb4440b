"""The model-level paired test: each model's trained checkpoint against its own initialisation."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mirror_neurons.analysis import paired
from mirror_neurons.errors import AnalysisError


def table(changes, *, labels="rule", hidden="[17, 17]", prefix="m", middle=None, init_value=0.1):
    """Checkpoint rows: per model an epoch-0 row, a middle row and a last row (its change = changes[i])."""
    rows = []
    for i, change in enumerate(changes):
        hp = {
            "hyperparameters.hidden": hidden,
            "hyperparameters.lr": 3e-3,
            "hyperparameters.labels": labels,
            "hyperparameters.encoding": "onehot",
            "hyperparameters.max_epochs": 30,
        }
        base = init_value + 0.01 * i
        for epoch, value in ((0, base), (5, base + (middle if middle is not None else change / 2)), (9, base + change)):
            rows.append(
                {
                    "model_id": f"{prefix}{i}",
                    "epoch": epoch,
                    "init": epoch == 0,
                    "competent": epoch == 9,
                    "cmni_effect_size": value,
                    "cmni": value / 10,
                    "n_mirror": 2 + (epoch == 9),
                    **hp,
                }
            )
    return {k: [r[k] for r in rows] for k in rows[0]}


def merge(*tables):
    return {k: sum((t[k] for t in tables), []) for k in tables[0]}


def test_every_model_gains_the_test_reaches_its_floor():
    pairs, tests, _ = paired.paired_tables(table([0.05 + 0.001 * i for i in range(10)]))
    t = next(t for t in tests if t.measure == "cmni_effect_size")
    assert t.n_models == 10 and t.n_competent == 10
    assert t.p_floor == 2.0**-10 and t.p_value == pytest.approx(2.0**-10)  # all ten changes positive: the exact floor
    assert t.verdict == "training increased it" and t.ci_low > 0
    assert t.mean_change == pytest.approx(np.mean([0.05 + 0.001 * i for i in range(10)]))


def test_changes_around_zero_are_not_an_increase():
    changes = [0.03, -0.03, 0.02, -0.02, 0.01, -0.01, 0.04, -0.04, 0.005, -0.005]
    t = next(t for t in paired.paired_tables(table(changes))[1] if t.measure == "cmni_effect_size")
    assert t.p_value > 0.3 and t.verdict == "no increase detected"
    assert t.ci_low < 0 < t.ci_high


def test_fewer_than_ten_seeds_is_not_established():
    t = paired.paired_tables(table([0.05] * 9))[1][0]
    assert t.p_value is None and "fewer than 10 seeds (9): not established" == t.verdict


def test_the_trained_checkpoint_is_the_last_not_the_highest():
    """A middle epoch with a huge index must not be chosen: the pair uses the last (best-loss) checkpoint."""
    pairs = paired.model_pairs(table([0.01] * 3, middle=5.0))
    assert all(p["trained_epoch"] == 9 for p in pairs)
    assert [p["cmni_effect_size_change"] for p in pairs] == pytest.approx([0.01] * 3)


def test_models_without_their_initial_checkpoint_are_left_out(tmp_path):
    t = table([0.05] * 12)
    keep = [i for i, (m, e) in enumerate(zip(t["model_id"], t["epoch"])) if not (m == "m0" and e == 0)]
    t = {k: [v[i] for i in keep] for k, v in t.items()}
    pq.write_table(pa.Table.from_pydict(t), tmp_path / "checkpoints.parquet")
    record = json.loads(paired.write_paired(tmp_path).read_text())
    assert record["models"] == 12 and record["models_paired"] == 11 and record["models_without_init"] == 1
    assert pq.read_table(tmp_path / "paired_models.parquet").num_rows == 11


def test_training_nulls_are_compared_at_model_level():
    """Ten rule-trained models gain 0.05; ten Toad-blind ones gain nothing: every rule model ranks above every null."""
    rule = table([0.05 + 0.001 * i for i in range(10)], prefix="r")
    blind = table([0.0] * 10, labels="toad_blind", prefix="b")
    _, tests, nulls = paired.paired_tables(merge(rule, blind))
    (row,) = nulls
    assert row["null"] == "toad_blind" and row["n_rule"] == row["n_null"] == 10
    assert row["p_floor"] == pytest.approx(1 / math.comb(20, 10)) and row["p_value"] == pytest.approx(row["p_floor"])
    assert {t.labels for t in tests} == {"rule", "toad_blind"}  # two configurations: labels are a hyper-parameter


def test_missing_table_is_a_clear_error(tmp_path):
    with pytest.raises(AnalysisError, match="checkpoints.parquet is missing; run `mirror-neurons analyze` first"):
        paired.write_paired(tmp_path)


def test_analyze_run_writes_the_paired_results(tmp_path):
    """A run whose models have epoch-0 and trained checkpoints: analyze_run pairs them, one row per model."""
    from analysis_synth import make_split, random_model
    from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_run
    from mirror_neurons.data.dataset import write_dataset
    from mirror_neurons.train.checkpoint import save_checkpoint

    data = write_dataset(
        tmp_path / "data",
        {"train": make_split(50, 11), "val": make_split(50, 12), "test": make_split(600, 10)},
        {"seed": 0},
    )
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    for m in range(3):
        for epoch in (0, 4):
            meta = {
                "model_id": f"m{m}",
                "epoch": epoch,
                "init": epoch == 0,
                "dataset_hash": ds_hash,
                "hyperparameters": {"hidden": [6, 5], "lr": 1e-3},
            }
            save_checkpoint(
                tmp_path / "run" / "models" / f"m{m}" / f"e{epoch}", random_model((6, 5), seed=10 * m + epoch), meta
            )
    out = analyze_run(tmp_path / "run", data, AnalysisConfig(controls=False, behaviour_games=4, behaviour_turns=20))
    pairs = pq.read_table(out / "paired_models.parquet").to_pydict()
    table_ = pq.read_table(out / "checkpoints.parquet").to_pydict()
    assert sorted(pairs["model_id"]) == ["m0", "m1", "m2"]
    for m, change in zip(pairs["model_id"], pairs["cmni_change"]):
        by_epoch = {e: c for mid, e, c in zip(table_["model_id"], table_["epoch"], table_["cmni"]) if mid == m}
        assert change == pytest.approx(by_epoch[4] - by_epoch[0])
    record = json.loads((out / "paired.json").read_text())
    assert record["configurations"][0]["verdict"] == "fewer than 10 seeds (3): not established"


RISE = [0.05 + 0.001 * i for i in range(10)]


@pytest.mark.parametrize(
    "tables, verdict, decided",
    [
        (
            (table(RISE, prefix="r"), table([0.0] * 10, labels="toad_blind", prefix="b")),
            "yes",
            "paired test against initialisation and the Toad-blind training null",
        ),
        (
            (table(RISE, prefix="r"), table(RISE, labels="toad_blind", prefix="b")),
            "not about the partner",
            "paired test against initialisation; Toad-blind training null",
        ),
        (
            (table([0.03, -0.03, 0.02, -0.02, 0.01, -0.01, 0.04, -0.04, 0.005, -0.005]),),
            "no",
            "paired test against initialisation",
        ),
        ((table(RISE[:9]),), "not established", "none"),
    ],
    ids=["rise-beyond-toad-blind", "rise-as-under-toad-blind", "no-rise", "too-few-seeds"],
)
def test_the_answer_and_the_control_that_decided_it(tables, verdict, decided):
    _, tests, nulls = paired.paired_tables(merge(*tables))
    a = paired.answer(tests, nulls)
    assert a["verdict"] == verdict and a["decided_by"] == decided
    assert a["headline"]


def depth_table(n_deep: int, n_shallow: int, per_model: int = 10) -> dict:
    """n_deep three-layer and n_shallow two-layer models: an epoch-0 row (high CMNI, must be ignored), per_model
    competent checkpoints whose CMNI puts every three-layer model below every shallow one, and a last, incompetent
    checkpoint with the opposite order (must be ignored too)."""
    rows = []
    for k in range(n_deep + n_shallow):
        deep = k < n_deep
        rows.append(
            {
                "model_id": f"m{k}",
                "n_layers": 3 if deep else 2,
                "epoch": 0,
                "init": True,
                "competent": False,
                "cmni": 0.5,
            }
        )
        for e in range(1, per_model + 1):
            rows.append(
                {
                    "model_id": f"m{k}",
                    "n_layers": 3 if deep else 2,
                    "epoch": e,
                    "init": False,
                    "competent": True,
                    "cmni": (0.0002 if deep else 0.006) + 1e-5 * (k * per_model + e),
                }
            )
        rows.append(
            {
                "model_id": f"m{k}",
                "n_layers": 3 if deep else 2,
                "epoch": per_model + 1,
                "init": False,
                "competent": False,
                "cmni": 0.9 if deep else 0.0,
            }
        )
    return {key: [r[key] for r in rows] for key in rows[0]}


def test_table_2_is_tested_over_models_not_checkpoints():
    d = paired.depth_comparison(depth_table(4, 4))
    # 8 values (one per model, its last competent checkpoint), complete separation: the exact one-sided p is
    # 1 / C(8, 4) = 1/70; the 80 competent checkpoints as if independent would give about 1e-20
    assert (d["n_deep"], d["n_shallow"]) == (4, 4)
    assert d["p_value"] == pytest.approx(1 / 70) and d["p_floor"] == pytest.approx(1 / 70)
    # the medians are of each model's last competent value (epoch 10), not of epoch 0 or the incompetent epoch 11
    deep_last = [0.0002 + 1e-5 * (k * 10 + 10) for k in range(4)]
    assert d["median_deep"] == pytest.approx(np.median(deep_last))
    assert d["median_shallow"] > 0.006


def test_table_2_with_too_few_models_gives_its_floor_and_no_p():
    d = paired.depth_comparison(depth_table(2, 2))
    assert d["p_value"] is None and d["p_floor"] == pytest.approx(1 / 6)  # 1 / C(4, 2)
    assert paired.depth_comparison(depth_table(0, 3))["p_floor"] is None


def test_paired_json_holds_the_depth_comparison(tmp_path):
    t = depth_table(4, 4)
    pq.write_table(pa.Table.from_pydict(t), tmp_path / "checkpoints.parquet")
    record = json.loads(paired.write_paired(tmp_path).read_text())
    assert record["depth"]["p_value"] == pytest.approx(1 / 70) and record["depth"]["n_deep"] == 4


def test_the_answer_reports_the_encoding_control():
    """Ten one-hot models that do not gain and ten raw-input twins (same recipe, other encoding) that all gain: the
    answer stays the case configuration's (no), and its evidence gives the raw twins' test, floor 2**-10."""
    onehot = table([-0.01 - 0.001 * i for i in range(10)])
    raw = table([0.05 + 0.001 * i for i in range(10)], prefix="r")
    raw["hyperparameters.encoding"] = ["raw"] * len(raw["hyperparameters.encoding"])
    blind = table([0.02] * 3, labels="toad_blind", prefix="b")  # another label set: not an encoding twin
    _, tests, nulls = paired.paired_tables(merge(onehot, raw, blind))
    a = paired.answer(tests, nulls)
    assert a["verdict"] == "no" and "onehot" in a["configuration"]
    line = next(e for e in a["evidence"] if "encoding control" in e)
    assert line.startswith("The same recipe on the raw input (10 seeds")
    assert "floor 0.0010" in line and "training raised it there" in line  # 2**-10 = 0.000977
    assert sum("encoding control" in e for e in a["evidence"]) == 1


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", r"paired.json is not valid JSON.*run `mirror-neurons analyze`"),
        ("[]", "paired.json holds a JSON list, not an object"),
        ('{"answer": {}}', r"paired.json is not the paired.json this version writes \(no key"),
    ],
)
def test_a_damaged_paired_json_is_one_error(tmp_path, text, message):
    (tmp_path / paired.PAIRED_FILE).write_text(text)
    with pytest.raises(AnalysisError, match=message):
        paired.answer_summary(tmp_path)


def test_a_paired_json_whose_answer_has_no_headline_is_refused(tmp_path):
    from mirror_neurons import tables

    planted = {"object": {}, "list": [], "string": "x", "int": 0, "float": 0.05, "bool": False}
    record = {k.name: planted[k.kind] for k in tables.PAIRED.keys}
    (tmp_path / paired.PAIRED_FILE).write_text(json.dumps(record))
    with pytest.raises(AnalysisError, match="holds no answer"):
        paired.answer_summary(tmp_path)
    record["answer"] = {"headline": "Yes.", "decided_by": "the paired test"}
    (tmp_path / paired.PAIRED_FILE).write_text(json.dumps(record))
    assert paired.answer_summary(tmp_path).endswith("Yes. (decided by: the paired test)")
