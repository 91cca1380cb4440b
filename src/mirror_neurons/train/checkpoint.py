"""Checkpoints that describe themselves: safetensors weights plus JSON metadata.

A checkpoint is two files with one stem: ``STEM.safetensors`` (the MLP's state
dict) and ``STEM.json`` (``model`` architecture, hyper-parameters, seed, epoch,
metrics, dataset hash, package version, ``weights_sha256``, and what the numbers
mean: ``outputs``, the actions in output order, and ``inputs``, the state the
model reads and its encoding, so a reader outside this package needs no other
file). The JSON is
written last, so a checkpoint exists only once both files are complete.
Loading never unpickles, and refuses weights that disagree with the metadata.

``write_tensors`` and ``read_tensors`` are the package's one reader and writer
of "safetensors plus a JSON file that records its SHA-256": checkpoints and the
trainer's resume files (``train.resume``, ``state-eNNNN``) both use them, so the
atomic write, the hash check, the refusal to unpickle and the damaged-file
messages are written once. The JSON files stay two formats on purpose: a
checkpoint's describes a model to any reader (architecture, outputs, inputs,
``weights_file``, ``weights_sha256``), fsynced, and is kept; a resume file's is
the trainer's private bookkeeping (steps, early-stopping counters, history,
``tensors``, ``tensors_sha256``; its tensors add Adam moments and the generator),
written without fsync after every epoch with a copy as ``state.json``, and
deleted two epochs later. Existing runs hold both as they are (and resume from
the second), so neither is renamed into the other.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.numpy import save as save_numpy
from safetensors.torch import load

from mirror_neurons import __version__, atomic, limits
from mirror_neurons.tables import CHECKPOINT_META, DAMAGED_CHECKPOINT
from mirror_neurons.errors import CheckpointError, ConfigError
from mirror_neurons.game.constants import Action
from mirror_neurons.train.model import MLP, ModelConfig

OUTPUTS = tuple(action.name.lower() for action in Action)
"""The model's outputs in order, as the JSON's ``outputs`` states them: hop, jump, leap, help (action codes 0..3)."""
STATE_LAYOUT = (
    "100 integers from Frog's view: ground row 0-31 (1 solid, 2 rough), players row 32-63 (4 Frog, 5 Toad, "
    "6 jump, 7 leap, 8 help, 9 distress; 10 also distress in datasets with veil < 1), flies row 64-95 (3 fly), own symbol 96, energy 97, score 98 and "
    "position 99 (96, 98, 99 are 0); docs/spec-summary.md section 3"
)


def describe_inputs(config: ModelConfig) -> dict:
    """The JSON's ``inputs``: the raw state the model is fed, its encoding and the first layer's width."""
    return {
        "state": STATE_LAYOUT,
        "encoding": config.encoding,
        "features": config.n_features,
        "see": "mirror_neurons.train.encoding; export.StateEncoder(encoding) makes the features from raw states",
    }


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    """The JSON file."""
    model: MLP
    meta: dict


def save_checkpoint(stem: str | Path, model: MLP, meta: dict, *, fsync: bool = True) -> Path:
    """Write STEM.safetensors then STEM.json; returns the JSON path (``fsync``: see atomic.write_bytes)."""
    return save_weights(stem, model.config, model.state_dict(), meta, fsync=fsync)


def save_weights(
    stem: str | Path, config: ModelConfig, state: dict[str, torch.Tensor], meta: dict, *, fsync: bool = True
) -> Path:
    """``save_checkpoint`` from an ``MLP.state_dict``-shaped ``state`` and its architecture, without building the module."""
    stem = Path(stem)
    if stem.suffix in (".json", ".safetensors"):
        stem = stem.with_suffix("")
    # appended, not with_suffix: a stem may hold a dot (an RL agent's "..._D0.5_..."), which is not a suffix
    weights = stem.with_name(f"{stem.name}.safetensors")
    sha256 = write_tensors(weights, state, fsync=fsync)
    full = {
        **meta,
        "model": config.to_dict(),
        "outputs": list(OUTPUTS),
        "inputs": describe_inputs(config),
        "weights_file": weights.name,
        "weights_sha256": sha256,
        "package_version": meta.get("package_version", __version__),
    }
    json_path = stem.with_name(f"{stem.name}.json")
    atomic.write_json(json_path, CHECKPOINT_META.writing(full, json_path), fsync=fsync)
    return json_path


def write_tensors(path: Path, tensors: dict[str, torch.Tensor], *, fsync: bool = True) -> str:
    """Write ``tensors`` as the safetensors file ``path`` (atomically; ``fsync``: see atomic.write_bytes).

    Returns the file's SHA-256, for the JSON written beside it (after it) to record.
    """
    blob = save_numpy(
        {k: v.detach().cpu().contiguous().numpy() for k, v in tensors.items()}
    )  # same bytes as safetensors.torch, 3x faster
    atomic.write_bytes(path, blob, fsync=fsync)
    return _sha256(blob)


def read_tensors(path: Path, sha256: str | None, *, recorded_in: Path, fix: str) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file ``path``, checked against the ``sha256`` that the JSON file
    ``recorded_in`` holds (None: a file from before hashes were recorded). Never unpickles.

    Raises ``CheckpointError`` naming the file and ending in ``fix`` when it is missing, does not
    match the hash (truncated or replaced) or is not a readable safetensors file.
    """
    if not path.is_file():
        raise CheckpointError(f"{path} is missing; {fix}")
    blob = path.read_bytes()
    if sha256 is not None and _sha256(blob) != sha256:
        raise CheckpointError(f"{path} does not match the hash in {recorded_in.name} (truncated or replaced); {fix}")
    try:
        return load(blob)
    except (SafetensorError, Exception) as e:  # safetensors raises several types on a damaged header
        raise CheckpointError(f"{path} is not a readable safetensors file ({e}); {fix}") from e


