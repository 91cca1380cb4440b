"""A study as one TOML file (issue 15, items 4, 7 and 12): the shipped presets, validation, `run --config`.

The presets' expected contents come from what `make demo` ran before study
files existed (``DataConfig.preset``, the sweep presets, the demo's documented
control sizes in docs/report.md), not from the parser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mirror_neurons.analysis.pipeline import AnalysisConfig
from mirror_neurons.cli import app
from mirror_neurons.data.config import DataConfig
from mirror_neurons.errors import ConfigError, MirrorNeuronsError
from mirror_neurons.study import PRESETS, StudyPaths, check_study_folder, load_study, study_preset
from mirror_neurons.train.sweep import load_sweep

runner = CliRunner()

TINY = """\
[study]
name = "tiny"
seed = 5

[data]
n_states = 3000

[sweep]
[sweep.limits]
max_epochs = 2
patience = 2
epoch_rows = 1500
[sweep.defaults]
dropout = 0.12
batch_size = 25
[[sweep.configs]]
hidden = [8, 8]
lr = 3e-3
[[sweep.configs]]
hidden = [6]
lr = 5e-3

[analysis]   # p-value floors below 0.05 on a tiny test set
n_random_init = 20
n_permutations = 20
n_bootstrap = 20
n_decoding_permutations = 20
n_ablation_draws = 20
n_decoding_untrained = 1
min_stratum_states = 2
behaviour_games = 8
behaviour_turns = 20
"""


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_the_presets_are_the_studies_make_demo_ran():
    demo, paper = study_preset("demo"), study_preset("paper")
    assert demo.data == DataConfig.preset("demo") and paper.data == DataConfig.preset("paper")
    assert demo.sweep.to_dict()["configs"] == load_sweep("demo").to_dict()["configs"] and demo.sweep.seed == 2511
    assert paper.sweep.to_dict()["configs"] == load_sweep("paper").to_dict()["configs"]
    # docs/report.md: 39 random initialisations and decoding permutations, 20 ablation draws, 999 and 1000 in the normal limit
    assert demo.analysis == AnalysisConfig(
        n_random_init=39, n_decoding_permutations=39, n_ablation_draws=20, n_permutations=999, n_bootstrap=1000
    )
    assert paper.analysis == AnalysisConfig()
    assert set(PRESETS) == {"demo", "paper"}


def test_an_inline_sweep_and_a_sweep_file_are_the_same_study(tmp_path):
    (tmp_path / "s.toml").write_text(
        '[sweep]\nname = "tiny"\n[limits]\nmax_epochs = 2\n[[configs]]\nhidden = [6]\nlr = 5e-3\n'
    )
    (tmp_path / "a.toml").write_text('[study]\nname = "tiny"\n[sweep]\nfile = "s.toml"\n')
    (tmp_path / "b.toml").write_text(
        '[study]\nname = "tiny"\n[sweep]\n[sweep.limits]\nmax_epochs = 2\n[[sweep.configs]]\nhidden = [6]\nlr = 5e-3\n'
    )
    a, b = load_study(tmp_path / "a.toml"), load_study(tmp_path / "b.toml")
    assert a.settings() == b.settings() and len(a.sweep.models()) == 1


def test_one_seed_sets_every_stage(tmp_path):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    spec = load_study(path)
    assert (spec.data.seed, spec.sweep.seed, spec.analysis.seed) == (5, 5, 5)
    assert spec.data.n_states == 3000 and (spec.analysis.behaviour_games, spec.analysis.behaviour_turns) == (8, 20)


BAD = [
    ("unknown table", "[studdy]\nname = 'x'\n", "unknown key 'studdy' in the top level"),
    ("unknown data key", "[data]\nstates = 3000\n", "unknown key 'states' in [data]; allowed keys: preset, n_states"),
    ("a string for a count", "[data]\nn_states = 'many'\n", "[data] n_states = 'many' must be an integer"),
    ("a data value out of range", "[data]\nveil = 2.0\n", "[data] veil must be in 0..1, got 2.0"),
    ("an unknown data preset", "[data]\npreset = 'huge'\n", "[data] preset = 'huge' is not a data preset"),
    ("a negative seed", "[study]\nseed = -1\n", "[study] seed = -1 must be an integer in 0..2**64-1"),
    (
        "two sweep sources",
        "[sweep]\npreset = 'demo'\nfile = 's.toml'\n",
        "[sweep] takes one of: preset = NAME, file = PATH",
    ),
    ("a missing sweep file", "[sweep]\nfile = 'nope.toml'\n", "sweep file"),
    ("an unknown sweep preset", "[sweep]\npreset = 'huge'\n", "unknown preset 'huge'"),
    ("a bad sweep value", "[sweep]\n[[sweep.configs]]\nhidden = [4]\nlr = -1.0\n", "lr = -1.0 is out of range"),
    (
        "an analysis floor above alpha",
        "[analysis]\nn_random_init = 10\n",
        "n_random_init = 10 gives a smallest p-value of 1/11",
    ),
    (
        "a bool where a count goes",
        "[analysis]\nn_bootstrap = true\n",
        "[analysis] n_bootstrap = True must be an integer",
    ),
    (
        "behaviour games of 0",
        "[analysis]\nbehaviour_games = 0\n",
        "behaviour_games = 0 is out of range; allowed 1..1000000",
    ),
    ("an earlier file's [report] games", "[report]\ngames = 8\n", "[report] games is now [analysis] behaviour_games"),
    ("not TOML", "[study\n", "is not valid TOML"),
]


@pytest.mark.parametrize(("case", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_study_file_is_one_line_naming_the_file_and_key(tmp_path, case, text, message):
    path = tmp_path / "bad.toml"
    if "[sweep]" not in text and not text.startswith("[study\n"):
        text += "\n[sweep]\npreset = 'demo'\n"
    path.write_text(text)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", "--config", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(f"error: {path}"), result.stderr
    assert message in result.stderr and not out.exists()


def test_a_missing_study_file_and_preset_plus_file(tmp_path):
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "study file" in result.stderr and "does not exist" in result.stderr
    result = runner.invoke(
        app, ["run", "--preset", "demo", "--config", str(tmp_path / "none.toml"), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2 and "not both" in result.stderr


# --- item 4: --out must be a study folder ---------------------------------------------------------


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("manifest.json", "is a dataset folder, not a study folder"),
        ("run.json", "is a training run folder"),
        ("notes.txt", "holds files that are not a study's (notes.txt)"),
    ],
)
def test_run_refuses_a_folder_that_is_not_a_study(tmp_path, marker, message):
    folder = tmp_path / "existing"
    folder.mkdir()
    (folder / marker).write_text("{}")
    result = runner.invoke(app, ["run", "--out", str(folder)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert (
        len(lines) == 1
        and f"--out {folder} {message}" in lines[0]
        and "give a new or empty folder for --out" in lines[0]
    )
    assert sorted(p.name for p in folder.iterdir()) == [marker]  # nothing written into it


def test_an_empty_or_interrupted_study_folder_is_accepted(tmp_path):
    check_study_folder(StudyPaths(tmp_path))  # empty
    (tmp_path / ".data.123.partial").mkdir()  # a data stage killed before its rename
    (tmp_path / "data").mkdir()
    check_study_folder(StudyPaths(tmp_path))


def test_tensorboard_without_the_package_fails_before_any_stage(tmp_path):
    import importlib.util

    if importlib.util.find_spec("tensorboard") is not None:
        pytest.skip("tensorboard is installed here")
    (tmp_path / "tiny.toml").write_text(TINY)
    out = tmp_path / "study"
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "tiny.toml"), "--out", str(out), "--tensorboard"])
    assert result.exit_code == 2 and "needs the tensorboard package" in result.stderr and not out.exists()


# --- run --config, end to end -----------------------------------------------------------------------


@pytest.mark.slow
def test_run_config_end_to_end_with_tensorboard_seed_and_resume(tmp_path, monkeypatch):
    import mirror_neurons.train.progress as progress

    logged: list[dict] = []
    monkeypatch.setattr(
        progress, "tensorboard_log", lambda folder: lambda event: logged.append({"folder": folder, **event})
    )
    monkeypatch.chdir(tmp_path)
    Path("tiny.toml").write_text(TINY)
    result = runner.invoke(app, ["run", "--config", "tiny.toml", "--tensorboard", "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = Path("runs") / "tiny"  # the default --out is runs/NAME
    assert result.stdout.strip().splitlines() == [
        f"report: {out / 'report' / 'report.html'}"
    ]  # progress went to stderr
    record = json.loads((out / "study.json").read_text())
    assert record["preset"] == "tiny" and set(record["stages"]) == {"data", "sweep", "analysis", "report"}
    assert record["study"]["data"]["n_states"] == 3000 and record["study"]["data"]["seed"] == 5
    assert record["study"]["sweep"]["seed"] == 5 and record["study"]["analysis"]["seed"] == 5
    # the tensorboard log saw every epoch of both models, under the sweep's folder
    models = {p.name for p in (out / "sweep" / "models").iterdir() if p.is_dir()}  # RUN/models/<model_id>/
    assert {e["model_id"] for e in logged} == models and len(models) == 2
    assert {e["folder"] for e in logged} == {out / "sweep" / "tensorboard"}

    # the report's tables beside it: each CSV's header is a header row of the page (item 12)
    import csv
    import html as html_lib

    import re

    page = (out / "report" / "report.html").read_text()
    headers = [
        [html_lib.unescape(c) for c in re.findall(r"<th>(.*?)</th>", row)]
        for row in re.findall(r"<thead><tr>(.*?)</tr></thead>", page)
    ]
    csvs = sorted((out / "report" / "tables").glob("*.csv"))
    assert len(csvs) == len(headers) and (out / "report" / "tables" / "tables.md").is_file()
    for path, header in zip(csvs, headers):
        assert next(csv.reader(path.open(newline=""))) == header, path.name

    again = runner.invoke(app, ["run", "--config", "tiny.toml"])
    assert again.exit_code == 0 and json.loads((out / "study.json").read_text())["stages"] == record["stages"]

    other = runner.invoke(app, ["run", "--config", "tiny.toml", "--seed", "6"])
    assert other.exit_code == 2 and "holds study 'tiny' with other data, sweep, analysis settings" in other.stderr


def test_the_example_in_docs_is_a_valid_study():
    import re
    import tomllib

    from mirror_neurons.study import parse_study

    text = (Path(__file__).parents[1] / "docs" / "study.md").read_text()
    example = re.search(r"```toml\n(.*?)```", text, flags=re.S).group(1)
    spec = parse_study(tomllib.loads(example), source="docs/study.md")
    assert spec.name == "small-onehot" and len(spec.sweep.models()) == 10  # replicates = 10 of one configuration
    assert (spec.data.n_states, spec.data.seed, spec.sweep.seed, spec.analysis.seed) == (100_000, 7, 7, 7)


def test_a_study_recorded_before_a_config_gained_a_field_still_resumes(tmp_path):
    from mirror_neurons.study import check_same_study

    spec = study_preset("demo")
    recorded = spec.settings()
    del recorded["analysis"]["n_ablation_draws"]  # as a version without that field recorded it
    recorded["data"]["game"]["a_field_since_removed"] = 1
    check_same_study(StudyPaths(tmp_path), {"preset": "demo", "study": recorded}, spec)  # no error
    recorded["analysis"]["n_random_init"] = 50  # a setting both versions know, changed
    with pytest.raises(ConfigError, match="with other analysis settings"):
        check_same_study(StudyPaths(tmp_path), {"preset": "demo", "study": recorded}, spec)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "study.json is not valid JSON"),
        ("[]", "study.json holds a JSON list, not an object"),
        ('{"preset": "demo"}', "study.json is not the study.json this version writes .*no key 'package_version'"),
    ],
)
def test_a_damaged_study_record_is_one_line_exit_2(tmp_path, text, message):
    from mirror_neurons.study import read_record

    (tmp_path / "study.json").write_text(text)
    with pytest.raises(MirrorNeuronsError, match=message):
        read_record(StudyPaths(tmp_path))
    result = CliRunner().invoke(app, ["run", "--preset", "demo", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and message.split(" ")[0] in result.stderr
