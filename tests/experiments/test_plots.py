"""The theory figures draw what they are given (structural checks on the axis)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from mirror_neurons.experiments.plots import plot_cmni_by_cell, plot_di_heatmap, plot_p_vs_ratio


def _row(**kw):
    return {"k": 2, "n": 10, "p": 0.2, "lo": 0.057, "hi": 0.51, **kw}


def test_heatmap_places_each_cell_by_d_and_i():
    rows = [_row(dependency=d, veil=i, k=k, p=k / 10) for k, (d, i) in enumerate([(0, 0), (1, 0), (0, 1), (1, 1)])]
    fig, ax = plt.subplots()
    image, *texts = plot_di_heatmap(rows, ax=ax)
    grid = image.get_array()
    assert grid[0, 1] == pytest.approx(0.1) and grid[1, 0] == pytest.approx(0.2)  # rows: veil, columns: dependency
    assert {t.get_text().split("\n")[0] for t in texts} == {"0/10", "1/10", "2/10", "3/10"}
    plt.close(fig)


def test_p_vs_ratio_draws_wilson_bars_on_a_log_axis():
    rows = [_row(ratio=0.1, p=0.2, lo=0.1, hi=0.4), _row(ratio=1.0, p=0.8, lo=0.6, hi=0.9)]
    fig, ax = plt.subplots()
    (bars,) = plot_p_vs_ratio({"chance": rows}, ax=ax)
    line = bars.lines[0]
    assert np.allclose(line.get_ydata(), [0.2, 0.8])
    assert ax.get_xscale() == "log"
    segments = bars.lines[2][0].get_segments()
    assert [tuple(np.round(s[:, 1], 6)) for s in segments] == [(0.1, 0.4), (0.6, 0.9)]
    plt.close(fig)


def test_p_vs_ratio_accepts_the_wilson_interval_of_zero_successes():
    from mirror_neurons.experiments.stats import wilson_interval

    rows = []
    for k, n in [(0, 27), (27, 27), (1, 9)]:
        lo, hi = wilson_interval(k, n)
        rows.append(_row(ratio=0.1 * (k + 1), k=k, n=n, p=k / n, lo=float(lo), hi=float(hi)))
    fig, ax = plt.subplots()
    (bars,) = plot_p_vs_ratio({"paper": rows}, ax=ax)
    assert np.allclose(bars.lines[0].get_ydata(), [0, 1, 1 / 9])
    plt.close(fig)


def test_cmni_boxes_one_per_cell_with_every_model_as_a_dot():
    fig, ax = plt.subplots()
    artists = plot_cmni_by_cell({"a": [0.001, 0.002, 0.003], "b": [0.01, 0.02]}, ax=ax)
    dots = [a for a in artists if hasattr(a, "get_offsets")]
    assert [len(d.get_offsets()) for d in dots] == [3, 2]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    plt.close(fig)
