"""Plot functions: each draws one figure's content on a Matplotlib axis.

Every function has the form ``plot_x(data, *, ax=None) -> artists``: it takes
plain arrays and mappings (never a path, never a run folder), draws on ``ax``
(a new figure's axis when ``None``) and returns the artists it drew, so tests
can check what is on the axis and the report can lay figures out as it likes.
Only ``report.html`` writes files. Colours of unit classes and scenarios are
defined once here.

House rules for every figure, so that a printed page reads as well as the
screen: one colour per series however many there are (``distinct_colours``),
a legend wherever colour or line style carries a meaning, legends that never
sit on the data (``legend_outside``, or matplotlib's "best" for a few short
entries), tick labels in dark text, never the light grey of the "other" class.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # headless: the report renders to PNG bytes, never to a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

SCENARIOS = ("none", "frog", "toad", "both")
"""Distress scenarios in the order of ``game.constants.Scenario``."""

UNIT_CLASSES = ("mirror", "anti-mirror", "differentiating", "mixed", "other")
CLASS_COLOURS = {
    "mirror": "#d62728",
    "anti-mirror": "#1f77b4",
    "differentiating": "#2ca02c",
    "mixed": "#9467bd",
    "other": "#b0b0b0",
}
SCENARIO_ALPHA = (0.30, 0.55, 0.75, 1.0)
"""Shade of a unit's bar per scenario: none lightest, both darkest."""
CLASS_TEXT_COLOURS = {**CLASS_COLOURS, "other": "#222222"}
"""Colours for text (tick labels) per class: the "other" grey is too light to read, so text uses near-black."""
POLICY_COLOURS = ("#d62728", "#7f7f7f", "#1f77b4", "#ff7f0e")
QUALITATIVE = ("tab10", "tab20", ("tab20", "tab20b", "tab20c"))
"""Qualitative colour maps used by ``distinct_colours``: 10, 20 and 60 distinct colours."""


def distinct_colours(n: int) -> list[tuple[float, float, float, float]]:
    """``n`` colours, all different: tab10 up to 10, tab20 up to 20, tab20 + tab20b + tab20c up to 60,
    then ``n`` evenly spaced samples of the continuous "turbo" map (never a repeated colour, whatever ``n``)."""
    if n <= 0:
        return []
    if n > 60:
        return [tuple(c) for c in matplotlib.colormaps["turbo"](np.linspace(0.0, 1.0, n))]
    names = QUALITATIVE[0] if n <= 10 else QUALITATIVE[1] if n <= 20 else QUALITATIVE[2]
    names = (names,) if isinstance(names, str) else names
    pool = [tuple(c) for name in names for c in matplotlib.colormaps[name].colors]
    return pool[:n]


def legend_outside(ax, handles=None, *, fontsize: float = 7, title: str | None = None, rows: int = 22):
    """A legend to the right of the axis, clear of the data; more than ``rows`` entries wrap into columns."""
    if handles is None:
        handles = ax.get_legend_handles_labels()[0]
    ncol = max(1, math.ceil(len(handles) / rows))
    return ax.legend(
        handles=handles,
        fontsize=fontsize,
        title=title,
        title_fontsize=fontsize,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
        ncol=ncol,
        frameon=False,
    )


def _series_colours(names: Sequence[str], groups: Mapping[str, str] | None) -> tuple[dict[str, object], dict[str, str]]:
    """({name: colour}, {name: legend label, or '_nolegend_' after a group's first line}).

    Without ``groups`` every name has its own colour (``distinct_colours``) and legend entry; with
    ``groups`` (name -> group) every group has one colour and one entry, '<group> (<k> models)'.
    """
    if groups is None:
        return dict(zip(names, distinct_colours(len(names)))), {name: name for name in names}
    keys = list(dict.fromkeys(groups.get(n, n) for n in names))
    size = {k: sum(groups.get(n, n) == k for n in names) for k in keys}
    colour_of = dict(zip(keys, distinct_colours(len(keys))))
    labels, seen = {}, set()
    for n in names:
        k = groups.get(n, n)
        labels[n] = "_nolegend_" if k in seen else (f"{k} ({size[k]} models)" if size[k] > 1 else k)
        seen.add(k)
    return {n: colour_of[groups.get(n, n)] for n in names}, labels


