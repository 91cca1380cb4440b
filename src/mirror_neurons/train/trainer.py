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

The model's input encoding is applied once to the whole dataset (``train.batches``).
Before the first epoch every fresh model's initial weights are written as an epoch-0
checkpoint (``init: true``), the partner of its trained checkpoints in the analysis.

Models that share a depth, input encoding, labels, batch size, activation, loss and Adam betas train as
one ``Stack`` (stacked tensors, one step for all). After each epoch each model
is judged on its own: validation metrics (the full objective, MSE, accuracy),
a checkpoint when the validation loss is the best so far, early stopping, NaN
detection. Then its whole resumable state is written (``train.resume``), so a run
killed at any moment restarts from each model's last completed epoch and writes
exactly the files an uninterrupted run would. The run folder's layout and its
checkpoints' names and metadata are in ``train.run_folder``; ``train.reference``
is the same computation for one model written as a plain PyTorch loop.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mirror_neurons.data.dataset import Dataset
from mirror_neurons.train.batches import EncodedDatasets, TrainingTensors
from mirror_neurons.train.checkpoint import save_weights
from mirror_neurons.train.config import TrainConfig
from mirror_neurons.train.model import MLP
from mirror_neurons.train.resume import (
    MAX_EPOCHS,
    NAN,
    RUNNING,
    STOPPED_EARLY,
    ModelState,
    finite_or_none,
    load_state,
    save_state,
)
from mirror_neurons.train.run_folder import checkpoint_meta, checkpoint_stem, model_id_for, open_run
from mirror_neurons.train.stack import Stack

log = logging.getLogger(__name__)

CHUNK_STEPS = 64
"""Steps whose inputs and dropout draws are prepared together (part of the random protocol)."""

EpochHook = Callable[[dict], None]
"""``on_epoch(row)``: called after every model-epoch with {"model_id", "epoch", "val_loss", "best_val_loss",
"status", ...} (the live sweep display, TensorBoard); ``run_sweep`` also turns these rows into its
``progress(done, total, note)`` (``mirror_neurons.progress``)."""


def model_generator(seed: int) -> torch.Generator:
    """Protocol step 1: the model's only source of randomness, a torch.Generator seeded through SeedSequence."""
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

    @classmethod
    def of(cls, m: ModelState) -> TrainResult:
        return cls(
            model_id=m.model_id,
            config=m.config,
            status=m.status,
            reason=m.reason,
            epochs=m.epoch,
            best_epoch=m.best_epoch,
            best_val_loss=m.best_val_loss,
            checkpoints=[m.folder / f"{c}.json" for c in m.checkpoints],
            history=m.history,
        )


def train(
    config: TrainConfig,
    dataset: Dataset,
    out_dir: str | Path,
    *,
    seed: int | None = None,
    on_epoch: EpochHook | None = None,
) -> TrainResult:
    """Train one model (``seed`` overrides ``config.seed``); resumes if ``out_dir`` holds this run."""
    if seed is not None:
        config = TrainConfig.from_dict({**config.to_dict(), "seed": seed})
    (result,) = train_many([config], dataset, out_dir, on_epoch=on_epoch)
    return result


