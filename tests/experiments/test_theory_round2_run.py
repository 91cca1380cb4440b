"""A tiny end-to-end run of round two: data, training with epoch-0 checkpoints, the paired analysis, resume."""

import json

import numpy as np
import pytest

from mirror_neurons.analysis import competence
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.experiments import theory
from mirror_neurons.experiments.theory import rules2
from mirror_neurons.experiments.theory.round2 import RoundTwoGrid, run_round_two, verdict_lines
from mirror_neurons.report.html import section_from_content, write_theory_report

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("theory2") / "tiny"
    grid = RoundTwoGrid.preset("tiny")
    summary = run_round_two(grid, out)
    return grid, out, summary, json.loads((out / "records.json").read_text())


def test_every_model_is_paired_with_its_own_initialisation(tiny):
    grid, out, summary, records = tiny
    assert len(records) == grid.n_models == summary["n_models"] == 16
    for r in records:
        folder = out / "cells" / r["cell"] / "run" / "models" / r["model_id"]
        metas = sorted((json.loads(p.read_text()) for p in folder.glob("*_epoch-*.json")), key=lambda m: m["epoch"])
        assert metas[0]["epoch"] == 0 and metas[0]["init"] is True  # the pair's initial partner
        assert r["trained_epoch"] == metas[-1]["epoch"] > 0  # the last (best) checkpoint, fixed before any measure
        assert r["es_change"] == pytest.approx(r["es_trained"] - r["es_init"])
        assert r["emergent_paired"] == (r["competent"] and r["es_change_z"] > 1.645)
        assert r["emergent_paper"] == (r["competent"] and r["cmni_trained"] > 0.005)
        assert r["depth"] == len(r["hidden"]) and r["width"] == r["hidden"][0]


def test_every_file_written_is_declared_and_fits(tiny):
    from declared_files import assert_declared_and_fitting

    from mirror_neurons.tables import THEORY2_LAYOUT

    files = assert_declared_and_fitting(tiny[1], THEORY2_LAYOUT)
    assert {"grid.json", "records.json", "summary.json"} <= set(files)


def test_arms_follow_the_measured_help_labels(tiny):
    _, out, summary, records = tiny
    for r in records:
        data = load_dataset(out / "cells" / r["cell"] / "data")
        has_help = bool(np.any(np.concatenate([data.train.label, data.val.label]) == int(competence.Action.HELP)))
        assert (r["arm"] == "with-help") == has_help
    assert {r["arm"] for r in records} == {"help-free", "with-help"}  # D 0 and D 1 in the tiny grid
    assert (
        summary["arms"]["with-help"]["definitions"]["paired"]["verdicts"][0]["verdict"] == "not tested"
    )  # no D verdict there


def test_outputs_resume_and_the_report_section(tiny, monkeypatch):
    grid, out, summary, _ = tiny
    text = (out / "results.md").read_text()
    assert (
        "Power analysis" in text
        and "Verdicts (pre-registered rules, round two)" in text
        and "mixed model" in text.lower()
    )
    assert summary["timing"]["cells"] == 2 and summary["timing"]["mean_s"] > 0

    def refuse(*a, **k):
        raise AssertionError("a complete cell must not be trained again")

    monkeypatch.setattr("mirror_neurons.train.trainer.train_many", refuse)
    again = run_round_two(grid, out)
    assert {k: v for k, v in again.items() if k != "timing"} == {k: v for k, v in summary.items() if k != "timing"}
    section = theory.load_section(out, number=9)
    assert section.title.startswith("9. Theory, round two")
    assert any(t.caption.startswith("Verdicts, help-free tasks") for t in section.tables)
    laid_out = section_from_content(section)
    assert len(laid_out.figures) == 1 and laid_out.figures[0].png_base64
    page = write_theory_report(out)
    assert "round two" in page.read_text()
    assert any(line.startswith("help-free tasks") for line in verdict_lines(summary))
    assert rules2.ROUND == json.loads((out / "grid.json").read_text())["round"]


def test_the_main_report_shows_round_two_as_its_last_section(tiny):
    """What ``report --theory DIR`` does after collecting a study: the loaded section, laid out, ends the page."""
    from mirror_neurons.report.html import render_report
    from mirror_neurons.report.sections import build_sections
    from tests.report.synthetic import synthetic_inputs

    _, out, _, _ = tiny
    inputs = synthetic_inputs()
    sections = build_sections(inputs)
    sections.append(section_from_content(theory.load_section(out, number=len(sections) + 1)))
    html = render_report(inputs, sections=sections)
    assert html.rfind("<section id=") == html.rfind('<section id="theory">') > 0  # the last section
    assert "Theory, round two" in html and "Verdicts, help-free tasks" in html
