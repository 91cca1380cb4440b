"""Activation capture: named hooks, inference mode, hooks always removed, typed export."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.numpy import load_file

from analysis_synth import random_model
from mirror_neurons.analysis.activations import capture, export_activations, predict
from mirror_neurons.errors import AnalysisError


def manual_forward(model, x: np.ndarray) -> list[np.ndarray]:
    """Layer by layer with the weights, no hooks: relu(W h + b) for hidden layers, W h + b for the output."""
    h = x.astype(np.float64)
    out = []
    for i, layer in enumerate(model.layers):
        w, b = layer.weight.detach().double().numpy(), layer.bias.detach().double().numpy()
        h = h @ w.T + b
        if i < len(model.layers) - 1:
            h = np.maximum(h, 0)
        out.append(h)
    return out


def hook_count(model) -> int:
    return sum(len(p._forward_hooks) for p in model.points.values())


def test_every_layer_after_activation_in_inference_mode(small_split):
    model = random_model((6, 5))
    model.train()  # dropout 0.1 active in training mode; capture must switch it off
    acts = capture(model, small_split.x[:300], batch_size=128)
    assert list(acts) == ["dense_0", "dense_1", "dense_2"]
    assert [a.shape for a in acts.values()] == [(300, 6), (300, 5), (300, 4)]
    assert all(a.dtype == np.float32 for a in acts.values())
    for got, want in zip(acts.values(), manual_forward(model, small_split.x[:300])):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    assert model.training  # the caller's mode comes back
    assert hook_count(model) == 0


def test_hooks_removed_after_an_exception():
    model = random_model((6, 5))
    with pytest.raises(RuntimeError):
        capture(model, np.zeros((3, 7), dtype=np.uint8))  # wrong input width: the forward pass fails
    assert hook_count(model) == 0
    with pytest.raises(AnalysisError, match="dense_9"):
        capture(model, np.zeros((3, 100), dtype=np.uint8), layers=("dense_9",))
    assert hook_count(model) == 0


def test_masks_zero_units_inside_the_forward_pass(small_split):
    model = random_model((6, 5))
    x = small_split.x[:50]
    masked = capture(model, x, masks={"dense_0": np.array([0, 1, 1, 1, 1, 1], dtype=np.float32)})
    assert (masked["dense_0"][:, 0] == 0).all()
    # the next layer sees the ablation: recompute it from the masked first layer by hand
    w, b = model.layers[1].weight.detach().numpy(), model.layers[1].bias.detach().numpy()
    np.testing.assert_allclose(masked["dense_1"], np.maximum(masked["dense_0"] @ w.T + b, 0), rtol=1e-5, atol=1e-5)
    assert (predict(model, x) == manual_forward(model, x)[-1].argmax(1)).all()


def test_export_round_trips(tmp_path, small_split):
    model = random_model((6, 5))
    acts = capture(model, small_split.x[:40])
    back = load_file(export_activations(acts, tmp_path / "a.safetensors"))
    for k in acts:
        np.testing.assert_array_equal(back[k], acts[k])
    table = pq.read_table(export_activations(acts, tmp_path / "a.parquet"))
    assert table.num_columns == 15
    np.testing.assert_array_equal(table.column("dense_1.3").to_numpy(), acts["dense_1"][:, 3])
    with pytest.raises(AnalysisError, match="a.csv"):
        export_activations(acts, tmp_path / "a.csv")


def test_torch_input_accepted():
    model = random_model((6, 5))
    x = torch.rand(10, 100)
    np.testing.assert_allclose(capture(model, x)["dense_2"], model.eval()(x).detach().numpy(), rtol=1e-6)