def class_name(value: str) -> str:
    """Normalise a class label from the analysis tables ('anti_mirror' -> 'anti-mirror')."""
    v = str(value).strip().lower().replace("_", "-")
    return v if v in CLASS_COLOURS else "other"


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    return ax


def _group_slots(k: int) -> tuple[list[float], float]:
    """Side by side within a group 0.8 wide: each of ``k`` series' offset from the group's centre, and its width."""
    width = 0.8 / max(k, 1)
    return [(i - (k - 1) / 2) * width for i in range(k)], width


def plot_distribution(counts: Mapping[str, int], *, ax=None, title: str = "", colour: str = "#4c72b0") -> list:
    """Bars of a categorical distribution (share of rows), with the count on each bar."""
    ax = _axis(ax)
    names = list(counts)
    values = np.array([counts[k] for k in names], dtype=float)
    share = values / values.sum() if values.sum() > 0 else values
    bars = ax.bar(names, share, color=colour)
    for bar, n in zip(bars, values):
        ax.annotate(
            f"{int(n):,}", (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8
        )
    ax.set_ylabel("share of states")
    ax.set_ylim(0, max(1e-9, share.max()) * 1.18)
    if title:
        ax.set_title(title)
    return list(bars)


def plot_loss_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    ax=None,
    threshold: float | None = 0.06,
    groups: Mapping[str, str] | None = None,
    xlabel: str = "epoch",
    ylabel: str = "validation loss (each model's own objective)",
) -> list:
    """Validation loss against epoch, one line per model; ``curves`` maps a model name to (epochs, losses).

    Every model has its own colour and legend entry, or, with ``groups`` (model -> group, e.g. the seeds
    of one configuration), every group has (``_series_colours``); the legend is outside the axis.
    Returns the lines, the threshold's last when drawn.
    """
    ax = _axis(ax)
    lines = []
    colour, label = _series_colours(list(curves), groups)
    for name, (epochs, losses) in curves.items():
        (line,) = ax.plot(epochs, losses, lw=1.2, color=colour[name], label=label[name])
        lines.append(line)
    if threshold is not None:
        lines.append(ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"paper's threshold {threshold:g}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    ax.set_yscale("log")  # the first epochs' losses are many times the final ones
    legend_outside(ax, [line for line in lines if not line.get_label().startswith("_")], fontsize=6)
    return lines


def plot_scenario_means(
    means: np.ndarray, classes: Sequence[str], *, ax=None, title: str = "", unit_names: Sequence[str] | None = None
) -> list:
    """Mean activation of each unit in each scenario: (n_units, 4) ``means``, bars coloured by class.

    Each unit gets four adjacent bars (none, frog, toad, both; lightest to darkest).
    """
    ax = _axis(ax)
    means = np.asarray(means, dtype=float)
    n = len(means)
    offsets, width = _group_slots(len(SCENARIO_ALPHA))
    bars = []
    colours = [CLASS_COLOURS[class_name(c)] for c in classes]
    for s, (offset, alpha) in enumerate(zip(offsets, SCENARIO_ALPHA)):
        x = np.arange(n) + offset
        bars.extend(ax.bar(x, means[:, s], width=width, color=colours, alpha=alpha, edgecolor="none"))
    ax.set_xticks(np.arange(n))
    ax.set_xticklabels(list(unit_names) if unit_names is not None else [str(i) for i in range(n)], fontsize=7)
    for label, c in zip(ax.get_xticklabels(), classes):
        label.set_color(CLASS_TEXT_COLOURS[class_name(c)])
    ax.set_xlabel("unit (bars: none, frog, toad, both distress)")
    ax.set_ylabel("mean activation")
    if title:
        ax.set_title(title)
    present = [c for c in UNIT_CLASSES if c in {class_name(k) for k in classes}]
    handles = [Patch(color=CLASS_COLOURS[c], label=c) for c in present]
    handles += [Patch(color="#555555", alpha=a, label=f"{s} distress") for s, a in zip(SCENARIOS, SCENARIO_ALPHA)]
    legend_outside(ax, handles, fontsize=7)
    return bars


def plot_unit_boxes(samples: Mapping[str, Sequence[np.ndarray]], *, ax=None) -> list:
    """Box plots of chosen units' activations per scenario: ``samples`` maps a unit name to 4 arrays."""
    ax = _axis(ax)
    artists = []
    offsets, width = _group_slots(len(samples))
    for i, ((name, per_scenario), offset) in enumerate(zip(samples.items(), offsets)):
        pos = np.arange(4) + offset
        box = ax.boxplot(
            [np.asarray(a, dtype=float) for a in per_scenario],
            positions=pos,
            widths=width * 0.9,
            showfliers=False,
            patch_artist=True,
        )
        colour = f"C{i}"
        for patch in box["boxes"]:
            patch.set_facecolor(colour)
            patch.set_alpha(0.6)
        artists.extend(box["boxes"])
        artists.append(Patch(color=colour, alpha=0.6, label=name))
    ax.set_xticks(np.arange(4))
    ax.set_xticklabels(SCENARIOS)
    ax.set_xlabel("distress scenario")
    ax.set_ylabel("activation")
    legend_outside(ax, [a for a in artists if isinstance(a, Patch) and a.get_label() in samples], fontsize=7)
    return artists


def plot_moment_by_scenario(
    values: np.ndarray, classes: Sequence[str], *, ax=None, ylabel: str = "", legend: bool = True
) -> list:
    """One line per unit across the four scenarios ((n_units, 4) ``values``), coloured by class.

    ``legend``: the classes' legend, outside the axis (a row of panels draws it once, on its last)."""
    ax = _axis(ax)
    values = np.asarray(values, dtype=float)
    lines = []
    order = np.argsort([class_name(c) != "other" for c in classes], kind="stable")  # grey first, underneath
    for i in order:
        c = class_name(classes[i])
        (line,) = ax.plot(
            range(4),
            values[i],
            color=CLASS_COLOURS[c],
            lw=1.6 if c != "other" else 0.8,
            alpha=0.9 if c != "other" else 0.5,
            marker="o",
            ms=2.5,
        )
        lines.append(line)
    ax.set_xticks(range(4))
    ax.set_xticklabels(SCENARIOS)
    ax.set_ylabel(ylabel)
    if legend:
        present = [c for c in UNIT_CLASSES if c in {class_name(k) for k in classes}]
        legend_outside(ax, [Patch(color=CLASS_COLOURS[c], label=c) for c in present], fontsize=7, title="unit class")
    return lines


def plot_cmni_vs_chance(
    cmni: np.ndarray, lo: np.ndarray, hi: np.ndarray, null_mean: np.ndarray, significant: np.ndarray, *, ax=None
) -> list:
    """Each checkpoint's CMNI (sorted) with its bootstrap interval and its null's 95th percentile.

    Checkpoints that beat chance are red, the others grey; the null's mean (the
    larger of the controls' means) is a black tick per checkpoint.
    """
    ax = _axis(ax)
    cmni, lo, hi, null_ref = (np.asarray(a, dtype=float) for a in (cmni, lo, hi, null_mean))
    sig = np.asarray(significant, dtype=bool)
    order = np.argsort(cmni)
    x = np.arange(len(cmni))
    artists = []
    for mask, colour, label in (
        (sig[order], "#d62728", "beats chance (p < alpha)"),
        (~sig[order], "#7f7f7f", "does not beat chance"),
    ):
        if mask.any():
            yerr = np.vstack([cmni[order][mask] - lo[order][mask], hi[order][mask] - cmni[order][mask]])
            artists.append(
                ax.errorbar(
                    x[mask],
                    cmni[order][mask],
                    yerr=np.clip(yerr, 0, None),
                    fmt="o",
                    ms=3,
                    color=colour,
                    ecolor=colour,
                    elinewidth=0.7,
                    label=label,
                )
            )
    artists.append(ax.scatter(x, null_ref[order], marker="_", color="k", s=40, label="null mean", zorder=3))
    ax.set_xlabel("checkpoint (sorted by CMNI)")
    ax.set_ylabel("CMNI")
    legend_outside(ax, artists, fontsize=7)
    return artists


def plot_null_distribution(nulls: Mapping[str, np.ndarray], observed: float, *, ax=None) -> list:
    """Histograms of null CMNI distributions with the observed CMNI as a vertical line."""
    ax = _axis(ax)
    artists = []
    for i, (name, values) in enumerate(nulls.items()):
        values = np.asarray(values, dtype=float)
        if len(values):
            *_, patches = ax.hist(values, bins=30, alpha=0.55, color=f"C{i}", label=f"null: {name}")
            artists.extend(patches)
    artists.append(ax.axvline(observed, color="#d62728", lw=2, label=f"observed {observed:.4f}"))
    ax.set_xlabel("CMNI")
    ax.set_ylabel("count")
    legend_outside(ax, [a for a in artists if not a.get_label().startswith("_")], fontsize=7)
    return artists


EPOCH_AXIS = "epoch (0 = initial weights)"


def plot_cmni_over_training(
    epochs: Sequence[float],
    cmni: Sequence[float],
    val_loss: Sequence[float],
    *,
    reference: Mapping[str, Sequence[float]] | None = None,
    ax=None,
    label: str = "this run",
    xlabel: str = EPOCH_AXIS,
) -> list:
    """CMNI (left axis) and validation loss (right axis) against epoch, as the paper's Figure 2.

    ``reference`` (epoch, cmni, val_loss) is the published curve, drawn dashed. An epoch of this run
    and one of the paper's need not be the same number of training rows: ``xlabel`` is where the
    caller says so. Returns the artists; the twin axis is ``artists[-1].axes``.
    """
    ax = _axis(ax)
    twin = ax.twinx()
    artists = [ax.plot(epochs, cmni, color="#d62728", marker="o", ms=3, label=f"CMNI, {label}")[0]]
    artists.append(twin.plot(epochs, val_loss, color="#1f77b4", marker="s", ms=3, label=f"val loss, {label}")[0])
    if reference is not None:
        for axis, key, colour, name in ((ax, "cmni", "#d62728", "CMNI"), (twin, "val_loss", "#1f77b4", "val loss")):
            published = axis.plot(
                reference["epoch"], reference[key], color=colour, ls="--", lw=1, alpha=0.6, label=f"{name}, published"
            )
            artists.append(published[0])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("CMNI", color="#d62728")
    twin.set_ylabel("validation loss", color="#1f77b4")
    ax.set_xscale("symlog", linthresh=1)  # log-like from epoch 1 on, with room for epoch 0 (the initial weights)
    ax.legend(
        handles=artists, fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.3)
    )  # below the axis label: never on the curves
    # Put the twin last so callers find both axes from the return value.
    artists.append(artists.pop(1))
    return artists


