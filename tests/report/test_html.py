"""The report's layout and readings, on synthetic inputs with planted values (no pipeline run)."""

from __future__ import annotations

import base64
import re

import numpy as np
import pytest

from mirror_neurons.report.html import render_report
from mirror_neurons.report.sections import build_sections, section_game, section_training, verdicts

from .synthetic import CLASSES_L1, synthetic_inputs
from .titles import TITLES


@pytest.fixture(scope="module")
def inputs():
    return synthetic_inputs()


@pytest.fixture(scope="module")
def sections(inputs):
    return build_sections(inputs)


@pytest.fixture(scope="module")
def html(inputs, sections):
    return render_report(inputs, created="fixed", sections=sections)


def test_sections_in_the_issue_order(html):
    positions = [html.index(f"<h2>{t}</h2>") for t in TITLES]
    assert positions == sorted(positions)


def test_self_contained(html):
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<link" not in html and "@import" not in html
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) == html.count("<img")
    assert len(images) >= 12
    for data in images:
        png = base64.b64decode(data)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") > 100 and int.from_bytes(png[20:24], "big") > 100


def test_every_figure_has_a_reading(sections):
    for section in sections:
        for fig in section.figures:
            assert fig.reading.endswith(".") and len(fig.reading) > 40, (section.title, fig.title)


def test_readings_come_from_the_data(sections):
    readings = {f.title: f.reading for s in sections for f in s.figures}
    # label distribution planted as hop 400 / jump 300 / leap 200 / help 100
    assert "'hop' is the most common best action (40.0 %)" in readings["Dataset best action (label)"]
    assert "'help' the rarest (10.0 %)" in readings["Dataset best action (label)"]
    # the two planted mirror units' means average to 0.05, 0.45, 0.55, 0.85
    mean_reading = readings["Mean activation per unit and scenario"]
    assert "2 mirror" in mean_reading and "0.050 with no distress" in mean_reading and "0.850 with both" in mean_reading
    # CMNI planted linspace(0.001, 0.012, 12) with p = 0.01 where CMNI > 0.004: 0.005..0.012, 8 of 12
    assert readings["CMNI, interval and null: competent checkpoints"].startswith(
        "8 of 12 competent checkpoints (66.7 %)"
    )
    # the case model's history peaks at epoch 2 (0.009) and ends at 0.003 (epoch 16)
    assert "peaks at epoch 2 (0.0090)" in readings["CMNI and validation loss against epoch"]
    assert "published curve peaks at epoch 7 (0.0082)" in readings["CMNI and validation loss against epoch"]


def test_a_reading_changes_with_its_data():
    a, b = synthetic_inputs(), synthetic_inputs()
    b.distributions["label"] = {"hop": 10, "jump": 70, "leap": 10, "help": 10}
    read = lambda inp: section_game(inp).figures[0].reading  # noqa: E731
    assert read(a) != read(b) and "'jump' is the most common best action (70.0 %)" in read(b)


def test_tables_one_and_two_are_ordered_by_cmni(sections):
    training = sections[1]
    t1, t2 = training.tables
    cmni = t1.columns.index("CMNI")
    cmni1 = [float(r[cmni]) for r in t1.rows]
    cmni2 = [float(r[cmni]) for r in t2.rows]
    assert cmni1 == sorted(cmni1, reverse=True) and cmni2 == sorted(cmni2)
    # only checkpoints under the 0.06 threshold are eligible: losses linspace(0.09, 0.05, 12)
    assert all(float(r[4]) < 0.06 for r in t1.rows + t2.rows)


def test_threshold_fallback_is_stated():
    inp = synthetic_inputs()
    inp.checkpoints["val_loss"] = np.linspace(0.2, 0.1, inp.n_checkpoints)
    inp.curves = {}
    training = section_training(inp)
    assert "no checkpoint reached the paper's threshold" in training.tables[0].caption
    table1 = next(r for r in verdicts(inp) if r[0].endswith("(Table 1)"))
    assert table1[3] == "not testable at this scale"


