"""Sizes that cannot fit are refused before any work, with the estimate in the message (issue 14, item 5)."""

from __future__ import annotations

import time

from typer.testing import CliRunner

from mirror_neurons import limits
from mirror_neurons.cli import app
from mirror_neurons.data import build
from mirror_neurons.data.config import DataConfig

runner = CliRunner()


def test_states_beyond_memory_are_refused_at_once(tmp_path):
    start = time.perf_counter()
    result = runner.invoke(app, ["data", "--states", "99999999999999", "--workers", "1", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert (
        "--states 99,999,999,999,999 needs about 40000.0 TB of memory" in result.stderr
        and "fewer --states" in result.stderr
    )
    assert time.perf_counter() - start < 10 and not (tmp_path / "d").exists()


def test_states_beyond_free_disk_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(limits, "free_disk", lambda path: 1000)
    result = runner.invoke(app, ["data", "--states", "3000", "--workers", "1", "--out", str(tmp_path / "d")])
    assert result.exit_code == 2 and "of disk" in result.output and "1.0 kB is free" in result.stderr, result.output
    assert not (tmp_path / "d").exists()


def test_workers_are_capped_at_the_cores(tmp_path, monkeypatch):
    asked = []

    def fake_rows(config, *, workers, **kw):
        asked.append(workers)
        raise KeyboardInterrupt  # stop before any game is played

    monkeypatch.setattr(build, "build_rows", fake_rows)
    try:
        build.build_dataset(DataConfig.preset("demo", n_states=3000), tmp_path / "d", workers=1000)
    except KeyboardInterrupt:
        pass
    assert asked == [limits.cores()]


def test_seed_beyond_64_bits_is_refused():
    import pytest

    from mirror_neurons.errors import ConfigError

    with pytest.raises(ConfigError, match=r"seed must be an integer in 0..2\*\*64-1, got 18446744073709551616"):
        DataConfig.preset("demo", seed=2**64)
    with pytest.raises(ConfigError, match=r"--seed -1 is out of range; seeds are integers in 0..2\*\*64-1"):
        limits.check_seed(-1)
    assert DataConfig.preset("demo", seed=2**64 - 1).seed == limits.check_seed(2**64 - 1)
