"""Sweep files, presets, the CLI commands, and bad input at the boundary."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mirror_neurons.cli import app
from mirror_neurons.errors import ConfigError, DataError
from mirror_neurons.train.checkpoint import iter_checkpoints, load_checkpoint
from mirror_neurons.train.sweep import load_sweep, parse_sweep, run_sweep

SMALL = """
[sweep]
name = "small"
seed = 3
replicates = 2

[limits]
max_epochs = 2

[defaults]
dropout = 0.1
batch_size = 25

[grid]
hidden = [[8], [8, 8]]
lr = [1e-3, 3e-3]
"""


def write(tmp_path, text, name="sweep.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_grid_expands_and_seeds_are_spawned(tmp_path):
    spec = load_sweep(write(tmp_path, SMALL))
    assert [(c.model.hidden, c.lr) for c in spec.configs] == [
        ((8,), 1e-3),
        ((8,), 3e-3),
        ((8, 8), 1e-3),
        ((8, 8), 3e-3),
    ]
    assert all(c.model.dropout == 0.1 and c.max_epochs == 2 and c.patience == 10 for c in spec.configs)
    models = spec.models()
    assert len(models) == 8
    seeds = [c.seed for _, c in models]
    assert len(set(seeds)) == 8  # every model its own stream
    assert spec.models() == models  # and the same ones every time
    assert len({mid for mid, _ in models}) == 8


def test_paper_preset_matches_spec_section_5():
    spec = load_sweep("paper")
    assert len(spec.configs) == 50 and spec.replicates == 1
    depths = {len(c.model.hidden) for c in spec.configs}
    units = {h for c in spec.configs for h in c.model.hidden}
    lrs = sorted(c.lr for c in spec.configs)
    assert depths == {1, 2, 3}
    assert min(units) >= 5 and max(units) <= 50
    assert {3e-6, 1e-4, 2e-4} <= set(lrs)
    inside = [lr for lr in lrs if lr not in (3e-6, 1e-4, 2e-4)]
    assert min(inside) >= 4e-6 and max(inside) <= 5e-5
    assert {c.batch_size for c in spec.configs} <= set(range(20, 26))
    assert all(c.model.dropout == 0.12 and c.patience == 10 and c.max_epochs == 500 for c in spec.configs)
    assert all(c.loss == "mse_l2" and c.l2 == 0.01 and c.eps == 1e-7 for c in spec.configs)
    case = [c for c in spec.configs if c.model.hidden == (17, 17) and c.lr == 4e-6 and c.batch_size == 25]
    assert case, "the case-example model 2 x 17, lr 4e-6, batch 25 is in the sweep"


def test_demo_preset_can_answer_the_question_in_the_demo_budget():
    spec = load_sweep("demo")
    models = [c for _, c in spec.models()]
    # the budget: at most 30M model-rows of training in all (about 2 minutes on 2 cores, docs/training.md)
    assert sum(c.epoch_rows * c.max_epochs for c in models) <= 30_000_000
    assert {len(c.model.hidden) for c in models} == {1, 2, 3}
    recipe = lambda c: c.loss == "cross_entropy" and c.sampling == "balanced" and c.l2 == 0.0  # noqa: E731
    learners = [c for c in models if recipe(c) and c.labels == "rule"]
    assert len(learners) > len(models) / 2  # the competence issue's goal: at least half of the models competent
    # issue 13: >= 10 seeds of one competent configuration, and of its Toad-blind twin; shuffled labels too
    case = [c for c in learners if c.model.hidden == (17, 17) and c.model.encoding == "onehot"]
    blind = [c for c in models if c.labels == "toad_blind"]
    assert len(case) >= 10 and len(blind) >= 10 and any(c.labels == "shuffled" for c in models)
    assert {dataclasses.replace(c, seed=0, labels="rule") for c in blind} == {dataclasses.replace(case[0], seed=0)}
    raw = [c for c in learners if c.model.encoding == "raw" and c.model.hidden == (17, 17)]
    assert len(raw) >= 10  # the encoding control, with enough seeds for its own paired test
    # the paper-faithful models keep the paper's recipe, lr = 25 x the paper's (the header's rule)
    paper = [c for c in models if c.loss == "mse_l2"]
    assert len(paper) >= 2 and all(
        c.l2 == 0.01 and c.model.dropout == 0.12 and c.batch_size == 25 and c.model.encoding == "raw" for c in paper
    )
    assert any(c.model.hidden == (17, 17) and c.lr == pytest.approx(25 * 4e-6) for c in paper)


def test_competent_preset_trains_the_papers_architectures_with_the_competent_recipe():
    paper, competent = load_sweep("paper"), load_sweep("competent")
    assert [c.model.hidden for c in competent.configs] == [c.model.hidden for c in paper.configs]
    assert all(
        c.model.encoding == "onehot" and c.loss == "cross_entropy" and c.l2 == 0.0 and c.sampling == "balanced"
        for c in competent.configs
    )


@pytest.mark.parametrize(
    "text, match",
    [
        (
            "[sweep]\nname='x'\nsede=1\n[grid]\nlr=[1e-3]",
            r"unknown key 'sede' in \[sweep\]; allowed keys: name, description, seed",
        ),
        ("[grid]\nlr=[1e-3]\nlearning_rate=[1]", r"unknown key 'learning_rate' in \[grid\]"),
        ("[[configs]]\nhidden=[8]\nbatchsize=20", r"unknown key 'batchsize' in \[\[configs\]\] #1"),
        (
            "[limits]\nmax_epochs=0\n[grid]\nlr=[1e-3]",
            r"\[limits\] max_epochs = 0 is out of range; allowed \[1, 1e\+06\]",
        ),
        ("[limits]\npatience=2.5\n[grid]\nlr=[1e-3]", r"patience = 2.5 must be an integer"),
        ("[grid]\nlr=[2.0]", r"lr = 2.0 is out of range; allowed \(0, 1\]"),
        ("[grid]\nlr=[1e-3]\ndropout=[1.0]", r"dropout = 1.0 is out of range; allowed \[0, 1\)"),
        (
            "[[configs]]\nhidden=[0, 8]",
            r"hidden = \[0, 8\] is out of range; allowed a list of 1..16 widths, each 1..4096",
        ),
        ("[[configs]]\nbatch_size=0", r"batch_size = 0 is out of range; allowed \[1, 1e\+06\]"),
        ("[[configs]]\nloss='hinge'", "loss = 'hinge' is not allowed; choose one of mse_l2, mse, cross_entropy"),
        ("[[configs]]\nencoding='one-hot'", "encoding = 'one-hot' is not known; choose one of raw, onehot, recoded"),
        (
            "[defaults]\nsampling='stratified'\n[grid]\nlr=[1e-3]",
            "sampling = 'stratified' is not allowed; choose one of shuffle, balanced",
        ),
        ("[sweep]\nreplicates=0\n[grid]\nlr=[1e-3]", r"replicates = 0 is out of range; allowed 1..1000"),
        ("[grid]\nlr=1e-3", r"\[grid\] lr must be a non-empty list"),
        ("[sweep]\nname='empty'", "no configurations"),
        ("[limit]\nmax_epochs=3", r"unknown key 'limit' in top level"),
    ],
)
def test_bad_sweep_files_name_the_key_and_the_range(tmp_path, text, match):
    with pytest.raises(ConfigError, match=match):
        load_sweep(write(tmp_path, text))


def test_unknown_preset_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist; give a TOML file or a preset"):
        load_sweep(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_sweep(write(tmp_path, "[sweep\n"))


def test_run_sweep_writes_summary_and_resumes_to_the_same_result(tmp_path, tiny_dataset):
    spec = parse_sweep(
        {"sweep": {"seed": 1}, "limits": {"max_epochs": 2}, "grid": {"hidden": [[8], [4, 4]], "lr": [3e-3]}}
    )
    result = run_sweep(spec, tiny_dataset.path, tmp_path / "run")
    assert sorted(result.checkpoints) == iter_checkpoints(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [m["status"] for m in summary["models"]] == ["max_epochs", "max_epochs"]
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["dataset_hash"] == tiny_dataset.hash and set(run["versions"]) == {"mirror_neurons", "torch", "numpy"}
    again = run_sweep(spec, tiny_dataset.path, tmp_path / "run")
    assert again.checkpoints == result.checkpoints


def test_run_folder_of_another_sweep_is_refused(tmp_path, tiny_dataset):
    spec = parse_sweep({"limits": {"max_epochs": 1}, "grid": {"hidden": [[4]], "lr": [3e-3]}})
    run_sweep(spec, tiny_dataset.path, tmp_path / "run")
    other = parse_sweep({"limits": {"max_epochs": 1}, "grid": {"hidden": [[4]], "lr": [1e-3]}})
    with pytest.raises(ConfigError, match="holds another set of models; use another --out"):
        run_sweep(other, tiny_dataset.path, tmp_path / "run")


def test_dataset_with_wrong_schema_is_refused(tmp_path, tiny_dataset):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_dataset.path, broken)
    table = pq.read_table(broken / "train.parquet")
    table = table.set_column(0, "x0", pa.array(np.asarray(table.column("x0")).astype(np.float32)))
    pq.write_table(table, broken / "train.parquet")
    spec = parse_sweep({"limits": {"max_epochs": 1}, "grid": {"hidden": [[4]], "lr": [3e-3]}})
    with pytest.raises(DataError, match="does not match its manifest hash|wrong schema"):
        run_sweep(spec, broken, tmp_path / "run")
    manifest = json.loads((broken / "manifest.json").read_text())
    manifest.pop("files")  # no hashes to check: refused as a manifest of the wrong shape
    (broken / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="'files' = None must map"):
        run_sweep(spec, broken, tmp_path / "run")


runner = CliRunner()


def test_cli_train_and_sweep(tmp_path, tiny_dataset):
    out = tmp_path / "one"
    r = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(tiny_dataset.path),
            "--out",
            str(out),
            "--hidden",
            "6,6",
            "--lr",
            "3e-3",
            "--max-epochs",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "max_epochs after 2 epochs" in r.output
    ckpts = iter_checkpoints(out)
    assert ckpts and load_checkpoint(ckpts[-1]).model.config.hidden == (6, 6)

    spec = write(tmp_path, SMALL)
    r = runner.invoke(app, ["sweep", str(spec), "--data", str(tiny_dataset.path), "--out", str(tmp_path / "sweep")])
    assert r.exit_code == 0, r.output
    assert "sweep small: 8 models (8 max_epochs)" in r.output
    assert len({p.parent for p in iter_checkpoints(tmp_path / "sweep")}) == 8


@pytest.mark.parametrize(
    "args, match",
    [
        (["train", "--hidden", "17,x"], "--hidden '17,x' must be comma-separated integers"),
        (["train", "--lr", "-1"], r"lr = -1.0 is out of range"),
        (["sweep", "--preset", "paper", "x.toml"], "either a sweep file"),
        (["sweep", "--preset", "huge"], "unknown preset 'huge'"),
        (["train", "--encoding", "one-hot"], "encoding = 'one-hot' is not known; choose one of raw, onehot, recoded"),
        (["train", "--loss", "hinge"], "loss = 'hinge' is not allowed; choose one of mse_l2, mse, cross_entropy"),
        (["train", "--sampling", "x"], "sampling = 'x' is not allowed; choose one of shuffle, balanced"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, tiny_dataset, args, match):
    import re

    r = runner.invoke(app, [*args, "--data", str(tiny_dataset.path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2, r.output
    assert re.search(match, r.output)


def test_tensorboard_flag_without_tensorboard_is_a_clear_error(tmp_path, tiny_dataset):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here; the flag then works")
    r = runner.invoke(
        app,
        ["train", "--data", str(tiny_dataset.path), "--out", str(tmp_path / "o"), "--tensorboard", "--max-epochs", "1"],
    )
    assert r.exit_code == 2
    assert "needs the tensorboard package" in r.output


def test_a_configuration_may_set_its_own_number_of_seeds(tmp_path):
    text = "[sweep]\nseed=5\nreplicates=2\n[[configs]]\nhidden=[4]\nreplicates=3\n[[configs]]\nhidden=[5]\n"
    spec = load_sweep(write(tmp_path, text))
    models = spec.models()
    assert [mid[:6] for mid, _ in models] == ["c000r0", "c000r1", "c000r2", "c001r0", "c001r1"]
    assert len({c.seed for _, c in models}) == 5
    # the same root seed with uniform counts spawns the same seeds, in the same order, as before
    uniform = load_sweep(
        write(tmp_path, "[sweep]\nseed=5\nreplicates=2\n[[configs]]\nhidden=[4]\n[[configs]]\nhidden=[5]\n")
    )
    children = np.random.SeedSequence(5).spawn(4)
    assert [c.seed for _, c in uniform.models()] == [
        int(ch.generate_state(1, np.uint64)[0] >> np.uint64(1)) for ch in children
    ]
    with pytest.raises(ConfigError, match=r"\[\[configs\]\] #1 replicates = 0 is out of range; allowed 1..1000"):
        load_sweep(write(tmp_path, "[[configs]]\nhidden=[4]\nreplicates=0\n"))