def test_verdicts(inputs):
    rows = {r[0][:30]: r for r in verdicts(inputs)}
    table1 = next(r for k, r in rows.items() if k.startswith("Checkpoints with val loss"))
    assert table1[3] == "reproduced"  # max CMNI under threshold 0.012 > 0.005
    peak = next(r for k, r in rows.items() if k.startswith("CMNI peaks early"))
    assert peak[3] == "reproduced"  # 0.009 at epoch 2 -> 0.003 at epoch 16
    # the synthetic inputs carry no paired.json: Table 2's model-level test (analysis.paired.depth_comparison) is absent
    deep = next(r for k, r in rows.items() if k.startswith("Three-layer"))
    assert deep[3] == "not established" and "analyze" in deep[4]
    verdict_words = ("reproduced", "not reproduced", "not testable at this scale", "established", "not established")
    assert all(r[3] in verdict_words and r[4] and r[5] for r in verdicts(inputs))


def test_flat_history_is_not_testable():
    inp = synthetic_inputs()
    inp.case.history["cmni"] = np.array([0.0003, 0.0001, 0.0, 0.0, 0.0])
    peak = next(r for r in verdicts(inp) if r[0].startswith("CMNI peaks early"))
    assert peak[3] == "not testable at this scale"


def test_html_escapes_text():
    inp = synthetic_inputs()
    inp.notes = ["<script>alert(1)</script>"]
    assert "<script>alert(1)" not in render_report(inp, sections=[])


def test_a_late_peak_is_not_reproduced():
    inp = synthetic_inputs()
    # loss reaches 0.06 at epoch 4; afterwards CMNI rises to the last-but-one checkpoint
    inp.case.history = {
        "epoch": np.array([1, 2, 4, 8, 16, 32, 64]),
        "cmni": np.array([0.02, 0.004, 0.004, 0.006, 0.009, 0.012, 0.011]),
        "val_loss": np.array([0.3, 0.08, 0.06, 0.058, 0.057, 0.056, 0.056]),
        "competent": np.ones(7),
    }
    peak = next(r for r in verdicts(inp) if r[0].startswith("CMNI peaks early"))
    assert peak[3] == "not reproduced" and "peak 0.0120 at epoch 32" in peak[2] and "comes late" in peak[4]
    inp.case.history["val_loss"] = np.full(7, 0.09)
    peak = next(r for r in verdicts(inp) if r[0].startswith("CMNI peaks early"))
    assert peak[3] == "not testable at this scale"


def _planted_circuit(target_action: int) -> dict:
    """What the analysis writes for a two-layer checkpoint whose mirror units feed layer-2 unit 3, which drives
    target_action (the wiring of tests/analysis/test_circuits.py's planted kernels, as ``self_preservation`` reads it)."""
    action = ("hop", "jump", "leap", "help")[target_action]
    sp = {"checkpoint": "planted", "mirror_units": [0, 1], "hub": 3, "mirror_z": 2.9, "output": action, "output_z": 3.5}
    return {
        "name": "planted",
        "classes": [list(CLASSES_L1), ["other"] * 4, ["other"] * 4],
        "kernels": [np.zeros((6, 100)), np.zeros((4, 6)), np.zeros((4, 4))],
        "competent": True,
        "self_preservation": sp,
    }


@pytest.mark.parametrize("action, verdict", [(2, "reproduced"), (3, "not reproduced")])
def test_circuit_claim_follows_the_planted_wiring(action, verdict):
    inp = synthetic_inputs()
    planted = _planted_circuit(action)
    inp.case.classes, inp.case.kernels = planted["classes"], planted["kernels"]
    inp.case.self_preservation = planted["self_preservation"]
    row = next(r for r in verdicts(inp) if r[0].startswith("A layer-2 unit"))
    assert row[3] == verdict and "layer-2 unit 3" in row[2]


def test_circuit_claim_uses_the_two_layer_checkpoint_when_the_case_has_one_layer():
    inp = synthetic_inputs()
    inp.case.kernels = inp.case.kernels[:1] + inp.case.kernels[2:]  # one hidden layer
    row = next(r for r in verdicts(inp) if r[0].startswith("A layer-2 unit"))
    assert row[3] == "not testable at this scale"
    inp.circuit = _planted_circuit(2)
    inp.circuit["self_preservation"]["checkpoint"] = "m9, epoch 3 (best two-layer checkpoint by the case rule)"
    row = next(r for r in verdicts(inp) if r[0].startswith("A layer-2 unit"))
    assert row[3] == "reproduced" and "best two-layer checkpoint" in row[2]
    inp.circuit["competent"] = False  # the same wiring in a network that did not learn the game is no evidence
    row = next(r for r in verdicts(inp) if r[0].startswith("A layer-2 unit"))
    assert row[3] == "not testable at this scale" and "no competent model" in row[2]