def plot_index_over_training(
    epochs: Sequence[float],
    values: Sequence[float],
    *,
    ax=None,
    label: str = "this run",
    ylabel: str = "scale-free mirror index",
    colour: str = "#8c564b",
    xlabel: str = EPOCH_AXIS,
) -> list:
    """One index against epoch (symlog, so epoch 0 is drawn), with its epoch-0 value as a dotted line.

    A point above the dotted line is above the model's own initialisation. Returns [line, init line] (the
    init line only when epoch 0 is among ``epochs``).
    """
    ax = _axis(ax)
    epochs, values = np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)
    artists = [ax.plot(epochs, values, color=colour, marker="o", ms=3, label=f"{ylabel}, {label}")[0]]
    if np.any(epochs == 0):
        init = float(values[np.flatnonzero(epochs == 0)[0]])
        artists.append(ax.axhline(init, color=colour, ls=":", lw=1, label="its value at initialisation"))
    ax.set_xscale("symlog", linthresh=1)
    if len(epochs):
        ax.set_xlim(min(0.0, float(epochs.min())) - 0.1, float(epochs.max()) * 1.3 + 0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel, color=colour)
    ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.3))  # below the axis label
    return artists


LABEL_STYLES = {"rule": "#d62728", "toad_blind": "#1f77b4", "shuffled": "#7f7f7f"}
"""Colour of each training-label kind (``TrainConfig.labels``) in the paired figure."""


