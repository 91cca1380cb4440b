"""Workers die with their driver, and one folder has one writer (issue 14, item 2).

kill -9 of a multi-process command must leave no process of it alive after
5 s (orphans kept training into the run folder), and the folder's lock must be
released by the kernel so the next run is not refused.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mirror_neurons import atomic
from mirror_neurons.cli import app
from mirror_neurons.errors import BusyError

CLI = [str(Path(sys.executable).parent / "mirror-neurons")]
SWEEP = """
[sweep]
name = "k"
[limits]
max_epochs = 500
patience = 500
[grid]
hidden = [[8], [6, 6]]
lr = [1e-3, 2e-3]
"""


def group(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process in process group ``pgid`` (zombies included: state Z)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, ...
        if int(fields[2]) == pgid:
            out.append((int(stat.parent.name), fields[0]))
    return out


def alive(pgid: int) -> list[int]:
    return [pid for pid, state in group(pgid) if state != "Z"]


def kill_when_workers_run(
    cmd: list[str], cwd: Path, n_procs: int, ready: Callable[[], bool] | None = None, timeout: float = 120
) -> None:
    """Start ``cmd`` in its own process group, kill -9 its driver once ``n_procs`` processes run
    (and ``ready()``: the workers are at work), then require that none is left after 5 s."""
    proc = subprocess.Popen(cmd, cwd=cwd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while len(alive(proc.pid)) < n_procs or (ready is not None and not ready()):
            assert proc.poll() is None, f"ended before its workers started: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, f"workers never started: {group(proc.pid)}"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(5)
        assert alive(proc.pid) == [], f"orphans of {cmd[1]}: {group(proc.pid)}"
    finally:
        for pid in alive(proc.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def small_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("orphans") / "data"
    result = CliRunner().invoke(
        app, ["data", "--states", "12000", "--workers", "1", "--out", str(out)]
    )  # the analysis needs its groups
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def many_checkpoints(small_data, tmp_path_factory):
    """A one-epoch run whose checkpoint is copied 200 times: enough to keep two workers busy for a while.

    Built once; each test analyses its own copy (``copy_run``), since an analysis writes into the folder."""
    run = tmp_path_factory.mktemp("checkpoints") / "run"
    result = CliRunner().invoke(
        app, ["train", "--data", str(small_data), "--out", str(run), "--hidden", "4", "--max-epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    json_path = sorted(run.glob("models/*/*_epoch-*.json"))[-1]
    for i in range(200):
        (run / "models" / f"copy{i:03d}").mkdir()
        for suffix in (".safetensors", ".json"):
            shutil.copy(json_path.with_suffix(suffix), run / "models" / f"copy{i:03d}")
    return run


def copy_run(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "run"))


def analyze(run: Path, data: Path) -> list[str]:
    """The analysis command on two workers, with the controls off and short behaviour games."""
    return [
        *CLI,
        "analyze",
        str(run),
        "--data",
        str(data),
        "--workers",
        "2",
        "--no-controls",
        "--games",
        "2",
        "--turns",
        "4",
    ]


@pytest.mark.slow
def test_kill_9_of_sweep_with_workers_leaves_no_process(small_data, tmp_path):
    (tmp_path / "s.toml").write_text(SWEEP)
    models = tmp_path / "run" / "models"
    cmd = [*CLI, "sweep", "s.toml", "--data", str(small_data), "--out", "run", "--workers", "2"]
    # driver, resource tracker, fork server and two workers; a state file: they train
    kill_when_workers_run(cmd, tmp_path, 5, ready=models.exists)
    before = sorted(models.rglob("state-e*"))
    time.sleep(2)
    assert sorted(models.rglob("state-e*")) == before  # nobody writes into the folder any more
    with atomic.folder_lock(tmp_path / "run"):  # the kernel released the killed driver's lock
        pass


@pytest.mark.slow
def test_kill_9_of_data_with_workers_leaves_no_process(tmp_path):
    cmd = [*CLI, "data", "--states", "300000", "--workers", "2", "--out", "d"]
    kill_when_workers_run(cmd, tmp_path, 3)  # driver and two workers playing games
    assert not (tmp_path / "d").exists()


@pytest.mark.slow
def test_kill_9_of_analyze_with_workers_leaves_no_process(small_data, many_checkpoints, tmp_path):
    run = copy_run(many_checkpoints, tmp_path)
    cmd = analyze(run, small_data)
    # driver, resource tracker and two workers, past their start: a part file of results is written
    kill_when_workers_run(
        cmd, tmp_path, 4, ready=lambda: any((run / "analysis" / "parts").glob("*.checkpoints.parquet"))
    )


@pytest.mark.slow
def test_kill_9_of_analyze_while_its_workers_start_leaves_no_process(small_data, many_checkpoints, tmp_path):
    """Killed as soon as its workers exist, before they have imported torch: they must not live on
    until their imports end (executors.boot_worker arms their death first)."""
    cmd = analyze(copy_run(many_checkpoints, tmp_path), small_data)
    kill_when_workers_run(cmd, tmp_path, 4)  # driver, resource tracker and two workers, just started


def test_a_second_writer_is_refused_and_a_dead_holders_lock_is_free(tmp_path):
    folder = tmp_path / "run"
    holder = textwrap.dedent(
        f"""
        import os, signal, sys, time
        from mirror_neurons import atomic
        with atomic.folder_lock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(
            BusyError, match=rf"{folder} is being written by another mirror-neurons process \(pid {proc.pid}\)"
        ):
            with atomic.folder_lock(folder):
                pass
    finally:
        proc.kill()
        proc.wait()
    with atomic.folder_lock(folder):  # the kernel released the dead holder's lock
        assert (tmp_path / ".run.lock").exists()
    assert not (tmp_path / ".run.lock").exists() and not folder.exists()
