"""The executor abstraction: local and Ray run the same tasks to the same results.

The Ray tests use a real local cluster (two worker processes on loopback).
"""

from __future__ import annotations

import sys
import threading

import pytest

from mirror_neurons.distributed.executors import LocalExecutor, RayExecutor, Resources, local_path, make_executor
from mirror_neurons.errors import ConfigError, OptionalDependencyError

from . import ray_tasks


def test_local_runs_in_order_in_this_process():
    seen = []
    with make_executor("local") as ex:
        results = ex.map(ray_tasks.square, [(3,), (1,), (2,)], on_result=lambda i, r: seen.append((i, r)))
    assert results == [9, 1, 4]
    assert seen == [(0, 9), (1, 1), (2, 4)]
    assert [t.index for t in ex.timings] == [0, 1, 2]


def test_ray_returns_results_in_input_order_though_they_finish_out_of_order(ray_cluster):
    # Task 0 sleeps longest, so it finishes last; results still follow the input.
    args = [(0, 1.0), (1, 0.0), (2, 0.0), (3, 0.0)]
    seen = []
    with RayExecutor() as ex:
        results = ex.map(ray_tasks.square_after, args, on_result=lambda i, r: seen.append(i))
    assert results == [0, 1, 4, 9]
    assert sorted(seen) == [0, 1, 2, 3]
    assert seen[-1] == 0


def test_ray_and_local_agree(ray_cluster):
    args = [(i,) for i in range(10)]
    assert RayExecutor().map(ray_tasks.square, args) == LocalExecutor().map(ray_tasks.square, args)


def test_a_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_repeated(ray_cluster, tmp_path):
    killer = threading.Thread(target=lambda: killed.append(ray_tasks.kill_when_marked(tmp_path / "victim")))
    killed: list[int] = []
    killer.start()
    try:
        results = RayExecutor(max_retries=2).map(
            ray_tasks.square_once_killed, [(i, str(tmp_path)) for i in range(4)], resources=Resources(num_cpus=1)
        )
    finally:
        killer.join(timeout=70)
    assert [r for r, _ in results] == [0, 1, 4, 9]
    assert len(killed) == 1
    attempts = {i: sorted(p.name.split(".")[1] for p in tmp_path.glob(f"{i}.*")) for i in range(4)}
    # Task 0 ran twice: once in the killed worker, then again in a live one; the others once each.
    assert len(attempts[0]) == 2 and str(killed[0]) in attempts[0]
    assert results[0][1] != killed[0]
    assert all(len(attempts[i]) == 1 for i in (1, 2, 3))


def test_an_error_raised_by_a_task_is_not_retried_and_keeps_its_type(ray_cluster, tmp_path):
    with pytest.raises(ConfigError, match="bad value 5"):
        RayExecutor(max_retries=3).map(ray_tasks.refuse, [(5, str(tmp_path))])
    assert len(list(tmp_path.glob("5.*"))) == 1


def test_ray_missing_gives_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError
    with pytest.raises(OptionalDependencyError, match=r"pip install 'mirror-neurons\[ray\]'"):
        make_executor("ray")


@pytest.mark.parametrize(
    ("name", "address", "match"),
    [("dask", None, "unknown executor 'dask'"), ("local", "auto", "needs --executor ray")],
)
def test_bad_executor_options_are_named(name, address, match):
    with pytest.raises(ConfigError, match=match):
        make_executor(name, address=address)


@pytest.mark.parametrize(
    ("address", "match"),
    [("127.0.0.1:1", "cannot reach a Ray cluster at --address '127.0.0.1:1'"), ("nohost", "is not HOST:PORT")],
)
def test_an_unreachable_address_fails_fast_and_says_how_to_start_a_cluster(address, match):
    # Checked before ray.init, which would otherwise retry for minutes.
    from mirror_neurons.distributed.executors import _check_reachable

    with pytest.raises(ConfigError, match=match):
        _check_reachable(address)


def test_resources_are_validated():
    with pytest.raises(ConfigError, match="num_cpus per task must be > 0, got 0"):
        Resources(num_cpus=0)


@pytest.mark.parametrize(
    ("location", "expected"),
    [("runs/a", "runs/a"), ("/shared/runs/a", "/shared/runs/a"), ("file:///shared/run%20a", "/shared/run a")],
)
def test_run_folders_are_paths_or_file_uris(location, expected):
    assert str(local_path(location)) == expected


@pytest.mark.parametrize("location", ["s3://bucket/runs", "file://otherhost/runs"])
def test_other_storage_is_refused_with_a_hint(location):
    with pytest.raises(ConfigError, match="mount|file:///absolute"):
        local_path(location)
