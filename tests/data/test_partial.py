"""A killed data run leaves a hidden .NAME.*.partial folder; the next run on that --out removes it (issue 14, minor)."""

from __future__ import annotations

import pytest

from mirror_neurons import atomic
from mirror_neurons.data import build
from mirror_neurons.data.config import DataConfig
from mirror_neurons.errors import BusyError

CONFIG = DataConfig.preset("demo", n_states=3000)


def stop(*a, **k):
    raise KeyboardInterrupt  # stop before any game is played


def test_partial_folders_of_a_killed_run_are_removed(tmp_path, monkeypatch):
    stale = tmp_path / ".d.k3j9x.partial"
    (stale / "sub").mkdir(parents=True)
    other = tmp_path / ".e.k3j9x.partial"  # another folder's: not ours to touch
    other.mkdir()
    monkeypatch.setattr(build, "build_rows", stop)
    with pytest.raises(KeyboardInterrupt):
        build.build_dataset(CONFIG, tmp_path / "d")
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".e.k3j9x.partial"]  # and no lock file left


def test_a_folder_being_written_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(build, "build_rows", stop)
    with atomic.folder_lock(tmp_path / "d"), pytest.raises(BusyError, match="is being written by another"):
        build.build_dataset(CONFIG, tmp_path / "d")
