"""Training: one model (``train``) or many at once (``train_many``), resumable after any kill.

Every model follows one documented random protocol, whether it trains alone or
in a group, so a model's checkpoints depend only on its own ``TrainConfig``:

1. ``g = model_generator(config.seed)`` (a torch.Generator seeded from
   ``SeedSequence(seed)``);
2. initial weights: ``MLP.reset_parameters(g)`` (Glorot-uniform, zero biases);
3. each epoch: ``perm = torch.randperm(n_train, generator=g)``, truncated to
   ``epoch_rows`` when set; step ``s`` trains on rows ``perm[s*B:(s+1)*B]``
   (the last batch may be smaller). With ``sampling = "balanced"`` the epoch's
   rows are instead ``torch.multinomial(w, rows, replacement=True, generator=g)``
   with ``w[i] = 1 / (rows of label[i])`` in float64 (each class drawn equally often
   in expectation);
4. dropout: for each block of ``CHUNK_STEPS`` steps of the epoch, with
   ``n = steps_in_block * B * sum(hidden)``,
   ``u = torch.empty(ceil(n / 4), dtype=torch.int64).random_(-2**63, 2**63 - 1, generator=g)``
   read as 16-bit integers (``u.view(torch.int16)[:n]``, each uniform on
   -32768..32767; the order of the four parts is the machine's byte order,
   little-endian on x86-64 and ARM64) shaped (steps_in_block, B, sum(hidden)); unit j of step s
   keeps its output (scaled by 1/(1-d)) when ``u[s, row, j] + 32768 >=
   dropout_threshold(d)`` = round(d * 65536). The drop probability is d rounded
   to 1/65536 (0.12 -> 0.1199951); four draws per 64-bit random number make the
   masks 3x cheaper than one float per unit.

The model's input encoding (``train.encoding``) is applied once to the whole
dataset when it is loaded (kept as uint8 features, scaled columns multiplied
after the per-step gather), never to the Parquet files.

Before the first epoch every fresh model's initial weights are written as an epoch-0
checkpoint (``init: true``), the partner of its trained checkpoints in the analysis.

Models that share a depth, input encoding, labels, batch size, activation, loss and Adam betas train as
one ``Stack`` (stacked tensors, one step for all). After each epoch each model
is judged on its own: validation metrics (the full objective, MSE, accuracy),
a checkpoint when the validation loss is the best so far, early stopping, NaN
detection. Then its whole resumable state (weights, Adam moments and step
count, generator state, history) is written atomically, so a run killed at any
moment restarts from each model's last completed epoch and writes exactly the
files an uninterrupted run would.

Run folder::

    RUN/run.json                          what was asked: configs, dataset hash, versions
    RUN/models/<model_id>/state.json      status, epoch, best, history of every epoch (latest)
    RUN/models/<model_id>/state-e0007.{safetensors,meta.json}   weights, Adam moments, generator
                                          (and the same for the epoch before)
    RUN/models/<model_id>/<model_id>_epoch-0007_val-0p044031.{safetensors,json}  checkpoints
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as st_load
from safetensors.numpy import save as st_save

from mirror_neurons import __version__, atomic
from mirror_neurons.data.dataset import Dataset
from mirror_neurons.data.prepare import label_states
from mirror_neurons.errors import CheckpointError, ConfigError, DataError
from mirror_neurons.train.checkpoint import save_weights
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.encoding import get_encoding
from mirror_neurons.train.model import MLP
from mirror_neurons.train.stack import Stack, with_ones

log = logging.getLogger(__name__)

CHUNK_STEPS = 64
"""Steps whose inputs and dropout draws are prepared together (part of the random protocol)."""

RUNNING, STOPPED_EARLY, MAX_EPOCHS, NAN = "running", "stopped_early", "max_epochs", "nan"

Progress = Callable[[dict], None]
"""Called after every model-epoch with {"model_id", "epoch", "val_loss", "best_val_loss", "status", ...}."""


def versions() -> dict[str, str]:
    return {"mirror_neurons": __version__, "torch": torch.__version__, "numpy": np.__version__}


def model_generator(seed: int) -> torch.Generator:
    """The model's only source of randomness: a torch.Generator seeded through SeedSequence."""
    (state,) = np.random.SeedSequence(seed).generate_state(1, np.uint64)
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))


