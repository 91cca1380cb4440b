"""A real Ray cluster on loopback for the distributed tests, always shut down.

One private local instance (``address="local"``: a head process and two worker
processes, no dashboard) serves the whole session, since starting Ray costs
several seconds. Executors made while it is up reuse its connection.
"""

from __future__ import annotations

import logging

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """Yields the cluster's GCS address (``HOST:PORT``) for drivers in other processes."""
    import ray
    import ray_tasks
    from ray import cloudpickle

    # Workers cannot import the tests folder by name; ship its task functions by value.
    cloudpickle.register_pickle_by_value(ray_tasks)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