def plot_paired(
    groups: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[bool]]],
    *,
    ax=None,
    ylabel: str = "",
    colours: Mapping[str, str] | None = None,
) -> list:
    """Each model's measure at initialisation and trained: one thin line per model, groups side by side.

    ``groups`` maps a label to (init values, trained values, trained competent flags), one entry per model;
    group k is drawn at x = 3k (init) and 3k + 1 (trained), competent models solid, others dotted, and the
    group's mean as a thick black line. ``colours`` maps a label to its colour (default grey). Returns the
    mean lines, one per group, in order (each with the group's label).
    """
    ax = _axis(ax)
    colours = colours or {}
    means, ticks, names = [], [], []
    for k, (name, (init, trained, competent)) in enumerate(groups.items()):
        init, trained = np.asarray(init, dtype=float), np.asarray(trained, dtype=float)
        x = (3 * k, 3 * k + 1)
        colour = colours.get(name, "#7f7f7f")
        for a, b, ok in zip(init, trained, competent):
            ax.plot(x, (a, b), color=colour, lw=0.9, alpha=0.7, ls="-" if ok else ":", marker="o", ms=2.5)
        (mean,) = ax.plot(x, (np.nanmean(init), np.nanmean(trained)), color="black", lw=2.2, label=name)
        means.append(mean)
        ticks += [x[0], x[1]]
        names += ["init", f"trained\n{textwrap.fill(name, 18)}"]
    ax.set_xticks(ticks, names, fontsize=7)
    ax.set_xlim(-0.6, 3 * max(len(groups), 1) - 1.4)
    ax.set_ylabel(ylabel)
    from matplotlib.lines import Line2D

    key = [
        Line2D([], [], color="#555555", lw=0.9, ls="-", marker="o", ms=2.5, label="one model, competent"),
        Line2D([], [], color="#555555", lw=0.9, ls=":", marker="o", ms=2.5, label="one model, not competent"),
        Line2D([], [], color="black", lw=2.2, label="mean of the group"),
    ]
    key += [Line2D([], [], color=colours.get(name, "#7f7f7f"), lw=1.5, label=name) for name in groups]
    legend_outside(ax, key, fontsize=6)
    return means


