"""A dataset generated on a real local Ray cluster, chunked by game index: the local bytes."""

from __future__ import annotations

import json

from mirror_neurons.data.build import build_dataset
from mirror_neurons.data.config import DataConfig
from mirror_neurons.distributed.executors import RayExecutor


class CountingRayExecutor(RayExecutor):
    """Ray, remembering how many tasks each map sent (to prove the work was really split)."""

    def map(self, fn, args, **kw):
        self.sent = getattr(self, "sent", []) + [len(args)]
        return super().map(fn, args, **kw)


def test_ray_dataset_is_byte_identical_to_the_local_one(ray_cluster, small_data, tmp_path):
    ex = CountingRayExecutor()
    # 2 games per chunk (the first round plays about 15 games of 1,000 turns): many tasks,
    # against the local build's one chunk per round
    out = build_dataset(DataConfig.preset("demo", n_states=4_000, seed=3), tmp_path / "ray", executor=ex, batch_games=2)
    ray_manifest = json.loads((out / "manifest.json").read_text())
    local_manifest = json.loads((small_data / "manifest.json").read_text())
    assert ray_manifest["files"] == local_manifest["files"]
    assert ray_manifest["dataset_hash"] == local_manifest["dataset_hash"]
    assert ex.sent[0] >= 5
