"""--executor/--address on the commands: Ray through the CLI gives the local bytes; bad choices exit 2."""

from __future__ import annotations

import json
import sys

import pytest
from typer.testing import CliRunner

from mirror_neurons.cli import app

from . import ray_tasks

runner = CliRunner()


def test_sweep_command_on_ray_writes_the_local_executors_bytes(
    ray_cluster, small_data, sweep_spec, local_run, tmp_path
):
    out = tmp_path / "ray"
    args = ["sweep", sweep_spec.source, "--data", str(small_data), "--out", f"file://{out}"]
    result = runner.invoke(app, [*args, "--executor", "ray", "--address", ray_cluster, "--group-size", "2"])
    assert result.exit_code == 0, result.output
    files = ray_tasks.run_files(out)
    assert files == ray_tasks.run_files(local_run)
    checkpoints = [name for name in files if name.endswith(".safetensors") and "/state-" not in name]
    assert len(checkpoints) >= 8  # every model improved at least once: the comparison is not of empty runs


def test_data_command_on_ray_writes_the_local_dataset(ray_cluster, small_data, tmp_path):
    out = tmp_path / "ray"
    args = ["data", "--states", "4000", "--seed", "3", "--out", str(out), "--executor", "ray", "--address", ray_cluster]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    ours, local = (json.loads((d / "manifest.json").read_text()) for d in (out, small_data))
    assert ours["dataset_hash"] == local["dataset_hash"] and ours["files"] == local["files"]


@pytest.mark.parametrize("command", ["data", "sweep", "run"])
def test_ray_not_installed_exits_2_with_the_install_command(command, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    args = {
        "data": ["data", "--states", "2000", "--out", str(tmp_path / "d")],
        "sweep": ["sweep", "--preset", "demo", "--data", str(tmp_path), "--out", str(tmp_path / "s")],
        "run": ["run", "--out", str(tmp_path / "r")],
    }[command]
    result = runner.invoke(app, [*args, "--executor", "ray"])
    assert result.exit_code == 2
    assert "pip install 'mirror-neurons[ray]'" in result.output
    assert not any(tmp_path.iterdir())  # refused before writing anything


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--executor", "dask"], "unknown executor 'dask'"), (["--address", "auto"], "needs --executor ray")],
)
def test_bad_executor_options_exit_2(options, message, tmp_path):
    result = runner.invoke(app, ["data", "--states", "2000", "--out", str(tmp_path / "d"), *options])
    assert result.exit_code == 2
    assert message in result.output
