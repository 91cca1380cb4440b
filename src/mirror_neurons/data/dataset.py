"""The dataset on disk: a folder of three Parquet files and a manifest.

Layout (the contract between the data stage and everything after it, declared in
``mirror_neurons.tables`` as ``SPLIT`` and ``MANIFEST``)::

    DIR/train.parquet  DIR/val.parquet  DIR/test.parquet
        columns x0..x99 (uint8, the model input; indices 96, 98, 99 are zero),
                label (uint8, Action), scenario (uint8, Scenario), frog_pos (uint8)
    DIR/manifest.json
        configuration, seed, package version, row counts, label and scenario
        distributions, ``files`` {name: sha256 of its bytes}, ``dataset_hash``

A folder is written through ``atomic.staged_dir`` so it appears complete or not
at all. Loading checks the schema and the hashes and returns NumPy arrays with
no per-row Python loop.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from mirror_neurons import __version__, atomic, tables
from mirror_neurons.errors import DataError
from mirror_neurons.game.constants import STATE_SIZE, Action, Scenario
from mirror_neurons.tables import FEATURES, META_COLUMNS, SPLITS

SCHEMA = tables.SPLIT.arrow_schema()
MANIFEST = tables.MANIFEST.file


@dataclass(frozen=True)
class Split:
    """One split in memory. ``x`` is (n, 100) uint8; the others are (n,) uint8."""

    x: np.ndarray
    label: np.ndarray
    scenario: np.ndarray
    frog_pos: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.x)
        assert self.x.shape == (n, STATE_SIZE), self.x.shape
        assert len(self.label) == len(self.scenario) == len(self.frog_pos) == n

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> Split:
        return Split(self.x[index], self.label[index], self.scenario[index], self.frog_pos[index])

    def torch(self, device: str = "cpu"):
        """(inputs float32 (n, 100), labels int64 (n,)) as torch tensors."""
        import torch

        return (
            torch.from_numpy(self.x.astype(np.float32)).to(device),
            torch.from_numpy(self.label.astype(np.int64)).to(device),
        )

    def distributions(self) -> dict[str, dict[str, int]]:
        """Counts of each label and scenario, by name."""
        return {
            "label": {a.name.lower(): int((self.label == a).sum()) for a in Action},
            "scenario": {s.name.lower(): int((self.scenario == s).sum()) for s in Scenario},
        }


@dataclass(frozen=True)
class Dataset:
    path: Path
    manifest: dict
    train: Split
    val: Split
    test: Split

    @property
    def hash(self) -> str:
        return self.manifest["dataset_hash"]


def split_to_table(split: Split) -> pa.Table:
    columns = [pa.array(np.ascontiguousarray(split.x[:, i]), pa.uint8()) for i in range(STATE_SIZE)]
    columns += [pa.array(np.asarray(getattr(split, c), dtype=np.uint8)) for c in META_COLUMNS]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def write_dataset(out: str | Path, splits: Mapping[str, Split], info: Mapping[str, object]) -> Path:
    """Write ``splits`` and a manifest (``info`` plus counts and hashes) to a new folder ``out``.

    Raises ``DataError`` if ``out`` exists; the folder appears only when complete.
    """
    out = Path(out)
    if out.exists():
        raise DataError(f"output folder {out} already exists; choose another --out or remove it")
    with atomic.staged_dir(out) as tmp:
        files = {}
        for name in SPLITS:
            path = tmp / tables.split_file(name)
            pq.write_table(split_to_table(splits[name]), path, compression="zstd", write_statistics=False)
            files[path.name] = atomic.sha256_file(path)
        manifest = {
            **info,
            "format": "mirror-neurons-dataset/1",
            "package_version": __version__,
            "rows": {name: len(splits[name]) for name in SPLITS},
            "distributions": {name: splits[name].distributions() for name in SPLITS},
            "files": files,
            "dataset_hash": combined_hash(files),
        }
        atomic.write_json(tmp / MANIFEST, tables.MANIFEST.writing(manifest, tmp / MANIFEST))
    return out


def combined_hash(files: Mapping[str, str]) -> str:
    """One hash for the dataset: SHA-256 over the sorted (file name, file hash) pairs."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(f"{name}={files[name]}\n".encode())
    return h.hexdigest()


def read_manifest(path: str | Path) -> dict:
    path = Path(path)
    file = path / MANIFEST
    if not file.is_file():
        raise DataError(
            f"{path} is not a dataset: {MANIFEST} is missing; create one with `mirror-neurons data --out {path}`"
        )
    manifest = atomic.read_json_object(file, DataError, tables.MANIFEST.fix, what="a manifest object")
    check_manifest(file, manifest)
    return manifest


