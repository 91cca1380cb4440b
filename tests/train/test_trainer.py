"""The trainer against independent references: the plain PyTorch loop (train.reference), and each model trained alone."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from mirror_neurons.errors import CheckpointError, ConfigError, DataError
from mirror_neurons.train.checkpoint import iter_checkpoints, load_checkpoint
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.reference import reference_train
from mirror_neurons.train.trainer import dropout_draws, dropout_threshold, model_generator, train, train_many


def cfg(hidden=(17, 17), lr=1e-3, batch_size=25, dropout=0.12, seed=0, **kw) -> TrainConfig:
    return TrainConfig(model=ModelConfig(hidden=hidden, dropout=dropout), lr=lr, batch_size=batch_size, seed=seed, **kw)


@pytest.mark.parametrize(
    "options",
    [
        {},  # the paper's: mse_l2 (l2 0.01), raw, shuffle
        {"loss": "mse", "l2": 0.0},
        {"loss": "cross_entropy", "l2": 0.0},
        {"loss": "cross_entropy", "l2": 0.003},
        {"model": ModelConfig(hidden=(17, 17), encoding="onehot")},
        {"sampling": "balanced"},
        {
            "model": ModelConfig(hidden=(9,), encoding="onehot"),
            "loss": "cross_entropy",
            "l2": 0.0,
            "sampling": "balanced",
        },
    ],
    ids=["mse_l2", "mse", "cross_entropy", "cross_entropy_l2", "onehot", "balanced", "onehot_ce_balanced"],
)
def test_single_model_matches_plain_pytorch_loop(tiny_dataset, tmp_path, options):
    config = dataclasses.replace(cfg(hidden=(17, 17), lr=3e-3, batch_size=25, seed=7, max_epochs=2), **options)
    result = train(config, tiny_dataset, tmp_path)
    assert result.epochs == 2
    net = reference_train(config, tiny_dataset, epochs=2)
    state = load_file(next((tmp_path / "models" / result.model_id).glob("state-e0002.safetensors")))
    for i, lin in enumerate(l for l in net if isinstance(l, nn.Linear)):
        torch.testing.assert_close(state[f"param.layers.{i}.weight"], lin.weight.detach(), rtol=1e-4, atol=1e-6)
        torch.testing.assert_close(state[f"param.layers.{i}.bias"], lin.bias.detach(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"model": ModelConfig(hidden=(9,), activation="tanh")}, "covers activation in .*'relu'.*not 'tanh'"),
        ({"model": ModelConfig(hidden=(9,), encoding="recoded")}, "covers encoding .* not 'recoded'"),
        ({"labels": "toad_blind"}, "covers labels .* not 'toad_blind'"),
        ({"epoch_rows": 100}, "covers epoch_rows .* not 100"),
    ],
)
def test_reference_refuses_what_it_does_not_cover(tiny_dataset, options, match):
    with pytest.raises(ConfigError, match=match):
        reference_train(dataclasses.replace(cfg(max_epochs=1), **options), tiny_dataset, epochs=1)


def test_same_seeds_give_the_same_bytes(tiny_dataset, tmp_path):
    """Two runs of one sweep write identical files: padded widths, a stack of one (its ghost), a stack that
    shrinks when a model stops early, dropout, every random step of the protocol."""
    configs = [
        cfg(hidden=(17, 17), lr=3e-3, seed=1, max_epochs=3),
        cfg(hidden=(5, 9), lr=1e-2, dropout=0.3, seed=2, max_epochs=3),
        cfg(hidden=(8, 8), lr=0.05, loss="mse", l2=0.0, patience=1, seed=3, max_epochs=3),
        cfg(hidden=(11,), lr=2e-3, batch_size=20, seed=4, max_epochs=3),  # alone in its stack
    ]
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        train_many(configs, tiny_dataset, run)
    files = [{p.relative_to(run): p.read_bytes() for p in (run / "models").rglob("*") if p.is_file()} for run in runs]
    assert len(files[0]) > 4 * 3
    assert files[0] == files[1]


def test_reported_val_loss_is_the_full_objective(tiny_dataset, tmp_path):
    result = train(cfg(lr=3e-3, max_epochs=2, seed=3), tiny_dataset, tmp_path)
    ckpt = load_checkpoint(result.checkpoints[-1])
    x, label = tiny_dataset.val.torch()
    with torch.no_grad():
        out = ckpt.model(x)  # eval mode: no dropout
    onehot = nn.functional.one_hot(label, 4).float()
    mse = ((out - onehot) ** 2).mean().item()
    penalty = 0.01 * sum((w**2).sum().item() for w in ckpt.model.kernels())
    assert ckpt.meta["val_mse"] == pytest.approx(mse, rel=1e-5)
    assert ckpt.meta["val_loss"] == pytest.approx(mse + penalty, rel=1e-5)
    assert ckpt.meta["val_accuracy"] == pytest.approx((out.argmax(1) == label).float().mean().item())
    for key in (
        "dataset_hash",
        "package_version",
        "seed",
        "epoch",
        "steps",
        "samples_seen",
        "hyperparameters",
        "model",
    ):
        assert key in ckpt.meta
    assert ckpt.meta["dataset_hash"] == tiny_dataset.hash
    assert ckpt.meta["steps"] == ckpt.meta["epoch"] * math.ceil(len(tiny_dataset.train) / 25)
    assert ckpt.meta["samples_seen"] == ckpt.meta["epoch"] * len(tiny_dataset.train)


GROUP = [
    cfg(hidden=(17, 17), lr=3e-3, seed=1),
    cfg(hidden=(5, 9), lr=1e-2, dropout=0.3, seed=2),  # padded inside the 2-layer stack
    cfg(hidden=(17, 17), lr=1e-3, dropout=0.0, seed=3),
    cfg(hidden=(11,), lr=2e-3, batch_size=20, seed=4),  # another stack
    cfg(hidden=(8, 8, 8), lr=5e-3, batch_size=20, seed=5),
]


@pytest.mark.slow
def test_models_trained_together_match_each_trained_alone(tiny_dataset, tmp_path):
    configs = [TrainConfig.from_dict({**c.to_dict(), "max_epochs": 3}) for c in GROUP]
    together = train_many(configs, tiny_dataset, tmp_path / "together")
    for i in (1, 3, 4):
        alone = train(configs[i], tiny_dataset, tmp_path / f"alone{i}")
        joint = together[i]
        assert [h["epoch"] for h in alone.history] == [h["epoch"] for h in joint.history] == [1, 2, 3]
        for a, b in zip(alone.history, joint.history):
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
            assert a["is_best"] == b["is_best"]
        assert len(alone.checkpoints) == len(joint.checkpoints) > 0
        for pa, pb in zip(alone.checkpoints, joint.checkpoints):
            ca, cb = load_checkpoint(pa), load_checkpoint(pb)
            assert ca.meta["epoch"] == cb.meta["epoch"]
            for (ka, ta), (kb, tb) in zip(ca.model.state_dict().items(), cb.model.state_dict().items()):
                assert ka == kb
                torch.testing.assert_close(ta, tb, rtol=1e-4, atol=1e-6)


def test_padding_is_exact_even_when_f0_is_not_zero(tiny_dataset, tmp_path):
    """sigmoid(0) = 0.5: padded units must still pass nothing on (their dropout mask is 0)."""
    small = TrainConfig(model=ModelConfig(hidden=(5,), activation="sigmoid"), lr=1e-2, seed=1, max_epochs=2)
    wide = TrainConfig(model=ModelConfig(hidden=(12,), activation="sigmoid"), lr=1e-2, seed=2, max_epochs=2)
    together, _ = train_many([small, wide], tiny_dataset, tmp_path / "together")
    alone = train(small, tiny_dataset, tmp_path / "alone")
    assert [h["val_loss"] for h in together.history] == pytest.approx([h["val_loss"] for h in alone.history], rel=1e-5)
    wa = load_checkpoint(alone.checkpoints[-1]).model.state_dict()
    wt = load_checkpoint(together.checkpoints[-1]).model.state_dict()
    for k in wa:
        torch.testing.assert_close(wt[k], wa[k], rtol=1e-4, atol=1e-6)


def test_group_models_are_not_clones(tiny_dataset, tmp_path):
    """Same architecture and lr, different seeds: different weights (each has its own stream)."""
    configs = [cfg(lr=3e-3, seed=s, max_epochs=1) for s in (1, 2)]
    a, b = train_many(configs, tiny_dataset, tmp_path)
    wa = load_checkpoint(a.checkpoints[0]).model.layers[0].weight
    wb = load_checkpoint(b.checkpoints[0]).model.layers[0].weight
    assert not torch.allclose(wa, wb)


def test_checkpoints_only_at_improving_epochs_and_early_stopping(tiny_dataset, tmp_path):
    # without the L2 term and at lr 0.03 the tiny problem's val loss plateaus within a few epochs
    result = train(cfg(hidden=(17, 17), lr=0.03, loss="mse", max_epochs=40, patience=2, seed=1), tiny_dataset, tmp_path)
    losses = [h["val_loss"] for h in result.history]
    best_so_far = [i for i, v in enumerate(losses) if v < min(losses[:i], default=math.inf)]
    assert [h["is_best"] for h in result.history] == [i in best_so_far for i in range(len(losses))]
    # epoch 0: the initial weights (the analysis's paired partner), then every improving epoch
    assert [load_checkpoint(p).meta["epoch"] for p in result.checkpoints] == [0] + [i + 1 for i in best_so_far]
    assert [load_checkpoint(p).meta["init"] for p in result.checkpoints] == [True] + [False] * len(best_so_far)
    assert sorted(iter_checkpoints(tmp_path)) == sorted(result.checkpoints)
    assert result.status == "stopped_early", result.reason
    assert len(losses) - 1 - best_so_far[-1] == 2  # stopped exactly `patience` epochs after the best
    assert result.best_epoch == best_so_far[-1] + 1


def test_max_epochs_status(tiny_dataset, tmp_path):
    result = train(cfg(lr=1e-3, max_epochs=2, seed=2), tiny_dataset, tmp_path)
    assert result.status == "max_epochs" and result.epochs == 2
    state = json.loads((tmp_path / "models" / result.model_id / "state.json").read_text())
    assert state["status"] == "max_epochs" and len(state["history"]) == 2


def test_nan_loss_stops_only_that_model(tiny_dataset, tmp_path):
    exploding = cfg(hidden=(17, 17), lr=1e8, seed=1, max_epochs=3)
    healthy = cfg(hidden=(17, 17), lr=1e-3, seed=2, max_epochs=3)
    bad, good = train_many([exploding, healthy], tiny_dataset, tmp_path)
    assert bad.status == "nan" and "epoch 1" in bad.reason and ("NaN" in bad.reason or "infinite" in bad.reason)
    assert bad.epochs == 1 and [load_checkpoint(p).meta["epoch"] for p in bad.checkpoints] == [
        0
    ]  # its initial weights only
    assert good.status == "max_epochs" and good.epochs == 3 and len(good.checkpoints) >= 1
    assert all(math.isfinite(h["val_loss"]) for h in good.history)
    alone = train(healthy, tiny_dataset, tmp_path / "alone")  # the NaN neighbour changed nothing
    assert [h["val_loss"] for h in alone.history] == pytest.approx([h["val_loss"] for h in good.history], rel=1e-6)


def test_rerun_of_finished_run_changes_nothing(tiny_dataset, tmp_path):
    config = cfg(lr=3e-3, max_epochs=2, seed=4)
    first = train(config, tiny_dataset, tmp_path)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    second = train(config, tiny_dataset, tmp_path)
    assert second.checkpoints == first.checkpoints
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_resume_refuses_another_dataset(tiny_dataset, other_dataset, tmp_path):
    train(cfg(max_epochs=1), tiny_dataset, tmp_path)
    with pytest.raises(DataError, match="was trained on dataset .* use another --out"):
        train(cfg(max_epochs=1), other_dataset, tmp_path)


def test_resume_refuses_another_architecture(tiny_dataset, tmp_path):
    config = cfg(hidden=(17, 17), max_epochs=1)
    result = train(config, tiny_dataset, tmp_path)
    state_file = tmp_path / "models" / result.model_id / "state.json"
    state = json.loads(state_file.read_text())
    state["config"]["model"]["hidden"] = [9, 9]
    state_file.write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match=r"holds a \(9, 9\) model"):
        train(config, tiny_dataset, tmp_path)


def test_checkpoint_of_another_architecture_is_refused(tiny_dataset, tmp_path):
    result = train(cfg(hidden=(17, 17), max_epochs=1), tiny_dataset, tmp_path)
    with pytest.raises(CheckpointError, match=r"is a \(17, 17\) model, expected \(5,\)"):
        load_checkpoint(result.checkpoints[0], expect=ModelConfig(hidden=(5,)))


def test_dataset_with_other_inputs_is_refused(tiny_dataset, tmp_path):
    with pytest.raises(DataError, match="has 100 inputs but the model expects 50"):
        train(TrainConfig(model=ModelConfig(n_inputs=50)), tiny_dataset, tmp_path)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr": 0.0}, r"lr = 0.0 is out of range; allowed \(0, inf\)"),
        ({"batch_size": 0}, r"batch_size = 0 is out of range; allowed \[1, 1e\+06\]"),
        ({"beta2": 1.0}, r"beta2 = 1.0 is out of range; allowed \[0, 1\)"),
        ({"loss": "hinge"}, "choose one of mse_l2, mse, cross_entropy"),
        ({"loss": "mse", "l2": 0.01}, "has no penalty"),
        ({"patience": 2.5}, "patience must be an integer"),
    ],
)
def test_train_config_validation(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig(**kwargs)


def test_loss_defaults():
    assert TrainConfig().l2 == 0.01 and TrainConfig().eps == 1e-7
    assert TrainConfig(loss="mse").l2 == 0.0
    assert TrainConfig(loss="cross_entropy", l2=0.001).l2 == 0.001


@pytest.mark.parametrize("rate", [0.0, 0.12, 0.5, 0.9])
def test_dropout_draws_drop_units_at_the_configured_rate(rate):
    """Protocol step 4 against the spec's rate: binomial, 5 sigma (plus the 1/65536 quantisation)."""
    g = model_generator(11)
    u = torch.cat([dropout_draws(g, (64, 25, 34)).flatten() for _ in range(20)]).int() + 32768
    dropped = float((u < dropout_threshold(rate)).double().mean())
    sigma = math.sqrt(rate * (1 - rate) / len(u))
    assert abs(dropped - rate) <= 5 * sigma + 1 / 65536


