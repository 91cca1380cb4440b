"""The run folder: what a training run was asked to do, and the names and metadata of its checkpoints.

::

    RUN/run.json                          what was asked: configs, dataset hash and path, versions, info
    RUN/models/<model_id>/state*.json     each model's resumable state (``train.resume``)
    RUN/models/<model_id>/<model_id>_epoch-0007_val-0p044031.{safetensors,json}  checkpoints

``open_run`` writes run.json before any model trains, or checks that an existing
one describes the same run (same dataset, same models), so a resumed run never
mixes two experiments in one folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from mirror_neurons import __version__, atomic
from mirror_neurons.data.dataset import Dataset
from mirror_neurons.errors import ConfigError, DataError
from mirror_neurons.tables import RUN
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.resume import ModelState

RUN_FILE = RUN.file


def versions() -> dict[str, str]:
    return {"mirror_neurons": __version__, "torch": torch.__version__, "numpy": np.__version__}


def model_id_for(config: TrainConfig, index: int | None = None) -> str:
    prefix = f"m{index:03d}_" if index is not None else ""
    return f"{prefix}{config.describe()}_s{config.seed}"


def checkpoint_stem(model_id: str, epoch: int, val_loss: float) -> str:
    """File stem of a checkpoint, dot-free: <model_id>_epoch-0007_val-0p044031."""
    return f"{model_id}_epoch-{epoch:04d}_val-{val_loss:.6f}".replace(".", "p")


def checkpoint_meta(m: ModelState, row: dict, dataset_hash: str, *, init: bool = False) -> dict:
    """A checkpoint's JSON metadata at the model's current epoch (``row``: that epoch's metrics)."""
    return {
        "model_id": m.model_id,
        "train_config": m.config.to_dict(),
        "hyperparameters": hyperparameters(m.config),
        "seed": m.config.seed,
        "epoch": m.epoch,
        "init": init,
        "val_loss": row["val_loss"],
        "val_mse": row["val_mse"],
        "val_accuracy": row["val_accuracy"],
        "val_recall": row["val_recall"],
        "val_macro_recall": row["val_macro_recall"],
        "train_loss": row["train_loss"],
        "steps": m.steps,
        "samples_seen": m.samples,
        "dataset_hash": dataset_hash,
        "package_version": __version__,
        "versions": versions(),
    }


def hyperparameters(c: TrainConfig) -> dict:
    """A checkpoint's flat summary of its configuration (the analysis groups models by these)."""
    return {
        "hidden": list(c.model.hidden),
        "layers": len(c.model.hidden),
        "units": c.model.hidden[0],
        "dropout": c.model.dropout,
        "activation": c.model.activation,
        "encoding": c.model.encoding,
        "sampling": c.sampling,
        "labels": c.labels,
        "lr": c.lr,
        "batch_size": c.batch_size,
        "loss": c.loss,
        "l2": c.l2,
        "beta1": c.beta1,
        "beta2": c.beta2,
        "eps": c.eps,
        "patience": c.patience,
        "max_epochs": c.max_epochs,
        "epoch_rows": c.epoch_rows,
        "val_rows": c.val_rows,
    }


def open_run(
    out_dir: str | Path, configs: Sequence[TrainConfig], model_ids: Sequence[str], dataset: Dataset, info: dict
) -> None:
    """Check ids and dataset, then write RUN/run.json (or check that an existing one describes this run)."""
    if len(set(model_ids)) != len(model_ids):
        raise ConfigError("two models would share one folder (same id); give each configuration its own seed or id")
    _check_dataset(dataset, configs)
    _check_batches(dataset, configs, model_ids)  # before run.json: a run that cannot take one step leaves nothing
    out_dir = Path(out_dir)
    record = {
        "models": {mid: c.to_dict() for mid, c in zip(model_ids, configs)},
        "dataset_hash": dataset.hash,
        "dataset_path": str(
            Path(dataset.path).absolute()
        ),  # not relative to the working directory: analyze runs from anywhere
        "info": info,
    }
    path = out_dir / RUN_FILE
    if path.is_file():
        _check_same_run(path, out_dir, record, dataset)
        return
    atomic.write_json(path, RUN.writing({**record, "versions": versions()}, path))


def run_info(out_dir: str | Path) -> dict | None:
    """The ``info`` an existing RUN/run.json records (``{}`` if the file is damaged: ``open_run`` reports it), else None."""
    path = Path(out_dir) / RUN_FILE
    if not path.is_file():
        return None
    try:
        info = atomic.read_json_object(path, ConfigError, "").get("info", {})
    except ConfigError:
        return {}
    return info if isinstance(info, dict) else {}


def _check_dataset(dataset: Dataset, configs: Sequence[TrainConfig]) -> None:
    for name in ("train", "val"):
        split = getattr(dataset, name)
        if len(split) == 0:
            raise DataError(
                f"dataset {dataset.path} has an empty {name} split; regenerate it with `mirror-neurons data`"
            )
    top = int(max(dataset.train.label.max(), dataset.val.label.max()))  # once, not per configuration
    for c in configs:
        if dataset.train.x.shape[1] != c.model.n_inputs:
            raise DataError(
                f"dataset {dataset.path} has {dataset.train.x.shape[1]} inputs but the model expects {c.model.n_inputs}"
            )
        if top >= c.model.n_outputs:
            raise DataError(f"dataset {dataset.path} has label {top} but the model has {c.model.n_outputs} outputs")


def _check_batches(dataset: Dataset, configs: Sequence[TrainConfig], model_ids: Sequence[str]) -> None:
    for mid, c in zip(model_ids, configs):
        rows = min(c.epoch_rows or len(dataset.train), len(dataset.train))
        if rows < c.batch_size:
            raise DataError(
                f"model {mid} would train on {rows} rows per epoch, fewer than its batch size {c.batch_size}; "
                f"use a larger dataset (mirror-neurons data --states) or a smaller batch size"
            )


def _check_same_run(path: Path, out_dir: Path, record: dict, dataset: Dataset) -> None:
    """``ConfigError`` or ``DataError`` unless the run.json at ``path`` describes ``record``'s models and dataset."""
    old = atomic.read_json_object(path, ConfigError, "use another --out")
    if old.get("dataset_hash") != dataset.hash:
        raise DataError(
            f"run folder {out_dir} was trained on dataset {str(old.get('dataset_hash', '?'))[:12]}... but {dataset.path} "
            f"is {dataset.hash[:12]}...; resume with the original dataset or use another --out"
        )
    if old.get("models") != record["models"]:
        raise ConfigError(f"run folder {out_dir} holds another set of models; use another --out to start a new run")
