"""The dataset as the training loop reads it: encoded once, gathered into batches step by step.

The model's input encoding (``train.encoding``) is applied once to the whole
dataset when it is loaded (kept as uint8 features, scaled columns multiplied
after the per-step gather), never to the Parquet files. ``training_labels``
gives the labels a model learns: the rule's, or a training-level null's.
"""

from __future__ import annotations

import numpy as np
import torch

from mirror_neurons.data.dataset import Dataset
from mirror_neurons.data.prepare import label_states
from mirror_neurons.train.encoding import get_encoding
from mirror_neurons.train.stack import with_ones

SHUFFLE_SEED = 20251101
"""Seed of the one permutation of each split's labels that ``labels = "shuffled"`` trains on
(the same for every model, so that models of a stack share their targets)."""


def training_labels(dataset: Dataset, labels: str) -> tuple[np.ndarray, np.ndarray]:
    """(train, val) labels a model with ``TrainConfig.labels = labels`` learns (config.LABELS)."""
    if labels == "toad_blind":
        return tuple(
            label_states(split.x, split.frog_pos, toad_blind=True)[0] for split in (dataset.train, dataset.val)
        )
    if labels == "shuffled":
        rng = np.random.default_rng(SHUFFLE_SEED)
        return rng.permutation(dataset.train.label), rng.permutation(dataset.val.label)
    return dataset.train.label, dataset.val.label


class EncodedDatasets:
    """The dataset, encoded once per (input encoding, labels) that some model of the run asks for."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self._encoded: dict[tuple[str, str], TrainingTensors] = {}

    def encoded(self, encoding: str, labels: str = "rule") -> TrainingTensors:
        key = (encoding, labels)
        if key not in self._encoded:  # one at a time: a run's groups come sorted by kind
            self._encoded = {key: TrainingTensors(self.dataset, encoding, labels)}
        return self._encoded[key]


class TrainingTensors:
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
        x, label = (
            torch.from_numpy(np.asarray(dataset.train.x, dtype=np.uint8)),
            torch.from_numpy(train_label.astype(np.int64)),
        )
        x = enc.stored(x)  # (n, features) uint8
        self.n_inputs = x.shape[1]
        self.scaled, self.scale = enc.scaled, torch.tensor(enc.scale, dtype=torch.float32)
        self.xy_train = torch.cat(
            [with_ones(x), torch.nn.functional.one_hot(label, 4).to(torch.uint8)], dim=1
        )  # (n, features + 5) uint8
        self.label_train = label
        self.x_val = enc.encode(torch.from_numpy(dataset.val.x.astype(np.float32)))
        self.label_val = torch.from_numpy(val_label.astype(np.int64))
        self._buffers: dict[tuple[int, int], tuple[torch.Tensor, ...]] = {}
        self._weights: torch.Tensor | None = None

    def epoch_rows(self, sampling: str, rows: int, generator: torch.Generator) -> torch.Tensor:
        """Protocol step 3 (``trainer``): the (rows,) training row indices of one epoch."""
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
            self._buffers[key] = (
                raw,
                out,
                raw.view(models, -1, width),
                out[:, :, : self.n_inputs + 1],
                out[:, :, self.n_inputs + 1 :],
            )
        raw, out, raw_by_model, x1, y = self._buffers[key]
        torch.index_select(self.xy_train, 0, rows, out=raw)
        out.copy_(raw_by_model)
        if self.scaled is not None:
            out[:, :, self.scaled].mul_(self.scale)
        return x1, y
