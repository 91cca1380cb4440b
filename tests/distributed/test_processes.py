"""Sweeps on worker processes of this machine (``--workers N``): same bytes as one process, live progress, resume."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from mirror_neurons.data.dataset import load_dataset
from mirror_neurons.distributed.executors import LocalExecutor, ProcessExecutor, executor_or_none, make_executor
from mirror_neurons import atomic
from mirror_neurons.train.groups import _EpochWatcher, train_distributed
from mirror_neurons.errors import ConfigError, ExecutorError
from mirror_neurons.train.sweep import run_sweep

from . import ray_tasks


def _refuse_or_sleep(x: int, marker_dir: str) -> int:
    if x == 0:
        time.sleep(1)  # let task 1 start first
        return ray_tasks.refuse(x, marker_dir)
    return ray_tasks.square_after(x, 60)


def files(run: Path) -> dict[str, bytes]:
    """Every checkpoint and state file of a run folder, by relative path."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted((run / "models").rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_tasks_run_in_other_processes_and_come_back_in_order():
    seen: list[int] = []
    with ProcessExecutor(workers=2) as ex:
        results = ex.map(ray_tasks.square_and_pid, [(x,) for x in range(6)], on_result=lambda i, r: seen.append(i))
    assert [r[0] for r in results] == [x * x for x in range(6)]
    assert os.getpid() not in {pid for _, pid in results}
    assert sorted(seen) == list(range(6))
    assert ex.parallelism == 2


@pytest.mark.slow
def test_a_failing_task_stops_the_other_workers_at_once(tmp_path):
    """Task 0 raises; task 1 would sleep a minute: the map must not wait for it."""
    start = time.monotonic()
    with pytest.raises(ConfigError, match="bad value 0"):
        ProcessExecutor(workers=2).map(_refuse_or_sleep, [(0, str(tmp_path)), (1, str(tmp_path))])
    assert time.monotonic() - start < 30


@pytest.mark.slow
def test_a_worker_that_dies_fails_the_map_with_a_one_line_error():
    with pytest.raises(ExecutorError, match="worker process died.*run the same command again to resume") as info:
        ProcessExecutor(workers=2).map(ray_tasks.exit_on_one, [(x,) for x in range(4)])
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "workers", "kind"),
    [
        ("local", 1, LocalExecutor),
        ("local", 2, ProcessExecutor),
        ("processes", 3, ProcessExecutor),
        ("local", None, LocalExecutor),
    ],
)
def test_make_executor_picks_processes_for_more_than_one_worker(name, workers, kind):
    assert type(make_executor(name, workers=workers)) is kind


@pytest.mark.parametrize(
    ("name", "options", "kind"),
    [
        ("local", {}, type(None)),
        ("local", {"workers": 1}, type(None)),
        ("local", {"workers": None}, type(None)),
        ("local", {"workers": 1, "group_size": 2}, LocalExecutor),
        ("local", {"workers": 2}, ProcessExecutor),
        ("processes", {"workers": 2}, ProcessExecutor),
    ],
)
def test_executor_or_none_is_none_only_for_in_process_work(name, options, kind):
    with executor_or_none(name, **options) as ex:
        assert type(ex) is kind


def test_executor_or_none_refuses_an_address_without_ray():
    with pytest.raises(ConfigError, match="needs --executor ray"), executor_or_none("local", address="h:1"):
        pass


def test_negative_workers_are_refused():
    with pytest.raises(ConfigError, match="--workers must be >= 0"):
        ProcessExecutor(workers=-1)


def test_worker_processes_write_the_bytes_of_the_same_groups_in_one_process(
    small_data, sweep_spec, local_run, tmp_path
):
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


MIXED = """
[sweep]
name = "mixed-widths"
seed = 5
replicates = 2

[limits]
max_epochs = 4
patience = 50

[defaults]
dropout = 0.1
batch_size = 25

[grid]
hidden = [[8], [5]]
lr = [1e-3, 3e-3]
"""
"""8 one-layer models, 8 and 5 units: one kind of stack. In one group the 5-unit models are
padded to 8 units; in groups of 4 (models 0-3 with 8 units, 4-7 with 5) they are not, which
changes their rounding: so the files tell which groups a run used."""


@pytest.fixture(scope="module")
def mixed(small_data, tmp_path_factory):
    """(spec, dataset, reference runs): one group per kind of stack, and groups of 4, each uninterrupted."""
    from mirror_neurons.train.sweep import load_sweep

    root = tmp_path_factory.mktemp("mixed")
    (root / "sweep.toml").write_text(MIXED)
    spec = load_sweep(root / "sweep.toml")
    runs = {None: root / "one-group", 4: root / "groups-of-4"}
    run_sweep(spec, small_data, runs[None])
    run_sweep(spec, small_data, runs[4], executor=LocalExecutor(), group_size=4)
    return spec, load_dataset(small_data, splits=("train", "val")), runs


