"""analyze_checkpoint / analyze_run end to end on a tiny run, resumption, bad input and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analysis_synth import make_split, random_model
from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.cmni import compute_cmni
from mirror_neurons.analysis.groups import split_groups
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_checkpoint, analyze_run, temporal_view
from mirror_neurons.cli import app
from mirror_neurons.data.dataset import Split, write_dataset
from mirror_neurons.errors import AnalysisError, CheckpointError, ConfigError, DataError
from mirror_neurons.game.constants import Scenario
from mirror_neurons.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint

FAST = AnalysisConfig(
    n_random_init=20,
    n_permutations=20,
    n_bootstrap=20,
    n_decoding_permutations=20,
    n_ablation_draws=20,
    n_decoding_untrained=1,
    min_stratum_states=5,
    behaviour_games=4,
    behaviour_turns=20,
)


def make_data(path, test: Split | None = None):
    test = make_split(900, seed=10) if test is None else test
    return write_dataset(path, {"train": make_split(50, 11), "val": make_split(50, 12), "test": test}, {"seed": 0})


def make_run(run_dir, dataset_hash: str, n_models: int = 2, epochs=(1, 3)):
    for m in range(n_models):
        for e in epochs:
            model = random_model((6, 5), seed=10 * m + e)
            meta = {"model_id": f"m{m}", "epoch": e, "val_loss": 0.1 / e, "dataset_hash": dataset_hash,
                    "hyperparameters": {"lr": 1e-4 * (m + 1), "batch_size": 25}}  # fmt: skip
            save_checkpoint(run_dir / "models" / f"m{m}" / f"epoch-{e:04d}", model, meta)
    return sorted(run_dir.rglob("*.json"))


@pytest.fixture
def run(tmp_path):
    data = make_data(tmp_path / "data")
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    run_dir = tmp_path / "run"
    make_run(run_dir, ds_hash)
    return run_dir, data, ds_hash


def test_analyze_checkpoint_matches_the_parts():
    split = make_split(900, seed=10)
    model = random_model((6, 5), seed=4)
    paper = analyze_checkpoint(
        Checkpoint("x.json", model, {"weights_sha256": "ab"}), split, replace(FAST, matched=False)
    )
    acts = capture(model, split.x)
    direct = compute_cmni(acts, split_groups(split))
    assert paper.cmni.cmni == pytest.approx(direct.cmni, rel=1e-5)  # the paper's view: raw group means
    assert paper.row()["matched"] is False
    res = analyze_checkpoint(Checkpoint("x.json", model, {"weights_sha256": "ab"}), split, FAST)
    assert res.row()["matched"] is True and res.cmni.cmni != pytest.approx(direct.cmni, rel=1e-5)
    assert res.accuracy == pytest.approx(np.mean(acts["dense_2"].argmax(1) == split.label))
    row = res.row()
    assert row["n_units"] == 15 and 0 < row["p_permutation"] <= 1 and row["cmni_ci_low"] <= row["cmni_ci_high"]
    cols = res.unit_columns()
    assert all(len(v) == 15 for v in cols.values())
    assert set(cols["class"]) <= {"mirror", "anti-mirror", "differentiating", "mixed", "other"}
    # the same seed reproduces every control
    again = analyze_checkpoint(Checkpoint("x.json", model, {"weights_sha256": "ab"}), split, FAST)
    np.testing.assert_array_equal(again.controls.permutation.null, res.controls.permutation.null)
    np.testing.assert_array_equal(again.controls.random_init.null, res.controls.random_init.null)


def test_analyze_run_writes_tables_and_resumes(run):
    run_dir, data, _ = run
    seen = []
    out = analyze_run(run_dir, data, FAST, part_every=3, progress=lambda done, n, note: seen.append(note))
    assert len(seen) == 4
    ck = pq.read_table(out / "checkpoints.parquet").to_pylist()
    units = pq.read_table(out / "units.parquet")
    assert len(ck) == 4 and units.num_rows == 4 * 15
    assert not list((out / "parts").glob("*.parquet"))
    first = next(r for r in ck if r["model_id"] == "m1" and r["epoch"] == 3)
    assert first["hyperparameters.lr"] == pytest.approx(2e-4) and first["val_loss"] == pytest.approx(0.1 / 3)
    direct = analyze_checkpoint(load_checkpoint(run_dir / first["checkpoint"]), make_split(900, seed=10), FAST)
    assert first["cmni"] == pytest.approx(direct.cmni.cmni, rel=1e-5)
    assert first["cmni_effect_size"] == pytest.approx(direct.cmni_d.cmni, rel=1e-5)
    for key in (
        "p_random_init",
        "p_permutation",
        "cmni_ci_low",
        "cmni_ci_high",
        "n_mirror",
        "n_differentiating",
        "test_accuracy",
    ):
        assert first[key] is not None, key
    assert {
        "layer",
        "unit",
        "mean_frog",
        "kurt_none",
        "dfrog",
        "mns",
        "q_mirror",
        "d_frog",
        "auroc_toad",
        "class",
    } <= set(units.column_names)
    # the temporal view: per model, epochs in order with their val loss and CMNI
    tv = temporal_view(run_dir)
    assert sorted(tv) == ["m0", "m1"]
    np.testing.assert_array_equal(tv["m1"]["epoch"], [1, 3])
    np.testing.assert_allclose(tv["m1"]["val_loss"], [0.1, 0.1 / 3])
    assert tv["m1"]["cmni"][1] == pytest.approx(first["cmni"])
    # resume: nothing left to do, tables unchanged
    seen.clear()
    analyze_run(run_dir, data, FAST, progress=lambda done, n, note: seen.append(note))
    assert seen == [] and pq.read_table(out / "checkpoints.parquet").num_rows == 4
    # a new checkpoint: only it is analysed
    ds_hash = ck[0]["analysed_dataset_hash"]
    make_run(run_dir, ds_hash, n_models=1, epochs=(7,))
    analyze_run(run_dir, data, FAST, progress=lambda done, n, note: seen.append(note))
    assert seen == ["epoch-0007"]
    assert pq.read_table(out / "checkpoints.parquet").num_rows == 5
    assert pq.read_table(out / "units.parquet").num_rows == 5 * 15


@pytest.mark.slow
def test_workers_give_the_same_tables(run):
    run_dir, data, _ = run
    config = AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False)
    one = pq.read_table(analyze_run(run_dir, data, config) / "units.parquet")
    import shutil

    shutil.rmtree(run_dir / "analysis")
    two = pq.read_table(analyze_run(run_dir, data, config, workers=2) / "units.parquet")
    assert one.column_names == two.column_names
    for name in ("checkpoint", "layer", "class"):
        assert one.column(name).to_pylist() == two.column(name).to_pylist()
    for name in ("unit", "mean_frog", "kurt_both", "mns", "q_mirror"):
        np.testing.assert_allclose(one.column(name).to_numpy(), two.column(name).to_numpy(), rtol=1e-6, equal_nan=True)


def test_recorded_data_dir(run):
    run_dir, data, _ = run
    with pytest.raises(DataError, match="--data"):
        analyze_run(run_dir, None, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False))
    (run_dir / "run.json").write_text(json.dumps({"dataset_path": str(data)}))
    out = analyze_run(
        run_dir,
        None,
        AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False, significance=False, statistics=False),
    )
    assert pq.read_table(out / "checkpoints.parquet").num_rows == 4
    units = pq.read_table(out / "units.parquet")
    assert {"mean_none", "var_both", "mns"} <= set(units.column_names)
    assert not {"skew_none", "kl_frog_none", "q_mirror", "class"} & set(units.column_names)


def test_dataset_hash_mismatch(run, tmp_path):
    run_dir, _, _ = run
    other = make_data(tmp_path / "other", make_split(900, seed=99))
    with pytest.raises(DataError, match="--allow-other-data"):
        analyze_run(run_dir, other, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False))
    with pytest.warns(UserWarning, match="trained on dataset"):
        out = analyze_run(
            run_dir, other, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False), allow_other_data=True
        )
    assert pq.read_table(out / "checkpoints.parquet").num_rows == 4


def test_bad_checkpoints(run):
    run_dir, data, _ = run
    weights = run_dir / "models" / "m0" / "epoch-0001.safetensors"
    blob = weights.read_bytes()
    weights.write_bytes(blob[: len(blob) // 2])  # truncated
    with pytest.raises(CheckpointError, match="truncated"):
        analyze_run(run_dir, data, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False))
    weights.write_bytes(blob)
    meta_path = run_dir / "models" / "m0" / "epoch-0003.json"
    meta = json.loads(meta_path.read_text())
    meta["model"]["hidden"] = [4]  # the JSON describes another architecture than the weights hold
    meta.pop("weights_sha256")
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="describes a \\(4,\\) model"):
        analyze_run(run_dir, data, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False))


def test_empty_group_and_leaked_input_98(tmp_path):
    split = make_split(600, seed=3)
    no_toad = split.take(np.flatnonzero(split.scenario != Scenario.TOAD))
    ck = Checkpoint("x.json", random_model((6, 5)), {})
    with pytest.raises(AnalysisError, match="'toad'"):
        analyze_checkpoint(ck, no_toad, AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False))
    x = split.x.copy()
    x[:, 98] = split.scenario  # the published pipeline's leak
    with pytest.raises(DataError, match="input 98"):
        analyze_checkpoint(
            ck,
            Split(x, split.label, split.scenario, split.frog_pos),
            AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False),
        )
    with pytest.raises(ConfigError, match="alpha"):
        AnalysisConfig(alpha=1.5)


def test_cli_analyze(run):
    run_dir, data, _ = run
    runner = CliRunner()
    res = runner.invoke(app, ["analyze", str(run_dir), "--data", str(data), "--no-controls"])
    assert res.exit_code == 0, res.output
    assert "checkpoints analysed" in res.output and (run_dir / "analysis" / "units.parquet").is_file()
    flat = " ".join(res.output.split())  # the console wraps long lines
    assert "competent (" in flat and "energy rule: accuracy" in flat and "of 2 models" in flat
    bad = runner.invoke(app, ["analyze", str(run_dir / "nope"), "--data", str(data)])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    assert pq.read_table(run_dir / "analysis" / "checkpoints.parquet").column("matched").to_pylist() == [True] * 4
    paper = runner.invoke(
        app, ["analyze", str(run_dir), "--data", str(data), "--no-controls", "--paper-view", "--threads", "1"]
    )
    assert paper.exit_code == 0, paper.output
    assert pq.read_table(run_dir / "analysis" / "checkpoints.parquet").column("matched").to_pylist() == [False] * 4


# -- competence (issue 12) --------------------------------------------------------------


def rule_split(n: int = 900, seed: int = 10) -> Split:
    """make_split's states with labels a 3-unit MLP can compute: jump exactly at energy 0 (as the labeling
    rule), otherwise input 96 says hop (0), leap (1) or help (2)."""
    import dataclasses

    s = make_split(n, seed=seed)
    x = s.x.copy()
    x[:, 96] = np.arange(n) % 3
    x[:, 97] = np.where(np.arange(n) % 4 == 0, 0, 1 + x[:, 97] % 20)
    label = np.select([x[:, 97] == 0, x[:, 96] == 1, x[:, 96] == 2], [1, 2, 3], 0).astype(np.uint8)
    return dataclasses.replace(s, x=x, label=label)


def rule_model(learned: bool):
    """1 x 3 MLP: h0 = relu(1 - energy), h1 = relu(x96), h2 = relu(x96 - 1); outputs hop 0.5, jump 2 h0,
    and, when ``learned``, leap 2 h1 - 4 h2 (1 only at x96 = 1) and help 2 h2; otherwise the energy rule."""
    import torch

    from mirror_neurons.train.model import MLP, ModelConfig

    model = MLP(ModelConfig(hidden=(3,), dropout=0.0))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.zero_()
            layer.bias.zero_()
        first, out = model.layers
        first.weight[0, 97], first.bias[0] = -1.0, 1.0
        first.weight[1, 96] = 1.0
        first.weight[2, 96], first.bias[2] = 1.0, -1.0
        out.bias[0] = 0.5
        out.weight[1, 0] = 2.0
        if learned:
            out.weight[2, 1], out.weight[2, 2], out.weight[3, 2] = 2.0, -4.0, 2.0
    return model.eval()


QUICK = AnalysisConfig(behaviour_games=4, behaviour_turns=20, controls=False, significance=False, statistics=False)


def test_a_network_that_learned_the_rule_is_competent_one_that_copies_the_energy_rule_is_not():
    split = rule_split()
    good = analyze_checkpoint(Checkpoint("good.json", rule_model(True), {}), split, QUICK)
    energy = analyze_checkpoint(Checkpoint("energy.json", rule_model(False), {}), split, QUICK)
    assert good.accuracy == 1.0 and good.competent
    np.testing.assert_allclose(good.scores.recall, [1, 1, 1, 1])
    np.testing.assert_allclose(energy.scores.recall, [1, 1, 0, 0])  # what the energy rule scores on these states
    assert energy.scores.macro_recall == pytest.approx(0.5) and not energy.competent
    row = energy.row()
    n_leap = int((split.label == 2).sum())
    assert row["confusion_leap_hop"] == n_leap and row["confusion_leap_leap"] == 0 and row["competent"] is False
    assert row["recall_jump"] == 1.0 and row["macro_recall"] == pytest.approx(0.5)
    assert sum(row[c] for c in row if c.startswith("confusion_")) == len(split)


def test_analyze_run_writes_competence_and_baselines(tmp_path):
    split = rule_split()
    data = make_data(tmp_path / "data", test=split)
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    run_dir = tmp_path / "run"
    for name, learned in (("good", True), ("energy", False)):
        save_checkpoint(
            run_dir / "models" / name / "epoch-0001",
            rule_model(learned),
            {"model_id": name, "epoch": 1, "val_loss": 0.1, "dataset_hash": ds_hash},
        )
    out = analyze_run(run_dir, data, QUICK)
    rows = {r["model_id"]: r for r in pq.read_table(out / "checkpoints.parquet").to_pylist()}
    assert rows["good"]["competent"] is True and rows["energy"]["competent"] is False
    assert rows["good"]["recall_help"] == 1.0 and rows["energy"]["recall_help"] == 0.0
    base = json.loads((out / "baselines.json").read_text())
    energy = base["baselines"]["energy_rule"]
    assert energy["recall"] == {"hop": 1.0, "jump": 1.0, "leap": 0.0, "help": 0.0} and energy["macro_recall"] == 0.5
    assert base["rule"]["margin"] == 0.15 and base["rule"]["floor"] == 0.30
    assert base["rule"]["competent_macro_recall"] == pytest.approx(0.65)
    # train and val (make_split, random labels) never share an input with the test set: the ceiling is 1 here
    assert base["baselines"]["ceiling"]["accuracy"] == 1.0
    assert np.array(energy["confusion"]).sum() == len(split)
    from mirror_neurons.analysis.pipeline import competence_summary

    line = competence_summary(out)
    assert "1 of 2 checkpoints, 1 of 2 models" in line and "macro recall 0.500" in line


def test_rows_of_an_older_table_version_are_analysed_again(run):
    """A table written before the competence columns (older digest, no such columns) is not reused."""
    import hashlib
    from dataclasses import asdict

    import pyarrow as pa

    run_dir, data, _ = run
    out = analyze_run(run_dir, data, QUICK)
    table = pq.read_table(out / "checkpoints.parquet")
    old_digest = hashlib.sha256(json.dumps(asdict(QUICK), sort_keys=True).encode()).hexdigest()[
        :16
    ]  # the version-1 formula
    assert old_digest != QUICK.digest()
    keep = [c for c in table.column_names if c != "competent" and not c.startswith(("recall_", "confusion_", "macro_"))]
    old = table.select(keep).set_column(
        keep.index("analysis_config"), "analysis_config", pa.array([old_digest] * table.num_rows)
    )
    pq.write_table(old, out / "checkpoints.parquet")
    seen = []
    analyze_run(run_dir, data, QUICK, progress=lambda done, n, note: seen.append(note))
    assert len(seen) == 4
    again = pq.read_table(out / "checkpoints.parquet")
    assert again.num_rows == 4 and None not in again.column("competent").to_pylist()


def test_competence_summary_without_baselines_is_a_one_line_error(run):
    from mirror_neurons.analysis.pipeline import competence_summary

    run_dir, data, _ = run
    out = analyze_run(run_dir, data, QUICK)
    (out / "baselines.json").unlink()
    with pytest.raises(AnalysisError, match="baselines.json does not exist; run `mirror-neurons analyze`") as info:
        competence_summary(out)
    assert "\n" not in str(info.value)


def test_analyze_run_shares_architecture_nulls_and_adds_model_q_values(run):
    run_dir, data, _ = run
    out = analyze_run(run_dir, data, FAST, threads=1)
    cached = sorted((out / "architectures").glob("*.npz"))
    assert len(cached) == 1  # both models are 6 x 5 raw networks: one architecture, measured once
    ck = pq.read_table(out / "checkpoints.parquet").to_pylist()
    assert len({r["p_random_init"] for r in ck}) >= 1 and len({r["null_random_init_mean"] for r in ck}) == 1
    for m in ("m0", "m1"):
        mine = [r for r in ck if r["model_id"] == m]
        p = np.array([r["p_permutation"] for r in mine])
        order = np.argsort(p)
        expected = np.minimum.accumulate((p[order] * len(p) / np.arange(1, len(p) + 1))[::-1])[::-1]  # BH by hand
        np.testing.assert_allclose(np.array([r["q_permutation"] for r in mine])[order], np.minimum(expected, 1))
    assert all("q_random_init_effect_size" in r and "p_random_init_floor" in r for r in ck)


def test_ablations_are_measured_on_the_capped_subsample():
    """With ``ablation_states`` below the test set's size, each class's effect is the ablation on the fixed
    subsample of the prepared test states, recomputed here from its parts."""
    from mirror_neurons.analysis.ablation import ablate_class
    from mirror_neurons.analysis.pipeline import ablation_rows, prepare_test

    split = make_split(900, seed=10)
    cfg = replace(FAST, ablation_states=300)
    for seed in range(4, 12):  # a model with at least one unit class
        model = random_model((6, 5), seed=seed)
        res = analyze_checkpoint(Checkpoint("x.json", model, {"weights_sha256": "ab"}), split, cfg)
        if res.ablation:
            break
    else:
        pytest.skip("no random model with a unit class")
    row = res.row()
    assert row["ablate.n_states"] == 300
    test = prepare_test(split, config=cfg)
    rows = ablation_rows(len(test.label), cfg)
    cls, got = next(iter(res.ablation.items()))
    direct = ablate_class(
        model, test.x[rows], test.scenario[rows], res.classes == cls, np.random.default_rng(0), n_draws=0
    )
    assert got.changed == pytest.approx(direct.changed) and len(got.random_changed) == 20
    whole = analyze_checkpoint(
        Checkpoint("x.json", model, {"weights_sha256": "ab"}), split, replace(FAST, ablation_states=0)
    )
    assert whole.row()["ablate.n_states"] == len(test.label)
