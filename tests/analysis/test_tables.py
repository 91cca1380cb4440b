"""The declared tables (mirror_neurons.tables): what the stages write fits them, and the readers' names exist there."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mirror_neurons import tables
from mirror_neurons.errors import AnalysisError


def test_the_written_tables_fit_their_declaration(tmp_path):
    """A tiny analysed run: both tables carry every always-written column with its declared kind."""
    import json

    from test_pipeline import FAST, make_data, make_run

    from mirror_neurons.analysis.pipeline import analyze_run

    data = make_data(tmp_path / "data")
    ds_hash = json.loads((data / "manifest.json").read_text())["dataset_hash"]
    make_run(tmp_path / "run", ds_hash, n_models=1, epochs=(1,))
    out = analyze_run(tmp_path / "run", data, FAST)
    ck, units = pq.read_table(out / "checkpoints.parquet"), pq.read_table(out / "units.parquet")
    assert tables.CHECKPOINTS.check(ck) == [] and tables.UNITS.check(units) == []
    assert ck.column(tables.ANALYSED_DATASET_HASH).to_pylist() == [ds_hash]
    assert json.loads((out / "config.json").read_text())[tables.ANALYSED_DATASET_HASH] == ds_hash


def test_check_names_missing_and_mistyped_columns():
    schema = tables.TableSchema(
        "t.parquet",
        (
            tables.Column("a", "int", "."),
            tables.Column("b", "float", ".", always=False),
            tables.Column("c", "bool", "."),
        ),
    )
    assert schema.check(pa.table({"a": [1], "c": [True]})) == []
    assert schema.check(pa.table({"a": [None], "b": [1], "c": [True]})) == []  # all-missing fits; ints are floats
    assert schema.check(pa.table({"a": [1.5], "b": ["x"]})) == [
        "column 'a' is double, declared int",
        "column 'b' is string, declared float",
        "no column 'c'",
    ]
    with pytest.raises(AnalysisError, match="t.parquet is not the t.parquet this version writes"):
        schema.require(pa.table({"a": [1]}), "t.parquet")


def test_the_reports_names_are_declared_columns():
    from mirror_neurons.report.collect import READ_AS

    assert set(READ_AS.values()) <= set(tables.CHECKPOINTS.names)
    assert len(set(READ_AS.values())) == len(READ_AS)  # one column per name: no aliases


@pytest.mark.parametrize("text, widths", [("[17, 17]", (17, 17)), ("[5]", (5,)), ("[50,50,50]", (50, 50, 50))])
def test_widths_and_labels(text, widths):
    assert tables.widths(text) == widths and tables.hidden_label(text) == "x".join(map(str, widths))


@pytest.mark.parametrize("text", ["17x17", "[]", "[0]", "[1.5]", None])
def test_bad_widths_are_refused(text):
    with pytest.raises(AnalysisError, match="not a JSON list of widths"):
        tables.widths(text)