def train_many(
    configs: Sequence[TrainConfig],
    dataset: Dataset,
    out_dir: str | Path,
    *,
    model_ids: Sequence[str] | None = None,
    on_epoch: EpochHook | None = None,
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
        model_ids = (
            [model_id_for(c) for c in configs]
            if len(configs) == 1
            else [model_id_for(c, i) for i, c in enumerate(configs)]
        )
    open_run(out_dir, configs, model_ids, dataset, run_info or {})
    return train_models(configs, dataset, out_dir, model_ids=model_ids, on_epoch=on_epoch, threads=threads)


def train_models(
    configs: Sequence[TrainConfig],
    dataset: Dataset,
    out_dir: str | Path,
    *,
    model_ids: Sequence[str],
    on_epoch: EpochHook | None = None,
    threads: int | None = 1,
) -> list[TrainResult]:
    """Train some models of a run that ``open_run`` opened, each resuming from its own state.

    The unit of work a sweep sends to one worker (``train.groups``): it touches
    only RUN/models/<model_id>/ of the models it is given.
    """
    out_dir = Path(out_dir)
    members = [load_or_create(out_dir / "models" / mid, mid, c) for mid, c in zip(model_ids, configs)]
    members = align_epochs(members)
    pending = [m for m in members if m.status == RUNNING]
    data = EncodedDatasets(dataset)
    pad_to = _pad_widths(members)
    with _torch_threads(threads):
        # sorted by kind, so that each (encoding, labels) is built once
        for group in sorted(_groups(pending), key=lambda g: (g[0].config.model.encoding, g[0].config.labels)):
            encoded = data.encoded(group[0].config.model.encoding, group[0].config.labels)
            _train_group(group, encoded, dataset.hash, on_epoch, pad_to[stack_key(group[0].config)])
    return [TrainResult.of(m) for m in members]


@contextlib.contextmanager
def _torch_threads(n: int | None):
    before = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# ---- models into stacks ---------------------------------------------------------------------


def stack_key(c: TrainConfig) -> tuple:
    """Configurations with equal keys can train in one Stack."""
    return (
        len(c.model.hidden),
        c.model.encoding,
        c.labels,
        c.batch_size,
        c.epoch_rows,
        c.val_rows,
        c.model.activation,
        c.loss,
        c.beta1,
        c.beta2,
        c.eps,
    )


def _groups(members: list[ModelState]) -> list[list[ModelState]]:
    """Members that can share a Stack: same depth, batch size, rows per epoch, activation, loss, betas, eps."""
    groups: dict[tuple, list[ModelState]] = {}
    for m in members:
        groups.setdefault(stack_key(m.config), []).append(m)
    return list(groups.values())


def _pad_widths(members: list[ModelState]) -> dict[tuple, tuple[int, ...]]:
    """Each kind of stack's padded widths: the widest of all its models, finished ones included.

    A resumed run thus pads exactly as the uninterrupted one did (padding changes the rounding).
    """
    pad_to: dict[tuple, tuple[int, ...]] = {}
    for m in members:
        key, hidden = stack_key(m.config), m.config.model.hidden
        pad_to[key] = tuple(max(a, b) for a, b in zip(pad_to.get(key, hidden), hidden))
    return pad_to


def load_or_create(folder: Path, model_id: str, config: TrainConfig, epoch: int | None = None) -> ModelState:
    """The model's latest saved state (or that of ``epoch``; 0 = fresh), or a fresh model (protocol steps 1-2)."""
    state = load_state(folder, model_id, config, epoch)
    if state is not None:
        return state
    generator = model_generator(config.seed)
    model = MLP(config.model)
    model.reset_parameters(generator)
    return ModelState(model_id, config, folder, generator, params=model.state_dict())


def align_epochs(members: list[ModelState]) -> list[ModelState]:
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
            m = load_or_create(m.folder, m.model_id, m.config, epoch=target)
        out.append(m)
    return out


# ---- one stack, epoch by epoch ----------------------------------------------------------------


@dataclass(frozen=True)
class _EpochShape:
    """What every model of a stack does in one epoch: ``rows`` training rows in ``steps`` batches of ``batch``."""

    rows: int
    batch: int
    steps: int

    @classmethod
    def of(cls, config: TrainConfig, n_train: int) -> _EpochShape:
        rows = min(config.epoch_rows or n_train, n_train)
        return cls(rows, config.batch_size, -(-rows // config.batch_size))


def _train_group(
    members: list[ModelState],
    data: TrainingTensors,
    dataset_hash: str,
    on_epoch: EpochHook | None,
    pad_to: tuple[int, ...] | None = None,
) -> None:
    """Train ``members`` epoch by epoch in one Stack until each has stopped.

    A stack of one would run bmm with a batch of 1, which takes another kernel path
    and rounds differently; a frozen copy of model 0 (the *ghost*: lr 0, fed model 0's
    rows and masks) keeps every model on the same path, so results never depend on who
    trains beside it. Models that stop leave the stack, which shrinks (to a model and
    its ghost when one is left).
    """
    first = members[0].config
    ghost = [members[0]] if len(members) == 1 else []
    stack = _load_stack(members, ghost, pad_to)
    shape = _EpochShape.of(first, len(data.xy_train))
    val_rows = first.val_rows or len(data.x_val)
    x_val, label_val = data.x_val[:val_rows], data.label_val[:val_rows]
    _save_initial_checkpoints(members, stack, x_val, label_val, dataset_hash)
    while members:
        train_loss = _train_epoch(members, ghost, stack, data, shape)
        metrics = stack.evaluate(x_val, label_val)
        mean_loss = train_loss.numpy() / shape.steps + metrics["penalty"]
        for i, m in enumerate(members):
            _end_epoch(m, i, stack, shape, mean_loss[i], metrics, dataset_hash, on_epoch)
        members, ghost = _drop_stopped(members, ghost, stack)


def _load_stack(members: list[ModelState], ghost: list[ModelState], pad_to: tuple[int, ...] | None) -> Stack:
    """A Stack holding ``members`` (then the ghost, frozen at lr 0), each from its saved or initial state."""
    first = members[0].config
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
        m.params = m.adam = None  # the stack holds them now
    return stack


def _train_epoch(
    members: list[ModelState], ghost: list[ModelState], stack: Stack, data: TrainingTensors, shape: _EpochShape
) -> torch.Tensor:
    """Protocol steps 3-4 for one epoch of every model of the stack: the training loss summed over steps, (M,) float64."""
    perms = [data.epoch_rows(m.config.sampling, shape.rows, m.generator) for m in members]
    perms += perms[:1] * len(ghost)
    masks = _Masks(members + ghost, stack)
    train_loss = torch.zeros(stack.M, dtype=torch.float64)
    for first_step in range(0, shape.steps, CHUNK_STEPS):
        steps_here = min(CHUNK_STEPS, shape.steps - first_step)
        lo, hi = first_step * shape.batch, min((first_step + steps_here) * shape.batch, shape.rows)
        index = torch.stack([p[lo:hi] for p in perms])  # (M, rows in block)
        draws = _dropout_draws(members, stack, steps_here, shape.batch)  # (members, steps, B, sum of padded widths)
        if ghost:
            draws = torch.cat([draws, draws[:1]], dim=0)
        for rows_now, masks_now in _block_steps(index, masks.of(draws), shape.batch):
            # gathering per step stays in cache
            x1, y = data.gather(rows_now, stack.M)  # (M, b, 100 + 1), (M, b, 4)
            train_loss.add_(stack.train_step(x1, y, masks_now))  # summed in float64
    return train_loss


def _block_steps(
    index: torch.Tensor, masks: list[torch.Tensor], batch: int
) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
    """A block of steps cut into (row indices (M * b,), masks [(M, b, H_l)]) per step.

    Cut once per block (one reshape and one unbind) instead of slicing and copying per
    step; ``index`` (M, rows in block); ``masks`` [(M, steps, B, H_l)]; the epoch's last
    batch may be smaller.
    """
    M, n = index.shape
    steps_here = masks[0].shape[1]
    full = n // batch  # steps of this block with a whole batch
    step_rows = list(index[:, : full * batch].reshape(M, full, batch).transpose(0, 1).reshape(full, -1).unbind(0))
    step_masks = list(zip(*(mk.unbind(1) for mk in masks)))  # [step][l]: (M, B, H_l) views
    if full < steps_here:  # the epoch's last, smaller batch
        step_rows.append(index[:, full * batch :].reshape(-1))
        step_masks[full] = [mk[:, : n - full * batch] for mk in step_masks[full]]
    return list(zip(step_rows, step_masks))


def _end_epoch(
    m: ModelState,
    i: int,
    stack: Stack,
    shape: _EpochShape,
    train_loss: float,
    metrics: dict,
    dataset_hash: str,
    on_epoch: EpochHook | None,
) -> None:
    """Model ``i`` of the stack after an epoch: its history row, judged and saved, then reported."""
    m.epoch += 1
    m.steps += shape.steps
    m.samples += shape.rows
    row = {
        "epoch": m.epoch,
        "steps": m.steps,
        "samples": m.samples,
        "train_loss": float(train_loss),
        **_val_metrics(metrics, i),
        "is_best": False,
    }
    params, adam = stack.member_state(i)
    _judge_epoch(m, row, params, dataset_hash)
    save_state(m, params, adam)
    if on_epoch is not None:
        on_epoch(
            {**row, "model_id": m.model_id, "best_val_loss": m.best_val_loss, "status": m.status, "reason": m.reason}
        )


def _val_metrics(metrics: dict, i: int) -> dict:
    """Model ``i``'s validation metrics from ``Stack.evaluate``, as a history row and a checkpoint record them."""
    return {
        "val_loss": float(metrics["loss"][i]),
        "val_mse": float(metrics["mse"][i]),
        "val_accuracy": float(metrics["accuracy"][i]),
        "val_recall": [finite_or_none(r) for r in metrics["recall"][i]],  # hop, jump, leap, help
        "val_macro_recall": finite_or_none(np.nanmean(metrics["recall"][i])),
    }


def _drop_stopped(
    members: list[ModelState], ghost: list[ModelState], stack: Stack
) -> tuple[list[ModelState], list[ModelState]]:
    """The models still running and the ghost, with the stack shrunk to them (a model and its ghost when one is left)."""
    keep = [i for i, m in enumerate(members) if m.status == RUNNING]
    if len(keep) == len(members):
        return members, ghost
    members = [members[i] for i in keep]
    if len(keep) == 1:
        stack.keep(keep + keep, frozen=[1])
        return members, [members[0]]
    if keep:
        stack.keep(keep)
    return members, ghost


# ---- protocol step 4: dropout -----------------------------------------------------------------


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


def _dropout_draws(members: list[ModelState], stack: Stack, steps: int, batch: int) -> torch.Tensor:
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


class _Masks:
    """Dropout masks from a block's draws, in buffers reused from block to block within an epoch.

    ``scales``: [(columns of layer l in the draws, kept value (M, 1, 1, H_l))]; ``level``
    (M, 1, 1, 1). A unit is kept when its draw >= level (threshold - 32768, as float32)
    and then carries ``1/(1-d)`` (computed in float64, stored as float32); padded units
    carry 0. kept <=> draw >= level <=> clamp(draw - level + 1, 0, 1) == 1 (exact in
    float32): float ops only, since comparisons into bool run 5x slower here. A fresh
    10 MB buffer per block costs more in page faults than its arithmetic.
    """

    def __init__(self, members: list[ModelState], stack: Stack):
        rates = [m.config.model.dropout for m in members]
        self.level = torch.tensor([dropout_threshold(d) - 32768 for d in rates], dtype=torch.float32).view(-1, 1, 1, 1)
        self.scales, start = [], 0
        for l, width in enumerate(stack.sizes[1:-1]):
            scale = torch.zeros(len(members), 1, 1, width)
            for i, (m, d) in enumerate(zip(members, rates)):
                scale[i, ..., : m.config.model.hidden[l]] = torch.tensor(1.0 / (1.0 - d), dtype=torch.float32)
            self.scales.append((slice(start, start + width), scale))
            start += width
        self._buffers: tuple[torch.Tensor, list[torch.Tensor]] | None = None

    def of(self, draws: torch.Tensor) -> list[torch.Tensor]:
        """The masks [(M, steps, B, H_l)] of ``draws`` (M, steps, B, sum of padded widths), int16."""
        if self._buffers is None or self._buffers[0].shape != draws.shape:
            self._buffers = (
                torch.empty(draws.shape),
                [torch.empty(*draws.shape[:3], scale.shape[3]) for _, scale in self.scales],
            )
        kept_buffer, mask_buffers = self._buffers
        kept = kept_buffer.copy_(draws).sub_(self.level - 1).clamp_(0.0, 1.0)
        return [torch.mul(kept[..., part], scale, out=out) for (part, scale), out in zip(self.scales, mask_buffers)]


# ---- after each epoch: checkpoints and stopping --------------------------------------------------


def _save_initial_checkpoints(
    members: list[ModelState], stack: Stack, x_val: torch.Tensor, label_val: torch.Tensor, dataset_hash: str
) -> None:
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
        row = {**_val_metrics(metrics, i), "train_loss": None}
        stem = checkpoint_stem(m.model_id, 0, row["val_loss"])
        save_weights(
            m.folder / stem,
            m.config.model,
            stack.member_state(i)[0],
            checkpoint_meta(m, row, dataset_hash, init=True),
            fsync=False,
        )
        if stem not in m.checkpoints:
            m.checkpoints.insert(0, stem)


def _judge_epoch(m: ModelState, row: dict, params: dict[str, torch.Tensor], dataset_hash: str) -> None:
    """NaN check, best-so-far checkpoint, early stopping and the epoch limit, in that order."""
    values = (row["train_loss"], row["val_loss"])
    if not all(math.isfinite(v) for v in values):
        m.status, m.reason = (
            NAN,
            f"loss became {'NaN' if any(math.isnan(v) for v in values) else 'infinite'} in epoch {m.epoch} (train {values[0]}, val {values[1]})",
        )
        m.history.append(row)
        return
    if row["val_loss"] < m.best_val_loss:
        m.best_val_loss, m.best_epoch, m.since_best = row["val_loss"], m.epoch, 0
        row["is_best"] = True
        stem = checkpoint_stem(m.model_id, m.epoch, row["val_loss"])
        save_weights(m.folder / stem, m.config.model, params, checkpoint_meta(m, row, dataset_hash), fsync=False)
        if stem not in m.checkpoints:
            m.checkpoints.append(stem)
    else:
        m.since_best += 1
    m.history.append(row)
    if m.since_best >= m.config.patience:
        m.status, m.reason = (
            STOPPED_EARLY,
            f"no improvement of val loss for {m.since_best} epochs (best {m.best_val_loss:.6f} at epoch {m.best_epoch})",
        )
    elif m.epoch >= m.config.max_epochs:
        m.status, m.reason = MAX_EPOCHS, f"reached max_epochs = {m.config.max_epochs}"
