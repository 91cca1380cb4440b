"""A real Ray cluster on loopback for the distributed tests, always shut down.

One private local instance (``address="local"``: a head process and two worker
processes, no dashboard) serves all the tests of this folder, since starting Ray
costs several seconds; it is shut down when they end, before the rest of the suite. Executors made while it is up reuse its connection.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest


HEAVY_FIXTURES = {"ray_cluster", "small_data", "local_run", "mixed"}
"""Fixtures that start a Ray cluster, build a real dataset or train a sweep: a test that uses one is slow."""


def pytest_collection_modifyitems(config, items):
    """Mark the tests of this folder that use a heavy fixture ``slow`` (``make test-fast`` leaves them out)."""
    here = Path(__file__).parent
    for item in items:  # a conftest's hook sees the whole session's items: only this folder's
        if item.path.is_relative_to(here) and HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="package")
def ray_cluster():
    """Yields the cluster's GCS address (``HOST:PORT``) for drivers in other processes."""
    import ray
    from . import ray_tasks
    from ray import cloudpickle

    # Workers cannot import the tests folder by name; ship its task functions by value.
    cloudpickle.register_pickle_by_value(ray_tasks)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


SWEEP = """
[sweep]
name = "ray-test"
seed = 3
replicates = 2

[limits]
max_epochs = 4
patience = 50

[defaults]
dropout = 0.1
batch_size = 25

[grid]
hidden = [[8], [8, 8]]
lr = [1e-3, 3e-3]
"""
"""8 models in two stack shapes; with group_size 2, four tasks of two models."""


@pytest.fixture(scope="session")
def small_data(tmp_path_factory):
    """A real 4,000-state dataset, built in this process with the local path."""
    from mirror_neurons.data.build import build_dataset
    from mirror_neurons.data.config import DataConfig

    return build_dataset(DataConfig.preset("demo", n_states=4_000, seed=3), tmp_path_factory.mktemp("data") / "local")


@pytest.fixture(scope="session")
def sweep_spec(tmp_path_factory):
    from mirror_neurons.train.sweep import load_sweep

    path = tmp_path_factory.mktemp("spec") / "sweep.toml"
    path.write_text(SWEEP)
    return load_sweep(path)


@pytest.fixture(scope="session")
def local_run(small_data, sweep_spec, tmp_path_factory):
    """The reference: the sweep in groups of two on the local executor."""
    from mirror_neurons.distributed.executors import LocalExecutor
    from mirror_neurons.train.sweep import run_sweep

    out = tmp_path_factory.mktemp("runs") / "local"
    run_sweep(sweep_spec, small_data, out, executor=LocalExecutor(), group_size=2)
    return out
