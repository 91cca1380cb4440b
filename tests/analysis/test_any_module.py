"""The analysis reads a researcher's own torch model: any nn.Module with named Linear layers, or one clear line.

Expected activations are computed by hand from the module's own weights (``x @ W.T + b``, then the
activation), never from ``capture`` itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from analysis_synth import make_split
from mirror_neurons.analysis.activations import activation_points, capture, predict
from mirror_neurons.analysis.pipeline import AnalysisConfig, analyze_checkpoint
from mirror_neurons.errors import AnalysisError
from mirror_neurons.train.export import from_torch

CHEAP = AnalysisConfig(controls=False, matched=False)


def sequential(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(100, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 4))


class Functional(nn.Module):
    """Named Linear layers with the activation applied in forward (invisible to hooks)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.fc1, self.out = nn.Linear(100, 5), nn.Linear(5, 4)

    def forward(self, x):
        return self.out(torch.relu(self.fc1(x)))


def states(n: int = 40) -> torch.Tensor:
    return torch.from_numpy(make_split(400, seed=3).x[:n].astype(np.float32))


def test_a_sequential_is_read_after_each_activation_by_its_names():
    net, x = sequential(), states()
    acts = capture(net, x)
    assert list(acts) == ["0", "3", "5"]
    with torch.no_grad():
        h1 = torch.relu(x @ net[0].weight.T + net[0].bias)
        h2 = torch.tanh(h1 @ net[3].weight.T + net[3].bias)  # dropout is off in inference
        out = h2 @ net[5].weight.T + net[5].bias
    for name, want in (("0", h1), ("3", h2), ("5", out)):
        np.testing.assert_allclose(acts[name], want.numpy(), rtol=1e-5, atol=1e-6)
    assert acts["0"].min() >= 0  # after the ReLU, not before it
    np.testing.assert_array_equal(predict(net, x), out.argmax(dim=1).numpy())
    assert net.training  # the module's mode comes back


def test_any_module_is_read_at_its_linear_layers():
    net, x = Functional(), states()
    assert list(activation_points(net)) == ["fc1", "out"]
    acts = capture(net, x)
    with torch.no_grad():
        np.testing.assert_allclose(acts["fc1"], (x @ net.fc1.weight.T + net.fc1.bias).numpy(), rtol=1e-5, atol=1e-6)
    assert acts["fc1"].min() < 0  # the functional relu is after the hook point: documented, and seen here


@pytest.mark.parametrize(
    "model, match",
    [
        (nn.Sequential(nn.Conv1d(1, 2, 3)), "Sequential has no nn.Linear layer"),
        ("not a model", "expected a torch.nn.Module with named nn.Linear layers, got str"),
    ],
)
def test_what_cannot_be_read_is_said_in_one_line(model, match):
    with pytest.raises(AnalysisError, match=match) as err:
        capture(model, states())
    assert "\n" not in str(err.value)


def test_a_shared_activation_module_is_refused():
    act = nn.ReLU()
    net = nn.Sequential(nn.Linear(100, 4), act, nn.Linear(4, 4), act, nn.Linear(4, 4))
    with pytest.raises(AnalysisError, match="own activation module"):
        capture(net, states())


def test_analyze_checkpoint_takes_a_plain_sequential():
    split = make_split(900, seed=2)
    net = nn.Sequential(nn.Linear(100, 7), nn.ReLU(), nn.Linear(7, 6), nn.ReLU(), nn.Linear(6, 4))
    mine = analyze_checkpoint(net, split, CHEAP)
    ours = analyze_checkpoint(from_torch(net), split, CHEAP)
    assert mine.widths == (7, 6, 4)
    assert mine.cmni.cmni == pytest.approx(ours.cmni.cmni) and mine.accuracy == pytest.approx(ours.accuracy)
    # the same CMNI from the means of the captured activations, by the definition (MNS = min of both rises if > 0)
    acts = np.concatenate(list(capture(net, split.x).values()), axis=1)
    groups = mine.moments.mean  # (4 groups, units): none, frog, toad, both
    assert groups.shape == (4, acts.shape[1])
    rise = groups[1:3] - groups[0]
    mns = np.where((rise > 0).all(axis=0), rise.min(axis=0), 0.0)
    assert mine.cmni.cmni == pytest.approx(mns.sum() / acts.shape[1])


@pytest.mark.parametrize(
    "model, match",
    [
        (Functional(), "needs a Checkpoint .*, an MLP, or an nn.Sequential .* got Functional"),
        (
            nn.Sequential(nn.Linear(100, 5), nn.ReLU(), nn.Linear(5, 3)),
            "cannot read this nn.Sequential: the last Linear has 3 outputs",
        ),
    ],
)
def test_analyze_checkpoint_says_what_it_needs(model, match):
    with pytest.raises(AnalysisError, match=match) as err:
        analyze_checkpoint(model, make_split(300, seed=1), replace(CHEAP, significance=False))
    assert "\n" not in str(err.value)
