"""The case example: one checkpoint measured in full, chosen by a stated rule, written for the report to read.

The checkpoint table has one row per checkpoint; the report also shows one
checkpoint's raw material: per-unit moments by scenario group, a few units'
activations (box plots), its null distributions, its circuits and ablations, an
ASCII episode, the paper's self-preservation circuit read from its weights, and
its behaviour in the game beside the labeling rule and random play.
``write_case`` (called by ``analyze_run`` once the table is written) chooses
the checkpoint (``CASE_RULE``), has it measured by ``analyze_checkpoint`` under
the run's own settings (so the same streams, and the numbers of its row), and
writes

- ``case.json``: everything that is not an array (``CASE_FILE``), and
- ``case.safetensors``: the arrays (``CASE_ARRAYS``), named ``means.dense_0``,
  ``kernel.1``, ``boxes.2.toad``, ``nulls.0``, ``circuit.kernel.1``, ...

The report reads the two files and lays them out; it measures nothing.

Case rule: among the competent checkpoints (``analysis.competence``) when there
are any, otherwise among all (and the report says so): those with validation
loss under the paper's threshold (or the lowest-loss quarter when none reaches
it), the one with the most mirror units; ties go to the smaller p-value, then
the larger CMNI. Epoch-0 checkpoints are never the case. When the case has one
hidden layer, the best two-layer checkpoint by the same rule gives the circuit
the paper draws from layer 1 through layer 2 to the actions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from safetensors import SafetensorError
from safetensors.numpy import load as load_arrays
from safetensors.numpy import save as save_arrays

from mirror_neurons import atomic
from mirror_neurons.tables import CASE, CHECKPOINTS
from mirror_neurons.analysis.activations import capture
from mirror_neurons.analysis.behaviour import behaviour_table, play_episode
from mirror_neurons.analysis.circuits import self_preservation
from mirror_neurons.analysis.competence import COMPETENT_COLUMN
from mirror_neurons.analysis.groups import GROUPS
from mirror_neurons.errors import AnalysisError
from mirror_neurons.train.model import MLP

CASE_FILE = CASE.file
CASE_ARRAYS = "case.safetensors"
LOSS_THRESHOLD = 0.06
"""The paper's rule of thumb: val loss < 0.06 (with CMNI > 0.005) shows robust mirror patterns."""
CASE_RULE = (
    "among the competent checkpoints (all checkpoints when none is competent), those with validation loss "
    "under the threshold (or the lowest-loss quarter when none reaches it); of these, the one with the most "
    "mirror units; ties go to the smaller p-value, then the larger CMNI."
)
MAX_BOX_STATES = 5000
"""Activations kept per unit and group for the box plots."""


def _column(table: dict[str, list], name: str, default=np.nan) -> np.ndarray:
    n = len(next(iter(table.values()))) if table else 0
    values = table.get(name, [default] * n)
    return np.array([default if v is None else v for v in values], dtype=float)


def choose_case(checkpoints: dict[str, list], threshold: float = LOSS_THRESHOLD, min_layers: int = 1) -> int | None:
    """Row index of the case checkpoint by ``CASE_RULE`` among trained checkpoints of >= ``min_layers`` hidden layers.

    ``checkpoints``: ``checkpoints.parquet`` as columns (``tables.CHECKPOINTS`` names).
    """
    loss = _column(checkpoints, "val_loss")
    init = _column(checkpoints, "init", 0.0) == 1.0
    deep = (_column(checkpoints, "n_layers") >= min_layers) & ~init
    competent = _column(checkpoints, COMPETENT_COLUMN, 0.0) == 1.0
    if (deep & competent).any():
        deep = deep & competent
    if not deep.any() or not np.isfinite(loss[deep]).any():
        return None
    eligible = np.flatnonzero(deep & (loss < threshold))
    if not len(eligible):
        eligible = np.flatnonzero(deep & (loss <= np.nanquantile(loss[deep], 0.25)))
    mirror = np.nan_to_num(_column(checkpoints, "n_mirror")[eligible], nan=0)
    # the analysis's chance test (both controls: the larger p-value, pipeline.chance_columns)
    p = np.nan_to_num(_column(checkpoints, "p_chance")[eligible], nan=1)
    cmni = np.nan_to_num(_column(checkpoints, "cmni")[eligible], nan=0)
    order = np.lexsort((-cmni, p, -mirror))  # last key is primary
    return int(eligible[order[0]])


