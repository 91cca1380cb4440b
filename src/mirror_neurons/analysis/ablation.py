"""Causal test: zero a class of units and count how many predicted actions change.

A forward hook on each affected ``model.points[layer]`` multiplies the layer's
output by a 0/1 mask inside the forward pass, so later layers see the ablation.
Only hidden units are ablated (an output unit is an action score; zeroing it
tests nothing about circuits). The effect is the fraction of test states whose
predicted action (argmax of the outputs) changes, overall and per scenario.

Against chance: the same number of units, drawn at random per layer (the
class's count in each layer, uniformly among that layer's units), ``n_draws``
times; p = (1 + #{random effect >= class effect}) / (1 + n_draws).

Given the checkpoint's activations (``acts``, as ``analyze_checkpoint`` has them),
each ablated forward pass starts at the lowest masked layer from its recorded
output instead of at the input: the same arithmetic on the layers above
(``predict_from``, tested equal to the hooked pass), without re-running the
encoding and the first layer, which hold most of a small MLP's cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from mirror_neurons.analysis.activations import predict
from mirror_neurons.analysis.stats import empirical_p
from mirror_neurons.game.constants import Scenario
from mirror_neurons.train.model import MLP


@dataclass(frozen=True)
class AblationResult:
    n_units: int
    changed: float  # fraction of all test states whose predicted action changed
    changed_by_scenario: dict[str, float]
    random_changed: np.ndarray  # (n_draws,) the same for random units

    @property
    def p_value(self) -> float:
        if len(self.random_changed) == 0:
            return float("nan")
        return empirical_p(self.random_changed, self.changed)


def masks_for(model: MLP, units: np.ndarray) -> dict[str, np.ndarray]:
    """{layer: 0/1 mask} zeroing the given flat unit indices (all layers side by side)."""
    widths = model.config.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    masks = {}
    for layer, name in enumerate(model.config.layer_names):
        local = units[(units >= starts[layer]) & (units < starts[layer + 1])] - starts[layer]
        if len(local):
            m = np.ones(widths[layer], dtype=np.float32)
            m[local] = 0.0
            masks[name] = m
    return masks


def predict_from(model: MLP, acts: dict[str, np.ndarray], masks: dict[str, np.ndarray]) -> np.ndarray:
    """Predicted action per state with ``masks`` applied, recomputed from the lowest masked layer's recorded output.

    ``acts`` are the unmasked post-activation outputs of every layer (``activations.capture``); inference mode
    (dropout is off), so layer j's output is ``activation(layers[j](x))`` and the output layer is linear.
    """
    names = list(model.config.layer_names)
    if not masks:
        return np.asarray(acts[names[-1]]).argmax(axis=1)
    first = min(names.index(k) for k in masks)
    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(acts[names[first]], dtype=np.float32)) * torch.from_numpy(
            masks[names[first]]
        )
        for j in range(first + 1, len(names)):
            x = model.layers[j](x)
            if j < len(names) - 1:
                x = model.activation(x)
            if names[j] in masks:
                x = x * torch.from_numpy(masks[names[j]])
    return x.argmax(dim=1).numpy()


def ablate_class(
    model: MLP,
    x,
    scenario: np.ndarray,
    selected: np.ndarray,
    rng: np.random.Generator,
    *,
    n_draws: int = 50,
    baseline: np.ndarray | None = None,
    acts: dict[str, np.ndarray] | None = None,
) -> AblationResult:
    """Ablate the hidden units where ``selected`` (units,) bool is true; compare with random sets.

    ``acts``: the model's unmasked activations on ``x`` (all layers); if given, ablated passes start there.
    """
    widths = model.config.widths
    starts = np.concatenate([[0], np.cumsum(widths)])
    hidden_end = starts[-2]
    selected = np.asarray(selected, dtype=bool).copy()
    selected[hidden_end:] = False
    units = np.flatnonzero(selected)
    base = predict(model, x) if baseline is None else baseline

    def run(masks: dict[str, np.ndarray]) -> np.ndarray:
        return predict(model, x, masks) if acts is None else predict_from(model, acts, masks)

    pred = run(masks_for(model, units))
    change = pred != base
    by_scenario = {
        s.name.lower(): float(change[scenario == s].mean()) if np.any(scenario == s) else float("nan") for s in Scenario
    }
    per_layer = [int(np.sum((units >= starts[l]) & (units < starts[l + 1]))) for l in range(len(widths) - 1)]
    random = np.empty(n_draws if len(units) else 0)
    for i in range(len(random)):
        draw = np.concatenate(
            [starts[l] + rng.choice(widths[l], k, replace=False) for l, k in enumerate(per_layer) if k]
        )
        random[i] = np.mean(run(masks_for(model, draw)) != base)
    return AblationResult(len(units), float(change.mean()), by_scenario, random)
