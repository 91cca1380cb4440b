"""Synthetic test sets and models for the analysis tests (no training, no game run)."""

from __future__ import annotations

import numpy as np
import torch

from mirror_neurons.data.dataset import Split
from mirror_neurons.game.constants import PLAYERS, Scenario, Symbol
from mirror_neurons.train.model import MLP, ModelConfig


def make_split(n: int, seed: int = 0, *, other_symbol_rate: float = 0.1) -> Split:
    """n random states with a consistent players row per scenario (codes 4/5/9 at two distinct columns).

    A fraction ``other_symbol_rate`` of the single-distress states shows the *other* player with an
    action symbol (leap, 7), so the published filters drop them.
    """
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 100), dtype=np.uint8)
    x[:, 0:32] = rng.choice([Symbol.SOLID, Symbol.ROUGH], size=(n, 32), p=[0.8, 0.2])
    scenario = rng.integers(0, 4, n).astype(np.uint8)
    frog_pos = rng.integers(0, 31, n)
    toad_pos = (frog_pos + rng.integers(1, 6, n)) % 32
    frog_sym = np.where((scenario == Scenario.FROG) | (scenario == Scenario.BOTH), Symbol.DISTRESS, Symbol.FROG)
    toad_sym = np.where((scenario == Scenario.TOAD) | (scenario == Scenario.BOTH), Symbol.DISTRESS, Symbol.TOAD)
    odd = rng.random(n) < other_symbol_rate
    toad_sym = np.where(odd & (scenario == Scenario.FROG), Symbol.LEAP, toad_sym)
    frog_sym = np.where(odd & (scenario == Scenario.TOAD), Symbol.LEAP, frog_sym)
    rows = np.arange(n)
    x[rows, PLAYERS.start + frog_pos] = frog_sym
    x[rows, PLAYERS.start + toad_pos] = toad_sym
    flies = rng.random((n, 32)) < 0.2
    x[:, 64:96] = np.where(flies, Symbol.FLY, 0)
    x[:, 97] = rng.integers(0, 21, n)
    label = rng.integers(0, 4, n).astype(np.uint8)
    return Split(x=x, label=label, scenario=scenario, frog_pos=frog_pos.astype(np.uint8))


def random_model(hidden=(6, 5), seed: int = 0) -> MLP:
    model = MLP(ModelConfig(hidden=hidden, dropout=0.1))
    model.reset_parameters(torch.Generator().manual_seed(seed))
    # non-zero biases so that some ReLUs are active on every state and some on none
    with torch.no_grad():
        for layer in model.layers:
            layer.bias.uniform_(-1.0, 1.0, generator=torch.Generator().manual_seed(seed + 1))
    return model.eval()
