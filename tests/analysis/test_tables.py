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


def test_the_report_reads_declared_columns_under_their_names():
    from mirror_neurons.analysis.competence import CONFUSION_COLUMNS
    from mirror_neurons.report.inputs import CHECKPOINT_COLUMNS

    # the confusion counts are the competence module's own columns beside the declared ones (an open table)
    assert set(CHECKPOINT_COLUMNS) - set(CONFUSION_COLUMNS) <= set(tables.CHECKPOINTS.names)


@pytest.mark.parametrize("text, widths", [("[17, 17]", (17, 17)), ("[5]", (5,)), ("[50,50,50]", (50, 50, 50))])
def test_widths_and_labels(text, widths):
    assert tables.widths(text) == widths and tables.hidden_label(text) == "x".join(map(str, widths))


@pytest.mark.parametrize("text", ["17x17", "[]", "[0]", "[1.5]", None])
def test_bad_widths_are_refused(text):
    with pytest.raises(AnalysisError, match="not a JSON list of widths"):
        tables.widths(text)


@pytest.mark.parametrize(
    "row, p, null",
    [
        (
            {"p_random_init": 0.01, "p_permutation": 0.2, "null_random_init_mean": 0.3, "null_permutation_mean": 0.1},
            0.2,
            0.3,
        ),
        (
            {"p_random_init": None, "p_permutation": 0.04, "null_random_init_mean": None, "null_permutation_mean": 0.1},
            0.04,
            0.1,
        ),
        ({"p_random_init": None, "p_permutation": None}, None, None),
    ],
)
def test_the_chance_test_needs_both_controls(row, p, null):
    from mirror_neurons.analysis.pipeline import chance_columns

    assert chance_columns(row) == {"p_chance": p, "null_chance_mean": null}


def test_a_row_without_controls_has_no_chance_test():
    from mirror_neurons.analysis.pipeline import chance_columns, q_column

    assert chance_columns({"cmni": 0.01}) == {}
    assert q_column("p_chance") is None and q_column("p_permutation") == "q_permutation"
