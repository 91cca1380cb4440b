"""A model's resumable state: what it carries from epoch to epoch, and the files that hold it.

After every epoch the trainer writes each model's whole state (weights, Adam
moments and step count, generator state, history) to its folder, so a run
killed at any moment restarts from each model's last completed epoch and writes
exactly the files an uninterrupted run would::

    RUN/models/<model_id>/state.json                     status, epoch, best, history (a copy of the latest)
    RUN/models/<model_id>/state-e0007.safetensors        weights, Adam moments, generator
    RUN/models/<model_id>/state-e0007.meta.json          the JSON above, for that epoch
                                                         (and the same for the epoch before)

Loading never unpickles: tensors come from safetensors, and every field of the
JSON is type-checked, its file names kept inside the model's folder, and the
tensors and checkpoints it names checked against their hashes before use. The
tensors are written and read by ``checkpoint.write_tensors`` and
``checkpoint.read_tensors``, as checkpoints are; why the JSON differs from a
checkpoint's is in ``train.checkpoint``'s docstring.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from mirror_neurons import atomic
from mirror_neurons.errors import CheckpointError, ConfigError
from mirror_neurons.tables import RESUME_HISTORY, RESUME_STATE, RESUME_STATE_FILE
from mirror_neurons.train.checkpoint import read_meta, read_tensors, write_tensors
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import MLP

RUNNING, STOPPED_EARLY, MAX_EPOCHS, NAN = "running", "stopped_early", "max_epochs", "nan"
STATUSES = (RUNNING, STOPPED_EARLY, MAX_EPOCHS, NAN)


@dataclass
class ModelState:
    """One model's bookkeeping while it trains (its tensors live in a Stack between loads and saves)."""

    model_id: str
    config: TrainConfig
    folder: Path
    generator: torch.Generator
    epoch: int = 0
    steps: int = 0
    samples: int = 0
    best_val_loss: float = math.inf
    best_epoch: int = 0
    since_best: int = 0
    status: str = RUNNING
    reason: str = ""
    history: list[dict] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)
    """Checkpoint stems in the model's folder, in epoch order."""
    params: dict | None = None
    """``MLP.state_dict`` to start from (None once loaded into a Stack)."""
    adam: dict | None = None
    """{"m": ..., "v": ...} Adam moments per parameter, None for a fresh model."""


