"""One model's training configuration (SPEC section 5), validated on construction.

The defaults are the paper's: MSE to one-hot labels plus ``0.01 * sum(W**2)``
over every Dense kernel, Adam (0.9, 0.999, eps 1e-7), patience 10, up to 500
epochs. Every field has a stated range; a value outside it raises
``ConfigError`` naming the field and the range, so the same check serves the
library, the CLI and sweep files.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from mirror_neurons.errors import ConfigError
from mirror_neurons.train.model import ModelConfig

LOSSES = ("mse_l2", "mse", "cross_entropy")
"""mse_l2: the paper's objective; mse: no penalty; cross_entropy: softmax cross-entropy (+ l2 if given)."""

DEFAULT_L2 = 0.01

LABELS = ("rule", "toad_blind", "shuffled")
"""What the network is trained to predict (training-level nulls of issue 13):
rule: the dataset's labels (the labeling rule of SPEC section 4);
toad_blind: the labeling rule without its one clause that reads Toad (help when Frog is near the
right edge, not in distress, and Toad is), recomputed from the states, so the partner's distress
is useless for the task;
shuffled: the dataset's labels permuted across rows (training and validation splits each, with
one fixed permutation, ``batches.SHUFFLE_SEED``), so nothing in the input predicts them."""

SAMPLINGS = ("shuffle", "balanced")
"""shuffle: each epoch a fresh permutation of the training rows (the paper's);
balanced: each epoch's rows drawn with replacement, each class equally likely (rows weighted 1 / class count)."""

# (low, high, low inclusive, high inclusive): the allowed range of each numeric field.
RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "lr": (0.0, math.inf, False, False),
    "batch_size": (1, 1_000_000, True, True),
    "max_epochs": (1, 1_000_000, True, True),
    "patience": (1, 1_000_000, True, True),
    "l2": (0.0, 10.0, True, True),
    "beta1": (0.0, 1.0, True, False),
    "beta2": (0.0, 1.0, True, False),
    "eps": (0.0, 1.0, False, True),
    "seed": (0, 2**63 - 1, True, True),
    "epoch_rows": (0, 10**12, True, True),
    "val_rows": (0, 10**12, True, True),
}


def describe_range(name: str) -> str:
    lo, hi, lo_in, hi_in = RANGES[name]
    left = "[" if lo_in else "("
    right = "]" if hi_in else ")"
    return f"{left}{lo:g}, {hi:g}{right}"


def check_range(name: str, value: float, where: str = "") -> None:
    """Raise ConfigError if ``value`` is outside ``RANGES[name]`` (or not a finite number)."""
    lo, hi, lo_in, hi_in = RANGES[name]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
        raise ConfigError(f"{where}{name} = {value!r} is out of range; allowed {describe_range(name)}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides how one model trains, its seed included."""

    model: ModelConfig = field(default_factory=ModelConfig)
    """Architecture: hidden widths, dropout, activation."""
    lr: float = 4e-6
    """Adam learning rate (the paper: 4e-6 .. 5e-5, outliers 3e-6 .. 2e-4)."""
    batch_size: int = 25
    """Rows per optimizer step (the paper: 20-25). The last batch of an epoch may be smaller."""
    max_epochs: int = 500
    """Stop after this many epochs."""
    patience: int = 10
    """Stop when validation loss has not improved for this many epochs."""
    loss: str = "mse_l2"
    """One of LOSSES."""
    l2: float | None = None
    """Coefficient of sum(W**2) over kernels; None means the loss's default (0.01 for mse_l2, 0 otherwise)."""
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-7
    """Adam's epsilon (Keras's default, which the paper used; torch's default is 1e-8)."""
    seed: int = 0
    """Decides the initial weights, every epoch's shuffle and every dropout mask."""
    epoch_rows: int = 0
    """Training rows per epoch, drawn from a fresh shuffle each epoch; 0 = the whole training split."""
    val_rows: int = 0
    """Validation rows used (the first ones of the split); 0 = all."""
    sampling: str = "shuffle"
    """How an epoch's training rows are drawn: one of SAMPLINGS."""
    labels: str = "rule"
    """What the network learns to predict: one of LABELS (the others are training-level nulls)."""

    def __post_init__(self) -> None:
        if not isinstance(self.model, ModelConfig):
            raise ConfigError(f"model must be a ModelConfig, got {type(self.model).__name__}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss = {self.loss!r} is not allowed; choose one of {', '.join(LOSSES)}")
        if self.labels not in LABELS:
            raise ConfigError(f"labels = {self.labels!r} is not allowed; choose one of {', '.join(LABELS)}")
        if self.sampling not in SAMPLINGS:
            raise ConfigError(f"sampling = {self.sampling!r} is not allowed; choose one of {', '.join(SAMPLINGS)}")
        l2 = self.l2
        if l2 is None:
            l2 = DEFAULT_L2 if self.loss == "mse_l2" else 0.0
        object.__setattr__(self, "l2", float(l2))
        if self.loss == "mse" and self.l2 != 0.0:
            raise ConfigError(f"loss 'mse' has no penalty but l2 = {self.l2}; use loss 'mse_l2' for an L2 penalty")
        for name in ("batch_size", "max_epochs", "patience", "seed", "epoch_rows", "val_rows"):
            value = getattr(self, name)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
                object.__setattr__(self, name, value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{name} must be an integer, got {value!r}")
        for name in RANGES:
            check_range(name, getattr(self, name))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        return cls(**{**d, "model": ModelConfig.from_dict(d["model"])})

    def describe(self) -> str:
        """Short hyper-parameter tag for file names, with no dots: h17x17_d0p12_lr4e-06_b25."""
        hidden = "x".join(str(h) for h in self.model.hidden)
        tag = f"h{hidden}_d{self.model.dropout:g}_lr{self.lr:g}_b{self.batch_size}"
        if self.model.activation != "relu":
            tag += f"_{self.model.activation}"
        if self.loss != "mse_l2":
            tag += f"_{self.loss}"
        if self.model.encoding != "raw":
            tag += f"_{self.model.encoding}"
        if self.sampling != "shuffle":
            tag += f"_{self.sampling}"
        if self.labels != "rule":
            tag += f"_labels-{self.labels.replace('_', '-')}"
        return tag.replace(".", "p")
