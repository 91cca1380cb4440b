"""Training-level nulls (TrainConfig.labels): Toad-blind labels and shuffled labels, on real game states."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.data.prepare import label_states
from mirror_neurons.errors import ConfigError
from mirror_neurons.game.constants import WIDTH, Action, Scenario
from mirror_neurons.train.batches import SHUFFLE_SEED, training_labels
from mirror_neurons.train.checkpoint import load_checkpoint
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.trainer import train


@pytest.fixture(scope="module")
def game_data(tmp_path_factory):
    path = build_dataset(
        DataConfig.preset("demo", n_states=6_000, seed=4, episode_turns=400),
        tmp_path_factory.mktemp("d") / "g",
        workers=1,
    )
    return load_dataset(path)


@pytest.mark.slow
def test_relabeling_the_stored_states_gives_the_stored_labels(game_data):
    """The trainer relabels from (x, frog_pos); with the full rule that must give back the data stage's labels."""
    for split in (game_data.train, game_data.val, game_data.test):
        label, scenario = label_states(split.x, split.frog_pos)
        assert np.array_equal(label, split.label) and np.array_equal(scenario, split.scenario)


def test_toad_blind_labels_differ_exactly_where_the_partner_rule_fired(game_data):
    """Rule 3 (help: Frog at column >= 26, not in distress, Toad in distress) is the only change."""
    split = game_data.train
    blind, _ = label_states(split.x, split.frog_pos, toad_blind=True)
    p = split.frog_pos.astype(int)
    energy = split.x[:, 97]
    rule3 = (energy > 0) & (p >= 26) & (p < WIDTH - 1) & (split.scenario == Scenario.TOAD)
    assert rule3.any(), "the fixture must hold states where the partner rule fires"
    assert np.array_equal(blind != split.label, rule3)
    assert (split.label[rule3] == Action.HELP).all() and (blind[rule3] != Action.HELP).all()
    # help survives only at the right edge, where the rule does not read Toad
    assert (p[blind == Action.HELP] == WIDTH - 1).all()


def test_shuffled_labels_are_one_fixed_permutation_per_split(game_data):
    train, val = training_labels(game_data, "shuffled")
    rng = np.random.default_rng(SHUFFLE_SEED)
    assert np.array_equal(train, rng.permutation(game_data.train.label)) and np.array_equal(
        val, rng.permutation(game_data.val.label)
    )
    assert np.array_equal(np.sort(train), np.sort(game_data.train.label)) and not np.array_equal(
        train, game_data.train.label
    )


@pytest.mark.slow
def test_a_model_trains_on_the_labels_it_asks_for(game_data, tmp_path):
    """Validation accuracy is measured on the model's own labels: a tiny model on shuffled labels stays
    near the majority share, on the rule's labels it rises above it."""

    def fit(labels):
        config = TrainConfig(
            model=ModelConfig(hidden=(16,), encoding="onehot", dropout=0.0),
            loss="cross_entropy",
            l2=0.0,
            lr=3e-3,
            batch_size=64,
            max_epochs=4,
            seed=1,
            labels=labels,
        )
        return train(config, game_data, tmp_path / labels)

    rule, shuffled = fit("rule"), fit("shuffled")
    majority = np.bincount(game_data.val.label).max() / len(game_data.val)
    assert max(h["val_accuracy"] for h in rule.history) > majority + 0.1
    assert max(h["val_accuracy"] for h in shuffled.history) < majority + 0.05
    meta = load_checkpoint(shuffled.checkpoints[-1]).meta
    assert meta["hyperparameters"]["labels"] == "shuffled" and "labels-shuffled" in meta["model_id"]


def test_unknown_labels_are_refused():
    with pytest.raises(ConfigError, match="labels = 'blind' is not allowed; choose one of rule, toad_blind, shuffled"):
        TrainConfig(labels="blind")
