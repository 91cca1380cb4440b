"""Weight z-scores, strongest inputs and the action a unit drives, on kernels worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neurons.analysis.circuits import (
    circuit_table,
    drive_path,
    feature_name,
    format_table,
    kernel_zscores,
    strong_inputs,
)
from mirror_neurons.train.model import MLP, ModelConfig


def hand_model() -> MLP:
    """Layer 0 (2 x 100): zero but w[0, 97] = 3 and w[1, 33] = 3. Layer 1 (4 x 2): [[0, 1], [2, 0], [0, 0], [0, 0]]."""
    model = MLP(ModelConfig(hidden=(2,), dropout=0.0))
    with torch.no_grad():
        model.layers[0].weight.zero_()
        model.layers[0].weight[0, 97] = 3.0
        model.layers[0].weight[1, 33] = 3.0
        model.layers[1].weight.copy_(torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0], [0.0, 0.0]]))
    return model


def test_zscores_against_the_whole_kernel():
    z0, z1 = kernel_zscores(hand_model())
    # layer 0: mean 6/200 = 0.03, sd = sqrt(18/200 - 0.03**2) = sqrt(0.0891)
    assert z0[0, 97] == pytest.approx((3 - 0.03) / np.sqrt(0.0891))
    assert z0[0, 0] == pytest.approx(-0.03 / np.sqrt(0.0891))
    # layer 1: mean 3/8, sd = sqrt(5/8 - 9/64)
    assert z1[1, 0] == pytest.approx((2 - 0.375) / np.sqrt(5 / 8 - 9 / 64))


def test_strongest_inputs_and_drive():
    zs = kernel_zscores(hand_model())
    assert list(strong_inputs(zs[0], 0)) == [97]
    assert feature_name(97) == "energy" and feature_name(33) == "players[1]" and feature_name(70) == "flies[6]"
    assert list(strong_inputs(zs[1], 2)) == []  # all-zero row: nothing above z = 1
    path = drive_path(zs, 0, 0)
    assert [(l, u) for l, u, _ in path] == [(1, 1)]  # unit 0's strongest out-weight (2) goes to output 1: jump
    assert path[0][2] == pytest.approx((2 - 0.375) / np.sqrt(5 / 8 - 9 / 64))
    assert drive_path(zs, 1, 3) == []


def test_circuit_table_rows():
    classes = np.array(["mirror", "differentiating", "other", "other", "other", "other"], dtype=object)
    rows = circuit_table(hand_model(), classes)
    assert [(r["layer"], r["unit"], r["class"], r["drives"]) for r in rows] == [
        ("dense_0", 0, "mirror", "jump"),
        ("dense_0", 1, "differentiating", "hop"),
    ]
    assert rows[0]["strongest_inputs"].startswith("energy (z=9.9")
    assert rows[1]["strongest_inputs"].startswith("players[1]")
    text = format_table(rows)
    assert "mirror" in text and "players[1]" in text


def test_circuits_name_onehot_inputs_by_cell_and_symbol():
    """A first-layer unit wired to "players[5] = distress" (index 32 * 2 + 5 * 8 + 6) is reported by that name."""
    model = MLP(ModelConfig(hidden=(2,), encoding="onehot"))
    distress_at_5 = 64 + 5 * 8 + 6
    assert feature_name(distress_at_5, "onehot") == "players[5] = distress"
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.zero_()
        model.layers[0].weight[0, distress_at_5] = 5.0
        model.layers[1].weight[2, 0] = 1.0
    rows = circuit_table(model, np.array(["mirror", "other"] + ["other"] * 4, dtype=object))
    assert rows[0]["strongest_inputs"].startswith("players[5] = distress (z=")
    assert rows[0]["drives"] == "leap"


def test_a_unit_whose_outgoing_weights_are_all_zero_drives_nothing():
    """Found with planted units: a unit feeding nothing was reported as driving jump through a z = 0.04 link."""
    model = MLP(ModelConfig(hidden=(3, 2), encoding="raw"))
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.normal_(generator=torch.Generator().manual_seed(0))
        model.layers[1].weight[:, 2] = 0.0  # first-layer unit 2 feeds nothing
    zs = kernel_zscores(model)
    assert drive_path(zs, 0, 2) == []
    rows = circuit_table(model, np.array(["other", "other", "mirror", "other", "other"] + ["other"] * 4, dtype=object))
    assert [r["drives"] for r in rows] == ["none (no outgoing weight stands out)"]
    assert (
        drive_path(zs, 0, 0) and drive_path(zs, 0, 0)[-1][0] == 2
    )  # a unit that feeds the next layer reaches an action
