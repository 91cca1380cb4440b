"""Circuits: weight z-scores, each unit's strongest inputs and the action it drives (the paper's Tables 7-10).

A weight's z-score is taken against *all* weights of its kernel (the mean and
standard deviation of the flattened (out, in) matrix), as the paper does. For a
unit, its **strongest inputs** are the units (or input features, for the first
layer) whose weight into it has the largest z-scores, keeping at most ``top_k``
with z > ``z_min``. The **action it drives** follows the strongest positive
weight out of the unit, layer by layer, until it reaches an output unit; the
path and its z-scores are reported, so a weak link is visible, not hidden.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirror_neurons.game.constants import Action
from mirror_neurons.train.encoding import get_encoding
from mirror_neurons.train.model import MLP


def kernel_zscores(model: MLP) -> list[np.ndarray]:
    """Per Dense layer, (out, in) z-scores of its kernel against the whole flattened kernel."""
    out = []
    for w in model.kernels():
        w = w.detach().cpu().numpy().astype(np.float64)
        sd = w.std()
        out.append((w - w.mean()) / sd if sd > 0 else np.zeros_like(w))
    return out


def feature_name(i: int, encoding: str = "raw") -> str:
    """Readable name of input feature i of an encoding: "players[5]" (raw), "players[5] = distress" (onehot)."""
    return get_encoding(encoding).feature_names[i]


def strong_inputs(z: np.ndarray, unit: int, *, top_k: int = 3, z_min: float = 1.0) -> np.ndarray:
    """Indices of the inputs of ``unit`` with the largest weight z-scores (at most top_k, each > z_min)."""
    row = z[unit]
    order = np.argsort(-row, kind="stable")[:top_k]
    return order[row[order] > z_min]


def drive_path(zs: Sequence[np.ndarray], layer: int, unit: int) -> list[tuple[int, int, float]]:
    """Follow the strongest outgoing weight from (layer, unit) to the output: [(layer, unit, z), ...].

    The path stops where a unit's outgoing weights are all equal (all 0, for a unit that feeds
    nothing): no weight is the strongest, so the unit drives no action through it.
    """
    path = []
    while layer + 1 < len(zs):
        col = zs[layer + 1][:, unit]
        if np.ptp(col) == 0:
            break
        nxt = int(np.argmax(col))
        layer, unit = layer + 1, nxt
        path.append((layer, unit, float(col[nxt])))
    return path


def circuit_table(
    model: MLP,
    classes: np.ndarray,
    *,
    include: tuple[str, ...] = ("mirror", "anti-mirror", "differentiating", "mixed"),
    top_k: int = 3,
    z_min: float = 1.0,
) -> list[dict]:
    """One row per classified unit: its strongest inputs (with their class) and the action it drives.

    ``classes`` is the (units,) class array of all layers side by side (``units.classify``).
    """
    zs = kernel_zscores(model)
    names = model.config.layer_names
    widths = model.config.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    rows = []
    for layer, (name, w) in enumerate(zip(names, widths)):
        for unit in range(w):
            cls = str(classes[starts[layer] + unit])
            if cls not in include:
                continue
            inputs = strong_inputs(zs[layer], unit, top_k=top_k, z_min=z_min)
            if layer == 0:
                described = [f"{feature_name(int(i), model.config.encoding)} (z={zs[0][unit, i]:.2f})" for i in inputs]
            else:
                described = [
                    f"{names[layer - 1]}.{int(i)} [{classes[starts[layer - 1] + i]}] (z={zs[layer][unit, i]:.2f})"
                    for i in inputs
                ]
            path = drive_path(zs, layer, unit)
            reaches_output = layer == len(zs) - 1 or (path and path[-1][0] == len(zs) - 1)
            action = (
                Action(path[-1][1] if path else unit).name.lower()
                if reaches_output
                else "none (no outgoing weight stands out)"
            )
            rows.append(
                {
                    "layer": name,
                    "unit": unit,
                    "class": cls,
                    "strongest_inputs": "; ".join(described) or f"none with z > {z_min}",
                    "path": " -> ".join(f"{names[l]}.{u} (z={z:.2f})" for l, u, z in path) or "(output unit)",
                    "drives": action,
                    "drive_z": path[-1][2] if path else float("nan"),
                }
            )
    return rows


def format_table(rows: list[dict]) -> str:
    """The rows as a plain-text table (for notebooks and docs)."""
    if not rows:
        return "(no classified units)"
    cols = list(rows[0])
    cells = [[str(r[c]) if not isinstance(r[c], float) else f"{r[c]:.2f}" for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths))  # noqa: E731
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def self_preservation(kernels: Sequence[np.ndarray], first_layer_classes: Sequence[str]) -> dict:
    """The paper's self-preservation circuit read from the weights (its z 1.5 into the unit, 2.12 to leap).

    ``kernels``: every Dense kernel (out, in), at least three (two hidden layers); ``first_layer_classes``: the
    unit classes of the first hidden layer. The hub is the second-layer unit with the largest mean weight z-score
    from the first layer's mirror units; its action is where the strongest outgoing weights lead from it
    (``drive_path``). Returns ``mirror_units`` (may be empty: then nothing else), ``hub``, ``mirror_z`` (mean
    z of the mirror units' weights into the hub), ``output`` (action name, None when the path stops) and
    ``output_z`` (z of the last link of that path).
    """
    if len(kernels) < 3:
        raise ValueError(f"the circuit runs through a second hidden layer; got {len(kernels)} kernels")
    mirror = [i for i, c in enumerate(first_layer_classes) if c == "mirror"]
    if not mirror:
        return {"mirror_units": []}
    zs = []
    for w in kernels:
        w = np.asarray(w, dtype=np.float64)
        sd = w.std()
        zs.append((w - w.mean()) / sd if sd > 0 else np.zeros_like(w))
    hub = int(np.argmax(zs[1][:, mirror].mean(axis=1)))
    path = drive_path(zs, 1, hub)
    reaches = bool(path) and path[-1][0] == len(zs) - 1
    return {
        "mirror_units": mirror,
        "hub": hub,
        "mirror_z": float(zs[1][hub, mirror].mean()),
        "output": Action(path[-1][1]).name.lower() if reaches else None,
        "output_z": float(path[-1][2]) if reaches else None,
    }
