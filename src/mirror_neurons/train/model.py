"""The paper's network: an MLP with named activation points (SPEC section 5).

input (100) -> encoding -> L x [Dense(N) -> activation -> Dropout(d)] -> Dense(4), linear.

The encoding (``train.encoding``: raw, onehot, recoded) has no parameters; it
turns the raw 100-integer state into the first layer's features inside
``forward``, so every model takes raw states whatever its encoding.
Kernels are Glorot-uniform, biases zero. Each Dense layer's output after its
activation passes through a named identity module ``points["dense_i"]`` (the
output layer is ``dense_L``, linear), so analysis captures activations by name
with hooks and never depends on the layer's position in a Sequential.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from mirror_neurons.errors import ConfigError
from mirror_neurons.train.encoding import ENCODINGS, Encoding, get_encoding

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU, "elu": nn.ELU}


@dataclass(frozen=True)
class ModelConfig:
    """Architecture only; everything needed to rebuild the module."""

    hidden: tuple[int, ...] = (17, 17)
    """Units per hidden layer (the paper: 1-3 layers of 5-50 units)."""
    dropout: float = 0.12
    """Dropout rate after each hidden layer's activation."""
    activation: str = "relu"
    """Hidden activation: one of relu, tanh, sigmoid, gelu, elu."""
    n_inputs: int = 100
    """Width of the raw state the model is fed."""
    n_outputs: int = 4
    encoding: str = "raw"
    """How the state becomes the first layer's features: one of ENCODINGS (train/encoding.py)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if not self.hidden or any(h < 1 for h in self.hidden):
            raise ConfigError(f"hidden must list at least one layer width >= 1, got {self.hidden}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"encoding = {self.encoding!r} is not known; choose one of {', '.join(ENCODINGS)}")
        if self.encoding != "raw" and self.n_inputs != 100:
            raise ConfigError(f"encoding {self.encoding!r} reads the 100-integer state, but n_inputs = {self.n_inputs}")

    @property
    def input_encoding(self) -> Encoding:
        return get_encoding(self.encoding)

    @property
    def n_features(self) -> int:
        """Inputs of the first Dense layer: the encoding's width (n_inputs for raw)."""
        return self.n_inputs if self.encoding == "raw" else self.input_encoding.width

    @property
    def widths(self) -> tuple[int, ...]:
        """Units of every Dense layer, the output layer included (2 x 17 -> (17, 17, 4))."""
        return (*self.hidden, self.n_outputs)

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(f"dense_{i}" for i in range(len(self.widths)))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelConfig:
        """Rebuild from ``to_dict``; a checkpoint written before encodings existed is ``raw``."""
        return cls(**{**d, "hidden": tuple(d["hidden"])})


class MLP(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        sizes = (config.n_features, *config.widths)
        self.encoding = config.input_encoding
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.activation = ACTIVATIONS[config.activation]()
        self.dropout = nn.Dropout(config.dropout)
        self.points = nn.ModuleDict({name: nn.Identity() for name in config.layer_names})
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Glorot-uniform kernels and zero biases, drawn from ``generator`` when given."""
        for layer in self.layers:
            fan_out, fan_in = layer.weight.shape
            bound = (6.0 / (fan_in + fan_out)) ** 0.5
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # raw states (n, 100) -> (n, 4)
        x = self.encoding.encode(x)  # (n, n_features)
        *hidden, out = self.layers
        names = self.config.layer_names
        for name, layer in zip(names, hidden):
            x = self.dropout(self.points[name](self.activation(layer(x))))
        return self.points[names[-1]](out(x))

    def kernels(self) -> list[torch.Tensor]:
        """Dense kernels (out, in), the ones the L2 penalty applies to."""
        return [layer.weight for layer in self.layers]