def plot_network(
    kernels: Sequence[np.ndarray],
    classes: Sequence[Sequence[str]],
    *,
    ax=None,
    output_names: Sequence[str] = ("hop", "jump", "leap", "help"),
    z_min: float = 1.0,
) -> list:
    """Units as boxes coloured by class, positive weights with z > ``z_min`` as edges (width ~ weight).

    ``kernels[i]`` is layer i's (out, in) weight matrix for the layers after the
    first hidden one (hidden 2.., output); ``classes[i]`` the class of every unit
    in layer i (all layers, the output included). The 100 inputs are left out.
    """
    ax = ax if ax is not None else plt.subplots(figsize=(8, 5))[1]
    sizes = [len(c) for c in classes]
    height = max(sizes)
    ypos = [np.linspace(0, height - 1, n) if n > 1 else np.array([(height - 1) / 2]) for n in sizes]
    artists = []
    wmax = max((float(np.max(k)) for k in kernels if k.size), default=1.0) or 1.0
    for layer, w in enumerate(kernels):
        w = np.asarray(w, dtype=float)
        z = (w - w.mean()) / (w.std() or 1.0)
        for j, i in zip(*np.nonzero((w > 0) & (z > z_min))):
            (line,) = ax.plot(
                [layer + 0.12, layer + 1 - 0.12],
                [ypos[layer][i], ypos[layer + 1][j]],
                color="#444444",
                lw=0.4 + 3.0 * w[j, i] / wmax,
                alpha=0.55,
                zorder=1,
            )
            artists.append(line)
    for layer, names in enumerate(classes):
        for i, c in enumerate(names):
            box = FancyBboxPatch(
                (layer - 0.1, ypos[layer][i] - 0.35),
                0.2,
                0.7,
                boxstyle="round,pad=0.02",
                fc=CLASS_COLOURS[class_name(c)],
                ec="k",
                lw=0.5,
                zorder=2,
            )
            ax.add_patch(box)
            artists.append(box)
            last = layer == len(classes) - 1
            text = output_names[i] if last and i < len(output_names) else str(i)
            ax.text(
                layer + (0.14 if last else 0),
                ypos[layer][i],
                text,
                ha="left" if last else "center",
                va="center",
                fontsize=6 if not last else 8,
                zorder=3,
            )
    ax.set_xlim(-0.4, len(classes) - 0.4 + 0.4)
    ax.set_ylim(-1, height)
    ax.invert_yaxis()
    ax.set_xticks(range(len(classes)))
    ax.set_xticklabels([f"hidden {i + 1}" for i in range(len(classes) - 1)] + ["output"])
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    present = [c for c in UNIT_CLASSES if any(class_name(k) == c for layer in classes for k in layer)]
    ax.legend(
        handles=[Patch(color=CLASS_COLOURS[c], label=c) for c in present],
        fontsize=7,
        loc="lower left",
        bbox_to_anchor=(0, -0.25),
        ncol=5,
        frameon=False,
    )
    return artists