@pytest.mark.slow
def test_dropout_draws_are_uniform_16_bit_values_in_every_position_of_a_64_bit_word():
    """All four 16-bit parts of each 64-bit draw (the top one included) are uniform on 0..65535."""
    from scipy.stats import chisquare

    u = dropout_draws(model_generator(5), (400_000,)).int() + 32768
    for part in range(4):
        counts = torch.bincount(u[part::4] // 4096, minlength=16).numpy()
        assert chisquare(counts).pvalue > 1e-6, (part, counts)


def test_stacks_whose_steps_gather_as_many_rows_train_side_by_side(tiny_dataset, tmp_path):
    """4 models x batch 25 and 5 models x batch 20 both gather 100 rows per step: each stack keeps its own shape."""
    configs = [cfg(hidden=(6,), batch_size=25, seed=i, max_epochs=2) for i in range(4)]
    configs += [cfg(hidden=(5, 5), batch_size=20, seed=10 + i, max_epochs=2) for i in range(5)]
    together = train_many(configs, tiny_dataset, tmp_path / "together")
    alone = train(configs[6], tiny_dataset, tmp_path / "alone")
    assert [h["epoch"] for h in together[6].history] == [1, 2]
    for a, b in zip(alone.history, together[6].history):
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)


def test_options_that_keep_shapes_mix_in_one_stack(tiny_dataset, tmp_path):
    """l2 and sampling differ per model inside one stack; each model still trains as it would alone."""
    onehot = ModelConfig(hidden=(9, 9), encoding="onehot")
    configs = [
        TrainConfig(model=onehot, loss="cross_entropy", l2=0.0, lr=3e-3, seed=1, max_epochs=2),
        TrainConfig(model=onehot, loss="cross_entropy", l2=0.002, lr=1e-3, seed=2, max_epochs=2, sampling="balanced"),
        TrainConfig(
            model=ModelConfig(hidden=(9, 9)), loss="cross_entropy", l2=0.0, lr=3e-3, seed=3, max_epochs=2
        ),  # raw: its own stack
    ]
    together = train_many(configs, tiny_dataset, tmp_path / "together")
    for i in (1, 2):
        alone = train(configs[i], tiny_dataset, tmp_path / f"alone{i}")
        for a, b in zip(alone.history, together[i].history):
            assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
        wa = load_checkpoint(alone.checkpoints[-1]).model.state_dict()
        wt = load_checkpoint(together[i].checkpoints[-1]).model.state_dict()
        for k in wa:
            torch.testing.assert_close(wt[k], wa[k], rtol=1e-4, atol=1e-6)


