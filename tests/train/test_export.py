"""Checkpoints as plain PyTorch: to_torch computes what the MLP computes, from_torch inverts it,
and the recipe in docs/training.md runs as printed (issue 15, item 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from mirror_neurons.errors import ConfigError
from mirror_neurons.train.checkpoint import load_checkpoint, save_checkpoint
from mirror_neurons.train.export import OUTPUTS, StateEncoder, encoder, from_torch, to_torch
from mirror_neurons.train.model import MLP, ModelConfig

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def random_states(n: int = 64, seed: int = 0) -> torch.Tensor:
    """(n, 100) integer states with every code of the state vector: 0..10 in the rows, energy 0..20."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 11, (n, 100), generator=g)
    x[:, 97] = torch.randint(0, 21, (n,), generator=g)
    return x


def make_checkpoint(tmp_path: Path, **config) -> Path:
    """A trained-looking checkpoint: random weights and random non-zero biases (init zeroes them)."""
    model = MLP(ModelConfig(**config))
    g = torch.Generator().manual_seed(1)
    model.reset_parameters(g)
    with torch.no_grad():
        for layer in model.layers:
            layer.bias.uniform_(-0.5, 0.5, generator=g)
    return save_checkpoint(tmp_path / "ckpt_epoch-0003", model.eval(), {"epoch": 3, "seed": 0})


def test_outputs_are_the_action_order():
    assert OUTPUTS == ("hop", "jump", "leap", "help")


@pytest.mark.parametrize(
    ("encoding", "activation", "hidden"),
    [("raw", "relu", (17, 17)), ("onehot", "relu", (9,)), ("recoded", "tanh", (6, 5, 4)), ("raw", "gelu", (7, 3))],
)
def test_to_torch_on_encoded_features_equals_the_checkpoints_model(tmp_path, encoding, activation, hidden):
    path = make_checkpoint(tmp_path, encoding=encoding, activation=activation, hidden=hidden)
    reference = load_checkpoint(path).model  # MLP.forward: encode, then the layers
    x = random_states()
    net = to_torch(path)
    kinds = [type(m) for m in net]
    act = type(reference.activation)
    assert kinds == [nn.Linear, act] * len(hidden) + [nn.Linear] and not net.training
    with torch.no_grad():
        expected = reference(x)
        assert torch.equal(net(encoder(path)(x)), expected)
        assert torch.equal(to_torch(path, with_encoder=True)(x), expected)
    assert net[0].in_features == {"raw": 100, "recoded": 100, "onehot": 385}[encoding]


def test_to_torch_copies_the_weights(tmp_path):
    checkpoint = load_checkpoint(make_checkpoint(tmp_path))
    net = to_torch(checkpoint)
    with torch.no_grad():
        net[0].weight.zero_()
    assert checkpoint.model.layers[0].weight.abs().sum() > 0


@pytest.mark.parametrize("encoding", ["raw", "onehot"])
def test_from_torch_inverts_to_torch(tmp_path, encoding):
    config = dict(hidden=(8, 5), dropout=0.0, encoding=encoding)
    original = load_checkpoint(make_checkpoint(tmp_path, **config)).model
    rebuilt = from_torch(to_torch(original), encoding=encoding)
    assert rebuilt.config == original.config and not rebuilt.training
    for key, value in original.state_dict().items():
        assert torch.equal(rebuilt.state_dict()[key], value), key
    assert from_torch(to_torch(original, with_encoder=True)).config.encoding == encoding  # read off the StateEncoder


def test_a_users_sequential_becomes_a_checkpoint_that_computes_the_same(tmp_path):
    torch.manual_seed(0)
    theirs = nn.Sequential(nn.Linear(100, 12), nn.ReLU(), nn.Dropout(0.25), nn.Linear(12, 4)).eval()
    mlp = from_torch(theirs)
    assert mlp.config == ModelConfig(hidden=(12,), dropout=0.25, activation="relu", encoding="raw")
    path = save_checkpoint(tmp_path / "theirs", mlp, {"source": "a user's model"})
    x = random_states()
    with torch.no_grad():
        assert torch.equal(load_checkpoint(path).model(x), theirs(x.float()))


def test_a_linear_without_bias_gets_zero_bias():
    theirs = nn.Sequential(nn.Linear(100, 3, bias=False), nn.ELU(), nn.Linear(3, 4))
    mlp = from_torch(theirs)
    assert torch.equal(mlp.layers[0].bias, torch.zeros(3)) and mlp.config.activation == "elu"


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ([nn.Linear(100, 4)], "at least one hidden layer"),
        (
            [nn.Linear(385, 8), nn.ReLU(), nn.Linear(8, 4)],
            "takes 385 features but encoding 'raw' gives 100; pass encoding='onehot'",
        ),
        (
            [nn.Linear(100, 8), nn.ReLU(), nn.Linear(8, 3)],
            "3 outputs; the game's models have 4 \\(hop, jump, leap, help\\)",
        ),
        ([nn.Linear(100, 8), nn.ReLU(), nn.Linear(8, 4), nn.ReLU()], "output layer must be linear"),
        ([nn.Linear(100, 8), nn.Linear(8, 4)], "hidden layer 0 has no activation"),
        (
            [nn.Linear(100, 8), nn.ReLU(), nn.Linear(8, 6), nn.Tanh(), nn.Linear(6, 4)],
            "different activations \\(relu, tanh\\)",
        ),
        ([nn.Linear(100, 8), nn.LeakyReLU(), nn.Linear(8, 4)], "module 1 \\(LeakyReLU"),
        ([nn.Linear(100, 8), nn.GELU(approximate="tanh"), nn.Linear(8, 4)], "module 1 \\(GELU"),
        ([nn.Linear(100, 8), nn.ReLU(), nn.Linear(9, 4)], "8 outputs feeds one of 9 inputs"),
    ],
)
def test_from_torch_names_what_does_not_fit(modules, message):
    with pytest.raises(ConfigError, match=message):
        from_torch(nn.Sequential(*modules))


def test_from_torch_rejects_other_modules_and_a_conflicting_encoding():
    with pytest.raises(ConfigError, match="nn.Sequential"):
        from_torch(nn.Linear(100, 4))
    with pytest.raises(ConfigError, match="disagrees with the Sequential's StateEncoder \\('onehot'\\)"):
        from_torch(nn.Sequential(StateEncoder("onehot"), nn.Linear(385, 4)), encoding="raw")
    with pytest.raises(ConfigError, match="got int"):
        to_torch(3)


def doc_recipe() -> str:
    """The first python block of the plain-PyTorch section of docs/training.md."""
    section = DOC.read_text(encoding="utf-8").split("## Checkpoints in plain PyTorch", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_plain_pytorch_recipe_in_the_docs_runs_and_matches_the_model(tmp_path):
    code = doc_recipe()
    assert len(code.strip().splitlines()) <= 13  # a recipe, not a module
    path = make_checkpoint(tmp_path, hidden=(6, 5), dropout=0.12)
    stem = str(path.with_suffix(""))
    code, n = re.subn(r'^stem = ".*?"', f"stem = {stem!r}", code, flags=re.M)
    assert n == 1
    scope: dict = {}
    exec(compile(code, str(DOC), "exec"), scope)  # noqa: S102 - the documented snippet, run as a user would
    assert scope["logits"].shape == (1, 4)
    x = random_states()
    with torch.no_grad():
        assert torch.equal(scope["net"](x.float()), load_checkpoint(path).model(x))
