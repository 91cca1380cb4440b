"""The whole study at a tiny size, then its report checked as text and in a real headless Chromium.

One module-scoped run: a 3,000-state dataset, three tiny models for a few
short epochs, the analysis with small control sizes, and the report. The
report is then loaded in Debian's ``chromium`` (installed when missing and
we are root, as in CI); its screenshot is saved under ``test-artifacts/``.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from pathlib import Path

import pytest
import tiny_run
from typer.testing import CliRunner

from mirror_neurons.cli import app
from mirror_neurons.data.config import DataConfig
from mirror_neurons.errors import ConfigError
from mirror_neurons.study import STAGES, run_study
from mirror_neurons.train.checkpoint import iter_checkpoints
from mirror_neurons.train.sweep import parse_sweep

from . import browser
from .titles import TITLES

pytestmark = pytest.mark.slow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REFERENCE = Path(__file__).resolve().parents[2] / "src" / "mirror_neurons" / "report" / "reference_cmni_by_epoch.csv"

# The docs' tiny run (tests/tiny_run.py) with one epoch more, a third model of three layers, and longer
# behaviour games.
TINY_SWEEP = {
    **tiny_run.TINY_SWEEP,
    "limits": {**tiny_run.TINY_SWEEP["limits"], "max_epochs": 4},
    "configs": [*tiny_run.TINY_SWEEP["configs"], {"hidden": [6, 5, 4], "lr": 3e-3}],
}
TINY_ANALYSIS = dataclasses.replace(tiny_run.TINY_ANALYSIS, behaviour_games=16, behaviour_turns=40)


def tiny_study(out: Path) -> Path:
    return run_study(
        "demo",
        out,
        data_config=DataConfig.preset("demo", n_states=3000, seed=5),
        sweep=parse_sweep(TINY_SWEEP),
        analysis_config=TINY_ANALYSIS,
        progress=False,
    )


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "run"
    report = tiny_study(out)
    return out, report


def test_every_stage_ran_and_was_recorded(study):
    out, report = study
    record = json.loads((out / "study.json").read_text())
    assert record["preset"] == "demo" and set(record["stages"]) == set(STAGES)
    assert report == out / "report" / "report.html" and report.is_file()


def test_report_content(study):
    out, report = study
    html = report.read_text()
    positions = [html.index(f"<h2>{t}</h2>") for t in TITLES]
    assert positions == sorted(positions)
    text = re.sub(r"<[^>]+>", " ", html)
    # one checkpoint row per checkpoint file the sweep wrote
    n_checkpoints = len([p for p in iter_checkpoints(out / "sweep") if "analysis" not in p.parts])
    assert re.search(rf"<td>{n_checkpoints}</td>", html), n_checkpoints
    assert "Chosen rule: among the competent checkpoints (all checkpoints when none is competent)" in text
    assert "Learning curves against the baselines" in text and "energy rule: energy 0 -&gt; jump" in html
    assert "Table 1 style" in text and "Table 2 style" in text
    assert "frame 0" in text and "Frog f" in text  # the ASCII episode
    # the published curve, read here from the CSV independently of the report code
    rows = list(csv.DictReader(REFERENCE.open()))
    peak = max(rows, key=lambda r: float(r["cmni"]))
    epoch = int(re.search(r"epoch(\d+)", peak["checkpoint_id"]).group(1))
    assert f"published curve peaks at epoch {epoch} ({float(peak['cmni']):.4f})" in text
    verdicts = re.findall(r'<td class="(reproduced|not-reproduced|not-testable|established)">', html)
    assert len(verdicts) == 8  # the question, six claims of the paper's, one of ours
    # the answer is the first paragraph: three models of one seed each cannot be tested against initialisation
    assert html.index('id="answer"') < html.index("What this run can and cannot show")
    assert re.search(r"Did training make mirror units\?\s+Not established", text)
    assert "This is a demo run" in text  # the report says what the scale cannot show
    assert html.count("<figcaption>") == html.count("<img")
    for this, following in zip(TITLES[:9], TITLES[1:]):  # sections 1-9 each show at least one figure
        assert "<img" in html[html.index(f"<h2>{this}</h2>") : html.index(f"<h2>{following}</h2>")], this
    if "class ablated" not in text:
        assert "so there is no class to ablate" in text


def test_rerun_skips_finished_stages_and_resumes_missing_ones(study):
    out, report = study
    before = json.loads((out / "study.json").read_text())["stages"]
    tiny_study(out)
    assert json.loads((out / "study.json").read_text())["stages"] == before  # nothing ran again
    report.unlink()  # as if interrupted before the report
    tiny_study(out)
    after = json.loads((out / "study.json").read_text())["stages"]
    assert report.is_file()
    assert {k: after[k] for k in ("data", "sweep", "analysis")} == {k: before[k] for k in ("data", "sweep", "analysis")}
    assert after["report"]["finished"] >= before["report"]["finished"]


def test_an_analysis_from_before_the_baselines_runs_again(study):
    out, report = study
    before = json.loads((out / "study.json").read_text())["stages"]
    (out / "sweep" / "analysis" / "baselines.json").unlink()  # as an analysis written before issue 12 left it
    tiny_study(out)
    after = json.loads((out / "study.json").read_text())["stages"]
    assert (out / "sweep" / "analysis" / "baselines.json").is_file()
    assert after["analysis"]["finished"] > before["analysis"]["finished"] and after["sweep"] == before["sweep"]


def test_a_folder_of_another_preset_is_refused(study):
    out, _ = study
    with pytest.raises(ConfigError, match="holds a study of preset 'demo'"):
        run_study("paper", out, progress=False)


@pytest.fixture
def keep_threads():
    """The CLI sets torch's thread count for its process; give the test process its own back."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_report_command_renders_again(study, tmp_path, keep_threads):
    out, _ = study
    target = tmp_path / "again.html"
    result = CliRunner().invoke(app, ["report", str(out), "--out", str(target), "--figures", str(tmp_path / "figs")])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == f"report: {target}"
    html = target.read_text()
    assert "<h2>10. Reproduction summary</h2>" in html
    pngs = sorted((tmp_path / "figs").glob("*.png"))
    assert len(pngs) == html.count("<img") and all(p.read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_run_command_rejects_unknown_preset(tmp_path):
    result = CliRunner().invoke(app, ["run", "--preset", "huge", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "unknown preset 'huge'" in result.output


def test_report_command_on_an_unanalysed_folder(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "analysis/checkpoints.parquet" in result.output


def test_report_in_headless_chromium(study):
    _, report = study
    chromium = browser.find_chromium()
    if chromium is None:
        pytest.skip(browser.MISSING)
    page = browser.load(chromium, report)
    check = re.search(r'<div id="image-check" hidden="">([^<]*)</div>', page.dom)
    assert check, "the page's load script did not run"
    sizes = [tuple(map(int, s.split("x"))) for s in check.group(1).split()]
    assert len(sizes) == page.dom.count("<img") >= 10
    assert all(w > 0 and h > 0 for w, h in sizes), sizes
    assert page.console == [], page.console
    text = re.sub(r"<[^>]+>", " ", page.dom)
    for title in TITLES:
        assert title in text
    shot = browser.screenshot(chromium, report, ARTIFACTS / "report.png")
    assert shot.is_file() and shot.stat().st_size > 10_000