@dataclass
class TrainResult:
    """What one model's training produced."""

    model_id: str
    config: TrainConfig
    status: str
    """running (not finished: interrupted), stopped_early, max_epochs or nan."""
    reason: str
    epochs: int
    best_epoch: int
    best_val_loss: float
    checkpoints: list[Path]
    history: list[dict]


@dataclass
class _Member:
    """One model's bookkeeping while it trains (its tensors live in a Stack)."""

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
    params: dict | None = None
    adam: dict | None = None

    def result(self) -> TrainResult:
        return TrainResult(
            model_id=self.model_id,
            config=self.config,
            status=self.status,
            reason=self.reason,
            epochs=self.epoch,
            best_epoch=self.best_epoch,
            best_val_loss=self.best_val_loss,
            checkpoints=[self.folder / f"{c}.json" for c in self.checkpoints],
            history=self.history,
        )


def checkpoint_stem(model_id: str, epoch: int, val_loss: float) -> str:
    """File stem of a checkpoint, dot-free: <model_id>_epoch-0007_val-0p044031."""
    return f"{model_id}_epoch-{epoch:04d}_val-{val_loss:.6f}".replace(".", "p")


def model_id_for(config: TrainConfig, index: int | None = None) -> str:
    prefix = f"m{index:03d}_" if index is not None else ""
    return f"{prefix}{config.describe()}_s{config.seed}"


def train(
    config: TrainConfig,
    dataset: Dataset,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    progress: Progress | None = None,
) -> TrainResult:
    """Train one model (``seed`` overrides ``config.seed``); resumes if ``out_dir`` holds this run."""
    if seed is not None:
        config = TrainConfig.from_dict({**config.to_dict(), "seed": seed})
    (result,) = train_many([config], dataset, out_dir, progress=progress)
    return result


def train_many(
    configs: Sequence[TrainConfig],
    dataset: Dataset,
    out_dir: str | Path,
    *,
    model_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
    run_info: dict | None = None,
    threads: int | None = 1,
) -> list[TrainResult]:
    """Train every configuration in one process, grouped into stacks; resumes where a previous call stopped.

    ``run_info`` (e.g. the sweep spec) is recorded in RUN/run.json beside the
    configurations; a run folder holding another dataset or other
    configurations is refused. ``threads`` is torch's intra-op thread count
    while training (restored after; None leaves it alone): the operations are
    small, so threads gain little, and on a busy machine OpenMP threads waiting
    for each other made steps 20x slower in our measurements (docs/training.md).
    """
    if model_ids is None:
        model_ids = [model_id_for(c) for c in configs] if len(configs) == 1 else [model_id_for(c, i) for i, c in enumerate(configs)]
    open_run(out_dir, configs, model_ids, dataset, run_info or {})
    return train_models(configs, dataset, out_dir, model_ids=model_ids, progress=progress, threads=threads)


def open_run(out_dir: str | Path, configs: Sequence[TrainConfig], model_ids: Sequence[str], dataset: Dataset, info: dict) -> None:
    """Check ids and dataset, then write RUN/run.json (or check that an existing one describes this run)."""
    if len(set(model_ids)) != len(model_ids):
        raise ConfigError("two models would share one folder (same id); give each configuration its own seed or id")
    _check_dataset(dataset, configs)
    _open_run(Path(out_dir), configs, model_ids, dataset, info)


def train_models(
    configs: Sequence[TrainConfig],
    dataset: Dataset,
    out_dir: str | Path,
    *,
    model_ids: Sequence[str],
    progress: Progress | None = None,
    threads: int | None = 1,
) -> list[TrainResult]:
    """Train some models of a run that ``open_run`` opened, each resuming from its own state.

    The unit of work a distributed sweep sends to one worker (``mirror_neurons.distributed``):
    it touches only RUN/models/<model_id>/ of the models it is given.
    """
    out_dir = Path(out_dir)
    members = [_load_or_create(out_dir / "models" / mid, mid, c) for mid, c in zip(model_ids, configs)]
    members = _align_epochs(members)
    pending = [m for m in members if m.status == RUNNING]
    data = _Data(dataset)
    # pad each kind of stack to the widest of all its models, finished ones included, so that a
    # resumed run pads exactly as the uninterrupted one did (padding changes the rounding)
    pad_to: dict[tuple, tuple[int, ...]] = {}
    for m in members:
        key, hidden = stack_key(m.config), m.config.model.hidden
        pad_to[key] = tuple(max(a, b) for a, b in zip(pad_to.get(key, hidden), hidden))
    with _torch_threads(threads):
        # sorted by kind, so that each (encoding, labels) is built once
        for group in sorted(_groups(pending), key=lambda g: (g[0].config.model.encoding, g[0].config.labels)):
            encoded = data.encoded(group[0].config.model.encoding, group[0].config.labels)
            _train_group(group, encoded, dataset.hash, progress, pad_to[stack_key(group[0].config)])
    return [m.result() for m in members]