def test_the_groups_show_in_the_files(mixed):
    _, _, runs = mixed
    assert files(runs[None]).keys() == files(runs[4]).keys()
    assert files(runs[None]) != files(runs[4])


def test_workers_get_one_group_each_by_default_and_a_resumed_run_keeps_its_groups(mixed, tmp_path):
    spec, dataset, runs = mixed
    ids, configs = zip(*spec.models())
    out = tmp_path / "run"
    train_distributed(ProcessExecutor(workers=2), configs, ids, dataset, out)  # 8 models, 2 workers: groups of 4
    assert json.loads((out / "run.json").read_text())["info"]["group_size"] == 4
    assert files(out) == files(runs[4])
    rewind(out, 3)
    assert files(out) != files(runs[4])
    with pytest.raises(ConfigError, match="was started with --group-size 4, not --group-size 2"):
        train_distributed(ProcessExecutor(workers=3), configs, ids, dataset, out, group_size=2)
    train_distributed(ProcessExecutor(workers=3), configs, ids, dataset, out)  # 3 workers alone would make groups of 3
    assert files(out) == files(runs[4])


def test_a_run_started_in_one_process_resumes_in_one_group_on_workers(mixed, small_data, tmp_path):
    spec, _, runs = mixed
    out = tmp_path / "run"
    run_sweep(spec, small_data, out)
    rewind(out, 3)
    with pytest.raises(ConfigError, match=r"one group per kind of stack \(--group-size 0\), not --group-size 4"):
        run_sweep(spec, small_data, out, executor=ProcessExecutor(workers=2), group_size=4)
    run_sweep(spec, small_data, out, executor=ProcessExecutor(workers=2))
    assert files(out) == files(runs[None])


def test_a_run_started_in_groups_resumes_in_them_without_an_executor(mixed, small_data, tmp_path):
    spec, _, runs = mixed
    out = tmp_path / "run"
    run_sweep(spec, small_data, out, executor=LocalExecutor(), group_size=4)
    rewind(out, 3)
    run_sweep(spec, small_data, out)  # no executor: must not regroup the models into one stack
    assert files(out) == files(runs[4])


def test_the_progress_of_a_sweep_on_workers_has_every_epoch_once(small_data, sweep_spec, tmp_path):
    events: list[dict] = []
    counts: list[tuple[int, int]] = []
    run_sweep(
        sweep_spec,
        small_data,
        tmp_path / "run",
        executor=ProcessExecutor(workers=2),
        group_size=2,
        on_epoch=events.append,
        progress=lambda done, total, note="": counts.append((done, total)),
    )
    n = 4 * len(sweep_spec.models())  # every model runs its 4 epochs
    assert counts == [(done, n) for done in range(n + 1)]  # progress(done, total, note): one call per model-epoch
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
        "[defaults]\nbatch_size = 25\n[grid]\nhidden = [[6]]\nlr = [1e-3]\n"
    )
    out = tmp_path / "run"
    cmd = [
        str(Path(sys.executable).with_name("mirror-neurons")),
        "sweep",
        str(spec),
        "--data",
        str(small_data),
        "--out",
        str(out),
        "--workers",
        "2",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "sweep cli-workers: 2 models" in done.stdout
    assert json.loads((out / "run.json").read_text())["info"]["group_size"] == 1
    bad = subprocess.run([*cmd[:-1], "-1"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2
    assert "--workers" in bad.stderr


def test_the_watcher_sends_each_epoch_once_from_the_state_files_as_they_change(tmp_path):
    folder = tmp_path / "models" / "m0"
    folder.mkdir(parents=True)

    def save(epochs: int, status: str = "running") -> list[dict]:
        history = [{"epoch": e, "val_loss": 1.0 / e, "is_best": True} for e in range(1, epochs + 1)]
        atomic.write_json(folder / "state.json", {"history": history, "status": status, "reason": ""})
        return history

    save(1)  # on disk before the watcher starts (a resumed run): not sent again
    events, threads = [], []

    def progress(event: dict) -> None:
        events.append(event)
        threads.append(threading.current_thread().name)

    with _EpochWatcher(tmp_path, ["m0"], progress, interval=0.02) as watcher:
        save(3)
        deadline = time.monotonic() + 20
        while len(events) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [e["epoch"] for e in events] == [2, 3]
        assert set(threads) == {"epoch-watcher"}  # sent while the task runs, not at its end
        history = save(4, "max_epochs")
        watcher.finish([SimpleNamespace(model_id="m0", history=history, status="max_epochs", reason="done")])
    assert [e["epoch"] for e in events] == [2, 3, 4]  # epoch 4 once, whether the poll or the task's end sent it
    assert [e["status"] for e in events] == ["running", "running", "max_epochs"]
    assert [e["best_val_loss"] for e in events] == [0.5, 1 / 3, 0.25]
