"""Sweep files: a value of the wrong TOML type is refused, never coerced (issue 14, item 4)."""

from __future__ import annotations

import pytest

from mirror_neurons.errors import ConfigError
from mirror_neurons.train.sweep import load_sweep, parse_sweep

GRID = {"grid": {"hidden": [[4]], "lr": [1e-3]}}


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"seed": 1.5}, r"seed = 1.5 must be an integer"),
        ({"name": {"a": 1}}, r"name = \{'a': 1\} must be a string"),
        ({"description": 3}, r"description = 3 must be a string"),
        ({"dataset": 5}, r"dataset = 5 must be a string"),
        ({"replicates": True}, r"replicates = True is out of range"),
    ],
)
def test_sweep_table_values_of_the_wrong_type(sweep, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep({"sweep": sweep, **GRID})


@pytest.mark.parametrize("key", ["activation", "loss"])
@pytest.mark.parametrize("value", [[1], {"a": 1}, 3])
def test_names_of_the_wrong_type(key, value):
    with pytest.raises(ConfigError, match=f"{key} = .* must be a name in quotes"):
        parse_sweep({"defaults": {key: value}, **GRID})


def test_integral_seed_is_kept():
    assert parse_sweep({"sweep": {"seed": 7}, **GRID}).seed == 7


def test_sweep_file_that_is_not_utf8(tmp_path):
    path = tmp_path / "s.toml"
    path.write_bytes(b'[sweep]\nname = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="is not UTF-8 text .*save the sweep file as UTF-8"):
        load_sweep(path)
