"""Figures of the RL experiment (issue 17), each drawn on a Matplotlib axis.

Same form as ``report.plots``: ``plot_x(data, *, ax=None) -> artists``, plain
rows in (the per-agent dicts of ``experiments.rl``), nothing written to disk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REWARD_COLOURS = {"selfish": "#1f77b4", "shared": "#d62728", "score": "#7f7f7f", "team": "#2ca02c"}


def _axis(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    return ax


def plot_by_cell(agents: Sequence[Mapping], key: str, *, ax=None, references: Mapping[str, float] | None = None,
                 ylabel: str | None = None) -> list:  # fmt: skip
    """One column per cell (reward, D): every agent as a dot, the cell's mean as a bar; ``references`` as dashed lines."""
    ax = _axis(ax)
    cells = sorted({(a["reward"], float(a["dependency"])) for a in agents}, key=lambda c: (c[1], c[0]))
    artists = []
    for i, (reward, d) in enumerate(cells):
        v = np.array([a[key] for a in agents if a["reward"] == reward and float(a["dependency"]) == d], dtype=float)
        v = v[np.isfinite(v)]
        jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(len(v))
        artists.append(ax.scatter(i + jitter, v, s=14, color=REWARD_COLOURS.get(reward, "k"), alpha=0.7, zorder=3))
        if len(v):
            artists.append(ax.hlines(v.mean(), i - 0.3, i + 0.3, color="k", lw=2, zorder=4))
    for j, (name, value) in enumerate((references or {}).items()):
        artists.append(ax.axhline(value, ls="--", lw=1, color=f"C{j + 4}", label=name))
    ax.set_xticks(range(len(cells)), [f"{r}\nD={d:g}" for r, d in cells])
    ax.set_ylabel(ylabel or key)
    if references:
        ax.legend(fontsize=8, frameon=False)
    return artists


def plot_help_vs_mirror(agents: Sequence[Mapping], *, ax=None) -> list:
    """Each agent's help rate (only Toad in distress) against its mirror change over its own initialisation."""
    ax = _axis(ax)
    artists = []
    for reward in sorted({a["reward"] for a in agents}):
        rows = [a for a in agents if a["reward"] == reward]
        artists.append(ax.scatter([a["help_rate_partner_distress"] for a in rows], [a["mirror_change"] for a in rows],
                                  s=16, color=REWARD_COLOURS.get(reward, "k"), label=reward, alpha=0.8))  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("help rate when only Toad is in distress")
    ax.set_ylabel("change of the scale-free mirror index\n(final - own initialisation)")
    ax.legend(fontsize=8, frameon=False)
    return artists
