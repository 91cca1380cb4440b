"""A dataset's manifest as rich tables, for ``mirror-neurons data describe``."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from mirror_neurons.data.dataset import MANIFEST, SPLITS, read_manifest, verify_files
from mirror_neurons.errors import DataError


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    if not isinstance(d, dict):  # a manifest edited by hand: show the value as it is
        return [(prefix.rstrip("."), str(d))]
    items = []
    for key in sorted(d):
        value = d[key]
        if isinstance(value, dict):
            items += _flatten(value, f"{prefix}{key}.")
        else:
            items.append((f"{prefix}{key}", str(value)))
    return items


def _distribution_table(title: str, columns: dict[str, dict[str, int]]) -> Table:
    table = Table(title=title)
    table.add_column("")
    for name in columns:
        table.add_column(name, justify="right")
    keys = list(next(iter(columns.values())))
    for key in keys:
        cells = []
        for counts in columns.values():
            total = sum(counts.values()) or 1
            cells.append(f"{counts.get(key, 0):,} ({100 * counts.get(key, 0) / total:.1f} %)")
        table.add_row(key, *cells)
    return table


def _distributions(path: str | Path, manifest: dict) -> dict[str, dict[str, dict[str, int]]]:
    """{column: {"label": counts, "scenario": counts}}: the natural distribution and one per split."""
    columns = manifest.get("distributions", {})
    if "natural_distribution" in manifest and isinstance(columns, dict):
        columns = {"all (natural)": manifest["natural_distribution"], **columns}
    counts = lambda d: isinstance(d, dict) and all(type(v) is int for v in d.values())  # noqa: E731
    if not isinstance(columns, dict) or not all(
        isinstance(d, dict) and counts(d.get("label")) and counts(d.get("scenario")) for d in columns.values()
    ):
        raise DataError(
            f"{Path(path) / MANIFEST}: the label and scenario distributions are malformed; regenerate the dataset"
        )
    return columns


def manifest_tables(path: str | Path, verify: bool = True) -> list[Table]:
    """Tables of a dataset folder's manifest; with ``verify``, the files are checked against their hashes first."""
    manifest = read_manifest(path)
    if verify:
        verify_files(path, manifest)
    summary = Table(title=f"dataset {path}", show_header=False)
    summary.add_column("field")
    summary.add_column("value")
    summary.add_row("dataset_hash", manifest.get("dataset_hash", "?"))
    summary.add_row("package_version", str(manifest.get("package_version", "?")))
    for key, value in _flatten(manifest.get("config", {}), "config."):
        summary.add_row(key, value)
    for key, value in _flatten(manifest.get("generation", {}), "generation."):
        summary.add_row(key, value)
    rows = Table(title="rows")
    for name in SPLITS:
        rows.add_column(name, justify="right")
    rows.add_row(*(f"{manifest.get('rows', {}).get(name, 0):,}" for name in SPLITS))
    tables = [summary, rows]
    columns = _distributions(path, manifest)
    for kind in ("label", "scenario"):
        if columns:
            tables.append(_distribution_table(kind, {name: d[kind] for name, d in columns.items()}))
    return tables
