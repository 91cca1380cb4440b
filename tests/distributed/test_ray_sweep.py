"""A sweep on a real local Ray cluster: the local executor's bytes, through worker and driver kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from mirror_neurons.distributed.executors import RayExecutor
from mirror_neurons.train.groups import plan_groups
from mirror_neurons.train.sweep import run_sweep

from . import ray_tasks


def test_groups_share_a_stack_keep_sweep_order_and_are_balanced(sweep_spec):
    configs = [c for _, c in sweep_spec.models()]
    # models 0-3 have one hidden layer, 4-7 two (grid order: hidden, then lr, then replicate)
    assert [len(c.model.hidden) for c in configs] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert plan_groups(configs, None) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert plan_groups(configs, 2) == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert plan_groups(configs, 3) == [[0, 1], [2, 3], [4, 5], [6, 7]]  # 4 models in <= 3s: 2 + 2, not 3 + 1
    assert plan_groups(configs, 1) == [[i] for i in range(8)]


def test_grouping_changes_no_result_beyond_float_tolerance(small_data, sweep_spec, local_run, tmp_path):
    """Groups of two (as on Ray) against all models in one process (``train_many``)."""
    whole = tmp_path / "whole"
    run_sweep(sweep_spec, small_data, whole)
    grouped = sorted(p.relative_to(local_run) for p in (local_run / "models").rglob("*_epoch-*.safetensors"))
    together = sorted(p.relative_to(whole) for p in (whole / "models").rglob("*_epoch-*.safetensors"))
    assert [p.parent for p in grouped] == [p.parent for p in together]
    for a, b in zip(grouped, together, strict=True):
        wa, wb = load_file(local_run / a), load_file(whole / b)
        assert wa.keys() == wb.keys()
        for k in wa:
            np.testing.assert_allclose(wa[k], wb[k], rtol=0, atol=1e-5, err_msg=f"{a} {k}")


class MarkingRayExecutor(RayExecutor):
    """Ray, with each task leaving a file named after its worker's pid in its group's folder."""

    def __init__(self, marker_dir: Path, **kw):
        super().__init__(**kw)
        self.marker_dir = marker_dir

    def map(self, fn, args, **kw):
        wrapped = [(str(self.marker_dir / a[2][0]), fn, *a) for a in args]  # a[2]: the group's model ids
        return super().map(ray_tasks.marked, wrapped, **kw)


def test_a_worker_killed_mid_sweep_is_retried_and_nothing_is_lost_or_duplicated(
    ray_cluster, small_data, sweep_spec, local_run, tmp_path
):
    out, markers = tmp_path / "ray", tmp_path / "markers"
    first_model = sweep_spec.models()[0][0]
    victim: list[int] = []

    def kill_after_first_epoch():
        # once the first group's first model has saved an epoch, kill the worker training it
        deadline = time.monotonic() + 60
        while not (out / "models" / first_model / "state.json").exists():
            assert time.monotonic() < deadline, "the first group never saved an epoch"
            time.sleep(0.01)
        (pid_file,) = (markers / first_model).iterdir()
        victim.append(int(pid_file.name.split(".")[0]))
        os.kill(victim[0], signal.SIGKILL)

    killer = threading.Thread(target=kill_after_first_epoch)
    killer.start()
    try:
        run_sweep(sweep_spec, small_data, out, executor=MarkingRayExecutor(markers, max_retries=2), group_size=2)
    finally:
        killer.join(timeout=70)
    assert victim, "no worker was killed"
    attempts = sorted(int(p.name.split(".")[0]) for p in (markers / first_model).iterdir())
    assert len(attempts) == 2 and victim[0] in attempts  # the killed attempt and its retry
    assert all(len(list(d.iterdir())) == 1 for d in markers.iterdir() if d.name != first_model)
    assert ray_tasks.run_files(out) == ray_tasks.run_files(local_run)
    for model_id, _ in sweep_spec.models():
        history = json.loads((out / "models" / model_id / "state.json").read_text())["history"]
        assert [row["epoch"] for row in history] == [1, 2, 3, 4]


DRIVER = """
import sys
from mirror_neurons.distributed.executors import RayExecutor
from mirror_neurons.train.sweep import load_sweep, run_sweep
spec, data, out, address = sys.argv[1:]
run_sweep(load_sweep(spec), data, out, executor=RayExecutor(address=address), group_size=2)
"""


def test_a_killed_driver_restarted_resumes_to_the_same_bytes(ray_cluster, small_data, sweep_spec, local_run, tmp_path):
    out = tmp_path / "ray"
    cmd = [sys.executable, "-c", DRIVER, sweep_spec.source, str(small_data), str(out), ray_cluster]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not any((out / "models").glob("*/state.json")):
            assert first.poll() is None, "the driver ended before any model saved an epoch"
            assert time.monotonic() < deadline, "no model saved an epoch within 60 s"
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    assert not (out / "summary.json").exists()  # killed mid-sweep
    subprocess.run(cmd, check=True, timeout=120, capture_output=True)
    assert ray_tasks.run_files(out) == ray_tasks.run_files(local_run)
    for model_id, _ in sweep_spec.models():
        history = json.loads((out / "models" / model_id / "state.json").read_text())["history"]
        assert [row["epoch"] for row in history] == [1, 2, 3, 4]
