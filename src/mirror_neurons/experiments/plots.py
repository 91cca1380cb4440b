"""Figures of the theory experiment, each drawn on a Matplotlib axis.

Same form as ``report.plots``: ``plot_x(data, *, ax=None) -> artists``, plain
rows in (the dicts ``theory.proportions`` returns), nothing written to disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DEFINITION_COLOURS = {"paper": "#7f7f7f", "chance": "#d62728"}
DEFINITION_LABELS = {"paper": "paper's definition", "chance": "chance-corrected"}


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    return ax


def plot_p_vs_ratio(series: Mapping[str, Sequence[dict]], *, ax=None) -> list:
    """P (share of models with emergence) against S/M on a log axis, with 95 % Wilson intervals.

    ``series`` maps a definition ("paper", "chance") to rows with ``ratio``
    (S/M), ``p``, ``lo``, ``hi``, ``n``; markers are filled per game complexity
    when rows carry ``rate_max``.
    """
    ax = _axis(ax)
    artists = []
    shift = {name: 1.0 + 0.04 * (i - (len(series) - 1) / 2) for i, name in enumerate(series)}  # dodge overlapping bars
    for name, rows in series.items():
        if not rows:
            continue
        ratio = np.array([r["ratio"] for r in rows]) * shift[name]
        p = np.array([r["p"] for r in rows])
        err = np.clip(
            np.array([[r["p"] - r["lo"] for r in rows], [r["hi"] - r["p"] for r in rows]]), 0, None
        )  # rounding at k = 0 or n
        colour = DEFINITION_COLOURS.get(name, "k")
        art = ax.errorbar(ratio, p, yerr=err, fmt="o", color=colour, capsize=3, label=DEFINITION_LABELS.get(name, name))
        artists.append(art)
    ax.set_xscale("log")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("S / M (S: new boards per 1,000 recorded states; M: parameters)")
    ax.set_ylabel("P(emergence)")
    ax.axhline(0, color="0.85", lw=0.8, zorder=0)
    ax.legend(fontsize=8, loc="best")
    return artists


def plot_di_heatmap(rows: Sequence[dict], *, ax=None, title: str = "") -> list:
    """P over the (D, I) grid: colour = P, text = k/n and the Wilson interval."""
    ax = _axis(ax)
    ds = sorted({r["dependency"] for r in rows})
    vs = sorted({r["veil"] for r in rows})
    grid = np.full((len(vs), len(ds)), np.nan)
    for r in rows:
        grid[vs.index(r["veil"]), ds.index(r["dependency"])] = r["p"]
    image = ax.imshow(grid, origin="lower", cmap="viridis", vmin=0, vmax=1, aspect="auto")
    texts = []
    for r in rows:
        i, j = vs.index(r["veil"]), ds.index(r["dependency"])
        colour = "white" if r["p"] < 0.6 else "black"
        texts.append(
            ax.text(
                j,
                i,
                f"{r['k']}/{r['n']}\n[{r['lo']:.2f}, {r['hi']:.2f}]",
                ha="center",
                va="center",
                fontsize=8,
                color=colour,
            )
        )
    ax.set_xticks(range(len(ds)), [f"{d:g}" for d in ds])
    ax.set_yticks(range(len(vs)), [f"{v:g}" for v in vs])
    ax.set_xlabel("dependency D")
    ax.set_ylabel("veil I")
    if title:
        ax.set_title(title, fontsize=10)
    plt.colorbar(image, ax=ax, label="P(emergence)")
    return [image, *texts]


def plot_cmni_by_cell(values: Mapping[str, Sequence[float]], *, ax=None, threshold: float | None = 0.005) -> list:
    """CMNI of every model per cell: one box per cell with the models as dots, and the paper's threshold."""
    ax = _axis(ax)
    names = list(values)
    data = [np.asarray(values[k], dtype=float) for k in names]
    boxes = ax.boxplot(data, showfliers=False, widths=0.6)
    artists = [*boxes["boxes"]]
    for i, d in enumerate(data, start=1):
        jitter = (np.arange(len(d)) % 7 - 3) * 0.04
        artists.append(ax.scatter(np.full(len(d), i) + jitter, d, s=8, color="#1f77b4", alpha=0.6, zorder=3))
    if threshold is not None:
        artists.append(ax.axhline(threshold, color="#d62728", ls="--", lw=1, label=f"paper's threshold {threshold:g}"))
        ax.legend(fontsize=8, loc="upper right")
    ax.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel("CMNI of the analysed checkpoint")
    return artists


def plot_paired_change(rows: Sequence[Mapping], *, ax=None, title: str | None = None) -> list:
    """Round two: the mean paired change of the scale-free index (trained - initial) per (width, depth), +- 1 sd.

    ``rows``: dicts with ``width``, ``depth``, ``mean_change``, ``sd_change`` and ``n``; one line per depth over width.
    """
    ax = _axis(ax)
    artists = [ax.axhline(0.0, color="#7f7f7f", lw=1, ls="--")]
    for depth in sorted({r["depth"] for r in rows}):
        rs = sorted((r for r in rows if r["depth"] == depth), key=lambda r: r["width"])
        w = np.array([r["width"] for r in rs], dtype=float)
        m = np.array([r["mean_change"] for r in rs], dtype=float)
        sd = np.array([r["sd_change"] if r["sd_change"] is not None else 0.0 for r in rs], dtype=float)
        artists.append(
            ax.errorbar(w, m, yerr=sd, marker="o", capsize=3, label=f"{depth} hidden layer{'s' if depth > 1 else ''}")
        )
    ax.set_xscale("log", base=2)
    ax.set_xlabel("units per hidden layer")
    ax.set_ylabel("change of the scale-free index")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return artists
