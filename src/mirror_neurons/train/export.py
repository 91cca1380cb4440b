"""Checkpoints to plain PyTorch and back: ``to_torch`` and ``from_torch``.

Our ``MLP`` (``train/model.py``) keeps its layers in a ``ModuleList`` (state
keys ``layers.0.weight``, ``layers.0.bias``, ...), encodes its input inside
``forward`` and routes every activation through a named identity for hooks.
Outside this package a plain ``nn.Sequential`` is easier to use, so:

- ``to_torch(checkpoint_or_path)`` returns ``Sequential(Linear, ReLU, ...,
  Linear)`` (the model's own activation in place of ReLU), in eval mode, that
  maps the *encoded* features, ``(n, n_features)`` float32, to the four
  action logits. ``encoder(checkpoint_or_path)`` is the parameter-free module
  that makes those features from raw ``(n, 100)`` states, so
  ``to_torch(c)(encoder(c)(x))`` equals ``load_checkpoint(c).model(x)``;
  ``to_torch(c, with_encoder=True)`` puts it first and takes raw states.
- ``from_torch(sequential, encoding=...)`` turns such a Sequential (yours or
  ours) back into an ``MLP`` that every analysis accepts; save it with
  ``checkpoint.save_checkpoint(stem, mlp, meta)``.

What the numbers mean (the checkpoint JSON states both: ``outputs`` lists the
actions in output order, ``inputs`` the state layout and the encoding, also
``model.encoding``):

- **outputs**, in order: ``OUTPUTS`` = hop, jump, leap, help (the action
  codes 0..3). They are logits or scores, one per action; the label is the
  largest.
- **inputs**: the 100-integer state of SPEC section 3 (ground row 0-31,
  players row 32-63, flies row 64-95, own symbol, energy, score, position),
  then the model's encoding (``train/encoding.py``): ``raw`` the integers as
  float32; ``recoded`` the same layout with distress codes moved below the
  others; ``onehot`` 385 indicators (``StateEncoder(...).feature_names``).

Dropout is left out of the Sequential: it is the identity at inference, which
is what analysis runs. ``docs/training.md`` ("Checkpoints in plain PyTorch")
gives a ten-line recipe that needs only torch and safetensors.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from mirror_neurons.errors import ConfigError
from mirror_neurons.game.constants import Action
from mirror_neurons.train.checkpoint import Checkpoint, load_checkpoint
from mirror_neurons.train.encoding import ENCODINGS, get_encoding
from mirror_neurons.train.model import ACTIVATIONS, MLP, ModelConfig

OUTPUTS = tuple(action.name.lower() for action in Action)
"""The model's outputs, in order: ('hop', 'jump', 'leap', 'help')."""

Source = Checkpoint | MLP | str | Path
"""What ``to_torch`` and ``encoder`` read: a loaded checkpoint, a model, or a checkpoint's path (JSON, safetensors or stem)."""


class StateEncoder(nn.Module):
    """(n, 100) raw states -> (n, width) float32 features of one input encoding; no parameters."""

    def __init__(self, encoding: str = "raw"):
        super().__init__()
        self.encoding = get_encoding(encoding)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.encoding.feature_names

    def forward(self, states: torch.Tensor) -> torch.Tensor:  # (n, 100) -> (n, width)
        return self.encoding.encode(states)

    def extra_repr(self) -> str:
        return f"{self.encoding.name!r}, width={self.encoding.width}"


def _model(source: Source) -> MLP:
    if isinstance(source, MLP):
        return source
    if isinstance(source, Checkpoint):
        return source.model
    if isinstance(source, (str, Path)):
        return load_checkpoint(source).model
    raise ConfigError(f"expected a Checkpoint, an MLP or a checkpoint path, got {type(source).__name__}")


def encoder(source: Source) -> StateEncoder:
    """The module that turns raw states into the features ``to_torch(source)`` reads."""
    return StateEncoder(_model(source).config.encoding)


def to_torch(source: Source, *, with_encoder: bool = False) -> nn.Sequential:
    """A plain ``nn.Sequential`` of the model's Linear layers and activations, in eval mode.

    It takes ``(n, n_features)`` encoded features (``encoder(source)``), or raw
    ``(n, 100)`` states when ``with_encoder`` puts a ``StateEncoder`` first, and
    returns ``(n, 4)`` outputs in the order of ``OUTPUTS``. The weights are copies.
    """
    model = _model(source)
    config = model.config
    modules: list[nn.Module] = [StateEncoder(config.encoding)] if with_encoder else []
    for i, layer in enumerate(model.layers):
        linear = nn.Linear(layer.in_features, layer.out_features)
        linear.load_state_dict({k: v.detach().clone() for k, v in layer.state_dict().items()})
        modules.append(linear)
        if i < len(model.layers) - 1:
            modules.append(ACTIVATIONS[config.activation]())
    return nn.Sequential(*modules).eval()


def _activation_name(module: nn.Module) -> str | None:
    """The ``ModelConfig.activation`` name of an activation module, None if it is not one we rebuild exactly."""
    for name, kind in ACTIVATIONS.items():
        if type(module) is kind:
            if isinstance(module, nn.GELU) and module.approximate != "none":
                return None
            if isinstance(module, nn.ELU) and module.alpha != 1.0:
                return None
            return name
    return None


