"""Every file a stage writes is declared in ``mirror_neurons.tables``, and what a tiny study writes fits its declaration.

One tiny study (``tiny_run.make_tiny_run``: data, sweep, analysis, report) is built once for the module; every
JSON and Parquet file in it must match a declared path and pass its declaration's ``check``. A declared-but-missing
``always`` column or key is refused with one line naming the fix, and a writer refuses a file that departs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from declared_files import assert_declared_and_fitting, read

from mirror_neurons import tables
from mirror_neurons.errors import DataError

LAYOUTS = {name: value for name, value in vars(tables).items() if name.endswith("_LAYOUT")}
SCHEMAS = {
    name: value for name, value in vars(tables).items() if isinstance(value, (tables.TableSchema, tables.JsonSchema))
}


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    from tiny_run import make_tiny_run

    return make_tiny_run(tmp_path_factory.mktemp("tiny"))


@pytest.mark.slow
def test_a_study_writes_exactly_its_declared_files_and_each_fits(study):
    """Every file matches a declared path and fits it, and the layout holds no path a study never writes (a stale
    declaration is as bad as a missing one)."""
    files = assert_declared_and_fitting(study, tables.STUDY_LAYOUT)
    assert len(files) > 20  # data, sweep (checkpoints, resume state) and analysis


@pytest.mark.slow
@pytest.mark.parametrize(
    "rel", ["data/test.parquet", "data/manifest.json", "sweep/analysis/checkpoints.parquet", "sweep/analysis/case.json"]
)
def test_a_missing_always_column_or_key_is_one_line_naming_the_fix(study, rel):
    schema, value = tables.declared(rel), read(study / rel)
    entries = schema.columns if isinstance(schema, tables.TableSchema) else schema.keys
    name = next(e.name for e in entries if e.always)
    if isinstance(value, pa.Table):
        damaged = value.drop_columns([name])
    else:
        damaged = {k: v for k, v in value.items() if k != name}
    with pytest.raises(schema.error, match=rf"is not the .* this version writes \(no (column|key) '{name}'\); {schema.fix}"
                       ) as info:  # fmt: skip
        schema.require(damaged, rel)
    assert "\n" not in str(info.value)
    assert schema.require(value, rel) is value


@pytest.mark.slow
def test_a_reader_refuses_a_manifest_without_a_declared_key(study):
    from mirror_neurons.data.dataset import read_manifest

    manifest = json.loads((study / "data" / "manifest.json").read_text())
    del manifest["format"]
    folder = study / "damaged-data"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match=r"no key 'format'.*mirror-neurons data"):
        read_manifest(folder)


def test_json_check_names_missing_and_mistyped_keys():
    schema = tables.JsonSchema(
        "t.json",
        (tables.Key("a", "int", "."), tables.Key("b", "float", ".", always=False), tables.Key("c", "list", ".")),
    )
    assert schema.check({"a": 1, "c": []}) == []
    assert schema.check({"a": None, "b": 2, "c": (1,), "extra": "kept"}) == []  # null fits; ints are floats
    assert schema.check({"a": True, "b": "x"}) == [
        "'a' is a bool, declared int",
        "'b' is a str, declared float",
        "no key 'c'",
    ]
    assert schema.check([1]) == ["a JSON list, not an object"]


def test_a_writer_refuses_a_file_that_departs(tmp_path):
    import torch

    from mirror_neurons.train.checkpoint import save_checkpoint
    from mirror_neurons.train.model import MLP, ModelConfig

    model = MLP(ModelConfig(hidden=(3,)))
    with pytest.raises(AssertionError, match=r"departs from its declaration .*'epoch' is a str, declared int"):
        save_checkpoint(tmp_path / "m", model, {"epoch": "one"})
    assert not (tmp_path / "m.json").exists()
    torch.manual_seed(0)
    assert (
        tables.CHECKPOINT_META.check(json.loads(save_checkpoint(tmp_path / "m", model, {"epoch": 1}).read_text())) == []
    )


def test_the_dataset_and_checkpoint_modules_take_their_names_here():
    from mirror_neurons.data import dataset
    from mirror_neurons.train import checkpoint

    assert dataset.SCHEMA.names == list(tables.SPLIT.names) and dataset.MANIFEST == tables.MANIFEST.file
    kinds = {"int": int, "float": float, "string": str, "object": dict}
    assert all(kinds[tables.CHECKPOINT_META[k].kind] in t for k, t in checkpoint.META_TYPES.items())


NESTED = {"RESUME_HISTORY": ("RESUME_STATE", "history")}
"""Declarations of what one key of a declared file holds (its rows), not of files of their own."""


def test_every_declaration_lies_somewhere_in_a_layout():
    placed = {id(s) for layout in LAYOUTS.values() for _, s in layout}
    assert all(SCHEMAS[parent][key].kind == "list" for parent, key in NESTED.values())
    assert not [name for name, s in SCHEMAS.items() if id(s) not in placed and name not in NESTED]


@pytest.mark.parametrize(
    "path, name",
    [
        ("sweep/models/m/m_epoch-0001_val-0p3.json", "CHECKPOINT_META"),
        ("sweep/models/m/state.json", "RESUME_STATE"),
        ("sweep/models/m/state-e0003.meta.json", "RESUME_STATE"),
        ("sweep/analysis/config.json", "ANALYSIS_CONFIG"),
        ("sweep/summary.json", "SWEEP_SUMMARY"),
        ("data/val.parquet", "SPLIT"),
        ("report/report.json", None),
    ],
)
def test_declared_finds_each_path(path, name):
    assert tables.declared(path) is (SCHEMAS[name] if name else None)


@pytest.mark.parametrize(
    "layout, path, name",
    [
        ("RL_LAYOUT", "agents/analysis/paired.json", "PAIRED"),
        ("RL_LAYOUT", "states/manifest.json", "MANIFEST"),
        ("RL_LAYOUT", "summary.json", "RL_SUMMARY"),
        ("PLANTED_LAYOUT", "analyses.parquet", "PLANTED_ANALYSES"),
        ("THEORY_LAYOUT", "cells/c0/run/models/m/m_epoch-0000_val-1p0.json", "CHECKPOINT_META"),
        ("THEORY_LAYOUT", "cells/c0/models.json", "THEORY_CELL_MODELS"),
    ],
)
def test_experiment_layouts(layout, path, name):
    assert tables.declared(path, LAYOUTS[layout]) is SCHEMAS[name]
