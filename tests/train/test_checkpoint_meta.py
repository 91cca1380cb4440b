"""Checkpoint metadata is type-checked, its weights file kept in its folder and its size bounded (issue 14)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mirror_neurons.errors import CheckpointError, MirrorNeuronsError
from mirror_neurons.train.checkpoint import load_checkpoint, read_meta, read_tensors, save_checkpoint, write_tensors
from mirror_neurons.train.model import MLP, ModelConfig


@pytest.fixture
def checkpoint(tmp_path):
    return save_checkpoint(tmp_path / "ck", MLP(ModelConfig(hidden=(3,))), {"epoch": 1, "model_id": "m"})


def edit(path, **fields):
    meta = json.loads(path.read_text())
    path.write_text(json.dumps({**meta, **fields}))


def test_intact_checkpoint_loads(checkpoint):
    assert load_checkpoint(checkpoint).meta["epoch"] == 1


def test_tensor_files_round_trip_and_refuse_a_pickle_or_another_hash(tmp_path):
    """The one reader and writer of checkpoints' and resume files' tensors (``write_tensors``, ``read_tensors``)."""
    import hashlib

    import torch

    path, sidecar = tmp_path / "t.safetensors", tmp_path / "t.json"
    sha = write_tensors(path, {"w": torch.arange(6.0).reshape(2, 3)[:, ::2]})  # a strided view is written whole
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    assert read_tensors(path, sha, recorded_in=sidecar, fix="fix it")["w"].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    with pytest.raises(CheckpointError, match="does not match the hash in t.json .*; fix it"):
        read_tensors(path, "0" * 64, recorded_in=sidecar, fix="fix it")
    torch.save({"w": torch.zeros(1)}, path)  # a pickle with the right hash is still refused, never unpickled
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(CheckpointError, match="is not a readable safetensors file .*; fix it"):
        read_tensors(path, sha, recorded_in=sidecar, fix="fix it")
    with pytest.raises(CheckpointError, match="gone.safetensors is missing; fix it"):
        read_tensors(tmp_path / "gone.safetensors", None, recorded_in=sidecar, fix="fix it")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"epoch": "seven"}, "epoch = 'seven' is not an integer"),
        ({"epoch": True}, "epoch = True is not an integer"),
        ({"weights_file": 5}, "weights_file = 5 is not a string"),
        (
            {"weights_file": "../../../../etc/passwd"},
            "weights_file '../../../../etc/passwd' lies outside the checkpoint's folder",
        ),
        ({"weights_file": ""}, "lies outside the checkpoint's folder"),
        ({"model": {"hidden": [3], "n_inputs": "a"}}, r"model widths \['a', 3, 4\] must be positive integers"),
        ({"model": {"hidden": [1e9]}}, "must be positive integers"),
        ({"model": {"hidden": [1_000_000_000]}}, r"model \(105,000,000,004 weights\) needs about 420.0 GB of memory"),
        ({"model": []}, "model = \\[\\] is not an object"),
    ],
)
def test_metadata_of_the_wrong_shape_is_refused(checkpoint, fields, message):
    edit(checkpoint, **fields)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(checkpoint)


def test_metadata_that_is_not_an_object(checkpoint):
    checkpoint.write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="holds a JSON list, not checkpoint metadata"):
        read_meta(checkpoint)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def mutate(doc: dict, data) -> object:
    """``doc`` with one field (an existing or a new one) set to an arbitrary JSON value, or another document."""
    if data.draw(st.integers(0, 9), label="replace the whole document if 0") == 0:
        return data.draw(json_values, label="document")
    key = data.draw(st.sampled_from(sorted(doc)) | st.text(max_size=6), label="key")
    return {**doc, key: data.draw(json_values, label="value")}


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ck")
    save_checkpoint(folder / "c", MLP(ModelConfig(hidden=(3,))), {"epoch": 1, "model_id": "m", "dataset_hash": "ab"})
    return folder


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_metadata_loads_or_is_refused(pristine, tmp_path_factory, data):
    """Any field (of the model section too) set to any JSON value: a checkpoint, or a MirrorNeuronsError."""
    copy = tmp_path_factory.mktemp("c")
    shutil.copytree(pristine, copy, dirs_exist_ok=True)
    meta = json.loads((copy / "c.json").read_text())
    if data.draw(st.booleans(), label="mutate the model section"):
        meta["model"] = mutate(meta["model"], data)
    else:
        meta = mutate(meta, data)
    (copy / "c.json").write_text(json.dumps(meta))
    try:
        load_checkpoint(copy / "c.json")
    except MirrorNeuronsError:
        pass


@pytest.mark.parametrize(("encoding", "features"), [("raw", 100), ("onehot", 385)])
def test_the_json_says_what_the_outputs_and_inputs_mean(tmp_path, encoding, features):
    """A reader outside the package finds the output order and the input encoding in the JSON itself
    (issue 15): the four actions in the order of their codes 0-3 (docs/spec-summary.md section 2)."""
    path = save_checkpoint(tmp_path / "ck", MLP(ModelConfig(hidden=(3,), encoding=encoding)), {"epoch": 1})
    meta = json.loads(path.read_text())
    assert meta["outputs"] == ["hop", "jump", "leap", "help"]
    assert meta["inputs"]["encoding"] == encoding and meta["inputs"]["features"] == features
    assert "ground row 0-31" in meta["inputs"]["state"]
    assert load_checkpoint(path).model.layers[0].in_features == features