def plot_grouped_bars(
    values: Mapping[str, Sequence[float]],
    groups: Sequence[str],
    *,
    ax=None,
    errors: Mapping[str, Sequence[float]] | None = None,
    ylabel: str = "",
) -> list:
    """Grouped bars: one bar group per entry of ``groups``, one bar colour per key of ``values``.

    Used for ablation (change in predicted actions per scenario) and behaviour
    (rates per policy). ``errors`` (same keys) gives symmetric error bars.
    """
    ax = _axis(ax)
    offsets, width = _group_slots(len(values))
    bars = []
    for i, ((name, v), offset) in enumerate(zip(values.items(), offsets)):
        x = np.arange(len(groups)) + offset
        err = None if errors is None or name not in errors else np.asarray(errors[name], dtype=float)
        container = ax.bar(
            x,
            np.asarray(v, dtype=float),
            width=width * 0.95,
            yerr=err,
            capsize=2,
            color=POLICY_COLOURS[i % len(POLICY_COLOURS)],
            label=name,
        )
        bars.extend(container)
    ax.set_xticks(np.arange(len(groups)))
    ax.set_xticklabels([textwrap.fill(str(g), 18) for g in groups], fontsize=8)
    ax.set_ylabel(ylabel)
    legend_outside(ax, fontsize=7)
    return bars


