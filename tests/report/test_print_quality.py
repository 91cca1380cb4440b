"""Figures fit for print and captions free of 'nan' (issue 15, item 9), on synthetic inputs with planted gaps."""

from __future__ import annotations

import base64
import dataclasses
import re

import numpy as np
import pytest

from mirror_neurons.report.html import name_figures, render_report, write_figures
from mirror_neurons.report.sections import (
    DPI,
    ablation_reading,
    build_sections,
    cell,
    configuration_of,
    epoch_axis,
    epoch_rows,
)

from .synthetic import synthetic_inputs


def png_dpi(png: bytes) -> float:
    """Pixels per inch from a PNG's pHYs chunk (stored as pixels per metre)."""
    i = png.index(b"pHYs")
    return int.from_bytes(png[i + 4 : i + 8], "big") * 0.0254


@pytest.fixture(scope="module")
def gappy():
    """Synthetic inputs with the gaps a real run has: a rate of a situation the policy never met, an ablation
    without random draws, a circuit table whose output units drive nothing."""
    inp = synthetic_inputs()
    behaviour = {**inp.behaviour, "values": {"model": [float("nan"), 0.9], "rule": [1.0, 0.95], "random": [0.125, 0.5]}}
    ablation = {
        "groups": ["mirror (2)", "differentiating (1)"],
        "ylabel": "share of test states whose action changes",
        "values": {"class ablated": [0.25, 0.05], "as many random units": [0.10, float("nan")]},
        "table": {
            "columns": ["class", "units", "changed", "random units (mean)", "p"],
            "rows": [["mirror", 2, "0.250", "0.100", "0.010"], ["differentiating", 1, "0.050", "nan", "nan"]],
        },
    }
    tables = [
        {
            "caption": "Circuits",
            "columns": ["layer", "unit", "drives", "drive z"],
            "rows": [["dense_2", 0, "leap", float("nan")], ["dense_1", 3, "help", "nan"]],
        }
    ]
    case = dataclasses.replace(inp.case, ablation=ablation, weight_tables=tables)
    return dataclasses.replace(inp, behaviour=behaviour, case=case)


@pytest.fixture(scope="module")
def sections(gappy):
    return build_sections(gappy)


def test_figures_are_print_resolution_and_shown_at_their_size(sections):
    assert DPI >= 200
    figures = [f for s in sections for f in s.figures]
    for f in figures:
        png = base64.b64decode(f.png_base64)
        assert png_dpi(png) == pytest.approx(DPI, rel=0.01), f.title
        width_px = int.from_bytes(png[16:20], "big")
        assert width_px >= 2 * f.width - 2  # the page shows it at half its pixels: sharp on print and hi-dpi screens
    assert max(int.from_bytes(base64.b64decode(f.png_base64)[16:20], "big") for f in figures) >= 1200


def test_every_figure_also_comes_as_svg_beside_its_png(sections, tmp_path):
    name_figures(sections)
    paths = write_figures(sections, tmp_path)
    pngs, svgs = sorted(tmp_path.glob("*.png")), sorted(tmp_path.glob("*.svg"))
    assert len(pngs) == len(svgs) == sum(len(s.figures) for s in sections) and len(paths) == 2 * len(pngs)
    assert [p.stem for p in pngs] == [p.stem for p in svgs]
    assert all(p.read_text().lstrip().startswith("<?xml") and "<svg" in p.read_text() for p in svgs[:3])


def test_the_page_links_both_files_under_each_figure(gappy, sections):
    name_figures(sections)
    html = render_report(gappy, created="fixed", sections=sections)
    for s in sections:
        for f in s.figures:
            assert f'href="figures/{f.file}.png"' in html and f'href="figures/{f.file}.svg"' in html


def test_no_nan_reaches_a_caption_or_a_table(gappy, sections):
    html = render_report(gappy, created="fixed", sections=sections)
    text = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", html))
    assert not re.search(r"\bnan\b", text, flags=re.IGNORECASE), re.findall(r".{60}\bnan\b.{20}", text, flags=re.I)[:3]
    behaviour = next(s for s in sections if s.id == "behaviour")
    assert "n/a (never in that situation)" in behaviour.figures[0].reading


def test_missing_cells_show_a_dash():
    assert [cell(v) for v in (float("nan"), "nan", None, np.float32("nan"), 0.5, "0.500")] == [
        "–",
        "–",
        "–",
        "–",
        "0.5",
        "0.500",
    ]


def test_the_ablation_caption_speaks_per_class_never_of_their_average(gappy):
    reading = ablation_reading(gappy.case.ablation)
    assert (
        "mirror (2): class ablated 25.0 %, as many random units 10.0 %, more than random units (p = 0.010)" in reading
    )
    assert "differentiating (1): class ablated 5.0 %, as many random units – (not measured)" in reading
    assert "15.0 %" not in reading and "Averaged" not in reading  # (25 + 5) / 2: the old caption's number


def test_the_over_training_axis_says_what_an_epoch_is(gappy):
    checkpoints = {**gappy.checkpoints, "samples_seen": np.asarray(gappy.checkpoints["epoch"]) * 40_000}
    inp = dataclasses.replace(gappy, checkpoints=checkpoints)
    assert epoch_rows(inp, "m0") == 40_000
    over = next(s for s in build_sections(inp) if s.id == "over-training")
    label = "this run: 40,000 rows per epoch; paper: about 3.8 M"
    assert label in over.figures[0].svg  # the axis label, as text in the SVG
    assert "40,000 training rows against the paper's about 3.8 million" in over.figures[0].reading
    assert epoch_rows(gappy, "m0") is None and "this run fewer" in epoch_axis(None)


@pytest.mark.parametrize(
    ("model", "configuration"),
    [
        ("c000r3_h17x17_d0_lr0p003", "c000 h17x17_d0_lr0p003"),
        ("c012r10_h15", "c012 h15"),
        ("m0", "m0"),
    ],
)
def test_seeds_of_a_sweep_configuration_are_grouped(model, configuration):
    assert configuration_of(model) == configuration


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.9860, "0.9860"),
        (9.765625e-4, "0.000977"),
        (5.4e-6, "0.00000540"),
        (-2.3e-4, "-0.000230"),
        (123456.7, "123,457"),
        (7, "7"),
        (float("nan"), "n/a"),
    ],
)
def test_numbers_read_one_way_in_a_column(value, text):
    """Positional notation throughout (1 / 2^10 = 0.000977 beside 0.9860, never 9.77e-04): three significant
    digits below 0.001."""
    from mirror_neurons.report.sections import fmt

    assert fmt(value) == text


@pytest.mark.parametrize(
    ("net", "rule", "word"), [(0.44, 0.23, "more often"), (0.0, 0.23, "less often"), (0.2, 0.2, "as often")]
)
def test_the_behaviour_caption_says_what_to_conclude(net, rule, word):
    from mirror_neurons.report.sections import help_conclusion

    b = {
        "metrics": ["help when only Toad is in distress"],
        "values": {"network": [net], "rule": [rule], "random": [0.1]},
    }
    assert f"the network helps {word} than the rule" in help_conclusion(
        b
    ) or f"helps {word} as the rule" in help_conclusion(b)
    assert help_conclusion({**b, "values": {"network": [float("nan")], "rule": [rule]}}) == ""