@contextlib.contextmanager
def _torch_threads(n: int | None):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- the training loop ------------------------------------------------------------------


SHUFFLE_SEED = 20251101
"""Seed of the one permutation of each split's labels that ``labels = "shuffled"`` trains on
(the same for every model, so that models of a stack share their targets)."""


def training_labels(dataset: Dataset, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) labels a model with ``TrainConfig.labels = labels`` learns (config.LABELS)."""
    if labels == "toad_blind":
        return tuple(label_states(split.x, split.frog_pos, toad_blind=True)[0] for split in (dataset.train, dataset.val))
    if labels == "shuffled":
        rng = np.random.default_rng(SHUFFLE_SEED)
        return rng.permutation(dataset.train.label), rng.permutation(dataset.val.label)
    return dataset.train.label, dataset.val.label


class _Data:
    """The dataset, encoded once per (input encoding, labels) that some model of the run asks for."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._encoded: dict[tuple[str, str], _Tensors] = {}

    def encoded(self, encoding: str, labels: str = "rule") -> _Tensors:
        key = (encoding, labels)
        if key not in self._encoded:  # one at a time: a run's groups come sorted by kind
            self._encoded = {key: _Tensors(self.dataset, encoding, labels)}
        return self._encoded[key]


class _Tensors:
    """The dataset as tensors in one input encoding, converted once.

    Training rows stay uint8: the encoded features (``Encoding.stored``), a column of
    ones (the bias input of ``Stack``) and the one-hot target side by side in one
    (n, features + 1 + 4) tensor. A step gathers its M x B random rows with one
    ``index_select`` (random reads of 105 bytes instead of 416 + 16 for raw inputs, a
    quarter of the cache misses) and converts them to float32 once (exact: the values
    are small integers), then scales the encoding's scaled columns in place.
    """

    def __init__(self, dataset: Dataset, encoding: str = "raw", labels: str = "rule"):
        enc = get_encoding(encoding)
        train_label, val_label = training_labels(dataset, labels)
        x, label = torch.from_numpy(np.asarray(dataset.train.x, dtype=np.uint8)), torch.from_numpy(train_label.astype(np.int64))
        x = enc.stored(x)  # (n, features) uint8
        self.n_inputs = x.shape[1]
        self.scaled, self.scale = enc.scaled, torch.tensor(enc.scale, dtype=torch.float32)
        self.xy_train = torch.cat([with_ones(x), torch.nn.functional.one_hot(label, 4).to(torch.uint8)], dim=1)  # (n, features + 5) uint8
        self.label_train = label
        self.x_val = enc.encode(torch.from_numpy(dataset.val.x.astype(np.float32)))
        self.label_val = torch.from_numpy(val_label.astype(np.int64))
        self._buffers: dict[tuple[int, int], tuple[torch.Tensor, ...]] = {}
        self._weights: torch.Tensor | None = None

    def epoch_rows(self, sampling: str, rows: int, generator: torch.Generator) -> torch.Tensor:
        """Protocol step 3: the (rows,) training row indices of one epoch."""
        n_train = len(self.xy_train)
        if sampling == "balanced":
            if self._weights is None:
                counts = torch.bincount(self.label_train, minlength=4).to(torch.float64)
                self._weights = 1.0 / counts[self.label_train]
            return torch.multinomial(self._weights, rows, replacement=True, generator=generator)
        return torch.randperm(n_train, generator=generator)[:rows]

    def gather(self, rows: torch.Tensor, models: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Training rows ``rows`` (models * b,) as float32 inputs with the ones column (models, b, 101)
        and one-hot targets (models, b, 4), views of buffers reused from step to step.

        A fresh buffer of more than 128 KB per step would be a new mapping from the
        allocator each time, and its page faults cost as much as the copy.
        """
        n, width = len(rows), self.xy_train.shape[1]
        key = (models, n)  # stacks of other sizes (and a stack that shrank) may have the same n
        if key not in self._buffers:
            raw, out = torch.empty(n, width, dtype=torch.uint8), torch.empty(models, n // models, width)
            self._buffers[key] = raw, out, raw.view(models, -1, width), out[:, :, : self.n_inputs + 1], out[:, :, self.n_inputs + 1 :]
        raw, out, raw_by_model, x1, y = self._buffers[key]
        torch.index_select(self.xy_train, 0, rows, out=raw)
        out.copy_(raw_by_model)
        if self.scaled is not None:
            out[:, :, self.scaled].mul_(self.scale)
        return x1, y


def _groups(members: list[_Member]) -> list[list[_Member]]:
    """Members that can share a Stack: same depth, batch size, rows per epoch, activation, loss, betas, eps."""
    groups: dict[tuple, list[_Member]] = {}
    for m in members:
        groups.setdefault(stack_key(m.config), []).append(m)
    return list(groups.values())


def stack_key(c: TrainConfig) -> tuple:
    """Configurations with equal keys can train in one Stack."""
    return (len(c.model.hidden), c.model.encoding, c.labels, c.batch_size, c.epoch_rows, c.val_rows, c.model.activation, c.loss, c.beta1, c.beta2, c.eps)


def _train_group(
    members: list[_Member], data: _Tensors, dataset_hash: str, progress: Progress | None, pad_to: tuple[int, ...] | None = None
) -> None:
    """Train ``members`` epoch by epoch in one Stack until each has stopped."""
    first = members[0].config
    # A stack of one would run bmm with a batch of 1, which takes another kernel path
    # and rounds differently; a frozen copy (lr 0, fed model 0's rows and masks) keeps
    # every model on the same path, so results never depend on who trains beside it.
    ghost = [members[0]] if len(members) == 1 else []
    stack = Stack(
        [m.config.model for m in members + ghost],
        lr=[m.config.lr for m in members] + [0.0] * len(ghost),
        l2=[m.config.l2 for m in members + ghost],
        loss=first.loss,
        betas=(first.beta1, first.beta2),
        eps=first.eps,
        pad_to=pad_to,
    )
    for i, m in reversed(list(enumerate(members + ghost))):
        stack.load_member(i, m.params, m.adam or {}, m.steps)
    for m in members:
        m.params = m.adam = None
    n_train = len(data.xy_train)
    rows = min(first.epoch_rows or n_train, n_train)
    B = first.batch_size
    n_steps = -(-rows // B)
    val_rows = first.val_rows or len(data.x_val)
    x_val, label_val = data.x_val[:val_rows], data.label_val[:val_rows]
    _save_initial_checkpoints(members, stack, x_val, label_val, dataset_hash)

    while members:
        # -- one epoch for every model in the stack --
        perms = [data.epoch_rows(m.config.sampling, rows, m.generator) for m in members]
        perms += perms[:1] * len(ghost)
        scales, level = _mask_constants(members + ghost, stack)
        buffers = None
        train_loss = torch.zeros(stack.M, dtype=torch.float64)
        for first_step in range(0, n_steps, CHUNK_STEPS):
            steps_here = min(CHUNK_STEPS, n_steps - first_step)
            lo, hi = first_step * B, min((first_step + steps_here) * B, rows)
            index = torch.stack([p[lo:hi] for p in perms])  # (M, rows in block)
            draws = _dropout_draws(members, stack, steps_here, B)  # (members, steps, B, sum of padded widths)
            if ghost:
                draws = torch.cat([draws, draws[:1]], dim=0)
            # kept <=> draw >= level <=> clamp(draw - level + 1, 0, 1) == 1 (exact in float32);
            # float ops only: comparisons into bool run 5x slower here. The block's buffers are
            # reused: a fresh 10 MB buffer per block costs more in page faults than its arithmetic
            if buffers is None or buffers[0].shape != draws.shape:
                buffers = torch.empty(draws.shape), [torch.empty(*draws.shape[:3], scale.shape[3]) for _, scale in scales]
            kept = buffers[0].copy_(draws).sub_(level - 1).clamp_(0.0, 1.0)
            masks = [torch.mul(kept[..., part], scale, out=out) for (part, scale), out in zip(scales, buffers[1])]  # [(M, steps, B, H_l)]
            # cut the block into steps once (one reshape and one unbind per block) instead of
            # slicing and copying per step: each step's row indices as one contiguous (M * B,)
            full = (hi - lo) // B  # steps of this block with a whole batch
            step_rows = list(index[:, : full * B].reshape(stack.M, full, B).transpose(0, 1).reshape(full, -1).unbind(0))
            step_masks = list(zip(*(mk.unbind(1) for mk in masks)))  # [step][l]: (M, B, H_l) views
            if full < steps_here:  # the epoch's last, smaller batch
                step_rows.append(index[:, full * B :].reshape(-1))
                step_masks[full] = [mk[:, : (hi - lo) - full * B] for mk in step_masks[full]]
            for rows_now, masks_now in zip(step_rows, step_masks):
                # gathering per step stays in cache
                x1, y = data.gather(rows_now, stack.M)  # (M, b, 100 + 1), (M, b, 4)
                train_loss.add_(stack.train_step(x1, y, masks_now))  # summed in float64
        metrics = stack.evaluate(x_val, label_val)
        penalty = metrics["penalty"]
        train_loss = train_loss.numpy() / n_steps + penalty

        for i, m in enumerate(members):
            m.epoch += 1
            m.steps += n_steps
            m.samples += rows
            row = {
                "epoch": m.epoch,
                "steps": m.steps,
                "samples": m.samples,
                "train_loss": float(train_loss[i]),
                "val_loss": float(metrics["loss"][i]),
                "val_mse": float(metrics["mse"][i]),
                "val_accuracy": float(metrics["accuracy"][i]),
                "val_recall": [_finite_or_none(r) for r in metrics["recall"][i]],  # hop, jump, leap, help
                "val_macro_recall": _finite_or_none(np.nanmean(metrics["recall"][i])),
                "is_best": False,
            }
            params, adam = stack.member_state(i)
            _judge_epoch(m, row, params, dataset_hash)
            _save_state(m, params, adam)
            if progress is not None:
                progress({**row, "model_id": m.model_id, "best_val_loss": m.best_val_loss, "status": m.status, "reason": m.reason})
        keep = [i for i, m in enumerate(members) if m.status == RUNNING]
        if len(keep) < len(members):
            members = [members[i] for i in keep]
            if len(keep) == 1:
                ghost = [members[0]]
                stack.keep(keep + keep, frozen=[1])
            elif keep:
                stack.keep(keep)


def dropout_threshold(rate: float) -> int:
    """Protocol step 4: a unit is kept when its 16-bit draw (0..65535) is >= this; drop probability = this / 65536."""
    return min(round(rate * 65536), 65535)


def dropout_draws(generator: torch.Generator, shape: tuple[int, ...], out: torch.Tensor | None = None) -> torch.Tensor:
    """Protocol step 4: int16 draws (uniform on -32768..32767) of ``shape``, four per 64-bit random number
    (drawn into ``out``, int64 of ceil(n / 4), when given)."""
    n = math.prod(shape)
    words = torch.empty(-(-n // 4), dtype=torch.int64) if out is None else out
    words.random_(-(2**63), 2**63 - 1, generator=generator)
    return words.view(torch.int16)[:n].view(shape)


def _dropout_draws(members: list[_Member], stack: Stack, steps: int, batch: int) -> torch.Tensor:
    """Each model's 16-bit draws for a block of steps (protocol step 4), (members, steps, B, sum of padded widths).

    A narrower model draws for its own units only; its draws are placed at its units'
    columns of the padded layout (the padded columns' values do not matter: their mask is 0).
    """
    padded = stack.sizes[1:-1]
    shape = (steps, batch, sum(padded))
    hidden = [m.config.model.hidden for m in members]
    if all(h == tuple(padded) for h in hidden):  # no padding: draw straight into one buffer
        n = math.prod(shape)
        words = torch.empty(len(members), -(-n // 4), dtype=torch.int64)
        for i, m in enumerate(members):
            dropout_draws(m.generator, shape, out=words[i])
        return words.view(torch.int16)[:, :n].unflatten(1, shape)
    u = torch.zeros(len(members), *shape, dtype=torch.int16)
    for i, (m, widths) in enumerate(zip(members, hidden)):
        own = dropout_draws(m.generator, (steps, batch, sum(widths)))
        src = dst = 0
        for h, h_padded in zip(widths, padded):
            u[i, :, :, dst : dst + h] = own[:, :, src : src + h]
            src, dst = src + h, dst + h_padded
    return u


def _mask_constants(members: list[_Member], stack: Stack) -> tuple[list[tuple[slice, torch.Tensor]], torch.Tensor]:
    """([(columns of layer l in the draws, kept value (M, 1, 1, H_l))], level (M, 1, 1, 1)) for ``_dropout_draws``.

    A unit is kept when its draw >= level (threshold - 32768, as float32) and then
    carries ``1/(1-d)`` (computed in float64, stored as float32); padded units carry 0.
    """
    rates = [m.config.model.dropout for m in members]
    level = torch.tensor([dropout_threshold(d) - 32768 for d in rates], dtype=torch.float32).view(-1, 1, 1, 1)
    out, start = [], 0
    for l, width in enumerate(stack.sizes[1:-1]):
        scale = torch.zeros(len(members), 1, 1, width)
        for i, (m, d) in enumerate(zip(members, rates)):
            scale[i, ..., : m.config.model.hidden[l]] = torch.tensor(1.0 / (1.0 - d), dtype=torch.float32)
        out.append((slice(start, start + width), scale))
        start += width
    return out, level


def _save_initial_checkpoints(members: list[_Member], stack: Stack, x_val: torch.Tensor, label_val: torch.Tensor, dataset_hash: str) -> None:
    """Epoch 0: every fresh model's initial weights as a checkpoint (``init: true``), with its validation metrics.

    Each trained checkpoint has its own initialisation as a partner, so the analysis can test
    whether training moved a measure (issue 13's paired test). It is not a "best so far":
    early stopping and the checkpoints after it are as without it. A model resumed past epoch
    0 has it already; one restarted from scratch writes the same bytes again.
    """
    fresh = [i for i, m in enumerate(members) if m.epoch == 0]
    if not fresh:
        return
    metrics = stack.evaluate(x_val, label_val)
    for i in fresh:
        m = members[i]
        recall = [_finite_or_none(r) for r in metrics["recall"][i]]
        row = {"val_loss": float(metrics["loss"][i]), "val_mse": float(metrics["mse"][i]), "val_accuracy": float(metrics["accuracy"][i]),
               "val_recall": recall, "val_macro_recall": _finite_or_none(np.nanmean(metrics["recall"][i])), "train_loss": None}  # fmt: skip
        stem = checkpoint_stem(m.model_id, 0, row["val_loss"])
        save_weights(m.folder / stem, m.config.model, stack.member_state(i)[0], _checkpoint_meta(m, row, dataset_hash, init=True), fsync=False)
        if stem not in m.checkpoints:
            m.checkpoints.insert(0, stem)


def _checkpoint_meta(m: _Member, row: dict, dataset_hash: str, *, init: bool = False) -> dict:
    """A checkpoint's JSON metadata at the model's current epoch (``row``: that epoch's metrics)."""
    return {
        "model_id": m.model_id,
        "train_config": m.config.to_dict(),
        "hyperparameters": _hyperparameters(m.config),
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


def _judge_epoch(m: _Member, row: dict, params: dict[str, torch.Tensor], dataset_hash: str) -> None:
    """NaN check, best-so-far checkpoint, early stopping and the epoch limit, in that order."""
    values = (row["train_loss"], row["val_loss"])
    if not all(math.isfinite(v) for v in values):
        m.status, m.reason = NAN, f"loss became {'NaN' if any(math.isnan(v) for v in values) else 'infinite'} in epoch {m.epoch} (train {values[0]}, val {values[1]})"
        m.history.append(row)
        return
    if row["val_loss"] < m.best_val_loss:
        m.best_val_loss, m.best_epoch, m.since_best = row["val_loss"], m.epoch, 0
        row["is_best"] = True
        stem = checkpoint_stem(m.model_id, m.epoch, row["val_loss"])
        save_weights(m.folder / stem, m.config.model, params, _checkpoint_meta(m, row, dataset_hash), fsync=False)
        if stem not in m.checkpoints:
            m.checkpoints.append(stem)
    else:
        m.since_best += 1
    m.history.append(row)
    if m.since_best >= m.config.patience:
        m.status, m.reason = STOPPED_EARLY, f"no improvement of val loss for {m.since_best} epochs (best {m.best_val_loss:.6f} at epoch {m.best_epoch})"
    elif m.epoch >= m.config.max_epochs:
        m.status, m.reason = MAX_EPOCHS, f"reached max_epochs = {m.config.max_epochs}"


def _hyperparameters(c: TrainConfig) -> dict:
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


# ---- resumable state ----------------------------------------------------------------------


def _save_state(m: _Member, params: dict[str, torch.Tensor], adam: dict[str, dict[str, torch.Tensor]]) -> None:
    """Write epoch N's resumable state: state-eNNNN.safetensors, state-eNNNN.json, then state.json (a copy).

    The state of epoch N-1 is kept until N+1 is written, so that a resumed run
    can put every model of a stack back at the same epoch (``_align_epochs``).
    """
    tensors = {f"param.{k}": v for k, v in params.items()}
    tensors |= {f"adam_m.{k}": v for k, v in adam["m"].items()}
    tensors |= {f"adam_v.{k}": v for k, v in adam["v"].items()}
    tensors["generator"] = m.generator.get_state()
    blob = st_save({k: v.numpy() for k, v in tensors.items()})  # the numpy writer: same bytes, 3x faster
    name = f"state-e{m.epoch:04d}"
    # no fsync: safe against a killed process (rename after write), and the hashes catch the
    # rest; thousands of fsyncs cost more than the training of a short epoch
    atomic.write_bytes(m.folder / f"{name}.safetensors", blob, fsync=False)
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
        "history": _finite_or_none(m.history),  # a diverged epoch's NaN as null: bare NaN is not JSON
        "tensors": f"{name}.safetensors",
        "tensors_sha256": hashlib.sha256(blob).hexdigest(),
    }
    text = atomic.json_text(record)
    atomic.write_text(m.folder / f"{name}.meta.json", text, fsync=False)
    atomic.write_text(m.folder / "state.json", text, fsync=False)
    for old in m.folder.glob("state-e*"):
        if int(old.name[7:11]) < m.epoch - 1:
            old.unlink(missing_ok=True)


def _finite_or_none(obj):
    """``obj`` with every NaN or infinite float replaced by None, for strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite_or_none(v) for v in obj]
    return obj


def _align_epochs(members: list[_Member]) -> list[_Member]:
    """Put the running models of each kind of stack back at one epoch (the earliest among them).

    A kill while a stack saves its epoch leaves some models one epoch ahead of the
    others. Stacks are formed exactly as in an uninterrupted run only if all its
    models stand at the same epoch (a model's rounding depends on its row in the
    stack), so the ones ahead go back to their previous state and redo that epoch,
    rewriting identical files.
    """
    earliest: dict[tuple, int] = {}
    for m in members:
        if m.status == RUNNING:
            key = stack_key(m.config)
            earliest[key] = min(earliest.get(key, m.epoch), m.epoch)
    out = []
    for m in members:
        target = earliest.get(stack_key(m.config))
        if target is not None and m.epoch > target:
            log.info("%s: back from epoch %d to %d to rejoin its stack", m.model_id, m.epoch, target)
            m = _load_or_create(m.folder, m.model_id, m.config, epoch=target)
        out.append(m)
    return out


def _load_or_create(folder: Path, model_id: str, config: TrainConfig, epoch: int | None = None) -> _Member:
    """The model's latest saved state (or that of ``epoch``; 0 = fresh), or a fresh model."""
    for partial in folder.glob(".*.tmp"):  # a write that a kill interrupted; its file was never renamed
        partial.unlink(missing_ok=True)
    state_file = folder / "state.json" if epoch is None else folder / f"state-e{epoch:04d}.meta.json"
    if epoch == 0 or not state_file.is_file():
        if epoch:
            raise CheckpointError(f"{state_file} is missing; remove {folder} to retrain that model")
        generator = model_generator(config.seed)
        model = MLP(config.model)
        model.reset_parameters(generator)
        return _Member(model_id, config, folder, generator, params=model.state_dict())
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
    if not blob_path.is_file():
        raise CheckpointError(f"{blob_path} is missing; remove {folder} to retrain that model")
    blob = blob_path.read_bytes()
    if hashlib.sha256(blob).hexdigest() != state["tensors_sha256"]:
        raise CheckpointError(f"{blob_path} does not match the hash in {state_file}; remove {folder} to retrain that model")
    _check_checkpoints(folder, state["checkpoints"])
    tensors = st_load(blob)
    generator = torch.Generator()
    generator.set_state(tensors.pop("generator"))
    pick = lambda prefix: {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    params = pick("param.")
    expected = {k: tuple(v.shape) for k, v in MLP(config.model).state_dict().items()}
    if {k: tuple(v.shape) for k, v in params.items()} != expected:
        raise CheckpointError(f"{blob_path} holds weights of another architecture than {config.model.hidden}")
    best = state["best_val_loss"]
    return _Member(
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
    if state["status"] not in (RUNNING, STOPPED_EARLY, MAX_EPOCHS, NAN):
        raise CheckpointError(f"{state_file} is damaged: status {state['status']!r:.40} is unknown; {fix}")
    for name in (state["tensors"], *state["checkpoints"]):
        if not _plain_name(name):
            raise CheckpointError(f"{state_file} names the file {name!r:.80}, outside its model folder; {fix}")


def _plain_name(name: object) -> bool:
    """True if ``name`` is a file name with no folder part (it resolves inside the folder that holds it)."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name and "\0" not in name


def _check_checkpoints(folder: Path, stems: list[str]) -> None:
    """``CheckpointError`` naming the first checkpoint a state file lists whose files are gone or damaged
    (a resumed run would otherwise report success over them)."""
    from mirror_neurons.train.checkpoint import read_meta

    for stem in stems:
        weights = folder / f"{stem}.safetensors"
        try:
            expected = read_meta(folder / f"{stem}.json").get("weights_sha256")
            intact = weights.is_file() and atomic.sha256_file(weights) == expected
        except (CheckpointError, AttributeError):
            intact = False
        if not intact:
            raise CheckpointError(f"checkpoint {folder / stem} is missing or damaged; remove {folder} to retrain that model")


# ---- the run folder ---------------------------------------------------------------------


def _check_dataset(dataset: Dataset, configs: Sequence[TrainConfig]) -> None:
    for name in ("train", "val"):
        split = getattr(dataset, name)
        if len(split) == 0:
            raise DataError(f"dataset {dataset.path} has an empty {name} split; regenerate it with `mirror-neurons data`")
    top = int(max(dataset.train.label.max(), dataset.val.label.max()))  # once, not per configuration
    for c in configs:
        if dataset.train.x.shape[1] != c.model.n_inputs:
            raise DataError(f"dataset {dataset.path} has {dataset.train.x.shape[1]} inputs but the model expects {c.model.n_inputs}")
        if top >= c.model.n_outputs:
            raise DataError(f"dataset {dataset.path} has label {top} but the model has {c.model.n_outputs} outputs")


def run_info(out_dir: str | Path) -> dict | None:
    """The ``info`` an existing RUN/run.json records (``{}`` if the file is damaged: ``open_run`` reports it), else None."""
    path = Path(out_dir) / "run.json"
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8")).get("info", {})
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return {}
    return info if isinstance(info, dict) else {}


def _open_run(out_dir: Path, configs: Sequence[TrainConfig], model_ids: Sequence[str], dataset: Dataset, info: dict) -> None:
    """Write RUN/run.json, or check that an existing one describes this same run."""
    for mid, c in zip(model_ids, configs):  # before run.json: a run that cannot take one step leaves nothing
        rows = min(c.epoch_rows or len(dataset.train), len(dataset.train))
        if rows < c.batch_size:
            raise DataError(
                f"model {mid} would train on {rows} rows per epoch, fewer than its batch size {c.batch_size}; "
                f"use a larger dataset (mirror-neurons data --states) or a smaller batch size"
            )
    record = {
        "models": {mid: c.to_dict() for mid, c in zip(model_ids, configs)},
        "dataset_hash": dataset.hash,
        "dataset_path": str(Path(dataset.path).absolute()),  # not relative to the working directory: analyze runs from anywhere
        "info": info,
    }
    path = out_dir / "run.json"
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{path} is damaged ({getattr(e, 'msg', e)}); use another --out") from e
        if not isinstance(old, dict):
            raise ConfigError(f"{path} is damaged (a JSON {type(old).__name__}, not an object); use another --out")
        if old.get("dataset_hash") != dataset.hash:
            raise DataError(
                f"run folder {out_dir} was trained on dataset {str(old.get('dataset_hash', '?'))[:12]}... but {dataset.path} "
                f"is {dataset.hash[:12]}...; resume with the original dataset or use another --out"
            )
        if old.get("models") != record["models"]:
            raise ConfigError(f"run folder {out_dir} holds another set of models; use another --out to start a new run")
        return
    atomic.write_json(path, {**record, "versions": versions()})
