"""Input encodings (train/encoding.py) read against the state layout, cell by cell."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mirror_neurons.errors import ConfigError
from mirror_neurons.train.encoding import _onehot_indicators, get_encoding
from mirror_neurons.train.model import MLP, ModelConfig


def board() -> torch.Tensor:
    """One state: solid ground with rough at cell 5, Frog in distress at 5, Toad at 9, flies at 0 and 31, energy 10."""
    x = torch.zeros(1, 100, dtype=torch.uint8)
    x[0, 0:32] = 1
    x[0, 5] = 2
    x[0, 32 + 5] = 9
    x[0, 32 + 9] = 5
    x[0, 64 + 0] = 3
    x[0, 64 + 31] = 3
    x[0, 97] = 10
    return x


def test_onehot_names_and_values_follow_the_board():
    enc = get_encoding("onehot")
    assert enc.width == 32 * (2 + 8 + 2) + 1 == len(enc.feature_names)
    f = dict(zip(enc.feature_names, enc.encode(board())[0].tolist()))
    assert f["ground[5] = rough"] == 1 and f["ground[5] = solid"] == 0
    assert f["ground[4] = solid"] == 1 and f["ground[4] = rough"] == 0
    assert f["players[5] = distress"] == 1 and f["players[5] = empty"] == 0
    assert f["players[9] = toad"] == 1 and f["players[10] = empty"] == 1
    assert f["flies[0] = fly"] == 1 and f["flies[31] = fly"] == 1 and f["flies[1] = empty"] == 1
    assert f["energy / 20"] == 0.5
    # every cell of a valid board holds exactly one symbol of its row
    assert sum(f.values()) == 32 * 3 + 0.5


@pytest.mark.slow
def test_onehot_of_float_and_uint8_states_agree():
    """The model encodes float states, the trainer uint8 ones: the same features either way."""
    enc = get_encoding("onehot")
    x = board()
    stored = enc.stored(x).float()
    stored[:, enc.scaled] *= torch.tensor(enc.scale)
    torch.testing.assert_close(enc.encode(x.float()), stored, rtol=0, atol=0)


def test_recoded_moves_distress_and_rough_below_the_other_codes():
    x = board()
    r = get_encoding("recoded").encode(x)[0]
    assert r[5] == 1 and r[4] == 2  # rough 2 -> 1, solid 1 -> 2
    assert r[32 + 5] == 1 and r[32 + 9] == 5  # distress 9 -> 1, Toad stays 5
    assert r[64] == 3 and r[97] == 10  # flies and energy untouched


def test_raw_is_the_state_itself():
    x = board().float()
    assert get_encoding("raw").encode(x) is x
    assert get_encoding("raw").feature_names[37] == "players[5]"


def test_model_takes_raw_states_whatever_its_encoding():
    model = MLP(ModelConfig(hidden=(7,), encoding="onehot")).eval()
    assert model.layers[0].in_features == 385
    x = board().float()
    with torch.no_grad():
        direct = model.layers[1](torch.relu(model.layers[0](get_encoding("onehot").encode(x))))
        torch.testing.assert_close(model(x), direct)


@pytest.mark.parametrize("bad", ["one-hot", "", None, 3])
def test_unknown_encoding_is_refused_with_the_choices(bad):
    with pytest.raises(ConfigError, match="choose one of raw, onehot, recoded"):
        ModelConfig(encoding=bad)
    with pytest.raises(ConfigError, match="choose one of raw, onehot, recoded"):
        get_encoding(bad)


def test_old_checkpoint_metadata_without_encoding_is_raw():
    d = ModelConfig(hidden=(5,)).to_dict()
    del d["encoding"]
    assert ModelConfig.from_dict(d).encoding == "raw"


def test_onehot_feature_names_are_unique():
    names = get_encoding("onehot").feature_names
    assert len(set(names)) == len(names)
    assert np.all([" = " in n for n in names[:-1]])


def _onehot_by_names(x: torch.Tensor) -> torch.Tensor:
    """The onehot features read off the feature names, one cell and symbol at a time: the independent reference."""
    from mirror_neurons.game.constants import Symbol

    starts = {"ground": 0, "players": 32, "flies": 64}
    enc = get_encoding("onehot")
    out = torch.zeros((len(x), enc.width), dtype=torch.float64)
    for j, name in enumerate(enc.feature_names[:-1]):  # "players[5] = toad-distress"
        cell, symbol = name.split(" = ")
        row, index = cell[:-1].split("[")
        code = int(Symbol[symbol.upper().replace("-", "_")])
        out[:, j] = (x[:, starts[row] + int(index)].double() == code).double()
    out[:, -1] = x[:, 97].double() / 20
    return out


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int64, torch.float32, torch.float64])
def test_onehot_lookup_equals_the_names_cell_by_cell(dtype):
    """Real states take the table lookup; codes a row cannot hold, or non-integers, take the comparisons;
    both must give, for every feature, exactly 'this cell holds this symbol'."""
    from mirror_neurons.game.vector_env import FrogAndToadVectorEnv

    env = FrogAndToadVectorEnv(64, partner="random", reward="shared", max_turns=40)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    states = [obs]
    for _ in range(20):
        obs, *_ = env.step(rng.integers(0, 4, 64))
        states.append(obs)
    real = torch.from_numpy(np.concatenate(states)).to(dtype)
    odd = real[:8].clone()
    odd[:, 3] = 7  # a players' code on the ground row: no indicator for that cell
    if dtype.is_floating_point:
        odd[0, 40] = 2.5
    enc = get_encoding("onehot")
    assert _onehot_indicators(real, enc.width, torch.float32) is not None  # real states do take the lookup
    assert _onehot_indicators(odd, enc.width, torch.float32) is None
    strided = real.t().contiguous().t()  # the same states in column-major memory
    for x in (real, odd, strided, real[:0]):
        expected = _onehot_by_names(x)
        encoded = enc.encode(x).double()
        assert torch.equal(encoded[:, :-1], expected[:, :-1])
        torch.testing.assert_close(encoded[:, -1], expected[:, -1], rtol=1e-7, atol=0)  # energy / 20 in float32
        stored = enc.stored(x)
        assert stored.dtype == dtype and torch.equal(stored[:, :-1].double(), expected[:, :-1])
    assert enc.encode(odd)[:, 3 * 2 : 3 * 2 + 2].sum() == 0  # ground[3]: neither solid nor rough