def case_record(res, model: MLP, test, *, max_box: int = 3) -> tuple[dict, dict]:
    """(``case.json`` fields, ``case.safetensors`` arrays) of one checkpoint's ``CheckpointAnalysis`` ``res``
    (``analyze_checkpoint``) of ``model`` on the prepared test states ``test``."""
    acts = capture(model, test.x)
    a = np.concatenate(list(acts.values()), axis=1)  # (n, units), layers side by side
    widths = res.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    names = list(res.layers)
    classes = res.classes if res.classes is not None else np.full(int(starts[-1]), "other", dtype=object)
    hidden = np.arange(int(starts[-2]))

    def unit_name(u: int) -> str:
        layer = int(np.searchsorted(starts, u, side="right") - 1)
        return f"{names[layer]}.{u - starts[layer]} ({classes[u]})"

    # Box plots: the mirror units with the largest smaller effect size; without mirror units, the units
    # whose activations move most with either player's distress (sum of |Cohen's d|), so never a dead unit.
    if res.tests is not None and np.any(classes[hidden] == "mirror"):
        lift = np.minimum(res.tests.d_frog, res.tests.d_toad)
        mirror = hidden[classes[hidden] == "mirror"]
        pick = mirror[np.argsort(-lift[mirror], kind="stable")][:max_box]
    elif res.tests is not None:
        moved = np.nan_to_num(np.abs(res.tests.d_frog) + np.abs(res.tests.d_toad), posinf=0.0)
        pick = hidden[np.argsort(-moved[hidden], kind="stable")][:max_box]
    else:
        pick = hidden[np.argsort(-res.moments.var[0, hidden], kind="stable")][:max_box]
    arrays: dict[str, np.ndarray] = {}
    for i in range(len(widths)):
        for key, values in (
            ("means", res.moments.mean),
            ("variance", res.moments.var),
            ("skewness", res.moments.skew),
            ("kurtosis", res.moments.kurt),
        ):
            arrays[f"{key}.{names[i]}"] = np.ascontiguousarray(
                np.asarray(values[:, starts[i] : starts[i + 1]]).T
            )  # (units, 4)
    for i, w in enumerate(model.kernels()):
        arrays[f"kernel.{i}"] = w.detach().numpy().copy()
    for i, u in enumerate(pick):
        for g in GROUPS:
            arrays[f"boxes.{i}.{g}"] = np.ascontiguousarray(a[test.groups.index(g), u][:MAX_BOX_STATES])
    null_names = []
    if res.controls is not None:
        for name, test_ in (("random init", res.controls.random_init), ("permuted labels", res.controls.permutation)):
            if test_ is not None:
                arrays[f"nulls.{len(null_names)}"] = np.asarray(test_.null, dtype=np.float64)
                null_names.append(name)
    weight_tables = []
    if res.circuits:
        cols = ["layer", "unit", "class", "strongest_inputs", "drives", "drive_z", "path"]
        weight_tables.append(
            {
                "caption": "Circuits of the classified units: strongest inputs and the action each drives "
                "(weight z-scores against the whole kernel, as the paper's Tables 7-10)",
                "columns": [c.replace("_", " ") for c in cols],
                "rows": [[f"{r[c]:.2f}" if isinstance(r[c], float) else r[c] for c in cols] for r in res.circuits],
            }
        )
    ablation = None
    if res.ablation:
        labels, cls_vals, rnd_vals, rnd_err, table = [], [], [], [], []
        for c, r in res.ablation.items():
            labels.append(f"{c} ({r.n_units})")
            cls_vals.append(r.changed)
            rnd = r.random_changed
            rnd_vals.append(float(np.mean(rnd)) if len(rnd) else None)
            rnd_err.append(float(np.std(rnd)) if len(rnd) else 0.0)
            by = [r.changed_by_scenario.get(s) for s in GROUPS]
            table.append(
                [
                    c,
                    r.n_units,
                    f"{r.changed:.3f}",
                    *("–" if v is None or not np.isfinite(v) else f"{v:.3f}" for v in by),
                    "–" if rnd_vals[-1] is None else f"{rnd_vals[-1]:.3f}",
                    "–" if not np.isfinite(r.p_value) else f"{r.p_value:.3f}",
                ]
            )
        ablation = {
            "groups": labels,
            "ylabel": "share of test states whose action changes",
            "values": {"class ablated": cls_vals, "as many random units": rnd_vals},
            "errors": {"as many random units": rnd_err},
            "p_values": [None if not np.isfinite(r.p_value) else float(r.p_value) for r in res.ablation.values()],
            "n_states": res.ablation_states,
            "table": {
                "columns": [
                    "class",
                    "units",
                    "changed",
                    *(f"changed ({s})" for s in GROUPS),
                    "random units (mean)",
                    "p",
                ],
                "rows": table,
            },
        }
    fields = {
        "accuracy": res.accuracy,
        "layer_names": names,
        "classes": [list(map(str, classes[starts[i] : starts[i + 1]])) for i in range(len(widths))],
        "boxes": [unit_name(int(u)) for u in pick],
        "nulls": null_names,
        "group_sizes": {k: int(v) for k, v in res.group_counts.items()},
        "weight_tables": weight_tables,
        "ablation": ablation,
    }
    return fields, arrays


