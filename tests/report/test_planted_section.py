"""The planted-units section: figures, readings from the numbers, tables, and its place in the report."""

from __future__ import annotations

from dataclasses import asdict

import matplotlib.pyplot as plt
import numpy as np

from mirror_neurons.analysis import planted as P
from mirror_neurons.analysis.pipeline import AnalysisConfig
from mirror_neurons.experiments.planted import PlantedGrid, summarise
from mirror_neurons.report import plots
from mirror_neurons.report.sections import planted_curves, planted_negatives, section_planted


def fake_summary() -> dict:
    """Two models; mirror plants found from d = 0.5; the energy decoy called differentiating half the time."""
    units = []
    for model in ("a", "b"):
        for effect, cls in [(0.0, "other"), (0.2, "other"), (0.5, "mirror"), (2.0, "mirror")]:
            units += [
                {
                    "grid": "unit",
                    "kind": "mirror",
                    "effect": effect,
                    "model_id": model,
                    "class": cls,
                    "mns": effect,
                    "q_mirror": 0.5 if effect == 0 else 0.001,
                    "d_frog": effect,
                    "d_toad": effect,
                }
            ] * 2
        units += [
            {
                "grid": "unit",
                "kind": "energy",
                "effect": 2.0,
                "model_id": model,
                "class": c,
                "mns": 0.0,
                "q_mirror": 0.9,
                "d_frog": 0.0,
                "d_toad": 0.3,
            }
            for c in ("differentiating", "other")
        ]
    analyses = [
        {
            "grid": "population",
            "kind": "mirror",
            "effect": e,
            "count": 3,
            "model_id": m,
            "rep": 0,
            "cmni": 0.1 + e,
            "cmni_effect_size": e / 10,
            "n_mirror": 3 * (e > 0),
            "p_random_init": 0.01 if e else 0.5,
        }
        for m in ("a", "b")
        for e in (0.0, 2.0)
    ]
    return {
        **summarise(units, analyses, 0.05),
        # what run_planted adds to the tables, as it writes them
        "source": "runs/demo",
        "sweep": "runs/demo/sweep",
        "data_dir": "runs/demo/data",
        "grid": asdict(PlantedGrid()),
        "analysis_config": asdict(AnalysisConfig()),
        "models": [{"model_id": m, "checkpoint": f"models/{m}/{m}_epoch-0010.json"} for m in ("a", "b")],
        "seconds": 12.5,
    }


def test_section_reads_its_numbers():
    s = section_planted(fake_summary(), number=10)
    assert s.title.startswith("10. What the instrument can see")
    assert len(s.figures) == 2 and all(f.png_base64 for f in s.figures)
    detection, negatives = (f.reading for f in s.figures)
    assert "class=mirror calls 0.0 % of pure-noise units and sees d >= 0.5" in detection
    assert "called differentiating (wrongly) in up to 50.0 %" in negatives
    plant_table, population = s.tables
    assert plant_table.rows[0][0] == "mirror d +0" and "class=mirror" in plant_table.columns
    assert population.rows[1][population.columns.index("delta.cmni")] == "2.0000"
    assert population.rows[1][population.columns.index("p_random_init<alpha")] == "100.0 %"


def test_curves_and_negatives_come_from_the_detection_table():
    s = fake_summary()
    effects, rate, lo, hi = planted_curves(s)["class=mirror"]
    assert effects == [0.0, 0.2, 0.5, 2.0] and rate == [0.0, 0.0, 1.0, 1.0] and all(a <= b for a, b in zip(lo, hi))
    labels = [r[0] for r in planted_negatives(s, "class=mirror")]
    assert labels == ["mirror d +0", "energy SD +2"]


def test_plots_draw_on_the_axis_given():
    fig, ax = plt.subplots()
    artists = plots.plot_detection({"m": ([0, 1], [0.0, 1.0], [0.0, 0.8], [0.2, 1.0])}, ax=ax, alpha=0.05)
    assert len(artists) == 2 and [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    artists = plots.plot_false_positives([("x", 0.1, 0.0, 0.3), ("y", 0.0, 0.0, 0.1)], ax=ax)
    assert len(artists[0].patches) == 2
    plt.close(fig)


def test_an_empty_summary_says_so():
    s = section_planted({**summarise([], [], 0.05), "models": []})
    assert s.figures == [] and s.notes == ["No planted unit was analysed."]


def test_measures_added_later_appear_as_curves():
    s = fake_summary()
    units = [
        {
            "grid": "unit",
            "kind": "mirror",
            "effect": 1.0,
            "model_id": "a",
            "class": "mirror",
            "class_matched": "other",
            "mns": 1.0,
            "q_mirror": 0.0,
        }
    ]
    s = summarise(units, [], 0.05)
    assert "class_matched=mirror" in planted_curves(s)
    assert np.isclose(P.detection_table(units)[0]["rate"], 1.0)


def test_the_report_shows_a_planted_folder(tmp_path, monkeypatch):
    from mirror_neurons import atomic
    from mirror_neurons.report import html
    from tests.report.synthetic import synthetic_inputs

    monkeypatch.setattr(html, "collect", lambda run_dir, **_: synthetic_inputs())  # the name html imported
    monkeypatch.setattr(html, "build_sections", lambda inputs: [])  # only the planted section is under test
    page = html.write_report(tmp_path, out=tmp_path / "without.html")
    assert "What the instrument can see" not in page.read_text()
    atomic.write_json(tmp_path / "planted" / "summary.json", fake_summary())  # RUNDIR/planted is found by itself
    page = html.write_report(tmp_path, out=tmp_path / "with.html")
    assert "What the instrument can see: planted units" in page.read_text()
