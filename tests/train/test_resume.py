"""A sweep killed with SIGKILL and started again ends exactly like an uninterrupted one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror_neurons.train.sweep import load_sweep, run_sweep

SWEEP = """
[sweep]
name = "resume-test"
seed = 11
replicates = 2

[limits]
max_epochs = 6
patience = 3

[defaults]
dropout = 0.12

[[configs]]
hidden = [17, 17]
lr = 3e-3
batch_size = 25

[[configs]]
hidden = [6, 12]
lr = 1e-2
batch_size = 25

[[configs]]
hidden = [9]
lr = 5e-3
batch_size = 20
loss = "mse"
"""

CLI = [sys.executable, "-c", "from mirror_neurons.cli import app; app()"]


def snapshot(run: Path) -> dict[str, bytes]:
    """Every checkpoint file and every model's history, by path relative to the run."""
    files = {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*_epoch-*")}
    for state in run.rglob("state.json"):
        s = json.loads(state.read_text())
        files[str(state.relative_to(run))] = json.dumps([s["history"], s["status"], s["checkpoints"]]).encode()
    return files


def epochs_done(run: Path) -> int:
    total = 0
    for state in run.rglob("state.json"):
        try:
            total += json.loads(state.read_text())["epoch"]
        except (json.JSONDecodeError, KeyError):
            pass
    return total


@pytest.mark.slow
def test_sigkill_then_rerun_gives_the_uninterrupted_checkpoints(tmp_path, dataset_factory):
    data = tmp_path / "data"
    dataset_factory(data, seed=5, n_train=4000, n_val=400)
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(SWEEP)

    reference = tmp_path / "reference"
    run_sweep(load_sweep(spec_file), data, reference)
    expected = snapshot(reference)
    assert sum(1 for k in expected if k.endswith(".safetensors")) >= 6

    run = tmp_path / "killed"
    command = [*CLI, "sweep", str(spec_file), "--data", str(data), "--out", str(run)]
    # kill twice at different points: once early in the first stack, once later
    for threshold in (2, 9):
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while epochs_done(run) < threshold and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read().decode()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
    assert snapshot(run) != expected  # really interrupted

    finished = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert finished.returncode == 0, finished.stderr
    got = snapshot(run)
    assert sorted(got) == sorted(expected)  # no checkpoint lost, none extra
    for name, blob in expected.items():
        assert got[name] == blob, name
    assert not list(run.rglob("*.tmp"))
    assert len(list(run.rglob("state.json"))) == 6


@pytest.mark.slow
def test_models_left_an_epoch_apart_are_realigned(tmp_path, tiny_dataset):
    """A kill between two models' state writes: the one ahead steps back, and the run ends as if never killed."""
    # shortened; c000 and c001 share a stack (2 layers, batch 25)
    text = SWEEP.replace("max_epochs = 6", "max_epochs = 4").replace("replicates = 2", "replicates = 1")
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(text)
    spec = load_sweep(spec_file)
    run_sweep(spec, tiny_dataset.path, tmp_path / "reference")
    expected = snapshot(tmp_path / "reference")

    run = tmp_path / "run"
    run_sweep(spec, tiny_dataset.path, run)
    behind = run / "models" / "c001r0_h6x12_d0p12_lr0p01_b25"  # shares a stack with c000r0 (2 layers, batch 25)
    (behind / "state.json").write_bytes((behind / "state-e0003.meta.json").read_bytes())
    for late in behind.glob("*epoch-0004*"):
        late.unlink()
    assert snapshot(run) != expected
    run_sweep(spec, tiny_dataset.path, run)
    assert snapshot(run) == expected