def check_manifest(file: Path, manifest: object) -> None:
    """Raise ``DataError`` unless the manifest holds ``files``, ``rows`` and ``dataset_hash``
    of the right types, and ``dataset_hash`` is the hash of ``files`` (recomputed, never trusted)."""
    fix = "regenerate the dataset with `mirror-neurons data`"
    if not isinstance(manifest, dict):
        raise DataError(f"{file} holds a JSON {type(manifest).__name__}, not a manifest object; {fix}")
    files, rows, stated = manifest.get("files"), manifest.get("rows"), manifest.get("dataset_hash")
    names = [tables.split_file(name) for name in SPLITS]
    if (
        not isinstance(files, dict)
        or sorted(files) != sorted(names)
        or not all(isinstance(v, str) for v in files.values())
    ):
        raise DataError(f"{file}: 'files' = {_short(files)} must map {', '.join(names)} to their SHA-256; {fix}")
    if (
        not isinstance(rows, dict)
        or sorted(rows) != sorted(SPLITS)
        or not all(type(v) is int and v >= 0 for v in rows.values())
    ):
        raise DataError(f"{file}: 'rows' = {_short(rows)} must map {', '.join(SPLITS)} to row counts; {fix}")
    if stated != combined_hash(files):
        raise DataError(
            f"{file}: dataset_hash {_short(stated)} is not the hash of the files it lists (edited manifest); {fix}"
        )
    tables.MANIFEST.require(manifest, file)  # the other keys a reader relies on, of their declared kinds


def _short(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def verify_files(path: str | Path, manifest: dict) -> None:
    """Raise ``DataError`` naming the first split file that is missing, differs from its manifest
    hash, or holds another number of rows than the manifest says (the manifest checked by ``read_manifest``)."""
    for name in SPLITS:
        file = Path(path) / tables.split_file(name)
        if not file.is_file():
            raise DataError(f"{file} is missing; regenerate the dataset with `mirror-neurons data`")
        if atomic.sha256_file(file) != manifest["files"][file.name]:
            raise DataError(f"{file} does not match its manifest hash (changed or truncated); regenerate the dataset")
        try:
            n = pq.ParquetFile(file).metadata.num_rows
        except (pa.ArrowException, OSError) as e:
            raise DataError(f"{file} is not a readable Parquet file ({e}); regenerate the dataset") from e
        if n != manifest["rows"][name]:
            raise DataError(
                f"{file} holds {n:,} rows but the manifest says {manifest['rows'][name]:,}; regenerate the dataset"
            )


def load_split(path: str | Path, expected_sha256: str | None = None) -> Split:
    """Read one split file, checking its schema (and its hash when given)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dataset file {path} is missing; regenerate the dataset with `mirror-neurons data`")
    if expected_sha256 is not None and atomic.sha256_file(path) != expected_sha256:
        raise DataError(
            f"{path} does not match the hash in its manifest (changed or truncated); regenerate the dataset"
        )
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{path} is not a readable Parquet file ({e}); regenerate the dataset") from e
    if table.schema.names != list(SCHEMA.names) or any(
        not table.schema.field(c).type.equals(pa.uint8()) for c in SCHEMA.names
    ):
        raise DataError(
            f"{path} has the wrong schema (columns {table.schema.names[:3]}...{table.schema.names[-3:]}, "
            f"need x0..x99, label, scenario, frog_pos as uint8); regenerate it with `mirror-neurons data`"
        )
    x = _rows_from_columns([table.column(c).to_numpy() for c in FEATURES])
    meta = {c: table.column(c).to_numpy() for c in META_COLUMNS}
    return Split(x=x, **meta)


def _rows_from_columns(columns: list[np.ndarray], block: int = 16384) -> np.ndarray:
    """Stack 100 uint8 columns into (n, 100) rows, a block of rows at a time.

    One ``np.stack(axis=1)`` over millions of rows transposes uint8 slowly (poor
    cache use); blocks that fit in cache are about 5x faster.
    """
    n = len(columns[0]) if columns else 0
    x = np.empty((n, len(columns)), dtype=np.uint8)
    for start in range(0, n, block):
        x[start : start + block] = np.stack([c[start : start + block] for c in columns], axis=1)
    return x


def load_dataset(path: str | Path, splits: tuple[str, ...] = SPLITS, verify: bool = True) -> Dataset:
    """Load a dataset folder. Unloaded splits (not in ``splits``) are empty.

    With ``verify``, every file's hash and row count is checked against the
    manifest first, and the manifest's ``dataset_hash`` against those hashes.
    """
    path = Path(path)
    manifest = read_manifest(path)
    if verify:  # every file, loaded or not: the dataset hash stands for all three
        verify_files(path, manifest)
    loaded = {}
    for name in SPLITS:
        if name in splits:
            loaded[name] = load_split(path / tables.split_file(name))
        else:
            loaded[name] = empty_split()
    return Dataset(path=path, manifest=manifest, **loaded)


def empty_split() -> Split:
    z = np.zeros(0, dtype=np.uint8)
    return Split(np.zeros((0, STATE_SIZE), dtype=np.uint8), z, z.copy(), z.copy())
