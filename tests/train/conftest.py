"""Small datasets for the training tests: random game-like inputs, labels from a simple rule."""

from __future__ import annotations

import numpy as np
import pytest

from mirror_neurons.data.dataset import Split, load_dataset, write_dataset


def make_split(rng: np.random.Generator, n: int) -> Split:
    """Inputs in 0..9 like the game's codes; label = which of inputs 0..3 is largest (learnable by an MLP)."""
    x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
    label = np.argmax(x[:, :4], axis=1).astype(np.uint8)
    scenario = rng.integers(0, 4, size=n, dtype=np.uint8)
    frog_pos = rng.integers(0, 32, size=n, dtype=np.uint8)
    return Split(x=x, label=label, scenario=scenario, frog_pos=frog_pos)


def make_dataset(path, seed: int = 0, n_train: int = 600, n_val: int = 200, n_test: int = 100):
    rng = np.random.default_rng(seed)
    splits = {"train": make_split(rng, n_train), "val": make_split(rng, n_val), "test": make_split(rng, n_test)}
    write_dataset(path, splits, {"source": "tests/train synthetic", "seed": seed})
    return load_dataset(path)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "tiny")


@pytest.fixture(scope="session")
def other_dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("data") / "other", seed=1)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The reference loops in these tests use one thread too (the trainer's default): faster on 2 shared cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def dataset_factory():
    """``make_dataset`` for tests that need their own sizes."""
    return make_dataset
