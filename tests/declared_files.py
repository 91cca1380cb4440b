"""Every JSON and Parquet file in a folder is declared in ``mirror_neurons.tables`` and fits its declaration.

Shared by the tests that build a real folder (a study, a planted, RL or theory run) and check it against its layout.
"""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from pathlib import Path

import pyarrow.parquet as pq

from mirror_neurons import tables


def written(folder: Path) -> list[str]:
    """Every table and JSON file under ``folder``, relative to it."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.suffix in (".json", ".parquet"))


def read(path: Path):
    return pq.read_table(path) if path.suffix == ".parquet" else json.loads(path.read_text(encoding="utf-8"))


def assert_declared_and_fitting(folder: Path, layout, *, may_lack: tuple[str, ...] = ()) -> list[str]:
    """Fail unless every file under ``folder`` matches a path of ``layout`` and passes its declaration's ``check``,
    and every pattern of ``layout`` (but those starting with one of ``may_lack``) matches a file; returns the files."""
    files = written(folder)
    assert files, f"{folder} holds no table or JSON file"
    undeclared = [f for f in files if tables.declared(f, layout) is None]
    assert not undeclared, "declare these files in mirror_neurons.tables:\n" + "\n".join(undeclared)
    departing = {f: p for f in files if (p := tables.declared(f, layout).check(read(folder / f)))}
    assert not departing
    stale = [p for p, _ in layout if not p.startswith(may_lack) and not any(fnmatchcase(f, p) for f in files)]
    assert not stale, f"declared but never written: {stale}"
    return files
