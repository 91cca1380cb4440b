"""`mirror-neurons data` and `data describe`: thin commands, one-line errors with exit code 2."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mirror_neurons.cli import app
from mirror_neurons.data.dataset import load_dataset, load_split
from mirror_neurons.errors import DataError

runner = CliRunner()
SMALL = ["--states", "2500", "--workers", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "demo"
    result = runner.invoke(app, ["data", "--preset", "demo", *SMALL, "--seed", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def error_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.slow
def test_data_writes_a_loadable_dataset_and_describe_prints_it(dataset):
    assert len(load_dataset(dataset).train) > 0
    result = runner.invoke(app, ["data", "describe", str(dataset)])
    assert result.exit_code == 0, result.output
    for text in ("dataset_hash", "config.n_states", "2500", "all (natural)", "scenario", "help"):
        assert text in result.output


@pytest.mark.slow
def test_rerun_same_dataset_exits_0_without_rewriting(dataset):
    before = {p.name: p.stat().st_mtime_ns for p in dataset.iterdir()}
    result = runner.invoke(app, ["data", "--preset", "demo", *SMALL, "--seed", "2", "--out", str(dataset)])
    assert result.exit_code == 0 and "already holds this dataset" in result.output
    assert {p.name: p.stat().st_mtime_ns for p in dataset.iterdir()} == before


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--states", "0"], "n_states must be a positive integer, got 0"),
        (["--states", "-3"], "got -3"),
        (["--veil", "2"], "veil must be in 0..1, got 2.0"),
        (["--seed", "3"], "already holds a different dataset (differs in seed)"),
    ],
)
def test_bad_options_exit_2_and_leave_the_data(dataset, args, message):
    before = {p.name: p.read_bytes() for p in dataset.iterdir()}
    result = runner.invoke(app, ["data", *SMALL, "--seed", "2", *args, "--out", str(dataset)])
    assert result.exit_code == 2
    assert message in error_line(result)
    assert {p.name: p.read_bytes() for p in dataset.iterdir()} == before


def test_missing_out_is_named():
    result = runner.invoke(app, ["data", "--preset", "demo"])
    assert result.exit_code == 2 and "--out is required" in error_line(result)


def test_out_folder_that_is_not_a_dataset_is_left_alone(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["data", *SMALL, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is not a dataset folder" in error_line(result)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def copy_of(dataset, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in dataset.iterdir():
        (copy / p.name).write_bytes(p.read_bytes())
    return copy


@pytest.mark.slow
def test_missing_or_truncated_parquet_is_named(dataset, tmp_path):
    copy = copy_of(dataset, tmp_path)
    data = (copy / "test.parquet").read_bytes()
    (copy / "test.parquet").write_bytes(data[:100])
    result = runner.invoke(app, ["data", "describe", str(copy)])
    assert result.exit_code == 2 and "test.parquet does not match its manifest hash" in error_line(result)
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_split(copy / "test.parquet")
    (copy / "train.parquet").unlink()
    result = runner.invoke(app, ["data", "describe", str(copy)])
    assert result.exit_code == 2 and "train.parquet is missing" in error_line(result)
    result = runner.invoke(app, ["data", "describe", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "manifest.json is missing" in error_line(result)


@pytest.mark.slow
def test_wrong_schema_is_named(dataset, tmp_path):
    copy = copy_of(dataset, tmp_path)
    table = pq.read_table(copy / "val.parquet")
    wrong = table.set_column(0, "x0", pa.array(table.column("x0").to_numpy().astype("int64")))
    pq.write_table(wrong, copy / "val.parquet")
    with pytest.raises(DataError, match="wrong schema"):
        load_split(copy / "val.parquet")
    with pytest.raises(DataError, match="does not match its manifest hash"):
        load_dataset(copy)
