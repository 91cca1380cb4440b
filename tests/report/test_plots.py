"""Structural tests of the plot functions: what each draws on its axis, from data with known values."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_hex

from mirror_neurons.report import plots


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_distribution_bars_are_shares_with_counts():
    ax = plt.subplots()[1]
    bars = plots.plot_distribution({"hop": 30, "jump": 10, "leap": 0, "help": 60}, ax=ax)
    assert [b.get_height() for b in bars] == pytest.approx([0.3, 0.1, 0.0, 0.6])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hop", "jump", "leap", "help"]
    assert {t.get_text() for t in ax.texts} == {"30", "10", "0", "60"}


def test_loss_curves_one_line_per_model_and_the_threshold():
    ax = plt.subplots()[1]
    lines = plots.plot_loss_curves(
        {"a": ([1, 2, 3], [0.1, 0.08, 0.07]), "b": ([1, 2], [0.2, 0.1])}, ax=ax, threshold=0.06
    )
    assert len(lines) == 3
    assert list(lines[0].get_ydata()) == [0.1, 0.08, 0.07]
    assert list(lines[2].get_ydata()) == [0.06, 0.06]  # axhline
    assert ax.get_xlabel() == "epoch"


def test_scenario_means_four_bars_per_unit_coloured_by_class():
    means = np.array([[0.0, 0.5, 0.6, 0.9], [0.3, 0.1, 0.1, 0.0]])
    ax = plt.subplots()[1]
    bars = plots.plot_scenario_means(means, ["mirror", "anti_mirror"], ax=ax)
    assert len(bars) == 8
    # bars come scenario by scenario: [unit0 none, unit1 none, unit0 frog, ...]
    assert [bars[2 * s].get_height() for s in range(4)] == pytest.approx(means[0])
    assert to_hex(bars[0].get_facecolor()[:3]) == plots.CLASS_COLOURS["mirror"]
    assert to_hex(bars[1].get_facecolor()[:3]) == plots.CLASS_COLOURS["anti-mirror"]
    assert bars[0].get_alpha() < bars[6].get_alpha()  # none lighter than both
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["mirror", "anti-mirror", "none distress", "frog distress", "toad distress", "both distress"]


def test_unit_boxes_one_box_per_unit_and_scenario():
    rng = np.random.default_rng(0)
    samples = {"u0": [rng.normal(m, 0.1, 200) for m in (0, 1, 2, 3)], "u1": [rng.normal(0, 1, 50)] * 4}
    ax = plt.subplots()[1]
    artists = plots.plot_unit_boxes(samples, ax=ax)
    boxes = [a for a in artists if a.get_label() not in samples]
    assert len(boxes) == 8
    # u0's four boxes come first; their vertical centres follow the planted means 0, 1, 2, 3.
    centres = [np.mean(b.get_path().vertices[:, 1]) for b in boxes[:4]]
    assert np.argsort(centres).tolist() == [0, 1, 2, 3]
    assert [t.get_text() for t in ax.get_xticklabels()] == list(plots.SCENARIOS)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["u0", "u1"]


def test_moment_lines_carry_the_values():
    values = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]])
    ax = plt.subplots()[1]
    lines = plots.plot_moment_by_scenario(values, ["other", "mirror"], ax=ax, ylabel="variance")
    by_colour = {to_hex(line.get_color()): list(line.get_ydata()) for line in lines}
    assert by_colour[plots.CLASS_COLOURS["mirror"]] == [0, 0, 0, 0]
    assert by_colour[plots.CLASS_COLOURS["other"]] == [1, 2, 3, 4]
    assert ax.get_ylabel() == "variance"


def test_cmni_vs_chance_splits_significant_and_sorts():
    cmni = np.array([0.003, 0.001, 0.002])
    ax = plt.subplots()[1]
    artists = plots.plot_cmni_vs_chance(
        cmni, cmni - 1e-4, cmni + 1e-4, np.full(3, 0.0015), np.array([True, False, True]), ax=ax
    )
    sig, nonsig, null = artists
    # sorted order is 0.001 (x=0, not significant), 0.002 (x=1), 0.003 (x=2)
    assert list(sig.lines[0].get_xdata()) == [1, 2] and list(sig.lines[0].get_ydata()) == [0.002, 0.003]
    assert list(nonsig.lines[0].get_xdata()) == [0]
    assert null.get_offsets().shape == (3, 2)


def test_null_distribution_histograms_and_observed_line():
    ax = plt.subplots()[1]
    artists = plots.plot_null_distribution({"a": np.linspace(0, 1, 100), "b": np.zeros(0)}, 0.7, ax=ax)
    assert sum(a.__class__.__name__ == "Rectangle" for a in artists) == 30  # empty null draws nothing
    assert list(artists[-1].get_xdata()) == [0.7, 0.7]


def test_cmni_over_training_has_two_axes_and_the_reference():
    ax = plt.subplots()[1]
    ref = {"epoch": np.array([1, 2]), "cmni": np.array([0.005, 0.008]), "val_loss": np.array([0.09, 0.07])}
    artists = plots.plot_cmni_over_training([1, 2, 3], [0.001, 0.002, 0.0015], [0.1, 0.09, 0.085], reference=ref, ax=ax)
    twin = artists[-1].axes
    assert twin is not ax
    assert [list(a.get_ydata()) for a in artists if a.axes is ax] == [[0.001, 0.002, 0.0015], [0.005, 0.008]]
    assert [list(a.get_ydata()) for a in artists if a.axes is twin] == [[0.09, 0.07], [0.1, 0.09, 0.085]]


def test_network_draws_only_strong_positive_edges():
    # One hidden layer of 3 units -> 4 outputs: a single large positive weight stands out.
    w = np.full((4, 3), -0.1)
    w[2, 1] = 5.0
    ax = plt.subplots()[1]
    artists = plots.plot_network([w], [["mirror", "other", "differentiating"], ["other"] * 4], ax=ax)
    edges = [a for a in artists if isinstance(a, plt.Line2D)]
    boxes = [a for a in artists if isinstance(a, plots.FancyBboxPatch)]
    assert len(edges) == 1 and len(boxes) == 7
    assert to_hex(boxes[0].get_facecolor()[:3]) == plots.CLASS_COLOURS["mirror"]
    assert {t.get_text() for t in ax.texts} >= {"hop", "jump", "leap", "help"}


def test_grouped_bars_values_and_errors():
    ax = plt.subplots()[1]
    bars = plots.plot_grouped_bars(
        {"net": [0.5, 0.9], "rule": [1.0, 0.8]}, ["help", "survival"], ax=ax, errors={"net": [0.1, 0.1]}
    )
    assert [b.get_height() for b in bars] == [0.5, 0.9, 1.0, 0.8]
    bar_containers = [c for c in ax.containers if c.__class__.__name__ == "BarContainer"]
    assert len(bar_containers) == 2
    assert bar_containers[0].errorbar is not None and bar_containers[1].errorbar is None


def test_class_name_normalises_and_defaults():
    assert plots.class_name("Anti_Mirror") == "anti-mirror"
    assert plots.class_name("weird") == "other"


def test_scenario_means_names_output_units():
    ax = plt.subplots()[1]
    plots.plot_scenario_means(np.zeros((4, 4)), ["other"] * 4, ax=ax, unit_names=("hop", "jump", "leap", "help"))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["hop", "jump", "leap", "help"]


# -- the house rules of every figure (issue 15, item 9) ---------------------------------------------


@pytest.mark.parametrize("n", [1, 10, 11, 20, 33, 60, 61, 200])
def test_distinct_colours_never_repeat(n):
    colours = plots.distinct_colours(n)
    assert len(colours) == n and len({to_hex(c, keep_alpha=True) for c in colours}) == n


def test_33_models_get_33_colours_and_a_legend_beside_the_axis():
    curves = {f"m{i}": ([1, 2, 3], [1.0 / (i + 1), 0.5 / (i + 1), 0.2 / (i + 1)]) for i in range(33)}
    ax = plt.subplots()[1]
    lines = plots.plot_loss_curves(curves, ax=ax, threshold=0.06)
    assert len({to_hex(line.get_color()) for line in lines[:-1]}) == 33
    legend = ax.get_legend()
    assert len(legend.get_texts()) == 34  # every model and the threshold
    x0, _ = legend.get_bbox_to_anchor().transformed(ax.transAxes.inverted()).p0
    assert x0 > 1.0  # anchored right of the axis: it cannot cover a curve


def test_seeds_of_one_configuration_share_a_colour_and_one_legend_entry():
    curves = {"c000r0_a": ([1, 2], [1, 0.5]), "c000r1_a": ([1, 2], [1, 0.4]), "c001r0_b": ([1, 2], [1, 0.3])}
    groups = {"c000r0_a": "c000 a", "c000r1_a": "c000 a", "c001r0_b": "c001 b"}
    ax = plt.subplots()[1]
    lines = plots.plot_learning_curves(curves, {}, ax=ax, competent=["c000r0_a"], groups=groups)
    assert to_hex(lines[0].get_color()) == to_hex(lines[1].get_color()) != to_hex(lines[2].get_color())
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts == ["c000 a (2 models)", "c001 b", "solid: a competent model", "dotted: never competent"]
    # a group's entry is solid whatever its first model's competence (c001r0_b is drawn dotted)
    assert [h.get_linestyle() for h in ax.get_legend().legend_handles] == ["-", "-", "-", ":"]


def test_chance_legend_reads_as_sentences():
    ax = plt.subplots()[1]
    plots.plot_cmni_vs_chance(
        np.array([0.1, 0.2]),
        np.array([0.05, 0.1]),
        np.array([0.15, 0.3]),
        np.array([0.1, 0.1]),
        np.array([False, True]),
        ax=ax,
    )
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "does not" not in texts and "does not beat chance" in texts


def test_tick_labels_are_dark_even_for_the_grey_class():
    from matplotlib.colors import to_rgb

    ax = plt.subplots()[1]
    plots.plot_scenario_means(np.ones((2, 4)), ["other", "mirror"], ax=ax)
    other = ax.get_xticklabels()[0]
    assert max(to_rgb(other.get_color())) < 0.3  # near-black, not the class's light grey #b0b0b0
    assert to_hex(ax.get_xticklabels()[1].get_color()) == plots.CLASS_COLOURS["mirror"]


@pytest.mark.parametrize(
    "draw",
    [
        lambda ax: plots.plot_moment_by_scenario(np.ones((2, 4)), ["mirror", "other"], ax=ax, ylabel="variance"),
        lambda ax: plots.plot_paired({"rule, onehot (2)": ([0.1, 0.2], [0.2, 0.1], [True, False])}, ax=ax),
        lambda ax: plots.plot_false_positives([("noise", 0.01, 0.0, 0.05)], ax=ax),
    ],
)
def test_panels_that_encode_meaning_in_colour_or_style_have_a_legend(draw):
    ax = plt.subplots()[1]
    draw(ax)
    assert ax.get_legend() is not None and ax.get_legend().get_texts()