def _sha256(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def read_meta(path: str | Path) -> dict:
    path = _json_path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint metadata {path} is missing")
    meta = atomic.read_json_object(path, CheckpointError, DAMAGED_CHECKPOINT, what="checkpoint metadata")
    _check_meta(path, meta)
    return meta


_PY_TYPES = {"int": (int,), "float": (int, float), "string": (str,), "list": (list,), "object": (dict,)}
META_TYPES: dict[str, tuple[type, ...]] = {
    key: _PY_TYPES[CHECKPOINT_META[key].kind]
    for key in ("epoch", "model_id", "dataset_hash", "weights_file", "weights_sha256", "val_loss", "seed", "model")
}
"""Types of the metadata fields readers use, as ``tables.CHECKPOINT_META`` declares them; each is checked when present."""
KINDS = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}


def _check_meta(path: Path, meta: object) -> None:
    """``CheckpointError`` naming the first field of the wrong type, a ``weights_file`` outside the
    checkpoint's folder, or a ``model`` whose weights could not fit in memory."""
    if not isinstance(meta, dict):
        raise CheckpointError(
            f"{path} holds a JSON {type(meta).__name__}, not checkpoint metadata; the checkpoint is damaged"
        )
    for key, types in META_TYPES.items():
        if key in meta and (not isinstance(meta[key], types) or isinstance(meta[key], bool)):
            raise CheckpointError(
                f"{path}: {key} = {meta[key]!r:.60} is not {KINDS[types[0]]}; the checkpoint is damaged"
            )
    name = meta.get("weights_file", "x")
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise CheckpointError(
            f"{path}: weights_file {name!r:.80} lies outside the checkpoint's folder; the checkpoint is damaged"
        )
    if "model" in meta:
        _check_model_size(path, meta["model"])


def _check_model_size(path: Path, model: dict) -> None:
    """The architecture's widths as positive integers whose weights fit in memory (``hidden: [1e9]`` would not)."""
    hidden = model.get("hidden", [])
    widths = [
        model.get("n_inputs", 100),
        *(hidden if isinstance(hidden, list) else [hidden]),
        model.get("n_outputs", 4),
    ]
    if not isinstance(hidden, list) or not all(type(w) is int and w >= 1 for w in widths):
        raise CheckpointError(
            f"{path}: model widths {widths!r:.80} must be positive integers (n_inputs, hidden, n_outputs); the checkpoint is damaged"
        )
    n_params = sum((a + 1) * b for a, b in zip(widths, widths[1:]))
    try:
        limits.check_memory(
            4 * n_params, f"{path}'s model ({n_params:,} weights)", "the checkpoint is damaged or from elsewhere"
        )
    except ConfigError as e:
        raise CheckpointError(str(e)) from None


def load_checkpoint(path: str | Path, expect: ModelConfig | None = None) -> Checkpoint:
    """Rebuild the model from STEM.json and STEM.safetensors (``path`` may be either, or the stem)."""
    json_path = _json_path(path)
    meta = read_meta(json_path)
    try:
        config = ModelConfig.from_dict(meta["model"])
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{json_path} has no valid 'model' architecture ({e})") from e
    except ConfigError as e:  # e.g. an input encoding this version does not know
        raise CheckpointError(
            f"{json_path} records a model this version cannot rebuild ({e}); analyse it with the mirror-neurons version "
            f"that wrote it ({meta.get('package_version', 'unknown')})"
        ) from None
    if expect is not None and config != expect:
        raise CheckpointError(f"{json_path} is a {config.hidden} model, expected {expect.hidden}")
    weights = json_path.with_name(meta.get("weights_file", json_path.with_suffix(".safetensors").name))
    state = read_tensors(
        weights, meta.get("weights_sha256"), recorded_in=json_path, fix="the checkpoint's weights are lost or damaged"
    )
    model = MLP(config)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if expected != got:
        raise CheckpointError(
            f"{weights} holds tensors {got} but {json_path.name} describes a {config.hidden} model ({expected})"
        )
    model.load_state_dict(state)
    model.eval()
    return Checkpoint(path=json_path, model=model, meta=meta)


def _json_path(path: str | Path) -> Path:
    path = Path(path)
    return (
        path
        if path.suffix == ".json"
        else path.with_suffix(".json")
        if path.suffix == ".safetensors"
        else Path(f"{path}.json")
    )


def iter_checkpoints(run_dir: str | Path) -> list[Path]:
    """Every checkpoint JSON under ``run_dir`` (sorted by path), whatever the run's layout."""
    run_dir = Path(run_dir)
    return sorted(p for p in run_dir.rglob("*.json") if p.with_suffix(".safetensors").is_file())
