"""A dataset is accepted only if its files match its manifest: hashes recomputed, row counts checked."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from mirror_neurons import atomic
from mirror_neurons.cli import app
from mirror_neurons.data.dataset import Split, combined_hash, load_dataset, write_dataset
from mirror_neurons.errors import DataError

runner = CliRunner()


def _split(rng: np.random.Generator, n: int) -> Split:
    x = rng.integers(0, 10, size=(n, 100), dtype=np.uint8)
    return Split(
        x,
        np.argmax(x[:, :4], axis=1).astype(np.uint8),
        rng.integers(0, 4, n, dtype=np.uint8),
        rng.integers(0, 32, n, dtype=np.uint8),
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("manifest") / "data"
    write_dataset(path, {"train": _split(rng, 300), "val": _split(rng, 100), "test": _split(rng, 60)}, {"seed": 0})
    return path


@pytest.fixture
def copy(pristine, tmp_path):
    shutil.copytree(pristine, tmp_path / "data")
    return tmp_path / "data"


def _manifest(path):
    return json.loads((path / "manifest.json").read_text())


def _cut_train(path, rows: int) -> dict:
    """Cut train.parquet to ``rows`` rows and record its new hash, leaving dataset_hash stale."""
    pq.write_table(pq.read_table(path / "train.parquet").slice(0, rows), path / "train.parquet")
    manifest = _manifest(path)
    manifest["files"]["train.parquet"] = atomic.sha256_file(path / "train.parquet")
    (path / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_pristine_dataset_loads(pristine):
    assert len(load_dataset(pristine).train) == 300


def test_stale_dataset_hash_is_refused_even_when_that_split_is_not_loaded(copy):
    _cut_train(copy, 100)
    with pytest.raises(DataError, match="dataset_hash .* is not the hash of the files"):
        load_dataset(copy, splits=("test",))


def test_row_count_other_than_the_manifest_is_refused(copy):
    manifest = _cut_train(copy, 100)
    manifest["dataset_hash"] = combined_hash(manifest["files"])  # a careful forger: only the rows are stale
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="holds 100 rows but the manifest says 300"):
        load_dataset(copy, splits=("val",))
    result = runner.invoke(app, ["data", "describe", str(copy)])
    assert result.exit_code == 2 and "300" not in result.stdout and "holds 100 rows" in result.output


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("files"), "'files' = None must map"),
        (lambda m: m.update(files=[1, 2]), r"'files' = \[1, 2\] must map"),
        (lambda m: m.update(rows="lots"), "'rows' = 'lots' must map"),
        (lambda m: m.pop("dataset_hash"), "dataset_hash None is not the hash"),
    ],
)
def test_manifest_of_the_wrong_shape_is_refused(copy, edit, message):
    manifest = _manifest(copy)
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=message):
        load_dataset(copy)


@pytest.mark.parametrize("text", ["[]", "{}", '"x"', "\xff\xfe"])
def test_manifest_that_is_not_an_object_is_one_line_for_train(copy, tmp_path, text):
    (copy / "manifest.json").write_bytes(text.encode("latin-1"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(copy), "--out", str(out), "--max-epochs", "1"])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "manifest.json" in result.output
    assert not out.exists()