def plot_learning_curves(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    baselines: Mapping[str, float],
    *,
    ax=None,
    ylabel: str = "validation macro recall",
    competent: Sequence[str] = (),
    groups: Mapping[str, str] | None = None,
    xlabel: str = "epoch",
) -> list:
    """A score against epoch, one line per model, and each baseline as a dashed horizontal line.

    ``curves`` maps a model name to (epochs, scores); ``baselines`` a baseline's name to its score; models named
    in ``competent`` are drawn solid and the others dotted, so the two kinds stay apart. Colours and legend
    entries are per model, or per group with ``groups`` (``_series_colours``); the legend is outside the axis
    and says what solid and dotted mean.
    """
    from matplotlib.lines import Line2D

    ax = _axis(ax)
    artists = []
    colour, label = _series_colours(list(curves), groups)
    for name, (epochs, values) in curves.items():
        (line,) = ax.plot(
            epochs, values, lw=1.2, color=colour[name], ls="-" if name in competent else ":", label=label[name]
        )
        artists.append(line)
    greys = ("#000000", "#7f7f7f", "#bcbd22", "#17becf")
    for i, (name, value) in enumerate(baselines.items()):
        if value is not None and np.isfinite(value):
            artists.append(ax.axhline(value, color=greys[i % len(greys)], ls="--", lw=1.0, label=f"{name} {value:.3f}"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.02)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    # one solid entry per model or group (a group mixes competent and never-competent seeds), then what the styles mean
    series = [
        Line2D([], [], color=line.get_color(), lw=1.5, label=line.get_label())
        for line in artists[: len(curves)]
        if not line.get_label().startswith("_")
    ]
    key = [
        Line2D([], [], color="#555555", lw=1.2, ls="-", label="solid: a competent model"),
        Line2D([], [], color="#555555", lw=1.2, ls=":", label="dotted: never competent"),
    ]
    legend_outside(ax, series + artists[len(curves) :] + key, fontsize=6)
    return artists


def plot_confusion(
    confusion: np.ndarray, *, ax=None, title: str = "", labels: Sequence[str] = ("hop", "jump", "leap", "help")
) -> list:
    """A confusion matrix (rows true label, columns prediction) shaded by row share (recall on the diagonal), with counts."""
    ax = _axis(ax)
    cm = np.asarray(confusion, dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    artists: list = [image]
    for (i, j), n in np.ndenumerate(cm):
        artists.append(
            ax.text(
                j,
                i,
                f"{int(n):,}\n{share[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if share[i, j] > 0.6 else "black",
            )
        )
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true label")
    if title:
        ax.set_title(title, fontsize=9)
    return artists


MEASURE_COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#9467bd", "#8c564b", "#17becf", "#bcbd22")


def plot_detection(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float], Sequence[float]]],
    *,
    ax=None,
    alpha: float = 0.05,
) -> list:
    """Detection rate against planted effect size: per measure (effects, rate, lo, hi), with interval bars.

    Effects are placed at equal spacing (labelled with their values) so that 0, 0.1 and 2 are all readable;
    the dashed line is alpha, the rate a measure may have on pure-noise units (effect 0).
    """
    ax = _axis(ax)
    artists: list = []
    ticks: list[float] = sorted({float(e) for effects, *_ in curves.values() for e in effects})
    pos = {e: i for i, e in enumerate(ticks)}
    n = max(len(curves), 1)
    for k, (name, (effects, rate, lo, hi)) in enumerate(curves.items()):
        x = np.array([pos[float(e)] for e in effects]) + (k - (n - 1) / 2) * 0.06
        rate, lo, hi = (np.asarray(v, dtype=float) for v in (rate, lo, hi))
        bars = ax.errorbar(
            x,
            rate,
            yerr=[rate - lo, hi - rate],
            marker="o",
            ms=4,
            lw=1.4,
            capsize=2,
            color=MEASURE_COLOURS[k % len(MEASURE_COLOURS)],
            label=name,
        )
        artists.append(bars)
    artists.append(ax.axhline(alpha, color="#7f7f7f", ls="--", lw=1.0, label=f"alpha {alpha:g}"))
    ax.set_xticks(range(len(ticks)), [f"{e:g}" for e in ticks])
    ax.set_xlabel("planted mirror unit: Cohen's d of both distress contrasts")
    ax.set_ylabel("share of plants called")
    ax.set_ylim(-0.02, 1.02)
    legend_outside(ax, artists, fontsize=7)
    return artists


def plot_false_positives(
    rows: Sequence[tuple[str, float, float, float]],
    *,
    ax=None,
    alpha: float = 0.05,
    colour: str = CLASS_COLOURS["mirror"],
    xlabel: str = "share of decoys called mirror",
) -> list:
    """Horizontal bars: per negative control (label, rate, lo, hi), how often a measure calls it, with intervals and alpha."""
    ax = _axis(ax)
    labels = [r[0] for r in rows]
    rate, lo, hi = (np.array([r[i] for r in rows], dtype=float) for i in (1, 2, 3))
    y = np.arange(len(rows))[::-1]
    bars = ax.barh(y, rate, xerr=[rate - lo, hi - rate], color=colour, alpha=0.8, capsize=2, error_kw={"lw": 0.8})
    artists: list = [bars, ax.axvline(alpha, color="#7f7f7f", ls="--", lw=1.0, label=f"alpha {alpha:g}")]
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1.0)
    ax.set_xlabel(xlabel)
    ax.legend(handles=[artists[1]], fontsize=7, loc="lower right")
    return artists
