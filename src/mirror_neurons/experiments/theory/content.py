"""What a report section of the experiment shows, free of HTML: the report lays it out.

``report.html.section_from_content`` turns a ``SectionContent`` into the report's own
section (figures rendered to inline PNGs, tables as HTML); nothing here imports the report.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

VERDICT_CSS = {"supports": "reproduced", "contradicts": "not-reproduced", "cannot decide": "not-testable"}
"""Verdict -> the report stylesheet's cell classes (green, red, grey)."""


@dataclass(frozen=True)
class FigureContent:
    title: str
    fig: object
    """A Matplotlib figure; the report renders it to an inline PNG and closes it."""
    reading: str


@dataclass(frozen=True)
class TableContent:
    caption: str
    columns: list[str]
    rows: list[list[str]]


def verdict_table(caption: str, verdicts: Iterable[Mapping]) -> TableContent:
    """The decision rules' verdicts (part, verdict, because) as a table."""
    rows = [[v["part"], v["verdict"], v["because"]] for v in verdicts]
    return TableContent(caption, ["part of the theory", "verdict", "because"], rows)


@dataclass
class SectionContent:
    """One report section's content, free of HTML: ``report.html.section_from_content`` lays it out."""

    id: str
    title: str
    intro: str
    figures: list[FigureContent] = field(default_factory=list)
    tables: list[TableContent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    """Headline counts for a page of its own (the experiment's ``report.html``)."""
    verdict_classes: dict = field(default_factory=lambda: dict(VERDICT_CSS))
    """Table cell text -> the report stylesheet's cell class."""
