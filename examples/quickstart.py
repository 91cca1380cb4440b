# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Quickstart: a finished run, one figure again, and your own model
#
# This is a notebook in the "percent" format: each `# %%` starts a cell. Open it in
# Jupyter with `pip install jupytext` (then *Open as notebook*), in VS Code as is, or
# run it top to bottom with `python examples/quickstart.py`. The tests run it on a
# tiny study (`tests/test_docs_and_examples.py`), so it stays true to the code.
#
# It needs a finished run: `make demo` writes `runs/demo` (about 1.5 minutes on two
# idle cores). Set `MIRROR_NEURONS_RUN` to read another run folder.

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no window when run as a script; in Jupyter, figures show inline anyway
import matplotlib.pyplot as plt
import numpy as np
import pyarrow.parquet as pq

RUN = Path(os.environ.get("MIRROR_NEURONS_RUN", "runs/demo"))
print("run folder:", RUN.resolve())

# %% [markdown]
# ## 1. Load the run's analysis: one row per checkpoint
#
# `analyze` writes `sweep/analysis/checkpoints.parquet` (its columns: `docs/analysis.md`);
# the report reads it under the names declared in `mirror_neurons.tables.CHECKPOINTS`: each
# checkpoint's raw CMNI, its bootstrap interval (`cmni_ci_low`, `cmni_ci_high`), the larger
# mean of its null distributions (`null_chance_mean`), its p-value against chance (`p_chance`,
# the larger of the two controls') and whether it is competent (it learned the game better
# than the energy-only rule).

# %%
from mirror_neurons.report.collect import read_checkpoint_table

path = RUN / "sweep" / "analysis" / "checkpoints.parquet"
print("columns of the file:", len(pq.read_schema(path).names))
table = read_checkpoint_table(path, notes=[])
cmni = np.asarray(table["cmni"], dtype=float)
competent = np.asarray(table["competent"], dtype=float) == 1.0
print(f"{len(cmni)} checkpoints of {len(set(table['model_id']))} models, {int(competent.sum())} competent")

# %% [markdown]
# ## 2. Redraw one figure of the report
#
# The report's figures are plain functions, `plot_x(data, *, ax=None)`, in
# `mirror_neurons.report.plots`. This is section 6's "CMNI, interval and null" for the
# competent checkpoints (all of them if none is), from the table above.

# %%
from mirror_neurons.report import plots

shown = competent if competent.any() else np.ones(len(cmni), dtype=bool)
p_value = np.asarray(table["p_chance"], dtype=float)
fig, ax = plt.subplots(figsize=(7, 3.4))
plots.plot_cmni_vs_chance(
    cmni[shown],
    *(np.asarray(table[k], dtype=float)[shown] for k in ("cmni_ci_low", "cmni_ci_high", "null_chance_mean")),
    p_value[shown] < 0.05,
    ax=ax,
)
ax.set_title("CMNI of each checkpoint against chance")
fig.savefig(RUN / "quickstart-cmni-vs-chance.png", dpi=200, bbox_inches="tight")
print(f"{int((p_value[shown] < 0.05).sum())} of {int(shown.sum())} checkpoints beat chance (p < 0.05)")

# %% [markdown]
# ## 3. Your own model
#
# Any `nn.Sequential` of `Linear` layers with one activation type and four outputs
# (hop, jump, leap, help, in that order) can be analysed. It reads the game state as
# 100 integers (`docs/spec-summary.md`, section 3). Here a small one is trained for a
# few hundred steps on the run's training states, with plain PyTorch.

# %%
import torch
from torch import nn

from mirror_neurons.data.dataset import load_dataset

data = load_dataset(RUN / "data", splits=("train", "test"))
x = torch.from_numpy(data.train.x.astype(np.float32))  # (n, 100) raw states
y = torch.from_numpy(data.train.label.astype(np.int64))  # (n,) best action, 0..3

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(100, 24), nn.ReLU(), nn.Linear(24, 24), nn.ReLU(), nn.Linear(24, 4))
optimiser = torch.optim.Adam(net.parameters(), lr=3e-3)
generator = torch.Generator().manual_seed(0)
for step in range(300):
    batch = torch.randint(len(x), (128,), generator=generator)
    loss = nn.functional.cross_entropy(net(x[batch]), y[batch])
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
print(f"training loss after {step + 1} steps: {loss.item():.3f}")

# %% [markdown]
# `analyze_checkpoint` takes the module itself (or a saved checkpoint). Without the
# controls (`controls=False`) it measures CMNI, the scale-free index and the unit
# classes in a second; with them it also builds the null distributions that say
# whether the numbers beat chance (slower: see `docs/analysis.md`).

# %%
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_checkpoint, prepare_test
from mirror_neurons.analysis.units import class_counts

config = AnalysisConfig(controls=False)
test = prepare_test(data.test, config=config)
result = analyze_checkpoint(net, test, config)
print(f"test accuracy {result.accuracy:.3f}; competent: {result.competent}")
print(f"CMNI {result.cmni.cmni:.5f}; scale-free mirror index {result.cmni_d.cmni:.4f}")
print("units per class:", class_counts(result.classes))

# %% [markdown]
# A few hundred steps on the raw integers learn little more than the energy rule
# (energy 0 -> jump, otherwise hop: test accuracy 0.80 on the balanced test set), so
# this model is most likely not competent and its mirror measures describe a network
# that did not learn the game. `docs/training.md` gives the recipe that is competent
# (one-hot input, cross-entropy, class-balanced sampling).
#
# The activations themselves, by layer (the Sequential's own names: "0", "2", "4"),
# read after each ReLU:

# %%
from mirror_neurons.analysis.activations import capture

acts = capture(net, data.test.x[:1000])
print({name: a.shape for name, a in acts.items()})
