"""Sweeps on worker processes of this machine (``--workers N``): same bytes as one process, live progress, resume."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.distributed.executors import LocalExecutor, ProcessExecutor, make_executor
from mirror_neurons.distributed.sweep import train_distributed
from mirror_neurons.errors import ConfigError, ExecutorError
from mirror_neurons.train.sweep import run_sweep

from . import ray_tasks


def files(run: Path) -> dict[str, bytes]:
    """Every checkpoint and state file of a run folder, by relative path."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted((run / "models").rglob("*")) if p.is_file()}


def test_tasks_run_in_other_processes_and_come_back_in_order():
    seen: list[int] = []
    with ProcessExecutor(workers=2) as ex:
        results = ex.map(ray_tasks.square_and_pid, [(x,) for x in range(6)], on_result=lambda i, r: seen.append(i))
    assert [r[0] for r in results] == [x * x for x in range(6)]
    assert os.getpid() not in {pid for _, pid in results}
    assert sorted(seen) == list(range(6))
    assert ex.parallelism == 2


def test_a_worker_that_dies_fails_the_map_with_a_one_line_error():
    with pytest.raises(ExecutorError, match="worker process died.*run the same command again to resume") as info:
        ProcessExecutor(workers=2).map(ray_tasks.exit_on_one, [(x,) for x in range(4)])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "workers", "kind"),
    [("local", 1, LocalExecutor), ("local", 2, ProcessExecutor), ("processes", 3, ProcessExecutor), ("local", None, LocalExecutor)],
)
def test_make_executor_picks_processes_for_more_than_one_worker(name, workers, kind):
    assert type(make_executor(name, workers=workers)) is kind


def test_negative_workers_are_refused():
    with pytest.raises(ConfigError, match="--workers must be >= 0"):
        ProcessExecutor(workers=-1)


def test_worker_processes_write_the_bytes_of_the_same_groups_in_one_process(small_data, sweep_spec, local_run, tmp_path):
    """``local_run``: the sweep in groups of two, one after another in this process."""
    out = tmp_path / "processes"
    run_sweep(sweep_spec, small_data, out, executor=ProcessExecutor(workers=2), group_size=2)
    assert files(out) == files(local_run)


def rewind(run: Path, epoch: int) -> None:
    """Put every model of a run back at the end of ``epoch`` (one of the last two), as a kill just after it would have."""
    for folder in (run / "models").iterdir():
        for path in folder.iterdir():
            tag = re.search(r"(?:^state-e|_epoch-)(\d{4})", path.name)  # state-e0003.* and <id>_epoch-0003_val-*
            if tag is not None and int(tag.group(1)) > epoch:
                path.unlink()
        (folder / "state.json").write_bytes((folder / f"state-e{epoch:04d}.meta.json").read_bytes())


def test_workers_get_one_group_each_by_default_and_a_resumed_run_keeps_its_groups(small_data, sweep_spec, tmp_path):
    dataset = load_dataset(small_data, splits=("train", "val"))
    ids, configs = zip(*sweep_spec.models())
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    train_distributed(ProcessExecutor(workers=2), configs, ids, dataset, reference)
    # 8 models on 2 workers: groups of at most 4 (here one per kind of stack)
    assert json.loads((reference / "run.json").read_text())["info"]["group_size"] == 4
    train_distributed(ProcessExecutor(workers=2), configs, ids, dataset, resumed)
    rewind(resumed, 3)
    assert files(resumed) != files(reference)
    with pytest.raises(ConfigError, match="was started with --group-size 4, not 2"):
        train_distributed(ProcessExecutor(workers=3), configs, ids, dataset, resumed, group_size=2)
    # on 3 workers the default would be groups of 3; the run keeps its groups of 4
    train_distributed(ProcessExecutor(workers=3), configs, ids, dataset, resumed)
    assert json.loads((resumed / "run.json").read_text())["info"]["group_size"] == 4
    assert files(resumed) == files(reference)


def test_a_run_started_in_groups_resumes_in_them_without_an_executor(small_data, sweep_spec, local_run, tmp_path):
    out = tmp_path / "run"
    run_sweep(sweep_spec, small_data, out, executor=LocalExecutor(), group_size=2)
    rewind(out, 3)
    assert files(out) != files(local_run)
    run_sweep(sweep_spec, small_data, out)  # no executor: must not regroup the models into one stack per kind
    assert files(out) == files(local_run)


def test_progress_arrives_while_workers_train_each_epoch_once(small_data, sweep_spec, tmp_path):
    events: list[dict] = []
    run_sweep(sweep_spec, small_data, tmp_path / "run", executor=ProcessExecutor(workers=2), group_size=2, progress=events.append)
    by_model: dict[str, list[int]] = {}
    for e in events:
        by_model.setdefault(e["model_id"], []).append(e["epoch"])
    expected = {mid: list(range(1, 5)) for mid, _ in sweep_spec.models()}  # max_epochs = 4, patience 50
    assert by_model == expected
    last = {e["model_id"]: e for e in events}
    assert {e["status"] for e in last.values()} == {"max_epochs"}
    assert all(e["status"] == "running" for e in events if e["epoch"] < 4)


def test_cli_sweep_on_two_workers(small_data, tmp_path):
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        '[sweep]\nname = "cli-workers"\nseed = 1\nreplicates = 2\n[limits]\nmax_epochs = 2\npatience = 5\n'
        '[defaults]\nbatch_size = 25\n[grid]\nhidden = [[6]]\nlr = [1e-3]\n'
    )
    out = tmp_path / "run"
    cmd = [str(Path(sys.executable).with_name("mirror-neurons")), "sweep", str(spec), "--data", str(small_data), "--out", str(out), "--workers", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sweep cli-workers: 2 models" in done.stdout
    assert json.loads((out / "run.json").read_text())["info"]["group_size"] == 1
    bad = subprocess.run([*cmd[:-1], "-1"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "--workers" in bad.stderr