def finite_or_none(obj):
    """``obj`` with every NaN or infinite float replaced by None, for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite_or_none(v) for v in obj]
    return obj


def save_state(m: ModelState, params: dict[str, torch.Tensor], adam: dict[str, dict[str, torch.Tensor]]) -> None:
    """Write epoch N's resumable state: state-eNNNN.safetensors, state-eNNNN.meta.json, then state.json (a copy).

    The state of epoch N-1 is kept until N+1 is written, so that a resumed run
    can put every model of a stack back at the same epoch (``trainer.align_epochs``).
    """
    tensors = {f"param.{k}": v for k, v in params.items()}
    tensors |= {f"adam_m.{k}": v for k, v in adam["m"].items()}
    tensors |= {f"adam_v.{k}": v for k, v in adam["v"].items()}
    tensors["generator"] = m.generator.get_state()
    name = f"state-e{m.epoch:04d}"
    # no fsync: safe against a killed process (rename after write), and the hashes catch the
    # rest; thousands of fsyncs cost more than the training of a short epoch
    sha256 = write_tensors(m.folder / f"{name}.safetensors", tensors, fsync=False)
    record = {
        "model_id": m.model_id,
        "config": m.config.to_dict(),
        "epoch": m.epoch,
        "steps": m.steps,
        "samples": m.samples,
        "best_val_loss": m.best_val_loss if math.isfinite(m.best_val_loss) else None,
        "best_epoch": m.best_epoch,
        "since_best": m.since_best,
        "status": m.status,
        "reason": m.reason,
        "checkpoints": m.checkpoints,
        "history": finite_or_none(m.history),  # a diverged epoch's NaN as null: bare NaN is not JSON
        "tensors": f"{name}.safetensors",
        "tensors_sha256": sha256,
    }
    RESUME_HISTORY.writing(record["history"], m.folder / f"{name}.meta.json")
    text = atomic.json_text(RESUME_STATE.writing(record, m.folder / f"{name}.meta.json"))
    atomic.write_text(m.folder / f"{name}.meta.json", text, fsync=False)
    atomic.write_text(m.folder / RESUME_STATE_FILE, text, fsync=False)
    for old in m.folder.glob("state-e*"):
        if int(old.name[7:11]) < m.epoch - 1:
            old.unlink(missing_ok=True)


def load_state(folder: Path, model_id: str, config: TrainConfig, epoch: int | None = None) -> ModelState | None:
    """The model's latest saved state (or that of ``epoch``), or None when there is none (or ``epoch`` is 0).

    Raises ``CheckpointError`` (``ConfigError`` for another configuration) naming
    the file and the fix when the state is damaged, missing for ``epoch``, or
    was saved for another model.
    """
    for partial in folder.glob(".*.tmp"):  # a write that a kill interrupted; its file was never renamed
        partial.unlink(missing_ok=True)
    state_file = folder / RESUME_STATE_FILE if epoch is None else folder / f"state-e{epoch:04d}.meta.json"
    if epoch == 0 or not state_file.is_file():
        if epoch:
            raise CheckpointError(f"{state_file} is missing; remove {folder} to retrain that model")
        return None
    try:
        state = json.loads(state_file.read_text())
        saved = TrainConfig.from_dict(state["config"])
    except (json.JSONDecodeError, KeyError, TypeError, ConfigError) as e:
        raise CheckpointError(f"{state_file} is damaged ({e}); remove {folder} to retrain that model") from e
    if saved.model != config.model:
        raise CheckpointError(
            f"{state_file} holds a {saved.model.hidden} model but the run asks for {config.model.hidden}; "
            f"use another --out or remove {folder}"
        )
    if saved != config:
        raise ConfigError(f"{state_file} was trained with {saved} but the run asks for {config}; use another --out")
    _check_state(state_file, state)
    blob_path = folder / state["tensors"]
    tensors = read_tensors(
        blob_path, state["tensors_sha256"], recorded_in=state_file, fix=f"remove {folder} to retrain that model"
    )
    _check_checkpoints(folder, state["checkpoints"])
    generator = torch.Generator()
    generator.set_state(tensors.pop("generator"))

    def pick(prefix: str) -> dict[str, torch.Tensor]:
        return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}

    params = pick("param.")
    expected = {k: tuple(v.shape) for k, v in MLP(config.model).state_dict().items()}
    if {k: tuple(v.shape) for k, v in params.items()} != expected:
        raise CheckpointError(f"{blob_path} holds weights of another architecture than {config.model.hidden}")
    best = state["best_val_loss"]
    return ModelState(
        model_id=model_id,
        config=config,
        folder=folder,
        generator=generator,
        epoch=state["epoch"],
        steps=state["steps"],
        samples=state["samples"],
        best_val_loss=math.inf if best is None else best,
        best_epoch=state["best_epoch"],
        since_best=state["since_best"],
        status=state["status"],
        reason=state["reason"],
        history=state["history"],
        checkpoints=state["checkpoints"],
        params=params,
        adam={"m": pick("adam_m."), "v": pick("adam_v.")},
    )


STATE_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,), "steps": (int,), "samples": (int,), "best_epoch": (int,), "since_best": (int,),
    "best_val_loss": (float, int, type(None)), "status": (str,), "reason": (str,), "history": (list,),
    "checkpoints": (list,), "tensors": (str,), "tensors_sha256": (str,),
}  # fmt: skip
"""The types of a state file's fields, checked before any is used."""


def _check_state(state_file: Path, state: dict) -> None:
    """``CheckpointError`` unless every field of a state file has its type, and every file it names
    is a plain name in the model's own folder (``../../etc/passwd`` is never opened)."""
    fix = f"remove {state_file.parent} to retrain that model"
    for key, types in STATE_FIELDS.items():
        value = state.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            kind = {int: "an integer", float: "a number", str: "a string", list: "a list"}[types[0]]
            raise CheckpointError(f"{state_file} is damaged: {key} = {value!r:.60} is not {kind}; {fix}")
    if state["status"] not in STATUSES:
        raise CheckpointError(f"{state_file} is damaged: status {state['status']!r:.40} is unknown; {fix}")
    for name in (state["tensors"], *state["checkpoints"]):
        if not _plain_name(name):
            raise CheckpointError(f"{state_file} names the file {name!r:.80}, outside its model folder; {fix}")


def _plain_name(name: object) -> bool:
    """True if ``name`` is a file name with no folder part (it resolves inside the folder that holds it)."""
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
    )


def _check_checkpoints(folder: Path, stems: list[str]) -> None:
    """``CheckpointError`` naming the first checkpoint a state file lists whose files are gone or damaged
    (a resumed run would otherwise report success over them)."""
    for stem in stems:
        weights = folder / f"{stem}.safetensors"
        try:
            expected = read_meta(folder / f"{stem}.json").get("weights_sha256")
            intact = weights.is_file() and atomic.sha256_file(weights) == expected
        except (CheckpointError, AttributeError):
            intact = False
        if not intact:
            raise CheckpointError(
                f"checkpoint {folder / stem} is missing or damaged; remove {folder} to retrain that model"
            )