def test_validation_recall_per_class_is_recorded(tiny_dataset, tmp_path):
    config = TrainConfig(
        model=ModelConfig(hidden=(9,), encoding="onehot"), loss="cross_entropy", l2=0.0, lr=3e-3, seed=4, max_epochs=2
    )
    result = train(config, tiny_dataset, tmp_path)
    ckpt = load_checkpoint(result.checkpoints[-1])
    assert ckpt.meta["model"]["encoding"] == "onehot" and ckpt.meta["hyperparameters"]["encoding"] == "onehot"
    x, label = tiny_dataset.val.torch()
    with torch.no_grad():
        pred = ckpt.model(x).argmax(1)
    recall = [((pred == c) & (label == c)).sum().item() / (label == c).sum().item() for c in range(4)]
    assert ckpt.meta["val_recall"] == pytest.approx(recall)
    assert ckpt.meta["val_macro_recall"] == pytest.approx(sum(recall) / 4)
    row = result.history[ckpt.meta["epoch"] - 1]
    assert row["val_recall"] == ckpt.meta["val_recall"]


def test_balanced_sampling_draws_each_class_about_equally(dataset_factory, tmp_path):
    """Protocol step 3, balanced: with unequal labels (argmax of 4 codes: ties favour class 0) the drawn rows are near 25 % each."""
    from scipy.stats import chisquare

    from mirror_neurons.train.batches import TrainingTensors

    data = dataset_factory(tmp_path / "d", seed=3, n_train=2000)
    tensors = TrainingTensors(data)
    rows = tensors.epoch_rows("balanced", 40_000, model_generator(0))
    counts = torch.bincount(tensors.label_train[rows], minlength=4).numpy()
    assert chisquare(counts).pvalue > 1e-4, counts
    assert chisquare(np.bincount(data.train.label, minlength=4)).pvalue < 1e-6  # the labels themselves are not balanced