def _unsupported(i: int, module: nn.Module) -> ConfigError:
    return ConfigError(
        f"module {i} ({module!r:.60}) is not supported: from_torch reads Linear layers with one activation "
        f"({', '.join(ACTIVATIONS)}, default arguments) after each hidden layer, optional Dropout and Identity, "
        "and an optional StateEncoder first"
    )


def _split(sequential: nn.Sequential) -> tuple[str | None, list[nn.Linear], list[str], list[float]]:
    """(encoding of a leading StateEncoder or None, Linear layers, activation after each, dropout rates)."""
    modules = list(sequential)
    encoding = None
    if modules and isinstance(modules[0], StateEncoder):
        encoding = modules.pop(0).encoding.name
    linears: list[nn.Linear] = []
    after: list[str | None] = []  # the activation after each Linear (None: not yet seen)
    rates: list[float] = []
    for i, module in enumerate(modules, start=int(encoding is not None)):
        if isinstance(module, nn.Linear):
            linears.append(module)
            after.append(None)
        elif isinstance(module, nn.Dropout):
            rates.append(float(module.p))
        elif isinstance(module, nn.Identity):
            continue
        elif (name := _activation_name(module)) is not None and linears and after[-1] is None:
            after[-1] = name
        else:
            raise _unsupported(i, module)
    return encoding, linears, after, rates


def from_torch(sequential: nn.Sequential, *, encoding: str | None = None, dropout: float | None = None) -> MLP:
    """An ``MLP`` (eval mode) computing what ``sequential`` computes on the encoded features.

    ``sequential``: ``Linear, act, [Dropout,] Linear, act, ..., Linear``, one
    activation type throughout, at least one hidden layer, four outputs in the
    order of ``OUTPUTS``; a leading ``StateEncoder`` (``to_torch(...,
    with_encoder=True)``) gives the encoding. ``encoding``: how raw states
    become the first layer's inputs (one of raw, onehot, recoded; default the
    StateEncoder's, else raw); the first Linear must take that many features.
    ``dropout``: the rate recorded for training (default: the Sequential's
    Dropout rate, else 0). ``ConfigError`` names what does not fit.
    """
    if not isinstance(sequential, nn.Sequential):
        raise ConfigError(
            f"from_torch reads an nn.Sequential of Linear layers and activations, got {type(sequential).__name__}"
        )
    found, linears, after, rates = _split(sequential)
    if found is not None and encoding is not None and found != encoding:
        raise ConfigError(f"encoding={encoding!r} disagrees with the Sequential's StateEncoder ({found!r})")
    encoding = encoding or found or "raw"
    width = get_encoding(encoding).width
    _check_layers(linears, after, encoding, width)
    if len(set(rates)) > 1:
        raise ConfigError(
            f"the Sequential's Dropout rates differ ({sorted(set(rates))}); an MLP has one rate, pass dropout="
        )
    config = ModelConfig(
        hidden=tuple(layer.out_features for layer in linears[:-1]),
        dropout=dropout if dropout is not None else (rates[0] if rates else 0.0),
        activation=after[0],
        encoding=encoding,
    )
    model = MLP(config)
    with torch.no_grad():
        for ours, theirs in zip(model.layers, linears):
            ours.weight.copy_(theirs.weight)
            ours.bias.copy_(theirs.bias if theirs.bias is not None else torch.zeros_like(ours.bias))
    return model.eval()


def _check_layers(linears: list[nn.Linear], after: list[str | None], encoding: str, width: int) -> None:
    """Widths that chain, from the encoding's width to the four actions, and one activation type between layers."""
    if len(linears) < 2:
        raise ConfigError(f"an MLP needs at least one hidden layer: found {len(linears)} Linear layer(s)")
    if linears[0].in_features != width:
        fits = [name for name in ENCODINGS if get_encoding(name).width == linears[0].in_features]
        hint = f"; pass encoding={fits[0]!r}" if fits else ""
        raise ConfigError(
            f"the first Linear takes {linears[0].in_features} features but encoding {encoding!r} gives {width}{hint}"
        )
    for a, b in zip(linears, linears[1:]):
        if a.out_features != b.in_features:
            raise ConfigError(f"a Linear of {a.out_features} outputs feeds one of {b.in_features} inputs")
    if linears[-1].out_features != len(OUTPUTS):
        raise ConfigError(
            f"the last Linear has {linears[-1].out_features} outputs; the game's models have {len(OUTPUTS)} ({', '.join(OUTPUTS)})"
        )
    if after[-1] is not None:
        raise ConfigError(f"the output layer must be linear, but a {after[-1]} follows it")
    hidden = after[:-1]
    if None in hidden:
        raise ConfigError(
            f"hidden layer {hidden.index(None)} has no activation after it (one of {', '.join(ACTIVATIONS)})"
        )
    if len(set(hidden)) > 1:
        raise ConfigError(f"the hidden layers use different activations ({', '.join(hidden)}); an MLP has one")
