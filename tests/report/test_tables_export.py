"""The report's tables as CSV and markdown beside the page (issue 15, item 12)."""

from __future__ import annotations

import csv

from mirror_neurons.report.sections import Section, Table
from mirror_neurons.report.tables import write_tables

SECTIONS = [
    Section("game", "The game", "", tables=[]),
    Section(
        "claims",
        "Reproduction summary",
        "",
        tables=[
            Table(
                "Claims | verdicts",
                ["claim", "verdict", "p"],
                [["CMNI rises, then falls", "not reproduced", "0.97"], ["a, b", "reproduced", "–"]],
            ),
            Table("Second", ["x"], [["1"]]),
        ],
    ),
]


def test_every_table_is_a_csv_named_by_section_and_position(tmp_path):
    files = write_tables(SECTIONS, tmp_path)
    assert [f.name for f in files] == ["02-claims-1.csv", "02-claims-2.csv", "tables.md"]
    with (tmp_path / "02-claims-1.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["claim", "verdict", "p"],
        ["CMNI rises, then falls", "not reproduced", "0.97"],
        ["a, b", "reproduced", "–"],
    ]


def test_the_markdown_holds_every_table_under_its_section(tmp_path):
    write_tables(SECTIONS, tmp_path)
    text = (tmp_path / "tables.md").read_text()
    assert "## Reproduction summary" in text and "## The game" not in text  # a section without tables has no heading
    assert "*Claims \\| verdicts*" in text
    assert "| claim | verdict | p |\n|---|---|---|\n| CMNI rises, then falls | not reproduced | 0.97 |" in text


def test_a_table_gone_from_the_report_leaves_no_stale_csv(tmp_path):
    write_tables(SECTIONS, tmp_path)
    (tmp_path / "notes.csv").write_text("mine")  # not the report's: kept
    write_tables(SECTIONS[:1], tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.csv", "tables.md"]
