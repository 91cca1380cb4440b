"""The report's tables as files a person opens in a spreadsheet or pastes into a text: CSV and markdown.

``write_tables(sections, folder)`` writes every table of the report's sections
as the page lays it out (the same columns, the same formatted cells, ``–``
where the page shows no value) into ``folder``: one ``NN-SECTION-K.csv`` per
table (NN the section's number, K the table's within it) and ``tables.md``,
all of them under their section titles with their captions. The report writes
them beside the page (``report/tables/``) every time it is drawn, so they never
disagree with it. They are for reading; the analysis's own tables between
stages stay Parquet (docs/design.md).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from mirror_neurons import atomic

TABLES_DIR = "tables"
MARKDOWN_FILE = "tables.md"


def table_files(sections: Sequence) -> list[tuple[str, object]]:
    """(file name, table) for every table of ``sections``, in page order."""
    return [
        (f"{number:02d}-{section.id}-{k}.csv", table)
        for number, section in enumerate(sections, start=1)
        for k, table in enumerate(section.tables, start=1)
    ]


def table_csv(table) -> str:
    """One table as CSV text: a header row of its columns, then its rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return buffer.getvalue()


def table_markdown(table) -> str:
    """One table as a markdown pipe table under its caption; ``|`` in a cell is escaped, line breaks become spaces."""

    def cell(value) -> str:
        return " ".join(str(value).split()).replace("|", "\\|")

    lines = [
        f"*{cell(table.caption)}*",
        "",
        "| " + " | ".join(cell(c) for c in table.columns) + " |",
        "|" + "---|" * len(table.columns),
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def write_tables(sections: Sequence, folder: str | Path) -> list[Path]:
    """Write every table as CSV and all of them as one markdown file into ``folder``; returns the files written.

    CSV files a previous report left there and this one does not write again are removed, so the folder
    holds exactly this report's tables.
    """
    folder = Path(folder)
    files = table_files(sections)
    keep = {name for name, _ in files}
    if folder.is_dir():
        for stale in folder.glob("[0-9][0-9]-*.csv"):
            if stale.name not in keep:
                stale.unlink()
    written = []
    for name, table in files:
        atomic.write_text(folder / name, table_csv(table))
        written.append(folder / name)
    parts = ["# The report's tables\n", "Each table also as CSV in this folder: NN-SECTION-K.csv.\n"]
    for number, section in enumerate(sections, start=1):
        if section.tables:
            parts.append(f"\n## {section.title}\n")
            parts += ["\n" + table_markdown(t) for t in section.tables]
    atomic.write_text(folder / MARKDOWN_FILE, "".join(parts))
    return [*written, folder / MARKDOWN_FILE]
