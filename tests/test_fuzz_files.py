"""Every file the tool reads, mutated at random: it loads, or raises one of the project's errors (issue 14).

Hypothesis replaces one field of a manifest, a checkpoint's metadata or a
model's state.json by an arbitrary JSON value (or the whole document), and
truncates binaries at a random length. A reader may accept the file or refuse
it with a ``MirrorNeuronsError`` (one line and exit 2 at the CLI); any other
exception is a traceback the user would see. (Checkpoint metadata: in
train/test_checkpoint_meta.py.)
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror_neurons.data.dataset import Split, load_dataset, write_dataset
from mirror_neurons.data.describe import manifest_tables
from mirror_neurons.errors import MirrorNeuronsError
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import ModelConfig
from mirror_neurons.train.trainer import load_or_create, train

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
CONFIG = TrainConfig(model=ModelConfig(hidden=(3,)), lr=1e-3, max_epochs=1, patience=2)


def mutate(doc: dict, data) -> object:
    """``doc`` with one field (an existing or a new one) set to an arbitrary JSON value, or another document."""
    if data.draw(st.integers(0, 9), label="replace the whole document if 0") == 0:
        return data.draw(json_values, label="document")
    key = data.draw(st.sampled_from(sorted(doc)) | st.text(max_size=6), label="key")
    return {**doc, key: data.draw(json_values, label="value")}


def _split(rng, n):
    x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
    return Split(
        x,
        np.argmax(x[:, :4], axis=1).astype(np.uint8),
        rng.integers(0, 4, n, dtype=np.uint8),
        rng.integers(0, 32, n, dtype=np.uint8),
    )


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzzfiles")
    rng = np.random.default_rng(0)
    write_dataset(
        root / "data", {"train": _split(rng, 120), "val": _split(rng, 40), "test": _split(rng, 30)}, {"seed": 0}
    )
    train(CONFIG, load_dataset(root / "data"), root / "run")
    return root


def accepts_or_refuses(read) -> None:
    try:
        read()
    except MirrorNeuronsError:
        pass


@FUZZ
@given(data=st.data())
def test_mutated_manifest(folders, tmp_path_factory, data):
    copy = tmp_path_factory.mktemp("m") / "data"
    shutil.copytree(folders / "data", copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    (copy / "manifest.json").write_text(json.dumps(mutate(manifest, data)))
    accepts_or_refuses(lambda: load_dataset(copy))
    accepts_or_refuses(lambda: manifest_tables(copy))  # `data describe`


@FUZZ
@given(data=st.data())
def test_mutated_state_file(folders, tmp_path_factory, data):
    copy = tmp_path_factory.mktemp("s") / "run"
    shutil.copytree(folders / "run", copy)
    (state,) = copy.glob("models/*/state.json")
    state.write_text(json.dumps(mutate(json.loads(state.read_text()), data)))
    accepts_or_refuses(lambda: load_or_create(state.parent, state.parent.name, CONFIG))


@FUZZ
@given(cut=st.floats(0, 1, exclude_max=True), name=st.sampled_from(["train.parquet", "test.parquet"]))
def test_truncated_dataset_file(folders, tmp_path_factory, cut, name):
    copy = tmp_path_factory.mktemp("t") / "data"
    shutil.copytree(folders / "data", copy)
    blob = (copy / name).read_bytes()
    (copy / name).write_bytes(blob[: int(cut * len(blob))])
    with pytest.raises(MirrorNeuronsError):
        load_dataset(copy)
