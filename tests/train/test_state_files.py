"""What a run folder holds is checked before it is trusted (issue 14: state.json, run.json, checkpoints)."""

from __future__ import annotations

import json
import math
import shutil

import pytest

from mirror_neurons.errors import CheckpointError, ConfigError, DataError
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import MLP, ModelConfig
from mirror_neurons.train.resume import ModelState, save_state
from mirror_neurons.train.trainer import model_generator, train

CONFIG = TrainConfig(model=ModelConfig(hidden=(4,)), lr=3e-3, max_epochs=2, patience=5)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_dataset):
    out = tmp_path_factory.mktemp("state") / "run"
    result = train(CONFIG, tiny_dataset, out)
    assert result.status == "max_epochs" and result.checkpoints
    return out


@pytest.fixture
def run(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "run")
    return tmp_path / "run"


def state_file(run):
    (path,) = run.glob("models/*/state.json")
    return path


def edit_state(run, **fields):
    path = state_file(run)
    state = json.loads(path.read_text())
    path.write_text(json.dumps({**state, **fields}))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"tensors": "../../../../../etc/passwd"},
            "names the file '../../../../../etc/passwd', outside its model folder",
        ),
        ({"checkpoints": ["../../x"]}, "outside its model folder"),
        ({"epoch": "seven"}, "epoch = 'seven' is not an integer"),
        ({"history": {}}, "history = {} is not a list"),
        ({"best_val_loss": "low"}, "best_val_loss = 'low'"),
        ({"status": "done"}, "status 'done' is unknown"),
    ],
)
def test_state_file_of_the_wrong_shape_is_refused(run, tiny_dataset, fields, message):
    edit_state(run, **fields)
    with pytest.raises(CheckpointError, match=message):
        train(CONFIG, tiny_dataset, run)


def test_rerun_over_a_truncated_state_tensor_file_is_refused(run, tiny_dataset):
    (tensors,) = run.glob("models/*/state-e0002.safetensors")  # the one state.json names (max_epochs = 2)
    tensors.write_bytes(tensors.read_bytes()[:100])
    with pytest.raises(
        CheckpointError, match="does not match the hash in state.json .*remove .* to retrain that model"
    ):
        train(CONFIG, tiny_dataset, run)


def test_rerun_over_a_truncated_checkpoint_is_refused(run, tiny_dataset):
    weights = sorted(run.glob("models/*/*_epoch-*.safetensors"))[-1]
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"checkpoint .*{weights.stem} is missing or damaged"):
        train(CONFIG, tiny_dataset, run)


@pytest.mark.parametrize("text", ["[]", '"x"', "7"])
def test_run_json_of_the_wrong_type_is_refused(run, tiny_dataset, text):
    (run / "run.json").write_text(text)
    with pytest.raises(ConfigError, match="run.json holds a JSON .*, not an object; use another --out"):
        train(CONFIG, tiny_dataset, run)


def test_run_json_records_the_dataset_folder_absolute(trained):
    assert json.loads((trained / "run.json").read_text())["dataset_path"].startswith("/")


def test_a_split_smaller_than_a_batch_is_refused_before_run_json(tiny_dataset, tmp_path):
    big = TrainConfig(model=ModelConfig(hidden=(4,)), batch_size=601)  # the tiny dataset trains on 600 rows
    with pytest.raises(DataError, match="would train on 600 rows per epoch, fewer than its batch size 601"):
        train(big, tiny_dataset, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_state_file_is_strict_json_after_a_nan_epoch(tmp_path):
    model = MLP(CONFIG.model)
    row = {"epoch": 1, "steps": 4, "samples": 64, "train_loss": math.nan, "val_loss": math.inf, "val_mse": math.nan,
           "val_accuracy": 0.25, "val_recall": [None, None, None, None], "val_macro_recall": None, "is_best": False}  # fmt: skip
    member = ModelState("m", CONFIG, tmp_path, model_generator(0), epoch=1, status="nan", history=[row])
    save_state(member, model.state_dict(), {"m": {}, "v": {}})

    def refuse(token):
        raise ValueError(f"bare {token} in state.json")

    state = json.loads((tmp_path / "state.json").read_text(), parse_constant=refuse)
    assert state["history"] == [row | {"train_loss": None, "val_loss": None, "val_mse": None}]