Measure = Callable[[str], tuple[object, MLP]]
"""The checkpoint (path relative to the run folder) -> (its ``CheckpointAnalysis``, its model)."""


def write_case(
    analysis_dir: str | Path,
    measure: Measure,
    test,
    *,
    seed: int = 0,
    threshold: float = LOSS_THRESHOLD,
    games: int = 256,
    turns: int = 200,
) -> Path | None:
    """Choose, measure (``measure``) and write the case checkpoint of an analysed run (module docstring).

    ``test``: the prepared test states the checkpoints were analysed on; ``seed`` seeds the ASCII episode's game and
    the ``games`` behaviour games of ``turns`` turns per policy (``behaviour.behaviour_table``).
    Returns ``case.json``'s path, or None (and no case files) when no checkpoint can be the case.
    """
    analysis_dir = Path(analysis_dir)
    for name in (CASE_FILE, CASE_ARRAYS):  # a case of an earlier analysis never outlives it
        (analysis_dir / name).unlink(missing_ok=True)
    table = pq.read_table(analysis_dir / CHECKPOINTS.file).to_pydict()
    i = choose_case(table, threshold)
    if i is None:
        return None
    row = {k: v[i] for k, v in table.items()}
    res, model = measure(row["checkpoint"])
    fields, arrays = case_record(res, model, test)
    frames, counts = play_episode(model, seed)
    fields.update(
        {
            "rule": CASE_RULE,
            "threshold": threshold,
            "checkpoint": row["checkpoint"],
            "model_id": row["model_id"],
            "epoch": row.get("epoch"),
            "episode": frames,
            "episode_actions": counts,
            "circuit": None,
            "behaviour": behaviour_table(model, seed, n_games=games, turns=turns),
        }
    )
    kernels = [arrays[f"kernel.{k}"] for k in range(len(fields["layer_names"]))]
    fields["self_preservation"] = None
    if len(kernels) >= 3:
        fields["self_preservation"] = {
            "checkpoint": "the case checkpoint",
            **self_preservation(kernels, fields["classes"][0]),
        }
    else:  # one hidden layer: the paper's layer-2 circuit needs a deeper model
        j = choose_case(table, threshold, min_layers=2)
        if j is not None:
            deep = {k: v[j] for k, v in table.items()}
            d_fields, d_arrays = case_record(*measure(deep["checkpoint"]), test)
            d_kernels = [d_arrays[f"kernel.{k}"] for k in range(len(d_fields["layer_names"]))]
            name = f"{deep['model_id']}, epoch {deep.get('epoch')} (best two-layer checkpoint by the case rule)"
            fields["circuit"] = {
                "checkpoint": deep["checkpoint"],
                "model_id": deep["model_id"],
                "epoch": deep.get("epoch"),
                "classes": d_fields["classes"],
                "competent": deep.get(COMPETENT_COLUMN) is True,
                "self_preservation": {"checkpoint": name, **self_preservation(d_kernels, d_fields["classes"][0])},
            }
            arrays.update({f"circuit.kernel.{k}": w for k, w in enumerate(d_kernels)})
    atomic.write_bytes(analysis_dir / CASE_ARRAYS, save_arrays({k: np.ascontiguousarray(v) for k, v in arrays.items()}))
    fields = CASE.writing(_clean(fields), analysis_dir / CASE_FILE)
    atomic.write_text(analysis_dir / CASE_FILE, json.dumps(fields, indent=1) + "\n")
    return analysis_dir / CASE_FILE


def _clean(v):
    """``v`` for JSON: numpy scalars as Python numbers, NaN and infinities as None (never a bare NaN in the file)."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def read_case(analysis_dir: str | Path) -> tuple[dict, dict[str, np.ndarray]] | None:
    """(``case.json``, ``case.safetensors`` arrays) of an analysis folder; None when the run has no case files.

    ``AnalysisError`` (one line, with the fix) for a damaged file.
    """
    analysis_dir = Path(analysis_dir)
    if not (analysis_dir / CASE_FILE).is_file():
        return None
    fix = "run `mirror-neurons analyze` on the run again to rewrite it"
    fields = atomic.read_json_object(analysis_dir / CASE_FILE, AnalysisError, fix)
    try:
        arrays = load_arrays((analysis_dir / CASE_ARRAYS).read_bytes())
    except (OSError, SafetensorError) as e:
        raise AnalysisError(f"{analysis_dir / CASE_ARRAYS} cannot be read ({type(e).__name__}); {fix}") from e
    return CASE.require(fields, analysis_dir / CASE_FILE), arrays
